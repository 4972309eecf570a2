/**
 * `npm run chaos [-- --quick] [-- --seed <n>]`: racing responders under crashes, reorgs, a fee spike and
 * hostile RPCs, judged from the chain. See scripts/chaos/run.ts (the run), incidents.ts (what each incident
 * does) and accounting.ts (what counts as lost, duplicated, a nonce gap).
 */
import path from "node:path";
import { Command, InvalidArgumentError } from "commander";

const ROOT = path.join(__dirname, "..", "..");

interface ChaosFlags {
  quick: boolean;
  seed?: number;
  responders: number;
  kills?: number;
  keepListeners: boolean;
  out: string;
  attestorsFrom: string;
  respondersFrom: string;
}

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError("must be a non-negative integer");
  return n;
}

/**
 * The chaos command line, named `name`. The action runs the sequence and sets `result.exitCode`: 0 when nothing
 * was lost or duplicated, no responder key has a nonce gap and the pause landed within 3 blocks of being due
 * under the fee spike; 1 otherwise. The run itself (ethers, Hardhat) is loaded only when the action runs.
 */
export function chaosProgram(name = "chaos", result: { exitCode: number } = { exitCode: 0 }): Command {
  return new Command(name)
    .description(
      "Chaos run: a control chain (anvil, 1 s blocks) with Vigil, a monitored service of three lockstep anvil replicas, " +
        "three attestors and 2-3 racing `vigil responder` processes (own key and outbox each; RPC URLs: a hostile proxy, " +
        "then the chain). A sequence of incidents (the active node killed: failover, failback; every node killed: pause, " +
        "resume) under responder SIGKILLs at crash points (VIGIL_FAULT_KILL_AT), reorgs at depth 1, 3 and 12, a ×50 base " +
        "fee, and each responder's first RPC refusing, hanging, frozen or lying. Judged from the chain: actions needed, " +
        "applied, lost, duplicated, nonce gaps, reverted transactions. Writes reports/chaos.json. Exit code 1 on any loss, " +
        "duplicate, nonce gap, or a pause more than 3 blocks after due under the fee spike.",
    )
    .option("--quick", "a short sequence (3 incidents, 6 kills) for CI-like runs", false)
    .option(
      "--seed <n>",
      "seed of the random choices (crash points, kill times); default: from the clock",
      positiveInt,
    )
    .option("--responders <n>", "racing responders, 2 or 3", positiveInt, 3)
    .option("--kills <n>", "responder SIGKILLs across the sequence (default 50, quick 6)", positiveInt)
    .option(
      "--keep-listeners",
      "keep the oracle's status listeners (the registry and the guard act inside the report submission)",
      false,
    )
    .option("--out <dir>", "where to write chaos.json", path.join(__dirname, "..", "..", "reports"))
    .option(
      "--attestors-from <dir>",
      "checkout whose bin/vigil.js runs the attestors (e.g. a `git archive` of a known-good commit with node_modules linked)",
      ROOT,
    )
    .option("--responders-from <dir>", "checkout whose bin/vigil.js runs the responders", ROOT)
    .showHelpAfterError()
    .action(async (o: ChaosFlags) => {
      if (o.responders < 2 || o.responders > 3) throw new InvalidArgumentError("--responders must be 2 or 3");
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { runChaos } = require("./run") as typeof import("./run");
      const seed = o.seed ?? Date.now() % 2 ** 31;
      process.stdout.write(`chaos: seed ${seed} (repeat with --seed ${seed})\n`);
      const report = await runChaos({
        quick: o.quick,
        seed,
        responders: o.responders,
        kills: o.kills ?? (o.quick ? 6 : 50),
        keepListeners: o.keepListeners,
        outDir: path.resolve(o.out),
        attestorRoot: path.resolve(o.attestorsFrom),
        responderRoot: path.resolve(o.respondersFrom),
      });
      result.exitCode = report.failures.length ? 1 : 0;
    });
}

if (require.main === module) {
  const result = { exitCode: 0 };
  void chaosProgram("chaos", result)
    .parseAsync(process.argv)
    .then(() => process.exit(result.exitCode))
    .catch((e: Error) => {
      process.stderr.write(`chaos: ${e.message}\n`);
      process.exit(1);
    });
}
