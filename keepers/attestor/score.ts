/**
 * The attestor's score formula: measurements in, health in basis points out. PURE — no clock, no I/O —
 * so it is tested exhaustively without a network.
 *
 * ## Formula
 *
 * 1. A hard failure (unreachable, timeout, HTTP error status, invalid or error response, wrong chain, a
 *    block hash that contradicts the service's majority or no majority at all, a head it cannot serve, an
 *    invalid or down feed) scores **0**: the endpoint cannot be used, whatever else was measured.
 * 2. Otherwise `healthBps = floor(10_000 × Π factor_i)` over the measurements present, where each
 *    factor is piecewise linear in its input `x` with thresholds `(ok, max, floor)`:
 *
 *    ```
 *    factor(x) = 1                                          x ≤ ok
 *              = 1 − (1 − floor) × (x − ok) / (max − ok)    ok < x < max
 *              = floor                                      x ≥ max
 *    ```
 *
 *    A measurement that is absent (e.g. lag when the service has no peer to compare with) contributes 1.
 *
 * Every factor is non-increasing in its input and lies in [floor, 1] ⊆ [0, 1], so the score is an
 * integer in 0..10_000 and non-increasing in each of head age, lag, latency, error rate and staleness.
 *
 * ## Defaults and where they come from
 *
 * | input | ok | max | floor | source |
 * |---|---|---|---|---|
 * | JSON-RPC head age, s | 30 | 120 | 0 | Chainlink L2 health adapter `DELTA` = 120 s (THREATS #28); 30 s ≈ two missed Ethereum slots |
 * | lag behind the corroborated head (lower median of verified peers), blocks | 2 | 6 | 0 | Chainlink L2 health adapter `DELTA_BLOCKS` = 6 (THREATS #28) |
 * | latency, ms | 500 | 1500 | 0.6 | the latency policy below |
 * | JSON-RPC/HTTP error rate over the window | 0.05 | 0.5 | 0 | erroring half the time is as good as down |
 * | oracle feed staleness, s | 3660 | 5400 | 0 | Chainlink ETH/USD heartbeat 3600 s + 60 s slack; 1.5 × heartbeat is stale (THREATS #12) |
 *
 * With these defaults and the oracle's default `downBelowBps` = 5000 and `upAtBps` = 8000:
 * - a halted head (no new block for ≥ 120 s) scores 0 < 5000: DOWN;
 * - a node lagging ≥ 6 blocks scores 0: DOWN;
 * - a fresh, fast, in-step node scores 10_000.
 *
 * ## Latency policy
 *
 * A slow node is usable but should not be preferred: it is DEGRADED, never DOWN, for being slow; an answer that
 * does not come before the probe timeout is a failure (`timeout`, score 0).
 * - up to 1000 ms the latency factor stays ≥ 0.8: HEALTHY (with everything else perfect);
 * - from 1000 ms to the timeout (default 4000 ms, config `timeoutMs`) it is 0.6..0.8: 6000..8000 bps, DEGRADED
 *   under the oracle's defaults (the floor 0.6 sits above `downBelowBps` 5000);
 * - at the timeout: failure.
 * The attestor's config refuses a latency `max` at or above `timeoutMs`, so this DEGRADED window cannot be empty
 * (the first version timed out at 2000 ms while its latency only reached the DEGRADED band at ~1750 ms).
 */
import { MAX_BPS } from "../shared/health";

/** Why a probe is a hard failure (score 0). */
export type Failure =
  | "unreachable"
  | "timeout"
  | "http_status"
  | "invalid_response"
  | "rpc_error"
  | "wrong_chain"
  | "fork"
  | "no_majority"
  | "unverified_head"
  | "feed_invalid"
  | "sequencer_down";

/**
 * Why a score is below 10_000: the hard failure, or the factor that took the most off (`lag` behind the
 * corroborated head, `stale` head or feed, `latency`, `errors` in the window).
 */
export type ScoreReason = Failure | "lag" | "stale" | "latency" | "errors";

/** Thresholds of one factor: 1 at or below `ok`, `floor` at or above `max`, linear between. */
export interface FactorThresholds {
  ok: number;
  max: number;
  /** Value of the factor at and beyond `max`, 0..1. */
  floor: number;
}

/** Thresholds for one endpoint kind; a factor whose thresholds are absent is not applied. */
export interface ScoreThresholds {
  latencyMs: FactorThresholds;
  errorRate?: FactorThresholds;
  headAgeSec?: FactorThresholds;
  lagBlocks?: FactorThresholds;
  stalenessSec?: FactorThresholds;
}

/** What a probe measured, after evaluation against its context (peers, expected chain, window). */
export type ScoreInput =
  | { failure: Failure }
  | {
      failure?: undefined;
      /** Round-trip time of the probe, ms. */
      latencyMs: number;
      /** Share of failed probes in the sliding window, 0..1. */
      errorRate?: number;
      /** Seconds since the latest block's timestamp (JSON-RPC). */
      headAgeSec?: number;
      /** Blocks behind the median head of the service's other endpoints (JSON-RPC). */
      lagBlocks?: number;
      /** Seconds since the feed's `updatedAt` (oracle feed). */
      stalenessSec?: number;
    };

/** One factor, see the module doc. Non-increasing in `x`; NaN counts as the worst value. */
export function factor(x: number, t: FactorThresholds): number {
  if (Number.isNaN(x) || x >= t.max) return t.floor;
  if (x <= t.ok) return 1;
  return 1 - ((1 - t.floor) * (x - t.ok)) / (t.max - t.ok);
}

/** The score of one probe, 0..10_000 bps (integer). See the module doc for the formula. */
export function score(input: ScoreInput, t: ScoreThresholds): number {
  if (input.failure !== undefined) return 0;
  let product = factor(input.latencyMs, t.latencyMs);
  if (input.errorRate !== undefined && t.errorRate) product *= factor(input.errorRate, t.errorRate);
  if (input.headAgeSec !== undefined && t.headAgeSec) product *= factor(input.headAgeSec, t.headAgeSec);
  if (input.lagBlocks !== undefined && t.lagBlocks) product *= factor(input.lagBlocks, t.lagBlocks);
  if (input.stalenessSec !== undefined && t.stalenessSec)
    product *= factor(input.stalenessSec, t.stalenessSec);
  const bps = Math.floor(MAX_BPS * product + 1e-9);
  return Math.min(MAX_BPS, Math.max(0, bps));
}

/**
 * Why `input` scores below 10_000 under `t`: its failure, else the factor with the lowest value (ties: the first
 * of head age, lag, staleness, error rate, latency); undefined when every factor is 1. A score of 0 always has a
 * reason. PURE.
 */
export function scoreReason(input: ScoreInput, t: ScoreThresholds): ScoreReason | undefined {
  if (input.failure !== undefined) return input.failure;
  const factors: Array<[ScoreReason, number | undefined, FactorThresholds | undefined]> = [
    ["stale", input.headAgeSec, t.headAgeSec],
    ["lag", input.lagBlocks, t.lagBlocks],
    ["stale", input.stalenessSec, t.stalenessSec],
    ["errors", input.errorRate, t.errorRate],
    ["latency", input.latencyMs, t.latencyMs],
  ];
  let worst: ScoreReason | undefined;
  let lowest = 1;
  for (const [reason, x, th] of factors) {
    if (x === undefined || !th) continue;
    const f = factor(x, th);
    if (f < lowest) [worst, lowest] = [reason, f];
  }
  return worst;
}

/** Default thresholds per kind (see the table in the module doc). */
export const DEFAULT_THRESHOLDS = {
  jsonRpc: {
    headAgeSec: { ok: 30, max: 120, floor: 0 },
    lagBlocks: { ok: 2, max: 6, floor: 0 },
    latencyMs: { ok: 500, max: 1500, floor: 0.6 },
    errorRate: { ok: 0.05, max: 0.5, floor: 0 },
  },
  http: {
    latencyMs: { ok: 500, max: 1500, floor: 0.6 },
    errorRate: { ok: 0.05, max: 0.5, floor: 0 },
  },
  oracleFeed: {
    stalenessSec: { ok: 3660, max: 5400, floor: 0 },
    latencyMs: { ok: 500, max: 1500, floor: 0.6 },
    errorRate: { ok: 0.05, max: 0.5, floor: 0 },
  },
} as const satisfies Record<string, ScoreThresholds>;
