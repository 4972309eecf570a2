/**
 * Routing, the retry budget, hedging and the circuit breaker for one call: the rule core that the
 * `vigil gateway` (keepers/gateway/, an HTTP front on it) and the client libraries (./router.ts) share.
 *
 * A call goes to the service's active endpoint as the follower reads it from the registry. Between an
 * endpoint failing and the migration landing on-chain, an idempotent read (`read`, `head`) gets ONE second
 * attempt, always on the best endpoint that is HEALTHY on-chain and serves the service's chain id (never a
 * DOWN, DEGRADED or UNKNOWN one), and never a third:
 * - a RETRY, at once, after a transport failure or a timeout of the first attempt; or
 * - a HEDGE, when the first has not answered after its usual latency plus four deviations (./latency.ts;
 *   at most `hedgeAfterMs`): the same read goes to that endpoint too, the first answer wins and the other
 *   attempt is aborted. A hedge counts as the one retry.
 * And, per endpoint, a local circuit breaker (./breaker.ts): after a transport failure, a timeout or a lost
 * hedge, reads skip that endpoint for `openMs` and go straight to the best HEALTHY one (then one probe).
 * Together they bound what a client sees of a hanging node to about `hedgeAfterMs` once, instead of
 * `attemptTimeoutMs` per call until the migration lands.
 *
 * A JSON-RPC error answer (a revert, an invalid parameter) is the node's answer and is passed on as it is:
 * another node would give the same, and retrying it would hide it behind a second delay. Other methods
 * (filters, subscriptions, anything with state on one node, unknown methods) go to the active endpoint
 * only, never retried nor hedged; `eth_sendRawTransaction` has its own rule (./tx.ts) and is never hedged.
 */
import type { Breakers } from "./breaker";
import type { LatencyTracker } from "./latency";
import type { EndpointView, FollowedService, RegistryFollower } from "./follow";
import type { Logger } from "../shared/logger";
import type { GatewayMetrics, MethodClass } from "./metrics";
import type { AttemptHandle, AttemptResult, RpcAnswer, UpstreamSender } from "./upstream";

export type { MethodClass };

/** Methods whose answer depends only on the chain, not on which node is asked or how often. */
const IDEMPOTENT = new Set([
  "eth_chainId",
  "net_version",
  "web3_clientVersion",
  "eth_syncing",
  "eth_gasPrice",
  "eth_maxPriorityFeePerGas",
  "eth_blobBaseFee",
  "eth_feeHistory",
  "eth_getBalance",
  "eth_getCode",
  "eth_getStorageAt",
  "eth_getTransactionCount",
  "eth_getProof",
  "eth_call",
  "eth_estimateGas",
  "eth_createAccessList",
  "eth_getBlockByNumber",
  "eth_getBlockByHash",
  "eth_getBlockReceipts",
  "eth_getBlockTransactionCountByHash",
  "eth_getBlockTransactionCountByNumber",
  "eth_getTransactionByHash",
  "eth_getTransactionByBlockHashAndIndex",
  "eth_getTransactionByBlockNumberAndIndex",
  "eth_getTransactionReceipt",
  "eth_getUncleCountByBlockHash",
  "eth_getUncleCountByBlockNumber",
  "eth_getLogs",
]);

/** A JSON-RPC 2.0 request object as a client sends it (validated by the server). */
export interface RpcRequest {
  jsonrpc: "2.0";
  id?: unknown;
  method: string;
  params?: unknown;
}

/**
 * The class of a call: `tx` for `eth_sendRawTransaction`; `head` for `eth_blockNumber` and
 * `eth_getBlockByNumber` of `latest` (or no tag): the answers the no-time-travel rule guards; `read` for
 * the other idempotent methods; `other` for everything else (no retry).
 */
export function classify(req: RpcRequest): MethodClass {
  if (req.method === "eth_sendRawTransaction") return "tx";
  if (req.method === "eth_blockNumber") return "head";
  if (req.method === "eth_getBlockByNumber") {
    const tag = Array.isArray(req.params) ? req.params[0] : undefined;
    return tag === undefined || tag === "latest" ? "head" : "read";
  }
  return IDEMPOTENT.has(req.method) ? "read" : "other";
}

/** What one call needs to be routed: the follower, the sender, its deadline and where to count. */
export interface CallContext {
  service: FollowedService;
  follower: RegistryFollower;
  upstreams: UpstreamSender;
  /** Absolute deadline of the call, ms since the epoch. */
  deadline: number;
  /** Longest single attempt, ms. */
  attemptTimeoutMs: number;
  /** Hedge an idempotent read after this many ms without an answer; undefined or 0: no hedging. */
  hedgeAfterMs?: number;
  /**
   * Observed latencies: when set, a read is hedged after the first endpoint's usual latency plus four
   * deviations (./latency.ts), at most `hedgeAfterMs`.
   */
  latency?: LatencyTracker;
  /** The endpoints' circuit breakers; undefined: none (every read goes to the active endpoint first). */
  breakers?: Breakers;
  /** Where to count (the `vigil_gateway_*` set); undefined: nothing is counted. */
  metrics?: GatewayMetrics;
  logger: Logger;
  /** Clock (tests may inject one); default `Date.now`. */
  now?: () => number;
}

/** A routed call's outcome: the node's answer and who gave it, or why there is none. */
export type Routed =
  | {
      ok: true;
      answer: RpcAnswer;
      via: EndpointView;
      /** The answer came from the second attempt (the retry or the hedge). */
      retried: boolean;
      /** A second attempt was made (the call's one retry is spent, whoever answered). */
      spent: boolean;
    }
  | {
      ok: false;
      /** `no_endpoint`: nothing routable; `timeout`: the deadline passed; `failed`: transport failures. */
      reason: "no_endpoint" | "timeout" | "failed";
      /** Redacted detail for the client and the log. */
      detail: string;
      /** Whether any attempt may have reached a node. */
      mayHaveReached: boolean;
    };

/** Milliseconds left before the call's deadline (never negative). */
export function remaining(ctx: CallContext): number {
  return Math.max(0, ctx.deadline - (ctx.now ?? Date.now)());
}

/** The endpoint a call goes to first: the followed active one, else the best HEALTHY one. */
export function firstTarget(ctx: CallContext): EndpointView | undefined {
  return ctx.follower.active(ctx.service.name) ?? ctx.follower.healthyBackups(ctx.service.name)[0];
}

/**
 * Where an idempotent read goes first: {@link firstTarget}, unless its breaker is open, then the best
 * HEALTHY endpoint whose breaker is not open (the active one when there is none).
 */
export function readTarget(ctx: CallContext): EndpointView | undefined {
  const first = firstTarget(ctx);
  const b = ctx.breakers;
  if (!first || !b || b.allow(ctx.service.name, first.id)) return first;
  return retryTarget(ctx, [first.id]) ?? first;
}

/**
 * The best HEALTHY endpoint of the service that is not one of `tried` (ids), preferring one whose breaker
 * is not open. Never a DOWN, DEGRADED or UNKNOWN endpoint, nor the active one.
 */
export function retryTarget(ctx: CallContext, tried: readonly string[]): EndpointView | undefined {
  const name = ctx.service.name;
  const candidates = ctx.follower.healthyBackups(name).filter((e) => !tried.includes(e.id));
  const b = ctx.breakers;
  return (b && candidates.find((e) => !b.blocked(name, e.id))) || candidates[0];
}

/**
 * One attempt on `target`, bounded by the attempt timeout and the call's deadline; its outcome is
 * recorded in the target's breaker (an answer closes it, a transport failure opens it; `aborted` is not
 * recorded here: the hedge decides).
 */
export async function attempt(
  ctx: CallContext,
  target: EndpointView,
  body: Buffer | string,
  handle?: AttemptHandle,
  cls?: MethodClass,
): Promise<AttemptResult> {
  const t0 = ctx.latency && cls ? performance.now() : 0;
  const r = await ctx.upstreams.send(
    target.uri,
    body,
    Math.max(1, Math.min(ctx.attemptTimeoutMs, remaining(ctx))),
    handle,
  );
  if (t0 && r.ok) ctx.latency!.observe(target.id, cls!, performance.now() - t0);
  const b = ctx.breakers;
  if (b) {
    if (r.ok) b.success(ctx.service.name, target.id);
    else if (r.reason !== "aborted") b.failure(ctx.service.name, target.id);
  }
  return r;
}

/**
 * Route one call of class `cls` (serialized as `body`) by the rules in the file comment: for `read` and
 * `head`, the breaker's choice of first endpoint, then one retry or hedge on the best HEALTHY endpoint;
 * for `other`, the active endpoint only. Never throws.
 */
export async function route(ctx: CallContext, cls: MethodClass, body: Buffer | string): Promise<Routed> {
  const idempotent = cls === "read" || cls === "head";
  const first = idempotent ? readTarget(ctx) : firstTarget(ctx);
  if (!first) {
    return {
      ok: false,
      reason: "no_endpoint",
      detail: `service ${ctx.service.name} has no endpoint to route to (none answered chain id ${ctx.service.expectedChainId})`,
      mayHaveReached: false,
    };
  }
  const name = ctx.service.name;
  const budget1 = remaining(ctx);
  const h1: AttemptHandle = {};
  const p1 = attempt(ctx, first, body, h1, cls);
  const ceiling = idempotent ? (ctx.hedgeAfterMs ?? 0) : 0;
  const hedgeAfter = ceiling > 0 && ctx.latency ? ctx.latency.hedgeAfter(first.id, cls) : ceiling;
  const r1 = hedgeAfter > 0 && hedgeAfter < budget1 ? await within(p1, hedgeAfter) : await p1;
  if (r1 && r1.ok) return { ok: true, answer: r1.answer, via: first, retried: false, spent: false };
  // Avoid the endpoint that failed, and the active one when the breaker sent the read elsewhere.
  const active = ctx.follower.active(name)?.id;
  const backup = idempotent ? retryTarget(ctx, active ? [first.id, active] : [first.id]) : undefined;
  const log = ctx.logger.child({ service: name, endpointId: first.id });
  if (!r1) return hedge(ctx, cls, first, p1, h1, backup, body, log);
  if (!backup || remaining(ctx) <= 0) {
    log.debug({ reason: r1.reason, detail: r1.detail }, "call failed, no retry");
    return failure(ctx, r1, budget1);
  }
  const budget2 = remaining(ctx);
  const r2 = await attempt(ctx, backup, body, undefined, cls);
  ctx.metrics?.retries.inc({ service: name, class: cls, outcome: r2.ok ? "ok" : "failed" });
  log.debug(
    { reason: r1.reason, retryEndpointId: backup.id, retryOk: r2.ok },
    "retried on a HEALTHY endpoint",
  );
  if (r2.ok) return { ok: true, answer: r2.answer, via: backup, retried: true, spent: true };
  return failure(ctx, r2, budget2, r1.mayHaveReached);
}

/**
 * The first attempt (`p1` on `first`) is silent after `hedgeAfterMs`: send the same read to `backup` and
 * take the first answer; the other attempt is aborted. A first endpoint that loses the race is recorded
 * as failed in its breaker (it was slower than a HEALTHY one). Without a backup, wait for `p1`.
 */
async function hedge(
  ctx: CallContext,
  cls: MethodClass,
  first: EndpointView,
  p1: Promise<AttemptResult>,
  h1: AttemptHandle,
  backup: EndpointView | undefined,
  body: Buffer | string,
  log: Logger,
): Promise<Routed> {
  const name = ctx.service.name;
  const budget = remaining(ctx);
  if (!backup || budget <= 0) {
    const r1 = await p1;
    if (r1.ok) return { ok: true, answer: r1.answer, via: first, retried: false, spent: false };
    return failure(ctx, r1, budget);
  }
  const h2: AttemptHandle = {};
  const p2 = attempt(ctx, backup, body, h2, cls);
  const tagged = [p1.then((r) => ({ r, i: 0 })), p2.then((r) => ({ r, i: 1 }))];
  let w = await Promise.race(tagged);
  if (!w.r.ok) w = await tagged[1 - w.i]; // one failed: the other may still answer
  const other = await (w.r.ok ? abortOther(w.i === 0 ? h2 : h1, tagged[1 - w.i]) : tagged[w.i]);
  const outcome = w.r.ok ? (w.i === 1 ? "won" : "lost") : "failed";
  ctx.metrics?.hedges.inc({ service: name, class: cls, outcome });
  if (w.r.ok && w.i === 1 && other.r.ok === false && other.r.reason === "aborted") {
    ctx.breakers?.failure(name, first.id); // silent while a HEALTHY endpoint answered
  }
  log.debug({ hedgeEndpointId: backup.id, outcome }, "hedged a read on a HEALTHY endpoint");
  if (w.r.ok) {
    const via = w.i === 0 ? first : backup;
    return { ok: true, answer: w.r.answer, via, retried: w.i === 1, spent: true };
  }
  const r1 = (await tagged[0]).r as Exclude<AttemptResult, { ok: true }>;
  const r2 = (await tagged[1]).r as Exclude<AttemptResult, { ok: true }>;
  return failure(ctx, r2, budget, r1.mayHaveReached);
}

function abortOther<T>(h: AttemptHandle, p: Promise<T>): Promise<T> {
  h.abort?.();
  return p;
}

/** `p`'s result if it settles within `ms`, else undefined (`p` keeps running). `p` must not reject. */
function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  return new Promise((resolve) => {
    // One I/O turn late: after an event-loop stall, an answer already received settles `p` first.
    const t = setTimeout(() => setImmediate(() => resolve(undefined)), ms);
    void p.then((v) => {
      clearTimeout(t);
      resolve(v);
    });
  });
}

/** A failed call; a timeout of an attempt that had only the rest of the deadline (`budget` ms) is `timeout`. */
function failure(
  ctx: CallContext,
  r: Exclude<AttemptResult, { ok: true }>,
  budget: number,
  reachedBefore = false,
): Routed & { ok: false } {
  const timeout = r.reason === "timeout" && budget <= ctx.attemptTimeoutMs;
  return {
    ok: false,
    reason: timeout ? "timeout" : "failed",
    detail: timeout ? `deadline passed (${r.detail})` : r.detail,
    mayHaveReached: reachedBefore || r.mayHaveReached,
  };
}
