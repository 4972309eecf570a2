import { expect } from "chai";
import { Wallet, type TypedDataDomain } from "ethers";
import { Attestor, startAttestor, type RunningAttestor } from "../../keepers/attestor/attestor";
import { attestorConfigSchema, type AttestorConfigInput } from "../../keepers/attestor/config";
import { ObservationStore } from "../../keepers/attestor/store";
import { staticEndpointSource, type OracleState, type WatchedEndpoint } from "../../keepers/attestor/sources";
import { EndpointKind } from "../../keepers/shared/health";
import { createLogger } from "../../keepers/shared/logger";
import { Metrics } from "../../keepers/shared/metrics";
import {
  observationDigest,
  recoverObservationSigner,
  type SignedObservation,
} from "../../keepers/shared/observation";
import { FakeRpcServer } from "../../scripts/bench/fakeRpc";

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
    version: "1",
    chainId: 31337n,
    verifyingContract: "0x" + "99".repeat(20),
  };
  let oracleState: OracleState;
  let endpoints: WatchedEndpoint[];

  const config = (over: Partial<AttestorConfigInput> = {}) =>
    attestorConfigSchema.parse({
      rpcUrls: ["http://127.0.0.1:1"],
      chainId: 31337,
      oracle: "0x" + "99".repeat(20),
      registry: "0x" + "88".repeat(20),
      services: [SERVICE],
      expectedChainIds: { [SERVICE]: 31337 },
      allowPrivateTargets: true, // the fake RPC server is on loopback
      probeIntervalMs: 60_000,
      timeoutMs: 1_000,
      concurrency: 8,
      http: { port: 0 },
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
      oracle: { read: async () => oracleState },
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
    it("signs each observation under the oracle's domain and digest, recoverable to the attestor", async function () {
      await start();
      await firstRound();
      const obs = running!.attestor.store.query();
      expect(obs).to.have.length(3);
      for (const o of obs) {
        expect(o.attestor).to.equal(wallet.address);
        expect(o.configDigest).to.equal(DIGEST_A);
        expect(o.healthBps).to.equal(10_000);
        expect(o.round).to.equal(Math.floor(o.observedAt / 12));
        expect(recoverObservationSigner(domain, o, o.signature)).to.equal(wallet.address);
        expect(observationDigest(domain, o)).to.match(/^0x[0-9a-f]{64}$/);
      }
    });

    it("signs under the new digest after the attestor set rotates and drops the old observations", async function () {
      await start();
      await firstRound();
      oracleState = { ...oracleState, configDigest: DIGEST_B, version: 2 };
      await running!.attestor.refreshOracle();
      expect(running!.attestor.store.size).to.equal(0);
      await running!.attestor.probeRound();
      const obs = running!.attestor.store.query();
      expect(obs.map((o) => o.configDigest)).to.deep.equal([DIGEST_B, DIGEST_B, DIGEST_B]);
      expect((await get("/v1/observations")).body.configDigest).to.equal(DIGEST_B);
    });

    it("refuses an oracle whose EIP-712 domain is for another chain", async function () {
      oracleState = { ...oracleState, domain: { ...domain, chainId: 1n } };
      let err: unknown;
      await start().catch((e) => (err = e));
      expect((err as { code?: string }).code).to.equal("VIGIL_CHAIN");
      expect(String(err)).to.contain("domain is for chain 1");
    });
  });

  describe("one observation per (endpoint, round)", function () {
    /** An attestor on a clock the test advances, so rounds pass without sleeping. */
    async function clocked(over: Partial<AttestorConfigInput> = {}) {
      const clock = { ms: Math.ceil(Date.now() / 3_000) * 3_000 }; // the start of a 3 s round
      oracleState = { ...oracleState, roundSeconds: 3 };
      const metrics = new Metrics(false);
      const attestor = new Attestor({
        config: config({ probeIntervalMs: 1_000, timeoutMs: 500, ...over }),
        signer: wallet,
        address: wallet.address,
        endpoints: { listEndpoints: async () => endpoints },
        oracle: { read: async () => oracleState },
        logger: createLogger("test", { level: "silent" }),
        metrics,
        now: () => clock.ms,
      });
      await attestor.refreshOracle();
      await attestor.refreshEndpoints();
      return { attestor, clock, metrics };
    }

    it("signs exactly one observation per round per endpoint with a 1 s probe interval and 3 s rounds", async function () {
      const { attestor, clock } = await clocked();
      const signedPerProbe: number[] = [];
      for (let probe = 0; probe < 9; probe++) {
        const outcomes = await attestor.probeRound();
        expect(outcomes).to.have.length(3); // every probe still runs and is scored
        signedPerProbe.push(outcomes.filter((o) => o.observation).length);
        clock.ms += 1_000;
      }
      // The first probe of each round signs, the two after it do not.
      expect(signedPerProbe).to.deep.equal([3, 0, 0, 3, 0, 0, 3, 0, 0]);
      for (const ep of endpoints) {
        const rounds = attestor.store.query({ endpoint: ep.id }).map((o) => o.round);
        expect(rounds).to.have.length(3);
        expect(new Set(rounds).size).to.equal(3);
      }
    });

    it("refuses to store a second observation of one (endpoint, round)", function () {
      const store = new ObservationStore(32);
      const o: SignedObservation = {
        configDigest: DIGEST_A,
        endpointId: idOf(1),
        round: 7,
        healthBps: 10_000,
        observedAt: 21,
        attestor: wallet.address,
        signature: "0x" + "00".repeat(65),
      };
      expect(store.add(o)).to.equal(true);
      expect(store.add({ ...o, healthBps: 0, observedAt: 22 })).to.equal(false);
      expect(store.add({ ...o, round: 8, observedAt: 24 })).to.equal(true);
      expect(store.query().map((x) => [x.round, x.healthBps])).to.deep.equal([
        [7, 10_000],
        [8, 10_000],
      ]);
    });

    it("signs one observation when two probes of one round race", async function () {
      const { attestor } = await clocked();
      const [a, b] = await Promise.all([attestor.probeRound(), attestor.probeRound()]);
      expect([...a, ...b].filter((o) => o.observation)).to.have.length(3);
      expect(attestor.store.size).to.equal(3);
      expect(attestor.observations().observations).to.have.length(3);
    });

    it("keeps scoring later probes of a signed round for /v1/endpoints, without signing them", async function () {
      const { attestor, clock, metrics } = await clocked();
      await attestor.probeRound();
      server.set("/rpc/2", { status: 503 });
      clock.ms += 1_000;
      const outcomes = await attestor.probeRound();
      const second = outcomes.find((o) => o.endpointId === idOf(2))!;
      expect(second).to.include({ healthBps: 0, failure: "http_status" });
      expect(second.observation).to.equal(undefined);
      expect(attestor.endpointSummaries().find((e) => e.id === idOf(2))!.healthBps).to.equal(0);
      expect(attestor.store.query({ endpoint: idOf(2) }).map((o) => o.healthBps)).to.deep.equal([10_000]);
      const text = await metrics.registry.metrics();
      expect(text).to.contain('vigil_observations_withheld_total{reason="round_already_signed"} 3');
      // The next round signs the failure: detection latency is at most one round.
      clock.ms += 2_000;
      await attestor.probeRound();
      expect(attestor.store.query({ endpoint: idOf(2) }).map((o) => o.healthBps)).to.deep.equal([10_000, 0]);
    });

    it("signs the same round again under a new config digest after a rotation", async function () {
      const { attestor } = await clocked();
      await attestor.probeRound();
      oracleState = { ...oracleState, configDigest: DIGEST_B, version: 2 };
      await attestor.refreshOracle();
      const outcomes = await attestor.probeRound();
      expect(outcomes.filter((o) => o.observation?.configDigest === DIGEST_B)).to.have.length(3);
    });

    it("does not sign a round again for an endpoint that left the registry and came back", async function () {
      const { attestor } = await clocked();
      await attestor.probeRound();
      const all = endpoints;
      endpoints = all.slice(1);
      await attestor.refreshEndpoints();
      endpoints = all;
      await attestor.refreshEndpoints();
      const outcomes = await attestor.probeRound();
      expect(outcomes.find((o) => o.endpointId === idOf(1))!.observation).to.equal(undefined);
    });
  });

  describe("endpoints", function () {
    it("watches endpoints added to the registry after start", async function () {
      await start();
      await firstRound();
      endpoints = [...endpoints, rpcEndpoint(4)];
      await running!.attestor.refreshEndpoints();
      await running!.attestor.probeRound();
      expect(running!.attestor.store.query({ endpoint: idOf(4) })).to.have.length(1);
    });

    it("scores an endpoint on a minority chain 0 once its peers are known", async function () {
      server.set("/rpc/3", { chainId: 5 });
      await start();
      await firstRound();
      const outcomes = await running!.attestor.probeRound();
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
        const outcomes = await running!.attestor.probeRound();
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
          oracle: { read: async () => oracleState },
        });
        await firstRound();
        const outcomes = await running.attestor.probeRound();
        expect(outcomes.find((o) => o.endpointId === idOf(1))).to.include({ healthBps: 10_000 });
        expect(outcomes.every((o) => o.observation === undefined)).to.equal(true);
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
      const outcomes = await running!.attestor.probeRound();
      expect(outcomes.find((o) => o.endpointId === idOf(2))!.healthBps).to.equal(0);
    });
  });

  describe("concurrency", function () {
    it("signs the other endpoints' observations long before a hung endpoint times out", async function () {
      endpoints = [rpcEndpoint(1, "/hang"), ...[2, 3, 4, 5, 6].map((i) => rpcEndpoint(i))];
      server.set("/hang", { hang: true });
      await start({ timeoutMs: 1_500, probeIntervalMs: 60_000, concurrency: 4 });
      const round = running!.attestor.probeRound(); // a second round, racing the first: harmless
      const signed = (i: number) => running!.attestor.store.query({ endpoint: idOf(i) }).length > 0;
      const fast = () => [2, 3, 4, 5, 6].every(signed);
      // A timed-out probe is signed too (health 0): the hung endpoint's observation marks its timeout.
      while (!fast() && !signed(1)) await new Promise((r) => setTimeout(r, 5));
      // Ordered by what happened, not by a stopwatch: every fast endpoint was signed while the hung
      // one's probes were still waiting for their 1.5 s timeout.
      expect(fast(), "fast endpoints signed before the hung endpoint timed out").to.equal(true);
      expect(signed(1), "fast endpoints signed before the hung endpoint timed out").to.equal(false);
      const outcomes = await round;
      expect(outcomes.find((o) => o.endpointId === idOf(1))).to.include({ healthBps: 0, failure: "timeout" });
      expect(signed(1), "a timed-out probe is signed (what the order above relies on)").to.equal(true);
    });
  });

  describe("HTTP API", function () {
    beforeEach(async function () {
      const frozen = Date.now(); // both probe rounds fall in one oracle round
      await start({}, () => frozen);
      await firstRound();
      await running!.attestor.probeRound();
    });

    it("serves GET /v1/observations with attestor, digest and chain id", async function () {
      const { status, body } = await get("/v1/observations");
      expect(status).to.equal(200);
      expect(body).to.include({ attestor: wallet.address, configDigest: DIGEST_A, chainId: 31337 });
      // Two probe rounds within one 12 s oracle round: one observation per endpoint.
      expect(body.observations as SignedObservation[]).to.have.length(3);
    });

    it("filters by endpoint and by sinceRound", async function () {
      const one = await get(`/v1/observations?endpoint=${idOf(2)}`);
      const list = one.body.observations as SignedObservation[];
      expect(list).to.have.length(1);
      expect(list.every((o) => o.endpointId === idOf(2))).to.equal(true);
      const round = list[0].round;
      expect(
        ((await get(`/v1/observations?sinceRound=${round + 1}`)).body.observations as unknown[]).length,
      ).to.equal(0);
      expect(
        ((await get(`/v1/observations?sinceRound=${round}`)).body.observations as unknown[]).length,
      ).to.equal(3);
    });

    for (const q of [
      "endpoint=0x12",
      "sinceRound=-1",
      "sinceRound=abc",
      "sinceRound=1e3",
      "foo=1",
      "sinceRound=1&sinceRound=2",
    ]) {
      it(`answers 400 with a JSON error for ?${q}`, async function () {
        const { status, body } = await get(`/v1/observations?${q}`);
        expect(status).to.equal(400);
        expect(body.error).to.be.a("string");
      });
    }

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

    it("exports probe and signing metrics", async function () {
      const text = await (await fetch(`${running!.url}/metrics`)).text();
      expect(text).to.contain('vigil_probes_total{kind="json_rpc",outcome="ok"} 6');
      expect(text).to.contain("vigil_observations_signed_total 3");
      expect(text).to.contain("vigil_probe_latency_seconds_bucket");
      expect(text).to.contain(`vigil_endpoint_health_bps{endpoint="${idOf(1)}"} 10000`);
      expect(text).to.contain('vigil_loop_duration_seconds_count{loop="probe"}');
    });
  });

  describe("shutdown", function () {
    it("finishes the round in flight, then closes the server", async function () {
      server.set("/rpc/1", { delayMs: 400 });
      await start({ probeIntervalMs: 2_000, timeoutMs: 1_000 });
      // The first round is in flight: its request to the slow endpoint has arrived (answered in 400 ms).
      while (!server.hits.get("/rpc/1")) await new Promise((r) => setTimeout(r, 5));
      const url = running!.url;
      await running!.stop();
      expect(running!.attestor.store.query({ endpoint: idOf(1) })).to.have.length(1);
      let refused = false;
      await fetch(`${url}/healthz`).catch(() => (refused = true));
      expect(refused).to.equal(true);
    });
  });
});
