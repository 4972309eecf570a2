/**
 * The dashboard's settings: the common keys every keeper file shares (`chain`, `contracts`, `http`,
 * `metrics`, `log`; see keepers/shared/config.ts) plus its own top-level keys. Any keeper's file works
 * (its other keys are ignored), though `http.port` then is that keeper's: pass `--port`.
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

/** Default HTTP port of `vigil dashboard`. */
export const DASHBOARD_PORT = 9480;

export const dashboardConfigSchema = z
  .object({
    chain: zChain,
    contracts: zContracts,
    http: zHttp(DASHBOARD_PORT),
    metrics: zMetrics,
    log: zLog,
    /** Milliseconds between polls of the chain (the page refreshes as often). */
    pollIntervalMs: z.number().int().min(100).max(600_000).default(2000),
    /** Blocks of history (status changes, migrations, pauses, rounds) read at start. */
    blockWindow: z.number().int().min(1).max(1_000_000).default(5000),
    /** Events kept per kind; older ones drop off the page. */
    maxEvents: z.number().int().min(1).max(100_000).default(500),
    /** Most blocks per eth_getLogs request (providers cap it; 1000 suits most). */
    maxBlockRange: z.number().int().min(1).max(100_000).default(1000),
    /**
     * Service ids (bytes32) to show. Default: every service of the registry, up to `maxServices`; the
     * registry is permissionless, so a dashboard beside a keeper should name the keeper's services.
     */
    services: z
      .array(zBytes32)
      .min(1, "give at least one service id, or leave services out to show the registry's")
      .transform((ids) => [...new Set(ids.map((id) => id.toLowerCase()))])
      .optional(),
    /** Most services read per poll without `services` (the first registered); the page counts the rest. */
    maxServices: z.number().int().min(1).max(10_000).default(200),
    /** Most view calls in flight at once (the RPC may be a keeper's too). */
    maxConcurrentCalls: z.number().int().min(1).max(64).default(8),
  })
  .passthrough();

export type DashboardConfig = z.output<typeof dashboardConfigSchema>;

/** Environment variables of the dashboard's own keys (the common ones are {@link COMMON_ENV}). */
export const DASHBOARD_ENV: readonly EnvOverride[] = [
  ...COMMON_ENV,
  { env: "VIGIL_DASHBOARD_POLL_INTERVAL_MS", path: "pollIntervalMs", type: "number" },
  { env: "VIGIL_DASHBOARD_BLOCK_WINDOW", path: "blockWindow", type: "number" },
  { env: "VIGIL_DASHBOARD_SERVICES", path: "services", type: "list" },
];

/**
 * Load the dashboard config: file, then environment, then `flags` (dotted config paths; undefined skipped).
 * @throws VigilError VIGIL_CONFIG naming every bad or missing setting.
 */
export function loadDashboardConfig(
  file: string | undefined,
  flags: Record<string, unknown> = {},
  env: NodeJS.ProcessEnv = process.env,
): DashboardConfig {
  return loadConfig(dashboardConfigSchema, file, DASHBOARD_ENV, env, flags);
}
