/**
 * A pool of control-chain RPCs: no decision rests on one RPC, and no RPC can hang a keeper.
 *
 * Every member request has a deadline (`timeoutMs`). A member that fails on transport (refused, reset, no
 * answer in time) is marked down, skipped, and re-probed with exponential backoff; every `pollingIntervalMs`
 * the pool reads each live member's head, so a member whose head stops while another's advances is `frozen`
 * and one more than `lagBlocks` behind the highest is `lagging` (keepers/shared/rpc/heads.ts). Each change of
 * a member's state is logged once and counted in `vigil_rpc_faults_total{rpc,kind}`, `vigil_rpc_up{rpc}`,
 * `vigil_rpc_head_lag_blocks{rpc}`.
 *
 * The ethers provider ({@link RpcPool.provider}) answers:
 * - `broadcastTransaction`: sent to EVERY member; succeeds when any accepts ("already known" counts).
 * - `getTransactionReceipt`, `getTransaction`, `getBlock(hash|number)`: asked of all; fresh members' answers
 *   win (first non-null, else null); frozen and lagging members are a fallback only when no fresh member
 *   answered (so a frozen node's pre-reorg receipt cannot confirm an action).
 * - `getBlockNumber`, `getBlock("latest"|"pending")`, `getTransactionCount`: the highest answer among members
 *   not lying (a frozen or lagging member is outvoted).
 * - everything else (`call`, `estimateGas`, `getLogs`, fee data, …): fresh members first in configured order,
 *   the next on a transport error or timeout. A revert (CALL_EXCEPTION) or a refused transaction is an answer: not failed
 *   over.
 * Members that are down are not asked (but for broadcasts) unless every member is down; so with one URL a
 * hung RPC makes each request time out instead of hanging the keeper.
 *
 * A member whose head block is timestamped more than `2 × pollingIntervalMs + 15 s` beyond the wall clock, while
 * another live member's is not, is `lying` (blamed `lied`): its head sets neither the pool's head nor anyone's
 * lag, and it is asked after the frozen and lagging ones.
 */
import { Network, getNumber, type JsonRpcProvider, type PerformActionRequest } from "ethers";
import { VigilError } from "./errors";
import type { Logger } from "./logger";
import type { Metrics } from "./metrics";
import { redactUrls, summarizeError } from "./redact";
import { isTransportError, timeoutError, transportKind, withDeadline } from "./rpc/errors";
import { PoolProvider, type PoolBackend } from "./rpc/facade";
import { HeadTable, type MemberStatus } from "./rpc/heads";
import { memberProvider, type RpcMember, type Settled } from "./rpc/member";
import { rpcMetrics, type RpcMetrics } from "./rpc/metrics";
import { broadcast, failover, firstNonNull, highest, type Ask } from "./rpc/route";

export { PoolProvider } from "./rpc/facade";
export type { MemberStatus } from "./rpc/heads";
export type { RpcMember, Settled } from "./rpc/member";

export interface RpcPoolOptions {
  /** JSON-RPC URLs of the control chain, in order of preference (fresh members are asked in this order). At
   *  least one. */
  urls: readonly string[];
  /** The chain id every member must serve (fixed: no network detection). */
  chainId: number;
  /** Deadline of every member request, ms. Default 2000. */
  timeoutMs?: number;
  /** Head polling interval (frozen/lagging detection, re-probes) and ethers' block polling, ms. Default 1000. */
  pollingIntervalMs?: number;
  /** Blocks behind the highest head beyond which a member is lagging. Default 3. */
  lagBlocks?: number;
  /** How long a member may sit behind the highest head without its own head advancing before it counts as
   *  frozen, ms. Default 10 000: several blocks of a 1–2 s chain, while a healthy node of a 12 s chain
   *  imports the block it missed well within that. */
  frozenAfterMs?: number;
  logger?: Logger;
  metrics?: Metrics;
}

/** A misbehaviour {@link RpcPool.blame} records. */
export type RpcFaultKind = "refused" | "timeout" | "frozen" | "lagging" | "lied" | "reverted";

/** setTimeout's longest delay, ms (about 24.8 days): an `each` callback with no bound of its own. */
const LONGEST_TIMER_MS = 2 ** 31 - 1;

const pools = new WeakMap<object, RpcPool>();

/** The pool behind a provider made by {@link RpcPool} (or `createProvider`); undefined for any other provider. */
export function poolOf(provider: unknown): RpcPool | undefined {
  return typeof provider === "object" && provider !== null ? pools.get(provider) : undefined;
}

/** The pool. Make one per process and chain; `destroy()` (or `provider.destroy()`) stops it. */
export class RpcPool implements PoolBackend {
  readonly members: readonly RpcMember[];
  readonly provider: PoolProvider;
  /** Deadline of every member request, ms. */
  readonly timeoutMs: number;
  private readonly heads: HeadTable;
  private readonly lastKind: (RpcFaultKind | undefined)[];
  private readonly metrics?: RpcMetrics;
  private readonly logger?: Logger;
  private readonly timer: NodeJS.Timeout;
  /** How far beyond the wall clock a head block's timestamp may be before the member is lying, s. */
  private readonly futureToleranceS: number;
  /** Per member: its last judged head block was timestamped beyond the wall clock plus the tolerance. */
  private readonly future: boolean[];
  private probing = false;
  private closed = false;

  /** @throws VigilError VIGIL_CONFIG when `urls` is empty or a number option is not positive. */
  constructor(o: RpcPoolOptions) {
    if (o.urls.length === 0) {
      throw new VigilError(
        "VIGIL_CONFIG",
        "rpcUrls is empty",
        "give at least one JSON-RPC URL of the control chain",
      );
    }
    this.timeoutMs = o.timeoutMs ?? 2000;
    const pollingIntervalMs = o.pollingIntervalMs ?? 1000;
    for (const [name, v] of Object.entries({ timeoutMs: this.timeoutMs, pollingIntervalMs })) {
      if (!(Number.isFinite(v) && v > 0))
        throw new VigilError("VIGIL_CONFIG", `RPC pool ${name} must be > 0, got ${v}`);
    }
    this.futureToleranceS = (2 * pollingIntervalMs + 15_000) / 1000;
    const network = Network.from(o.chainId);
    const origins = o.urls.map((u) => redactUrls(u));
    this.members = o.urls.map((url, index) => ({
      index,
      label:
        origins.filter((x) => x === origins[index]).length > 1
          ? `${origins[index]}#${index}`
          : origins[index],
      provider: memberProvider(url, network, this.timeoutMs),
    }));
    this.heads = new HeadTable(this.members.length, {
      lagBlocks: o.lagBlocks ?? 3,
      frozenAfterMs: o.frozenAfterMs ?? 10_000,
      backoffBaseMs: pollingIntervalMs,
      backoffCapMs: 30_000,
    });
    this.lastKind = this.members.map(() => undefined);
    this.future = this.members.map(() => false);
    this.logger = o.logger?.child({ component: "rpc-pool" });
    this.metrics = o.metrics ? rpcMetrics(o.metrics) : undefined;
    for (const m of this.members) {
      this.metrics?.up.set({ rpc: m.label }, 1);
      this.metrics?.headLag.set({ rpc: m.label }, 0);
    }
    this.provider = new PoolProvider(this, network, pollingIntervalMs);
    pools.set(this.provider, this);
    // Learn every head at once, so "the freshest member first" means something from the first request.
    setImmediate(() => void this.probe());
    this.timer = setInterval(() => void this.probe(), pollingIntervalMs);
    this.timer.unref();
  }

  /**
   * Run `fn` on every member not known down (every member when all are down; frozen, lagging and lying members
   * included), bounded by `signal` and, only when `opts.timeoutMs` is given, by that as a whole. Each request
   * `fn` makes of its member has the pool's `timeoutMs` deadline (the member's own provider); a member whose `fn`
   * fails on transport (one of its requests refused or timed out) is marked down, while passing the
   * whole-callback bound is that member's failed entry only (many requests to a slow but healthy member).
   * Results in member order; never rejects (a member's failure is its `Settled` entry).
   */
  each<T>(
    fn: (p: JsonRpcProvider, m: RpcMember) => Promise<T>,
    signal?: AbortSignal,
    opts: { timeoutMs?: number } = {},
  ): Promise<Settled<T>[]> {
    const members = this.candidates().sort((a, b) => a.index - b.index);
    return Promise.all(
      members.map((m) =>
        this.run(m, fn, signal, opts.timeoutMs).then(
          (value): Settled<T> => ({ member: m, ok: true, value }),
          (error: unknown): Settled<T> => ({ member: m, ok: false, error }),
        ),
      ),
    );
  }

  /** One member's `each` callback: its transport errors mark it down, the whole-callback bound does not. */
  private async run<T>(
    m: RpcMember,
    fn: (p: JsonRpcProvider, m: RpcMember) => Promise<T>,
    signal?: AbortSignal,
    wholeMs?: number,
  ): Promise<T> {
    let bound: Error | undefined;
    const onTimeout = () => (bound = timeoutError(m.label, "each", wholeMs!));
    try {
      const p = fn(m.provider, m);
      const value = await withDeadline(p, wholeMs ?? LONGEST_TIMER_MS, onTimeout, signal);
      this.answered(m);
      return value;
    } catch (e) {
      if (e !== bound && !signal?.aborted) this.settleError(m, e);
      throw e;
    }
  }

  /** Members whose head is fresh (not down, frozen, lagging or lying), in configured order. */
  fresh(): RpcMember[] {
    return this.ranked().filter((m) => this.heads.status(m.index) === "fresh");
  }

  /** The member's current status and last seen head (-1 before any). */
  state(m: RpcMember): { status: MemberStatus; head: number; lag: number } {
    return {
      status: this.heads.status(m.index),
      head: this.heads.head(m.index),
      lag: this.heads.lag(m.index),
    };
  }

  /**
   * Record a misbehaviour: counts `vigil_rpc_faults_total{rpc,kind}` every time, logs (warn) once per change
   * of the member's fault kind. The pool calls it for transport faults and head states; keepers call it for
   * `lied` (a view contradicted by a clean simulation) and `reverted` (a transaction it proposed reverted).
   */
  blame(m: RpcMember, kind: RpcFaultKind, detail?: string): void {
    this.metrics?.faults.inc({ rpc: m.label, kind });
    if (this.lastKind[m.index] === kind) return;
    this.lastKind[m.index] = kind;
    this.logger?.warn({ rpc: m.label, kind, detail }, `control-chain RPC ${m.label}: ${kind}`);
  }

  /** Stop probing and close every member (and the facade). Idempotent. */
  destroy(): void {
    this.provider.destroy();
  }

  /** @internal PoolBackend: the facade's destroy() ends here. */
  shutdown(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    for (const m of this.members) m.provider.destroy();
  }

  /** @internal PoolBackend: one ethers request, routed per the rules in the file comment. */
  async perform(req: PerformActionRequest): Promise<unknown> {
    const call = (m: RpcMember) => m.provider._perform(req);
    const ask = this.asker;
    const toNumber = (v: unknown) => getNumber(v as string);
    const learnHead = (m: RpcMember, n: number) => this.answered(m, n);
    const isFresh = (m: RpcMember) => this.heads.status(m.index) === "fresh";
    switch (req.method) {
      case "chainId":
        return (await this.provider.getNetwork()).chainId;
      case "broadcastTransaction":
        return broadcast(this.members, ask, req.signedTransaction);
      case "getBlockNumber":
        return highest(this.honest(), ask, req.method, call, toNumber, learnHead);
      case "getTransactionCount":
        return highest(this.honest(), ask, req.method, call, toNumber);
      case "getBlock":
        if ("blockTag" in req && (req.blockTag === "latest" || req.blockTag === "pending")) {
          // A `latest` block from the future makes its member lying and loses, before any probe sees it.
          const blockNumber = (b: unknown, m: RpcMember) =>
            b && !this.heads.isLying(m.index) ? getNumber((b as { number: string }).number) : -1;
          const judged: typeof call =
            req.blockTag === "latest" ? (m) => call(m).then((b) => this.judgeHead(m, b)) : call;
          return highest(this.honest(), ask, req.method, judged, blockNumber);
        }
        return firstNonNull(this.candidates(), ask, req.method, call, isFresh);
      case "getTransaction":
      case "getTransactionReceipt":
        return firstNonNull(this.candidates(), ask, req.method, call, isFresh);
      default:
        return failover(this.candidates(), ask, req.method, call);
    }
  }

  /** @internal PoolBackend: a raw JSON-RPC call. */
  send(method: string, params: unknown[]): Promise<unknown> {
    if (method === "eth_sendRawTransaction") return broadcast(this.members, this.asker, String(params[0]));
    return failover(this.candidates(), this.asker, method, (m) => m.provider.send(method, params));
  }

  /** {@link ask} as the routing strategies take it. */
  private readonly asker: Ask = (m, method, fn) => this.ask(m, method, fn);

  /** Every member, live ones freshest first; a down member is asked only when every member is down. */
  private candidates(): RpcMember[] {
    const live = this.ranked().filter((m) => !this.heads.isDown(m.index));
    return live.length > 0 ? live : this.ranked();
  }

  /** {@link candidates} without lying members (all candidates when every one is lying). */
  private honest(): RpcMember[] {
    const all = this.candidates();
    const honest = all.filter((m) => !this.heads.isLying(m.index));
    return honest.length > 0 ? honest : all;
  }

  /**
   * Members ordered fresh first in configured order (a head claimed higher buys no preference); then frozen and
   * lagging ones, highest head first; then lying ones; then down ones; ties in configured order.
   */
  private ranked(): RpcMember[] {
    const rank: Record<MemberStatus, number> = { fresh: 0, frozen: 1, lagging: 1, lying: 2, down: 3 };
    const score = (m: RpcMember) => rank[this.heads.status(m.index)];
    const byHead = (a: RpcMember, b: RpcMember) =>
      score(a) === 1 ? this.heads.head(b.index) - this.heads.head(a.index) : 0;
    return [...this.members].sort((a, b) => score(a) - score(b) || byHead(a, b) || a.index - b.index);
  }

  /**
   * Learn a member's head from its raw `latest` block: its number, and whether it is timestamped beyond the
   * wall clock plus the tolerance. Such a member is lying only while another live member's head is not in
   * the future: when every head is (a devnet whose time was moved ahead, or this host's clock is slow), the
   * members agree and none is singled out.
   */
  private judgeHead(m: RpcMember, block: unknown): unknown {
    if (!block) return block;
    const { number, timestamp } = block as { number: string; timestamp?: string };
    this.future[m.index] =
      timestamp !== undefined && getNumber(timestamp) > Date.now() / 1000 + this.futureToleranceS;
    this.heads.answered(m.index, getNumber(number));
    const sane = (i: number) => !this.future[i] && !this.heads.isDown(i) && this.heads.head(i) >= 0;
    for (const x of this.members) {
      const saneOther = this.members.some((y) => y.index !== x.index && sane(y.index));
      this.heads.setLying(x.index, this.future[x.index] && saneOther);
    }
    this.publish();
    return block;
  }

  /** One member request under its deadline; transport failures mark the member down, answers mark it up. */
  private async ask<T>(
    m: RpcMember,
    method: string,
    fn: () => Promise<T>,
    signal?: AbortSignal,
    ms?: number,
  ): Promise<T> {
    const timeoutMs = ms ?? this.timeoutMs;
    try {
      const value = await withDeadline(
        fn(),
        timeoutMs,
        () => timeoutError(m.label, method, timeoutMs),
        signal,
      );
      this.answered(m);
      return value;
    } catch (e) {
      if (!signal?.aborted) this.settleError(m, e);
      throw e;
    }
  }

  /** A member request failed: on transport the member is down (blamed once), else it answered. */
  private settleError(m: RpcMember, e: unknown): void {
    if (this.closed) return;
    if (isTransportError(e)) {
      if (this.heads.failed(m.index)) this.blame(m, transportKind(e), summarizeError(e));
      this.publish();
    } else {
      this.answered(m);
    }
  }

  private answered(m: RpcMember, head?: number): void {
    if (this.heads.answered(m.index, head) || head !== undefined) this.publish();
  }

  /** Read every due member's head (live ones, and down ones whose backoff passed), then re-evaluate. */
  private async probe(): Promise<void> {
    if (this.probing || this.closed) return;
    this.probing = true;
    try {
      await Promise.all(
        this.members
          .filter((m) => this.heads.dueForProbe(m.index))
          .map((m) =>
            this.ask(m, "eth_getBlockByNumber", () =>
              m.provider._perform({ method: "getBlock", blockTag: "latest", includeTransactions: false }),
            ).then(
              (b) => void this.judgeHead(m, b),
              () => undefined,
            ),
          ),
      );
      this.publish();
    } finally {
      this.probing = false;
    }
  }

  /** Re-evaluate statuses; log, blame and set metrics once per change. */
  private publish(): void {
    if (this.closed) return;
    for (const c of this.heads.evaluate()) {
      const m = this.members[c.index];
      this.metrics?.up.set({ rpc: m.label }, c.to === "fresh" ? 1 : 0);
      if (c.to === "frozen" || c.to === "lagging") {
        this.blame(m, c.to, `head ${c.head}, highest ${c.maxHead}`);
      } else if (c.to === "lying") {
        this.blame(m, "lied", `head ${c.head} timestamped beyond the clock, highest honest ${c.maxHead}`);
      } else if (c.to === "fresh") {
        this.lastKind[c.index] = undefined;
        this.logger?.info(
          { rpc: m.label, was: c.from, head: c.head },
          `control-chain RPC ${m.label}: fresh again`,
        );
      }
    }
    for (const m of this.members) {
      if (!this.heads.isDown(m.index)) this.metrics?.headLag.set({ rpc: m.label }, this.heads.lag(m.index));
    }
  }
}
