import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";
import { parseEther } from "ethers";
import { ethers } from "hardhat";
import { Kind, Status, endpointIdOf, serviceIdOf } from "./helpers";

const PRICE = parseEther("2000"); // collateral units per 1e18 size

describe("GuardedPerpMarket", function () {
  /** A market guarded by a real MarketGuard on one service with one endpoint; alice has a long open. */
  async function deployFixture() {
    const [owner, alice, bob, stranger] = await ethers.getSigners();
    const oracle = await ethers.deployContract("MockHealthOracle");
    const registry = await ethers.deployContract("EndpointRegistry", [await oracle.getAddress()]);
    const guard = await ethers.deployContract("MarketGuard", [
      owner.address,
      await oracle.getAddress(),
      await registry.getAddress(),
      100_000,
    ]);
    await registry.registerService("eth-usd-feed", { cooldown: 0, recoveryPeriod: 0 });
    const feed = serviceIdOf(owner.address, "eth-usd-feed");
    await registry.addEndpoint(feed, Kind.ORACLE_FEED, "eip155:1:0x01", 0);
    const feed0 = endpointIdOf(feed, Kind.ORACLE_FEED, "eip155:1:0x01");
    await oracle.setStatus(feed0, Status.HEALTHY, 10_000);

    const token = await ethers.deployContract("MockERC20", ["USD Coin", "USDC"]);
    const market = await ethers.deployContract("GuardedPerpMarket", [
      await token.getAddress(),
      await guard.getAddress(),
      owner.address,
      PRICE,
    ]);
    await guard.registerMarket({
      market: await market.getAddress(),
      guardian: owner.address,
      pauseThresholdBps: 5_000,
      gracePeriod: 300,
      services: [feed],
      endpoints: [],
    });
    for (const s of [alice, bob]) {
      await token.mint(s.address, parseEther("100000"));
      await token.connect(s).approve(await market.getAddress(), ethers.MaxUint256);
      await market.connect(s).deposit(parseEther("10000"));
    }
    await market.connect(alice).openPosition(parseEther("10"), true); // notional 20k, margin 2k
    return { owner, alice, bob, stranger, oracle, registry, guard, token, market, feed0 };
  }

  /** {deployFixture} after the feed went DOWN and a keeper tripped the guard. */
  async function pausedFixture() {
    const f = await deployFixture();
    await f.oracle.setStatus(f.feed0, Status.DOWN, 0);
    await f.guard.trip(1);
    return f;
  }

  describe("guard hooks", function () {
    it("lets only the guard pause or unpause", async function () {
      const { market, stranger } = await loadFixture(deployFixture);
      await expect(market.connect(stranger).guardPause())
        .to.be.revertedWithCustomError(market, "GuardedPerpMarketNotGuard")
        .withArgs(stranger.address);
      await expect(market.connect(stranger).guardUnpause())
        .to.be.revertedWithCustomError(market, "GuardedPerpMarketNotGuard")
        .withArgs(stranger.address);
    });

    it("is paused by a guard trip and unpaused by a guard resume", async function () {
      const { market, guard, oracle, feed0 } = await loadFixture(pausedFixture);
      expect(await market.paused()).to.equal(true);
      await oracle.setStatus(feed0, Status.HEALTHY, 10_000);
      await time.increase(300);
      await expect(guard.resume(1)).to.emit(market, "Unpaused");
      expect(await market.paused()).to.equal(false);
    });

    it("treats repeated pause and unpause calls as no-ops", async function () {
      const { market, guard } = await loadFixture(deployFixture);
      const asGuard = await ethers.getImpersonatedSigner(await guard.getAddress());
      await ethers.provider.send("hardhat_setBalance", [await guard.getAddress(), "0xDE0B6B3A7640000"]);
      await expect(market.connect(asGuard).guardUnpause()).not.to.emit(market, "Unpaused");
      await expect(market.connect(asGuard).guardPause()).to.emit(market, "Paused");
      await expect(market.connect(asGuard).guardPause()).not.to.emit(market, "Paused");
      expect(await market.paused()).to.equal(true);
    });
  });

  describe("while paused", function () {
    it("blocks opening and increasing positions", async function () {
      const { market, alice, bob } = await loadFixture(pausedFixture);
      await expect(market.connect(bob).openPosition(parseEther("1"), false)).to.be.revertedWithCustomError(
        market,
        "EnforcedPause",
      );
      await expect(market.connect(alice).increasePosition(parseEther("1"))).to.be.revertedWithCustomError(
        market,
        "EnforcedPause",
      );
    });

    it("keeps every exit open: reduce, close, withdraw, and deposit", async function () {
      const { market, alice, bob, token } = await loadFixture(pausedFixture);
      await expect(market.connect(alice).reducePosition(parseEther("4")))
        .to.emit(market, "PositionReduced")
        .withArgs(alice.address, parseEther("4"), parseEther("6"), PRICE, 0);
      await expect(market.connect(alice).closePosition())
        .to.emit(market, "PositionReduced")
        .withArgs(alice.address, parseEther("6"), 0, PRICE, 0);
      const before = await token.balanceOf(alice.address);
      await expect(market.connect(alice).withdraw(parseEther("10000")))
        .to.emit(market, "Withdrawn")
        .withArgs(alice.address, parseEther("10000"));
      expect(await token.balanceOf(alice.address)).to.equal(before + parseEther("10000"));
      await expect(market.connect(bob).deposit(1)).to.emit(market, "Deposited").withArgs(bob.address, 1);
    });

    it("still lets a trader close at a profit and take it out", async function () {
      const { market, owner, alice } = await loadFixture(pausedFixture);
      await market.connect(owner).setMarkPrice(parseEther("2100")); // +100 per unit, 10 units long
      await expect(market.connect(alice).closePosition())
        .to.emit(market, "PositionReduced")
        .withArgs(alice.address, parseEther("10"), 0, parseEther("2100"), parseEther("1000"));
      expect(await market.freeCollateral(alice.address)).to.equal(parseEther("11000"));
      await market.connect(alice).withdraw(parseEther("11000")); // paid from bob's deposit
    });
  });

  describe("trading", function () {
    it("opens a position at the mark price with 10% initial margin", async function () {
      const { market, bob } = await loadFixture(deployFixture);
      await expect(market.connect(bob).openPosition(parseEther("5"), false))
        .to.emit(market, "PositionOpened")
        .withArgs(bob.address, parseEther("5"), false, PRICE);
      expect(await market.requiredMargin(bob.address)).to.equal(parseEther("1000"));
      expect(await market.freeCollateral(bob.address)).to.equal(parseEther("9000"));
    });

    it("rejects a position larger than the margin allows", async function () {
      const { market, bob } = await loadFixture(deployFixture);
      await expect(market.connect(bob).openPosition(parseEther("51"), true))
        .to.be.revertedWithCustomError(market, "GuardedPerpMarketInsufficientMargin")
        .withArgs(bob.address, parseEther("10000"), parseEther("10200"));
    });

    it("averages the entry price on increase and settles losses on reduce", async function () {
      const { market, owner, alice } = await loadFixture(deployFixture);
      await market.connect(owner).setMarkPrice(parseEther("1500"));
      await expect(market.connect(alice).increasePosition(parseEther("10")))
        .to.emit(market, "PositionIncreased")
        .withArgs(alice.address, parseEther("10"), parseEther("20"), parseEther("1750"));
      expect(await market.unrealizedPnl(alice.address)).to.equal(parseEther("-5000"));
      await expect(market.connect(alice).reducePosition(parseEther("5")))
        .to.emit(market, "PositionReduced")
        .withArgs(alice.address, parseEther("5"), parseEther("15"), parseEther("1500"), parseEther("-1250"));
      expect(await market.balanceOf(alice.address)).to.equal(parseEther("8750"));
    });

    it("pays a short when the price falls and writes off a loss beyond the balance", async function () {
      const { market, owner, alice, bob } = await loadFixture(deployFixture);
      await market.connect(bob).openPosition(parseEther("10"), false);
      await market.connect(owner).setMarkPrice(parseEther("900"));
      expect(await market.unrealizedPnl(bob.address)).to.equal(parseEther("11000"));
      expect(await market.equity(alice.address)).to.equal(parseEther("-1000"));
      expect(await market.freeCollateral(alice.address)).to.equal(0);
      await market.connect(alice).closePosition();
      expect(await market.balanceOf(alice.address)).to.equal(0);
    });

    it("rejects bad inputs with their own errors", async function () {
      const { market, owner, alice, bob } = await loadFixture(deployFixture);
      await expect(market.connect(bob).deposit(0)).to.be.revertedWithCustomError(
        market,
        "GuardedPerpMarketZeroAmount",
      );
      await expect(market.connect(bob).withdraw(0)).to.be.revertedWithCustomError(
        market,
        "GuardedPerpMarketZeroAmount",
      );
      await expect(market.connect(bob).openPosition(0, true)).to.be.revertedWithCustomError(
        market,
        "GuardedPerpMarketZeroAmount",
      );
      await expect(market.connect(alice).increasePosition(0)).to.be.revertedWithCustomError(
        market,
        "GuardedPerpMarketZeroAmount",
      );
      await expect(market.connect(alice).reducePosition(0)).to.be.revertedWithCustomError(
        market,
        "GuardedPerpMarketZeroAmount",
      );
      await expect(market.connect(alice).openPosition(1, true))
        .to.be.revertedWithCustomError(market, "GuardedPerpMarketPositionExists")
        .withArgs(alice.address);
      await expect(market.connect(bob).increasePosition(1))
        .to.be.revertedWithCustomError(market, "GuardedPerpMarketNoPosition")
        .withArgs(bob.address);
      await expect(market.connect(bob).closePosition())
        .to.be.revertedWithCustomError(market, "GuardedPerpMarketNoPosition")
        .withArgs(bob.address);
      await expect(market.connect(alice).reducePosition(parseEther("11")))
        .to.be.revertedWithCustomError(market, "GuardedPerpMarketReduceTooLarge")
        .withArgs(parseEther("10"), parseEther("11"));
      await expect(market.connect(alice).withdraw(parseEther("8001")))
        .to.be.revertedWithCustomError(market, "GuardedPerpMarketInsufficientFreeCollateral")
        .withArgs(alice.address, parseEther("8001"), parseEther("8000"));
      await expect(market.connect(owner).setMarkPrice(0))
        .to.be.revertedWithCustomError(market, "GuardedPerpMarketInvalidPrice")
        .withArgs(0);
      await expect(market.connect(alice).setMarkPrice(1))
        .to.be.revertedWithCustomError(market, "OwnableUnauthorizedAccount")
        .withArgs(alice.address);
    });

    it("exposes its wiring", async function () {
      const { market, token, guard } = await loadFixture(deployFixture);
      expect(await market.collateral()).to.equal(await token.getAddress());
      expect(await market.guard()).to.equal(await guard.getAddress());
      expect(await market.markPrice()).to.equal(PRICE);
      const p = await market.positionOf((await ethers.getSigners())[1].address);
      expect([p.size, p.entryPrice, p.isLong]).to.deep.equal([parseEther("10"), PRICE, true]);
      const factory = await ethers.getContractFactory("GuardedPerpMarket");
      await expect(factory.deploy(await token.getAddress(), await guard.getAddress(), token, 0))
        .to.be.revertedWithCustomError(factory, "GuardedPerpMarketInvalidPrice")
        .withArgs(0);
    });
  });
});
