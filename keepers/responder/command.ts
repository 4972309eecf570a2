import { Command, Option } from "commander";
import { applyEnvOverrides, findSecrets, parseConfig, readConfigFile } from "../shared/config";
import { VigilError } from "../shared/errors";
import { createLogger } from "../shared/logger";
import { RESPONDER_ENV, responderConfigSchema } from "./config";
import { startResponder } from "./responder";

interface ResponderOptions {
  config?: string;
  rpcUrl?: string[];
  chainId?: number;
  oracle?: string;
  registry?: string;
  guard?: string;
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
  host?: string;
  port?: number;
  keystore?: string;
  logLevel?: string;
}

const int = (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`not a number: ${v}`);
  return n;
};
const collectList = (v: string, prev: string[] = []) => [
  ...prev,
  ...v
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean),
];

/**
 * `vigil responder`: run the responder keeper. Settings come from `--config` (JSON or YAML), then the
 * `VIGIL_*` environment variables, then these flags (flags win). The signing key comes from
 * `VIGIL_RESPONDER_KEY`, or from `--keystore` with its password in `VIGIL_KEYSTORE_PASSWORD`.
 */
export function responderCommand(): Command {
  return new Command("responder")
    .description(
      "Collect the attestors' signed reports, submit the newest quorum round to the HealthOracle (when it changes " +
        "a watched endpoint's status, else once per refresh interval), and call migrate / trip / resume when the " +
        "contracts say they are due.\n" +
        "Key: VIGIL_RESPONDER_KEY (0x private key) or --keystore with VIGIL_KEYSTORE_PASSWORD. Never in the config file.",
    )
    .option("-c, --config <file>", "config file, JSON or YAML (default: none; environment and flags only)")
    .option(
      "--rpc-url <url>",
      "JSON-RPC URL of the control chain; repeat or comma-separate for fallbacks (required)",
      collectList,
    )
    .option("--chain-id <id>", "chain id the RPC must serve (required)", int)
    .option("--oracle <address>", "HealthOracle address (required)")
    .option("--registry <address>", "EndpointRegistry address (required)")
    .option("--guard <address>", "MarketGuard address (default: none, markets are not tripped or resumed)")
    .option("--attestor <url>", "attestor base URL; repeat or comma-separate (required)", collectList)
    .option(
      "--service <id...>",
      "service id (bytes32) to watch; several, repeated or comma-separated; only these are submitted for and migrated (required, env VIGIL_RESPONDER_SERVICES)",
      collectList,
    )
    .option(
      "--market <id...>",
      "guard market id to trip and resume; several, repeated or comma-separated (default: every market whose dependencies are all watched)",
      collectList,
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
    .option("--host <host>", "interface for /healthz and /metrics (default: 127.0.0.1)")
    .option("--port <port>", "port for /healthz and /metrics, 0 = any free port (default: 9102)", int)
    .option(
      "--keystore <file>",
      "encrypted JSON keystore, used when VIGIL_RESPONDER_KEY is unset; password in VIGIL_KEYSTORE_PASSWORD (default: none)",
    )
    .addOption(
      new Option("--log-level <level>", "log level (default: info)").choices([
        "trace",
        "debug",
        "info",
        "warn",
        "error",
        "fatal",
        "silent",
      ]),
    )
    .action(async (opts: ResponderOptions) => {
      const config = buildResponderConfig(opts);
      const logger = createLogger("vigil-responder", { level: config.logLevel });
      const handle = await startResponder(config, { logger, handleSignals: true });
      await handle.stopped;
    });
}

/** Merge file, environment and flags (in that order of precedence, flags last) and validate. */
export function buildResponderConfig(opts: ResponderOptions, env: NodeJS.ProcessEnv = process.env) {
  const file = opts.config ? readConfigFile(opts.config) : {};
  const secrets = findSecrets(file);
  if (secrets.length) {
    throw new VigilError(
      "VIGIL_CONFIG",
      `config file must not hold secrets, found: ${secrets.join(", ")}`,
      "pass keys through VIGIL_RESPONDER_KEY or --keystore",
    );
  }
  const raw = applyEnvOverrides(file, RESPONDER_ENV, env) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  const set = (path: string, value: unknown) => {
    if (value === undefined) return;
    const keys = path.split(".");
    let node = raw;
    for (const k of keys.slice(0, -1)) node = node[k] ??= {};
    node[keys[keys.length - 1]] = value;
  };
  set("rpcUrls", opts.rpcUrl);
  set("chainId", opts.chainId);
  set("contracts.oracle", opts.oracle);
  set("contracts.registry", opts.registry);
  set("contracts.guard", opts.guard);
  set("attestorUrls", opts.attestor);
  set("services", opts.service);
  set("markets", opts.market);
  set("pollIntervalMs", opts.pollIntervalMs);
  set("heartbeatRefreshFraction", opts.heartbeatRefreshFraction);
  set("confirmations", opts.confirmations);
  set("fees.bumpPercent", opts.feeBumpPercent);
  set("fees.maxFeeCapGwei", opts.maxFeeGwei);
  set("fees.safetyMaxFeeCapGwei", opts.safetyMaxFeeGwei);
  set("actionDeadlineMs", opts.actionDeadlineMs);
  set("fees.stuckAfterMs", opts.stuckAfterMs);
  set("outboxPath", opts.outbox);
  set("http.host", opts.host);
  set("http.port", opts.port);
  set("keystorePath", opts.keystore);
  set("logLevel", opts.logLevel);
  return parseConfig(responderConfigSchema, raw, opts.config ?? "responder config");
}
