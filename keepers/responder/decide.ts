/**
 * The responder's decisions, pure: plain data in, plain actions out, no chain and no clock (the caller
 * passes `now`). This is the `check` of `config → check → act` (Chainlink's checkUpkeep, Gelato's
 * checker), so every rule here is tested without a node.
 */
import { Status } from "../shared/health";

/** `IHealthOracle.Policy`, as plain numbers. */
export interface Policy {
  downBelowBps: number;
  upAtBps: number;
  fallRounds: number;
  riseRounds: number;
  /** Seconds after the last accepted round at which the status reads UNKNOWN. */
  heartbeat: number;
  /** Oldest accepted observation, seconds. */
  maxAge: number;
}

/** What the oracle stores for an endpoint (`statusOf` plus `policyOf`). */
export interface EndpointView {
  endpointId: string;
  status: Status;
  /** Median of the last accepted round, bps. */
  healthBps: number;
  /** Last accepted round (0 when never reported). */
  round: number;
  /** Block time of the last accepted round, Unix seconds (0 when never reported). */
  updatedAt: number;
  policy: Policy;
}

/** A quorum round the collector assembled for an endpoint. */
export interface Candidate {
  endpointId: string;
  round: number;
  /** The median the oracle will store for these observations (lower median for an even count). */
  medianBps: number;
}

/** How a round's median counts in the oracle's hysteresis. */
export type Classification = "GOOD" | "MID" | "BAD";

/** Why a round is worth a transaction. */
export type SubmitReason =
  /** The median is on the other side of a threshold from the status: the status may change. */
  | "status"
  /** The median's class differs from the stored one: it starts or resets a fall/rise count. */
  | "count"
  /** The stored round is near its heartbeat: refresh it before the status lapses to UNKNOWN. */
  | "heartbeat";

export interface SubmitDecision {
  endpointId: string;
  round: number;
  reason: SubmitReason;
}

export interface DecideSettings {
  /** Refresh once the stored round is `refreshFraction × heartbeat` old; 0 < f < 1. */
  refreshFraction: number;
}

/** The oracle's rule: GOOD at or above `upAtBps`, BAD below `downBelowBps`, MID between. */
export function classify(
  healthBps: number,
  policy: Pick<Policy, "downBelowBps" | "upAtBps">,
): Classification {
  if (healthBps >= policy.upAtBps) return "GOOD";
  if (healthBps < policy.downBelowBps) return "BAD";
  return "MID";
}

/**
 * The median the oracle stores: the middle value, the lower of the two middle ones for an even count.
 * @throws RangeError on an empty list.
 */
export function medianBps(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError("median of no values");
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

/**
 * Whether one candidate round should be submitted, and why (undefined: not worth a transaction).
 *
 * Submit when the endpoint's status may change (Chainlink's deviation trigger): the median is BAD
 * while the status is not DOWN, GOOD while not HEALTHY, MID while HEALTHY; or when the round's class
 * differs from the stored median's class, because that starts or resets the oracle's consecutive
 * fall/rise count; or when the stored round is `refreshFraction × heartbeat` old (the heartbeat
 * trigger), so a steady endpoint costs one transaction per refresh interval, not one per round.
 * Never for a round not newer than the stored one (the oracle would revert `RoundNotNewer`).
 */
export function decideSubmit(
  candidate: Candidate,
  view: EndpointView,
  now: number,
  settings: DecideSettings,
): SubmitDecision | undefined {
  if (candidate.round <= view.round) return undefined;
  const cls = classify(candidate.medianBps, view.policy);
  const out = (reason: SubmitReason): SubmitDecision => ({
    endpointId: candidate.endpointId,
    round: candidate.round,
    reason,
  });
  if (cls === "BAD" && view.status !== Status.DOWN) return out("status");
  if (cls === "GOOD" && view.status !== Status.HEALTHY) return out("status");
  if (cls === "MID" && view.status === Status.HEALTHY) return out("status");
  if (view.updatedAt === 0 || cls !== classify(view.healthBps, view.policy)) return out("count");
  if (now - view.updatedAt >= settings.refreshFraction * view.policy.heartbeat) return out("heartbeat");
  return undefined;
}

/**
 * Decide the submissions of one iteration: one per endpoint at most, those that may change a status
 * first (so a full batch never delays a failover behind heartbeat refreshes). Candidates without a
 * view (an endpoint the registry no longer lists) are ignored.
 */
export function decideSubmissions(
  candidates: readonly Candidate[],
  views: ReadonlyMap<string, EndpointView>,
  now: number,
  settings: DecideSettings,
): SubmitDecision[] {
  const rank: Record<SubmitReason, number> = { status: 0, count: 1, heartbeat: 2 };
  const out: SubmitDecision[] = [];
  const seen = new Set<string>();
  for (const c of candidates) {
    const key = c.endpointId.toLowerCase();
    const view = views.get(key);
    if (!view || seen.has(key)) continue;
    const d = decideSubmit(c, view, now, settings);
    if (d) {
      out.push(d);
      seen.add(key);
    }
  }
  return out.sort((a, b) => rank[a.reason] - rank[b.reason]);
}

/** Split decisions into batches of at most `maxSize` (order kept). */
export function planBatches<T>(items: readonly T[], maxSize: number): T[][] {
  if (!(maxSize >= 1)) throw new RangeError("maxSize must be at least 1");
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += maxSize) out.push(items.slice(i, i + maxSize));
  return out;
}

/** `IEndpointRegistry.MigrationCheck`. */
export enum MigrationCheck {
  DUE_FAILOVER = 0,
  DUE_FAILBACK = 1,
  ACTIVE_USABLE = 2,
  NO_HEALTHY_CANDIDATE = 3,
  COOLDOWN = 4,
  UNKNOWN_SERVICE = 5,
}

/** `IMarketGuard.GuardCheck`. */
export enum GuardCheck {
  DUE = 0,
  ALREADY_PAUSED = 1,
  NOT_PAUSED = 2,
  DEPENDENCIES_USABLE = 3,
  DEPENDENCY_UNHEALTHY = 4,
  GRACE_PERIOD = 5,
  UNKNOWN_MARKET = 6,
}

export interface ServiceView {
  serviceId: string;
  check: MigrationCheck;
}

/** `IMarketGuard.Delivery`: whether the market still has to receive the guard's last decision. */
export enum Delivery {
  NONE = 0,
  PENDING_PAUSE = 1,
  PENDING_UNPAUSE = 2,
}

export interface MarketView {
  marketId: number;
  trip: GuardCheck;
  resume: GuardCheck;
  /** `deliveryStatus`: a pending pause or unpause the market's hook refused, owed via `retryDelivery`. */
  delivery: Delivery;
}

/** A recovery action; `target` is the service id or the market id as a decimal string. */
export type RecoveryAction =
  | { kind: "migrate"; target: string; check: MigrationCheck }
  | { kind: "trip"; target: string }
  | { kind: "resume"; target: string }
  | { kind: "deliver"; target: string; delivery: Delivery.PENDING_PAUSE | Delivery.PENDING_UNPAUSE };

/** True for the actions that make markets safer (a trip, a pending pause delivery): they go first. */
export function isPauseAction(a: RecoveryAction): boolean {
  return a.kind === "trip" || (a.kind === "deliver" && a.delivery === Delivery.PENDING_PAUSE);
}

/**
 * The recovery actions the contracts' views say are due: `trip` for DUE, `migrate` for DUE_FAILOVER /
 * DUE_FAILBACK, `resume` for DUE, `deliver` (`retryDelivery`) for a pending delivery. Safety first:
 * trips and pending pause deliveries (a market the guard holds paused but that did not receive the
 * pause), then migrations, then resumes and pending unpause deliveries, so a pause is never queued
 * behind a migration (a later migration that makes the market usable again is followed by a resume
 * after the grace period). A due trip or resume supersedes a pending delivery of the same market (the
 * guard's new decision replaces the owed one). The contracts re-check all of it; whether the market would now accept a
 * delivery is checked by the caller, on chain, before anything is sent.
 */
export function decideRecovery(
  services: readonly ServiceView[],
  markets: readonly MarketView[],
): RecoveryAction[] {
  const out: RecoveryAction[] = [];
  for (const m of markets) {
    if (m.trip === GuardCheck.DUE) out.push({ kind: "trip", target: String(m.marketId) });
    else if (m.delivery === Delivery.PENDING_PAUSE && m.resume !== GuardCheck.DUE)
      out.push({ kind: "deliver", target: String(m.marketId), delivery: Delivery.PENDING_PAUSE });
  }
  for (const s of services) {
    if (s.check === MigrationCheck.DUE_FAILOVER || s.check === MigrationCheck.DUE_FAILBACK) {
      out.push({ kind: "migrate", target: s.serviceId, check: s.check });
    }
  }
  for (const m of markets) {
    if (m.resume === GuardCheck.DUE) out.push({ kind: "resume", target: String(m.marketId) });
    else if (m.delivery === Delivery.PENDING_UNPAUSE && m.trip !== GuardCheck.DUE)
      out.push({ kind: "deliver", target: String(m.marketId), delivery: Delivery.PENDING_UNPAUSE });
  }
  return out;
}

/** A market's dependencies as `IMarketGuard.marketConfig` lists them. */
export interface MarketDependencies {
  marketId: number;
  services: readonly string[];
  endpoints: readonly string[];
}

/**
 * The markets this responder trips and resumes when no explicit list is configured: those whose every
 * dependency is watched (a service on the `services` list, or an endpoint of one). A market that also
 * depends on something nobody here watches is left to whoever watches that.
 */
export function watchedMarkets(
  markets: readonly MarketDependencies[],
  watchedServices: ReadonlySet<string>,
  watchedEndpoints: ReadonlySet<string>,
): number[] {
  return markets
    .filter(
      (m) =>
        m.services.length + m.endpoints.length > 0 &&
        m.services.every((s) => watchedServices.has(s.toLowerCase())) &&
        m.endpoints.every((e) => watchedEndpoints.has(e.toLowerCase())),
    )
    .map((m) => m.marketId)
    .sort((a, b) => a - b);
}
