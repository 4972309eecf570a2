/**
 * `npm run drill [-- --quick] [-- --keep]`: the outage drill. See scripts/drill/drill.ts for what it
 * does; README "The outage drill" for what it prints.
 */
import path from "node:path";
import { Command } from "commander";
import { runDrill } from "./drill";

const program = new Command("drill")
  .description(
    "Outage drill: starts a control chain, deploys Vigil, starts three monitored nodes (anvil, hardhat, ganache), " +
      "three attestors and a responder, injects faults one after another and measures every reaction. " +
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
  .showHelpAfterError();

async function main(): Promise<void> {
  program.parse(process.argv);
  const o = program.opts<{ quick: boolean; keep: boolean; out: string; quiet: boolean }>();
  const report = await runDrill({
    quick: o.quick,
    keep: o.keep,
    outDir: path.resolve(o.out),
    verbose: !o.quiet,
  });
  process.exit(report.failures.length ? 1 : 0);
}

void main();
