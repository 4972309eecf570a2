/**
 * Oracle-feed probe: `latestRoundData()` of a Chainlink `AggregatorV3Interface` feed, read with a raw
 * `eth_call` through an RPC of the feed's chain (the endpoint's URI is a CAIP-10 account id,
 * `eip155:<chainId>:<address>`). Checks, per THREATS #12: the RPC serves the feed's chain, the round
 * is complete (`updatedAt > 0`, `answeredInRound >= roundId`), `answer > 0`, and staleness
 * (`now − updatedAt`) against the heartbeat thresholds. A Chainlink L2 sequencer uptime feed
 * (SEQUENCER_FEED) answers 0 when up and 1 when down.
 */
import { performance } from "node:perf_hooks";
import { AbiCoder, getAddress } from "ethers";
import type { ScoreInput } from "../score";
import { jsonRpcCall, parseData, parseQuantity, ProbeFailure, type FetchFn } from "./transport";

/** `latestRoundData()` selector. */
export const LATEST_ROUND_DATA = "0xfeaf968c";

export interface FeedAddress {
  chainId: number;
  address: string;
}

/** Parse `eip155:<chainId>:<address>` (CAIP-10). Undefined when malformed. */
export function parseCaip10(uri: string): FeedAddress | undefined {
  const m = /^eip155:([1-9][0-9]{0,15}):(0x[0-9a-fA-F]{40})$/.exec(uri.trim());
  if (!m) return undefined;
  const chainId = Number(m[1]);
  if (!Number.isSafeInteger(chainId)) return undefined;
  return { chainId, address: getAddress(m[2]) };
}

export interface RoundData {
  roundId: bigint;
  answer: bigint;
  startedAt: bigint;
  updatedAt: bigint;
  answeredInRound: bigint;
}

export interface FeedProbeResult {
  latencyMs: number;
  chainId: number;
  round: RoundData;
}

/** Decode the 5-word `latestRoundData` return; anything shorter is an `invalid_response`. */
export function decodeRoundData(data: string): RoundData {
  if (data.length < 2 + 5 * 64)
    throw new ProbeFailure("invalid_response", "latestRoundData: short return data");
  const [roundId, answer, startedAt, updatedAt, answeredInRound] = AbiCoder.defaultAbiCoder().decode(
    ["uint80", "int256", "uint256", "uint256", "uint80"],
    data,
  ) as unknown as bigint[];
  return { roundId, answer, startedAt, updatedAt, answeredInRound };
}

/** Probe one feed through `rpcUrl`. Throws {@link ProbeFailure}. */
export async function probeFeed(
  rpcUrl: string,
  feed: FeedAddress,
  options: { timeoutMs: number; fetch?: FetchFn },
): Promise<FeedProbeResult> {
  const signal = AbortSignal.timeout(options.timeoutMs);
  const req = { signal, fetch: options.fetch };
  const started = performance.now();
  const [chainIdRaw, dataRaw] = await Promise.all([
    jsonRpcCall(rpcUrl, "eth_chainId", [], req),
    jsonRpcCall(rpcUrl, "eth_call", [{ to: feed.address, data: LATEST_ROUND_DATA }, "latest"], req),
  ]);
  const latencyMs = performance.now() - started;
  return {
    latencyMs,
    chainId: parseQuantity(chainIdRaw, "eth_chainId"),
    round: decodeRoundData(parseData(dataRaw, "latestRoundData")),
  };
}

/**
 * Score input of a feed probe. PURE.
 * - RPC on another chain than the feed's ⇒ `wrong_chain`;
 * - `updatedAt == 0`, `answeredInRound < roundId`, or `updatedAt` beyond `maxFutureSec` ahead ⇒ `feed_invalid`;
 * - price feed: `answer <= 0` ⇒ `feed_invalid`; staleness = now − updatedAt;
 * - sequencer feed: `answer == 1` ⇒ `sequencer_down`, any value other than 0 or 1 ⇒ `feed_invalid`;
 *   no staleness (the feed only updates on change).
 */
export function evaluateFeed(
  result: FeedProbeResult,
  ctx: {
    nowSec: number;
    expectedChainId: number;
    errorRate: number;
    maxFutureSec: number;
    sequencer: boolean;
  },
): ScoreInput {
  const r = result.round;
  if (result.chainId !== ctx.expectedChainId) return { failure: "wrong_chain" };
  if (r.updatedAt === 0n || r.answeredInRound < r.roundId) return { failure: "feed_invalid" };
  if (r.updatedAt > BigInt(Math.floor(ctx.nowSec + ctx.maxFutureSec))) return { failure: "feed_invalid" };
  if (ctx.sequencer) {
    if (r.answer === 1n) return { failure: "sequencer_down" };
    if (r.answer !== 0n) return { failure: "feed_invalid" };
    return { latencyMs: result.latencyMs, errorRate: ctx.errorRate };
  }
  if (r.answer <= 0n) return { failure: "feed_invalid" };
  return {
    latencyMs: result.latencyMs,
    errorRate: ctx.errorRate,
    stalenessSec: Math.max(0, ctx.nowSec - Number(r.updatedAt)),
  };
}
