/**
 * Clock discipline: is this attestor's clock close enough to the chains' time to sign? PURE — the caller
 * passes every local time in (`localMs`, `nowMs`), so every rule is tested with an injected clock.
 *
 * An attestor signs `observedAt` and judges head ages with its own clock. One that runs 30 s fast judges every
 * node stale and dates its reports in the future (issue 12: with a 2-of-3 set that paused a market with every
 * node healthy); one that runs 30 s slow calls a dead node fresh. So it compares its clock with the time of the
 * chains it already reads, and stops signing while it is off by more than `boundSec` (default half the
 * HealthOracle's `maxSkew`, so a report it signs is still inside the oracle's window with room to spare).
 *
 * ## What one sample proves
 *
 * θ is the local clock minus true time (positive: the local clock is fast). A node's LATEST block, seen at local
 * time `t` (when the answer came back), was stamped before it was served, so `θ ≤ t − ts` (the block's age can
 * only add): an UPPER bound `hi`. A halted or lagging chain only raises `hi`; it never proves anything else.
 * A LOWER bound needs to know the block is new: when a node's head number rose between two probes, the new block
 * was not there at the earlier probe (sent at `t₀ − latency₀`), so `θ ≥ t₀ − latency₀ − ts − slack`, where
 * `slackSec` covers the stamp being floored to a second and stamped before it reached the node (default 1 s;
 * raise it for chains whose blocks arrive late after their slot time). The control chain's PENDING block is
 * stamped with the node's own clock when it is asked, so one answer bounds θ on both sides:
 * `t − latency − ts − 1 ≤ θ ≤ t − ts`. Per node, over its samples of the last `freshMs`: `hi` = the smallest
 * upper bound, `lo` = the largest lower bound, newest samples first and as far back as they stay consistent
 * (`lo ≤ hi`; an honest node's always are), so a clock that steps is seen at once. The offset reported (metric, `/healthz`) is the lower median of
 * the sources' midpoints (`hi` alone without `lo`), over the sources that voted for the current state.
 *
 * ## Votes, sources, verdict
 *
 * A node votes `ahead` when `lo > bound`, `behind` when `hi < −bound`, `agree` when it bounds θ inside the
 * bound (`lo` known and ≤ bound, or `hi` ≤ bound, and not behind); otherwise it cannot tell (halted, no new
 * block yet, or bounds that contradict each other: `lo > hi`, a node serving invented timestamps). A SOURCE is a
 * chain: the control chain (always one source) and each watched chain id, whose endpoints are its nodes; a
 * source takes its nodes' strict-majority vote (replicas of one chain outvote one lying replica), else it
 * cannot tell. Sources without a fresh sample are not counted.
 *
 * The verdict changes only on a DECISIVE vote: more than half of the counted sources vote the same way, or
 * exactly half with the control chain among them (the oracle checks `observedAt` against the control chain's
 * block time, so its clock breaks ties). Sources that cannot tell count against every verdict, so the state
 * holds while they are silent. It starts `unverified` (not ok: nothing is signed until a decisive `agree`) when
 * `requireEvidence` is set, `unchecked` (ok) otherwise (no chain to compare with: injected tests, benchmarks).
 *
 * What holds: with a strict majority of honest sources, a minority of sources with arbitrary answers (a node
 * with future timestamps, a chain whose sequencer stopped, a lagging node catching up) can never make the
 * verdict change, in either direction: they are fewer than half, and a tie needs the control chain. Honest live
 * sources detect a clock off by more than `bound + probe interval + slack` (ahead; sooner via the control chain's
 * pending block) or by more than `bound + block time` (behind). With the control chain and one watched chain,
 * the control chain decides every tie: a watched chain alone (halted, or with a wrong clock) never stops
 * signing. With the control chain alone, it decides. When every source is silent (all halted), the last
 * verdict holds.
 */
import type { HealthCondition } from "../shared/server";

/** The control chain's source name ({@link ClockDiscipline.observe}). */
export const CONTROL_SOURCE = "control";

/** What a node or source says about the local clock. */
export type ClockVote = "agree" | "ahead" | "behind" | "cannot_tell";

/** The discipline's state: `unchecked` and `agree` allow signing. */
export type ClockState = "unverified" | "unchecked" | "agree" | "ahead" | "behind";

export interface ClockOptions {
  /** Largest |θ| accepted, seconds (> 0). */
  boundSec: number;
  /** Samples older than this are forgotten, ms (a few probe intervals). */
  freshMs: number;
  /** Allowance for a block stamped before it reached the node, seconds; default 1. */
  slackSec?: number;
  /** Start `unverified` (not ok) until a decisive `agree`; default true. */
  requireEvidence?: boolean;
}

/** One sample: a block's timestamp (`kind: "latest"`) or the node's own clock (`"pending"`). */
export interface SampleOptions {
  /** The node within the source (an endpoint of the chain); default the source itself. */
  node?: string;
  /** Block number of a `latest` sample: a rise between two samples of a node proves the block is new. */
  blockNumber?: number;
  /** How long the request took, ms (the answer was made within it); default 0. */
  latencyMs?: number;
}

/** Per-source detail of a check. */
export interface SourceVerdict {
  source: string;
  vote: ClockVote;
  /** Tightest bounds on θ from this source's nodes that voted (seconds), null when none. */
  loSec: number | null;
  hiSec: number | null;
  /** Nodes with fresh samples, and how each voted. */
  nodes: Record<string, ClockVote>;
}

export interface ClockCheck {
  /** Signing allowed. */
  ok: boolean;
  state: ClockState;
  /** The state moved in this check (log it once). */
  changed: boolean;
  /** Estimated θ (local minus chain time), seconds: the median of the voting sources' estimates; null if none. */
  offsetSec: number | null;
  boundSec: number;
  sources: SourceVerdict[];
  /** For an operator: what the state is and why. */
  detail: string;
}

interface Evidence {
  atMs: number;
  hi: number;
  lo?: number;
}

interface NodeState {
  /** Last `latest` sample (for a head-number rise). */
  last?: { localMs: number; latencyMs: number; blockNumber: number };
  evidence: Evidence[];
}

/** Evidence kept per node, newest last (a few probe intervals' worth at most). */
const MAX_EVIDENCE = 64;

/** Compares the local clock with chain time; see the file comment for the estimator and what it tolerates. */
export class ClockDiscipline {
  private readonly _sources = new Map<string, Map<string, NodeState>>();
  private _bound: number;
  private readonly _fresh: number;
  private readonly _slack: number;
  private _state: ClockState;
  private _last?: ClockCheck;

  /** @throws RangeError when `boundSec` or `freshMs` is not positive, or `slackSec` negative. */
  constructor(opts: ClockOptions) {
    this._bound = positive(opts.boundSec, "boundSec");
    this._fresh = positive(opts.freshMs, "freshMs");
    this._slack = opts.slackSec ?? 1;
    if (!(this._slack >= 0)) throw new RangeError(`slackSec must be >= 0, got ${opts.slackSec}`);
    this._state = opts.requireEvidence === false ? "unchecked" : "unverified";
  }

  get boundSec(): number {
    return this._bound;
  }

  /** Change the bound (the oracle's `maxSkew` was read); applies from the next check. @throws RangeError if not > 0. */
  setBound(boundSec: number): void {
    this._bound = positive(boundSec, "boundSec");
  }

  /**
   * Record a node's latest block: `blockTimestampSec` (Unix s) seen at `localMs` (local clock, ms, when the
   * answer came back). Non-finite values are ignored. A head number that rose since the node's previous sample
   * gives a lower bound too.
   */
  observe(source: string, localMs: number, blockTimestampSec: number, opts: SampleOptions = {}): void {
    if (!Number.isFinite(localMs) || !Number.isFinite(blockTimestampSec)) return;
    const node = this._node(source, opts.node ?? source);
    const latencyMs = Math.max(0, opts.latencyMs ?? 0);
    const ev: Evidence = { atMs: localMs, hi: localMs / 1000 - blockTimestampSec };
    const n = opts.blockNumber;
    if (n !== undefined && Number.isSafeInteger(n)) {
      const prev = node.last;
      if (prev && prev.blockNumber < n && prev.localMs < localMs)
        ev.lo = (prev.localMs - prev.latencyMs) / 1000 - blockTimestampSec - this._slack;
      node.last = { localMs, latencyMs, blockNumber: n };
    }
    push(node, ev);
  }

  /**
   * Record a node's own clock: its pending block's timestamp `nodeNowSec` (Unix s, floored by the node), asked
   * within the `latencyMs` before `localMs`. Bounds θ on both sides.
   */
  observeNodeClock(
    source: string,
    localMs: number,
    nodeNowSec: number,
    opts: Omit<SampleOptions, "blockNumber"> = {},
  ) {
    if (!Number.isFinite(localMs) || !Number.isFinite(nodeNowSec)) return;
    const latencyMs = Math.max(0, opts.latencyMs ?? 0);
    const hi = localMs / 1000 - nodeNowSec;
    push(this._node(source, opts.node ?? source), { atMs: localMs, hi, lo: hi - latencyMs / 1000 - 1 });
  }

  /** Forget a node (an endpoint left the registry); a source without nodes is forgotten too. */
  forget(source: string, node: string = source): void {
    const nodes = this._sources.get(source);
    nodes?.delete(node);
    if (nodes && nodes.size === 0) this._sources.delete(source);
  }

  /** Judge the clock at local time `nowMs` over the samples of the last `freshMs`; see the file comment. */
  check(nowMs: number): ClockCheck {
    const oldest = nowMs - this._fresh;
    const b = this._bound;
    const sources: SourceVerdict[] = [];
    const estimates: Array<{ vote: ClockVote; sec: number }> = [];
    for (const [source, nodes] of this._sources) {
      const votes: Record<string, ClockVote> = {};
      let lo = -Infinity;
      let hi = Infinity;
      let voters = 0;
      for (const [name, node] of nodes) {
        node.evidence = node.evidence.filter((e) => e.atMs >= oldest && e.atMs <= nowMs);
        if (node.evidence.length === 0) {
          // Not sampled for `freshMs` (an endpoint that left, or stopped answering): forget it.
          if (!node.last || node.last.localMs < oldest) nodes.delete(name);
          continue;
        }
        const { lo: nLo, hi: nHi } = bounds(node.evidence);
        const vote = voteOf(nLo, nHi, b);
        votes[name] = vote;
        if (vote === "cannot_tell") continue;
        voters++;
        hi = Math.min(hi, nHi);
        if (nLo !== undefined) lo = Math.max(lo, nLo);
      }
      const counted = Object.keys(votes).length;
      if (nodes.size === 0) this._sources.delete(source);
      if (counted === 0) continue;
      const vote = majority(Object.values(votes), counted) ?? "cannot_tell";
      const verdict: SourceVerdict = {
        source,
        vote,
        loSec: voters && lo > -Infinity ? round3(lo) : null,
        hiSec: voters && hi < Infinity ? round3(hi) : null,
        nodes: votes,
      };
      sources.push(verdict);
      if (vote !== "cannot_tell" && verdict.hiSec !== null)
        estimates.push({
          vote,
          sec: verdict.loSec !== null && verdict.loSec <= verdict.hiSec ? (lo + hi) / 2 : hi,
        });
    }
    const decided = decide(sources);
    const before = this._state;
    if (decided) this._state = decided;
    // The offset from the sources that voted for the state, when any did (a tie won by the control chain
    // reports the control chain's estimate), else from every source that voted.
    const sided = estimates.filter((e) => e.vote === this._state);
    const used = (sided.length ? sided : estimates).map((e) => e.sec);
    const offsetSec = used.length ? round3(lowerMedian(used)) : null;
    const ok = this._state === "agree" || this._state === "unchecked";
    const check: ClockCheck = {
      ok,
      state: this._state,
      changed: this._state !== before,
      offsetSec,
      boundSec: b,
      sources,
      detail: describe(this._state, offsetSec, b, sources),
    };
    this._last = check;
    return check;
  }

  /** The latest check's result, undefined before the first. */
  get last(): ClockCheck | undefined {
    return this._last;
  }

  /**
   * The latest Unix second a report may carry to be served at local time `nowMs`: never after the local clock,
   * nor after the estimated chain time plus the bound (`now − offset + bound`).
   */
  latestServable(nowMs: number): number {
    const now = nowMs / 1000;
    const offset = this._last?.offsetSec;
    return Math.floor(
      offset === null || offset === undefined ? now : Math.min(now, now - offset + this._bound),
    );
  }

  /** `/healthz` condition `attestor_clock`: ok while signing is allowed, with the latest check's detail. */
  condition(): HealthCondition {
    const c = this._last;
    const ok = this._state === "agree" || this._state === "unchecked";
    // An attestor that does not sign is of no use: /healthz answers 503 (server.ts `halts`).
    return {
      name: "attestor_clock",
      ok,
      halts: true,
      detail: c?.detail ?? describe(this._state, null, this._bound, []),
    };
  }

  private _node(source: string, node: string): NodeState {
    let nodes = this._sources.get(source);
    if (!nodes) this._sources.set(source, (nodes = new Map()));
    let st = nodes.get(node);
    if (!st) nodes.set(node, (st = { evidence: [] }));
    return st;
  }
}

function positive(v: number, name: string): number {
  if (!(Number.isFinite(v) && v > 0)) throw new RangeError(`${name} must be > 0, got ${v}`);
  return v;
}

function push(node: NodeState, ev: Evidence): void {
  node.evidence.push(ev);
  if (node.evidence.length > MAX_EVIDENCE) node.evidence.splice(0, node.evidence.length - MAX_EVIDENCE);
}

/**
 * A node's bounds on θ over its evidence, newest first, as far back as it stays consistent (`lo ≤ hi`): after a
 * clock step the new samples win at once instead of contradicting the old ones until they age out. An honest
 * node's evidence is always consistent.
 */
function bounds(evidence: readonly Evidence[]): { lo: number | undefined; hi: number } {
  let hi = Infinity;
  let lo = -Infinity;
  for (let i = evidence.length - 1; i >= 0; i--) {
    const e = evidence[i];
    const nextHi = Math.min(hi, e.hi);
    const nextLo = e.lo === undefined ? lo : Math.max(lo, e.lo);
    if (nextLo > nextHi && hi !== Infinity) break;
    hi = nextHi;
    lo = nextLo;
  }
  return { lo: lo === -Infinity ? undefined : lo, hi };
}

/** One node's vote from its bounds on θ (see the file comment). */
export function voteOf(lo: number | undefined, hi: number, bound: number): ClockVote {
  if (lo !== undefined && lo > hi) return "cannot_tell"; // contradicts itself: invented timestamps
  if (hi < -bound) return "behind";
  if (lo !== undefined && lo > bound) return "ahead";
  if (lo !== undefined || hi <= bound) return "agree";
  return "cannot_tell";
}

/** The vote of more than half of `counted`, if any. */
function majority(votes: ClockVote[], counted: number): ClockVote | undefined {
  for (const v of ["agree", "ahead", "behind"] as const)
    if (votes.filter((x) => x === v).length * 2 > counted) return v;
  return undefined;
}

/** A decisive state: more than half of the sources, or half with the control chain. */
function decide(sources: SourceVerdict[]): ClockState | undefined {
  const n = sources.length;
  if (n === 0) return undefined;
  const control = sources.find((s) => s.source === CONTROL_SOURCE)?.vote;
  for (const v of ["agree", "ahead", "behind"] as const) {
    const c = sources.filter((s) => s.vote === v).length;
    if (c * 2 > n || (c * 2 === n && control === v)) return v;
  }
  return undefined;
}

function lowerMedian(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)];
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

function describe(state: ClockState, offset: number | null, bound: number, sources: SourceVerdict[]): string {
  const off = offset === null ? "unknown" : `${offset >= 0 ? "+" : ""}${offset.toFixed(1)} s`;
  const votes = sources.map((s) => `${s.source} ${s.vote}`).join(", ") || "no fresh samples";
  switch (state) {
    case "agree":
      return `local clock within ±${bound} s of chain time (offset ${off}; ${votes})`;
    case "unchecked":
      return "no chain time to compare with: clock not checked";
    case "unverified":
      return `not signing: waiting for a majority of chains to show the local clock within ±${bound} s (${votes})`;
    case "ahead":
      return `not signing: local clock ahead of chain time by more than ${bound} s (offset ${off}; ${votes}); fix NTP`;
    case "behind":
      return `not signing: local clock behind chain time by more than ${bound} s (offset ${off}; ${votes}); fix NTP`;
  }
}
