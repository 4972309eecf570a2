/**
 * JSON-RPC probe: `eth_chainId` and `eth_getBlockByNumber("latest")` in parallel over raw `fetch`
 * (no ethers provider: no retries, no network detection, no batching a node could refuse), then a
 * PURE evaluation against the context the attestor knows: the expected chain, the latest heads of
 * the service's other endpoints, the sliding error rate.
 */
import { performance } from "node:perf_hooks";
import type { ScoreInput } from "../score";
import { jsonRpcCall, parseHash, parseQuantity, ProbeFailure, type FetchFn } from "./transport";

/** The latest block as an endpoint reports it. */
export interface RpcHead {
  chainId: number;
  number: number;
  /** Lower-case 0x hash. */
  hash: string;
  /** Block timestamp, Unix seconds. */
  timestamp: number;
}

export interface RpcProbeResult {
  /** Wall time of the two parallel calls, ms. */
  latencyMs: number;
  head: RpcHead;
}

export interface ProbeOptions {
  timeoutMs: number;
  fetch?: FetchFn;
}

/**
 * Probe one JSON-RPC endpoint. Throws {@link ProbeFailure} (`timeout`, `unreachable`, `http_status`,
 * `invalid_response`, `rpc_error`); validates every field it uses.
 */
export async function probeJsonRpc(url: string, options: ProbeOptions): Promise<RpcProbeResult> {
  const signal = AbortSignal.timeout(options.timeoutMs);
  const req = { signal, fetch: options.fetch };
  const started = performance.now();
  const [chainIdRaw, blockRaw] = await Promise.all([
    jsonRpcCall(url, "eth_chainId", [], req),
    jsonRpcCall(url, "eth_getBlockByNumber", ["latest", false], req),
  ]);
  const latencyMs = performance.now() - started;
  const chainId = parseQuantity(chainIdRaw, "eth_chainId");
  if (typeof blockRaw !== "object" || blockRaw === null || Array.isArray(blockRaw)) {
    throw new ProbeFailure("invalid_response", "latest block is not an object");
  }
  const b = blockRaw as Record<string, unknown>;
  return {
    latencyMs,
    head: {
      chainId,
      number: parseQuantity(b.number, "block.number"),
      hash: parseHash(b.hash, "block.hash"),
      timestamp: parseQuantity(b.timestamp, "block.timestamp"),
    },
  };
}

/** A peer endpoint's latest head, as seen in its own most recent probe. */
export interface PeerHead {
  number: number;
  hash: string;
  chainId: number;
}

export interface RpcContext {
  /** Now, Unix seconds (fractional allowed). */
  nowSec: number;
  /**
   * The chain the service must serve (`expectedChainIds`); undefined when unknown: then the chain is
   * not judged, and the attestor does not sign the result.
   */
  expectedChainId?: number;
  /** Latest heads of the service's OTHER JSON-RPC endpoints (fresh ones only), on any chain. */
  peers: readonly PeerHead[];
  /** Failed share of the recent probes, 0..1. */
  errorRate: number;
  /** A block timestamp further than this in the future is an invalid response, s. */
  maxFutureSec: number;
}

/** Median of a non-empty list (mean of the two middle values for an even count). */
export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/**
 * Turn a probe result into score input. PURE.
 * - wrong chain (vs `expectedChainId`) ⇒ `wrong_chain`;
 * - a block timestamp beyond `maxFutureSec` ahead ⇒ `invalid_response`;
 * - hash cross-check (THREATS #28): when at least two peers on our chain report the same height
 *   with one hash, none reports ours, and ours differs ⇒ `fork`;
 * - head age = now − block timestamp (≥ 0); lag = median head of peers on our chain − our head
 *   (≥ 0; absent without such peers).
 *
 * Lag and hash checks only ever compare heads of ONE chain: a peer that reports another chain id
 * than this endpoint is ignored (it is judged `wrong_chain` on its own probe). Otherwise a
 * wrong-chain peer with a far higher head would make an honest endpoint look lagging.
 */
export function evaluateJsonRpc(result: RpcProbeResult, ctx: RpcContext): ScoreInput {
  const { head } = result;
  if (ctx.expectedChainId !== undefined && head.chainId !== ctx.expectedChainId) {
    return { failure: "wrong_chain" };
  }
  if (head.timestamp > ctx.nowSec + ctx.maxFutureSec) return { failure: "invalid_response" };
  const peers = ctx.peers.filter((p) => p.chainId === head.chainId);
  const sameHeight = peers.filter((p) => p.number === head.number);
  if (sameHeight.length >= 2 && !sameHeight.some((p) => p.hash === head.hash)) {
    const first = sameHeight[0].hash;
    if (sameHeight.every((p) => p.hash === first)) return { failure: "fork" };
  }
  return {
    latencyMs: result.latencyMs,
    errorRate: ctx.errorRate,
    headAgeSec: Math.max(0, ctx.nowSec - head.timestamp),
    lagBlocks: peers.length ? Math.max(0, median(peers.map((p) => p.number)) - head.number) : undefined,
  };
}
