/** An RPC pool's member: its provider, and what a fan-out returns per member. */
import { FetchRequest, JsonRpcProvider, type Network } from "ethers";

export interface RpcMember {
  readonly index: number;
  /** The URL cut to its origin (an API key in the path or query never reaches a log or a metric). */
  readonly label: string;
  /** The member's own provider (static network, no cache, requests bounded by the pool's `timeoutMs`). */
  readonly provider: JsonRpcProvider;
}

/** One member's outcome of a fan-out (`RpcPool.each`). */
export type Settled<T> =
  { member: RpcMember; ok: true; value: T } | { member: RpcMember; ok: false; error: unknown };

/**
 * One member's provider: the configured network (no detection), no batching, no answer cache (a stale `pending`
 * nonce right after a send gives "nonce too low"), and the HTTP request cut at `timeoutMs` so a hung node's
 * socket is closed when the pool's deadline passes.
 */
export function memberProvider(url: string, network: Network, timeoutMs: number): JsonRpcProvider {
  const req = new FetchRequest(url);
  req.timeout = timeoutMs;
  return new JsonRpcProvider(req, network, { staticNetwork: network, batchMaxCount: 1, cacheTimeout: -1 });
}
