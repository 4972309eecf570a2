import { expect } from "chai";
import fs from "node:fs";
import path from "node:path";
import { TypedDataEncoder, Wallet, type TypedDataDomain } from "ethers";
import { Attestor } from "../../keepers/attestor/attestor";
import { attestorConfigSchema, type AttestorConfigInput } from "../../keepers/attestor/config";
import {
  DEFAULT_POLICY,
  type EndpointPolicy,
  type OracleState,
  type WatchedEndpoint,
} from "../../keepers/attestor/sources";
import { EndpointKind } from "../../keepers/shared/health";
import { createLogger } from "../../keepers/shared/logger";
import { Metrics } from "../../keepers/shared/metrics";
import {
  REPORT_TYPES,
  decodeValues,
  domainSeparator,
  recoverReportSigner,
  reportDigest,
  zSignedReport,
  type EndpointValue,
  type SignedReport,
} from "../../keepers/shared/report";
import { FakeRpcServer } from "../../scripts/bench/fakeRpc";
import { oracleOf, tmpDataDir } from "./attestor-helpers";

const SERVICE = "0x" + "5".repeat(64);
const idOf = (i: number) => "0x" + i.toString(16).padStart(64, "0");
const DIGEST_A = "0x" + "a1".repeat(32);
const DIGEST_B = "0x" + "b2".repeat(32);
const ROUND_SECONDS = 3;

/** Per endpoint id, the values an attestor signed in `report`. */
function valuesOf(report: SignedReport | undefined): Record<string, EndpointValue> {
  if (!report) return {};
  const values = decodeValues(report.values);
  return Object.fromEntries(report.endpointIds.map((id, i) => [id, values[i]]));
}

/**
 * One attestor's reports, round by round (health model v2): what goes in a report, how streaks are counted,
 * and that it never signs two reports for one round, across restarts too.
 */
describe("attestor reports", function () {
  let server: FakeRpcServer;
  let oracleState: OracleState;
  let endpoints: WatchedEndpoint[];
  let policies: Record<string, EndpointPolicy>;
  let dataDir: string;
  const wallet = Wallet.createRandom();
  const domain: TypedDataDomain = {
    name: "Vigil HealthOracle",
    version: "2",
    chainId: 31337n,
    verifyingContract: "0x" + "99".repeat(20),
  };

  const rpcEndpoint = (i: number): WatchedEndpoint => ({
    id: idOf(i),
    serviceId: SERVICE,
    kind: EndpointKind.JSON_RPC,
    uri: server.url(`/rpc/${i}`),
    priority: i,
  });

  /** An attestor on a clock the test advances (the start of a round), so rounds pass without sleeping. */
  async function clocked(over: Partial<AttestorConfigInput> = {}, clock = { ms: 0 }) {
    if (clock.ms === 0) clock.ms = Math.ceil(Date.now() / (ROUND_SECONDS * 1000)) * ROUND_SECONDS * 1000;
    const metrics = new Metrics(false);
    const attestor = new Attestor({
      config: attestorConfigSchema.parse({
        chain: { rpcUrls: ["http://127.0.0.1:1"], chainId: 31337 },
        contracts: { oracle: "0x" + "99".repeat(20), registry: "0x" + "88".repeat(20) },
        services: [SERVICE],
        expectedChainIds: { [SERVICE]: 31337 },
        allowPrivateTargets: true, // the fake RPC server is on loopback
        probeIntervalMs: 1_000,
        timeoutMs: 500,
        dataDir,
        // The test moves the attestor's clock by whole rounds, not the fake chain's: the clock discipline is
        // tested in attestor.clock.test.ts and test/e2e/clock-skew.test.ts.
        clock: { maxOffsetSec: 86_400 },
        ...over,
      }),
      key: wallet.signingKey,
      endpoints: { listEndpoints: async () => endpoints },
      oracle: oracleOf(
        () => oracleState,
        (id) => policies[id] ?? DEFAULT_POLICY,
      ),
      logger: createLogger("test", { level: "silent" }),
      metrics,
      now: () => clock.ms,
    });
    await attestor.refreshOracle();
    await attestor.refreshEndpoints();
    return { attestor, clock, metrics };
  }
  const nextRound = (clock: { ms: number }, rounds = 1) => (clock.ms += rounds * ROUND_SECONDS * 1000);

  beforeEach(async function () {
    server = await new FakeRpcServer({ chainId: 31337, blockNumber: 100 }).start();
    dataDir = tmpDataDir();
    oracleState = {
      domain,
      configDigest: DIGEST_A,
      roundSeconds: ROUND_SECONDS,
      version: 1,
      attestors: [wallet.address],
    };
    endpoints = [rpcEndpoint(1), rpcEndpoint(2), rpcEndpoint(3)];
    policies = {};
  });
  afterEach(async function () {
    await server.close();
  });

  describe("assembly", function () {
    it("lists the endpoint ids strictly ascending, whatever order the registry gives", async function () {
      endpoints = [rpcEndpoint(3), rpcEndpoint(1), rpcEndpoint(2)];
      server.set("/rpc/3", { status: 503 });
      const { attestor } = await clocked();
      const { report } = await attestor.probeRound();
      expect(report!.endpointIds).to.deep.equal([idOf(1), idOf(2), idOf(3)]);
      expect(decodeValues(report!.values).map((v) => v.healthBps)).to.deep.equal([10_000, 10_000, 0]);
    });

    it("signs a report whose signature recovers to the attestor through keepers/shared/report.ts", async function () {
      const { attestor } = await clocked();
      const { report } = await attestor.probeRound();
      const digest = reportDigest(domainSeparator(domain), report!);
      expect(recoverReportSigner(digest, report!.signature)).to.equal(wallet.address);
      expect(report!.attestor).to.equal(wallet.address);
      expect(attestor.address).to.equal(wallet.address);
    });

    it("signs the EIP-712 digest ethers' TypedDataEncoder computes for the same Report", async function () {
      const { attestor } = await clocked();
      const { report } = await attestor.probeRound();
      const r = report!;
      const typed = TypedDataEncoder.hash(domain, REPORT_TYPES as never, {
        configDigest: r.configDigest,
        round: r.round,
        observedAt: r.observedAt,
        endpointIds: r.endpointIds,
        values: r.values,
      });
      expect(recoverReportSigner(typed, r.signature)).to.equal(wallet.address);
    });

    it("serves reports that pass the responder's schema (zSignedReport)", async function () {
      const { attestor } = await clocked();
      await attestor.probeRound();
      const body = JSON.parse(JSON.stringify(attestor.reports()));
      expect(body.reports).to.have.length(1);
      expect(() => zSignedReport.parse(body.reports[0])).to.not.throw();
    });

    it("dates the report at signing time, inside its round, also when probing overran the round", async function () {
      server.set("/rpc/2", { delayMs: 100 });
      const { attestor, clock } = await clocked();
      const pending = attestor.probeRound();
      while (!server.hits.get("/rpc/2")) await new Promise((r) => setTimeout(r, 5));
      const startedRound = Math.floor(clock.ms / 1000 / ROUND_SECONDS);
      clock.ms += ROUND_SECONDS * 1000 + 1_500; // probing overruns into the middle of the next round
      const { report } = await pending;
      expect(report!.observedAt).to.equal(Math.floor(clock.ms / 1000));
      expect(report!.round).to.equal(startedRound + 1);
      expect(Math.floor(report!.observedAt / ROUND_SECONDS)).to.equal(report!.round);
    });

    it("leaves out a JSON-RPC endpoint whose chain cannot be judged, counting it withheld", async function () {
      const other = "0x" + "6".repeat(64);
      endpoints = [rpcEndpoint(1), { ...rpcEndpoint(2), serviceId: other }];
      const { attestor, metrics } = await clocked({ services: [SERVICE, other] });
      const { report } = await attestor.probeRound();
      expect(report!.endpointIds).to.deep.equal([idOf(1)]);
      expect(await metrics.registry.metrics()).to.contain(
        'vigil_observations_withheld_total{reason="no_expected_chain_id"} 1',
      );
    });
  });

  describe("streaks", function () {
    it("counts its own consecutive BAD and GOOD rounds per endpoint", async function () {
      server.set("/rpc/2", { status: 503 });
      const { attestor, clock } = await clocked({ errorWindow: 1 }); // recovered means 10000 at once
      const seen: Array<[number, number, number, number]> = [];
      for (let i = 0; i < 3; i++) {
        const v = valuesOf((await attestor.probeRound()).report);
        seen.push([v[idOf(1)].goodRounds, v[idOf(1)].badRounds, v[idOf(2)].goodRounds, v[idOf(2)].badRounds]);
        nextRound(clock);
      }
      expect(seen).to.deep.equal([
        [1, 0, 0, 1],
        [2, 0, 0, 2],
        [3, 0, 0, 3],
      ]);
      server.reset("/rpc/2");
      const v = valuesOf((await attestor.probeRound()).report);
      expect(v[idOf(2)]).to.deep.equal({ healthBps: 10_000, badRounds: 0, goodRounds: 1 });
    });

    it("restarts the streaks after a round it did not judge", async function () {
      server.set("/rpc/2", { status: 503 });
      const { attestor, clock } = await clocked();
      await attestor.probeRound();
      nextRound(clock);
      await attestor.probeRound();
      nextRound(clock, 2); // one round passes without a probe round
      const v = valuesOf((await attestor.probeRound()).report);
      expect(v[idOf(1)]).to.include({ goodRounds: 1, badRounds: 0 });
      expect(v[idOf(2)]).to.include({ goodRounds: 0, badRounds: 1 });
    });

    it("restarts an endpoint's streaks after a round in which it was left out of the report", async function () {
      const { attestor, clock } = await clocked();
      await attestor.probeRound();
      nextRound(clock);
      endpoints = [rpcEndpoint(1), rpcEndpoint(3)];
      await attestor.refreshEndpoints();
      await attestor.probeRound();
      nextRound(clock);
      endpoints = [rpcEndpoint(1), rpcEndpoint(2), rpcEndpoint(3)];
      await attestor.refreshEndpoints();
      const v = valuesOf((await attestor.probeRound()).report);
      expect(v[idOf(1)].goodRounds).to.equal(3);
      expect(v[idOf(2)].goodRounds).to.equal(1);
    });

    it("classifies each endpoint under its own policy from the oracle, re-read with the endpoint list", async function () {
      // Slow but correct: the latency factor floors the score at 6000 bps.
      for (const i of [1, 2]) server.set(`/rpc/${i}`, { delayMs: 30 });
      endpoints = [rpcEndpoint(1), rpcEndpoint(2)];
      policies = { [idOf(2)]: { ...DEFAULT_POLICY, downBelowBps: 7_000, upAtBps: 9_000 } };
      const { attestor, clock } = await clocked({
        thresholds: { jsonRpc: { latencyMs: { ok: 1, max: 2, floor: 0.6 } } },
      });
      await attestor.probeRound();
      nextRound(clock);
      let v = valuesOf((await attestor.probeRound()).report);
      expect(v[idOf(1)]).to.deep.equal({ healthBps: 6_000, badRounds: 0, goodRounds: 0 }); // 5000 <= 6000 < 8000
      expect(v[idOf(2)]).to.deep.equal({ healthBps: 6_000, badRounds: 2, goodRounds: 0 }); // 6000 < 7000
      // The owner moves endpoint 2 to the default policy: BAD rounds under the old thresholds stop counting.
      policies = {};
      await attestor.refreshEndpoints();
      policies = { [idOf(1)]: { ...DEFAULT_POLICY, downBelowBps: 7_000, upAtBps: 9_000 } };
      await attestor.refreshEndpoints();
      nextRound(clock);
      v = valuesOf((await attestor.probeRound()).report);
      expect(v[idOf(1)]).to.deep.equal({ healthBps: 6_000, badRounds: 1, goodRounds: 0 });
      expect(v[idOf(2)]).to.deep.equal({ healthBps: 6_000, badRounds: 0, goodRounds: 0 });
    });

    it("counts a round signed again under a new config digest once, not twice", async function () {
      server.set("/rpc/2", { status: 503 });
      const { attestor, clock } = await clocked();
      await attestor.probeRound();
      nextRound(clock);
      await attestor.probeRound();
      oracleState = { ...oracleState, configDigest: DIGEST_B, version: 2 };
      await attestor.refreshOracle();
      const { report } = await attestor.probeRound(); // the same round, under the new digest
      expect(report!.configDigest).to.equal(DIGEST_B);
      expect(valuesOf(report)[idOf(2)].badRounds).to.equal(2);
      nextRound(clock);
      expect(valuesOf((await attestor.probeRound()).report)[idOf(2)].badRounds).to.equal(3);
    });
  });

  describe("one report per round", function () {
    it("signs exactly one report per round with a 1 s probe interval and 3 s rounds", async function () {
      const { attestor, clock } = await clocked();
      const signed: number[] = [];
      for (let probe = 0; probe < 9; probe++) {
        const { outcomes, report } = await attestor.probeRound();
        expect(outcomes).to.have.length(3); // every probe still runs and is scored
        signed.push(report ? 1 : 0);
        clock.ms += 1_000;
      }
      expect(signed).to.deep.equal([1, 0, 0, 1, 0, 0, 1, 0, 0]);
      const rounds = attestor.store.query().map((r) => r.round);
      expect(new Set(rounds).size).to.equal(3);
    });

    it("keeps scoring later probes of a signed round for /v1/endpoints, and signs the change next round", async function () {
      const { attestor, clock } = await clocked();
      await attestor.probeRound();
      server.set("/rpc/2", { status: 503 });
      clock.ms += 1_000;
      const later = await attestor.probeRound();
      expect(later.skipped).to.equal("round_already_signed");
      expect(later.outcomes.find((o) => o.endpointId === idOf(2))).to.include({ healthBps: 0 });
      expect(attestor.endpointSummaries().find((e) => e.id === idOf(2))!.healthBps).to.equal(0);
      clock.ms += 2_000;
      expect(valuesOf((await attestor.probeRound()).report)[idOf(2)].healthBps).to.equal(0);
    });

    it("signs one report when two probe rounds of one round race", async function () {
      const { attestor } = await clocked();
      const [a, b] = await Promise.all([attestor.probeRound(), attestor.probeRound()]);
      expect([a.report, b.report].filter(Boolean)).to.have.length(1);
      expect([a.skipped, b.skipped].filter(Boolean)).to.deep.equal(["round_already_signed"]);
      expect(attestor.store.size).to.equal(1);
    });

    it("signs the same round again under a new config digest after a rotation, dropping the old report", async function () {
      const { attestor } = await clocked();
      const first = (await attestor.probeRound()).report!;
      oracleState = { ...oracleState, configDigest: DIGEST_B, version: 2 };
      await attestor.refreshOracle();
      const second = (await attestor.probeRound()).report!;
      expect(second.round).to.equal(first.round);
      expect(second.configDigest).to.equal(DIGEST_B);
      expect(attestor.reports().reports).to.deep.equal([second]);
    });

    it("ignores an oracle read of an older attestor set (a lagging RPC) and keeps signing under the newer", async function () {
      const { attestor, clock } = await clocked();
      oracleState = { ...oracleState, configDigest: DIGEST_B, version: 2 };
      await attestor.refreshOracle();
      await attestor.probeRound();
      oracleState = { ...oracleState, configDigest: DIGEST_A, version: 1 };
      await attestor.refreshOracle();
      expect(attestor.oracleState!.configDigest).to.equal(DIGEST_B);
      nextRound(clock);
      expect((await attestor.probeRound()).report!.configDigest).to.equal(DIGEST_B);
    });
  });

  describe("across restarts", function () {
    const recordFile = () => path.join(dataDir, `signed-round-${wallet.address.toLowerCase()}.json`);

    it("records the signed round, its digest and the report hash in the data dir before serving it", async function () {
      const { attestor } = await clocked();
      const { report } = await attestor.probeRound();
      const rec = JSON.parse(fs.readFileSync(recordFile(), "utf8"));
      expect(rec).to.deep.equal({
        version: 1,
        attestor: wallet.address,
        configDigest: DIGEST_A,
        round: report!.round,
        observedAt: report!.observedAt,
        reportDigest: reportDigest(domainSeparator(domain), report!),
      });
      expect(fs.readdirSync(dataDir), "no temporary file left behind").to.deep.equal([
        path.basename(recordFile()),
      ]);
    });

    it("does not sign a second report for the round after a restart within it, and signs the next round", async function () {
      server.set("/rpc/2", { status: 503 });
      const first = await clocked();
      const signed = (await first.attestor.probeRound()).report!;
      // Restart: a new process (same key, same data dir) in the same round, now seeing endpoint 2 healthy.
      server.reset("/rpc/2");
      first.clock.ms += 1_000;
      const second = await clocked({}, first.clock);
      expect(second.attestor.lastSignedRound).to.deep.equal({ configDigest: DIGEST_A, round: signed.round });
      const again = await second.attestor.probeRound();
      expect(again.report).to.equal(undefined);
      expect(again.skipped).to.equal("round_already_signed");
      expect(second.attestor.reports().reports).to.deep.equal([]);
      nextRound(second.clock);
      const next = (await second.attestor.probeRound()).report!;
      expect(next.round).to.equal(signed.round + 1);
      // The restart forgot the streaks: they start again from the first round it judged.
      expect(valuesOf(next)[idOf(2)]).to.deep.equal({ healthBps: 10_000, badRounds: 0, goodRounds: 1 });
    });

    it("refuses every earlier round too after a restart (a clock stepped back)", async function () {
      const first = await clocked();
      await first.attestor.probeRound();
      first.clock.ms -= 10 * ROUND_SECONDS * 1000;
      const second = await clocked({}, first.clock);
      expect((await second.attestor.probeRound()).skipped).to.equal("round_already_signed");
    });

    it("signs the recorded round under a new config digest after a restart", async function () {
      const first = await clocked();
      const signed = (await first.attestor.probeRound()).report!;
      oracleState = { ...oracleState, configDigest: DIGEST_B, version: 2 };
      const second = await clocked({}, first.clock);
      const { report } = await second.attestor.probeRound();
      expect(report).to.include({ configDigest: DIGEST_B, round: signed.round });
    });

    it("does not serve a report whose round it could not record, nor sign that round again", async function () {
      const { attestor, metrics, clock } = await clocked();
      // The temporary file's path is taken by a directory: the record cannot be written.
      fs.mkdirSync(`${recordFile()}.${process.pid}.tmp`);
      const { report, skipped } = await attestor.probeRound();
      expect(report).to.equal(undefined);
      expect(skipped).to.equal("persist_failed");
      expect(attestor.reports().reports).to.deep.equal([]);
      expect(await metrics.registry.metrics()).to.contain(
        'vigil_report_rounds_skipped_total{reason="persist_failed"} 1',
      );
      fs.rmdirSync(`${recordFile()}.${process.pid}.tmp`);
      clock.ms += 1_000;
      expect((await attestor.probeRound()).skipped, "the round stays claimed").to.equal(
        "round_already_signed",
      );
      nextRound(clock);
      expect((await attestor.probeRound()).report).to.not.equal(undefined);
    });

    it("refuses to start on a record that belongs to another attestor", async function () {
      const other = Wallet.createRandom();
      fs.writeFileSync(
        recordFile(),
        JSON.stringify({
          version: 1,
          attestor: other.address,
          configDigest: DIGEST_A,
          round: 1,
          observedAt: 3,
          reportDigest: DIGEST_B,
        }),
      );
      let err: unknown;
      await clocked().catch((e) => (err = e));
      expect((err as { code?: string }).code).to.equal("VIGIL_ATTESTATION");
      expect(String(err)).to.contain(`belongs to attestor ${other.address}`);
    });
  });
});
