/**
 * The attestor's recent signed observations: the latest N per endpoint, in memory (a restart loses
 * nothing that matters: observations older than a few rounds are no longer accepted on-chain).
 * At most one observation per (endpoint, round): a second one is refused, so `/v1/observations`
 * never serves two signatures of this attestor for one round (equivocation).
 */
import type { SignedObservation } from "../shared/observation";

export interface ObservationFilter {
  /** Only this endpoint (lower-case bytes32). */
  endpoint?: string;
  /** Only rounds at or after this one. */
  sinceRound?: number;
}

export class ObservationStore {
  private readonly _byEndpoint = new Map<string, SignedObservation[]>();

  /** @param keep Observations kept per endpoint (oldest dropped first). */
  constructor(private readonly keep: number) {}

  /**
   * Keep `obs` unless an observation of the same endpoint and round is already held.
   * @returns true when stored, false when refused.
   */
  add(obs: SignedObservation): boolean {
    const key = obs.endpointId.toLowerCase();
    let list = this._byEndpoint.get(key);
    if (list?.some((o) => o.round === obs.round)) return false;
    if (!list) this._byEndpoint.set(key, (list = []));
    list.push(obs);
    if (list.length > this.keep) list.splice(0, list.length - this.keep);
    return true;
  }

  /** Matching observations, by endpoint (insertion order) then oldest first. */
  query(filter: ObservationFilter = {}): SignedObservation[] {
    const lists = filter.endpoint
      ? [this._byEndpoint.get(filter.endpoint.toLowerCase()) ?? []]
      : [...this._byEndpoint.values()];
    const since = filter.sinceRound ?? 0;
    const out: SignedObservation[] = [];
    for (const list of lists) for (const o of list) if (o.round >= since) out.push(o);
    return out;
  }

  /** Forget one endpoint (it left the registry). */
  drop(endpointId: string): void {
    this._byEndpoint.delete(endpointId.toLowerCase());
  }

  /** Forget everything (the config digest rotated: old signatures no longer count). */
  clear(): void {
    this._byEndpoint.clear();
  }

  get size(): number {
    let n = 0;
    for (const l of this._byEndpoint.values()) n += l.length;
    return n;
  }
}
