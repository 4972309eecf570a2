/**
 * The responder's decisions, pure: plain data in, plain actions out, no chain and no clock (the caller
 * passes `now`, chain time). This is the `check` of `config → check → act` (Chainlink's checkUpkeep, Gelato's
 * checker), so every rule here is tested without a node.
 */
import { Status, type Policy } from "../shared/health";
import { nextStatus, tally, quorumObservedAt } from "../shared/quorum";
import type { EndpointValue } from "../shared/report";
import type { ActionKind } from "./outbox";

export type { Policy } from "../shared/health";

/** What the oracle stores for an endpoint (`statusOf` plus `policyOf`). */
export interface EndpointView {
  endpointId: string;
  /** Stored status as `statusOf` read it (staleness applied at that block). */
  status: Status;
  /** Last accepted round (0 when never reported). */
  round: number;
  /** The quorum's observation time of the last accepted round, Unix seconds (0 when never reported). */
  updatedAt: number;
  policy: Policy;
}

/**
 * One quorum round as the collector assembled it: the reports of at least `quorum` attestors over one
 * endpoint list. Plain data: values decoded, signatures left out.
 */
export interface RoundEvidence {
  round: number;
  /** Lower-case, strictly ascending: the order of every report's values. */
  endpointIds: readonly string[];
  /** Per report (in submission order), one value per endpoint id. */
  values: ReadonlyArray<readonly EndpointValue[]>;
  /** Per report, its `observedAt` (Unix seconds). */
  observedAt: readonly number[];
}

/**
 * Why a round is worth a transaction (strongest first): a watched endpoint would change status; a watched
 * endpoint was never reported; a watched endpoint's stored round is `refreshFraction × heartbeat` old.
 */
export type RoundReason = "status" | "new" | "heartbeat";

export interface DecideSettings {
  /** Refresh once the stored update is `refreshFraction × heartbeat` old (see {@link refreshDue}); 0 < f < 1. */
  refreshFraction: number;
}

/** The decision on one round, plain data. */
export interface RoundDecision {
  round: number;
  /** Whether the round is worth a transaction: some watched endpoint has a reason and it is not stale. */
  submit: boolean;
  /** Strongest reason among the watched endpoints (undefined: none). */
  reason?: RoundReason;
  /** Watched endpoints per reason. */
  reasons: Record<RoundReason, number>;
  /** The quorum's observation time the oracle will store: lower median of the reports' `observedAt`. */
  observedAt: number;
  /**
   * Chain time after which the oracle reverts the whole submission as stale: `observedAt` plus the smallest
   * `maxAge` among the endpoints that take the round. `Infinity` when no endpoint would take it.
   */
  expiresAt: number;
  /** True when `now > expiresAt`: the oracle would revert `HealthOracleStaleObservation`. */
  stale: boolean;
  /** Endpoints predicted to take the round / to be skipped (as `submit` returns them). */
  updated: number;
  skipped: number;
  /** Predicted status changes, every endpoint of the round (watched or not). */
  changes: Array<{ endpointId: string; from: Status; to: Status }>;
}

/** The status in effect at `now`: UNKNOWN when never reported or once `now >= updatedAt + heartbeat` (as `StatusMachine.effective`). */
export function effectiveStatus(view: EndpointView, now: number): Status {
  if (view.updatedAt === 0) return Status.UNKNOWN;
  if (now >= view.updatedAt + view.policy.heartbeat) return Status.UNKNOWN;
  return view.status;
}

/**
 * The heartbeat trigger: the round moves the stored update forward by at least `refreshFraction × heartbeat`
 * (the stored update is that old at the round's observation time), or, when the attestors' newest round lags,
 * the stored update is already `(1 + refreshFraction) / 2 × heartbeat` old in chain time (halfway to lapsing).
 * Counting from the round's observation time, not from `now`, makes a steady endpoint cost one submission per
 * `refreshFraction × heartbeat` exactly, and racing responders pick the same round.
 */
export function refreshDue(
  view: EndpointView,
  observedAt: number,
  now: number,
  settings: DecideSettings,
): boolean {
  const hb = view.policy.heartbeat;
  return (
    observedAt - view.updatedAt >= settings.refreshFraction * hb ||
    now - view.updatedAt >= ((1 + settings.refreshFraction) / 2) * hb
  );
}

/**
 * Whether a quorum round is worth a transaction, predicting per endpoint what `HealthOracle.submit` will do
 * (the `check` of `config → check → act`: plain data in and out, no chain, no clock; `now` is chain time).
 *
 * Per endpoint, as the oracle: a round older than the stored one is skipped; the stored round again is applied
 * only when it changes the status; a newer round is stored. The status after the round comes from
 * {@link tally} and {@link nextStatus} over every report of the round, from the status in effect now.
 * A watched endpoint gives the round a reason when it would change status (`status`), was never reported
 * (`new`), or, for a newer round, its stored update is due for a refresh ({@link refreshDue}) while its
 * status is not UNKNOWN (`heartbeat`: a steady endpoint costs one transaction per refresh interval, not one per
 * round). Endpoints not watched ride along (the signatures cover the whole list) but never make a round worth
 * paying for. A stale round (`now > expiresAt`) is never worth submitting.
 *
 * @param views The stored state of every endpoint of the round. @throws RangeError when one is missing.
 * @param watched Endpoints (lower-case ids) whose needs count; default: all of the round.
 */
export function decideRound(
  evidence: RoundEvidence,
  views: ReadonlyMap<string, EndpointView>,
  now: number,
  quorum: number,
  settings: DecideSettings,
  watched?: ReadonlySet<string>,
): RoundDecision {
  const reasons: Record<RoundReason, number> = { status: 0, new: 0, heartbeat: 0 };
  const changes: RoundDecision["changes"] = [];
  const observedAt = quorumObservedAt(evidence.observedAt);
  const reports = evidence.values.length;
  const column: EndpointValue[] = new Array(reports);
  let updated = 0;
  let skipped = 0;
  let minMaxAge = Infinity;
  for (let i = 0; i < evidence.endpointIds.length; i++) {
    const id = evidence.endpointIds[i];
    const view = views.get(id);
    if (!view) throw new RangeError(`no stored state for endpoint ${id}`);
    const known = view.updatedAt !== 0;
    if (known && evidence.round < view.round) {
      skipped++;
      continue;
    }
    for (let j = 0; j < reports; j++) column[j] = evidence.values[j][i];
    const from = effectiveStatus(view, now);
    const to = nextStatus(from, tally(column, view.policy, quorum).votes, quorum);
    // The oracle checks staleness before it decides to skip the stored round again.
    if (view.policy.maxAge < minMaxAge) minMaxAge = view.policy.maxAge;
    if (known && evidence.round === view.round && to === from) {
      skipped++;
      continue;
    }
    updated++;
    if (to !== from) changes.push({ endpointId: id, from, to });
    if (watched && !watched.has(id)) continue;
    if (to !== from) reasons.status++;
    else if (!known) reasons.new++;
    else if (from !== Status.UNKNOWN && refreshDue(view, observedAt, now, settings)) reasons.heartbeat++;
  }
  const reason: RoundReason | undefined = reasons.status
    ? "status"
    : reasons.new
      ? "new"
      : reasons.heartbeat
        ? "heartbeat"
        : undefined;
  const expiresAt = observedAt + minMaxAge;
  const stale = now > expiresAt;
  return {
    round: evidence.round,
    submit: reason !== undefined && !stale,
    reason,
    reasons,
    observedAt,
    expiresAt,
    stale,
    updated,
    skipped,
    changes,
  };
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
  /** `migrationStatus`'s `notBefore` when COOLDOWN (a failback), Unix seconds; else 0 or absent. */
  notBefore?: number;
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
  /** `resumeStatus`'s `notBefore` when GRACE_PERIOD (when the grace period ends), Unix seconds; else 0 or absent. */
  resumeNotBefore?: number;
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
 * The one rule for "safety action": a `trip`, a `migrate`, and a `deliver` of a pending pause (a market the guard
 * holds paused that has yet to receive the pause). A safety action may pay up to `fees.safetyMaxFeeCapGwei`;
 * everything else (submit, resume, an unpause delivery, prove) stays under `fees.maxFeeCapGwei`.
 * @param delivery For `deliver`: what is pending (`deliveryStatus`); without it a `deliver` is not safety.
 */
export function isSafety(kind: ActionKind, delivery?: Delivery): boolean {
  return kind === "trip" || kind === "migrate" || (kind === "deliver" && delivery === Delivery.PENDING_PAUSE);
}

/**
 * Whether a view read at the latest block, `check` with its `notBefore`, is due in the next block: `due` itself,
 * or `waiting` (a grace period, a cooldown) that ends by `now`. The views compare with the latest block's
 * timestamp, which lags the next block's on a chain with sparse blocks (see `nextBlockTime` in
 * keepers/shared/chain.ts); without this an idle automining chain would wait forever.
 */
function dueBy<C>(
  check: C,
  due: C,
  waiting: C,
  notBefore: number | undefined,
  now: number | undefined,
): boolean {
  return check === due || (check === waiting && now !== undefined && !!notBefore && notBefore <= now);
}

/**
 * The recovery actions the contracts' views say are due: `trip` for DUE, `migrate` for DUE_FAILOVER /
 * DUE_FAILBACK (or COOLDOWN ending by `now`), `resume` for DUE (or GRACE_PERIOD ending by `now`), `deliver`
 * (`retryDelivery`) for a pending delivery. `now` is the next block's estimated time (`nextBlockTime`); without
 * it only the views' own verdicts count. Safety first:
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
  now?: number,
): RecoveryAction[] {
  const out: RecoveryAction[] = [];
  const resumeDue = (m: MarketView) =>
    dueBy(m.resume, GuardCheck.DUE, GuardCheck.GRACE_PERIOD, m.resumeNotBefore, now);
  for (const m of markets) {
    if (m.trip === GuardCheck.DUE) out.push({ kind: "trip", target: String(m.marketId) });
    else if (m.delivery === Delivery.PENDING_PAUSE && !resumeDue(m))
      out.push({ kind: "deliver", target: String(m.marketId), delivery: Delivery.PENDING_PAUSE });
  }
  for (const s of services) {
    if (s.check === MigrationCheck.DUE_FAILOVER) {
      out.push({ kind: "migrate", target: s.serviceId, check: s.check });
    } else if (dueBy(s.check, MigrationCheck.DUE_FAILBACK, MigrationCheck.COOLDOWN, s.notBefore, now)) {
      out.push({ kind: "migrate", target: s.serviceId, check: MigrationCheck.DUE_FAILBACK });
    }
  }
  for (const m of markets) {
    if (resumeDue(m)) out.push({ kind: "resume", target: String(m.marketId) });
    else if (m.delivery === Delivery.PENDING_UNPAUSE && m.trip !== GuardCheck.DUE)
      out.push({ kind: "deliver", target: String(m.marketId), delivery: Delivery.PENDING_UNPAUSE });
  }
  return out;
}

/** Two different reports of one attestor for one round, as the collector found them (only what the decision needs). */
export interface EquivocationView {
  /** The attestor that signed both (any case). */
  signer: string;
  round: number;
}

/** A `proveEquivocation` to send; `target` is the signer, lower-case (one open proof per signer in the outbox). */
export interface ProveAction<E extends EquivocationView = EquivocationView> {
  kind: "prove";
  target: string;
  round: number;
  /** The pair the proof is built from. */
  equivocation: E;
}

/**
 * The equivocation proofs worth sending: exactly one per signer not jailed yet (`oracle.isJailed`), whatever the
 * number of rounds or pairs it equivocated in (one proof jails it; a second would revert
 * `HealthOracleAlreadyJailed`), from its newest round (the least likely to be released by a set change first, and
 * deterministic: newest round, then the first pair found). Ordered by signer address, lower-case ascending.
 * @param jailed Signers jailed under the current set, lower-case.
 */
export function decideProofs<E extends EquivocationView>(
  equivocations: readonly E[],
  jailed: ReadonlySet<string>,
): ProveAction<E>[] {
  const best = new Map<string, E>();
  for (const e of equivocations) {
    const signer = e.signer.toLowerCase();
    if (jailed.has(signer)) continue;
    const prev = best.get(signer);
    if (!prev || e.round > prev.round) best.set(signer, e);
  }
  return [...best.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([target, e]) => ({ kind: "prove", target, round: e.round, equivocation: e }));
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
