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
import { DEFAULT_THRESHOLDS, type FactorThresholds } from "./score";

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

/** Latency thresholds as written: any field may be left out and is then derived from `timeoutMs`. */
const zLatency = z
  .object({
    ok: z.number().nonnegative().optional(),
    max: z.number().positive().optional(),
    floor: z.number().min(0).max(1).optional(),
  })
  .strict()
  .optional();

/**
 * The latency thresholds for a probe timeout (the latency policy in keepers/attestor/score.ts): the documented
 * defaults (ok 500 ms, max 1500 ms, floor 0.6) where the timeout leaves room for them, else scaled down so the
 * DEGRADED window between the latency bound and the timeout is never empty (max = ¾ of the timeout, ok = ⅓ of
 * max). Fields given in the file win.
 */
export function latencyThresholds(
  timeoutMs: number,
  given: { ok?: number; max?: number; floor?: number } = {},
): FactorThresholds {
  const d = DEFAULT_THRESHOLDS.jsonRpc.latencyMs;
  const max = given.max ?? Math.min(d.max, Math.floor(0.75 * timeoutMs));
  return { ok: given.ok ?? Math.min(d.ok, Math.floor(max / 3)), max, floor: given.floor ?? d.floor };
}

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
    /**
     * Per-probe timeout, ms; must be below probeIntervalMs and above every kind's `thresholds.*.latencyMs.max`
     * (the latency policy in score.ts: a slow node is DEGRADED between that bound and the timeout, a failure past
     * it). A round's parity checks (parity.ts) take at most one more timeout. Default 4000.
     * Env `VIGIL_ATTESTOR_TIMEOUT_MS`.
     */
    timeoutMs: z.number().int().min(10).default(4_000),
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
    /**
     * Reference sources per JSON-RPC service (service id → RPC URLs of a second chain-data source, e.g. another
     * provider's archive node): asked, in order, for the compared block only when the service's own endpoints have
     * no strict majority at it (two endpoints that disagree). Without one, such endpoints are all judged
     * `no_majority` (score 0). Not probed, never signed for. Default {}. See keepers/attestor/parity.ts.
     */
    referenceRpcUrls: z
      .record(zBytes32, z.array(zUrl).min(1))
      .transform((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k.toLowerCase(), v])))
      .default({}),
    /**
     * Clock discipline (keepers/attestor/clock.ts): the attestor compares its clock with the chain time of the
     * nodes it probes and of the control chain, and signs nothing while it is off by more than the bound.
     * - `maxOffsetSec`: the bound, seconds; default half the HealthOracle's `maxSkew` (at least 1).
     *   Env `VIGIL_ATTESTOR_CLOCK_MAX_OFFSET_SEC`.
     * - `checkEveryRounds`: read the control chain's latest and pending block every this many probe rounds
     *   (the probes' own blocks are samples every round). Default 3.
     * - `freshIntervals`: samples older than this many probe intervals are forgotten. Default 10.
     * - `slackSec`: allowance for a block stamped before it reached the node (slot-time chains whose blocks
     *   arrive late: raise it), seconds. Default 1.
     */
    clock: z
      .object({
        maxOffsetSec: z.number().positive().optional(),
        checkEveryRounds: z.number().int().min(1).default(3),
        freshIntervals: z.number().int().min(2).max(1_000).default(10),
        slackSec: z.number().nonnegative().max(60).default(1),
      })
      .strict()
      .default({}),
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
            latencyMs: zLatency,
            errorRate: zFactor(DEFAULT_THRESHOLDS.jsonRpc.errorRate),
          })
          .strict()
          .default({}),
        http: z
          .object({
            latencyMs: zLatency,
            errorRate: zFactor(DEFAULT_THRESHOLDS.http.errorRate),
          })
          .strict()
          .default({}),
        oracleFeed: z
          .object({
            stalenessSec: zFactor(DEFAULT_THRESHOLDS.oracleFeed.stalenessSec),
            latencyMs: zLatency,
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
  .transform((c) => {
    const t = c.thresholds;
    return {
      ...c,
      thresholds: {
        jsonRpc: { ...t.jsonRpc, latencyMs: latencyThresholds(c.timeoutMs, t.jsonRpc.latencyMs) },
        http: { ...t.http, latencyMs: latencyThresholds(c.timeoutMs, t.http.latencyMs) },
        oracleFeed: { ...t.oracleFeed, latencyMs: latencyThresholds(c.timeoutMs, t.oracleFeed.latencyMs) },
      },
    };
  })
  .superRefine((c, ctx) => {
    if (c.timeoutMs >= c.probeIntervalMs) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ["timeoutMs"],
        message: `must be below probeIntervalMs (${c.probeIntervalMs}) so a hung endpoint never delays the next round`,
      });
    }
    for (const kind of ["jsonRpc", "http", "oracleFeed"] as const) {
      const { ok, max } = c.thresholds[kind].latencyMs;
      if (ok >= max) {
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          path: ["thresholds", kind, "latencyMs", "ok"],
          message: `ok must be below max (${max})`,
        });
      } else if (max >= c.timeoutMs) {
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          path: ["thresholds", kind, "latencyMs", "max"],
          message:
            `is ${max} ms, not below timeoutMs (${c.timeoutMs} ms): a slow endpoint would time out (score 0) before ` +
            `it could be judged DEGRADED; lower it or raise timeoutMs (latency policy in keepers/attestor/score.ts)`,
        });
      }
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
  { env: "VIGIL_ATTESTOR_CLOCK_MAX_OFFSET_SEC", path: "clock.maxOffsetSec", type: "number" },
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
