/**
 * What the responder tells an operator, without a chain: the next block's time, expired reports (counted, logged at
 * debug, not warned about), faults logged once per change, the attestor quorum as gauges and a `/healthz` state,
 * and due-ness judged at the next block's time.
 */
import { Writable } from "node:stream";
import { expect } from "chai";
import type { TypedDataDomain } from "ethers";
import { evaluateResponses, type ChainContext, type FetchedResponse } from "../../keepers/responder/collect";
import {
  decideRecovery,
  Delivery,
  GuardCheck,
  MigrationCheck,
  type MarketView,
} from "../../keepers/responder/decide";
import { AttestorLog, QuorumWatch } from "../../keepers/responder/visibility";
import { nextBlockTime, readChainClock } from "../../keepers/shared/chain";
import { createLogger } from "../../keepers/shared/logger";
import { Metrics } from "../../keepers/shared/metrics";
import { KeeperServer } from "../../keepers/shared/server";
import { domainSeparator } from "../../keepers/shared/report";
import { endpointId, signReport, sortedWallets } from "./helpers/reports";

const DIGEST = "0x" + "ab".repeat(32);
const ROUND_S = 10;
const NOW = 1_700_000_005;
const IDS = [endpointId(1), endpointId(2)];
const DOMAIN: TypedDataDomain = {
  name: "Vigil HealthOracle",
  version: "2",
  chainId: 31337n,
  verifyingContract: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
};
const SEP = domainSeparator(DOMAIN);

const LEVELS: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };

/** Log lines (pino JSON) kept in memory, to assert on levels and messages. */
class LogSink extends Writable {
  readonly lines: Array<{ level: number; msg: string; [k: string]: unknown }> = [];
  override _write(chunk: Buffer, _enc: string, done: () => void): void {
    for (const l of chunk.toString().split("\n").filter(Boolean)) {
      const line = JSON.parse(l) as { level: number | string; msg: string };
      // pino writes the level as its label here (keepers/shared/logger.ts); compare as numbers.
      this.lines.push({ ...line, level: typeof line.level === "number" ? line.level : LEVELS[line.level] });
    }
    done();
  }
}

async function value(metrics: Metrics, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = await metrics.registry.getSingleMetric(name)?.get();
  return (m?.values ?? [])
    .filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))
    .reduce((a, v) => a + v.value, 0);
}

describe("responder visibility and clocks", function () {
  describe("nextBlockTime", function () {
    it("is the local clock when the latest block is older (an idle automining chain)", function () {
      expect(nextBlockTime(1_000, 5_000_000)).to.equal(5_000);
    });
    it("is never before the latest block + 1 (a slow local clock, or a chain ahead of it)", function () {
      expect(nextBlockTime(9_000, 5_000_000)).to.equal(9_001);
      expect(nextBlockTime(5_000, 5_000_999)).to.equal(5_001);
    });
    it("readChainClock reads the latest block once and estimates from it", async function () {
      const clock = await readChainClock(
        { getBlock: async () => ({ number: 7, timestamp: 100 }) as never },
        () => 250_500,
      );
      expect(clock).to.deep.equal({ block: 7, latest: 100, next: 250, source: "local" });
    });
    it("readChainClock takes the node's pending timestamp over the local clock, and reports the skew", async function () {
      const node = {
        getBlock: async (tag: string) =>
          (tag === "pending" ? { number: 8, timestamp: 400 } : { number: 7, timestamp: 100 }) as never,
      };
      // A local clock 5 minutes fast: without the node's answer every fresh report would look expired.
      expect(await readChainClock(node, () => 700_000)).to.deep.equal({
        block: 7,
        latest: 100,
        next: 400,
        source: "node",
        skewSec: 300,
      });
      // A slow local clock on an idle automining chain: the node's pending block still says "now".
      expect((await readChainClock(node, () => 50_000)).next).to.equal(400);
    });
    it("readChainClock falls back to the local estimate when the node refuses or echoes the pending tag", async function () {
      const refusing = {
        getBlock: async (tag: string) => {
          if (tag === "pending") throw new Error("unsupported block tag");
          return { number: 7, timestamp: 100 } as never;
        },
      };
      expect(await readChainClock(refusing, () => 250_500)).to.deep.equal({
        block: 7,
        latest: 100,
        next: 250,
        source: "local",
      });
    });
  });

  describe("collected reports", function () {
    const attestors = sortedWallets(3);
    const ctx: ChainContext = {
      domain: DOMAIN,
      chainId: 31337,
      configDigest: DIGEST,
      attestors: attestors.map((a) => a.address),
      jailed: [],
      quorum: 2,
      roundSeconds: ROUND_S,
      maxSkew: 5,
      now: NOW,
      maxAge: 60,
    };
    const sign = (i: number, observedAt: number) =>
      signReport(attestors[i], SEP, {
        configDigest: DIGEST,
        roundSeconds: ROUND_S,
        observedAt,
        endpointIds: IDS,
        values: IDS.map(() => ({ healthBps: 9000, badRounds: 0, goodRounds: 3 })),
      });
    const response = (i: number, reports: unknown[]): FetchedResponse => ({
      url: `http://a${i}`,
      attestor: attestors[i].address.toLowerCase(),
      configDigest: DIGEST,
      chainId: 31337,
      reports,
    });

    it("counts expired reports by reason and logs them at debug, never as a warning", async function () {
      const sink = new LogSink();
      const metrics = new Metrics(false);
      const r = evaluateResponses(
        [0, 1, 2].map((i) => response(i, [sign(i, NOW - 70), sign(i, NOW - 3)])),
        ctx,
        { logger: createLogger("t", { level: "debug", destination: sink }), metrics },
      );
      expect(r.bundles).to.have.length(1);
      expect(r.answering).to.deep.equal(attestors.map((a) => a.address.toLowerCase()));
      expect(await value(metrics, "vigil_observations_rejected_total", { reason: "stale" })).to.equal(3);
      expect(sink.lines.filter((l) => l.level >= 40)).to.deep.equal([]);
      expect(sink.lines.filter((l) => l.msg === "expired reports ignored")).to.have.length(3);
    });

    it("counts reports from the future by reason and warns about the attestor", async function () {
      const sink = new LogSink();
      const metrics = new Metrics(false);
      const r = evaluateResponses([response(0, [sign(0, NOW + 30)]), response(1, [sign(1, NOW - 3)])], ctx, {
        logger: createLogger("t", { level: "debug", destination: sink }),
        metrics,
      });
      expect(r.answering).to.deep.equal([attestors[1].address.toLowerCase()]);
      expect(await value(metrics, "vigil_observations_rejected_total", { reason: "future" })).to.equal(1);
      expect(sink.lines.filter((l) => l.level === 40).map((l) => l.msg)).to.deep.equal([
        "attestor served invalid reports",
      ]);
    });

    it("with an AttestorLog, a lasting fault is warned about once, and its end said once at info", function () {
      const sink = new LogSink();
      const logger = createLogger("t", { level: "debug", destination: sink });
      const attestorLog = new AttestorLog();
      const down: FetchedResponse = { url: "http://a0", reports: [], error: "ECONNREFUSED" };
      for (let i = 0; i < 4; i++) evaluateResponses([down], ctx, { logger, attestorLog });
      for (let i = 0; i < 3; i++)
        evaluateResponses([response(0, [sign(0, NOW - 3)])], ctx, { logger, attestorLog });
      expect(
        sink.lines
          .filter((l) => l.level >= 30 && l.msg !== "expired reports ignored")
          .map((l) => [l.level, l.msg]),
      ).to.deep.equal([
        [40, "attestor fetch failed"],
        [30, "attestor answers with valid reports again"],
      ]);
    });
  });

  describe("QuorumWatch and /healthz", function () {
    it("reports fewer than quorum answering as degraded with the reason (/healthz 200, /readyz 503), gauges set, one warning per change", async function () {
      const sink = new LogSink();
      const metrics = new Metrics(false);
      const watch = new QuorumWatch(createLogger("t", { level: "debug", destination: sink }), metrics);
      const server = new KeeperServer({
        port: 0,
        logger: createLogger("t", { level: "silent" }),
        metrics,
        loops: () => [],
        conditions: () => [watch.condition()],
      });
      const port = await server.listen();
      const get = async (path = "/healthz") => {
        const res = await fetch(`http://127.0.0.1:${port}${path}`);
        return { code: res.status, body: (await res.json()) as { status: string; reasons: string[] } };
      };
      try {
        watch.update(["0xa", "0xb", "0xc"], 3, 3);
        expect((await get()).code).to.equal(200);
        expect((await get("/readyz")).code).to.equal(200);
        for (let i = 0; i < 3; i++) watch.update(["0xa", "0xb"], 3, 3);
        // Liveness stays 200 (a restart cannot bring attestors back); readiness says 503.
        expect((await get()).code).to.equal(200);
        const h = await get("/readyz");
        expect(h.code).to.equal(503);
        expect(h.body.status).to.equal("degraded");
        expect((await get()).body.status).to.equal("degraded");
        expect(h.body.reasons).to.deep.equal([
          "attestor_quorum: 2 of 3 attestors answer with valid reports, the oracle's quorum is 3: no round can be relayed",
        ]);
        expect(await value(metrics, "vigil_quorum_lost")).to.equal(1);
        expect(await value(metrics, "vigil_attestors_answering")).to.equal(2);
        expect(await value(metrics, "vigil_attestor_quorum")).to.equal(3);
        watch.update(["0xa", "0xb", "0xc"], 3, 3);
        expect((await get()).body.status).to.equal("ok");
        expect((await get("/readyz")).code).to.equal(200);
        expect(await value(metrics, "vigil_quorum_lost")).to.equal(0);
        expect(sink.lines.map((l) => [l.level, l.msg])).to.deep.equal([
          [40, "fewer than quorum attestors answer: no round can be relayed"],
          [30, "attestor quorum answers again"],
        ]);
      } finally {
        await server.close();
      }
    });
  });

  describe("due-ness at the next block's time", function () {
    const market = (over: Partial<MarketView>): MarketView => ({
      marketId: 1,
      trip: GuardCheck.ALREADY_PAUSED,
      resume: GuardCheck.GRACE_PERIOD,
      resumeNotBefore: 1_000,
      delivery: Delivery.NONE,
      ...over,
    });
    it("resumes a market whose grace period ends by the next block, though the view (latest block) says GRACE_PERIOD", function () {
      expect(decideRecovery([], [market({})], 999)).to.deep.equal([]);
      expect(decideRecovery([], [market({})], 1_000)).to.deep.equal([{ kind: "resume", target: "1" }]);
      expect(decideRecovery([], [market({})])).to.deep.equal([]);
    });
    it("fails back once the cooldown ends by the next block", function () {
      const s = { serviceId: "0x01", check: MigrationCheck.COOLDOWN, notBefore: 500 };
      expect(decideRecovery([s], [], 499)).to.deep.equal([]);
      expect(decideRecovery([s], [], 500)).to.deep.equal([
        { kind: "migrate", target: "0x01", check: MigrationCheck.DUE_FAILBACK },
      ]);
    });
    it("never resumes a market whose dependency is unhealthy, whatever the time", function () {
      expect(
        decideRecovery([], [market({ resume: GuardCheck.DEPENDENCY_UNHEALTHY, resumeNotBefore: 0 })], 10_000),
      ).to.deep.equal([]);
    });
  });
});
