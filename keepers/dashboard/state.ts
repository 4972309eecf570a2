/**
 * What the dashboard shows, as plain data (the `GET /api/state` JSON), and the PURE functions that build
 * it from a chain snapshot (view calls at one block) and the bounded history of on-chain events. Nothing
 * here reads the chain, so every rule is tested without one.
 *
 * Units: times are Unix seconds of block time (never the dashboard's own clock), health in basis points
 * (0..10_000), ids lower-case 0x hex. Every string that comes from the chain (service names, endpoint URIs)
 * is passed through as data: the page renders it as text, never as markup, and cut to {@link MAX_TEXT}
 * characters (a registry name has no length limit).
 */
import type { MarketStatus } from "../cli/status";

/** Most characters of a service name or endpoint URI in the state; longer ones end with "…". */
export const MAX_TEXT = 200;

/** `text` cut to `max` characters (code points, so no half surrogate pair), the last one "…" when cut. */
export function clip(text: string, max = MAX_TEXT): string {
  if (text.length <= max) return text;
  const chars = Array.from(text);
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join("")}…`;
}

/** One endpoint status change (`IHealthOracle.StatusChanged`), with the transaction that made it. */
export interface StatusChange {
  endpointId: string;
  previous: string;
  current: string;
  /** Block time the new status began (`since` of the event). */
  at: number;
  block: number;
  tx: string;
}

/** One `IEndpointRegistry.EndpointMigrated`. */
export interface Migration {
  serviceId: string;
  from: string;
  to: string;
  failback: boolean;
  at: number;
  block: number;
  tx: string;
}

/** One guard event of a market (`MarketPaused`, `MarketResumed`, a failed or retried delivery). */
export interface MarketEvent {
  marketId: number;
  kind:
    | "paused"
    | "resumed"
    | "pause_call_failed"
    | "unpause_call_failed"
    | "pause_delivered"
    | "unpause_delivered";
  /** The failed dependency of a pause (service or endpoint id); zero for a guardian pause; absent otherwise. */
  cause?: string;
  /** Who sent the transaction the event names (`caller`), when the event has one. */
  caller?: string;
  at: number;
  block: number;
  tx: string;
}

/** One accepted report round (`IHealthOracle.ReportAccepted`). */
export interface RoundRecord {
  round: number;
  observedAt: number;
  /** Bitmap of attestor-set indices that signed (bit i = attestors[i] of the set in force at `block`). */
  signers: bigint;
  updated: number;
  skipped: number;
  block: number;
  tx: string;
}

/** An attestor set in force from `fromBlock` on (`AttestorSetChanged`, or the set read at the window start). */
export interface AttestorSetRecord {
  fromBlock: number;
  version: number;
  quorum: number;
  attestors: string[];
}

/** One `IHealthOracle.AttestorJailed`. */
export interface JailRecord {
  attestor: string;
  round: number;
  prover: string;
  at: number;
  block: number;
  tx: string;
}

/** Everything read by view calls at one block. */
export interface Snapshot {
  chainId: number;
  block: { number: number; timestamp: number };
  contracts: { oracle: string; registry: string; guard: string | null };
  attestorSet: { version: number; quorum: number; attestors: { address: string; jailed: boolean }[] };
  services: {
    id: string;
    name: string;
    owner: string;
    activeEndpoint: string | null;
    lastMigrationAt: number;
    migration: { check: string; to: string; notBefore: number };
    endpoints: {
      id: string;
      kind: string;
      priority: number;
      uri: string;
      status: string;
      healthBps: number;
      floorBps: number;
      ceilingBps: number;
      since: number;
      round: number;
      updatedAt: number;
    }[];
  }[];
  /** Registered services left out by the `maxServices` cap (0 with an allow-list). */
  servicesNotShown: number;
  /** Ids of the allow-list the registry does not know. */
  unregisteredServices: string[];
  /** Every guard market, as `vigil status` reads it (`readMarketStatus` in keepers/cli/status.ts). */
  markets: MarketStatus[];
}

/** The events the dashboard keeps (each list bounded, oldest first). */
export interface History {
  /** First block of the window the events were read from. */
  fromBlock: number;
  /** Block time of `fromBlock` (the left edge of the timelines). */
  fromTime: number;
  statusChanges: StatusChange[];
  migrations: Migration[];
  marketEvents: MarketEvent[];
  rounds: RoundRecord[];
  attestorSets: AttestorSetRecord[];
  jails: JailRecord[];
  /** Blocks skipped after an outage longer than the read limit (`from..to`), so the page can say so. */
  gaps: { from: number; to: number }[];
}

/** One segment of an endpoint's health timeline: `status` from `from` to `to` (Unix seconds). */
export interface TimelineSegment {
  status: string;
  from: number;
  to: number;
}

/** One row of "recent actions": an event and the transaction that emitted it. */
export interface Action {
  kind: string;
  /** One line a person reads, built from ids and names (no markup). */
  summary: string;
  at: number;
  block: number;
  tx: string;
}

/** `GET /api/state`. */
export interface DashboardState {
  chainId: number;
  block: { number: number; timestamp: number };
  contracts: Snapshot["contracts"];
  window: { fromBlock: number; fromTime: number; gaps: History["gaps"] };
  attestors: {
    version: number;
    quorum: number;
    members: { address: string; jailed: boolean; signed: number; rounds: number }[];
  };
  services: (Omit<Snapshot["services"][number], "endpoints"> & {
    endpoints: (Snapshot["services"][number]["endpoints"][number] & {
      active: boolean;
      timeline: TimelineSegment[];
    })[];
    migrations: Migration[];
  })[];
  /** Registered services not read (the `maxServices` cap; 0 with an allow-list). */
  servicesNotShown: number;
  /** Ids of the allow-list the registry does not know. */
  unregisteredServices: string[];
  markets: (Snapshot["markets"][number] & { causeLabel: string; events: MarketEvent[] })[];
  /** Newest first: each round with who signed, by index into `attestors.members` of the set then in force. */
  rounds: {
    round: number;
    observedAt: number;
    block: number;
    tx: string;
    quorum: number;
    /** Addresses of the set in force for the round, each with whether it signed. */
    signers: { address: string; signed: boolean }[];
    updated: number;
    skipped: number;
  }[];
  /** Newest first. */
  actions: Action[];
}

/** Bits set in `bitmap` among indices `0..n-1`, as booleans (bit i = attestor i). */
export function decodeSigners(bitmap: bigint, n: number): boolean[] {
  return Array.from({ length: n }, (_, i) => ((bitmap >> BigInt(i)) & 1n) === 1n);
}

/** The attestor set in force at `block`: the last one whose `fromBlock` is at or before it, else the first. */
export function setAt(sets: readonly AttestorSetRecord[], block: number): AttestorSetRecord | undefined {
  let found: AttestorSetRecord | undefined;
  for (const s of sets) if (s.fromBlock <= block) found = s;
  return found ?? sets[0];
}

/**
 * An endpoint's status over `[fromTime, now]` as segments: before its first change in the window it had
 * that change's `previous` status (or, without any change, its current status throughout).
 * @param changes The endpoint's changes, oldest first.
 */
export function timelineOf(
  changes: readonly StatusChange[],
  current: string,
  fromTime: number,
  now: number,
): TimelineSegment[] {
  const segments: TimelineSegment[] = [];
  let status = changes.length ? changes[0].previous : current;
  let from = fromTime;
  for (const c of changes) {
    const at = Math.min(Math.max(c.at, fromTime), now);
    if (at > from) segments.push({ status, from, to: at });
    status = c.current;
    from = at;
  }
  if (now > from || segments.length === 0) segments.push({ status, from, to: Math.max(now, from) });
  return segments;
}

const ZERO = /^0x0*$/;
const short = (id: string) => (id.length > 14 ? `${id.slice(0, 8)}…${id.slice(-4)}` : id);

/** Names for ids: services by name, endpoints by URI, for causes and action summaries. */
export function labeller(snapshot: Snapshot): (id: string) => string {
  const names = new Map<string, string>();
  for (const s of snapshot.services) {
    names.set(s.id, `service ${clip(s.name)}`);
    for (const e of s.endpoints) names.set(e.id, `endpoint ${clip(e.uri)}`);
  }
  return (id) => names.get(id.toLowerCase()) ?? short(id);
}

/**
 * The recent actions, newest first, at most `limit`: status changes, migrations, market events and
 * jailings, each with its transaction hash.
 */
export function actionsOf(history: History, label: (id: string) => string, limit = 50): Action[] {
  const out: Action[] = [];
  for (const c of history.statusChanges) {
    out.push({
      kind: "status",
      summary: `${label(c.endpointId)}: ${c.previous} → ${c.current}`,
      at: c.at,
      block: c.block,
      tx: c.tx,
    });
  }
  for (const m of history.migrations) {
    out.push({
      kind: m.failback ? "failback" : "failover",
      summary: `${label(m.serviceId)}: ${label(m.from)} → ${label(m.to)}`,
      at: m.at,
      block: m.block,
      tx: m.tx,
    });
  }
  for (const e of history.marketEvents) {
    const why =
      e.kind === "paused"
        ? e.cause && !ZERO.test(e.cause)
          ? ` (cause: ${label(e.cause)})`
          : " (guardian)"
        : "";
    out.push({
      kind: `market ${e.kind}`,
      summary: `market ${e.marketId}${why}`,
      at: e.at,
      block: e.block,
      tx: e.tx,
    });
  }
  for (const j of history.jails) {
    out.push({
      kind: "jailed",
      summary: `attestor ${j.attestor} jailed for equivocating in round ${j.round}`,
      at: j.at,
      block: j.block,
      tx: j.tx,
    });
  }
  return out.sort((a, b) => b.block - a.block || b.at - a.at).slice(0, limit);
}

/** Build `GET /api/state` from a snapshot and the history. PURE. */
export function buildState(snapshot: Snapshot, history: History): DashboardState {
  const now = snapshot.block.timestamp;
  const label = labeller(snapshot);
  const byEndpoint = new Map<string, StatusChange[]>();
  for (const c of history.statusChanges) {
    const list = byEndpoint.get(c.endpointId) ?? [];
    list.push(c);
    byEndpoint.set(c.endpointId, list);
  }
  const rounds = history.rounds
    .map((r) => {
      const set = setAt(history.attestorSets, r.block);
      const attestors = set?.attestors ?? snapshot.attestorSet.attestors.map((a) => a.address);
      const bits = decodeSigners(r.signers, attestors.length);
      return {
        round: r.round,
        observedAt: r.observedAt,
        block: r.block,
        tx: r.tx,
        quorum: set?.quorum ?? snapshot.attestorSet.quorum,
        signers: attestors.map((address, i) => ({ address, signed: bits[i] })),
        updated: r.updated,
        skipped: r.skipped,
      };
    })
    .reverse();
  const members = snapshot.attestorSet.attestors.map((a) => {
    let signed = 0;
    let seen = 0;
    for (const r of rounds) {
      const me = r.signers.find((s) => s.address.toLowerCase() === a.address.toLowerCase());
      if (!me) continue;
      seen += 1;
      if (me.signed) signed += 1;
    }
    return { address: a.address, jailed: a.jailed, signed, rounds: seen };
  });
  return {
    chainId: snapshot.chainId,
    block: snapshot.block,
    contracts: snapshot.contracts,
    window: { fromBlock: history.fromBlock, fromTime: history.fromTime, gaps: history.gaps },
    attestors: { version: snapshot.attestorSet.version, quorum: snapshot.attestorSet.quorum, members },
    services: snapshot.services.map((s) => ({
      ...s,
      name: clip(s.name),
      endpoints: s.endpoints.map((e) => ({
        ...e,
        uri: clip(e.uri),
        active: e.id === s.activeEndpoint,
        timeline: timelineOf(byEndpoint.get(e.id) ?? [], e.status, history.fromTime, now),
      })),
      migrations: history.migrations.filter((m) => m.serviceId === s.id).reverse(),
    })),
    servicesNotShown: snapshot.servicesNotShown,
    unregisteredServices: snapshot.unregisteredServices,
    markets: snapshot.markets.map((m) => ({
      ...m,
      causeLabel: !m.paused ? "" : ZERO.test(m.cause) ? "guardian" : label(m.cause),
      events: history.marketEvents.filter((e) => e.marketId === m.id).reverse(),
    })),
    rounds,
    actions: actionsOf(history, label),
  };
}
