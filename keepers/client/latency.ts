/**
 * How long to wait before hedging a read, derived from the latency observed per endpoint and method class,
 * as TCP derives its retransmission timeout (RFC 6298): a smoothed latency `srtt` and its smoothed
 * deviation `rttvar`, and a hedge after `srtt + 4 * rttvar`, kept within [`minMs`, `maxMs`]. An endpoint
 * that answers reads in 2 ms is hedged after `minMs` of silence, not after the configured ceiling; one
 * whose reads vary widely is hedged later. Before the first answer of an endpoint the ceiling applies.
 * Only answers are observed (a failed or aborted attempt says nothing about how fast the node answers).
 */

/** Settings of a {@link LatencyTracker}, ms. */
export interface LatencyOptions {
  /** Never hedge sooner than this. */
  minMs: number;
  /** Never hedge later than this (the config's `hedgeAfterMs`); also the delay before any observation. */
  maxMs: number;
}

const ALPHA = 1 / 8;
const BETA = 1 / 4;

/** Smoothed latency per endpoint and class. */
export class LatencyTracker {
  private readonly _m = new Map<string, { srtt: number; rttvar: number }>();

  constructor(private readonly o: LatencyOptions) {
    if (!(o.minMs >= 0 && o.maxMs >= o.minMs)) throw new RangeError("need 0 <= minMs <= maxMs");
  }

  /** Record that `endpointId` answered a call of class `cls` in `ms`. */
  observe(endpointId: string, cls: string, ms: number): void {
    const k = `${endpointId}\u0000${cls}`;
    const e = this._m.get(k);
    if (!e) {
      this._m.set(k, { srtt: ms, rttvar: ms / 2 });
      return;
    }
    e.rttvar = (1 - BETA) * e.rttvar + BETA * Math.abs(e.srtt - ms);
    e.srtt = (1 - ALPHA) * e.srtt + ALPHA * ms;
  }

  /** Milliseconds of silence from `endpointId` after which a read of class `cls` is hedged. */
  hedgeAfter(endpointId: string, cls: string): number {
    const e = this._m.get(`${endpointId}\u0000${cls}`);
    if (!e) return this.o.maxMs;
    return Math.round(Math.min(this.o.maxMs, Math.max(this.o.minMs, e.srtt + 4 * e.rttvar)));
  }
}
