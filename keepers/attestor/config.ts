/**
 * Attestor configuration: one zod schema, read from a JSON or YAML file, then environment overrides,
 * then command-line flags. A bad value stops the process with a message naming the setting. Keys never
 * come from the file (a `privateKey`, `mnemonic`, `password` or `secret` key there is rejected): the
 * signing key comes from the environment variable `key.envVar` or from an encrypted keystore.
 */
import os from "node:os";
import path from "node:path";
import { z } from "zod";
import {
  COMMON_ENV,
  loadConfig,
  zBytes32,
  zChain,
  zContracts,
  zHttp,
  zKey,
  zLog,
  zMetrics,
  zUrl,
  type EnvOverride,
} from "../shared/config";
import { DEFAULT_THRESHOLDS } from "./score";

const SERVICES_REQUIRED = "list the service ids to watch; the registry is permissionless";

const zFactor = (d: { ok: number; max: number; floor: number }) =>
  z
    .object({
      ok: z.number().nonnegative().default(d.ok),
      max: z.number().positive().default(d.max),
      floor: z.number().min(0).max(1).default(d.floor),
    })
    .strict()
    .refine((f) => f.ok < f.max, "ok must be below max")
    .default({});

/** The attestor's settings. Times in ms unless the name says otherwise. */
export const attestorConfigSchema = z
  .object({
    /** The control chain: `rpcUrls`, `chainId` (keepers/shared/config.ts, shared by every keeper). */
    chain: zChain,
    /** `oracle`, `registry` (and an unused `guard`, so one file can serve every keeper). */
    contracts: zContracts,
    /**
     * Service ids to watch, REQUIRED and non-empty. The registry is permissionless: watching every
     * service would probe whatever URIs anyone registers. Env `VIGIL_ATTESTOR_SERVICES` (comma-separated).
     */
    services: z
      .array(
        zBytes32.transform((id) => id.toLowerCase()),
        { required_error: SERVICES_REQUIRED },
      )
      .min(1, SERVICES_REQUIRED),
    /**
     * Probe endpoints whose URI host is loopback, private, link-local or unspecified (`localhost`,
     * `127.0.0.1`, `10.x`, `169.254.x`, `[::1]`, …). Default false: such a URI in the permissionless
     * registry is an SSRF attempt. Set true only for local drills and tests.
     * Env `VIGIL_ATTESTOR_ALLOW_PRIVATE_TARGETS`.
     */
    allowPrivateTargets: z.boolean().default(false),
    /**
     * Expected chain id per JSON-RPC service (service id → chain id). Required for every watched
     * service with JSON-RPC endpoints: the attestor probes a service without an entry but signs
     * nothing for its JSON-RPC endpoints (and logs an error naming this setting), since a wrong chain
     * cannot be told from a majority of a service's own endpoints. Default {}.
     */
    expectedChainIds: z
      .record(zBytes32, z.number().int().positive())
      .transform((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k.toLowerCase(), v])))
      .default({}),
    /** RPC URL per chain id (decimal string) for reading oracle feeds; default: the control chain's RPC for its own chain. */
    feedRpcUrls: z.record(z.string().regex(/^[1-9][0-9]*$/, "must be a decimal chain id"), zUrl).default({}),
    /** Milliseconds between probe rounds. Default 5000. Env `VIGIL_ATTESTOR_PROBE_INTERVAL_MS`. */
    probeIntervalMs: z.number().int().min(100).default(5_000),
    /** Per-probe timeout, ms; must be below probeIntervalMs. Default 2000. Env `VIGIL_ATTESTOR_TIMEOUT_MS`. */
    timeoutMs: z.number().int().min(10).default(2_000),
    /** Probes in flight at once. Default 32. Env `VIGIL_ATTESTOR_CONCURRENCY`. */
    concurrency: z.number().int().min(1).max(4096).default(32),
    /** Milliseconds between reloads of the endpoint list from the registry. Default 30000. */
    registryRefreshMs: z.number().int().min(100).default(30_000),
    /** Milliseconds between reloads of the config digest and round length from the oracle. Default 15000. */
    oracleRefreshMs: z.number().int().min(100).default(15_000),
    /** Signed reports (one per round) kept in memory and served on `GET /v1/reports`. Default 8. */
    keepReports: z.number().int().min(1).max(64).default(8),
    /**
     * Directory of the attestor's state: the last round it signed (`signed-round-<address>.json`), so that
     * a restart never signs a second report for a round (equivocation). Created when missing. Give each
     * attestor key its own, on a disk that survives restarts. Default `~/.vigil/attestor`.
     * Env `VIGIL_ATTESTOR_DATA_DIR`.
     */
    dataDir: z
      .string()
      .min(1)
      .default(path.join(os.homedir(), ".vigil", "attestor")),
    /** Probes in the sliding error-rate window per endpoint. Default 20. */
    errorWindow: z.number().int().min(1).max(1_000).default(20),
    /** A peer head older than this many probe intervals is ignored for lag and hash checks. Default 3. */
    peerFreshIntervals: z.number().int().min(1).default(3),
    /** A block or feed timestamp further ahead than this is invalid, seconds. Default 30. */
    maxFutureSec: z.number().int().nonnegative().default(30),
    /** GET /v1/reports, /v1/endpoints, /healthz, /metrics. Default 127.0.0.1:9470. */
    http: zHttp(9_470),
    /** Prometheus metrics on `GET /metrics`. */
    metrics: zMetrics,
    /** Signing key: env `key.envVar` (default VIGIL_ATTESTOR_KEY) or `key.keystorePath`. */
    key: zKey("VIGIL_ATTESTOR_KEY"),
    /** Score thresholds per endpoint kind; defaults and their sources in keepers/attestor/score.ts. */
    thresholds: z
      .object({
        jsonRpc: z
          .object({
            headAgeSec: zFactor(DEFAULT_THRESHOLDS.jsonRpc.headAgeSec),
            lagBlocks: zFactor(DEFAULT_THRESHOLDS.jsonRpc.lagBlocks),
            latencyMs: zFactor(DEFAULT_THRESHOLDS.jsonRpc.latencyMs),
            errorRate: zFactor(DEFAULT_THRESHOLDS.jsonRpc.errorRate),
          })
          .strict()
          .default({}),
        http: z
          .object({
            latencyMs: zFactor(DEFAULT_THRESHOLDS.http.latencyMs),
            errorRate: zFactor(DEFAULT_THRESHOLDS.http.errorRate),
          })
          .strict()
          .default({}),
        oracleFeed: z
          .object({
            stalenessSec: zFactor(DEFAULT_THRESHOLDS.oracleFeed.stalenessSec),
            latencyMs: zFactor(DEFAULT_THRESHOLDS.oracleFeed.latencyMs),
            errorRate: zFactor(DEFAULT_THRESHOLDS.oracleFeed.errorRate),
          })
          .strict()
          .default({}),
      })
      .strict()
      .default({}),
    log: zLog,
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.timeoutMs >= c.probeIntervalMs) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ["timeoutMs"],
        message: `must be below probeIntervalMs (${c.probeIntervalMs}) so a hung endpoint never delays the next round`,
      });
    }
  });

export type AttestorConfig = z.output<typeof attestorConfigSchema>;
/** The config as written in a file (defaults optional). */
export type AttestorConfigInput = z.input<typeof attestorConfigSchema>;

/** Environment variables that override the file. */
export const ATTESTOR_ENV: readonly EnvOverride[] = [
  ...COMMON_ENV,
  { env: "VIGIL_ATTESTOR_SERVICES", path: "services", type: "list" },
  { env: "VIGIL_ATTESTOR_ALLOW_PRIVATE_TARGETS", path: "allowPrivateTargets", type: "boolean" },
  { env: "VIGIL_ATTESTOR_PROBE_INTERVAL_MS", path: "probeIntervalMs", type: "number" },
  { env: "VIGIL_ATTESTOR_TIMEOUT_MS", path: "timeoutMs", type: "number" },
  { env: "VIGIL_ATTESTOR_CONCURRENCY", path: "concurrency", type: "number" },
  { env: "VIGIL_ATTESTOR_DATA_DIR", path: "dataDir", type: "string" },
  { env: "VIGIL_ATTESTOR_KEY_ENV", path: "key.envVar", type: "string" },
];

/**
 * Load the attestor config: file (optional) → environment → `flags` (command-line values keyed by
 * config path, e.g. `{ "http.port": 0 }`; undefined values skipped) → schema.
 * Throws VIGIL_CONFIG naming each bad setting, or the secrets found in the file.
 */
export function loadAttestorConfig(
  file: string | undefined,
  flags: Record<string, unknown> = {},
  env: NodeJS.ProcessEnv = process.env,
): AttestorConfig {
  return loadConfig(attestorConfigSchema, file, ATTESTOR_ENV, env, flags);
}
