import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { anyUint, anyValue } from "@nomicfoundation/hardhat-chai-matchers/withArgs";
import { expect } from "chai";
import { ZeroAddress, ZeroHash } from "ethers";
import { ethers } from "hardhat";
import type { MockHealthOracle, MockMarketReentrant } from "../../typechain-types";
import { Check, Delivery, Guard, Kind, Status, UNDER_COVERAGE, endpointIdOf, serviceIdOf } from "./helpers";

const MARKET_CALL_GAS = 100_000n;
const REQUIRED_GAS = (MARKET_CALL_GAS * 64n) / 63n + 5_000n;
const THRESHOLD = 5_000;
const GRACE = 600;

describe("MarketGuard", function () {
  /**
   * Services: rpc (rpcA priority 0, rpcB priority 1) and seq (seq0). Market 1 (a MockMarket) depends on the
   * rpc service and, directly, on the seq0 endpoint; threshold 5000 bps, grace 600 s, guardian set.
   * Everything starts HEALTHY.
   */
  async function deployFixture() {
    const [owner, guardian, keeper, other] = await ethers.getSigners();
    const oracle = await ethers.deployContract("MockHealthOracle");
    const registry = await ethers.deployContract("EndpointRegistry", [await oracle.getAddress()]);
    const guard = await ethers.deployContract("MarketGuard", [
      owner.address,
      await oracle.getAddress(),
      await registry.getAddress(),
      MARKET_CALL_GAS,
    ]);

    await registry.registerService("rpc", { cooldown: 0, recoveryPeriod: 0 });
    const rpc = serviceIdOf(owner.address, "rpc");
    await registry.addEndpoint(rpc, Kind.JSON_RPC, "https://a.example", 0);
    await registry.addEndpoint(rpc, Kind.JSON_RPC, "https://b.example", 1);
    const rpcA = endpointIdOf(rpc, Kind.JSON_RPC, "https://a.example");
    const rpcB = endpointIdOf(rpc, Kind.JSON_RPC, "https://b.example");

    await registry.registerService("seq", { cooldown: 0, recoveryPeriod: 0 });
    const seq = serviceIdOf(owner.address, "seq");
    const seqUri = "eip155:8453:0xBCF85224fc0756B9Fa45aA7892530B47e10b6433";
    await registry.addEndpoint(seq, Kind.SEQUENCER_FEED, seqUri, 0);
    const seq0 = endpointIdOf(seq, Kind.SEQUENCER_FEED, seqUri);

    for (const id of [rpcA, rpcB, seq0]) await oracle.setStatus(id, Status.HEALTHY, 10_000);

    const market = await ethers.deployContract("MockMarket");
    const config = {
      market: await market.getAddress(),
      guardian: guardian.address,
      pauseThresholdBps: THRESHOLD,
      gracePeriod: GRACE,
      services: [rpc],
      endpoints: [seq0],
    };
    await guard.registerMarket(config);
    return {
      owner,
      guardian,
      keeper,
      other,
      oracle,
      registry,
      guard,
      market,
      config,
      rpc,
      rpcA,
      rpcB,
      seq,
      seq0,
    };
  }

  /** Market 1 tripped because every rpc endpoint went DOWN. */
  async function trippedFixture() {
    const f = await deployFixture();
    await f.oracle.setStatus(f.rpcA, Status.DOWN, 0);
    await f.oracle.setStatus(f.rpcB, Status.DOWN, 0);
    await f.guard.trip(1);
    const pausedAt = BigInt(await time.latest());
    return { ...f, pausedAt };
  }

  /**
   * Market 2, a MockMarketFlaky on the rpc service, tripped while its `guardPause` reverts: the guard holds
   * it paused, the market is still open, the pause is PENDING_PAUSE.
   */
  async function pendingPauseFixture() {
    const f = await deployFixture();
    const flaky = await ethers.deployContract("MockMarketFlaky");
    await f.guard.registerMarket(configFor(await flaky.getAddress(), [f.rpc]));
    await setDown(f, [f.rpcA, f.rpcB]);
    await f.guard.trip(2);
    const pausedAt = BigInt(await time.latest());
    const pauseRefused = flaky.interface.encodeErrorResult("MockMarketFlakyRefused", [true]);
    const unpauseRefused = flaky.interface.encodeErrorResult("MockMarketFlakyRefused", [false]);
    return { ...f, flaky, pausedAt, pauseRefused, unpauseRefused };
  }

  /**
   * Market 2, a MockMarketFlaky on the rpc service, tripped (delivered), then resumed while its
   * `guardUnpause` reverts: the guard holds it open, the market is still paused, PENDING_UNPAUSE.
   */
  async function pendingUnpauseFixture() {
    const f = await deployFixture();
    const flaky = await ethers.deployContract("MockMarketFlaky");
    await f.guard.registerMarket(configFor(await flaky.getAddress(), [f.rpc]));
    await setDown(f, [f.rpcA, f.rpcB]);
    await flaky.setRefusing(false);
    await f.guard.trip(2);
    await flaky.setRefusing(true);
    await f.oracle.setStatus(f.rpcA, Status.HEALTHY, 10_000);
    await time.increase(GRACE);
    await f.guard.resume(2);
    const pauseRefused = flaky.interface.encodeErrorResult("MockMarketFlakyRefused", [true]);
    const unpauseRefused = flaky.interface.encodeErrorResult("MockMarketFlakyRefused", [false]);
    return { ...f, flaky, pauseRefused, unpauseRefused };
  }

  async function setDown(f: { oracle: MockHealthOracle }, ids: string[]) {
    for (const id of ids) await f.oracle.setStatus(id, Status.DOWN, 0);
  }

  /** A fresh MockMarket's address: a market contract can be registered once. */
  async function freshMarket(): Promise<string> {
    return (await ethers.deployContract("MockMarket")).getAddress();
  }

  /** A config for `market` depending on `services` only, with the fixture's defaults. */
  function configFor(market: string, services: string[], threshold = THRESHOLD) {
    return {
      market,
      guardian: ZeroAddress,
      pauseThresholdBps: threshold,
      gracePeriod: GRACE,
      services,
      endpoints: [] as string[],
    };
  }

  describe("deployment", function () {
    it("exposes its wiring and limits", async function () {
      const { guard, oracle, registry, owner } = await loadFixture(deployFixture);
      expect(await guard.oracle()).to.equal(await oracle.getAddress());
      expect(await guard.registry()).to.equal(await registry.getAddress());
      expect(await guard.marketCallGas()).to.equal(MARKET_CALL_GAS);
      expect(await guard.owner()).to.equal(owner.address);
      expect(await guard.MAX_DEPENDENCIES()).to.equal(8n);
      expect(await guard.MAX_MARKETS_PER_DEPENDENCY()).to.equal(16n);
    });

    it("rejects a registry that reads another oracle, and a zero market call gas", async function () {
      const { owner, registry, oracle } = await loadFixture(deployFixture);
      const otherOracle = await ethers.deployContract("MockHealthOracle");
      const factory = await ethers.getContractFactory("MarketGuard");
      await expect(
        factory.deploy(owner.address, await otherOracle.getAddress(), await registry.getAddress(), 1),
      )
        .to.be.revertedWithCustomError(factory, "MarketGuardInvalidSetup")
        .withArgs(await oracle.getAddress(), await otherOracle.getAddress(), 1);
      await expect(factory.deploy(owner.address, await oracle.getAddress(), await registry.getAddress(), 0))
        .to.be.revertedWithCustomError(factory, "MarketGuardInvalidSetup")
        .withArgs(await oracle.getAddress(), await oracle.getAddress(), 0);
    });
  });

  describe("registration", function () {
    it("registers markets with sequential ids and indexes their dependencies", async function () {
      const { guard, config, rpc, seq0 } = await loadFixture(deployFixture);
      expect(await guard.marketCount()).to.equal(1n);
      const stored = await guard.marketConfig(1);
      expect(stored.market).to.equal(config.market);
      expect(stored.guardian).to.equal(config.guardian);
      expect(stored.pauseThresholdBps).to.equal(BigInt(THRESHOLD));
      expect(stored.gracePeriod).to.equal(BigInt(GRACE));
      expect(stored.services).to.deep.equal([rpc]);
      expect(stored.endpoints).to.deep.equal([seq0]);
      expect(await guard.marketsOf(rpc)).to.deep.equal([1n]);
      expect(await guard.marketsOf(seq0)).to.deep.equal([1n]);

      const second = await ethers.deployContract("MockMarket");
      const cfg2 = configFor(await second.getAddress(), [rpc]);
      await expect(guard.registerMarket(cfg2))
        .to.emit(guard, "MarketRegistered")
        .withArgs(2, await second.getAddress(), [
          cfg2.market,
          cfg2.guardian,
          cfg2.pauseThresholdBps,
          cfg2.gracePeriod,
          cfg2.services,
          cfg2.endpoints,
        ]);
      expect(await guard.marketsOf(rpc)).to.deep.equal([1n, 2n]);
    });

    it("lets only the owner register or reconfigure", async function () {
      const { guard, other, config } = await loadFixture(deployFixture);
      await expect(guard.connect(other).registerMarket(config))
        .to.be.revertedWithCustomError(guard, "OwnableUnauthorizedAccount")
        .withArgs(other.address);
      await expect(guard.connect(other).setMarketConfig(1, config))
        .to.be.revertedWithCustomError(guard, "OwnableUnauthorizedAccount")
        .withArgs(other.address);
    });

    it("rejects invalid configs with MarketGuardInvalidConfig", async function () {
      const { guard, registry, owner, config, rpc, seq0 } = await loadFixture(deployFixture);
      await registry.registerService("empty", { cooldown: 0, recoveryPeriod: 0 });
      const empty = serviceIdOf(owner.address, "empty");
      const bad = [
        { ...config, market: owner.address }, // no code
        { ...config, pauseThresholdBps: 10_001 },
        { ...config, services: [], endpoints: [] },
        { ...config, services: [ethers.id("unknown service")] },
        { ...config, services: [empty] }, // registered but no endpoint
        { ...config, endpoints: [ethers.id("unknown endpoint")] },
        { ...config, services: [ZeroHash] },
        { ...config, services: [rpc, rpc] },
        { ...config, endpoints: [seq0, seq0] },
      ];
      for (const c of bad) {
        await expect(guard.registerMarket(c))
          .to.be.revertedWithCustomError(guard, "MarketGuardInvalidConfig")
          .withArgs(2);
      }
      await expect(
        guard.registerMarket({ ...config, market: await freshMarket(), pauseThresholdBps: 10_000 }),
      ).to.emit(guard, "MarketRegistered");
    });

    it("accepts 8 dependencies and rejects 9", async function () {
      const { guard, registry, owner, config, rpc, seq0 } = await loadFixture(deployFixture);
      const extra: string[] = [];
      for (let i = 0; i < 7; i++) {
        await registry.registerService(`s${i}`, { cooldown: 0, recoveryPeriod: 0 });
        const sid = serviceIdOf(owner.address, `s${i}`);
        await registry.addEndpoint(sid, Kind.HTTP, `https://s${i}.example`, 0);
        extra.push(sid);
      }
      await expect(
        guard.registerMarket({
          ...config,
          market: await freshMarket(),
          services: [rpc, ...extra.slice(0, 6)],
          endpoints: [seq0],
        }),
      ).to.emit(guard, "MarketRegistered");
      await expect(
        guard.registerMarket({
          ...config,
          market: await freshMarket(),
          services: [rpc, ...extra],
          endpoints: [seq0],
        }),
      )
        .to.be.revertedWithCustomError(guard, "MarketGuardTooManyDependencies")
        .withArgs(9, 8);
    });

    it("accepts 16 markets per dependency and rejects the 17th", async function () {
      const { guard, config, rpc } = await loadFixture(deployFixture);
      const markets: string[] = [];
      for (let i = 2; i <= 16; i++) {
        markets.push(await freshMarket());
        await guard.registerMarket({ ...config, market: markets[markets.length - 1], endpoints: [] });
      }
      await expect(guard.registerMarket({ ...config, market: await freshMarket(), endpoints: [] }))
        .to.be.revertedWithCustomError(guard, "MarketGuardTooManyMarkets")
        .withArgs(rpc, 16);
      // Reconfiguring a market that keeps the full dependency does not count it twice.
      await expect(guard.setMarketConfig(16, { ...config, market: markets[14], endpoints: [] })).to.emit(
        guard,
        "MarketConfigChanged",
      );
    });

    it("moves the reverse index on setMarketConfig and keeps the paused state", async function () {
      const { guard, rpc, seq, seq0, config } = await loadFixture(trippedFixture);
      const next = { ...config, services: [seq], endpoints: [] };
      await expect(guard.setMarketConfig(1, next))
        .to.emit(guard, "MarketConfigChanged")
        .withArgs(1, [next.market, next.guardian, next.pauseThresholdBps, next.gracePeriod, [seq], []]);
      expect(await guard.marketsOf(rpc)).to.deep.equal([]);
      expect(await guard.marketsOf(seq0)).to.deep.equal([]);
      expect(await guard.marketsOf(seq)).to.deep.equal([1n]);
      expect(await guard.isPaused(1)).to.equal(true);
    });

    it("removes a market from the middle of a dependency's list", async function () {
      const { guard, config, seq, rpc } = await loadFixture(deployFixture);
      await guard.registerMarket({ ...config, market: await freshMarket(), endpoints: [] });
      await guard.registerMarket({ ...config, market: await freshMarket(), endpoints: [] });
      await guard.setMarketConfig(1, { ...config, services: [seq], endpoints: [] });
      expect(await guard.marketsOf(rpc)).to.deep.equal([3n, 2n]);
    });

    describe("one market contract, one market id", function () {
      it("refuses a market contract that is already registered, naming it and its market id", async function () {
        const { guard, config, rpc, seq } = await loadFixture(deployFixture);
        // Whatever the other settings: the same contract with other dependencies is still the same market.
        for (const again of [config, { ...config, services: [seq], endpoints: [], guardian: ZeroAddress }]) {
          await expect(guard.registerMarket(again))
            .to.be.revertedWithCustomError(guard, "MarketGuardMarketAlreadyRegistered")
            .withArgs(config.market, 1);
        }
        expect(await guard.marketCount()).to.equal(1n);
        expect(await guard.marketsOf(rpc)).to.deep.equal([1n]);
        expect(await guard.marketIdOf(config.market)).to.equal(1n);
      });

      it("refuses moving a market id onto a contract another id holds, and keeps both as they were", async function () {
        const { guard, config } = await loadFixture(deployFixture);
        const second = await freshMarket();
        await guard.registerMarket({ ...config, market: second });
        await expect(guard.setMarketConfig(2, config))
          .to.be.revertedWithCustomError(guard, "MarketGuardMarketAlreadyRegistered")
          .withArgs(config.market, 1);
        expect(await guard.marketIdOf(config.market)).to.equal(1n);
        expect(await guard.marketIdOf(second)).to.equal(2n);
        expect((await guard.marketConfig(2)).market).to.equal(second);
      });

      it("moves a market id to a new contract and frees the old one for registration", async function () {
        const { guard, config } = await loadFixture(deployFixture);
        const replacement = await freshMarket();
        await expect(guard.setMarketConfig(1, { ...config, market: replacement })).to.emit(
          guard,
          "MarketConfigChanged",
        );
        expect(await guard.marketIdOf(replacement)).to.equal(1n);
        expect(await guard.marketIdOf(config.market)).to.equal(0n);
        await expect(guard.registerMarket(config))
          .to.emit(guard, "MarketRegistered")
          .withArgs(2, config.market, anyValue);
        expect(await guard.marketIdOf(config.market)).to.equal(2n);
        // Reconfiguring a market without changing its contract keeps its id.
        await expect(guard.setMarketConfig(2, { ...config, gracePeriod: 1 })).to.emit(
          guard,
          "MarketConfigChanged",
        );
        expect(await guard.marketIdOf(config.market)).to.equal(2n);
      });

      it("answers zero for a contract never registered", async function () {
        const { guard } = await loadFixture(deployFixture);
        expect(await guard.marketIdOf(await freshMarket())).to.equal(0n);
        expect(await guard.marketIdOf(ZeroAddress)).to.equal(0n);
      });
    });

    describe("moving a market id to another contract", function () {
      it("refuses while the guard holds it paused, and keeps the old contract bound to it", async function () {
        const { guard, market, config, oracle, rpcA } = await loadFixture(trippedFixture);
        const replacement = await freshMarket();
        await expect(guard.setMarketConfig(1, { ...config, market: replacement }))
          .to.be.revertedWithCustomError(guard, "MarketGuardMarketNotSettled")
          .withArgs(1, true, Delivery.NONE);
        expect((await guard.marketConfig(1)).market).to.equal(config.market);
        expect(await guard.marketIdOf(config.market)).to.equal(1n);
        expect(await guard.marketIdOf(replacement)).to.equal(0n);
        // The paused contract cannot come back as a new, open market id that nothing would ever unpause.
        await expect(guard.registerMarket(config))
          .to.be.revertedWithCustomError(guard, "MarketGuardMarketAlreadyRegistered")
          .withArgs(config.market, 1);
        // Once recovered, the old contract is open again and the move goes through.
        await oracle.setStatus(rpcA, Status.HEALTHY, 10_000);
        await time.increase(GRACE);
        await guard.resume(1);
        expect(await market.paused()).to.equal(false);
        await expect(guard.setMarketConfig(1, { ...config, market: replacement })).to.emit(
          guard,
          "MarketConfigChanged",
        );
        expect(await guard.marketIdOf(replacement)).to.equal(1n);
        expect(await guard.marketIdOf(config.market)).to.equal(0n);
      });

      it("still changes a paused market's other settings", async function () {
        const { guard, config, seq, pausedAt } = await loadFixture(trippedFixture);
        const next = {
          ...config,
          guardian: ZeroAddress,
          pauseThresholdBps: 9_000,
          gracePeriod: 1,
          services: [seq],
        };
        await expect(guard.setMarketConfig(1, next)).to.emit(guard, "MarketConfigChanged");
        const state = await guard.marketState(1);
        expect([state.paused, state.pausedAt, state.delivery]).to.deep.equal([
          true,
          pausedAt,
          BigInt(Delivery.NONE),
        ]);
      });

      it("refuses while a pause the market refused is pending (PENDING_PAUSE)", async function () {
        const { guard, flaky, rpc } = await loadFixture(pendingPauseFixture);
        const replacement = await freshMarket();
        await expect(guard.setMarketConfig(2, configFor(replacement, [rpc])))
          .to.be.revertedWithCustomError(guard, "MarketGuardMarketNotSettled")
          .withArgs(2, true, Delivery.PENDING_PAUSE);
        // Same contract, other settings: allowed, and the pause stays owed to it.
        await guard.setMarketConfig(2, { ...configFor(await flaky.getAddress(), [rpc]), gracePeriod: 1 });
        expect(await guard.deliveryStatus(2)).to.equal(BigInt(Delivery.PENDING_PAUSE));
        expect(await guard.marketIdOf(await flaky.getAddress())).to.equal(2n);
      });

      it("refuses while a resume the market refused is pending (PENDING_UNPAUSE), though the guard holds it open", async function () {
        const { guard, flaky, rpc } = await loadFixture(pendingUnpauseFixture);
        expect(await guard.isPaused(2)).to.equal(false);
        expect(await flaky.paused()).to.equal(true);
        const replacement = await freshMarket();
        await expect(guard.setMarketConfig(2, configFor(replacement, [rpc])))
          .to.be.revertedWithCustomError(guard, "MarketGuardMarketNotSettled")
          .withArgs(2, false, Delivery.PENDING_UNPAUSE);
        expect(await guard.marketIdOf(await flaky.getAddress())).to.equal(2n);
        expect(await guard.marketIdOf(replacement)).to.equal(0n);
      });

      it("moves once the resume is delivered, leaving the old contract open and free to register", async function () {
        const { guard, flaky, rpc } = await loadFixture(pendingUnpauseFixture);
        const old = await flaky.getAddress();
        await flaky.setRefusing(false);
        await guard.retryDelivery(2);
        const replacement = await freshMarket();
        const next = configFor(replacement, [rpc]);
        await expect(guard.setMarketConfig(2, next))
          .to.emit(guard, "MarketConfigChanged")
          .withArgs(2, [replacement, ZeroAddress, THRESHOLD, GRACE, [rpc], []]);
        expect((await guard.marketConfig(2)).market).to.equal(replacement);
        expect(await guard.marketIdOf(replacement)).to.equal(2n);
        expect(await guard.marketIdOf(old)).to.equal(0n);
        expect(await flaky.paused()).to.equal(false);
        await expect(guard.registerMarket(configFor(old, [rpc])))
          .to.emit(guard, "MarketRegistered")
          .withArgs(3, old, anyValue);
        expect(await guard.isPaused(3)).to.equal(false);
      });

      it("sends later pauses and resumes to the new contract only", async function () {
        const f = await loadFixture(deployFixture);
        const replacement = await ethers.deployContract("MockMarket");
        await f.guard.setMarketConfig(1, { ...f.config, market: await replacement.getAddress() });
        await setDown(f, [f.rpcA, f.rpcB]);
        await f.guard.trip(1);
        expect(await replacement.paused()).to.equal(true);
        await f.oracle.setStatus(f.rpcA, Status.HEALTHY, 10_000);
        await time.increase(GRACE);
        await f.guard.resume(1);
        expect(await replacement.paused()).to.equal(false);
        expect([
          await f.market.paused(),
          await f.market.pauseCalls(),
          await f.market.unpauseCalls(),
        ]).to.deep.equal([false, 0n, 0n]);
      });
    });

    describe("when its dependencies are still UNKNOWN", function () {
      /** Market 2 on a new service "fresh" whose two endpoints were never reported (UNKNOWN). */
      async function unknownDepsFixture() {
        const f = await deployFixture();
        await f.registry.registerService("fresh", { cooldown: 0, recoveryPeriod: 0 });
        const fresh = serviceIdOf(f.owner.address, "fresh");
        await f.registry.addEndpoint(fresh, Kind.JSON_RPC, "https://fresh-a.example", 0);
        await f.registry.addEndpoint(fresh, Kind.JSON_RPC, "https://fresh-b.example", 1);
        const freshA = endpointIdOf(fresh, Kind.JSON_RPC, "https://fresh-a.example");
        const market = await ethers.deployContract("MockMarket");
        await f.guard.registerMarket(configFor(await market.getAddress(), [fresh]));
        return { ...f, fresh, freshA, fresh2: market };
      }

      it("registers it open and at once due to trip, with the silent service as the cause", async function () {
        const { guard, fresh, fresh2 } = await loadFixture(unknownDepsFixture);
        expect(await guard.isPaused(2)).to.equal(false);
        expect(await fresh2.paused()).to.equal(false);
        expect(await guard.tripStatus(2)).to.deep.equal([BigInt(Guard.DUE), fresh]);
      });

      it("lets anyone pause it, then resumes only after HEALTHY for the grace period", async function () {
        const { guard, oracle, keeper, fresh, freshA, fresh2 } = await loadFixture(unknownDepsFixture);
        await expect(guard.connect(keeper).trip(2))
          .to.emit(guard, "MarketPaused")
          .withArgs(2, fresh, keeper.address);
        expect(await fresh2.paused()).to.equal(true);
        await oracle.setStatus(freshA, Status.HEALTHY, 10_000);
        const healthyAt = BigInt(await time.latest());
        expect(await guard.resumeStatus(2)).to.deep.equal([
          BigInt(Guard.GRACE_PERIOD),
          healthyAt + BigInt(GRACE),
        ]);
        await expect(guard.resume(2))
          .to.be.revertedWithCustomError(guard, "MarketGuardResumeNotDue")
          .withArgs(2, Guard.GRACE_PERIOD, healthyAt + BigInt(GRACE));
        await time.increaseTo(healthyAt + BigInt(GRACE));
        await expect(guard.resume(2)).to.emit(guard, "MarketResumed");
        expect(await fresh2.paused()).to.equal(false);
      });
    });

    it("rejects reconfiguring an unknown market", async function () {
      const { guard, config } = await loadFixture(deployFixture);
      await expect(guard.setMarketConfig(2, config))
        .to.be.revertedWithCustomError(guard, "MarketGuardUnknownMarket")
        .withArgs(2);
    });
  });

  describe("views of unknown markets", function () {
    it("reverts the strict views and reports UNKNOWN_MARKET from the status views", async function () {
      const { guard } = await loadFixture(deployFixture);
      for (const id of [0, 2]) {
        await expect(guard.marketConfig(id))
          .to.be.revertedWithCustomError(guard, "MarketGuardUnknownMarket")
          .withArgs(id);
        await expect(guard.marketState(id))
          .to.be.revertedWithCustomError(guard, "MarketGuardUnknownMarket")
          .withArgs(id);
        expect(await guard.tripStatus(id)).to.deep.equal([BigInt(Guard.UNKNOWN_MARKET), ZeroHash]);
        expect(await guard.resumeStatus(id)).to.deep.equal([BigInt(Guard.UNKNOWN_MARKET), 0n]);
        expect(await guard.isPaused(id)).to.equal(false);
        expect(await guard.deliveryStatus(id)).to.equal(BigInt(Delivery.NONE));
        await expect(guard.retryDelivery(id))
          .to.be.revertedWithCustomError(guard, "MarketGuardUnknownMarket")
          .withArgs(id);
        await expect(guard.trip(id))
          .to.be.revertedWithCustomError(guard, "MarketGuardTripNotDue")
          .withArgs(id, Guard.UNKNOWN_MARKET);
        await expect(guard.resume(id))
          .to.be.revertedWithCustomError(guard, "MarketGuardResumeNotDue")
          .withArgs(id, Guard.UNKNOWN_MARKET, 0);
        await expect(guard.guardianPause(id))
          .to.be.revertedWithCustomError(guard, "MarketGuardUnknownMarket")
          .withArgs(id);
      }
    });
  });

  describe("trip", function () {
    it("is not due while every dependency is usable", async function () {
      const { guard } = await loadFixture(deployFixture);
      expect(await guard.tripStatus(1)).to.deep.equal([BigInt(Guard.DEPENDENCIES_USABLE), ZeroHash]);
      await expect(guard.trip(1))
        .to.be.revertedWithCustomError(guard, "MarketGuardTripNotDue")
        .withArgs(1, Guard.DEPENDENCIES_USABLE);
    });

    it("does not pause when the active endpoint is DOWN but a backup is HEALTHY (the service migrates)", async function () {
      const { guard, oracle, registry, rpc, rpcA, rpcB } = await loadFixture(deployFixture);
      await oracle.setStatus(rpcA, Status.DOWN, 0);
      expect((await registry.migrationStatus(rpc))[0]).to.equal(BigInt(Check.DUE_FAILOVER));
      expect(await guard.tripStatus(1)).to.deep.equal([BigInt(Guard.DEPENDENCIES_USABLE), ZeroHash]);
      await registry.migrate(rpc);
      expect(await registry.activeEndpointId(rpc)).to.equal(rpcB);
      expect(await guard.tripStatus(1)).to.deep.equal([BigInt(Guard.DEPENDENCIES_USABLE), ZeroHash]);
    });

    it("pauses when the active endpoint is DOWN and the only usable backup is DEGRADED (no failover possible)", async function () {
      const { guard, oracle, registry, keeper, rpc, rpcA, rpcB } = await loadFixture(deployFixture);
      await oracle.setStatus(rpcA, Status.DOWN, 0);
      await oracle.setStatus(rpcB, Status.DEGRADED, 7_000);
      expect(await registry.hasUsableEndpoint(rpc, THRESHOLD)).to.equal(true);
      expect((await registry.migrationStatus(rpc))[0]).to.equal(BigInt(Check.NO_HEALTHY_CANDIDATE));
      expect(await guard.tripStatus(1)).to.deep.equal([BigInt(Guard.DUE), rpc]);
      await expect(guard.connect(keeper).trip(1))
        .to.emit(guard, "MarketPaused")
        .withArgs(1, rpc, keeper.address);
    });

    it("never pauses when the active endpoint goes DOWN inside the cooldown right after a failback (THREATS #34)", async function () {
      const { guard, oracle, registry, owner, keeper } = await loadFixture(deployFixture);
      const COOLDOWN = 300;
      const RECOVERY = 10;
      await registry.registerService("slow", { cooldown: COOLDOWN, recoveryPeriod: RECOVERY });
      const slow = serviceIdOf(owner.address, "slow");
      await registry.addEndpoint(slow, Kind.JSON_RPC, "https://p.example", 0);
      await registry.addEndpoint(slow, Kind.JSON_RPC, "https://q.example", 1);
      const p = endpointIdOf(slow, Kind.JSON_RPC, "https://p.example");
      const q = endpointIdOf(slow, Kind.JSON_RPC, "https://q.example");
      await oracle.setStatus(p, Status.DOWN, 0);
      await oracle.setStatus(q, Status.HEALTHY, 10_000);
      const market = await ethers.deployContract("MockMarket");
      await guard.registerMarket(configFor(await market.getAddress(), [slow]));
      await registry.migrate(slow); // failover p -> q
      await oracle.setStatus(p, Status.HEALTHY, 10_000);
      await time.increase(COOLDOWN);
      await expect(registry.migrate(slow)).to.emit(registry, "EndpointMigrated").withArgs(slow, q, p, true);
      // The primary dies again one second after the failback, deep inside the cooldown.
      await oracle.setStatus(p, Status.DOWN, 0);
      expect(await registry.migrationStatus(slow)).to.deep.equal([BigInt(Check.DUE_FAILOVER), q, 0n]);
      expect(await guard.tripStatus(2)).to.deep.equal([BigInt(Guard.DEPENDENCIES_USABLE), ZeroHash]);
      await expect(guard.connect(keeper).trip(2))
        .to.be.revertedWithCustomError(guard, "MarketGuardTripNotDue")
        .withArgs(2, Guard.DEPENDENCIES_USABLE);
      await expect(registry.migrate(slow)).to.emit(registry, "EndpointMigrated").withArgs(slow, p, q, false);
      expect(await guard.tripStatus(2)).to.deep.equal([BigInt(Guard.DEPENDENCIES_USABLE), ZeroHash]);
    });

    it("pauses when the active endpoint is UNKNOWN and the other endpoints are DOWN, cooldown or not", async function () {
      const { guard, oracle, rpc, rpcA, rpcB } = await loadFixture(deployFixture);
      await oracle.setStatus(rpcA, Status.UNKNOWN, 10_000);
      await oracle.setStatus(rpcB, Status.DOWN, 0);
      expect(await guard.tripStatus(1)).to.deep.equal([BigInt(Guard.DUE), rpc]);
    });

    it("does not pause while the active endpoint is only under the threshold and a backup is usable (hysteresis, then failover)", async function () {
      const { guard, oracle, registry, rpc, rpcA } = await loadFixture(deployFixture);
      await oracle.setStatus(rpcA, Status.DEGRADED, THRESHOLD - 1);
      expect((await registry.migrationStatus(rpc))[0]).to.equal(BigInt(Check.ACTIVE_USABLE));
      expect(await guard.tripStatus(1)).to.deep.equal([BigInt(Guard.DEPENDENCIES_USABLE), ZeroHash]);
      // Once confirmed DOWN the registry fails over, and the market still needs no pause.
      await oracle.setStatus(rpcA, Status.DOWN, 0);
      expect((await registry.migrationStatus(rpc))[0]).to.equal(BigInt(Check.DUE_FAILOVER));
      expect(await guard.tripStatus(1)).to.deep.equal([BigInt(Guard.DEPENDENCIES_USABLE), ZeroHash]);
    });

    it("pauses when every endpoint of a service is under the threshold, DOWN or UNKNOWN", async function () {
      const { guard, oracle, market, keeper, rpc, rpcA, rpcB } = await loadFixture(deployFixture);
      await oracle.setStatus(rpcA, Status.DEGRADED, THRESHOLD - 1);
      await oracle.setStatus(rpcB, Status.UNKNOWN, 10_000);
      expect(await guard.tripStatus(1)).to.deep.equal([BigInt(Guard.DUE), rpc]);
      await expect(guard.connect(keeper).trip(1))
        .to.emit(guard, "MarketPaused")
        .withArgs(1, rpc, keeper.address);
      expect(await market.paused()).to.equal(true);
      const state = await guard.marketState(1);
      expect(state.paused).to.equal(true);
      expect(state.pausedAt).to.equal(BigInt(await time.latest()));
      expect(state.delivery).to.equal(BigInt(Delivery.NONE));
      expect(state.cause).to.equal(rpc);
      expect(await guard.isPaused(1)).to.equal(true);
    });

    it("counts a DEGRADED active endpoint at exactly the threshold as usable", async function () {
      const { guard, oracle, rpcA, rpcB } = await loadFixture(deployFixture);
      await oracle.setStatus(rpcA, Status.DEGRADED, THRESHOLD);
      await oracle.setStatus(rpcB, Status.DOWN, 0);
      expect((await guard.tripStatus(1))[0]).to.equal(BigInt(Guard.DEPENDENCIES_USABLE));
    });

    it("reports ALREADY_PAUSED once tripped", async function () {
      const { guard } = await loadFixture(trippedFixture);
      expect(await guard.tripStatus(1)).to.deep.equal([BigInt(Guard.ALREADY_PAUSED), ZeroHash]);
      await expect(guard.trip(1))
        .to.be.revertedWithCustomError(guard, "MarketGuardTripNotDue")
        .withArgs(1, Guard.ALREADY_PAUSED);
    });

    describe("on an endpoint dependency", function () {
      const cases: [string, number, number, boolean][] = [
        ["DOWN", Status.DOWN, 10_000, true],
        ["UNKNOWN (silent)", Status.UNKNOWN, 10_000, true],
        ["DEGRADED under the threshold", Status.DEGRADED, THRESHOLD - 1, true],
        ["HEALTHY under the threshold", Status.HEALTHY, THRESHOLD - 1, true],
        ["DEGRADED at the threshold", Status.DEGRADED, THRESHOLD, false],
      ];
      for (const [name, status, bps, due] of cases) {
        it(`${due ? "trips" : "does not trip"} when the endpoint is ${name}`, async function () {
          const { guard, oracle, seq0 } = await loadFixture(deployFixture);
          await oracle.setStatus(seq0, status, bps);
          expect(await guard.tripStatus(1)).to.deep.equal(
            due ? [BigInt(Guard.DUE), seq0] : [BigInt(Guard.DEPENDENCIES_USABLE), ZeroHash],
          );
        });
      }
    });
  });

  describe("resume", function () {
    it("is not due while the market is not paused", async function () {
      const { guard } = await loadFixture(deployFixture);
      expect(await guard.resumeStatus(1)).to.deep.equal([BigInt(Guard.NOT_PAUSED), 0n]);
      await expect(guard.resume(1))
        .to.be.revertedWithCustomError(guard, "MarketGuardResumeNotDue")
        .withArgs(1, Guard.NOT_PAUSED, 0);
    });

    it("is not due while a dependency is not HEALTHY", async function () {
      const { guard } = await loadFixture(trippedFixture);
      await expect(guard.resume(1))
        .to.be.revertedWithCustomError(guard, "MarketGuardResumeNotDue")
        .withArgs(1, Guard.DEPENDENCY_UNHEALTHY, 0);
    });

    it("needs the service's ACTIVE endpoint HEALTHY, not just any endpoint", async function () {
      const { guard, oracle, registry, rpc, rpcB } = await loadFixture(trippedFixture);
      await oracle.setStatus(rpcB, Status.HEALTHY, 10_000); // rpcA (active) still DOWN
      expect((await guard.resumeStatus(1))[0]).to.equal(BigInt(Guard.DEPENDENCY_UNHEALTHY));
      await registry.migrate(rpc);
      expect((await guard.resumeStatus(1))[0]).to.equal(BigInt(Guard.GRACE_PERIOD));
    });

    it("does not count DEGRADED, or HEALTHY under the threshold, as healthy", async function () {
      const { guard, oracle, rpcA, seq0 } = await loadFixture(trippedFixture);
      await oracle.setStatus(rpcA, Status.DEGRADED, 10_000);
      expect((await guard.resumeStatus(1))[0]).to.equal(BigInt(Guard.DEPENDENCY_UNHEALTHY));
      await oracle.setStatus(rpcA, Status.HEALTHY, 10_000);
      await oracle.setStatus(seq0, Status.HEALTHY, THRESHOLD - 1);
      expect((await guard.resumeStatus(1))[0]).to.equal(BigInt(Guard.DEPENDENCY_UNHEALTHY));
    });

    it("waits gracePeriod from the dependency's `since`, to the second", async function () {
      const { guard, oracle, market, keeper, rpcA } = await loadFixture(trippedFixture);
      await time.increase(1_000);
      await oracle.setStatus(rpcA, Status.HEALTHY, 10_000);
      const since = BigInt(await time.latest());
      const notBefore = since + BigInt(GRACE);
      expect(await guard.resumeStatus(1)).to.deep.equal([BigInt(Guard.GRACE_PERIOD), notBefore]);

      // Later rounds update the oracle without moving `since`: grace still counts from when HEALTHY began.
      await oracle.setStatusSince(rpcA, Status.HEALTHY, 9_000, since);
      await time.setNextBlockTimestamp(notBefore - 1n);
      await expect(guard.resume(1))
        .to.be.revertedWithCustomError(guard, "MarketGuardResumeNotDue")
        .withArgs(1, Guard.GRACE_PERIOD, notBefore);

      await time.setNextBlockTimestamp(notBefore);
      await expect(guard.connect(keeper).resume(1))
        .to.emit(guard, "MarketResumed")
        .withArgs(1, keeper.address);
      expect(await market.paused()).to.equal(false);
      expect(await guard.isPaused(1)).to.equal(false);
      const state = await guard.marketState(1);
      expect([state.paused, state.pausedAt, state.delivery, state.cause]).to.deep.equal([
        false,
        0n,
        BigInt(Delivery.NONE),
        ZeroHash,
      ]);
      expect((await guard.tripStatus(1))[0]).to.equal(BigInt(Guard.DEPENDENCIES_USABLE));
    });

    it("waits gracePeriod from the pause when the dependencies were already HEALTHY, to the second", async function () {
      const { guard, guardian } = await loadFixture(deployFixture);
      await time.increase(10_000);
      await guard.connect(guardian).guardianPause(1);
      const pausedAt = BigInt(await time.latest());
      const notBefore = pausedAt + BigInt(GRACE);
      expect(await guard.resumeStatus(1)).to.deep.equal([BigInt(Guard.GRACE_PERIOD), notBefore]);
      await time.setNextBlockTimestamp(notBefore - 1n);
      await expect(guard.connect(guardian).resume(1))
        .to.be.revertedWithCustomError(guard, "MarketGuardResumeNotDue")
        .withArgs(1, Guard.GRACE_PERIOD, notBefore);
      await time.setNextBlockTimestamp(notBefore);
      await expect(guard.resume(1)).to.emit(guard, "MarketResumed");
    });

    it("reports DUE with the second it became due", async function () {
      const { guard, oracle, rpcA } = await loadFixture(trippedFixture);
      await oracle.setStatus(rpcA, Status.HEALTHY, 10_000);
      const since = BigInt(await time.latest());
      await time.increase(GRACE * 2);
      expect(await guard.resumeStatus(1)).to.deep.equal([BigInt(Guard.DUE), since + BigInt(GRACE)]);
    });
  });

  /**
   * Health model v2: the pause threshold T is crossed downward only when a quorum reported health under it
   * (`ceilingBps < T`) and upward only when a quorum reported health at or above it (`floorBps >= T`). The
   * median (`healthBps`) lies between the two and is what a relayer choosing the signatures can bias.
   */
  describe("threshold on quorum evidence", function () {
    describe("trip", function () {
      it("does not trip an endpoint dependency whose median is under T while its ceiling is at T (biased median)", async function () {
        const { guard, oracle, seq0 } = await loadFixture(deployFixture);
        await oracle.setStatusRange(seq0, Status.HEALTHY, THRESHOLD - 1_000, 0, THRESHOLD);
        expect(await guard.tripStatus(1)).to.deep.equal([BigInt(Guard.DEPENDENCIES_USABLE), ZeroHash]);
        await expect(guard.trip(1))
          .to.be.revertedWithCustomError(guard, "MarketGuardTripNotDue")
          .withArgs(1, Guard.DEPENDENCIES_USABLE);
      });

      it("trips an endpoint dependency once its ceiling is under T, whatever its median", async function () {
        const { guard, oracle, market, keeper, seq0 } = await loadFixture(deployFixture);
        await oracle.setStatusRange(seq0, Status.HEALTHY, THRESHOLD - 1, THRESHOLD - 1, THRESHOLD - 1);
        expect(await guard.tripStatus(1)).to.deep.equal([BigInt(Guard.DUE), seq0]);
        await expect(guard.connect(keeper).trip(1))
          .to.emit(guard, "MarketPaused")
          .withArgs(1, seq0, keeper.address);
        expect(await market.paused()).to.equal(true);
      });

      it("does not trip a service whose endpoints all have medians under T but a ceiling at T", async function () {
        const { guard, oracle, registry, rpc, rpcA, rpcB } = await loadFixture(deployFixture);
        await oracle.setStatusRange(rpcA, Status.DEGRADED, 1_000, 0, THRESHOLD);
        await oracle.setStatus(rpcB, Status.DOWN, 0);
        expect(await registry.hasUsableEndpoint(rpc, THRESHOLD)).to.equal(true);
        expect(await guard.tripStatus(1)).to.deep.equal([BigInt(Guard.DEPENDENCIES_USABLE), ZeroHash]);
      });

      it("trips a service once no endpoint has a ceiling at or above T", async function () {
        const { guard, oracle, rpc, rpcA, rpcB } = await loadFixture(deployFixture);
        await oracle.setStatusRange(rpcA, Status.DEGRADED, THRESHOLD - 2, 0, THRESHOLD - 1);
        await oracle.setStatus(rpcB, Status.DOWN, 0);
        expect(await guard.tripStatus(1)).to.deep.equal([BigInt(Guard.DUE), rpc]);
        await expect(guard.trip(1)).to.emit(guard, "MarketPaused").withArgs(1, rpc, anyValue);
      });

      it("does not pause from the listener on a biased median, and pauses once the ceiling is under T", async function () {
        const { guard, oracle, seq0 } = await loadFixture(deployFixture);
        const addr = await guard.getAddress();
        await oracle.setStatusRange(seq0, Status.DEGRADED, 0, 0, THRESHOLD);
        await expect(oracle.notify(addr, seq0, Status.HEALTHY, Status.DEGRADED)).not.to.emit(
          guard,
          "MarketPaused",
        );
        await oracle.setStatusRange(seq0, Status.DEGRADED, 0, 0, THRESHOLD - 1);
        await expect(oracle.notify(addr, seq0, Status.DEGRADED, Status.DEGRADED))
          .to.emit(guard, "MarketPaused")
          .withArgs(1, seq0, await oracle.getAddress());
      });
    });

    describe("resume", function () {
      it("waits for the floor to reach T even when HEALTHY with a median at or above T", async function () {
        const { guard, oracle, rpcA } = await loadFixture(trippedFixture);
        await oracle.setStatusRange(rpcA, Status.HEALTHY, 10_000, THRESHOLD - 1, 10_000);
        await time.increase(GRACE * 2);
        expect(await guard.resumeStatus(1)).to.deep.equal([BigInt(Guard.DEPENDENCY_UNHEALTHY), 0n]);
        await expect(guard.resume(1))
          .to.be.revertedWithCustomError(guard, "MarketGuardResumeNotDue")
          .withArgs(1, Guard.DEPENDENCY_UNHEALTHY, 0);
      });

      it("resumes once the floor reaches T, the grace period counted from HEALTHY's `since`", async function () {
        const { guard, oracle, market, rpcA } = await loadFixture(trippedFixture);
        await oracle.setStatusRange(rpcA, Status.HEALTHY, 10_000, THRESHOLD - 1, 10_000);
        const since = BigInt(await time.latest());
        await time.increase(GRACE * 2);
        // A later round, still HEALTHY since `since`, in which a quorum reported at least T.
        const now = BigInt(await time.latest());
        await oracle.setHealth(rpcA, {
          status: Status.HEALTHY,
          healthBps: 10_000,
          since,
          round: 99n,
          updatedAt: now,
          floorBps: THRESHOLD,
          ceilingBps: 10_000,
        });
        expect(await guard.resumeStatus(1)).to.deep.equal([BigInt(Guard.DUE), since + BigInt(GRACE)]);
        await expect(guard.resume(1)).to.emit(guard, "MarketResumed");
        expect(await market.paused()).to.equal(false);
      });

      it("holds an endpoint dependency whose floor is under T while its median and ceiling are at 10_000", async function () {
        const { guard, oracle, rpcA, seq0 } = await loadFixture(trippedFixture);
        await oracle.setStatus(rpcA, Status.HEALTHY, 10_000);
        await oracle.setStatusRange(seq0, Status.HEALTHY, 10_000, THRESHOLD - 1, 10_000);
        await time.increase(GRACE * 2);
        expect((await guard.resumeStatus(1))[0]).to.equal(BigInt(Guard.DEPENDENCY_UNHEALTHY));
        await oracle.setStatusRange(seq0, Status.HEALTHY, 10_000, THRESHOLD, 10_000);
        expect((await guard.resumeStatus(1))[0]).to.equal(BigInt(Guard.GRACE_PERIOD));
      });
    });
  });

  describe("guardian", function () {
    it("pauses at once whatever the health, with a zero cause", async function () {
      const { guard, guardian, market } = await loadFixture(deployFixture);
      await expect(guard.connect(guardian).guardianPause(1))
        .to.emit(guard, "MarketPaused")
        .withArgs(1, ZeroHash, guardian.address);
      expect(await market.paused()).to.equal(true);
    });

    it("is idempotent: a second pause neither emits nor calls the market", async function () {
      const { guard, guardian, market } = await loadFixture(deployFixture);
      await guard.connect(guardian).guardianPause(1);
      const pausedAt = (await guard.marketState(1)).pausedAt;
      await expect(guard.connect(guardian).guardianPause(1)).not.to.emit(guard, "MarketPaused");
      expect(await market.pauseCalls()).to.equal(1n);
      expect((await guard.marketState(1)).pausedAt).to.equal(pausedAt);
    });

    it("rejects anyone else, and everyone when no guardian is set", async function () {
      const { guard, other, owner, config } = await loadFixture(deployFixture);
      await expect(guard.connect(other).guardianPause(1))
        .to.be.revertedWithCustomError(guard, "MarketGuardNotGuardian")
        .withArgs(1, other.address);
      await guard.setMarketConfig(1, { ...config, guardian: ZeroAddress });
      await expect(guard.connect(owner).guardianPause(1))
        .to.be.revertedWithCustomError(guard, "MarketGuardNotGuardian")
        .withArgs(1, owner.address);
    });
  });

  describe("markets that misbehave", function () {
    async function withMarket(name: string, args: unknown[] = []) {
      const f = await deployFixture();
      const bad = await ethers.deployContract(name, args);
      await f.guard.registerMarket(configFor(await bad.getAddress(), [f.rpc]));
      await setDown(f, [f.rpcA, f.rpcB]);
      return { ...f, bad };
    }

    it("records the pause and reports the reason when the market reverts", async function () {
      const f = await withMarket("MockMarketReverting");
      const reason = f.bad.interface.encodeErrorResult("MockMarketRevertingRefused", [1]);
      await expect(f.guard.trip(2))
        .to.emit(f.guard, "MarketPaused")
        .withArgs(2, f.rpc, f.owner.address)
        .and.to.emit(f.guard, "MarketPauseCallFailed")
        .withArgs(2, reason);
      expect(await f.guard.isPaused(2)).to.equal(true);

      await f.oracle.setStatus(f.rpcA, Status.HEALTHY, 10_000);
      await time.increase(GRACE);
      await expect(f.guard.resume(2))
        .to.emit(f.guard, "MarketUnpauseCallFailed")
        .withArgs(2, f.bad.interface.encodeErrorResult("MockMarketRevertingRefused", [2]));
      expect(await f.guard.isPaused(2)).to.equal(false);
    });

    it("bounds the gas a market that burns everything can take", async function () {
      const f = await withMarket("MockMarketGasBurner");
      const tx = await f.guard.trip(2, { gasLimit: 1_000_000 });
      await expect(tx).to.emit(f.guard, "MarketPauseCallFailed").withArgs(2, "0x");
      const receipt = await tx.wait();
      // 100k burnt by the market plus the trip's own work (v2: two more words per statusOf read, and the
      // call data built in memory for BoundedCall) stays under 125k.
      if (!UNDER_COVERAGE) expect(receipt!.gasUsed).to.be.lt(MARKET_CALL_GAS + 125_000n);
      expect(await f.guard.isPaused(2)).to.equal(true);
    });

    it("keeps only the first 256 bytes of a return-data bomb", async function () {
      const f = await withMarket("MockMarketReturnBomb", [100_000]);
      const tx = await f.guard.trip(2);
      const receipt = await tx.wait();
      const log = receipt!.logs
        .map((l) => f.guard.interface.parseLog(l))
        .find((l) => l?.name === "MarketPauseCallFailed");
      expect(ethers.dataLength(log!.args.reason)).to.equal(256);
      expect(ethers.dataSlice(log!.args.reason, 0, 32)).to.equal("0x" + "b0".repeat(32));
    });

    for (const [mode, name] of [
      [1, "trip"],
      [2, "resume"],
      [3, "guardianPause"],
      [5, "retryDelivery"],
    ] as const) {
      it(`blocks a market re-entering ${name} from its hook`, async function () {
        const f = await deployFixture();
        const bad = await ethers.deployContract("MockMarketReentrant", [
          await f.guard.getAddress(),
          await f.registry.getAddress(),
        ]);
        await f.guard.registerMarket(configFor(await bad.getAddress(), [f.rpc]));
        await bad.configure(mode, 1, ZeroHash);
        await setDown(f, [f.rpcA, f.rpcB]);
        const reentrancy = f.guard.interface.encodeErrorResult("ReentrancyGuardReentrantCall", []);
        await expect(f.guard.trip(2)).to.emit(f.guard, "MarketPauseCallFailed").withArgs(2, reentrancy);
        expect(await f.guard.isPaused(2)).to.equal(true);
        expect(await f.guard.isPaused(1)).to.equal(false); // the re-entry changed nothing
        expect(await bad.calls()).to.equal(0n); // its state change was rolled back with the revert
      });
    }

    it("lets a market hook call registry.migrate, which re-checks on its own", async function () {
      const f = await deployFixture();
      const bad = await ethers.deployContract("MockMarketReentrant", [
        await f.guard.getAddress(),
        await f.registry.getAddress(),
      ]);
      await f.guard.registerMarket(configFor(await bad.getAddress(), [f.seq]));
      await bad.configure(4, 0, f.rpc);
      await f.oracle.setStatus(f.seq0, Status.DOWN, 0);
      // rpc is not due to migrate: the nested migrate reverts, the hook fails, the pause stands.
      const notDue = f.registry.interface.encodeErrorResult("EndpointRegistryMigrationNotDue", [f.rpc, 2]);
      await expect(f.guard.trip(2)).to.emit(f.guard, "MarketPauseCallFailed").withArgs(2, notDue);
      expect(await f.guard.isPaused(2)).to.equal(true);
    });

    it("does not let bad markets stop the listener from pausing the good ones", async function () {
      const f = await deployFixture();
      const guardAddr = await f.guard.getAddress();
      const registryAddr = await f.registry.getAddress();
      const good2 = await ethers.deployContract("MockMarket");
      const markets = [
        await ethers.deployContract("MockMarketReverting"),
        await ethers.deployContract("MockMarketGasBurner"),
        await ethers.deployContract("MockMarketReturnBomb", [100_000]),
        await ethers.deployContract("MockMarketReentrant", [guardAddr, registryAddr]),
        good2,
      ];
      for (const m of markets) await f.guard.registerMarket(configFor(await m.getAddress(), [f.rpc]));
      await (markets[3] as MockMarketReentrant).configure(1, 1, ZeroHash);
      await f.oracle.setStatus(f.rpcA, Status.DOWN, 0);
      const tx = f.oracle.setStatusAndNotify(guardAddr, f.rpcB, Status.DOWN, 0, { gasLimit: 5_000_000 });
      await expect(tx)
        .to.emit(f.guard, "MarketPaused")
        .withArgs(1, f.rpc, await f.oracle.getAddress());
      for (let id = 1; id <= 6; id++) expect(await f.guard.isPaused(id)).to.equal(true);
      expect(await f.market.paused()).to.equal(true);
      expect(await good2.paused()).to.equal(true);
      // The good ones received their pause; the bad ones owe it to {retryDelivery}.
      const delivery = [];
      for (let id = 1; id <= 6; id++) delivery.push(Number(await f.guard.deliveryStatus(id)));
      const { NONE, PENDING_PAUSE } = Delivery;
      expect(delivery).to.deep.equal([
        NONE,
        PENDING_PAUSE,
        PENDING_PAUSE,
        PENDING_PAUSE,
        PENDING_PAUSE,
        NONE,
      ]);
    });
  });

  describe("delivery retry", function () {
    it("leaves nothing to deliver after a trip and a resume the market received", async function () {
      const { guard, oracle, market, rpcA } = await loadFixture(trippedFixture);
      expect(await market.paused()).to.equal(true);
      expect(await guard.deliveryStatus(1)).to.equal(BigInt(Delivery.NONE));
      expect((await guard.marketState(1)).delivery).to.equal(BigInt(Delivery.NONE));
      await expect(guard.retryDelivery(1))
        .to.be.revertedWithCustomError(guard, "MarketGuardNothingToDeliver")
        .withArgs(1);

      await oracle.setStatus(rpcA, Status.HEALTHY, 10_000);
      await time.increase(GRACE);
      await guard.resume(1);
      expect(await market.paused()).to.equal(false);
      expect(await guard.deliveryStatus(1)).to.equal(BigInt(Delivery.NONE));
      await expect(guard.retryDelivery(1))
        .to.be.revertedWithCustomError(guard, "MarketGuardNothingToDeliver")
        .withArgs(1);
    });

    it("leaves nothing to deliver for a market never paused", async function () {
      const { guard } = await loadFixture(deployFixture);
      expect(await guard.deliveryStatus(1)).to.equal(BigInt(Delivery.NONE));
      await expect(guard.retryDelivery(1))
        .to.be.revertedWithCustomError(guard, "MarketGuardNothingToDeliver")
        .withArgs(1);
    });

    describe("when guardPause failed", function () {
      it("holds the market paused with the pause PENDING_PAUSE, while trip reports ALREADY_PAUSED", async function () {
        const { guard, flaky, rpc, pausedAt } = await loadFixture(pendingPauseFixture);
        expect(await flaky.paused()).to.equal(false);
        expect(await guard.isPaused(2)).to.equal(true);
        expect(await guard.deliveryStatus(2)).to.equal(BigInt(Delivery.PENDING_PAUSE));
        const state = await guard.marketState(2);
        expect([state.paused, state.pausedAt, state.delivery, state.cause]).to.deep.equal([
          true,
          pausedAt,
          BigInt(Delivery.PENDING_PAUSE),
          rpc,
        ]);
        expect(await guard.tripStatus(2)).to.deep.equal([BigInt(Guard.ALREADY_PAUSED), ZeroHash]);
      });

      it("emits the call failure and stays pending while the market still refuses", async function () {
        const { guard, keeper, flaky, pauseRefused } = await loadFixture(pendingPauseFixture);
        await expect(guard.connect(keeper).retryDelivery(2))
          .to.emit(guard, "MarketPauseCallFailed")
          .withArgs(2, pauseRefused)
          .and.not.to.emit(guard, "MarketPauseDelivered");
        expect(await guard.deliveryStatus(2)).to.equal(BigInt(Delivery.PENDING_PAUSE));
        expect(await flaky.paused()).to.equal(false);
      });

      it("delivers the pause once the market accepts it, exactly once, keeping pausedAt and cause", async function () {
        const { guard, keeper, flaky, rpc, pausedAt } = await loadFixture(pendingPauseFixture);
        await flaky.setRefusing(false);
        await expect(guard.connect(keeper).retryDelivery(2))
          .to.emit(guard, "MarketPauseDelivered")
          .withArgs(2, keeper.address)
          .and.not.to.emit(guard, "MarketPauseCallFailed");
        expect(await flaky.paused()).to.equal(true);
        expect(await flaky.pauseCalls()).to.equal(1n);
        const state = await guard.marketState(2);
        expect([state.paused, state.pausedAt, state.delivery, state.cause]).to.deep.equal([
          true,
          pausedAt,
          BigInt(Delivery.NONE),
          rpc,
        ]);
        await expect(guard.retryDelivery(2))
          .to.be.revertedWithCustomError(guard, "MarketGuardNothingToDeliver")
          .withArgs(2);
      });

      it("delivers whatever the health now, without moving the resume grace period", async function () {
        const { guard, oracle, flaky, rpcA } = await loadFixture(pendingPauseFixture);
        await oracle.setStatus(rpcA, Status.HEALTHY, 10_000);
        const notBefore = BigInt(await time.latest()) + BigInt(GRACE);
        expect(await guard.resumeStatus(2)).to.deep.equal([BigInt(Guard.GRACE_PERIOD), notBefore]);
        await flaky.setRefusing(false);
        await time.increase(GRACE / 2);
        await expect(guard.retryDelivery(2)).to.emit(guard, "MarketPauseDelivered");
        expect(await guard.resumeStatus(2)).to.deep.equal([BigInt(Guard.GRACE_PERIOD), notBefore]);
      });

      it("delivers a pause that needed more than marketCallGas once the market needs less", async function () {
        const f = await loadFixture(deployFixture);
        const heavy = await ethers.deployContract("MockMarket");
        // ~80k of work plus two fresh storage writes (~44k): more than the 100k budget, so it runs out of gas.
        await heavy.setPauseWork(80_000);
        await f.guard.registerMarket(configFor(await heavy.getAddress(), [f.rpc]));
        await setDown(f, [f.rpcA, f.rpcB]);
        await expect(f.guard.trip(2)).to.emit(f.guard, "MarketPauseCallFailed").withArgs(2, "0x");
        expect(await f.guard.deliveryStatus(2)).to.equal(BigInt(Delivery.PENDING_PAUSE));
        await heavy.setPauseWork(0);
        await expect(f.guard.retryDelivery(2))
          .to.emit(f.guard, "MarketPauseDelivered")
          .withArgs(2, f.owner.address);
        expect(await heavy.paused()).to.equal(true);
      });

      it("leaves the pending pause to retryDelivery when the guardian pauses again (a no-op)", async function () {
        const f = await loadFixture(pendingPauseFixture);
        await f.guard.setMarketConfig(2, {
          ...configFor(await f.flaky.getAddress(), [f.rpc]),
          guardian: f.guardian,
        });
        await f.flaky.setRefusing(false);
        await expect(f.guard.connect(f.guardian).guardianPause(2)).not.to.emit(f.guard, "MarketPaused");
        expect(await f.guard.deliveryStatus(2)).to.equal(BigInt(Delivery.PENDING_PAUSE));
        await expect(f.guard.connect(f.guardian).retryDelivery(2))
          .to.emit(f.guard, "MarketPauseDelivered")
          .withArgs(2, f.guardian.address);
      });

      it("is superseded by a resume the market receives", async function () {
        const { guard, oracle, flaky, rpcA } = await loadFixture(pendingPauseFixture);
        await oracle.setStatus(rpcA, Status.HEALTHY, 10_000);
        await time.increase(GRACE);
        await flaky.setRefusing(false);
        await expect(guard.resume(2)).not.to.emit(guard, "MarketUnpauseCallFailed");
        expect(await guard.deliveryStatus(2)).to.equal(BigInt(Delivery.NONE));
        expect(await flaky.paused()).to.equal(false);
        await expect(guard.retryDelivery(2))
          .to.be.revertedWithCustomError(guard, "MarketGuardNothingToDeliver")
          .withArgs(2);
      });
    });

    describe("when guardUnpause failed", function () {
      it("holds the market open with the resume PENDING_UNPAUSE, while resume reports NOT_PAUSED", async function () {
        const { guard, flaky } = await loadFixture(pendingUnpauseFixture);
        expect(await flaky.paused()).to.equal(true);
        expect(await guard.isPaused(2)).to.equal(false);
        expect(await guard.deliveryStatus(2)).to.equal(BigInt(Delivery.PENDING_UNPAUSE));
        const state = await guard.marketState(2);
        expect([state.paused, state.pausedAt, state.delivery, state.cause]).to.deep.equal([
          false,
          0n,
          BigInt(Delivery.PENDING_UNPAUSE),
          ZeroHash,
        ]);
        expect(await guard.resumeStatus(2)).to.deep.equal([BigInt(Guard.NOT_PAUSED), 0n]);
        expect((await guard.tripStatus(2))[0]).to.equal(BigInt(Guard.DEPENDENCIES_USABLE));
      });

      it("records the failed resume with the exact events", async function () {
        const f = await loadFixture(deployFixture);
        const flaky = await ethers.deployContract("MockMarketFlaky");
        await f.guard.registerMarket(configFor(await flaky.getAddress(), [f.rpc]));
        await setDown(f, [f.rpcA, f.rpcB]);
        await flaky.setRefusing(false);
        await f.guard.trip(2);
        await flaky.setRefusing(true);
        await f.oracle.setStatus(f.rpcA, Status.HEALTHY, 10_000);
        await time.increase(GRACE);
        await expect(f.guard.connect(f.keeper).resume(2))
          .to.emit(f.guard, "MarketResumed")
          .withArgs(2, f.keeper.address)
          .and.to.emit(f.guard, "MarketUnpauseCallFailed")
          .withArgs(2, flaky.interface.encodeErrorResult("MockMarketFlakyRefused", [false]));
      });

      it("emits the call failure and stays pending while the market still refuses", async function () {
        const { guard, flaky, unpauseRefused } = await loadFixture(pendingUnpauseFixture);
        await expect(guard.retryDelivery(2))
          .to.emit(guard, "MarketUnpauseCallFailed")
          .withArgs(2, unpauseRefused)
          .and.not.to.emit(guard, "MarketUnpauseDelivered");
        expect(await guard.deliveryStatus(2)).to.equal(BigInt(Delivery.PENDING_UNPAUSE));
        expect(await flaky.paused()).to.equal(true);
      });

      it("delivers the unpause once the market accepts it, exactly once", async function () {
        const { guard, keeper, flaky } = await loadFixture(pendingUnpauseFixture);
        await flaky.setRefusing(false);
        await expect(guard.connect(keeper).retryDelivery(2))
          .to.emit(guard, "MarketUnpauseDelivered")
          .withArgs(2, keeper.address)
          .and.not.to.emit(guard, "MarketUnpauseCallFailed");
        expect(await flaky.paused()).to.equal(false);
        expect(await flaky.unpauseCalls()).to.equal(1n);
        const state = await guard.marketState(2);
        expect([state.paused, state.pausedAt, state.delivery, state.cause]).to.deep.equal([
          false,
          0n,
          BigInt(Delivery.NONE),
          ZeroHash,
        ]);
        await expect(guard.retryDelivery(2))
          .to.be.revertedWithCustomError(guard, "MarketGuardNothingToDeliver")
          .withArgs(2);
      });

      it("is superseded by a trip, which becomes PENDING_PAUSE if the market refuses again", async function () {
        const { guard, oracle, flaky, rpc, rpcA, pauseRefused } = await loadFixture(pendingUnpauseFixture);
        await oracle.setStatus(rpcA, Status.DOWN, 0);
        await expect(guard.trip(2))
          .to.emit(guard, "MarketPaused")
          .withArgs(2, rpc, anyValue)
          .and.to.emit(guard, "MarketPauseCallFailed")
          .withArgs(2, pauseRefused);
        expect(await guard.deliveryStatus(2)).to.equal(BigInt(Delivery.PENDING_PAUSE));
        await flaky.setRefusing(false);
        await expect(guard.retryDelivery(2)).to.emit(guard, "MarketPauseDelivered");
        expect(await flaky.paused()).to.equal(true);
        expect(await flaky.unpauseCalls()).to.equal(0n);
      });

      it("is superseded by a trip the market receives", async function () {
        const { guard, oracle, flaky, rpcA } = await loadFixture(pendingUnpauseFixture);
        await oracle.setStatus(rpcA, Status.DOWN, 0);
        await flaky.setRefusing(false);
        await expect(guard.trip(2)).not.to.emit(guard, "MarketPauseCallFailed");
        expect(await guard.deliveryStatus(2)).to.equal(BigInt(Delivery.NONE));
        expect(await flaky.paused()).to.equal(true);
      });
    });

    it("blocks a market hook re-entering the guard from retryDelivery, and stays pending", async function () {
      const f = await loadFixture(deployFixture);
      const bad = await ethers.deployContract("MockMarketReentrant", [
        await f.guard.getAddress(),
        await f.registry.getAddress(),
      ]);
      await f.guard.registerMarket(configFor(await bad.getAddress(), [f.rpc]));
      await setDown(f, [f.rpcA, f.rpcB]);
      const reentrancy = f.guard.interface.encodeErrorResult("ReentrancyGuardReentrantCall", []);
      const TRIP = 1;
      const RETRY_DELIVERY = 5;
      await bad.configure(RETRY_DELIVERY, 2, ZeroHash);
      await expect(f.guard.trip(2)).to.emit(f.guard, "MarketPauseCallFailed").withArgs(2, reentrancy);
      // The retry's own hook may neither retry again nor trip another market.
      for (const [mode, target] of [
        [RETRY_DELIVERY, 2],
        [TRIP, 1],
      ]) {
        await bad.configure(mode, target, ZeroHash);
        await expect(f.guard.retryDelivery(2))
          .to.emit(f.guard, "MarketPauseCallFailed")
          .withArgs(2, reentrancy);
        expect(await f.guard.deliveryStatus(2)).to.equal(BigInt(Delivery.PENDING_PAUSE));
        expect(await f.guard.isPaused(1)).to.equal(false);
        expect(await bad.calls()).to.equal(0n);
      }
      await bad.configure(0, 0, ZeroHash);
      await expect(f.guard.retryDelivery(2))
        .to.emit(f.guard, "MarketPauseDelivered")
        .withArgs(2, f.owner.address);
      expect(await bad.calls()).to.equal(1n);
    });
  });

  describe("gas floor (THREATS #17)", function () {
    it("reverts MarketGuardInsufficientGas rather than record a pause the market could not receive", async function () {
      const { guard, oracle, rpcA, rpcB } = await loadFixture(deployFixture);
      await oracle.setStatus(rpcA, Status.DOWN, 0);
      await oracle.setStatus(rpcB, Status.DOWN, 0);
      await expect(guard.trip(1, { gasLimit: 150_000 }))
        .to.be.revertedWithCustomError(guard, "MarketGuardInsufficientGas")
        .withArgs(anyUint, REQUIRED_GAS);
      expect(await guard.isPaused(1)).to.equal(false);
    });

    it("for every gas limit, either reverts or pauses guard and market together (heavy market)", async function () {
      // A market whose pause legitimately needs ~600k of a 1M budget: without the floor, a caller could
      // send just enough gas for the market call to run out while the 1/64 kept back finishes the trip.
      const { owner, oracle, registry, rpc, rpcA, rpcB } = await loadFixture(deployFixture);
      const guard = await ethers.deployContract("MarketGuard", [
        owner.address,
        await oracle.getAddress(),
        await registry.getAddress(),
        1_000_000,
      ]);
      const market = await ethers.deployContract("MockMarket");
      await market.setPauseWork(600_000);
      await guard.registerMarket(configFor(await market.getAddress(), [rpc]));
      await setDown({ oracle }, [rpcA, rpcB]);
      let snapshot = await ethers.provider.send("evm_snapshot", []);
      let successes = 0;
      for (let gasLimit = 600_000; gasLimit <= 1_200_000; gasLimit += 7_500) {
        await ethers.provider.send("evm_revert", [snapshot]); // consumes the snapshot
        snapshot = await ethers.provider.send("evm_snapshot", []);
        const ok = await guard
          .trip(1, { gasLimit })
          .then((tx) => tx.wait())
          .then(
            () => true,
            () => false,
          );
        if (ok) successes++;
        expect(await guard.isPaused(1), `gasLimit ${gasLimit}`).to.equal(ok);
        expect(await market.paused(), `gasLimit ${gasLimit}`).to.equal(ok);
      }
      expect(successes).to.be.gt(0);
    });

    it("applies to retryDelivery of a pause: reverts and leaves it pending", async function () {
      const { guard, flaky } = await loadFixture(pendingPauseFixture);
      await flaky.setRefusing(false);
      await expect(guard.retryDelivery(2, { gasLimit: 120_000 }))
        .to.be.revertedWithCustomError(guard, "MarketGuardInsufficientGas")
        .withArgs(anyUint, REQUIRED_GAS);
      expect(await guard.deliveryStatus(2)).to.equal(BigInt(Delivery.PENDING_PAUSE));
      expect(await flaky.paused()).to.equal(false);
    });

    it("applies to retryDelivery of an unpause: reverts and leaves it pending", async function () {
      const { guard, flaky } = await loadFixture(pendingUnpauseFixture);
      await flaky.setRefusing(false);
      await expect(guard.retryDelivery(2, { gasLimit: 120_000 }))
        .to.be.revertedWithCustomError(guard, "MarketGuardInsufficientGas")
        .withArgs(anyUint, REQUIRED_GAS);
      expect(await guard.deliveryStatus(2)).to.equal(BigInt(Delivery.PENDING_UNPAUSE));
      expect(await flaky.paused()).to.equal(true);
    });

    it("applies to resume as well", async function () {
      const { guard, oracle, rpcA } = await loadFixture(trippedFixture);
      await oracle.setStatus(rpcA, Status.HEALTHY, 10_000);
      await time.increase(GRACE);
      await expect(guard.resume(1, { gasLimit: 120_000 }))
        .to.be.revertedWithCustomError(guard, "MarketGuardInsufficientGas")
        .withArgs(anyUint, REQUIRED_GAS);
      expect(await guard.isPaused(1)).to.equal(true);
    });
  });

  describe("status listener", function () {
    it("accepts notifications from the oracle only", async function () {
      const { guard, other, rpcA } = await loadFixture(deployFixture);
      await expect(guard.connect(other).onStatusChange(rpcA, Status.HEALTHY, Status.DOWN))
        .to.be.revertedWithCustomError(guard, "MarketGuardUnauthorizedOracle")
        .withArgs(other.address);
    });

    it("trips markets on the endpoint directly in the same transaction", async function () {
      const { guard, oracle, market, seq0 } = await loadFixture(deployFixture);
      await expect(oracle.setStatusAndNotify(await guard.getAddress(), seq0, Status.DOWN, 0))
        .to.emit(guard, "MarketPaused")
        .withArgs(1, seq0, await oracle.getAddress());
      expect(await market.paused()).to.equal(true);
    });

    it("trips markets on the endpoint's service once no endpoint of it is usable", async function () {
      const { guard, oracle, rpc, rpcA, rpcB } = await loadFixture(deployFixture);
      const addr = await guard.getAddress();
      await expect(oracle.setStatusAndNotify(addr, rpcA, Status.DOWN, 0)).not.to.emit(guard, "MarketPaused");
      await expect(oracle.setStatusAndNotify(addr, rpcB, Status.DOWN, 0))
        .to.emit(guard, "MarketPaused")
        .withArgs(1, rpc, await oracle.getAddress());
    });

    /** Markets 2, 3, 4 on the rpc service with thresholds 9000, 1000 and 9500 (market 1: 5000). */
    async function thresholdsFixture() {
      const f = await deployFixture();
      for (const threshold of [9_000, 1_000, 9_500]) {
        const m = await ethers.deployContract("MockMarket");
        await f.guard.registerMarket(configFor(await m.getAddress(), [f.rpc], threshold));
      }
      return f;
    }

    async function pausedMarkets(guard: { isPaused(id: number): Promise<boolean> }) {
      const paused = [];
      for (let id = 1; id <= 4; id++) paused.push(await guard.isPaused(id));
      return paused;
    }

    it("judges each market by its own threshold against the active endpoint", async function () {
      const { guard, oracle, rpcA, rpcB } = await loadFixture(thresholdsFixture);
      await oracle.setStatus(rpcB, Status.DOWN, 0);
      await oracle.setStatusAndNotify(await guard.getAddress(), rpcA, Status.DEGRADED, 6_000);
      expect(await pausedMarkets(guard)).to.deep.equal([false, true, false, true]);
    });

    it("judges each market by its own threshold while a failover is due", async function () {
      const { guard, oracle, registry, rpc, rpcA, rpcB } = await loadFixture(thresholdsFixture);
      // HEALTHY at 8500: a failover candidate, but under the 9000 and 9500 thresholds.
      await oracle.setStatus(rpcB, Status.HEALTHY, 8_500);
      await oracle.setStatusAndNotify(await guard.getAddress(), rpcA, Status.DOWN, 0);
      expect((await registry.migrationStatus(rpc))[0]).to.equal(BigInt(Check.DUE_FAILOVER));
      expect(await pausedMarkets(guard)).to.deep.equal([false, true, false, true]);
    });

    it("trips markets on the service in the same transaction when the backup is DEGRADED", async function () {
      const { guard, oracle, rpc, rpcA, rpcB } = await loadFixture(deployFixture);
      await oracle.setStatus(rpcB, Status.DEGRADED, 7_000);
      await expect(oracle.setStatusAndNotify(await guard.getAddress(), rpcA, Status.DOWN, 0))
        .to.emit(guard, "MarketPaused")
        .withArgs(1, rpc, await oracle.getAddress());
    });

    it("ignores unknown endpoints, usable dependencies and paused markets", async function () {
      const { guard, oracle, guardian, seq0, rpcA } = await loadFixture(deployFixture);
      const addr = await guard.getAddress();
      await expect(oracle.notify(addr, ethers.id("unknown"), Status.HEALTHY, Status.DOWN)).not.to.emit(
        guard,
        "MarketPaused",
      );
      await expect(oracle.notify(addr, rpcA, Status.HEALTHY, Status.HEALTHY)).not.to.emit(
        guard,
        "MarketPaused",
      );
      await guard.connect(guardian).guardianPause(1);
      await expect(oracle.setStatusAndNotify(addr, seq0, Status.DOWN, 0)).not.to.emit(guard, "MarketPaused");
    });

    it("stops without reverting when its gas budget runs short, leaving the rest to keepers", async function () {
      const { guard, oracle, rpc, rpcA, rpcB } = await loadFixture(deployFixture);
      const extra = [];
      for (let i = 0; i < 5; i++) {
        const m = await ethers.deployContract("MockMarket");
        await guard.registerMarket(configFor(await m.getAddress(), [rpc]));
        extra.push(m);
      }
      await setDown({ oracle }, [rpcA, rpcB]);
      const addr = await guard.getAddress();
      await expect(oracle.notifyBounded(addr, 400_000, rpcB, Status.HEALTHY, Status.DOWN)).not.to.emit(
        oracle,
        "ListenerFailed",
      );
      const paused = [];
      for (let id = 1; id <= 6; id++) paused.push(await guard.isPaused(id));
      const count = paused.filter(Boolean).length;
      expect(count).to.be.gte(1);
      expect(count).to.be.lt(6);
      // Every market the guard holds paused did receive its pause.
      for (let id = 2; id <= 6; id++) expect(await extra[id - 2].paused()).to.equal(paused[id - 1]);
      // Keepers finish the job.
      for (let id = 1; id <= 6; id++) if (!paused[id - 1]) await guard.trip(id);
    });
  });
});
