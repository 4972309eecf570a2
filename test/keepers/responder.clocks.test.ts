/**
 * The keepers on the two kinds of control chain an operator meets: an automining dev chain with no other traffic
 * (a block only when a transaction comes, so the latest block's timestamp lags the wall clock by minutes) and a
 * chain with 12 s blocks (anvil interval mining, as on Ethereum). Real attestors (`startAttestor`, signing with the
 * local clock) probe an HTTP endpoint the test takes down and brings back; a real responder relays their rounds
 * and trips and resumes a guarded market. Both chains must see the reports accepted, the market paused and
 * resumed after its grace period, and a steady state without a warning. On the automining chain the test also
 * takes the attestor quorum away and gives it back: `/healthz`, the gauges and one log line per change say so.
 */
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import { expect } from "chai";
import hre from "hardhat";
import { Wallet, type Contract, type JsonRpcProvider } from "ethers";
import { startAttestor, type RunningAttestor } from "../../keepers/attestor/service";
import { attestorConfigSchema } from "../../keepers/attestor/config";
import { parseResponderConfig } from "../../keepers/responder/config";
import { startResponder, type ResponderHandle } from "../../keepers/responder/responder";
import { EndpointKind, Status } from "../../keepers/shared/health";
import { createLogger } from "../../keepers/shared/logger";
import { Metrics } from "../../keepers/shared/metrics";
import { Anvil, ANVIL_KEYS, deployArtifact } from "./helpers/anvil";
import { until } from "./helpers/until";

const ROUND = 5;
const GRACE = 10;
/**
 * maxAge 15 s on the automining chain: the attestors serve their last 8 rounds (40 s), so polls are also served
 * expired ones. 60 s on the 12 s chain: a round must still be fresh when the next block mines it.
 */
const policyFor = (mode: string) => ({
  downBelowBps: 5000,
  upAtBps: 8000,
  fallRounds: 1,
  riseRounds: 1,
  heartbeat: 600,
  maxAge: mode === "automine" ? 15 : 60,
});

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
  /** Lines at warn (40) or above, from index `from` on. */
  warnings(from = 0) {
    return this.lines.slice(from).filter((l) => l.level >= 40);
  }
}

async function gauge(r: ResponderHandle, name: string, reason?: string): Promise<number> {
  const m = await r.metrics.registry.getSingleMetric(name)?.get();
  return (m?.values ?? [])
    .filter((v) => !reason || v.labels.reason === reason)
    .reduce((a, v) => a + v.value, 0);
}

async function healthz(
  port: number,
  path = "/readyz",
): Promise<{ code: number; body: { status: string; reasons: string[] } }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { code: res.status, body: (await res.json()) as { status: string; reasons: string[] } };
}

for (const mode of ["automine", "12 s blocks"] as const) {
  describe(`keepers on a control chain with ${mode === "automine" ? "automine and no other traffic" : "12 s blocks"}`, function () {
    this.timeout(600_000);
    let anvil: Anvil;
    let provider: JsonRpcProvider;
    let oracle: Contract, guard: Contract;
    let endpointId: string;
    let marketId: number;
    let up = true;
    let target: http.Server;
    const attestorKeys = ANVIL_KEYS.slice(5, 8).map((k) => new Wallet(k));
    const attestors: Array<RunningAttestor | undefined> = [];
    const attestorPorts: number[] = [];
    const dataDirs: string[] = [];
    const responderLog = new LogSink();
    const attestorLog = new LogSink();
    let responder: ResponderHandle;
    let attestorConfig: (i: number) => ReturnType<typeof attestorConfigSchema.parse>;

    before(async function () {
      for (const n of ["HealthOracle", "EndpointRegistry", "MarketGuard", "GuardedPerpMarket", "MockERC20"])
        if (!(await hre.artifacts.artifactExists(n))) this.skip();
      // The probed endpoint: an HTTP server that answers 200 while `up`, 503 otherwise.
      target = http.createServer((_req, res) => {
        res.writeHead(up ? 200 : 503);
        res.end(up ? "ok" : "down");
      });
      await new Promise<void>((r) => target.listen(0, "127.0.0.1", r));
      const targetUrl = `http://127.0.0.1:${(target.address() as AddressInfo).port}/health`;

      // Deployed with automine; the 12 s chain switches to interval mining once everything is in place.
      anvil = await Anvil.start();
      provider = anvil.provider(200);
      const admin = new Wallet(ANVIL_KEYS[0], provider);
      oracle = await deployArtifact(
        "HealthOracle",
        [admin.address, ROUND, 15, 500_000, policyFor(mode)],
        admin,
      );
      await (
        await oracle.setAttestors(
          attestorKeys.map((a) => a.address).sort((a, b) => (a.toLowerCase() < b.toLowerCase() ? -1 : 1)),
          2,
        )
      ).wait();
      const registry = await deployArtifact("EndpointRegistry", [await oracle.getAddress()], admin);
      guard = await deployArtifact(
        "MarketGuard",
        [admin.address, await oracle.getAddress(), await registry.getAddress(), 200_000],
        admin,
      );
      const token = await deployArtifact("MockERC20", ["Collateral", "COL"], admin);
      const market = await deployArtifact(
        "GuardedPerpMarket",
        [await token.getAddress(), await guard.getAddress(), admin.address, 10n ** 18n],
        admin,
      );
      const cfg = { cooldown: 0, recoveryPeriod: 0 };
      const serviceId: string = await registry.registerService.staticCall("status-page", cfg);
      await (await registry.registerService("status-page", cfg)).wait();
      endpointId = await registry.addEndpoint.staticCall(serviceId, EndpointKind.HTTP, targetUrl, 0);
      await (await registry.addEndpoint(serviceId, EndpointKind.HTTP, targetUrl, 0)).wait();
      marketId = Number(await guard.marketCount()) + 1;
      await (
        await guard.registerMarket({
          market: await market.getAddress(),
          guardian: "0x0000000000000000000000000000000000000000",
          pauseThresholdBps: 5000,
          gracePeriod: GRACE,
          services: [],
          endpoints: [endpointId],
        })
      ).wait();
      marketId = Number(await guard.marketIdOf(await market.getAddress()));
      if (mode === "12 s blocks") {
        await anvil.send("evm_setAutomine", [false]);
        await anvil.send("evm_setIntervalMining", [12]);
      }

      const contracts = {
        oracle: await oracle.getAddress(),
        registry: await registry.getAddress(),
        guard: await guard.getAddress(),
      };
      const chain = { rpcUrls: [anvil.url], chainId: anvil.chainId };
      attestorConfig = (i: number) =>
        attestorConfigSchema.parse({
          chain,
          contracts,
          services: [serviceId],
          allowPrivateTargets: true, // the probed endpoint is on loopback
          probeIntervalMs: 1_000,
          timeoutMs: 500,
          errorWindow: 2,
          dataDir: dataDirs[i],
          http: { port: attestorPorts[i] ?? 0 },
          // keepReports stays at its default (8): older rounds than the oracle accepts are served too.
        });
      for (let i = 0; i < attestorKeys.length; i++) {
        dataDirs.push(fs.mkdtempSync(path.join(os.tmpdir(), "vigil-clocks-att-")));
        const a = await startAttestor(attestorConfig(i), {
          signer: attestorKeys[i],
          logger: createLogger("attestor", { level: "info", destination: attestorLog }),
          metrics: new Metrics(false),
        });
        attestors.push(a);
        attestorPorts.push(a.port);
      }
      responder = await startResponder(
        parseResponderConfig({
          chain,
          contracts,
          attestorUrls: attestors.map((a) => a!.url),
          services: [serviceId],
          pollIntervalMs: 500,
          outboxPath: path.join(fs.mkdtempSync(path.join(os.tmpdir(), "vigil-clocks-")), "outbox.sqlite"),
          http: { port: 0 },
          confirmations: 1,
        }),
        {
          logger: createLogger("responder", { level: "debug", destination: responderLog }),
          metrics: new Metrics(false),
          wallet: new Wallet(ANVIL_KEYS[1]),
        },
      );
    });

    after(async function () {
      await responder?.stop();
      await Promise.all(attestors.map((a) => a?.stop()));
      target?.close();
      provider?.destroy();
      await anvil?.stop();
    });

    const statusOf = async () => Number((await oracle.statusOf(endpointId)).status);
    const paused = async () => Boolean(await guard.isPaused(marketId));

    it("accepts the attestors' reports (none rejected as from the future) and the endpoint turns HEALTHY", async function () {
      await until("the endpoint HEALTHY", async () => (await statusOf()) === Status.HEALTHY, 240_000);
      expect(await gauge(responder, "vigil_observations_rejected_total", "future")).to.equal(0);
      expect(await gauge(responder, "vigil_attestors_answering")).to.equal(3);
    });

    it("resumes the market tripped while its endpoint was UNKNOWN, once it has been HEALTHY for the grace period", async function () {
      // Registered before any report, the market was due to trip at once (silence counts as failure). On the
      // automining chain no block comes after the round that made the endpoint HEALTHY: the grace period ends on
      // the wall clock, and only the next block's time (not the latest block's) says the resume is due.
      await until("the market resumed", async () => !(await paused()), 240_000);
      expect(await guard.queryFilter(guard.filters.MarketPaused(marketId))).to.have.length(1);
      expect(await guard.queryFilter(guard.filters.MarketResumed(marketId))).to.have.length(1);
    });

    it("a steady state logs no warning, though expired rounds are still served", async function () {
      const from = [responderLog.lines.length, attestorLog.lines.length];
      if (mode === "automine")
        await until(
          "an expired round served, counted and ignored",
          async () => (await gauge(responder, "vigil_observations_rejected_total", "stale")) > 0,
        );
      // Several polls of the steady state, each waited for (no wall-clock margin).
      for (let i = 0; i < 6; i++) await responder.nextIteration();
      expect(responderLog.warnings(from[0]).map((l) => l.msg)).to.deep.equal([]);
      expect(attestorLog.warnings(from[1]).map((l) => l.msg)).to.deep.equal([]);
      const h = await healthz(responder.port);
      expect(h.code).to.equal(200);
      expect(h.body.status).to.equal("ok");
    });

    it("pauses the market when the endpoint goes down", async function () {
      up = false;
      await until("the market paused", paused, 240_000);
      expect(await statusOf()).to.equal(Status.DOWN);
    });

    it("resumes the market once the endpoint is healthy again and its grace period has passed", async function () {
      up = true;
      await until("the endpoint HEALTHY again", async () => (await statusOf()) === Status.HEALTHY, 240_000);
      await until("the market resumed", async () => !(await paused()), 240_000);
      expect(await guard.queryFilter(guard.filters.MarketResumed(marketId))).to.have.length(2);
      expect(await gauge(responder, "vigil_observations_rejected_total", "future")).to.equal(0);
    });

    if (mode === "automine")
      it("says once when fewer than quorum attestors answer (/healthz degraded, gauges), and once when they are back", async function () {
        const from = responderLog.lines.length;
        await Promise.all([attestors[0]!.stop(), attestors[1]!.stop()]);
        attestors[0] = attestors[1] = undefined;
        await until("/readyz degraded", async () => (await healthz(responder.port)).code === 503, 60_000);
        const h = await healthz(responder.port);
        expect(h.body.status).to.equal("degraded");
        expect((await healthz(responder.port, "/healthz")).code).to.equal(200); // liveness: no restart loop
        expect(h.body.reasons.join())
          .to.contain("attestor_quorum: 1 of 3 attestors answer")
          .and.contain("quorum is 2");
        expect(await gauge(responder, "vigil_quorum_lost")).to.equal(1);
        expect(await gauge(responder, "vigil_attestors_answering")).to.equal(1);
        expect(await gauge(responder, "vigil_attestor_quorum")).to.equal(2);
        for (let i = 0; i < 5; i++) await responder.nextIteration();
        const lost = responderLog.lines.slice(from).filter((l) => l.msg.startsWith("fewer than quorum"));
        expect(lost).to.have.length(1);
        expect(lost[0].level).to.equal(40);
        // One line per attestor that stopped answering, not one per poll.
        expect(
          responderLog.lines.slice(from).filter((l) => l.msg === "attestor fetch failed"),
        ).to.have.length(2);

        for (const i of [0, 1])
          attestors[i] = await startAttestor(attestorConfig(i), {
            signer: attestorKeys[i],
            logger: createLogger("attestor", { level: "info", destination: attestorLog }),
            metrics: new Metrics(false),
          });
        await until("/readyz ok", async () => (await healthz(responder.port)).code === 200, 60_000);
        expect(await gauge(responder, "vigil_quorum_lost")).to.equal(0);
        expect(
          responderLog.lines.slice(from).filter((l) => l.msg === "attestor quorum answers again"),
        ).to.have.length(1);
      });
  });
}
