/**
 * The devnet's constants that `vigil --help` needs, in a module that imports nothing: the command
 * definition loads only this, and ethers, Hardhat and the stack load inside the actions.
 */

/** Default ports; `0` on the command line picks a free one. */
export const DEFAULT_PORTS = {
  /** Control chain JSON-RPC (where `--network localhost` and every example file point). */
  chain: 8545,
  /** First of the three demo nodes (8546, 8547, 8548). */
  node: 8546,
  /** First of the three attestors (9470, 9471, 9472), the attestor's default port and the next two. */
  attestor: 9470,
  responder: 9102,
  dashboard: 9480,
} as const;

/** The default `--dir`, relative to the working directory. */
export const DEFAULT_DIR = ".vigil-devnet";

/**
 * Fault kinds of `vigil devnet fault` (keepers/devnet/fault.ts): `stop` (SIGSTOP: a hung node), `halt`
 * (answers, mines nothing), `resume` (undo either).
 */
export const FAULT_KINDS = ["stop", "halt", "resume"] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];
