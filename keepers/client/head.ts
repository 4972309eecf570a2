/**
 * No time travel: a client of a service never sees its head go backwards through the gateway, whichever
 * endpoint answers. The gateway keeps the highest block number it served per service (from
 * `eth_blockNumber` and `eth_getBlockByNumber("latest")` answers). An answer below it, typically from the
 * endpoint a migration just moved to, which is a few blocks behind the one that failed:
 * 1. is retried ONCE on the best other endpoint that is HEALTHY on-chain (never DOWN or UNKNOWN), unless
 *    the call already spent its one retry or hedge (./routing.ts); an answer not below the highest served
 *    is served (`retried`);
 * 2. otherwise, for `eth_blockNumber`, the gateway answers the highest block number it served (`held`):
 *    a client polling the head sees it pause until the new endpoint catches up, never step back;
 * 3. otherwise, for `eth_getBlockByNumber("latest")`, it answers a JSON-RPC error (code -32000, data
 *    `{ headBehind: true, highestServed }`), since no endpoint at hand has that block to give (`refused`);
 *    clients retry reads.
 * Decided so because a block number can be held honestly (the block exists: it was served) while a block
 * object cannot be made up. The highest served is per process; a gateway restart starts again from the
 * first answer. Hedged reads change nothing here: whichever endpoint's answer won the race is checked.
 */
import { toQuantity } from "ethers";
import { attempt, retryTarget, route, type CallContext, type Routed, type RpcRequest } from "./routing";
import type { RpcAnswer } from "./upstream";

/** JSON-RPC error code of a head that cannot be served without going back. */
export const HEAD_BEHIND_CODE = -32000;

/** Highest block number served, per service name. */
export class HeadTracker {
  private readonly _highest = new Map<string, bigint>();

  /** The highest block number served for `service`, or undefined before the first. */
  highest(service: string): bigint | undefined {
    return this._highest.get(service);
  }

  /** Record that `n` was served for `service` (keeps the maximum). */
  served(service: string, n: bigint): void {
    const h = this._highest.get(service);
    if (h === undefined || n > h) this._highest.set(service, n);
  }
}

/** The block number in a head answer: a quantity (`eth_blockNumber`) or a block's `number`; undefined if none. */
export function headOf(method: string, result: unknown): bigint | undefined {
  try {
    if (method === "eth_blockNumber" && typeof result === "string") return BigInt(result);
    if (typeof result === "object" && result !== null) {
      const n = (result as { number?: unknown }).number;
      if (typeof n === "string") return BigInt(n);
    }
  } catch {
    return undefined;
  }
  return undefined;
}

/** The outcome of a head call: what to answer, and how it was decided. */
export type HeadOutcome =
  | { kind: "routed"; routed: Routed }
  | { kind: "retried"; answer: RpcAnswer }
  | { kind: "held"; answer: RpcAnswer }
  | { kind: "refused"; answer: RpcAnswer };

/**
 * Route a `head` call (see the file comment for the rule). `body` is the request serialized.
 * Counts every answer below the highest served in `vigil_gateway_time_travel_refusals_total`.
 */
export async function routeHead(
  ctx: CallContext,
  req: RpcRequest,
  body: Buffer | string,
  heads: HeadTracker,
): Promise<HeadOutcome> {
  const name = ctx.service.name;
  const routed = await route(ctx, "head", body);
  if (!routed.ok || routed.answer.error) return { kind: "routed", routed };
  const n = headOf(req.method, routed.answer.result);
  let highest = heads.highest(name);
  if (n === undefined || highest === undefined || n >= highest) {
    if (n !== undefined) record(ctx, heads, n);
    return { kind: "routed", routed };
  }
  const other = retryTarget(ctx, [routed.via.id]);
  if (other && !routed.spent) {
    const r = await attempt(ctx, other, body);
    ctx.metrics?.retries.inc({ service: name, class: "head", outcome: r.ok ? "ok" : "failed" });
    const n2 = r.ok && !r.answer.error ? headOf(req.method, r.answer.result) : undefined;
    highest = heads.highest(name)!; // other calls may have served a higher head meanwhile
    if (r.ok && n2 !== undefined && n2 >= highest) {
      record(ctx, heads, n2);
      ctx.metrics?.timeTravel.inc({ service: name, action: "retried" });
      return { kind: "retried", answer: r.answer };
    }
  }
  ctx.logger.debug(
    { service: name, endpointId: routed.via.id, answered: n.toString(), highest: highest.toString() },
    "head behind the highest served; not answered",
  );
  if (req.method === "eth_blockNumber") {
    ctx.metrics?.timeTravel.inc({ service: name, action: "held" });
    return { kind: "held", answer: { jsonrpc: "2.0", id: req.id, result: toQuantity(highest) } };
  }
  ctx.metrics?.timeTravel.inc({ service: name, action: "refused" });
  return {
    kind: "refused",
    answer: {
      jsonrpc: "2.0",
      id: req.id,
      error: {
        code: HEAD_BEHIND_CODE,
        message: `head behind: block ${highest} was already served and the endpoints at hand are behind it; retry`,
        data: { headBehind: true, highestServed: toQuantity(highest) },
      },
    },
  };
}

function record(ctx: CallContext, heads: HeadTracker, n: bigint): void {
  heads.served(ctx.service.name, n);
  ctx.metrics?.head.set({ service: ctx.service.name }, Number(heads.highest(ctx.service.name)));
}
