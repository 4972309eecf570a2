import { z } from "zod";
import {
  COMMON_ENV,
  loadConfig,
  parseConfig,
  zBytes32,
  zChain,
  zContracts,
  zHttp,
  zKey,
  zLog,
  zMetrics,
  zMillis,
  zUrl,
  type EnvOverride,
} from "../shared/config";

const SERVICES_WHY =
  "give the service ids (bytes32) this responder watches: the registry is permissionless, so acting " +
  "on every registered service lets anyone spend this wallet and queue transactions ahead of a trip";

/**
 * Responder settings: one typed schema, validated at start-up. Every field has a documented default
 * except the chain, the contract addresses, the attestor URLs and the services. The common keys (`chain`,
 * `contracts`, `key`, `http`, `metrics`, `log`) are every keeper's (keepers/shared/config.ts). Keys never come
 * from here: the signing key is read from the environment variable `key.envVar`, or from the encrypted
 * keystore `key.keystorePath` with its password in `key.passwordEnvVar`.
 */
export const responderConfigSchema = z
  .object({
    /** The control chain: `rpcUrls` (several ⇒ a fallback provider, in priority order) and `chainId`. */
    chain: zChain,
    /** `oracle`, `registry` and the optional `guard` (without it the responder never trips or resumes markets). */
    contracts: zContracts,
    /** Base URLs of the attestors (`GET <url>/v1/reports?sinceRound=<n>`), one per attestor. */
    attestorUrls: z.array(zUrl).min(1, "give at least one attestor URL"),
    /**
     * Service ids (bytes32) to watch; required, non-empty. The responder submits rounds only for their
     * endpoints and migrates only them: anyone can register services in the registry.
     */
    services: z
      .array(zBytes32, { required_error: SERVICES_WHY })
      .min(1, SERVICES_WHY)
      .transform((ids) => [...new Set(ids.map((id) => id.toLowerCase()))]),
    /**
     * Guard market ids to trip and resume. Default: every market registered in the guard whose
     * dependencies are all watched (a service in `services` or an endpoint of one).
     */
    markets: z
      .array(z.coerce.number().int().positive("must be a market id (1, 2, …)"))
      .min(1, "give at least one market id, or leave markets out to follow the services")
      .transform((ids) => [...new Set(ids)])
      .optional(),
    /** Milliseconds between the starts of two evaluation loops. Default 2000. */
    pollIntervalMs: zMillis.default(2_000),
    /** Timeout of one attestor fetch, ms. Default 2000. */
    attestorTimeoutMs: zMillis.default(2_000),
    /**
     * Largest attestor response accepted, bytes. Default 16 MiB: one report is about 77 bytes per endpoint
     * (a 66-character id and 8 hex digits of values), and an attestor serves the rounds still within `maxAge`
     * (about 7 at the defaults), so 10,000 endpoints need about 5.4 MB.
     */
    attestorMaxBytes: z
      .number()
      .int()
      .positive()
      .default(16 * 1024 * 1024),
    /**
     * Refresh a healthy endpoint once its stored round is this fraction of the heartbeat old
     * (Chainlink's deviation-and-heartbeat). 0 < f < 1. Default 0.8: one submission per 0.8 heartbeat, leaving 20% of the heartbeat for the transaction to land
     * before the status would lapse to UNKNOWN.
     */
    heartbeatRefreshFraction: z.number().gt(0).lt(1).default(0.8),
    /** Blocks to wait after inclusion before an action counts as confirmed. Default 1. */
    confirmations: z.number().int().positive().max(64).default(1),
    fees: z
      .object({
        /** Raise both EIP-1559 fees by this percentage per replacement; ≥ 12.5 (geth's price bump). Default 12.5. */
        bumpPercent: z
          .number()
          .min(12.5, "must be at least 12.5 (geth rejects smaller bumps)")
          .max(500)
          .default(12.5),
        /** Never pay more than this max fee per gas for a `submit` or `resume`, gwei. Default 500. */
        maxFeeCapGwei: z.number().positive().default(500),
        /**
         * Ceiling for safety actions (`trip`, `migrate`) and for the cancel that frees a nonce, gwei;
         * at least `maxFeeCapGwei` (THREATS #21: a pause must land during a gas spike). Default 2000.
         */
        safetyMaxFeeCapGwei: z.number().positive().default(2_000),
        /** Replace a transaction not mined after this many ms. Default 30000. */
        stuckAfterMs: zMillis.default(30_000),
      })
      .default({})
      .refine((f) => f.safetyMaxFeeCapGwei >= f.maxFeeCapGwei, {
        message:
          "safetyMaxFeeCapGwei must be at least maxFeeCapGwei (safety actions may pay more, never less)",
        path: ["safetyMaxFeeCapGwei"],
      }),
    /**
     * Deadline of a `migrate`, `trip` or `resume` transaction, ms; a `submit` expires with its
     * round (the quorum's observation time plus the smallest maxAge of its endpoints). Past it, the nonce is cancelled with a 0-value self-send and
     * the action is dropped (re-decided next iteration), so the loop never waits forever at the cap.
     * Default 300000 (5 minutes).
     */
    actionDeadlineMs: zMillis.default(300_000),
    /**
     * Reverted transactions the responder pays for within an hour before it gets stricter: past it, an action is
     * sent only when it simulates cleanly on every fresh RPC of `chain.rpcUrls` (not just on one that called it
     * due). Bounds what lying RPCs can cost. Default 6.
     */
    maxRevertedTxPerHour: z.number().int().nonnegative().default(6),
    /** Pending deliveries (`retryDelivery`), judged by outcome. */
    delivery: z
      .object({
        /** Wait after a market's first refusal, ms; doubles per consecutive refusal. Default 30000. */
        backoffBaseMs: zMillis.default(30_000),
        /** Longest wait between two tries of one market's delivery, ms. Default 3600000 (an hour). */
        backoffMaxMs: zMillis.default(3_600_000),
        /**
         * Gas all `retryDelivery` transactions of one market may use within an hour. Default 1000000 (a delivery
         * costs about 60,000 plus the guard's `marketCallGas` at most).
         */
        maxGasPerMarketPerHour: z.number().int().positive().default(1_000_000),
      })
      .strict()
      .default({})
      .refine((d) => d.backoffMaxMs >= d.backoffBaseMs, {
        message: "backoffMaxMs must be at least backoffBaseMs",
        path: ["backoffMaxMs"],
      }),
    /** Reorganisations of the control chain. */
    reorg: z
      .object({
        /**
         * Confirmed actions within this many blocks of the head are re-checked every iteration: a receipt that
         * vanished or moved to another block reopens the action. Default 64.
         */
        windowBlocks: z.number().int().positive().max(10_000).default(64),
      })
      .strict()
      .default({}),
    /** SQLite outbox file. Default `./vigil-responder.sqlite`. */
    outboxPath: z.string().min(1).default("./vigil-responder.sqlite"),
    /** /healthz, /metrics, /v1/outbox. Default 127.0.0.1:9102. */
    http: zHttp(9_102),
    /** Prometheus metrics on `GET /metrics`. */
    metrics: zMetrics,
    /** Signing key: env `key.envVar` (default VIGIL_RESPONDER_KEY) or `key.keystorePath`. */
    key: zKey("VIGIL_RESPONDER_KEY"),
    log: zLog,
    /**
     * The dashboard page (`vigil dashboard`'s) on this keeper's HTTP server at `/dashboard/`, with its own
     * polling loop reading the chain. Default false: the responder stays lean and a page bug cannot touch
     * it; `GET /` then says how to run `vigil dashboard` with this file. Env `VIGIL_RESPONDER_DASHBOARD`.
     */
    dashboard: z
      .object({ enabled: z.boolean().default(false) })
      .strict()
      .default({}),
  })
  .strict();

export type ResponderConfig = z.output<typeof responderConfigSchema>;
export type ResponderConfigInput = z.input<typeof responderConfigSchema>;

/** Environment variables that override the file, one per setting. */
export const RESPONDER_ENV: readonly EnvOverride[] = [
  ...COMMON_ENV,
  { env: "VIGIL_ATTESTOR_URLS", path: "attestorUrls", type: "list" },
  { env: "VIGIL_RESPONDER_SERVICES", path: "services", type: "list" },
  { env: "VIGIL_RESPONDER_MARKETS", path: "markets", type: "list" },
  { env: "VIGIL_POLL_INTERVAL_MS", path: "pollIntervalMs", type: "number" },
  { env: "VIGIL_ATTESTOR_TIMEOUT_MS", path: "attestorTimeoutMs", type: "number" },
  { env: "VIGIL_HEARTBEAT_REFRESH_FRACTION", path: "heartbeatRefreshFraction", type: "number" },
  { env: "VIGIL_CONFIRMATIONS", path: "confirmations", type: "number" },
  { env: "VIGIL_FEE_BUMP_PERCENT", path: "fees.bumpPercent", type: "number" },
  { env: "VIGIL_MAX_FEE_CAP_GWEI", path: "fees.maxFeeCapGwei", type: "number" },
  { env: "VIGIL_SAFETY_MAX_FEE_CAP_GWEI", path: "fees.safetyMaxFeeCapGwei", type: "number" },
  { env: "VIGIL_ACTION_DEADLINE_MS", path: "actionDeadlineMs", type: "number" },
  { env: "VIGIL_STUCK_AFTER_MS", path: "fees.stuckAfterMs", type: "number" },
  { env: "VIGIL_OUTBOX_PATH", path: "outboxPath", type: "string" },
  { env: "VIGIL_MAX_REVERTED_TX_PER_HOUR", path: "maxRevertedTxPerHour", type: "number" },
  { env: "VIGIL_DELIVERY_BACKOFF_BASE_MS", path: "delivery.backoffBaseMs", type: "number" },
  { env: "VIGIL_DELIVERY_BACKOFF_MAX_MS", path: "delivery.backoffMaxMs", type: "number" },
  {
    env: "VIGIL_DELIVERY_MAX_GAS_PER_MARKET_PER_HOUR",
    path: "delivery.maxGasPerMarketPerHour",
    type: "number",
  },
  { env: "VIGIL_REORG_WINDOW_BLOCKS", path: "reorg.windowBlocks", type: "number" },
  { env: "VIGIL_RESPONDER_DASHBOARD", path: "dashboard.enabled", type: "boolean" },
];

/**
 * Load the responder config: file (JSON or YAML, optional), then {@link RESPONDER_ENV}, then the schema.
 * Throws VIGIL_CONFIG naming each bad setting, or the secret-looking keys found in the file.
 */
export function loadResponderConfig(
  file: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  flags: Record<string, unknown> = {},
): ResponderConfig {
  return loadConfig(responderConfigSchema, file, RESPONDER_ENV, env, flags);
}

/** Validate an in-memory config (tests, the drill). Throws VIGIL_CONFIG like {@link loadResponderConfig}. */
export function parseResponderConfig(raw: unknown): ResponderConfig {
  return parseConfig(responderConfigSchema, raw, "responder config");
}
