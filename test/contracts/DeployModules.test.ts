/**
 * The Ignition modules on the in-process Hardhat network: the adapters (HealthFeed, VigilUpkeep, FailoverFeed and a
 * market priced by it) deployed from
 * the same parameters file as the core (ignition/modules/Vigil.ts `adapters`), the parameters they refuse, and
 * the standalone example market module (ignition/modules/ExampleMarket.ts) registered with a deployed guard.
 */
import fs from "node:fs";
import path from "node:path";
import { expect } from "chai";
import hre, { ethers } from "hardhat";
import { ZeroAddress } from "ethers";
import ExampleMarket from "../../ignition/modules/ExampleMarket";
import { zDeployParams } from "../../ignition/modules/Vigil";
import { deployVigil } from "../../scripts/deploy";

const example = JSON.parse(
  fs.readFileSync(path.join(__dirname, "..", "..", "ignition", "parameters", "example.json"), "utf8"),
);

describe("Ignition modules", function () {
  this.timeout(120_000);

  describe("adapters from the parameters file", function () {
    it("deploys a HealthFeed per listed endpoint and the VigilUpkeep, wired to the deployed core", async function () {
      const deployed = await deployVigil({
        ...example,
        adapters: {
          healthFeeds: [
            { service: "eth-sepolia-rpc", endpoint: 1 },
            { service: "eth-sepolia-rpc", description: "primary rpc health" },
          ],
          upkeep: true,
        },
      });
      expect(deployed.healthFeeds).to.have.length(2);
      const registry = await ethers.getContractAt("EndpointRegistry", deployed.registry);
      const [service] = await registry.services();
      const endpoints = await registry.endpointsOf(service);
      const feeds = await Promise.all(deployed.healthFeeds.map((a) => ethers.getContractAt("HealthFeed", a)));
      expect(await feeds[0].endpointId()).to.equal(endpoints[1].id);
      expect(await feeds[0].description()).to.equal(`Vigil health / eth-sepolia-rpc / ${endpoints[1].uri}`);
      expect(await feeds[0].oracle()).to.equal(deployed.oracle);
      expect(await feeds[1].endpointId()).to.equal(endpoints[0].id);
      expect(await feeds[1].description()).to.equal("primary rpc health");
      const upkeep = await ethers.getContractAt("VigilUpkeep", deployed.upkeep!);
      expect(await upkeep.guard()).to.equal(deployed.guard);
      expect(await upkeep.registry()).to.equal(deployed.registry);
    });

    it("deploys no adapter when the file has none", async function () {
      const deployed = await deployVigil(example);
      expect(deployed.healthFeeds).to.deep.equal([]);
      expect(deployed.upkeep).to.equal(undefined);
    });

    it("refuses a feed on an unknown service or a missing endpoint, and a WebSocket endpoint", function () {
      const issues = (params: unknown) => {
        const r = zDeployParams.safeParse(params);
        return r.success ? [] : r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
      };
      expect(issues({ ...example, adapters: { healthFeeds: [{ service: "nope" }] } })).to.deep.equal([
        'adapters.healthFeeds.0: unknown service "nope"',
      ]);
      expect(
        issues({ ...example, adapters: { healthFeeds: [{ service: "eth-sepolia-rpc", endpoint: 3 }] } }),
      ).to.deep.equal(['adapters.healthFeeds.0: service "eth-sepolia-rpc" has no endpoint #3 (it has 3)']);
      const ws = structuredClone(example);
      ws.services[0].endpoints[0] = { kind: "WEBSOCKET", uri: "wss://rpc.example/ws", priority: 0 };
      expect(issues(ws)).to.deep.equal([
        "services.0.endpoints.0.kind: no attestor probes WebSocket endpoints: give the node's http(s) JSON-RPC URL with kind JSON_RPC",
      ]);
    });
  });

  describe("FailoverFeeds from the parameters file", function () {
    /** The example file plus a price-feed service over two live MockAggregators (8 and 18 decimals). */
    async function withFeedService() {
      const chainId = (await ethers.provider.getNetwork()).chainId;
      const primary = await ethers.deployContract("MockAggregator", [8, "primary"]);
      const backup = await ethers.deployContract("MockAggregator", [18, "backup"]);
      await primary.updateAnswer(2_000n * 10n ** 8n);
      await backup.updateAnswer(2_001n * 10n ** 18n);
      const endpoints = [
        { kind: "ORACLE_FEED", uri: `eip155:${chainId}:${await primary.getAddress()}`, priority: 0 },
        { kind: "ORACLE_FEED", uri: `eip155:${chainId}:${await backup.getAddress()}`, priority: 1 },
      ];
      return {
        ...example,
        services: [...example.services, { name: "eth-usd-feed", endpoints }],
      };
    }

    it("deploys a FailoverFeed per listed service and a market priced by it", async function () {
      const params = await withFeedService();
      const deployed = await deployVigil({
        ...params,
        markets: [{ services: ["eth-sepolia-rpc", "eth-usd-feed"], priceFeed: 0 }],
        adapters: { failoverFeeds: [{ service: "eth-usd-feed", decimals: 18, maxAge: 3_600 }] },
      });
      expect(deployed.failoverFeeds).to.have.length(1);
      const feed = await ethers.getContractAt("FailoverFeed", deployed.failoverFeeds[0]);
      const registry = await ethers.getContractAt("EndpointRegistry", deployed.registry);
      const services = await registry.services();
      expect(await feed.serviceId()).to.equal(services[1]);
      expect(await feed.phaseCount()).to.equal(2n);
      expect(await feed.description()).to.equal("Vigil failover / eth-usd-feed");
      expect(await feed.maxAge()).to.equal(3_600n);
      expect((await feed.latestRoundData())[1]).to.equal(2_000n * 10n ** 18n);
      const market = await ethers.getContractAt("FeedPricedPerpMarket", deployed.markets[0]);
      expect(await market.priceFeed()).to.equal(deployed.failoverFeeds[0]);
      expect(await market.markPrice()).to.equal(2_000n * 10n ** 18n);
      const guard = await ethers.getContractAt("MarketGuard", deployed.guard);
      expect((await guard.marketConfig(1)).services).to.deep.equal([services[0], services[1]]);
    });

    it("refuses a FailoverFeed on an unknown or non-feed service, and a priceFeed the market cannot use", async function () {
      const params = await withFeedService();
      const issues = (p: unknown) => {
        const r = zDeployParams.safeParse(p);
        return r.success ? [] : r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
      };
      const feed = (service: string) => ({ adapters: { failoverFeeds: [{ service, maxAge: 60 }] } });
      expect(issues({ ...params, ...feed("nope") })).to.deep.equal([
        'adapters.failoverFeeds.0: unknown service "nope"',
      ]);
      expect(issues({ ...params, ...feed("eth-sepolia-rpc") })).to.deep.equal([
        'adapters.failoverFeeds.0: service "eth-sepolia-rpc" endpoint #0 is JSON_RPC: a FailoverFeed reads ORACLE_FEED endpoints only',
      ]);
      const market = (m: object) => issues({ ...params, ...feed("eth-usd-feed"), markets: [m] });
      expect(market({ services: ["eth-usd-feed"], priceFeed: 1 })).to.deep.equal([
        "markets.0.priceFeed: adapters.failoverFeeds has no #1 (it has 1)",
      ]);
      expect(market({ services: ["eth-sepolia-rpc"], priceFeed: 0 })).to.deep.equal([
        'markets.0.priceFeed: the market reads its price from "eth-usd-feed": list it in services, so the guard pauses it when no feed of it is usable',
      ]);
      expect(
        market({ address: ZeroAddress.replace(/0$/, "1"), services: ["eth-usd-feed"], priceFeed: 0 }),
      ).to.deep.equal(["markets.0.priceFeed: a priceFeed needs the example market (no address)"]);
    });

    it("stops the deployment when a feed endpoint names another chain (the FailoverFeed refuses it)", async function () {
      const params = await withFeedService();
      params.services[1].endpoints[1].uri = params.services[1].endpoints[1].uri.replace(
        /^eip155:\d+:/,
        "eip155:1:",
      );
      const error = await deployVigil({
        ...params,
        adapters: { failoverFeeds: [{ service: "eth-usd-feed", maxAge: 60, decimals: 18 }] },
      }).then(
        () => "deployed",
        (e: unknown) => (e instanceof Error ? e.message : String(e)),
      );
      expect(error).to.match(/FailoverFeedWrongChain/);
    });
  });

  describe("ExampleMarket", function () {
    it("deploys a GuardedPerpMarket only the given guard pauses, which the guard owner then registers", async function () {
      const deployed = await deployVigil({ ...example, markets: [] });
      const { market, collateral } = (await hre.ignition.deploy(ExampleMarket, {
        parameters: { ExampleMarket: { guard: deployed.guard } },
        displayUi: false,
      })) as unknown as Record<string, { getAddress(): Promise<string> }>;
      const perp = await ethers.getContractAt("GuardedPerpMarket", await market.getAddress());
      expect(await perp.guard()).to.equal(deployed.guard);
      expect(await perp.collateral()).to.equal(await collateral.getAddress());
      expect(await perp.markPrice()).to.equal(2_000n * 10n ** 18n);
      const guard = await ethers.getContractAt("MarketGuard", deployed.guard);
      const registry = await ethers.getContractAt("EndpointRegistry", deployed.registry);
      const [service] = await registry.services();
      const config = {
        market: await perp.getAddress(),
        guardian: ZeroAddress,
        pauseThresholdBps: 5000,
        gracePeriod: 300,
        services: [service],
        endpoints: [],
      };
      await expect(guard.registerMarket(config)).to.emit(guard, "MarketRegistered");
      // Nothing has reported yet: the service is UNKNOWN, so the market is due to pause, and the pause reaches it.
      await expect(guard.trip(1)).to.emit(guard, "MarketPaused").withArgs(1, service, anyAddress());
      expect(await perp.paused()).to.equal(true);
    });
  });
});

function anyAddress() {
  return (v: unknown) => typeof v === "string" && /^0x[0-9a-fA-F]{40}$/.test(v);
}
