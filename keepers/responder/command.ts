import { Command } from "commander";
import { commonFlags, listOption, withCommonOptions, type CommonOptions } from "../shared/cli";
import type { ResponderConfig } from "./config";
// The responder itself (ethers, pino, better-sqlite3, zod) loads in the action, so `vigil --help` and
// the other subcommands do not pay for it.

/** `vigil responder` flags: the common ones plus the responder's own. */
export interface ResponderOptions extends CommonOptions {
  attestor?: string[];
  service?: string[];
  market?: string[];
  pollIntervalMs?: number;
  heartbeatRefreshFraction?: number;
  confirmations?: number;
  feeBumpPercent?: number;
  maxFeeGwei?: number;
  safetyMaxFeeGwei?: number;
  actionDeadlineMs?: number;
  stuckAfterMs?: number;
  outbox?: string;
}

const int = (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`not a number: ${v}`);
  return n;
};

/**
 * `vigil responder`: run the responder keeper. Settings come from `--config` (JSON or YAML), then the
 * `VIGIL_*` environment variables, then these flags (flags win). The signing key comes from
 * `VIGIL_RESPONDER_KEY`, or from `--keystore` with its password in `VIGIL_KEYSTORE_PASSWORD`.
 */
export function responderCommand(): Command {
  const cmd = new Command("responder").description(
    "Collect the attestors' signed reports, submit the newest quorum round to the HealthOracle (when it changes " +
      "a watched endpoint's status, else once per refresh interval), and call migrate / trip / resume when the " +
      "contracts say they are due.\n" +
      "Key: VIGIL_RESPONDER_KEY (0x private key) or --keystore with VIGIL_KEYSTORE_PASSWORD. Never in the config file.",
  );
  return withCommonOptions(cmd, { guard: true, keyEnv: "VIGIL_RESPONDER_KEY", httpPort: 9_102, log: true })
    .option("--attestor <url>", "attestor base URL; repeat or comma-separate (required)", listOption)
    .option(
      "--service <id...>",
      "service id (bytes32) to watch; several, repeated or comma-separated; only these are submitted for and migrated (required, env VIGIL_RESPONDER_SERVICES)",
      listOption,
    )
    .option(
      "--market <id...>",
      "guard market id to trip and resume; several, repeated or comma-separated (default: every market whose dependencies are all watched)",
      listOption,
    )
    .option("--poll-interval-ms <ms>", "milliseconds between evaluation loops (default: 2000)", int)
    .option(
      "--heartbeat-refresh-fraction <f>",
      "refresh a steady endpoint when its stored round is f × heartbeat old, 0<f<1 (default: 0.8)",
      Number,
    )
    .option("--confirmations <n>", "blocks to wait after inclusion (default: 1)", int)
    .option(
      "--fee-bump-percent <pct>",
      "percent both EIP-1559 fees rise per replacement, >= 12.5 (default: 12.5)",
      Number,
    )
    .option(
      "--max-fee-gwei <gwei>",
      "cap on max fee per gas of submit and resume, gwei (default: 500)",
      Number,
    )
    .option(
      "--safety-max-fee-gwei <gwei>",
      "cap on max fee per gas of trip, migrate and cancels, gwei, >= --max-fee-gwei (default: 2000)",
      Number,
    )
    .option(
      "--action-deadline-ms <ms>",
      "cancel a migrate/trip/resume not mined after this many milliseconds (default: 300000; submit: when its round expires, observedAt + maxAge)",
      int,
    )
    .option(
      "--stuck-after-ms <ms>",
      "replace a transaction not mined after this many milliseconds (default: 30000)",
      int,
    )
    .option("--outbox <file>", "SQLite outbox path (default: ./vigil-responder.sqlite)")
    .action(async (opts: ResponderOptions) => {
      const config = buildResponderConfig(opts);
      const [{ createLogger }, { startResponder }] = await Promise.all([
        import("../shared/logger"),
        import("./responder"),
      ]);
      const logger = createLogger("vigil-responder", { level: config.log.level });
      const handle = await startResponder(config, { logger, handleSignals: true });
      await handle.stopped;
    });
}

/**
 * The responder's config from `--config`, then the `VIGIL_*` environment, then the flags (flags win),
 * validated. Throws VIGIL_CONFIG naming each bad or renamed setting.
 */
export function buildResponderConfig(
  opts: ResponderOptions,
  env: NodeJS.ProcessEnv = process.env,
): ResponderConfig {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { loadResponderConfig } = require("./config") as typeof import("./config");
  return loadResponderConfig(opts.config, env, {
    ...commonFlags(opts),
    attestorUrls: opts.attestor,
    services: opts.service,
    markets: opts.market,
    pollIntervalMs: opts.pollIntervalMs,
    heartbeatRefreshFraction: opts.heartbeatRefreshFraction,
    confirmations: opts.confirmations,
    "fees.bumpPercent": opts.feeBumpPercent,
    "fees.maxFeeCapGwei": opts.maxFeeGwei,
    "fees.safetyMaxFeeCapGwei": opts.safetyMaxFeeGwei,
    actionDeadlineMs: opts.actionDeadlineMs,
    "fees.stuckAfterMs": opts.stuckAfterMs,
    outboxPath: opts.outbox,
  });
}
