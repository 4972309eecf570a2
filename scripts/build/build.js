#!/usr/bin/env node
/**
 * `npm run build` (also npm's `prepare`, so `npm ci` runs it): compile the contracts with Hardhat
 * (solc from the npm package, offline; this also regenerates typechain-types/), then the keepers
 * with tsc (tsconfig.build.json) into dist/, and stamp dist/ with the inputs it was built from
 * (scripts/build/freshness.js) so `bin/vigil.js` runs it only while it matches the sources.
 *
 * The stamp is removed first and written last, from a snapshot taken before compiling: a failed or
 * interrupted build, or a source edited while it ran, leaves dist/ stale, never silently in use.
 * Exit 0 on success; on failure, the failing step's own exit code after its output.
 */
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const { spawnSync } = require("node:child_process");
const { removeStamp, snapshot, writeStamp } = require("./freshness");

const ROOT = path.resolve(__dirname, "..", "..");

function step(label, script, args) {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [path.join(ROOT, script), ...args], { cwd: ROOT, stdio: "inherit" });
  if (r.status !== 0) {
    process.stderr.write(`build: ${label} failed (exit ${r.status ?? r.signal})\n`);
    process.exit(r.status || 1);
  }
  process.stdout.write(`build: ${label} ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
}

removeStamp(ROOT);
const inputs = snapshot(ROOT);
step("contracts (hardhat compile)", "node_modules/hardhat/internal/cli/cli.js", ["compile", "--quiet"]);
fs.rmSync(path.join(ROOT, "dist"), { recursive: true, force: true });
step("keepers (tsc -p tsconfig.build.json)", "node_modules/typescript/bin/tsc", [
  "-p",
  "tsconfig.build.json",
]);
writeStamp(ROOT, inputs);
process.stdout.write(`build: dist/ stamped from ${Object.keys(inputs.files).length} source files\n`);
