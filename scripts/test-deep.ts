/**
 * `npm run test:deep`: the forge fuzz and invariant suite (test/foundry) at the deep budget of issue 8, with a
 * fresh random seed that it prints first, so any failure can be replayed:
 *
 *   FOUNDRY_FUZZ_RUNS=50000  FOUNDRY_INVARIANT_RUNS=256  FOUNDRY_INVARIANT_DEPTH=256  forge test --fuzz-seed <seed>
 *
 * `npm test` runs the same suites at foundry.toml's budget (512 runs, 64 x 64 calls, fixed seed). Extra arguments
 * go to forge: `npm run test:deep -- --match-path 'test/foundry/Oracle*'` narrows the run, `--fuzz-seed 0x...`
 * replays a seed. The budget can be changed through the same FOUNDRY_* variables (e.g. to time one property).
 * Forge ships only for Linux x64 here (optional dependency `@foundry-rs/forge-linux-amd64`).
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import path from "node:path";

const ROOT = path.resolve(__dirname, "..");
const FORGE = path.join(ROOT, "node_modules", "@foundry-rs", "forge-linux-amd64", "bin", "forge");

/** The deep budget of issue 8: at least 50,000 fuzz runs per property, 256 x 256 invariant calls. */
const DEEP = {
  FOUNDRY_FUZZ_RUNS: "50000",
  FOUNDRY_INVARIANT_RUNS: "256",
  FOUNDRY_INVARIANT_DEPTH: "256",
} as const;

function main(): void {
  if (!existsSync(FORGE)) {
    console.error(`VIGIL_FORGE: forge binary not installed (${FORGE}); it ships for Linux x64 only`);
    process.exit(2);
  }
  const args = process.argv.slice(2);
  const given = args.indexOf("--fuzz-seed");
  const seed = given >= 0 ? args[given + 1] : `0x${randomBytes(32).toString("hex")}`;
  const forgeArgs = ["test", "--offline", ...(given >= 0 ? args : ["--fuzz-seed", seed, ...args])];
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const [name, value] of Object.entries(DEEP)) env[name] = process.env[name] ?? value;

  console.log(`test:deep: fuzz seed ${seed}`);
  console.log(
    `test:deep: ${env.FOUNDRY_FUZZ_RUNS} fuzz runs per property, ${env.FOUNDRY_INVARIANT_RUNS} x ` +
      `${env.FOUNDRY_INVARIANT_DEPTH} invariant runs x calls`,
  );
  console.log(
    `test:deep: replay with: npm run test:deep -- --fuzz-seed ${seed}${args.length ? " " + args.join(" ") : ""}`,
  );
  const started = Date.now();
  const child = spawn(FORGE, forgeArgs, { cwd: ROOT, env, stdio: "inherit" });
  child.on("exit", (code, signal) => {
    const seconds = ((Date.now() - started) / 1000).toFixed(0);
    console.log(
      `test:deep: ${code === 0 ? "passed" : "FAILED"} in ${seconds} s (seed ${seed}, ` +
        `${env.FOUNDRY_FUZZ_RUNS} fuzz runs, ${env.FOUNDRY_INVARIANT_RUNS}x${env.FOUNDRY_INVARIANT_DEPTH} invariant calls)`,
    );
    process.exit(code ?? (signal ? 1 : 0));
  });
}

main();
