#!/usr/bin/env node
/**
 * `npm run build` (also npm's `prepare`, so `npm ci` runs it): compile the contracts with Hardhat
 * (solc from the npm package, offline; this also regenerates typechain-types/), then the keepers
 * with tsc (tsconfig.build.json; with them every project file they import) into dist/, and stamp
 * dist/ with the inputs it was built from (scripts/build/freshness.js) so `bin/vigil.js` runs it only
 * while it matches the sources.
 *
 * The stamp is removed first and written last, from a snapshot taken before compiling: a failed or
 * interrupted build, or a source edited while it ran, leaves dist/ stale, never silently in use.
 * Exit 0 on success; on failure, the failing step's own exit code after its output.
 */
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const { spawnSync } = require("node:child_process");
const { keepCompiled, removeStamp, snapshot, writeStamp } = require("./freshness");

const ROOT = path.resolve(__dirname, "..", "..");
/** Where project files a keeper may import live, besides keepers/ (hashed up front, kept if compiled). */
const IMPORTABLE = ["scripts", "ignition"];

function fail(label, status) {
  process.stderr.write(`build: ${label} failed (exit ${status})\n`);
  process.exit(typeof status === "number" && status > 0 ? status : 1);
}

function step(label, script, args, capture = false) {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [path.join(ROOT, script), ...args], {
    cwd: ROOT,
    stdio: capture ? ["ignore", "pipe", "inherit"] : "inherit",
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  const out = capture ? r.stdout : "";
  if (r.status !== 0) {
    if (capture) process.stdout.write(out.replace(/^TSFILE: .*\n/gm, "") + "\n");
    fail(label, r.status ?? r.signal);
  }
  process.stdout.write(`build: ${label} ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  return out;
}

/** Relative paths of the .ts files under `dirs`. */
function tsFiles(dirs) {
  const out = [];
  const walk = (rel) => {
    for (const e of fs.readdirSync(path.join(ROOT, rel), { withFileTypes: true })) {
      const child = `${rel}/${e.name}`;
      if (e.isDirectory()) walk(child);
      else if (e.name.endsWith(".ts") && !e.name.endsWith(".d.ts")) out.push(child);
    }
  };
  for (const d of dirs) if (fs.existsSync(path.join(ROOT, d))) walk(d);
  return out;
}

/** The project sources behind tsc's `TSFILE: <dist>/<rel>.js` lines (generated typings excluded). */
function compiledSources(listing) {
  const dist = path.join(ROOT, "dist") + path.sep;
  const out = [];
  for (const m of listing.matchAll(/^TSFILE: (.*)$/gm)) {
    const file = m[1].trim();
    if (!file.startsWith(dist) || !file.endsWith(".js")) continue;
    const rel = file.slice(dist.length).replace(/\.js$/, ".ts").split(path.sep).join("/");
    if (!rel.startsWith("typechain-types/") && fs.existsSync(path.join(ROOT, rel))) out.push(rel);
  }
  return out;
}

removeStamp(ROOT);
const before = snapshot(ROOT, tsFiles(IMPORTABLE));
step("contracts (hardhat compile)", "node_modules/hardhat/internal/cli/cli.js", ["compile", "--quiet"]);
fs.rmSync(path.join(ROOT, "dist"), { recursive: true, force: true });
const listing = step(
  "keepers (tsc -p tsconfig.build.json)",
  "node_modules/typescript/bin/tsc",
  ["-p", "tsconfig.build.json", "--listEmittedFiles"],
  true,
);
const stamp = keepCompiled(ROOT, before, compiledSources(listing));
writeStamp(ROOT, stamp);
process.stdout.write(`build: dist/ stamped from ${Object.keys(stamp.files).length} source files\n`);
