/**
 * The attestor's use of the clock discipline (clock.ts): feeds it the chain time the attestor already reads
 * (every JSON-RPC probe's latest block; the control chain's latest and pending block every
 * `clock.checkEveryRounds` rounds), checks it before every signature, and reports the verdict on `/healthz`
 * (condition `attestor_clock`), in metrics (`vigil_attestor_clock_ok`, `vigil_attestor_clock_offset_seconds`,
 * `vigil_attestor_clock_bound_seconds`) and in the log, once per change.
 *
 * The bound is `clock.maxOffsetSec` when set, else half the HealthOracle's `maxSkew` (at least 1 s), re-read
 * with the oracle: a report signed within it is still inside the oracle's window with room to spare.
 */
import { performance } from "node:perf_hooks";
import type { ChainClock } from "../shared/chain";
import type { Logger } from "../shared/logger";
import type { HealthCondition } from "../shared/server";
import { ClockDiscipline, CONTROL_SOURCE, type ClockCheck } from "./clock";
import type { AttestorConfig } from "./config";
import type { ReportMetrics } from "./metrics";
import type { RpcProbeResult } from "./probes/jsonRpc";

/** Bound used before the oracle's `maxSkew` is known: half the oracle's default `maxSkew` (15 s). */
export const DEFAULT_CLOCK_BOUND_SEC = 7.5;
/** The smallest bound derived from `maxSkew`, seconds: timestamps have a resolution of one second. */
export const MIN_CLOCK_BOUND_SEC = 1;

export interface ClockGuardOptions {
  config: Pick<AttestorConfig, "clock" | "probeIntervalMs" | "chain">;
  metrics: ReportMetrics;
  log: Logger;
  now: () => number;
  /** Reads the control chain's clock (keepers/shared/chain.ts `readChainClock`); none: no control source. */
  control?: () => Promise<ChainClock>;
}

/** The bound for an oracle `maxSkew` (seconds): half of it, at least {@link MIN_CLOCK_BOUND_SEC}. */
export function boundForMaxSkew(maxSkew: number): number {
  return Math.max(MIN_CLOCK_BOUND_SEC, maxSkew / 2);
}

export class ClockGuard {
  readonly discipline: ClockDiscipline;
  private _rounds = 0;
  private _controlWarned = false;

  constructor(private readonly o: ClockGuardOptions) {
    const c = o.config.clock;
    this.discipline = new ClockDiscipline({
      boundSec: c.maxOffsetSec ?? DEFAULT_CLOCK_BOUND_SEC,
      freshMs: c.freshIntervals * o.config.probeIntervalMs,
      slackSec: c.slackSec,
      // Without a control chain (injected sources: tests, benchmarks) there may be no chain time at all.
      requireEvidence: o.control !== undefined,
    });
    o.metrics.clockOk.set(this.discipline.condition().ok ? 1 : 0);
    o.metrics.clockBound.set(this.discipline.boundSec);
  }

  /** The oracle was read: half its `maxSkew` becomes the bound unless `clock.maxOffsetSec` is set. */
  onOracle(maxSkew: number | undefined): void {
    if (this.o.config.clock.maxOffsetSec !== undefined || maxSkew === undefined) return;
    const bound = boundForMaxSkew(maxSkew);
    if (bound === this.discipline.boundSec) return;
    this.discipline.setBound(bound);
    this.o.metrics.clockBound.set(bound);
    this.o.log.info({ maxSkew, boundSec: bound }, "clock bound set to half the oracle's maxSkew");
  }

  /** A JSON-RPC probe's latest block, seen at local time `localMs`: a sample of its chain's time. */
  observeRpc(endpointId: string, rpc: RpcProbeResult, localMs: number): void {
    const chainId = rpc.head.chainId;
    const source = chainId === this.o.config.chain.chainId ? CONTROL_SOURCE : `chain:${chainId}`;
    this.discipline.observe(source, localMs, rpc.head.timestamp, {
      node: endpointId,
      blockNumber: rpc.head.number,
      latencyMs: rpc.latencyMs,
    });
  }

  /**
   * Once every `clock.checkEveryRounds` probe rounds (the first included): read the control chain's latest
   * and pending block. Never throws: a failed read is logged once until one succeeds, and the state holds.
   */
  async sampleControl(): Promise<void> {
    const read = this.o.control;
    if (!read || this._rounds++ % this.o.config.clock.checkEveryRounds !== 0) return;
    const started = performance.now();
    try {
      const clock = await read();
      const latencyMs = performance.now() - started;
      const local = this.o.now();
      this.discipline.observe(CONTROL_SOURCE, local, clock.latest, { blockNumber: clock.block, latencyMs });
      if (clock.source === "node")
        this.discipline.observeNodeClock(CONTROL_SOURCE, local, clock.next, { latencyMs });
      this._controlWarned = false;
    } catch (e) {
      if (!this._controlWarned)
        this.o.log.warn(
          { err: e },
          "cannot read the control chain's clock: the clock check uses the other chains",
        );
      this._controlWarned = true;
    }
  }

  /** Judge the clock now; update the metrics; log a change once (error when signing stops, info when it resumes). */
  check(): ClockCheck {
    const c = this.discipline.check(this.o.now());
    this.o.metrics.clockOk.set(c.ok ? 1 : 0);
    if (c.offsetSec !== null) this.o.metrics.clockOffset.set(c.offsetSec);
    if (c.changed) {
      const fields = { state: c.state, offsetSec: c.offsetSec, boundSec: c.boundSec, sources: c.sources };
      if (c.ok) this.o.log.info(fields, `clock: ${c.detail}; signing`);
      else this.o.log.error(fields, `clock: ${c.detail}`);
    }
    return c;
  }

  /** `/healthz` condition `attestor_clock`. */
  condition(): HealthCondition {
    return this.discipline.condition();
  }

  /** The latest `observedAt` (Unix s) a report may carry to be served now (clock.ts `latestServable`). */
  latestServable(): number {
    return this.discipline.latestServable(this.o.now());
  }
}
