/**
 * `vigil`, the operator CLI: run an attestor or a responder, show status, and administer the
 * contracts, run the drill. `bin/vigil.js` calls {@link runCli} from the build (dist/) or, when the
 * build does not match the sources, through ts-node.
 */
import { Command, CommanderError } from "commander";
import { attestorCommand } from "./attestor/command";
import {
  addEndpointCommand,
  registerMarketCommand,
  registerServiceCommand,
  setAttestorsCommand,
} from "./cli/admin";
import { drillCommand } from "./cli/drill";
import { deployExampleMarketCommand } from "./cli/market";
import { dashboardCommand } from "./dashboard/command";
import { devnetCommand } from "./devnet/command";
import { gatewayCommand } from "./gateway/command";
import { processIo, type CliIo } from "./cli/io";
import { packageVersion } from "./cli/root";
import { statusCommand } from "./cli/status";
import { reportCliError } from "./shared/cli";
// The responder subcommand comes from the responder keeper (keepers/responder/command.ts).
import { responderCommand } from "./responder/command";

/** Build the `vigil` program. Output and environment come from `io` (tests pass their own). */
export function buildProgram(io: CliIo = processIo): Command {
  const program = new Command("vigil")
    .description(
      "Vigil operator CLI: attested endpoint health, permissionless failover and circuit breakers for on-chain markets.\n" +
        "Common settings also come from the environment: VIGIL_RPC_URL, VIGIL_CHAIN_ID, VIGIL_ORACLE, VIGIL_REGISTRY, VIGIL_GUARD;\n" +
        "write commands take the admin key from VIGIL_ADMIN_KEY or --keystore.",
    )
    .version(packageVersion())
    .showHelpAfterError("(add --help for usage)")
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err });
  const commands = [
    attestorCommand(),
    responderCommand(),
    gatewayCommand(io),
    statusCommand(io),
    registerServiceCommand(io),
    addEndpointCommand(io),
    registerMarketCommand(io),
    setAttestorsCommand(io),
    deployExampleMarketCommand(io),
    dashboardCommand(io),
    devnetCommand(io),
  ];
  for (const cmd of commands) {
    cmd.copyInheritedSettings(program);
    program.addCommand(cmd);
  }
  // Not given the program's settings: its help option would shadow the drill's own `--help`.
  program.addCommand(drillCommand(io));
  return program;
}

/**
 * Run the CLI with `argv` (without `node` and the script). @returns the exit code: 0 on success and
 * for --help/--version, 2 on any error (printed as one line, `error CODE: message (hint)`), or the
 * code a command chose after printing its own verdict (`vigil drill`: 1 when the drill failed).
 */
export async function runCli(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync([...argv], { from: "user" });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Commander already printed its message (or the help); a command's own verdict keeps its code.
      if (e.code === "vigil.exit") return e.exitCode;
      return e.exitCode === 0 || e.code === "commander.helpDisplayed" || e.code === "commander.version"
        ? 0
        : 2;
    }
    return reportCliError(e, io.err);
  }
}

if (require.main === module) {
  // Exit explicitly (idle keep-alive sockets must not hold the process), after stdout has drained.
  void runCli(process.argv.slice(2)).then((code) => {
    process.stdout.write("", () => process.exit(code));
  });
}
