#!/usr/bin/env node
/**
 * `vigil` — the operator CLI (keepers/cli.ts), run through ts-node so a checkout needs no build step.
 * On first use it generates the contract typings (`typechain-types/`, gitignored) with
 * `npx hardhat compile`.
 */
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const { spawnSync } = require("node:child_process");

const root = path.resolve(__dirname, "..");

if (!fs.existsSync(path.join(root, "typechain-types", "index.ts"))) {
  process.stderr.write("vigil: contract typings missing; running `npx hardhat compile` once...\n");
  const r = spawnSync("npx", ["hardhat", "compile", "--quiet"], {
    cwd: root,
    stdio: ["ignore", "inherit", "inherit"],
  });
  if (r.status !== 0) {
    process.stderr.write(
      "error VIGIL_BUILD: `npx hardhat compile` failed (run it in " + root + " to see why)\n",
    );
    process.exit(2);
  }
}

require("ts-node").register({
  transpileOnly: true,
  project: path.join(root, "tsconfig.json"),
  compilerOptions: { module: "commonjs" },
});

const { runCli } = require(path.join(root, "keepers", "cli.ts"));
runCli(process.argv.slice(2)).then((code) => {
  // Exit explicitly (idle keep-alive sockets must not hold the process), after stdout has drained.
  process.stdout.write("", () => process.exit(code));
});
