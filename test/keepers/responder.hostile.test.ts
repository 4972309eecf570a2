/**
 * A hostile market against the responder (real contracts on anvil): MockMarketOriginCheck refuses its hooks whenever
 * `tx.origin != msg.sender`. The `eth_call` pre-check (from the guard's address) passes, every real call fails:
 * before refusals were judged by outcome, the responder paid one `retryDelivery` per iteration, forever, and the
 * market never paused. Now a confirmed `retryDelivery` that leaves the delivery pending is a refusal: backed off in
 * time, and the gas one market's deliveries use within an hour is capped.
 *
 * Deterministic: nothing reports to the oracle, so the markets' dependencies stay UNKNOWN and both markets are due
 * to trip from the start; every wait is on completed iterations (`nextIteration`) or on states, never on a sleep.
 */
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import type { AddressInfo } from "node:net";
import { expect } from "chai";
import hre from "hardhat";
import { Contract, JsonRpcProvider, Wallet } from "ethers";
import { createLogger } from "../../keepers/shared/logger";
import { Metrics } from "../../keepers/shared/metrics";
import { Delivery } from "../../keepers/responder/decide";
import { parseResponderConfig, type ResponderConfigInput } from "../../keepers/responder/config";
import { responderMetrics } from "../../keepers/responder/metrics";
import { startResponder, type ResponderHandle } from "../../keepers/responder/responder";
import { Anvil, ANVIL_KEYS, deployArtifact } from "./helpers/anvil";

const NEEDED = ["HealthOracle", "EndpointRegistry", "MarketGuard", "MockMarketOriginCheck"];
const POLICY = {
  downBelowBps: 5000,
  upAtBps: 8000,
  fallRounds: 1,
  riseRounds: 1,
  heartbeat: 300,
  maxAge: 60,
};
const logger = createLogger("test", { level: process.env.VIGIL_TEST_LOG ?? "silent" });

describe("responder against a hostile market (tx.origin check; real contracts on anvil)", function () {
  this.timeout(180_000);
  let anvil: Anvil;
  let provider: JsonRpcProvider;
  let admin: Wallet;
  let oracle: Contract, registry: Contract, guard: Contract;
  const markets: Contract[] = [];
  let serviceId: string;
  let attestor: http.Server;
  let attestorUrl: string;
  let responder: ResponderHandle | undefined;

  before(async function () {
    for (const n of NEEDED) if (!(await hre.artifacts.artifactExists(n))) this.skip();
    anvil = await Anvil.start();
    provider = anvil.provider(100);
    admin = new Wallet(ANVIL_KEYS[0], provider);
    oracle = await deployArtifact("HealthOracle", [admin.address, 10, 15, 500_000, POLICY], admin);
    registry = await deployArtifact("EndpointRegistry", [await oracle.getAddress()], admin);
    guard = await deployArtifact(
      "MarketGuard",
      [admin.address, await oracle.getAddress(), await registry.getAddress(), 200_000],
      admin,
    );
    serviceId = await registry.registerService.staticCall("eth-rpc", { cooldown: 0, recoveryPeriod: 0 });
    await (await registry.registerService("eth-rpc", { cooldown: 0, recoveryPeriod: 0 })).wait();
    for (const [i, uri] of ["http://primary.invalid", "http://backup.invalid"].entries())
      await (await registry.addEndpoint(serviceId, 0, uri, i)).wait();
    // Markets 1 and 2: one per test, each a hostile market depending on the service.
    for (let i = 0; i < 2; i++) {
      const market = await deployArtifact("MockMarketOriginCheck", [], admin);
      markets.push(market);
      await (
        await guard.registerMarket({
          market: await market.getAddress(),
          guardian: "0x0000000000000000000000000000000000000000",
          pauseThresholdBps: 5000,
          gracePeriod: 60,
          services: [serviceId],
          endpoints: [],
        })
      ).wait();
    }
    // An attestor with nothing to say: the endpoints stay UNKNOWN, both markets stay due to trip.
    attestor = http.createServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          attestor: admin.address,
          configDigest: "0x" + "00".repeat(32),
          chainId: 31337,
          reports: [],
        }),
      );
    });
    await new Promise<void>((r) => attestor.listen(0, "127.0.0.1", r));
    attestorUrl = `http://127.0.0.1:${(attestor.address() as AddressInfo).port}`;
  });

  afterEach(async function () {
    await responder?.stop();
    responder = undefined;
  });

  after(async function () {
    attestor?.closeAllConnections();
    attestor?.close();
    provider?.destroy();
    await anvil?.stop();
  });

  async function start(market: number, key: number, extra: Partial<ResponderConfigInput>) {
    responder = await startResponder(
      parseResponderConfig({
        chain: { rpcUrls: [anvil.url], chainId: anvil.chainId },
        contracts: {
          oracle: await oracle.getAddress(),
          registry: await registry.getAddress(),
          guard: await guard.getAddress(),
        },
        attestorUrls: [attestorUrl],
        services: [serviceId],
        markets: [market],
        pollIntervalMs: 60_000, // iterations are driven by the test (nextIteration), not the timer
        outboxPath: path.join(fs.mkdtempSync(path.join(os.tmpdir(), "vigil-hostile-")), "outbox.sqlite"),
        http: { port: 0 },
        ...extra,
      }),
      { logger, metrics: new Metrics(false), wallet: new Wallet(ANVIL_KEYS[key]) },
    );
    return responder;
  }
  const delivery = async (m: number) => Number(await guard.deliveryStatus(m)) as Delivery;
  const metric = async (r: ResponderHandle, name: "deliveryRefusals" | "deliveryGas", market: number) =>
    (await responderMetrics(r.metrics)[name].get()).values
      .filter((v) => v.labels.market === String(market))
      .reduce((a, v) => a + v.value, 0);
  const delivers = (r: ResponderHandle) => r.outbox.list(1000).filter((a) => a.kind === "deliver");
  async function iterateUntil(r: ResponderHandle, what: string, f: () => Promise<boolean>, max: number) {
    for (let i = 0; !(await f()); i++) {
      if (i >= max) throw new Error(`${what}: not after ${max} iterations`);
      await r.nextIteration();
    }
  }

  it("a confirmed retryDelivery that leaves the delivery pending is a refusal: backed off, not re-sent every iteration", async function () {
    const r = await start(1, 1, { delivery: { backoffBaseMs: 600_000, backoffMaxMs: 600_000 } });
    // The responder trips the market; the market refuses the pause inside the trip; the guard owes it.
    await iterateUntil(
      r,
      "the refusal by outcome",
      async () => (await metric(r, "deliveryRefusals", 1)) >= 1,
      10,
    );
    expect(await guard.isPaused(1)).to.equal(true);
    expect(await delivery(1)).to.equal(Delivery.PENDING_PAUSE);
    // The pre-check passed (the eth_call from the guard has tx.origin == msg.sender): one retryDelivery was paid.
    expect(delivers(r).map((a) => a.status)).to.deep.equal(["confirmed"]);
    const gasAfterOne = await metric(r, "deliveryGas", 1);
    expect(gasAfterOne).to.be.greaterThan(0);
    // Ten more iterations: backed off, no second transaction (today's main paid one per iteration).
    for (let i = 0; i < 10; i++) await r.nextIteration();
    expect(delivers(r)).to.have.length(1);
    expect(await metric(r, "deliveryRefusals", 1)).to.equal(1);
    expect(await metric(r, "deliveryGas", 1)).to.equal(gasAfterOne);
    expect(await markets[0].pauseCalls()).to.equal(0n);
    expect(await delivery(1)).to.equal(Delivery.PENDING_PAUSE);
    const events = await guard.queryFilter(guard.filters.MarketPauseCallFailed(1));
    expect(events).to.have.length(2); // the trip's own call and the one paid retry
  });

  it("without backoff, the gas of one market's deliveries stays within delivery.maxGasPerMarketPerHour", async function () {
    const cap = 400_000;
    const r = await start(2, 2, {
      delivery: { backoffBaseMs: 1, backoffMaxMs: 1, maxGasPerMarketPerHour: cap },
    });
    const gasCapped = async () =>
      (await r.metrics.actions.get()).values
        .filter((v) => v.labels.action === "deliver" && v.labels.outcome === "gas_capped")
        .reduce((a, v) => a + v.value, 0);
    await iterateUntil(r, "the gas cap", async () => (await gasCapped()) >= 1, 40);
    const sent = delivers(r);
    expect(sent.length).to.be.greaterThan(0);
    for (let i = 0; i < 5; i++) await r.nextIteration();
    // Bounded: nothing more was sent, and the receipts' gas is within the cap and is what the metric says.
    expect(delivers(r)).to.have.length(sent.length);
    let used = 0n;
    for (const a of sent) {
      const receipt = await provider.getTransactionReceipt(a.txs[a.txs.length - 1].hash);
      used += receipt!.gasUsed;
    }
    expect(Number(used)).to.be.at.most(cap);
    expect(await metric(r, "deliveryGas", 2)).to.equal(Number(used));
    expect(await metric(r, "deliveryRefusals", 2)).to.equal(sent.length);
    expect(await delivery(2)).to.equal(Delivery.PENDING_PAUSE);
  });
});
