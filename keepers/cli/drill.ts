/**
 * `vigil drill`: the outage drill, with the same options and exit codes as `npm run drill`. The
 * options, help and action are scripts/drill/index.ts's own (`drillProgram`); this command only
 * passes its arguments through, so the two can never disagree.
 */
import path from "node:path";
import { Command, CommanderError } from "commander";
import type { CliIo } from "./io";
import { projectRoot } from "./root";

/** What scripts/drill/index.ts exports (typed here so the build does not pull the drill into dist/). */
export interface DrillEntry {
  drillProgram(name: string, result: { exitCode: number }): Command;
}

/**
 * Load the drill from its TypeScript source. The drill drives Hardhat, which loads
 * hardhat.config.ts through ts-node anyway, so it is not compiled into dist/: when `vigil` runs the
 * build, ts-node is registered here, on first use of `vigil drill` only.
 */
function loadDrill(root: string): DrillEntry {
  // The drill's Hardhat uses the repository's config whatever the working directory.
  process.env.HARDHAT_CONFIG ??= path.join(root, "hardhat.config.ts");
  if (!require.extensions[".ts"]) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    (require("ts-node") as typeof import("ts-node")).register({
      transpileOnly: true,
      project: path.join(root, "tsconfig.json"),
      compilerOptions: { module: "commonjs" },
    });
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(path.join(root, "scripts", "drill", "index.ts")) as DrillEntry;
}

/**
 * Build the `vigil drill [options...]` subcommand. Everything after `drill` (including `--help`) goes
 * to the drill's own parser, so add it to the program without `copyInheritedSettings` (whose help
 * option would take `--help` first); its help and errors are written through `io`.
 * Exit codes as `npm run drill`: 0 all reactions as expected, 1 a reaction missing or unexpected;
 * a bad option is 2 (as every `vigil` usage error). Called by keepers/cli.ts; tests pass `load`.
 */
export function drillCommand(io: CliIo, load: (root: string) => DrillEntry = loadDrill): Command {
  return new Command("drill")
    .description(
      "Run the outage drill (as `npm run drill`): a local control chain, three monitored nodes, three attestors " +
        "and a responder; injects faults and measures every reaction. Options: --quick, --keep, --out <dir>, " +
        "--quiet; `vigil drill --help` explains them.",
    )
    .argument("[options...]", "the drill's options, see `vigil drill --help`")
    .helpOption(false)
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .allowUnknownOption()
    .allowExcessArguments()
    .action(async (args: string[]) => {
      const root = projectRoot();
      const result = { exitCode: 0 };
      const program = load(root)
        .drillProgram("vigil drill", result)
        .exitOverride()
        .configureOutput({ writeOut: io.out, writeErr: io.err });
      try {
        await program.parseAsync(args, { from: "user" });
      } catch (e) {
        // --help: done; a bad option: commander printed it, and the outer CLI turns it into exit 2.
        if (e instanceof CommanderError && e.exitCode === 0) return;
        throw e;
      }
      if (result.exitCode !== 0) {
        throw new CommanderError(result.exitCode, "vigil.exit", "the drill found a failure");
      }
    });
}
