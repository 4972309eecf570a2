/**
 * A local circuit breaker per endpoint (the technique of eRPC's and Envoy's outlier detection), for the
 * time between an endpoint failing and the on-chain migration landing. After a transport failure, a
 * timeout, or losing a hedge (a HEALTHY backup answered first while it was silent), the endpoint's breaker
 * OPENS: for `openMs` idempotent reads are not sent to it first but straight to the best endpoint that is
 * HEALTHY on-chain (./routing.ts `readTarget`). Then it is HALF-OPEN: the next read goes to it as the one
 * probe (hedged like any read, so a still-silent endpoint costs the client `hedgeAfterMs`, not a timeout);
 * an answer closes it, a failure opens it again for `openMs`.
 *
 * The breaker is local and short-lived by design: it only chooses among endpoints the chain already allows
 * (HEALTHY on-chain for a redirect, never DOWN, DEGRADED or UNKNOWN). The attested verdict, not this
 * process, decides where traffic goes for good.
 */

/** `closed`: routed to normally; `open`: skipped for reads; `half_open`: one probe allowed. */
export type BreakerState = "closed" | "open" | "half_open";

/** Gauge value of each state (`vigil_gateway_breaker_state`). */
export const BREAKER_STATE_VALUE: Record<BreakerState, number> = { closed: 0, open: 1, half_open: 2 };

/** Settings of {@link Breakers}. */
export interface BreakerOptions {
  /** How long a breaker stays open before its half-open probe, ms. */
  openMs: number;
  /** Clock, ms (tests may inject one); default `Date.now`. */
  now?: () => number;
  /** Called on every state change (metrics, logs); must not throw. */
  onChange?: (service: string, endpointId: string, from: BreakerState, to: BreakerState) => void;
}

interface Entry {
  state: BreakerState;
  /** When an open breaker may let its probe through, ms. */
  until: number;
  /** A half-open breaker's probe is out. */
  probing: boolean;
}

/** The breakers of every endpoint one client (a gateway, a router) sends to, keyed by service and endpoint id. */
export class Breakers {
  private readonly _m = new Map<string, Entry>();
  private readonly _now: () => number;

  constructor(private readonly o: BreakerOptions) {
    if (!(Number.isInteger(o.openMs) && o.openMs >= 0))
      throw new RangeError("openMs must be an integer >= 0");
    this._now = o.now ?? Date.now;
  }

  /** The state of `endpointId`'s breaker (an open one past `openMs` reads as half-open). */
  state(service: string, endpointId: string): BreakerState {
    const e = this._m.get(key(service, endpointId));
    if (!e) return "closed";
    if (e.state === "open" && this._now() >= e.until) return "half_open";
    return e.state;
  }

  /**
   * Whether a read may go to `endpointId` FIRST now. Closed: yes. Open past `openMs`: yes, once (the probe;
   * the breaker becomes half-open until that attempt is recorded). Otherwise no.
   */
  allow(service: string, endpointId: string): boolean {
    const k = key(service, endpointId);
    const e = this._m.get(k);
    if (!e || e.state === "closed") return true;
    if (e.state === "open" && this._now() >= e.until) {
      this._set(service, endpointId, e, "half_open");
      e.probing = true;
      return true;
    }
    return false;
  }

  /** Whether `endpointId` should not be chosen as a retry or hedge target (open, or its probe is out). */
  blocked(service: string, endpointId: string): boolean {
    const e = this._m.get(key(service, endpointId));
    if (!e || e.state === "closed") return false;
    if (e.state === "open") return this._now() < e.until;
    return e.probing;
  }

  /** The endpoint answered (a result or a JSON-RPC error: both answers): close its breaker. */
  success(service: string, endpointId: string): void {
    const e = this._m.get(key(service, endpointId));
    if (e && e.state !== "closed") {
      e.probing = false;
      this._set(service, endpointId, e, "closed");
    }
  }

  /** The endpoint failed in transport, timed out, or lost a hedge: open its breaker for `openMs`. */
  failure(service: string, endpointId: string): void {
    const k = key(service, endpointId);
    let e = this._m.get(k);
    if (!e) {
      e = { state: "closed", until: 0, probing: false };
      this._m.set(k, e);
    }
    e.until = this._now() + this.o.openMs;
    e.probing = false;
    if (e.state !== "open") this._set(service, endpointId, e, "open");
  }

  private _set(service: string, endpointId: string, e: Entry, to: BreakerState): void {
    const from = e.state;
    e.state = to;
    this.o.onChange?.(service, endpointId, from, to);
  }
}

function key(service: string, endpointId: string): string {
  return `${service}\u0000${endpointId}`;
}
