import { expect } from "chai";
import { FakeRpcServer } from "../../scripts/bench/fakeRpc";
import { evaluateHttp, probeHttp } from "../../keepers/attestor/probes/http";
import { evaluateJsonRpc, probeJsonRpc, type RpcContext } from "../../keepers/attestor/probes/jsonRpc";
import { evaluateFeed, parseCaip10, probeFeed } from "../../keepers/attestor/probes/oracleFeed";
import { ProbeFailure, parseQuantity } from "../../keepers/attestor/probes/transport";
import { attestorConfigSchema } from "../../keepers/attestor/config";
import { DEFAULT_THRESHOLDS, score } from "../../keepers/attestor/score";

async function failureOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect(e).to.be.instanceOf(ProbeFailure);
    return (e as ProbeFailure).failure;
  }
  return "none";
}

describe("attestor probes", function () {
  let server: FakeRpcServer;
  const now = () => Date.now() / 1000;
  const ctx = (over: Partial<RpcContext> = {}): RpcContext => ({
    nowSec: now(),
    expectedChainId: 31337,
    errorRate: 0,
    maxFutureSec: 30,
    ...over,
  });
  const rpcScore = async (path: string, over: Partial<RpcContext> = {}) => {
    const r = await probeJsonRpc(server.url(path), { timeoutMs: 500 });
    return score(evaluateJsonRpc(r, ctx(over)), DEFAULT_THRESHOLDS.jsonRpc);
  };

  before(async function () {
    server = await new FakeRpcServer().start();
  });
  after(async function () {
    await server.close();
  });

  describe("JSON-RPC", function () {
    it("scores a fresh node on the right chain 10000", async function () {
      server.reset("/ok", { chainId: 31337, blockNumber: 500 });
      expect(await rpcScore("/ok")).to.equal(10_000);
    });

    it("scores a node on another chain 0 (wrong_chain)", async function () {
      server.reset("/wrong", { chainId: 1 });
      const r = await probeJsonRpc(server.url("/wrong"), { timeoutMs: 500 });
      expect(evaluateJsonRpc(r, ctx())).to.deep.equal({ failure: "wrong_chain" });
    });

    it("scores a stale head (5 min old) below 5000", async function () {
      server.reset("/stale", { blockTimestamp: Math.floor(now()) - 300 });
      expect(await rpcScore("/stale")).to.equal(0);
    });

    it("measures lag against the reference head it is given", async function () {
      server.reset("/behind", { blockNumber: 90 });
      const r = await probeJsonRpc(server.url("/behind"), { timeoutMs: 500 });
      const input = evaluateJsonRpc(r, ctx({ referenceHead: 100 }));
      expect(input).to.include({ lagBlocks: 10 });
      expect(score(input, DEFAULT_THRESHOLDS.jsonRpc)).to.equal(0);
    });

    it("measures no lag without a reference head, and none when ahead of it", async function () {
      server.reset("/lagnone", { blockNumber: 100 });
      const r = await probeJsonRpc(server.url("/lagnone"), { timeoutMs: 500 });
      expect(evaluateJsonRpc(r, ctx())).to.include({ lagBlocks: undefined });
      expect(evaluateJsonRpc(r, ctx({ referenceHead: 90 }))).to.include({ lagBlocks: 0 });
    });

    for (const kind of ["fork", "no_majority", "unverified_head"] as const) {
      it(`scores a ${kind} parity verdict 0 with that failure, whatever its lag`, async function () {
        server.reset("/fork", { blockNumber: 100 });
        const r = await probeJsonRpc(server.url("/fork"), { timeoutMs: 500 });
        const parity = { kind, detail: "x" };
        expect(evaluateJsonRpc(r, ctx({ parity, referenceHead: 100 }))).to.deep.equal({ failure: kind });
      });
    }

    it("judges the chain before parity: a wrong-chain node is wrong_chain, not fork", async function () {
      server.reset("/wrongfork", { chainId: 5 });
      const r = await probeJsonRpc(server.url("/wrongfork"), { timeoutMs: 500 });
      const parity = { kind: "fork" as const, detail: "x" };
      expect(evaluateJsonRpc(r, ctx({ parity }))).to.deep.equal({ failure: "wrong_chain" });
    });

    it("scores a node answering in 1.2 s DEGRADED under the default policy, not a failure", async function () {
      server.reset("/slow12", { delayMs: 1_200 });
      const config = attestorConfigSchema.parse({
        chain: { rpcUrls: ["http://127.0.0.1:1"], chainId: 31337 },
        contracts: { oracle: "0x" + "99".repeat(20), registry: "0x" + "88".repeat(20) },
        services: ["0x" + "5".repeat(64)],
      });
      const r = await probeJsonRpc(server.url("/slow12"), { timeoutMs: config.timeoutMs });
      const bps = score(evaluateJsonRpc(r, ctx()), config.thresholds.jsonRpc);
      // Between the latency bound (1 s) and the timeout (4 s) the latency factor is 0.6..0.8: DEGRADED
      // (downBelowBps 5000 ≤ bps < upAtBps 8000), however slow the machine makes the answer short of the timeout.
      expect(bps).to.be.at.least(6_000).and.below(8_000);
    });

    it("scores a slow node (latency over the max) DEGRADED", async function () {
      server.reset("/slow", { delayMs: 350 });
      const r = await probeJsonRpc(server.url("/slow"), { timeoutMs: 2_000 });
      const thresholds = { ...DEFAULT_THRESHOLDS.jsonRpc, latencyMs: { ok: 50, max: 300, floor: 0.6 } };
      const bps = score(evaluateJsonRpc(r, ctx()), thresholds);
      expect(bps).to.equal(6_000);
    });

    it("times out a hung socket that never answers", async function () {
      server.reset("/hang", { hang: true });
      const started = Date.now();
      expect(await failureOf(probeJsonRpc(server.url("/hang"), { timeoutMs: 200 }))).to.equal("timeout");
      expect(Date.now() - started).to.be.lessThan(5_000);
    });

    it("reports a refused connection as unreachable", async function () {
      expect(await failureOf(probeJsonRpc("http://127.0.0.1:9/", { timeoutMs: 500 }))).to.equal(
        "unreachable",
      );
    });

    const hostile: Array<[string, object, string]> = [
      ["malformed JSON", { rawBody: "{not json" }, "invalid_response"],
      ["a JSON array", { rawBody: "[]" }, "invalid_response"],
      ["a JSON-RPC error object", { rpcError: true }, "rpc_error"],
      ["HTTP 503", { status: 503 }, "http_status"],
      ["a huge chain id", { results: { eth_chainId: "0x" + "f".repeat(64) } }, "invalid_response"],
      ["a non-hex chain id", { results: { eth_chainId: "0xzz" } }, "invalid_response"],
      ["a decimal chain id", { results: { eth_chainId: 31337 } }, "invalid_response"],
      ["a null block", { results: { eth_getBlockByNumber: null } }, "invalid_response"],
      [
        "a block number above 2^53",
        {
          results: {
            eth_getBlockByNumber: {
              number: "0x20000000000000",
              hash: "0x" + "1".repeat(64),
              timestamp: "0x1",
            },
          },
        },
        "invalid_response",
      ],
      [
        "a short block hash",
        { results: { eth_getBlockByNumber: { number: "0x1", hash: "0x1234", timestamp: "0x1" } } },
        "invalid_response",
      ],
      [
        "a timestamp with leading zeros",
        {
          results: {
            eth_getBlockByNumber: { number: "0x1", hash: "0x" + "1".repeat(64), timestamp: "0x0001" },
          },
        },
        "invalid_response",
      ],
      [
        "a body over the size cap",
        { rawBody: JSON.stringify({ pad: "x".repeat(1_100_000) }) },
        "invalid_response",
      ],
    ];
    for (const [name, behaviour, want] of hostile) {
      it(`rejects ${name} as ${want}`, async function () {
        server.reset("/hostile", behaviour);
        expect(await failureOf(probeJsonRpc(server.url("/hostile"), { timeoutMs: 2_000 }))).to.equal(want);
      });
    }

    it("rejects a block timestamp far in the future", async function () {
      server.reset("/future", { blockTimestamp: Math.floor(now()) + 3_600 });
      const r = await probeJsonRpc(server.url("/future"), { timeoutMs: 500 });
      expect(evaluateJsonRpc(r, ctx())).to.deep.equal({ failure: "invalid_response" });
    });
  });

  describe("helpers", function () {
    it("parses quantities strictly", function () {
      expect(parseQuantity("0x0", "x")).to.equal(0);
      expect(parseQuantity("0x1f", "x")).to.equal(31);
      expect(() => parseQuantity("0x", "x")).to.throw(ProbeFailure);
      expect(() => parseQuantity("1f", "x")).to.throw(ProbeFailure);
    });
    it("parses CAIP-10 feed ids", function () {
      expect(parseCaip10("eip155:1:0x5f4ec3df9cbd43714fe2740f5e3616155c5b8419")?.chainId).to.equal(1);
      expect(parseCaip10("eip155:0:0x5f4ec3df9cbd43714fe2740f5e3616155c5b8419")).to.equal(undefined);
      expect(parseCaip10("cosmos:1:abc")).to.equal(undefined);
    });
  });

  describe("HTTP", function () {
    it("scores a 200 answer 10000", async function () {
      server.reset("/web", {});
      const r = await probeHttp(server.url("/web"), { timeoutMs: 500 });
      expect(r.status).to.equal(200);
      expect(score(evaluateHttp(r, 0), DEFAULT_THRESHOLDS.http)).to.equal(10_000);
    });
    it("fails a 500 answer with http_status", async function () {
      server.reset("/web500", { status: 500 });
      expect(await failureOf(probeHttp(server.url("/web500"), { timeoutMs: 500 }))).to.equal("http_status");
    });
    it("times out a hung front end", async function () {
      server.reset("/webhang", { hang: true });
      expect(await failureOf(probeHttp(server.url("/webhang"), { timeoutMs: 200 }))).to.equal("timeout");
    });
  });

  describe("oracle feed", function () {
    const feedAt = (over: object) => ({
      roundId: 10n,
      answer: 2000n,
      startedAt: 1n,
      updatedAt: 1n,
      answeredInRound: 10n,
      ...over,
    });
    const address = { chainId: 31337, address: "0x5f4eC3Df9cbd43714FE2740f5E3616155c5b8419" };
    const feedCtx = { expectedChainId: 31337, errorRate: 0, maxFutureSec: 30, sequencer: false };
    const feedScore = async (over: object, sequencer = false) => {
      server.reset("/feed", { feed: feedAt({ updatedAt: BigInt(Math.floor(now()) - 60), ...over }) });
      const r = await probeFeed(server.url("/feed"), address, { timeoutMs: 500 });
      const input = evaluateFeed(r, { ...feedCtx, nowSec: now(), sequencer });
      return { input, bps: score(input, DEFAULT_THRESHOLDS.oracleFeed) };
    };

    it("scores a fresh positive answer 10000", async function () {
      expect((await feedScore({})).bps).to.equal(10_000);
    });
    it("scores a stale feed (2 h, heartbeat 1 h) 0", async function () {
      expect((await feedScore({ updatedAt: BigInt(Math.floor(now()) - 7_200) })).bps).to.equal(0);
    });
    it("rejects a non-positive answer", async function () {
      expect((await feedScore({ answer: 0n })).input).to.deep.equal({ failure: "feed_invalid" });
      expect((await feedScore({ answer: -5n })).input).to.deep.equal({ failure: "feed_invalid" });
    });
    it("rejects an incomplete round (answeredInRound < roundId, updatedAt 0)", async function () {
      expect((await feedScore({ answeredInRound: 9n })).input).to.deep.equal({ failure: "feed_invalid" });
      expect((await feedScore({ updatedAt: 0n })).input).to.deep.equal({ failure: "feed_invalid" });
    });
    it("reads a sequencer uptime feed: 0 up, 1 down", async function () {
      expect((await feedScore({ answer: 0n }, true)).bps).to.equal(10_000);
      expect((await feedScore({ answer: 1n }, true)).input).to.deep.equal({ failure: "sequencer_down" });
    });
    it("rejects short return data", async function () {
      server.reset("/feedshort", { results: { eth_call: "0x1234" } });
      expect(await failureOf(probeFeed(server.url("/feedshort"), address, { timeoutMs: 500 }))).to.equal(
        "invalid_response",
      );
    });
    it("fails a feed read through an RPC of another chain", async function () {
      server.reset("/feedwrong", { chainId: 5, feed: feedAt({ updatedAt: BigInt(Math.floor(now())) }) });
      const r = await probeFeed(server.url("/feedwrong"), address, { timeoutMs: 500 });
      expect(evaluateFeed(r, { ...feedCtx, nowSec: now() })).to.deep.equal({ failure: "wrong_chain" });
    });
  });
});
