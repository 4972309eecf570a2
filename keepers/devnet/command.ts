/**
 * `vigil devnet` (run the local stack) and `vigil devnet fault` (inject a fault on one of its nodes).
 * Heavy modules (Hardhat, the stack) load inside the actions, so `vigil --help` stays fast.
 */
import path from "node:path";
import { Command, Option } from "commander";
import { intOption } from "../shared/cli";
import type { CliIo } from "../cli/io";
import { DEFAULT_DIR, DEFAULT_PORTS, FAULT_KINDS, type FaultKind } from "./constants";
import type { DevnetOptions } from "./stack";

interface RunFlags {
  dir: string;
  port: number;
  nodePort: number;
  attestorPort: number;
  responderPort: number;
  dashboardPort: number;
  blockTime: number;
  dashboard: boolean;
  readyTimeout: number;
}

const portOption = (flag: string, what: string, dflt: number) =>
  new Option(`${flag} <port>`, `${what} (0 picks a free port)`).argParser(intOption(0, 65_535)).default(dflt);

/**
 * The `devnet` command for `vigil` (register with `program.addCommand(devnetCommand(io))`).
 * `vigil devnet` runs until SIGINT/SIGTERM, then stops every process it started and resolves (exit 0);
 * a second signal kills them at once (exit 130). Operator mistakes (a port in use, a foreign --dir)
 * throw VIGIL_CONFIG before anything starts.
 */
export function devnetCommand(io: CliIo): Command {
  const cmd = new Command("devnet")
    .description(
      "Run the whole system locally in one command: a control chain (anvil, a block every second) with Vigil " +
        "deployed, a demo service of three local JSON-RPC nodes (primary, backup-1, backup-2) with a guarded example " +
        "market, three attestors (quorum 2 of 3) and a responder started as `vigil attestor|responder --config`, " +
        "and the dashboard. Writes the keeper configs (attestor-1..3.yaml, responder.yaml, dashboard.yaml) and " +
        "keys.env (anvil's public dev keys) to --dir, prints what runs where, then live status changes, migrations " +
        "and pauses. Ctrl-C stops everything. Inject faults from another terminal with `vigil devnet fault`.",
    )
    .option("--dir <path>", "where configs, keys, logs and keeper data go", DEFAULT_DIR)
    .addOption(portOption("--port", "control chain JSON-RPC port", DEFAULT_PORTS.chain))
    .addOption(
      portOption("--node-port", "first demo node's port; the others take the next two", DEFAULT_PORTS.node),
    )
    .addOption(
      portOption(
        "--attestor-port",
        "first attestor's port; the others take the next two",
        DEFAULT_PORTS.attestor,
      ),
    )
    .addOption(portOption("--responder-port", "responder's HTTP port", DEFAULT_PORTS.responder))
    .addOption(portOption("--dashboard-port", "dashboard's HTTP port", DEFAULT_PORTS.dashboard))
    .addOption(
      new Option("--block-time <s>", "seconds between blocks on every chain")
        .argParser(intOption(1, 60))
        .default(1),
    )
    .option("--no-dashboard", "do not start `vigil dashboard` (default: started)")
    .addOption(
      new Option("--ready-timeout <s>", "longest wait for every endpoint HEALTHY and the market open")
        .argParser(intOption(10, 3600))
        .default(180),
    )
    .action(async (flags: RunFlags) => {
      const { runDevnet } = (await import("./stack")) as typeof import("./stack");
      const opts: DevnetOptions = {
        dir: flags.dir,
        port: flags.port,
        nodePort: flags.nodePort,
        attestorPort: flags.attestorPort,
        responderPort: flags.responderPort,
        dashboardPort: flags.dashboardPort,
        blockTime: flags.blockTime,
        dashboard: flags.dashboard,
        readyTimeoutMs: flags.readyTimeout * 1000,
      };
      const ac = new AbortController();
      let signals = 0;
      const onSignal = (sig: NodeJS.Signals) => {
        if (++signals > 1) {
          io.err(`${sig} again: killing every process at once\n`);
          process.exit(130); // the devnet's exit handler SIGKILLs what it started
        }
        io.out(`${sig}: stopping (press Ctrl-C again to kill at once) …\n`);
        ac.abort();
      };
      process.on("SIGINT", onSignal);
      process.on("SIGTERM", onSignal);
      try {
        io.out(`vigil devnet: starting a local stack in ${path.resolve(flags.dir)}\n`);
        await runDevnet(opts, io, ac.signal);
      } finally {
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
      }
    });

  cmd.addCommand(
    new Command("fault")
      .description(
        "Inject or undo a fault on a node of the running devnet's demo service. <node>: active (the registry's " +
          "active endpoint), primary, backup-1, backup-2, 1-3, a URL or an endpoint id. --kind stop: the node hangs " +
          "(SIGSTOP: socket open, no answers); halt: it answers but mines no blocks; resume: undo either.",
      )
      .argument("<node>", "which node")
      .addOption(
        new Option("--kind <kind>", "stop | halt | resume").choices(FAULT_KINDS).makeOptionMandatory(),
      )
      .option("--dir <path>", "the --dir the devnet was started with", DEFAULT_DIR)
      .action(async (target: string, flags: { kind: FaultKind; dir: string }, fault: Command) => {
        const { readState } = await import("./state");
        const { applyFault, resolveNode } = await import("./fault");
        // `devnet` has a --dir too: without positional options on the program, it takes the value.
        const dir = fault.getOptionValueSource("dir") === "cli" ? flags.dir : (cmd.opts().dir as string);
        const state = readState(dir);
        const node = await resolveNode(state, target);
        io.out(`${await applyFault(state, node, flags.kind)}\n`);
      }),
  );
  // `fault` takes the program's settings (exitOverride, output) that `devnet` gets when it is added.
  cmd.hook("preSubcommand", (devnet, sub) => void sub.copyInheritedSettings(devnet));
  return cmd;
}
