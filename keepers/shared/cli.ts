/**
 * Command-line helpers shared by the `vigil` subcommands (attestor, responder, status, admin):
 * the common options, typed option parsers that fail with a message naming the option, and how an
 * error is reported (one line, code and hint, exit 2).
 */
import { Command, InvalidArgumentError, Option } from "commander";
import { isVigilError } from "./errors";
import { redactUrls } from "./redact";

/**
 * Options every chain-facing subcommand accepts (the common config keys of every keeper file, see
 * keepers/shared/config.ts). Each one also has an environment variable.
 */
export interface CommonOptions {
  config?: string;
  rpcUrl?: string[];
  chainId?: number;
  oracle?: string;
  registry?: string;
  guard?: string;
  keystore?: string;
  host?: string;
  port?: number;
  logLevel?: string;
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

/** Which optional common options a subcommand takes (see {@link withCommonOptions}). */
export interface CommonOptionSet {
  /** `--guard` (MarketGuard address). */
  guard?: boolean;
  /** `--keystore`: the command signs; `keyEnv` names its key variable in the help. */
  keyEnv?: string;
  /** `--host` and `--port`: the command serves HTTP; the number is its default port. */
  httpPort?: number;
  /** `--log-level`: the command is a long-running keeper that logs with pino. */
  log?: boolean;
}

/** Split repeated and comma-separated values: `--rpc-url a,b --rpc-url c` → [a, b, c]. */
export function listOption(value: string, prev: string[] = []): string[] {
  return [
    ...prev,
    ...value
      .split(",")
      .map((v) => v.trim())
      .filter(Boolean),
  ];
}

/**
 * Add the common options to `cmd`, the same names in every subcommand: `--config`, `--rpc-url`,
 * `--chain-id`, `--oracle`, `--registry`, and per {@link CommonOptionSet} `--guard`, `--keystore`,
 * `--host`/`--port`, `--log-level`. Command-line values win over the environment and the config file.
 * The first version's `--rpc` is refused with the new name.
 */
export function withCommonOptions(cmd: Command, opts: CommonOptionSet = {}): Command {
  cmd
    .option(
      "-c, --config <file>",
      "JSON or YAML config file, any keeper's (chain, contracts, key, http, metrics, log); never put keys in it (default: none)",
    )
    .option(
      "--rpc-url <url...>",
      "JSON-RPC URL(s) of the control chain, the one holding the Vigil contracts; repeat or comma-separate (required; config chain.rpcUrls, env VIGIL_RPC_URL)",
      listOption,
    )
    .addOption(
      new Option("--rpc <url>", "renamed to --rpc-url").hideHelp().argParser(() => {
        throw new InvalidArgumentError("--rpc is now --rpc-url");
      }),
    )
    .addOption(
      new Option(
        "--chain-id <id>",
        "chain id the RPCs must serve, integer (required by the keepers; other commands default to the first RPC's eth_chainId; config chain.chainId, env VIGIL_CHAIN_ID)",
      ).argParser(intOption(1)),
    )
    .addOption(
      new Option(
        "--oracle <address>",
        "HealthOracle address (required; config contracts.oracle, env VIGIL_ORACLE)",
      ).argParser(addressOption),
    )
    .addOption(
      new Option(
        "--registry <address>",
        "EndpointRegistry address (required; config contracts.registry, env VIGIL_REGISTRY)",
      ).argParser(addressOption),
    );
  if (opts.guard) {
    cmd.addOption(
      new Option(
        "--guard <address>",
        "MarketGuard address (config contracts.guard, env VIGIL_GUARD; default: none, markets are left alone)",
      ).argParser(addressOption),
    );
  }
  if (opts.keyEnv) {
    cmd.option(
      "--keystore <file>",
      `encrypted JSON keystore, used when $${opts.keyEnv} is unset; password in $VIGIL_KEYSTORE_PASSWORD (default: none; config key.keystorePath, env VIGIL_KEYSTORE)`,
    );
  }
  if (opts.httpPort !== undefined) {
    cmd
      .option(
        "--host <host>",
        "interface the HTTP server binds (config http.host, env VIGIL_HTTP_HOST; default 127.0.0.1)",
      )
      .addOption(
        new Option(
          "--port <port>",
          `HTTP port, 0 = any free port (config http.port, env VIGIL_HTTP_PORT; default ${opts.httpPort})`,
        ).argParser(intOption(0, 65_535)),
      );
  }
  if (opts.log) {
    cmd.addOption(
      new Option(
        "--log-level <level>",
        "pino log level (config log.level, env VIGIL_LOG_LEVEL; default info)",
      ).choices(["trace", "debug", "info", "warn", "error", "fatal", "silent"]),
    );
  }
  return cmd;
}

/** The common options as config flags keyed by config path (for `loadConfig`'s `flags`). */
export function commonFlags(o: CommonOptions): Record<string, unknown> {
  return {
    "chain.rpcUrls": o.rpcUrl,
    "chain.chainId": o.chainId,
    "contracts.oracle": o.oracle,
    "contracts.registry": o.registry,
    "contracts.guard": o.guard,
    "key.keystorePath": o.keystore,
    "http.host": o.host,
    "http.port": o.port,
    "log.level": o.logLevel,
  };
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
