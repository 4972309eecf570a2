/**
 * No decision rests on one RPC (real contracts on anvil): the responder is given two control-chain RPC URLs, the
 * first behind a hostile proxy (scripts/chaos/rpcProxy.ts) that refuses connections, hangs, serves a frozen head,
 * or lies "not due" about `guard.tripStatus`, the second honest. In each case a market becomes due to trip while
 * the first RPC misbehaves: the market is tripped, and the misbehaving RPC is named in `vigil_rpc_faults_total`.
 * (Before the pool, the first RPC's error or lie was the answer: zero transactions, the market left open.)
 *
 * Each case registers a fresh market only after the fault is on (a market not registered is not due), so the trip
 * is decided while the fault holds. Every wait is on a state, never on a time.
 */
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import type { AddressInfo } from "node:net";
import { expect } from "chai";
import hre from "hardhat";
import { AbiCoder, Contract, JsonRpcProvider, Wallet } from "ethers";
import { RpcProxy, type ProxyMode } from "../../scripts/chaos/rpcProxy";
import { createLogger } from "../../keepers/shared/logger";
import { Metrics } from "../../keepers/shared/metrics";
import { GuardCheck } from "../../keepers/responder/decide";
import { parseResponderConfig } from "../../keepers/responder/config";
import { startResponder, type ResponderHandle } from "../../keepers/responder/responder";
import { Anvil, ANVIL_KEYS, deployArtifact } from "./helpers/anvil";
import { until } from "./helpers/until";

const NEEDED = ["HealthOracle", "EndpointRegistry", "MarketGuard", "MockMarket"];
const POLICY = {
  downBelowBps: 5000,
  upAtBps: 8000,
  fallRounds: 1,
  riseRounds: 1,
  heartbeat: 300,
  maxAge: 60,
};
const logger = createLogger("test", { level: process.env.VIGIL_TEST_LOG ?? "silent" });

describe("responder with one misbehaving control-chain RPC beside an honest one", function () {
  this.timeout(240_000);
  let anvil: Anvil;
  let provider: JsonRpcProvider;
  let admin: Wallet;
  let oracle: Contract, registry: Contract, guard: Contract;
  let serviceId: string;
  let attestor: http.Server;
  let attestorUrl: string;
  let proxy: RpcProxy;
  let responder: ResponderHandle | undefined;
  let metrics: Metrics;
  let nextMarket = 1;

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
    // An attestor with nothing to say: the service's endpoints stay UNKNOWN, so a market on it is due to trip.
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
    proxy = await RpcProxy.start(anvil.url);
  });

  afterEach(async function () {
    await responder?.stop();
    responder = undefined;
    await proxy?.set({ kind: "pass" });
  });

  after(async function () {
    await proxy?.close();
    attestor?.closeAllConnections();
    attestor?.close();
    provider?.destroy();
    await anvil?.stop();
  });

  /** Start a responder on [proxy, honest] watching the next market id (not registered yet: not due). */
  async function start(key: number): Promise<number> {
    const market = nextMarket++;
    metrics = new Metrics(false);
    responder = await startResponder(
      parseResponderConfig({
        chain: { rpcUrls: [proxy.url, anvil.url], chainId: anvil.chainId },
        contracts: {
          oracle: await oracle.getAddress(),
          registry: await registry.getAddress(),
          guard: await guard.getAddress(),
        },
        attestorUrls: [attestorUrl],
        services: [serviceId],
        markets: [market],
        pollIntervalMs: 300,
        outboxPath: path.join(fs.mkdtempSync(path.join(os.tmpdir(), "vigil-rpc-")), "outbox.sqlite"),
        http: { port: 0 },
      }),
      { logger, metrics, wallet: new Wallet(ANVIL_KEYS[key]) },
    );
    await responder.nextIteration();
    return market;
  }

  async function registerMarket(expectedId: number): Promise<void> {
    const m = await deployArtifact("MockMarket", [], admin);
    await (
      await guard.registerMarket({
        market: await m.getAddress(),
        guardian: "0x0000000000000000000000000000000000000000",
        pauseThresholdBps: 5000,
        gracePeriod: 60,
        services: [serviceId],
        endpoints: [],
      })
    ).wait();
    expect(Number((await guard.tripStatus(expectedId)).check)).to.equal(GuardCheck.DUE);
  }

  /** `vigil_rpc_faults_total` of the proxy's RPC, by kind. */
  async function faults(kinds: readonly string[]): Promise<number> {
    const c = metrics.registry.getSingleMetric("vigil_rpc_faults_total");
    const values = (await c?.get())?.values ?? [];
    return values
      .filter((v) => v.labels.rpc === proxy.url && kinds.includes(String(v.labels.kind)))
      .reduce((a, v) => a + v.value, 0);
  }

  async function tripsWhile(mode: ProxyMode, key: number, blamed: readonly string[], mine = 0) {
    const market = await start(key);
    await proxy.set(mode);
    await registerMarket(market);
    if (mine > 0) await anvil.mine(mine); // the honest head moves on; a frozen one stays behind
    await until(`market ${market} tripped with the first RPC ${mode.kind}`, async () =>
      guard.isPaused(market),
    );
    const trips = () =>
      responder!.outbox.list(100).filter((a) => a.kind === "trip" && a.target === String(market));
    await until(`the trip recorded as confirmed`, async () => trips().some((a) => a.status === "confirmed"));
    expect(trips()).to.have.length(1); // one trip action, never a second one for the same market
    await until(`the first RPC blamed (${blamed.join("|")})`, async () => (await faults(blamed)) > 0);
  }

  it("the first RPC refuses connections: the market is tripped through the second, the first is blamed", async function () {
    await tripsWhile({ kind: "refuse" }, 1, ["refused"]);
  });

  it("the first RPC hangs (accepts, never answers): the market is tripped, the first is blamed", async function () {
    await tripsWhile({ kind: "hang" }, 2, ["timeout"]);
  });

  it("the first RPC serves a frozen head: the market is tripped, the first is blamed", async function () {
    await tripsWhile({ kind: "frozen" }, 3, ["frozen", "lagging"], 5);
  });

  it('the first RPC lies "not due" about guard.tripStatus: the market is tripped, the first is blamed "lied"', async function () {
    const notDue = AbiCoder.defaultAbiCoder().encode(
      ["uint8", "bytes32"],
      [GuardCheck.DEPENDENCIES_USABLE, "0x" + "00".repeat(32)],
    );
    const selector = guard.interface.getFunction("tripStatus")!.selector;
    await tripsWhile(
      { kind: "lie", to: (await guard.getAddress()).toLowerCase(), selector, result: notDue },
      4,
      ["lied"],
    );
    // The lie is believed by nobody: the honest RPC's view and the clean simulation outvote it.
    const disagreements = (
      await metrics.registry.getSingleMetric("vigil_responder_rpc_disagreements_total")?.get()
    )?.values;
    expect((disagreements ?? []).some((v) => v.labels.action === "trip" && v.value > 0)).to.equal(true);
  });
});
