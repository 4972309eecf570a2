/**
 * The gateway's settings: the common keys every keeper file shares (`chain`, `contracts`, `http`,
 * `metrics`, `log`; keepers/shared/config.ts) plus its own. File, then `VIGIL_*` environment, then flags.
 * The gateway signs nothing: there is no `key`.
 */
import { z } from "zod";
import {
  COMMON_ENV,
  loadConfig,
  zBytes32,
  zChain,
  zContracts,
  zHttp,
  zLog,
  zMetrics,
  type EnvOverride,
} from "../shared/config";

/** Default HTTP port of `vigil gateway`. */
export const GATEWAY_PORT = 9_490;

/** A service name usable as a URL path segment (`POST /<name>`). */
const zServiceName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, "must be 1-64 letters, digits, '.', '_' or '-'")
  .refine(
    (n) => !["healthz", "readyz", "metrics"].includes(n),
    "is a route of the gateway itself (healthz, readyz, metrics)",
  );

/**
 * One routed service: `name` (the path clients POST to), `id` (the registry's service id, bytes32; clients
 * may also POST to `/<id>`) and `chainId` (what every endpoint must answer to `eth_chainId`; checked at start
 * and on every switch).
 */
export const zGatewayService = z
  .object({
    name: zServiceName,
    id: zBytes32.transform((id) => id.toLowerCase()),
    chainId: z.number().int().positive(),
  })
  .strict();

export const gatewayConfigSchema = z
  .object({
    chain: zChain,
    contracts: zContracts,
    http: zHttp(GATEWAY_PORT),
    metrics: zMetrics,
    log: zLog,
    /** The services routed, at least one. Env `VIGIL_GATEWAY_SERVICES` is not offered: a list of objects. */
    services: z
      .array(zGatewayService, { required_error: "list the services to route (name, id, chainId)" })
      .min(1, "list the services to route (name, id, chainId)"),
    /**
     * Deadline of one client request (a batch: of each of its calls), ms, from when its body was read to the
     * answer, retries included. Default 5000. Env `VIGIL_GATEWAY_DEADLINE_MS`.
     */
    deadlineMs: z.number().int().min(10).max(600_000).default(5_000),
    /**
     * Deadline of one attempt on one endpoint, ms; at most `deadlineMs`. When an attempt times out and the
     * request may be retried, the retry gets what is left of `deadlineMs`. Default 2000 (the attestors'
     * probe timeout). Env `VIGIL_GATEWAY_ATTEMPT_TIMEOUT_MS`.
     */
    attemptTimeoutMs: z.number().int().min(5).max(600_000).default(2_000),
    /**
     * Hedge: when the first attempt of an idempotent read is silent for longer than that endpoint usually
     * takes (its smoothed latency plus four deviations, as TCP's retransmission timeout; keepers/client/
     * latency.ts), the same read also goes to the best endpoint HEALTHY on-chain; the first answer wins, the
     * other is aborted. It is the call's one retry. This is the CEILING of that delay (and the delay before
     * an endpoint answered anything); 0 disables hedging. Default 150: issue 9's goal is that a hanging
     * node costs a client at most 250 ms, and the client's polling interval and the hedge's own round trip
     * come on top. Never `eth_sendRawTransaction` nor methods that are not idempotent. Env
     * `VIGIL_GATEWAY_HEDGE_AFTER_MS`.
     */
    hedgeAfterMs: z.number().int().min(0).max(600_000).default(150),
    /**
     * The floor of the hedge delay, ms: never hedge sooner, however fast the endpoint usually is (a GC pause
     * or a slow `eth_getLogs` should not double the load). Default 30.
     */
    hedgeMinMs: z.number().int().min(0).max(600_000).default(30),
    /**
     * Circuit breaker: after a transport failure, a timeout or a lost hedge, reads skip the endpoint for this
     * many ms (they go to the best HEALTHY one), then one probe read may close it. 0: a failure is
     * forgotten at once. Default 2000 (the attestors' probe timeout: about one probe round, well inside the
     * rounds the on-chain verdict takes to move the service). Env `VIGIL_GATEWAY_BREAKER_OPEN_MS`.
     */
    breakerOpenMs: z.number().int().min(0).max(600_000).default(2_000),
    /** Largest request body, bytes; larger is refused with HTTP 413. Default 1 MiB (geth's own limit is 5 MiB). */
    maxBodyBytes: z
      .number()
      .int()
      .min(256)
      .max(64 * 1024 * 1024)
      .default(1024 * 1024),
    /** Most calls in one batch; more is refused. Default 100 (the limit many providers apply). */
    maxBatch: z.number().int().min(1).max(10_000).default(100),
    /** Milliseconds between full re-reads of the registry and the oracle (fallback for missed logs). Default 2000. */
    pollIntervalMs: z.number().int().min(50).max(600_000).default(2_000),
    /** Milliseconds between polls for `EndpointMigrated` / `StatusChanged` logs. Default 500. */
    eventIntervalMs: z.number().int().min(50).max(600_000).default(500),
    /** Deadline of the `eth_chainId` check of an endpoint, ms. Default 2000. */
    chainIdTimeoutMs: z.number().int().min(10).max(60_000).default(2_000),
    /**
     * What sends calls to the endpoints: `undici` (an undici Pool per endpoint, the default: the faster one in
     * `npm run bench:gateway`) or `http` (node:http keep-alive agents).
     */
    upstreamClient: z.enum(["undici", "http"]).default("undici"),
    /** Open connections kept per endpoint (HTTP keep-alive). Default 64. */
    maxSocketsPerEndpoint: z.number().int().min(1).max(4096).default(64),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.attemptTimeoutMs > c.deadlineMs) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ["attemptTimeoutMs"],
        message: `must be at most deadlineMs (${c.deadlineMs})`,
      });
    }
    const seen = new Set<string>();
    for (const [i, s] of c.services.entries()) {
      for (const key of [s.name, s.id]) {
        if (seen.has(key)) {
          ctx.addIssue({
            code: z.ZodIssueCode.custom,
            path: ["services", i],
            message: `${key} is listed twice`,
          });
        }
        seen.add(key);
      }
    }
  });

export type GatewayConfig = z.output<typeof gatewayConfigSchema>;
/** The config as written in a file (defaults optional). */
export type GatewayConfigInput = z.input<typeof gatewayConfigSchema>;

/** Environment variables of the gateway's own keys (the common ones are {@link COMMON_ENV}). */
export const GATEWAY_ENV: readonly EnvOverride[] = [
  ...COMMON_ENV,
  { env: "VIGIL_GATEWAY_DEADLINE_MS", path: "deadlineMs", type: "number" },
  { env: "VIGIL_GATEWAY_ATTEMPT_TIMEOUT_MS", path: "attemptTimeoutMs", type: "number" },
  { env: "VIGIL_GATEWAY_HEDGE_AFTER_MS", path: "hedgeAfterMs", type: "number" },
  { env: "VIGIL_GATEWAY_HEDGE_MIN_MS", path: "hedgeMinMs", type: "number" },
  { env: "VIGIL_GATEWAY_BREAKER_OPEN_MS", path: "breakerOpenMs", type: "number" },
  { env: "VIGIL_GATEWAY_MAX_BODY_BYTES", path: "maxBodyBytes", type: "number" },
  { env: "VIGIL_GATEWAY_MAX_BATCH", path: "maxBatch", type: "number" },
  { env: "VIGIL_GATEWAY_POLL_INTERVAL_MS", path: "pollIntervalMs", type: "number" },
];

/**
 * Load the gateway config: file, then environment, then `flags` (dotted config paths; undefined skipped).
 * @throws VigilError VIGIL_CONFIG naming every bad or missing setting.
 */
export function loadGatewayConfig(
  file: string | undefined,
  flags: Record<string, unknown> = {},
  env: NodeJS.ProcessEnv = process.env,
): GatewayConfig {
  return loadConfig(gatewayConfigSchema, file, GATEWAY_ENV, env, flags);
}
