/**
 * Routing and the retry rule for one call: the rule core the `vigil gateway` (keepers/gateway/, an HTTP
 * front on it) and the client libraries (./router.ts) share. A call goes to the service's active endpoint as the follower
 * reads it from the registry. Between an endpoint failing and the migration landing on-chain, a transport
 * failure or a timeout of an idempotent read (`read`, `head`) is retried ONCE, on the best endpoint that is
 * HEALTHY on-chain and serves the service's chain id (never a DOWN, DEGRADED or UNKNOWN one). A JSON-RPC
 * error answer (a revert, an invalid parameter) is the node's answer and is passed on as it is: another
 * node would give the same, and retrying it would hide it behind a second delay. Other methods (filters,
 * subscriptions, anything with state on one node, unknown methods) go to the active endpoint only.
 */
import type { EndpointView, FollowedService, RegistryFollower } from "./follow";
import type { Logger } from "../shared/logger";
import type { GatewayMetrics, MethodClass } from "./metrics";
import type { AttemptResult, RpcAnswer, UpstreamSender } from "./upstream";

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

/** What one call needs to be routed: the follower, the connections, its deadline and where to count. */
export interface CallContext {
  service: FollowedService;
  follower: RegistryFollower;
  upstreams: UpstreamSender;
  /** Absolute deadline of the call, ms since the epoch. */
  deadline: number;
  /** Longest single attempt, ms. */
  attemptTimeoutMs: number;
  /** Where to count (the `vigil_gateway_*` set); undefined: nothing is counted. */
  metrics?: GatewayMetrics;
  logger: Logger;
  /** Clock (tests may inject one); default `Date.now`. */
  now?: () => number;
}

/** A routed call's outcome: the node's answer and who gave it, or why there is none. */
export type Routed =
  | { ok: true; answer: RpcAnswer; via: EndpointView; retried: boolean }
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

/** The best HEALTHY endpoint of the service that is not one of `tried` (ids). */
export function retryTarget(ctx: CallContext, tried: readonly string[]): EndpointView | undefined {
  return ctx.follower.healthyBackups(ctx.service.name).find((e) => !tried.includes(e.id));
}

/** One attempt on `target`, bounded by the attempt timeout and the call's deadline. */
export function attempt(
  ctx: CallContext,
  target: EndpointView,
  body: Buffer | string,
): Promise<AttemptResult> {
  return ctx.upstreams.send(target.uri, body, Math.max(1, Math.min(ctx.attemptTimeoutMs, remaining(ctx))));
}

/**
 * Route one call of class `cls` (serialized as `body`): the active endpoint, then, for `read` and `head` after
 * a transport failure or timeout and while the deadline allows, one retry on the best HEALTHY endpoint.
 * Never throws.
 */
export async function route(ctx: CallContext, cls: MethodClass, body: Buffer | string): Promise<Routed> {
  const first = firstTarget(ctx);
  if (!first) {
    return {
      ok: false,
      reason: "no_endpoint",
      detail: `service ${ctx.service.name} has no endpoint to route to (none answered chain id ${ctx.service.expectedChainId})`,
      mayHaveReached: false,
    };
  }
  const budget1 = remaining(ctx);
  const r1 = await attempt(ctx, first, body);
  if (r1.ok) return { ok: true, answer: r1.answer, via: first, retried: false };
  const log = ctx.logger.child({ service: ctx.service.name, endpointId: first.id });
  const retryable = cls === "read" || cls === "head";
  const backup = retryable ? retryTarget(ctx, [first.id]) : undefined;
  if (!backup || remaining(ctx) <= 0) {
    log.debug({ reason: r1.reason, detail: r1.detail }, "call failed, no retry");
    return failure(ctx, r1, budget1);
  }
  const budget2 = remaining(ctx);
  const r2 = await attempt(ctx, backup, body);
  ctx.metrics?.retries.inc({ service: ctx.service.name, class: cls, outcome: r2.ok ? "ok" : "failed" });
  log.debug(
    { reason: r1.reason, retryEndpointId: backup.id, retryOk: r2.ok },
    "retried on a HEALTHY endpoint",
  );
  if (r2.ok) return { ok: true, answer: r2.answer, via: backup, retried: true };
  return failure(ctx, r2, budget2, r1.mayHaveReached);
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
