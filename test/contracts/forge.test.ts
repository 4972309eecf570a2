import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";

/**
 * Runs the forge fuzz and invariant suite (test/foundry, THREATS.md rows marked "F") once, at describe
 * time, and registers one mocha test per forge test, so `npm test` counts and reports each of them.
 * Forge ships only for Linux x64 here (optional dependency `@foundry-rs/forge-linux-amd64`); elsewhere
 * the suite is skipped with a message.
 */

const ROOT = path.resolve(__dirname, "..", "..");
const FORGE = path.join(ROOT, "node_modules", "@foundry-rs", "forge-linux-amd64", "bin", "forge");
/** The whole suite at foundry.toml's budget takes minutes on a 2-core CI machine (the v2 oracle properties alone
 * run n = 4 and n = 7 attestor sets); CI allows 90 minutes in all. */
const FORGE_TIMEOUT_MS = 1_800_000;

/** One test of `forge test --json` (forge 1.7): `{ "<file>:<Contract>": { test_results: { "<sig>": … } } }`. */
interface ForgeTestResult {
  status: "Success" | "Failure" | "Skipped";
  reason: string | null;
  counterexample: unknown;
  kind: Record<string, { runs?: number; calls?: number; reverts?: number }>;
}

interface ForgeSuiteResult {
  test_results: Record<string, ForgeTestResult>;
}

/** Runs forge and returns its parsed JSON report; forge exits 1 when a test failed, which is still a report. */
function runForge(): Record<string, ForgeSuiteResult> {
  let stdout: string;
  try {
    stdout = execFileSync(FORGE, ["test", "--json", "--offline"], {
      cwd: ROOT,
      encoding: "utf8",
      timeout: FORGE_TIMEOUT_MS,
      maxBuffer: 256 * 1024 * 1024,
      stdio: ["ignore", "pipe", "pipe"],
    });
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    stdout = e.stdout ?? "";
    if (!stdout.trim().startsWith("{")) {
      throw new Error(`VIGIL_FORGE: forge test did not produce a report: ${e.stderr || e.message}`);
    }
  }
  // Compiler output can precede the JSON document; the report is the last line.
  const json = stdout.trim().split("\n").pop() ?? "";
  return JSON.parse(json) as Record<string, ForgeSuiteResult>;
}

function describeRuns(result: ForgeTestResult): string {
  const [kind, detail] = Object.entries(result.kind)[0] ?? ["Unit", {}];
  if (kind === "Fuzz") return ` (fuzz, ${detail.runs} runs)`;
  if (kind === "Invariant") return ` (invariant, ${detail.runs} runs, ${detail.calls} calls)`;
  return "";
}

if (!existsSync(FORGE)) {
  describe.skip(`forge fuzz and invariant suite (forge binary not installed: ${FORGE}; Linux x64 only)`, () => {});
} else {
  describe("forge fuzz and invariant suite (test/foundry)", function () {
    const report = runForge();
    const counts = { passed: 0, failed: 0, skipped: 0 };
    for (const { test_results: tests } of Object.values(report)) {
      for (const result of Object.values(tests)) {
        if (result.status === "Success") counts.passed++;
        else if (result.status === "Skipped") counts.skipped++;
        else counts.failed++;
      }
    }
    // A plain summary line beside mocha's own (TOOLCHAIN.md, CI).
    console.log(`forge: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`);
    for (const [suite, { test_results: tests }] of Object.entries(report)) {
      const contract = suite.split(":").pop() ?? suite;
      for (const [signature, result] of Object.entries(tests)) {
        const name = `${contract}.${signature.replace(/\(.*\)$/, "")}${describeRuns(result)}`;
        if (result.status === "Skipped") {
          it.skip(name);
          continue;
        }
        it(name, function () {
          if (result.status !== "Success") {
            const example = result.counterexample
              ? `\ncounterexample: ${JSON.stringify(result.counterexample)}`
              : "";
            throw new Error(`forge: ${result.reason ?? result.status}${example}`);
          }
        });
      }
    }
  });
}
