/**
 * The Ignition modules on the in-process Hardhat network: the adapters (HealthFeed, VigilUpkeep) deployed from
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
