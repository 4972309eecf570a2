#!/usr/bin/env node
/**
 * A `solc` executable for forge, backed by the pinned npm package `solc` (soljson.js), so
 * `forge test` never downloads a compiler (foundry.toml: `solc = "scripts/forge-solc.js"`,
 * `offline = true`, `auto_detect_solc = false`). Forge only ever calls `--version` and
 * `--standard-json` (input on stdin, output on stdout); the other flags it passes
 * (`--allow-paths`, `--base-path`, `--include-path`) only widen where imports may be read from.
 */
"use strict";

const fs = require("node:fs");
const path = require("node:path");
const solc = require("solc");

const args = process.argv.slice(2);

if (args.includes("--version")) {
  // Forge parses the last line, "Version: <semver>"; soljson reports "<semver>.Emscripten.clang".
  process.stdout.write(`solc, the solidity compiler commandline interface\nVersion: ${solc.version()}\n`);
  process.exit(0);
}

if (!args.includes("--standard-json")) {
  process.stderr.write(
    `forge-solc: only --version and --standard-json are supported (got: ${args.join(" ")})\n`,
  );
  process.exit(2);
}

/** Values of a repeatable flag given as `--flag value` or `--flag=value`, comma lists split. */
function flagValues(name) {
  const values = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === name && i + 1 < args.length) values.push(args[++i]);
    else if (args[i].startsWith(`${name}=`)) values.push(args[i].slice(name.length + 1));
  }
  return values.flatMap((v) => v.split(",")).filter(Boolean);
}

const roots = [process.cwd(), ...flagValues("--base-path"), ...flagValues("--include-path")];

/** Forge resolves imports itself and sends every source; this callback only covers a source it left out. */
function findImports(importPath) {
  for (const root of roots) {
    const candidate = path.resolve(root, importPath);
    if (fs.existsSync(candidate)) return { contents: fs.readFileSync(candidate, "utf8") };
  }
  return { error: `File not found: ${importPath}` };
}

const input = fs.readFileSync(0, "utf8");
process.stdout.write(solc.compile(input, { import: findImports }));
