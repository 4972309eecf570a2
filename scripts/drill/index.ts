/**
 * `npm run drill [-- --quick] [-- --keep]` and `vigil drill`: the outage drill. See
 * scripts/drill/drill.ts for what it does; README "The outage drill" for what it prints.
 */
import path from "node:path";
import { Command } from "commander";

/** Options of the drill as the command line gives them. */
interface DrillFlags {
  quick: boolean;
  keep: boolean;
  out: string;
  quiet: boolean;
}

/**
 * The drill's command line (options, help and the action), named `name` (`drill` for both `npm run
 * drill` and `vigil drill`). The action runs the drill and sets `exitCode` on `result`: 0 when every
 * expected reaction happened, 1 when one is missing or something reacted that should not have.
 * The drill itself (ethers, Hardhat) is loaded only when the action runs, so `--help` stays cheap.
 */
export function drillProgram(name = "drill", result: { exitCode: number } = { exitCode: 0 }): Command {
  return new Command(name)
    .description(
      "Outage drill: starts a control chain, deploys Vigil, starts a monitored service of three lockstep anvil replicas " +
        "and an L2 sequencer with its uptime feed, three attestors and a responder, injects faults one after another and measures every reaction. " +
        "Writes reports/drill.json and reports/drill.svg. Exit code 1 when an expected reaction is missing or " +
        "anything reacted that should not have.",
    )
    .option("--quick", "shorter rounds, cooldowns and grace periods (CI)", false)
    .option("--keep", "leave the stack running at the end for `npx vigil status` (Ctrl-C to stop)", false)
    .option(
      "--out <dir>",
      "where to write drill.json and drill.svg",
      path.join(__dirname, "..", "..", "reports"),
    )
    .option("--quiet", "no live timeline, only the final table", false)
    .showHelpAfterError()
    .action(async (o: DrillFlags) => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { runDrill } = require("./drill") as typeof import("./drill");
      const report = await runDrill({
        quick: o.quick,
        keep: o.keep,
        outDir: path.resolve(o.out),
        verbose: !o.quiet,
      });
      result.exitCode = report.failures.length ? 1 : 0;
    });
}

if (require.main === module) {
  const result = { exitCode: 0 };
  void drillProgram("drill", result)
    .parseAsync(process.argv)
    .then(() => process.exit(result.exitCode));
}
