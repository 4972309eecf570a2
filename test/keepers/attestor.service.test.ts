import { expect } from "chai";
import { Wallet, type TypedDataDomain } from "ethers";
import { startAttestor, type RunningAttestor } from "../../keepers/attestor/service";
import { attestorConfigSchema, type AttestorConfigInput } from "../../keepers/attestor/config";
import type { OracleState, WatchedEndpoint } from "../../keepers/attestor/sources";
import { EndpointKind } from "../../keepers/shared/health";
import { createLogger } from "../../keepers/shared/logger";
import { Metrics } from "../../keepers/shared/metrics";
import {
  decodeValues,
  domainSeparator,
  recoverReportSigner,
  reportDigest,
  type SignedReport,
} from "../../keepers/shared/report";
import { FakeRpcServer } from "../../scripts/bench/fakeRpc";
import { oracleOf, tmpDataDir } from "./attestor-helpers";

const SERVICE = "0x" + "5".repeat(64);
const idOf = (i: number) => "0x" + i.toString(16).padStart(64, "0");
const DIGEST_A = "0x" + "a1".repeat(32);
const DIGEST_B = "0x" + "b2".repeat(32);

describe("attestor service", function () {
  let server: FakeRpcServer;
  let running: RunningAttestor | undefined;
  const wallet = Wallet.createRandom();
  const domain: TypedDataDomain = {
    name: "Vigil HealthOracle",
    version: "2",
    chainId: 31337n,
    verifyingContract: "0x" + "99".repeat(20),
  };
  let oracleState: OracleState;
  let endpoints: WatchedEndpoint[];
  let dataDir: string;

  const config = (over: Partial<AttestorConfigInput> = {}) =>
    attestorConfigSchema.parse({
      chain: { rpcUrls: ["http://127.0.0.1:1"], chainId: 31337 },
      contracts: { oracle: "0x" + "99".repeat(20), registry: "0x" + "88".repeat(20) },
      services: [SERVICE],
      expectedChainIds: { [SERVICE]: 31337 },
      allowPrivateTargets: true, // the fake RPC server is on loopback
      probeIntervalMs: 60_000,
      timeoutMs: 1_000,
      concurrency: 8,
      http: { port: 0 },
      dataDir,
      // The test moves the attestor's clock by whole rounds, not the fake chain's: the clock discipline is
      // tested in attestor.clock.test.ts and test/e2e/clock-skew.test.ts.
      clock: { maxOffsetSec: 86_400 },
      ...over,
    });

  const rpcEndpoint = (i: number, path = `/rpc/${i}`): WatchedEndpoint => ({
    id: idOf(i),
    serviceId: SERVICE,
    kind: EndpointKind.JSON_RPC,
    uri: server.url(path),
    priority: i,
  });

  async function start(over: Partial<AttestorConfigInput> = {}, now?: () => number) {
    running = await startAttestor(config(over), {
      now,
      logger: createLogger("test", { level: "silent" }),
      metrics: new Metrics(false),
      signer: wallet,
      endpoints: { listEndpoints: async () => endpoints },
      oracle: oracleOf(() => oracleState),
    });
    return running;
  }
  const get = async (path: string) => {
    const res = await fetch(`${running!.url}${path}`);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  /**
   * Wait until the probe loop has finished its first round, however long that takes on a loaded
   * machine (the test's timeout bounds it; a deadline here went on silently, and the test failed
   * later on an empty store).
   */
  const firstRound = async () => {
    while (running!.loops[0].iterations === 0) await new Promise((r) => setTimeout(r, 10));
  };

  beforeEach(async function () {
    server = await new FakeRpcServer({ chainId: 31337, blockNumber: 100 }).start();
    dataDir = tmpDataDir();
    oracleState = {
      domain,
      configDigest: DIGEST_A,
      roundSeconds: 12,
      version: 1,
      attestors: [wallet.address],
    };
    endpoints = [rpcEndpoint(1), rpcEndpoint(2), rpcEndpoint(3)];
  });
  afterEach(async function () {
    await running?.stop();
    running = undefined;
    await server.close();
  });

  describe("signing", function () {
    it("signs one report per round over every endpoint, under the oracle's domain and digest", async function () {
      await start();
      await firstRound();
      const [r] = running!.attestor.store.query();
      expect(r.attestor).to.equal(wallet.address);
      expect(r.configDigest).to.equal(DIGEST_A);
      expect(r.endpointIds).to.deep.equal([idOf(1), idOf(2), idOf(3)]);
      expect(decodeValues(r.values).map((v) => v.healthBps)).to.deep.equal([10_000, 10_000, 10_000]);
      expect(r.round).to.equal(Math.floor(r.observedAt / 12));
      expect(recoverReportSigner(reportDigest(domainSeparator(domain), r), r.signature)).to.equal(
        wallet.address,
      );
    });

    it("signs under the new digest after the attestor set rotates and drops the old reports", async function () {
      await start();
      await firstRound();
      oracleState = { ...oracleState, configDigest: DIGEST_B, version: 2 };
      await running!.attestor.refreshOracle();
      expect(running!.attestor.store.size).to.equal(0);
      const { report } = await running!.attestor.probeRound();
      expect(report?.configDigest).to.equal(DIGEST_B);
      const body = (await get("/v1/reports")).body;
      expect(body.configDigest).to.equal(DIGEST_B);
      expect((body.reports as SignedReport[]).map((x) => x.configDigest)).to.deep.equal([DIGEST_B]);
    });

    it("refuses an oracle whose EIP-712 domain is for another chain", async function () {
      oracleState = { ...oracleState, domain: { ...domain, chainId: 1n } };
      let err: unknown;
      await start().catch((e) => (err = e));
      expect((err as { code?: string }).code).to.equal("VIGIL_CHAIN");
      expect(String(err)).to.contain("domain is for chain 1");
    });

    it("refuses to start when the signed-round record in the data dir is corrupt", async function () {
      const fs = await import("node:fs");
      const path = await import("node:path");
      fs.writeFileSync(path.join(dataDir, `signed-round-${wallet.address.toLowerCase()}.json`), "{ not json");
      let err: unknown;
      await start().catch((e) => (err = e));
      expect((err as { code?: string }).code).to.equal("VIGIL_ATTESTATION");
      expect(String(err)).to.contain("is not a valid signed-round record");
    });
  });

  /** The health each endpoint has in `report`, by endpoint id. */
  const healthIn = (report: SignedReport | undefined) =>
    Object.fromEntries(
      report ? report.endpointIds.map((id, i) => [id, decodeValues(report.values)[i].healthBps]) : [],
    );

  describe("endpoints", function () {
    it("covers endpoints added to the registry after start in the next report", async function () {
      const frozen = { ms: Date.now() };
      await start({}, () => frozen.ms);
      await firstRound();
      endpoints = [...endpoints, rpcEndpoint(4)];
      await running!.attestor.refreshEndpoints();
      frozen.ms += 12_000;
      const { report } = await running!.attestor.probeRound();
      expect(report!.endpointIds).to.deep.equal([idOf(1), idOf(2), idOf(3), idOf(4)]);
    });

    it("scores an endpoint on a minority chain 0 once its peers are known", async function () {
      server.set("/rpc/3", { chainId: 5 });
      await start();
      await firstRound();
      const { outcomes } = await running!.attestor.probeRound();
      const third = outcomes.find((o) => o.endpointId === idOf(3))!;
      expect(third).to.include({ healthBps: 0, failure: "wrong_chain" });
      expect(outcomes.filter((o) => o.healthBps === 10_000)).to.have.length(2);
    });

    describe("when a 2-endpoint service has one endpoint on the wrong chain with a far higher head", function () {
      beforeEach(function () {
        server.set("/rpc/2", { chainId: 5, blockNumber: 1_000_000 });
        endpoints = [rpcEndpoint(1), rpcEndpoint(2)];
      });

      it("scores the honest endpoint 10000 and the wrong-chain one 0 (wrong_chain)", async function () {
        await start();
        await firstRound();
        // Both heads are known now; probe again so each sees the other as a peer.
        const { outcomes } = await running!.attestor.probeRound();
        expect(outcomes.find((o) => o.endpointId === idOf(1))).to.include({ healthBps: 10_000 });
        expect(outcomes.find((o) => o.endpointId === idOf(2))).to.include({
          healthBps: 0,
          failure: "wrong_chain",
        });
      });

      it("does not measure the honest endpoint's lag against the wrong chain, nor sign either, without expectedChainIds", async function () {
        const lines: string[] = [];
        const logger = createLogger("test", {
          level: "info",
          destination: { write: (l: string) => void lines.push(l) },
        });
        running = await startAttestor(config({ expectedChainIds: {} }), {
          logger,
          metrics: new Metrics(false),
          signer: wallet,
          endpoints: { listEndpoints: async () => endpoints },
          oracle: oracleOf(() => oracleState),
        });
        await firstRound();
        const { outcomes, report, skipped } = await running.attestor.probeRound();
        expect(outcomes.find((o) => o.endpointId === idOf(1))).to.include({ healthBps: 10_000 });
        expect(outcomes.every((o) => !o.signable)).to.equal(true);
        expect(report).to.equal(undefined);
        expect(skipped).to.equal("nothing_judged");
        expect(running.attestor.store.size).to.equal(0);
        const errors = lines.map((l) => JSON.parse(l)).filter((l) => l.level === "error");
        expect(errors, "logged once, naming the setting").to.have.length(1);
        expect(errors[0].msg).to.contain("expectedChainIds");
        expect(errors[0].setting).to.equal(`expectedChainIds.${SERVICE}`);
      });
    });

    it("scores an endpoint 10 blocks behind the median of its peers 0", async function () {
      server.set("/rpc/2", { blockNumber: 90 });
      await start();
      await firstRound();
      const { outcomes } = await running!.attestor.probeRound();
      expect(outcomes.find((o) => o.endpointId === idOf(2))!.healthBps).to.equal(0);
    });
  });

  describe("concurrency", function () {
    it("probes the other endpoints long before a hung endpoint times out, and signs the timeout as 0", async function () {
      endpoints = [rpcEndpoint(1, "/hang"), ...[2, 3, 4, 5, 6].map((i) => rpcEndpoint(i))];
      server.set("/hang", { hang: true });
      await start({ timeoutMs: 1_500, probeIntervalMs: 60_000, concurrency: 4 });
      const asked = (i: number) => (server.hits.get(`/rpc/${i}`) ?? 0) > 0;
      const probed = (i: number) =>
        running!.attestor.endpointSummaries().find((e) => e.id === idOf(i))!.probedAt !== null;
      const fast = () => [2, 3, 4, 5, 6].every(asked);
      while (!fast() && !probed(1)) await new Promise((r) => setTimeout(r, 5));
      // Ordered by what happened, not by a stopwatch: every fast endpoint was asked while the hung one's probe
      // was still waiting for its 1.5 s timeout (4 workers, 6 endpoints: the hung one does not hold a worker's
      // queue), and nothing was scored or signed before the round's probes all settled (parity compares them).
      expect(fast(), "fast endpoints probed before the hung endpoint timed out").to.equal(true);
      expect(probed(1), "fast endpoints probed before the hung endpoint timed out").to.equal(false);
      expect(running!.attestor.store.size, "the round's report waits for the round's probes").to.equal(0);
      await firstRound();
      const [report] = running!.attestor.store.query();
      expect(healthIn(report)).to.deep.equal({
        [idOf(1)]: 0,
        [idOf(2)]: 10_000,
        [idOf(3)]: 10_000,
        [idOf(4)]: 10_000,
        [idOf(5)]: 10_000,
        [idOf(6)]: 10_000,
      });
    });
  });

  describe("HTTP API", function () {
    let clock: { ms: number };
    beforeEach(async function () {
      clock = { ms: Math.floor(Date.now() / 12_000) * 12_000 }; // the start of a 12 s round
      await start({}, () => clock.ms);
      await firstRound();
      await running!.attestor.probeRound(); // the same oracle round: nothing new is signed
      clock.ms += 12_000;
      await running!.attestor.probeRound();
    });

    it("serves GET /v1/reports with attestor, digest, chain id and one report per round, ascending", async function () {
      const { status, body } = await get("/v1/reports");
      expect(status).to.equal(200);
      expect(body).to.include({ attestor: wallet.address, configDigest: DIGEST_A, chainId: 31337 });
      const reports = body.reports as SignedReport[];
      const first = Math.floor(clock.ms / 12_000) - 1;
      expect(reports.map((r) => r.round)).to.deep.equal([first, first + 1]);
      for (const r of reports) {
        expect(r.endpointIds).to.deep.equal([idOf(1), idOf(2), idOf(3)]);
        expect(recoverReportSigner(reportDigest(domainSeparator(domain), r), r.signature)).to.equal(
          wallet.address,
        );
      }
    });

    it("keeps rounds at or after sinceRound", async function () {
      const all = (await get("/v1/reports")).body.reports as SignedReport[];
      const last = all[all.length - 1].round;
      const since = async (n: number) =>
        ((await get(`/v1/reports?sinceRound=${n}`)).body.reports as SignedReport[]).map((r) => r.round);
      expect(await since(last)).to.deep.equal([last]);
      expect(await since(last + 1)).to.deep.equal([]);
      expect(await since(0)).to.deep.equal([last - 1, last]);
    });

    it("keeps only the last keepReports rounds", async function () {
      for (let i = 0; i < 10; i++) {
        clock.ms += 12_000;
        await running!.attestor.probeRound();
      }
      const rounds = ((await get("/v1/reports")).body.reports as SignedReport[]).map((r) => r.round);
      const last = Math.floor(clock.ms / 12_000);
      expect(rounds).to.deep.equal([...Array(8).keys()].map((i) => last - 7 + i));
    });

    it("never serves a report dated after the attestor's clock (clock stepped back)", async function () {
      clock.ms -= 12_000;
      const rounds = ((await get("/v1/reports")).body.reports as SignedReport[]).map((r) => r.round);
      expect(rounds).to.deep.equal([Math.floor(clock.ms / 12_000)]);
    });

    const bad: Array<[string, string]> = [
      ["sinceRound=-1", "sinceRound must be a non-negative integer"],
      ["sinceRound=abc", "sinceRound must be a non-negative integer"],
      ["sinceRound=1e3", "sinceRound must be a non-negative integer"],
      ["sinceRound=", "sinceRound must be a non-negative integer"],
      ["sinceRound=99999999999999999", "sinceRound must be a non-negative integer"],
      ["foo=1", 'unknown query parameter "foo" (allowed: sinceRound)'],
      ["endpoint=0x" + "00".repeat(32), 'unknown query parameter "endpoint" (allowed: sinceRound)'],
      ["sinceRound=1&sinceRound=2", 'query parameter "sinceRound" given more than once'],
    ];
    for (const [q, error] of bad) {
      it(`answers 400 naming the problem for ?${q}`, async function () {
        const { status, body } = await get(`/v1/reports?${q}`);
        expect(status).to.equal(400);
        expect(body.error).to.equal(error);
      });
    }

    it("no longer serves the v1 /v1/observations", async function () {
      expect((await get("/v1/observations")).status).to.equal(404);
    });

    it("lists watched endpoints without their URIs", async function () {
      const { body } = await get("/v1/endpoints");
      const eps = body.endpoints as Array<Record<string, unknown>>;
      expect(eps).to.have.length(3);
      expect(eps[0]).to.include({ healthBps: 10_000, kind: "JSON_RPC" });
      expect(eps[0]).to.not.have.property("uri");
    });

    it("reports /healthz 200, then 503 once the probe loop stalls", async function () {
      expect((await get("/healthz")).status).to.equal(200);
      running!.loops[0].lastCompletedAt = Date.now() - 10 * 60_000 - 60_000;
      const res = await get("/healthz");
      expect(res.status).to.equal(503);
      expect(res.body.status).to.equal("stalled");
    });

    it("exports probe and signing metrics: one signature per round, endpoints per report", async function () {
      const text = await (await fetch(`${running!.url}/metrics`)).text();
      expect(text).to.contain('vigil_probes_total{kind="json_rpc",outcome="ok"} 9');
      expect(text).to.contain("vigil_reports_signed_total 2");
      expect(text).to.contain("vigil_report_endpoints_sum 6");
      expect(text).to.contain("vigil_report_endpoints_count 2");
      expect(text).to.contain('vigil_report_rounds_skipped_total{reason="round_already_signed"} 1');
      expect(text).to.contain("vigil_observations_signed_total 6");
      expect(text).to.contain('vigil_observations_withheld_total{reason="round_already_signed"} 3');
      expect(text).to.contain("vigil_probe_latency_seconds_bucket");
      expect(text).to.contain(`vigil_endpoint_health_bps{endpoint="${idOf(1)}"} 10000`);
      expect(text).to.contain('vigil_loop_duration_seconds_count{loop="probe"}');
    });
  });

  describe("shutdown", function () {
    it("finishes the round in flight (its report signed), then closes the server", async function () {
      server.set("/rpc/1", { delayMs: 400 });
      await start({ probeIntervalMs: 2_000, timeoutMs: 1_000 });
      // The first round is in flight: its request to the slow endpoint has arrived (answered in 400 ms).
      while (!server.hits.get("/rpc/1")) await new Promise((r) => setTimeout(r, 5));
      const url = running!.url;
      await running!.stop();
      expect(running!.attestor.store.query().map((r) => r.endpointIds.length)).to.deep.equal([3]);
      let refused = false;
      await fetch(`${url}/healthz`).catch(() => (refused = true));
      expect(refused).to.equal(true);
    });
  });
});
