/**
 * The chaos run's accounting, pure: plain chain data in (canonical events, per-block views, the responders'
 * mined transactions and nonces), figures out. No chain, no clock: test/scripts/chaos.test.ts feeds it
 * synthetic lists.
 *
 * - An incident is one fault on the monitored service (its active node killed, all its nodes killed) with the
 *   transitions it makes due, in order: a failover then a failback, or a pause then a resume.
 * - Needed: the incident's transitions. Applied: those whose on-chain effect (EndpointMigrated with the right
 *   `failback` flag, MarketPaused, MarketResumed) is on the canonical chain inside the incident's blocks.
 *   Lost: due at some block of the incident and never applied (never due and never applied is counted apart,
 *   as `neverDue`: the stack did not make it due, nothing a responder could do). Extra: an effect inside the
 *   incident's blocks that none of its transitions needed (reported; the contract checked it was due).
 * - Duplicated: an effect that repeats the previous one of its kind with nothing undoing it in between: two
 *   EndpointMigrated from→to of one service in a row, two MarketPaused of a market without a MarketResumed
 *   between, two MarketResumed without a MarketPaused between (whole run, canonical chain).
 * - Due: the first block (from the incident's start up to the effect) at which the contract's view said the
 *   transition was due (migrationStatus DUE_FAILOVER / DUE_FAILBACK, tripStatus DUE, resumeStatus DUE). A
 *   transition applied before any block showed it due (same block) counts as due at its own block.
 * - Nonce gaps, per responder key: a nonce below the latest count with no mined transaction, a pending count
 *   above the latest at the end, or queued transactions in the pool.
 * - Wasted: the responders' reverted transactions, per incident (by block).
 */

/** `IEndpointRegistry.MigrationCheck` values that mean a migration is due. */
export const MIGRATION_DUE_FAILOVER = 0;
export const MIGRATION_DUE_FAILBACK = 1;
/** `IMarketGuard.GuardCheck.DUE`. */
export const GUARD_DUE = 0;

export type TransitionKind = "failover" | "failback" | "pause" | "resume";

/** A Vigil effect on the canonical chain. */
export type EffectEvent =
  | {
      kind: "migrated";
      serviceId: string;
      from: string;
      to: string;
      failback: boolean;
      block: number;
      tx: string;
      logIndex: number;
    }
  | { kind: "paused"; marketId: string; block: number; tx: string; logIndex: number }
  | { kind: "resumed"; marketId: string; block: number; tx: string; logIndex: number };

/** The contracts' views as read at one block (the state after that block). */
export interface BlockView {
  block: number;
  /** Block timestamp, Unix seconds. */
  timestamp: number;
  /** `migrationStatus(service).check`. */
  migration: number;
  /** `tripStatus(market).check`. */
  trip: number;
  /** `resumeStatus(market).check`. */
  resume: number;
}

export interface IncidentSpec {
  id: number;
  name: string;
  /** The head when the fault was injected: the incident's effects are in later blocks. */
  startBlock: number;
  /** Last block of the incident (inclusive). */
  endBlock: number;
  transitions: TransitionKind[];
  /**
   * Effect kinds the incident may cause beyond its transitions without counting as extra (an outage's
   * recovery may fail over to the backup that came back first, then fail back).
   */
  tolerated?: EffectEvent["kind"][];
}

/** A responder's transaction on the canonical chain. */
export interface MinedTx {
  from: string;
  nonce: number;
  block: number;
  hash: string;
  /** Receipt status: true mined and succeeded, false reverted. */
  ok: boolean;
  /** What it called (`migrate`, `trip`, `resume`, `submit`, `cancel`, …). */
  kind: string;
}

export interface NonceState {
  address: string;
  /** `eth_getTransactionCount(latest)` at the end. */
  latest: number;
  /** `eth_getTransactionCount(pending)` at the end. */
  pending: number;
  /** Transactions of this sender queued (not executable) in the node's pool at the end. */
  queued: number;
}

export interface TransitionResult {
  kind: TransitionKind;
  applied: boolean;
  dueBlock: number | null;
  appliedBlock: number | null;
  blocksDueToApplied: number | null;
  secondsDueToApplied: number | null;
  tx?: string;
}

export interface IncidentResult {
  id: number;
  name: string;
  startBlock: number;
  endBlock: number;
  needed: number;
  applied: number;
  /** Due (a view said so at some block of the incident) and never applied. */
  lost: number;
  /** Never due and never applied: the stack never made the transition due (a harness or environment failure). */
  neverDue: number;
  transitions: TransitionResult[];
  /**
   * Effects inside the incident that none of its transitions needed (a kill burst that starved the heartbeat
   * relays can make a pause due); every one passed the contract's own check, so they are reported, not failed.
   */
  extra: EffectEvent[];
  /** Reverted responder transactions in the incident's blocks, and by kind. */
  wasted: number;
  wastedByKind: Record<string, number>;
}

export interface Duplicate {
  kind: EffectEvent["kind"];
  block: number;
  tx: string;
  previousBlock: number;
  what: string;
}

export interface NonceGap {
  address: string;
  detail: string;
}

const order = (a: { block: number; logIndex: number }, b: { block: number; logIndex: number }) =>
  a.block - b.block || a.logIndex - b.logIndex;

function effectMatches(k: TransitionKind, e: EffectEvent): boolean {
  switch (k) {
    case "failover":
      return e.kind === "migrated" && !e.failback;
    case "failback":
      return e.kind === "migrated" && e.failback;
    case "pause":
      return e.kind === "paused";
    case "resume":
      return e.kind === "resumed";
  }
}

function viewDue(k: TransitionKind, v: BlockView): boolean {
  switch (k) {
    case "failover":
      return v.migration === MIGRATION_DUE_FAILOVER;
    case "failback":
      return v.migration === MIGRATION_DUE_FAILBACK;
    case "pause":
      return v.trip === GUARD_DUE;
    case "resume":
      return v.resume === GUARD_DUE;
  }
}

/**
 * Match each incident's transitions, in order, to the canonical effects inside its blocks, and time each from
 * the first block its view said due. Effects are consumed in order: a transition takes the first matching
 * effect after the previous transition's.
 */
export function accountIncidents(
  incidents: readonly IncidentSpec[],
  events: readonly EffectEvent[],
  views: readonly BlockView[],
  txs: readonly MinedTx[],
): IncidentResult[] {
  const sorted = [...events].sort(order);
  const byBlock = new Map(views.map((v) => [v.block, v]));
  return incidents.map((inc) => {
    const inside = sorted.filter((e) => e.block > inc.startBlock && e.block <= inc.endBlock);
    const used = new Set<number>();
    let from = inc.startBlock;
    let cursor = 0;
    const transitions = inc.transitions.map((kind): TransitionResult => {
      const idx = inside.findIndex((e, i) => i >= cursor && effectMatches(kind, e));
      const effect = idx >= 0 ? inside[idx] : undefined;
      const until = effect ? effect.block : inc.endBlock;
      let dueBlock: number | null = null;
      for (let b = from; b <= until; b++) {
        const v = byBlock.get(b);
        if (v && viewDue(kind, v)) {
          dueBlock = b;
          break;
        }
      }
      if (!effect)
        return {
          kind,
          applied: false,
          dueBlock,
          appliedBlock: null,
          blocksDueToApplied: null,
          secondsDueToApplied: null,
        };
      cursor = idx + 1;
      used.add(idx);
      from = effect.block;
      if (dueBlock === null) dueBlock = effect.block;
      const ts = (b: number) => byBlock.get(b)?.timestamp;
      const t0 = ts(dueBlock);
      const t1 = ts(effect.block);
      return {
        kind,
        applied: true,
        dueBlock,
        appliedBlock: effect.block,
        blocksDueToApplied: effect.block - dueBlock,
        secondsDueToApplied: t0 !== undefined && t1 !== undefined ? t1 - t0 : null,
        tx: effect.tx,
      };
    });
    const wastedTxs = txs.filter((t) => !t.ok && t.block > inc.startBlock && t.block <= inc.endBlock);
    const wastedByKind: Record<string, number> = {};
    for (const t of wastedTxs) wastedByKind[t.kind] = (wastedByKind[t.kind] ?? 0) + 1;
    const applied = transitions.filter((t) => t.applied).length;
    return {
      id: inc.id,
      name: inc.name,
      startBlock: inc.startBlock,
      endBlock: inc.endBlock,
      needed: transitions.length,
      applied,
      lost: transitions.filter((t) => !t.applied && t.dueBlock !== null).length,
      neverDue: transitions.filter((t) => !t.applied && t.dueBlock === null).length,
      transitions,
      extra: inside.filter((e, i) => !used.has(i) && !(inc.tolerated ?? []).includes(e.kind)),
      wasted: wastedTxs.length,
      wastedByKind,
    };
  });
}

/**
 * Effects that repeat the previous effect of their kind with nothing undoing it between (see the file comment),
 * over the whole canonical chain.
 */
export function findDuplicates(events: readonly EffectEvent[]): Duplicate[] {
  const out: Duplicate[] = [];
  const lastMigration = new Map<string, Extract<EffectEvent, { kind: "migrated" }>>();
  const lastGuard = new Map<string, EffectEvent>();
  for (const e of [...events].sort(order)) {
    if (e.kind === "migrated") {
      const prev = lastMigration.get(e.serviceId);
      if (prev && prev.from === e.from && prev.to === e.to)
        out.push({
          kind: e.kind,
          block: e.block,
          tx: e.tx,
          previousBlock: prev.block,
          what: `migration ${e.from.slice(0, 10)}→${e.to.slice(0, 10)} twice in a row`,
        });
      lastMigration.set(e.serviceId, e);
    } else {
      const prev = lastGuard.get(e.marketId);
      if (prev && prev.kind === e.kind)
        out.push({
          kind: e.kind,
          block: e.block,
          tx: e.tx,
          previousBlock: prev.block,
          what: `market ${e.marketId} ${e.kind} twice without a ${e.kind === "paused" ? "resume" : "pause"} between`,
        });
      lastGuard.set(e.marketId, e);
    }
  }
  return out;
}

/**
 * Nonce gaps per responder key (see the file comment). `txs` must hold every canonical transaction of each
 * address from its first nonce (the scan starts at block 1).
 */
export function findNonceGaps(nonces: readonly NonceState[], txs: readonly MinedTx[]): NonceGap[] {
  const out: NonceGap[] = [];
  for (const n of nonces) {
    const addr = n.address.toLowerCase();
    const mined = new Set(txs.filter((t) => t.from.toLowerCase() === addr).map((t) => t.nonce));
    const missing: number[] = [];
    for (let i = 0; i < n.latest; i++) if (!mined.has(i)) missing.push(i);
    if (missing.length)
      out.push({
        address: addr,
        detail: `no mined transaction for nonce(s) ${missing.slice(0, 10).join(", ")}${missing.length > 10 ? " …" : ""} below ${n.latest}`,
      });
    const beyond = [...mined].filter((x) => x >= n.latest);
    if (beyond.length)
      out.push({
        address: addr,
        detail: `mined nonce(s) ${beyond.join(", ")} at or above the latest count ${n.latest}`,
      });
    if (n.pending > n.latest)
      out.push({
        address: addr,
        detail: `pending count ${n.pending} above latest ${n.latest} at the end (stuck transactions)`,
      });
    if (n.queued > 0)
      out.push({
        address: addr,
        detail: `${n.queued} queued transaction(s) in the pool (behind a missing nonce)`,
      });
  }
  return out;
}

/** Blocks from the first block with the spiked base fee, and from the pause being due, to the pause landing. */
export interface FeeSpikeResult {
  spikeBlock: number;
  baseFeeBeforeWei: string;
  baseFeeSpikeWei: string;
  dueBlock: number | null;
  pauseBlock: number | null;
  blocksSpikeToPause: number | null;
  blocksDueToPause: number | null;
  /** The goal: the pause within `maxBlocks` of being due. */
  withinGoal: boolean;
}

/** Judge a fee spike from the pause transition of its incident. */
export function judgeFeeSpike(
  spike: { spikeBlock: number; baseFeeBeforeWei: string; baseFeeSpikeWei: string },
  pause: TransitionResult | undefined,
  maxBlocks = 3,
): FeeSpikeResult {
  const pauseBlock = pause?.appliedBlock ?? null;
  const dueBlock = pause?.dueBlock ?? null;
  const blocksDueToPause = pause?.blocksDueToApplied ?? null;
  return {
    ...spike,
    dueBlock,
    pauseBlock,
    blocksSpikeToPause: pauseBlock === null ? null : pauseBlock - spike.spikeBlock,
    blocksDueToPause,
    withinGoal: blocksDueToPause !== null && blocksDueToPause <= maxBlocks,
  };
}
