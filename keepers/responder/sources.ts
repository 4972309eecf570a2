/**
 * "No decision rests on one RPC": the responder reads its views through every RPC of the control chain's pool,
 * decides per RPC, and acts on the union. This file holds the pieces of that rule that are not chain reads:
 * the shape of a pool as the responder uses it ({@link ViewPool}; keepers/shared/rpcPool.ts `RpcPool` fits it, a
 * single injected provider is wrapped by {@link singlePool}), the union of per-RPC decisions
 * ({@link unionProposals}), the hourly budget of reverted transactions ({@link RevertBudget}) and the same budget kept
 * per member ({@link MemberRevertBudgets}).
 */
import type { AbstractProvider } from "ethers";
import type { Logger } from "../shared/logger";

/** One RPC of the pool. */
export interface Member {
  readonly index: number;
  /** Redacted URL (or a name), for logs and metric labels. */
  readonly label: string;
  readonly provider: AbstractProvider;
}

/** The result of one member's read. */
export type Settled<T> =
  { member: Member; ok: true; value: T } | { member: Member; ok: false; error: unknown };

/** How one member misbehaved (keepers/shared/rpcPool.ts counts them in `vigil_rpc_faults_total{rpc,kind}`). */
export type BlameKind = "refused" | "timeout" | "frozen" | "lagging" | "lied" | "reverted";

/** The pool as the responder uses it; `RpcPool` (keepers/shared/rpcPool.ts) has this shape. */
export interface ViewPool {
  readonly members: readonly Member[];
  /** A provider over the whole pool (transactions go to every member, receipts come from any). */
  readonly provider: AbstractProvider;
  /** Run `fn` on every member not known down, each with a deadline; never waits on a hung member. */
  each<T>(fn: (p: AbstractProvider, m: Member) => Promise<T>, signal?: AbortSignal): Promise<Settled<T>[]>;
  /** Members whose head is fresh (not down, not frozen, not lagging). */
  fresh(): Member[];
  /** Record a misbehaviour (log and metric). */
  blame(m: Member, kind: BlameKind, detail?: string): void;
}

/**
 * A pool of one: `provider` itself (an injected provider, tests). Its reads are the provider's, unbounded; blame is
 * a log line (one RPC has nobody to be outvoted by).
 */
export function singlePool(provider: AbstractProvider, logger: Logger, label = "rpc"): ViewPool {
  const member: Member = { index: 0, label, provider };
  return {
    members: [member],
    provider,
    async each<T>(fn: (p: AbstractProvider, m: Member) => Promise<T>): Promise<Settled<T>[]> {
      try {
        return [{ member, ok: true, value: await fn(provider, member) }];
      } catch (error) {
        return [{ member, ok: false, error }];
      }
    },
    fresh: () => [member],
    blame: (m, kind, detail) => logger.warn({ rpc: m.label, kind, detail }, "rpc misbehaved"),
  };
}

/**
 * The values of the members that answered. @throws the first member's error when none answered (the iteration
 * fails and is retried, as with a single RPC).
 */
export function answered<T>(settled: readonly Settled<T>[]): Array<{ member: Member; value: T }> {
  const ok = settled.filter((s): s is Extract<Settled<T>, { ok: true }> => s.ok);
  if (ok.length === 0) {
    const first = settled.find((s): s is Extract<Settled<T>, { ok: false }> => !s.ok);
    throw first ? first.error : new Error("no RPC of the pool is up");
  }
  return ok.map((s) => ({ member: s.member, value: s.value }));
}

/** One action some members' views made due. */
export interface Proposal<A> {
  /** The action as the first proposing member decided it. */
  action: A;
  key: string;
  /** Members whose views made it due, in pool order. */
  proposers: Member[];
  /** Members that answered and did not make it due (their "not due" is contradicted if it simulates cleanly). */
  dissenters: Member[];
}

/**
 * The union of every member's decisions: an action is a candidate when ANY member's views make it due, tagged with
 * the members that proposed it. Order: by `rank` (lower first: safety first), then by where the action first
 * appeared (pool order, then each member's own order), so a single member's list comes back unchanged.
 */
export function unionProposals<A>(
  decided: ReadonlyArray<{ member: Member; value: readonly A[] }>,
  key: (a: A) => string,
  rank: (a: A) => number,
): Proposal<A>[] {
  const byKey = new Map<string, Proposal<A> & { order: number }>();
  for (const { member, value } of decided) {
    for (const a of value) {
      const k = key(a);
      const p = byKey.get(k);
      if (p) {
        if (!p.proposers.includes(member)) p.proposers.push(member);
      } else byKey.set(k, { action: a, key: k, proposers: [member], dissenters: [], order: byKey.size });
    }
  }
  const out = [...byKey.values()].sort((x, y) => rank(x.action) - rank(y.action) || x.order - y.order);
  for (const p of out) p.dissenters = decided.map((d) => d.member).filter((m) => !p.proposers.includes(m));
  return out.map(({ action, key: k, proposers, dissenters }) => ({ action, key: k, proposers, dissenters }));
}

/**
 * Reverted transactions of the last hour (wall clock), against `maxPerHour`: what lying RPCs can cost. Past the
 * budget an action is sent only when it simulates cleanly on every fresh member within its own budget
 * ({@link MemberRevertBudgets}).
 */
export class RevertBudget {
  private readonly _at: number[] = [];

  constructor(
    readonly maxPerHour: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Count one reverted transaction now. */
  add(): void {
    this._at.push(this.now());
  }

  /** Reverted transactions within the last hour. */
  used(): number {
    const since = this.now() - 3_600_000;
    while (this._at.length > 0 && this._at[0] <= since) this._at.shift();
    return this._at.length;
  }

  /** True once `maxPerHour` reverted transactions were paid within the last hour. */
  exhausted(): boolean {
    return this.used() >= this.maxPerHour;
  }
}

/**
 * The hourly revert budget of each member (by `Member.index`), each of `maxPerHour`: reverted transactions
 * attributed to a member that proposed them (keepers/responder/act.ts decides when a revert is attributable). A member
 * over its own budget neither proposes nor vetoes (its simulation is not asked in strict mode), so a liar that burned
 * the global budget with false "due"s cannot then veto a real action for the rest of the hour.
 */
export class MemberRevertBudgets {
  private readonly _by = new Map<number, RevertBudget>();

  constructor(
    readonly maxPerHour: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Count one reverted transaction against `m` now. */
  add(m: Member): void {
    let b = this._by.get(m.index);
    if (!b) this._by.set(m.index, (b = new RevertBudget(this.maxPerHour, this.now)));
    b.add();
  }

  /** Reverted transactions attributed to `m` within the last hour. */
  used(m: Member): number {
    return this._by.get(m.index)?.used() ?? 0;
  }

  /** True once `maxPerHour` reverted transactions were attributed to `m` within the last hour. */
  over(m: Member): boolean {
    return this._by.get(m.index)?.exhausted() ?? false;
  }
}
