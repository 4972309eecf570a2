/**
 * The responder's `retryDelivery` against the real contracts on anvil: a market (MockMarketFlaky) that
 * refuses the guard's pause. The guard records the pause and owes it (PENDING_PAUSE); the responder must
 * not spend gas on `retryDelivery` while the market would refuse it again, and must send it once, and
 * only once, after the market accepts.
 *
 * Deterministic by construction: nothing reports to the oracle (the attestor serves no reports),
 * so the market's dependencies stay UNKNOWN, it is due to trip from the start and never due to resume;
 * the chain clock does not move on its own; every wait is on the responder's completed iterations
 * (`nextIteration`), never on a sleep.
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
import { Delivery, GuardCheck } from "../../keepers/responder/decide";
import { parseResponderConfig } from "../../keepers/responder/config";
import { startResponder, type ResponderHandle } from "../../keepers/responder/responder";
import { Anvil, ANVIL_KEYS, deployArtifact } from "./helpers/anvil";

const NEEDED = ["HealthOracle", "EndpointRegistry", "MarketGuard", "MockMarketFlaky"];
const POLICY = {
  downBelowBps: 5000,
  upAtBps: 8000,
  fallRounds: 1,
  riseRounds: 1,
  heartbeat: 300,
  maxAge: 60,
};
const logger = createLogger("test", { level: process.env.VIGIL_TEST_LOG ?? "silent" });

const deploy = deployArtifact;

describe("responder delivery retry (real contracts on anvil)", function () {
  this.timeout(180_000);
  let anvil: Anvil;
  let provider: JsonRpcProvider;
  let admin: Wallet;
  let oracle: Contract, registry: Contract, guard: Contract, market: Contract;
  let serviceId: string;
  let attestor: http.Server;
  let attestorUrl: string;
  let responder: ResponderHandle | undefined;

  before(async function () {
    for (const n of NEEDED) if (!(await hre.artifacts.artifactExists(n))) this.skip();
    anvil = await Anvil.start();
    provider = anvil.provider(100);
    admin = new Wallet(ANVIL_KEYS[0], provider);
    oracle = await deploy("HealthOracle", [admin.address, 10, 15, 500_000, POLICY], admin);
    registry = await deploy("EndpointRegistry", [await oracle.getAddress()], admin);
    guard = await deploy(
      "MarketGuard",
      [admin.address, await oracle.getAddress(), await registry.getAddress(), 200_000],
      admin,
    );
    market = await deploy("MockMarketFlaky", [], admin);
    serviceId = await registry.registerService.staticCall("eth-rpc", { cooldown: 0, recoveryPeriod: 0 });
    await (await registry.registerService("eth-rpc", { cooldown: 0, recoveryPeriod: 0 })).wait();
    for (const [i, uri] of ["http://primary.invalid", "http://backup.invalid"].entries())
      await (await registry.addEndpoint(serviceId, 0, uri, i)).wait();
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
    // An attestor that has nothing to say: the endpoints stay UNKNOWN.
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

  after(async function () {
    await responder?.stop();
    attestor?.closeAllConnections();
    attestor?.close();
    provider?.destroy();
    await anvil?.stop();
  });

  const delivery = async () => Number(await guard.deliveryStatus(1)) as Delivery;
  const events = async (name: string) => (await guard.queryFilter(guard.filters[name](1))).length;
  const counter = async (outcome: string) =>
    (await responder!.metrics.actions.get()).values
      .filter((v) => v.labels.action === "deliver" && v.labels.outcome === outcome)
      .reduce((a, v) => a + v.value, 0);
  /** Run whole responder iterations until `f` holds; at most `max` of them. */
  async function iterateUntil(what: string, f: () => Promise<boolean>, max: number) {
    for (let i = 0; !(await f()); i++) {
      if (i >= max) throw new Error(`${what}: not after ${max} iterations`);
      await responder!.nextIteration();
    }
  }

  it("does not send retryDelivery while the market refuses, then sends it exactly once when it accepts", async function () {
    expect(Number((await guard.tripStatus(1)).check)).to.equal(GuardCheck.DUE);
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
        pollIntervalMs: 60_000, // iterations are driven by the test (nextIteration), not the timer
        outboxPath: path.join(fs.mkdtempSync(path.join(os.tmpdir(), "vigil-deliver-")), "outbox.sqlite"),
        http: { port: 0 },
        confirmations: 1,
        // Check the refusing market at every iteration (the backoff is time-based; this test counts iterations).
        delivery: { backoffBaseMs: 1, backoffMaxMs: 1 },
      }),
      { logger, metrics: new Metrics(false), wallet: new Wallet(ANVIL_KEYS[1]) },
    );
    const delivers = () => responder!.outbox.list(1000).filter((a) => a.kind === "deliver");

    // The responder trips the market; the market refuses the pause; the guard owes it.
    await iterateUntil("the refused pause", async () => (await counter("refused")) >= 1, 5);
    expect(await guard.isPaused(1)).to.equal(true);
    expect(await delivery()).to.equal(Delivery.PENDING_PAUSE);
    expect(await events("MarketPaused")).to.equal(1);
    expect(await events("MarketPauseCallFailed")).to.equal(1); // the trip's own call

    // While the market refuses: checked (with backoff), never sent.
    await iterateUntil("a few more refusals", async () => (await counter("refused")) >= 3, 20);
    expect(delivers()).to.deep.equal([]);
    expect(await events("MarketPauseCallFailed")).to.equal(1);
    expect(await counter("sent")).to.equal(0);
    expect(await market.pauseCalls()).to.equal(0n);
    expect(await delivery()).to.equal(Delivery.PENDING_PAUSE);

    // The market accepts: the responder delivers at its next check, once.
    await (await market.setRefusing(false)).wait();
    await iterateUntil("the delivery", async () => (await delivery()) === Delivery.NONE, 10);
    for (let i = 0; i < 3; i++) await responder.nextIteration();
    expect(await events("MarketPauseDelivered")).to.equal(1);
    expect(await events("MarketPauseCallFailed")).to.equal(1);
    expect(await market.paused()).to.equal(true);
    expect(await market.pauseCalls()).to.equal(1n);
    expect(await delivery()).to.equal(Delivery.NONE);
    const sent = delivers();
    expect(sent.map((a) => [a.target, a.status, a.txs.length])).to.deep.equal([["1", "confirmed", 1]]);
    expect(await counter("confirmed")).to.equal(1);
    expect(await counter("failed")).to.equal(0);
  });
});
