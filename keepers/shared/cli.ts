/**
 * Command-line helpers shared by the `vigil` subcommands (attestor, responder, status, admin):
 * the common options, typed option parsers that fail with a message naming the option, and how an
 * error is reported (one line, code and hint, exit 2).
 */
import { Command, InvalidArgumentError, Option } from "commander";
import { isVigilError } from "./errors";
import { redactUrls } from "./redact";

/** Options every chain-facing subcommand accepts. Each one also has an environment variable. */
export interface CommonOptions {
  config?: string;
  rpc?: string[];
  chainId?: number;
  oracle?: string;
  registry?: string;
  guard?: string;
}

/** Parse a decimal integer option within [min, max]; commander shows the message on failure. */
export function intOption(min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value) => {
    if (!/^-?[0-9]+$/.test(value.trim()))
      throw new InvalidArgumentError(`expected an integer, got "${value}"`);
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`expected an integer from ${min} to ${max}, got ${value}`);
    }
    return n;
  };
}

/** Parse a 0x-prefixed 20-byte address option. */
export function addressOption(value: string): string {
  if (!/^0x[0-9a-fA-F]{40}$/.test(value.trim())) {
    throw new InvalidArgumentError(`expected a 0x-prefixed 20-byte address, got "${value}"`);
  }
  return value.trim();
}

/** Parse a 0x-prefixed 32-byte id option. */
export function bytes32Option(value: string): string {
  if (!/^0x[0-9a-fA-F]{64}$/.test(value.trim())) {
    throw new InvalidArgumentError(`expected a 0x-prefixed 32-byte id, got "${value}"`);
  }
  return value.trim().toLowerCase();
}

/**
 * Add the common options to `cmd`: `--config`, `--rpc`, `--chain-id`, `--oracle`, `--registry`, and
 * `--guard` when `guard` is set. Values given on the command line win over the environment and the
 * config file.
 */
export function withCommonOptions(cmd: Command, opts: { guard?: boolean } = {}): Command {
  cmd
    .option("--config <file>", "JSON or YAML config file; never put keys in it (default: none)")
    .option(
      "--rpc <url...>",
      "JSON-RPC URL(s) of the chain holding the Vigil contracts (env VIGIL_RPC_URL, comma-separated; default: none)",
    )
    .addOption(
      new Option(
        "--chain-id <id>",
        "chain id of that chain, integer (env VIGIL_CHAIN_ID; default: asked from the first RPC; keepers require it)",
      ).argParser(intOption(1)),
    )
    .addOption(
      new Option("--oracle <address>", "HealthOracle address (env VIGIL_ORACLE; default: none)").argParser(
        addressOption,
      ),
    )
    .addOption(
      new Option(
        "--registry <address>",
        "EndpointRegistry address (env VIGIL_REGISTRY; default: none)",
      ).argParser(addressOption),
    );
  if (opts.guard) {
    cmd.addOption(
      new Option(
        "--guard <address>",
        "MarketGuard address (env VIGIL_GUARD; default: none, markets not shown)",
      ).argParser(addressOption),
    );
  }
  return cmd;
}

/** The common options as config flags keyed by config path (for `loadConfig`'s `flags`). */
export function commonFlags(o: CommonOptions): Record<string, unknown> {
  return { rpcUrls: o.rpc, chainId: o.chainId, oracle: o.oracle, registry: o.registry, guard: o.guard };
}

/**
 * Print an error as one line, `error VIGIL_CODE: message (hint)`, to `write` and return exit code 2.
 * URLs in the message are cut to their origin (RPC URLs carry API keys).
 * A VigilError never prints a stack trace; anything else prints its message (and the stack when
 * VIGIL_DEBUG is set).
 */
export function reportCliError(e: unknown, write: (line: string) => void): number {
  if (isVigilError(e)) {
    write(`error ${e.code}: ${redactUrls(e.message)}\n`);
    return 2;
  }
  const err = e as { code?: string; shortMessage?: string; message?: string; stack?: string };
  const code = typeof err?.code === "string" ? err.code : "ERROR";
  write(`error ${code}: ${redactUrls(err?.shortMessage ?? err?.message ?? String(e))}\n`);
  if (process.env.VIGIL_DEBUG && err?.stack) write(`${redactUrls(err.stack)}\n`);
  return 2;
}
