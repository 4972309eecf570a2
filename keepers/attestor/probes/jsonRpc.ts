/**
 * JSON-RPC probe: `eth_chainId` and `eth_getBlockByNumber("latest")` in parallel over raw `fetch`
 * (no ethers provider: no retries, no network detection, no batching a node could refuse), then a
 * PURE evaluation against the context the attestor knows: the expected chain, the latest heads of
 * the service's other endpoints, the sliding error rate.
 */
import { performance } from "node:perf_hooks";
import type { ParityVerdict } from "../parity";
import type { ScoreInput } from "../score";
import {
  jsonRpcCall,
  parseHash,
  parseQuantity,
  ProbeFailure,
  type FetchFn,
  type ProbeAgents,
} from "./transport";

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
  /** Connection pools: the SSRF guard's for a registry target (resolve.ts); default plain ones. */
  agents?: ProbeAgents;
}

/**
 * Probe one JSON-RPC endpoint. Throws {@link ProbeFailure} (`timeout`, `unreachable`, `http_status`,
 * `invalid_response`, `rpc_error`); validates every field it uses.
 */
export async function probeJsonRpc(url: string, options: ProbeOptions): Promise<RpcProbeResult> {
  const signal = AbortSignal.timeout(options.timeoutMs);
  const req = { signal, fetch: options.fetch, agents: options.agents };
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

/**
 * The hash of block `number` as the endpoint serves it (`eth_getBlockByNumber(number, false)`), lower-case 0x;
 * `null` when the endpoint answers that it has no such block. Throws {@link ProbeFailure} on a transport or
 * protocol failure, and `invalid_response` when the block returned is not the one asked for.
 * @param number Block number, a safe non-negative integer.
 */
export async function fetchBlockHash(
  url: string,
  number: number,
  options: ProbeOptions & { signal?: AbortSignal },
): Promise<string | null> {
  const signal = options.signal ?? AbortSignal.timeout(options.timeoutMs);
  const raw = await jsonRpcCall(url, "eth_getBlockByNumber", ["0x" + number.toString(16), false], {
    signal,
    fetch: options.fetch,
    agents: options.agents,
  });
  if (raw === null) return null;
  if (typeof raw !== "object" || Array.isArray(raw)) {
    throw new ProbeFailure("invalid_response", `block ${number} is not an object`);
  }
  const b = raw as Record<string, unknown>;
  if (parseQuantity(b.number, "block.number") !== number) {
    throw new ProbeFailure("invalid_response", `asked for block ${number}, got another`);
  }
  return parseHash(b.hash, "block.hash").toLowerCase();
}

export interface RpcContext {
  /** Now, Unix seconds (fractional allowed). */
  nowSec: number;
  /**
   * The chain the service must serve (`expectedChainIds`); undefined when unknown: then the chain is
   * not judged, and the attestor does not sign the result.
   */
  expectedChainId?: number;
  /**
   * This round's state-parity verdict on the endpoint (keepers/attestor/parity.ts); undefined when it was not
   * judged (then no parity failure applies).
   */
  parity?: ParityVerdict;
  /**
   * The head this endpoint's lag is measured against: the lower median of its verified same-chain peers'
   * heads (parity.ts `referenceHead`); undefined without peers (no lag measured).
   */
  referenceHead?: number;
  /** Failed share of the recent probes, 0..1. */
  errorRate: number;
  /** A block timestamp further than this in the future is an invalid response, s. */
  maxFutureSec: number;
}

/**
 * Turn a probe result into score input. PURE.
 * - wrong chain (vs `expectedChainId`) ⇒ `wrong_chain`;
 * - a block timestamp beyond `maxFutureSec` ahead ⇒ `invalid_response`;
 * - state parity (parity.ts, THREATS #28): another hash than the service's majority at the compared height ⇒
 *   `fork`; a tie with no reference ⇒ `no_majority`; a claimed head or compared block it cannot serve ⇒
 *   `unverified_head`;
 * - head age = now − block timestamp (≥ 0); lag = `referenceHead` − our head (≥ 0; absent without peers).
 *
 * Parity and lag only ever compare endpoints of ONE chain (the caller groups them by chain id): a peer on
 * another chain would otherwise make an honest endpoint look lagging or forked; it is judged `wrong_chain`
 * on its own probe.
 */
export function evaluateJsonRpc(result: RpcProbeResult, ctx: RpcContext): ScoreInput {
  const { head } = result;
  if (ctx.expectedChainId !== undefined && head.chainId !== ctx.expectedChainId) {
    return { failure: "wrong_chain" };
  }
  if (head.timestamp > ctx.nowSec + ctx.maxFutureSec) return { failure: "invalid_response" };
  const p = ctx.parity?.kind;
  if (p === "fork" || p === "no_majority" || p === "unverified_head") return { failure: p };
  return {
    latencyMs: result.latencyMs,
    errorRate: ctx.errorRate,
    headAgeSec: Math.max(0, ctx.nowSec - head.timestamp),
    lagBlocks: ctx.referenceHead === undefined ? undefined : Math.max(0, ctx.referenceHead - head.number),
  };
}
