#!/usr/bin/env node
/**
 * `vigil` — the operator CLI (keepers/cli.ts).
 *
 * Runs the JavaScript build in dist/ (`npm run build`, which `npm ci` runs as `prepare`) when it
 * was built from the sources in the tree right now: scripts/build/freshness.js compares the stamp
 * the build wrote with the keepers, contracts and compiler configs (stat every input; hash only a
 * file whose mtime moved). Otherwise — no build yet, or a developer edited a source since — it runs
 * the TypeScript sources through ts-node, as before the build existed, after one line on stderr
 * that says why and how to get the fast start back. It never builds by itself: several `vigil`
 * processes often start at once (the drill, tests), and a rebuild in each would race on dist/.
 * VIGIL_FROM_SOURCE=1 forces the sources without the notice.
 */
"use strict";
const path = require("node:path");

const root = path.resolve(__dirname, "..");

function fromSource(reason) {
  const fs = require("node:fs");
  const { spawnSync } = require("node:child_process");
  if (reason) {
    process.stderr.write(
      `vigil: ${reason}; running the TypeScript sources (slow start) — \`npm run build\` for a fast one\n`,
    );
  }
  if (!fs.existsSync(path.join(root, "typechain-types", "index.ts"))) {
    process.stderr.write("vigil: contract typings missing; running `npx hardhat compile` once...\n");
    const r = spawnSync(
      process.execPath,
      [path.join(root, "node_modules/hardhat/internal/cli/cli.js"), "compile", "--quiet"],
      {
        cwd: root,
        stdio: ["ignore", "inherit", "inherit"],
      },
    );
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
  return require(path.join(root, "keepers", "cli.ts")).runCli;
}

function load() {
  if (process.env.VIGIL_FROM_SOURCE === "1") return fromSource(null);
  const { checkBuild, ENTRY } = require(path.join(root, "scripts", "build", "freshness.js"));
  const build = checkBuild(root);
  if (!build.fresh) return fromSource(`dist/ is not usable (${build.reason})`);
  return require(path.join(root, ENTRY)).runCli;
}

load()(process.argv.slice(2)).then((code) => {
  // Exit explicitly (idle keep-alive sockets must not hold the process), after stdout has drained.
  process.stdout.write("", () => process.exit(code));
});
