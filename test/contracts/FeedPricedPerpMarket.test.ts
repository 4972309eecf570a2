import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";
import { parseEther } from "ethers";
import { ethers } from "hardhat";
import { Guard, Status } from "./helpers";
import { MAX_AGE, deployFixture } from "./failoverFeed.fixture";

/** Upper bound asserted on a consumer's cold `latestRoundData` of a FailoverFeed (FeedGasProbe); `npm run
 * bench:feed` prints the figure. */
const LATEST_ROUND_DATA_GAS_BOUND = 40_000n;
/** The primary's 2,000.12345678 (8 decimals) as collateral units (18 decimals) per 1e18 size. */
const PRIMARY_PRICE = 200_012_345_678n * 10n ** 10n;
const BACKUP_PRICE = 2_001n * 10n ** 18n;

describe("FeedPricedPerpMarket", function () {
  /**
   * {deployFixture}'s FailoverFeed pricing a FeedPricedPerpMarket that a real MarketGuard guards on the feed
   * service; alice and bob each deposited 10,000.
   */
  async function marketFixture() {
    const f = await deployFixture();
    const [, alice, bob] = await ethers.getSigners();
    const guard = await ethers.deployContract("MarketGuard", [
      f.owner.address,
      await f.oracle.getAddress(),
      await f.registry.getAddress(),
      100_000,
    ]);
    const token = await ethers.deployContract("MockERC20", ["Vigil Test USD", "vtUSD"]);
    const market = await ethers.deployContract("FeedPricedPerpMarket", [
      await token.getAddress(),
      await guard.getAddress(),
      f.owner.address,
      await f.feed.getAddress(),
    ]);
    await guard.registerMarket({
      market: await market.getAddress(),
      guardian: ethers.ZeroAddress,
      pauseThresholdBps: 5_000,
      gracePeriod: 300,
      services: [f.serviceId],
      endpoints: [],
    });
    await f.oracle.setStatus(f.primaryId, Status.HEALTHY, 10_000);
    await f.oracle.setStatus(f.backupId, Status.HEALTHY, 10_000);
    for (const s of [alice, bob]) {
      await token.mint(s.address, parseEther("100000"));
      await token.connect(s).approve(await market.getAddress(), ethers.MaxUint256);
      await market.connect(s).deposit(parseEther("10000"));
    }
    return { ...f, alice, bob, guard, token, market };
  }

  it("prices trades from the FailoverFeed's active feed, in collateral units", async function () {
    const { market, alice } = await loadFixture(marketFixture);
    expect(await market.markPrice()).to.equal(PRIMARY_PRICE);
    await expect(market.connect(alice).openPosition(parseEther("1"), true))
      .to.emit(market, "PositionOpened")
      .withArgs(alice.address, parseEther("1"), true, PRIMARY_PRICE);
  });

  it("keeps trading through a failover: a position opens at the backup's price, and nothing pauses", async function () {
    const { market, oracle, registry, guard, serviceId, primaryId, alice, bob } =
      await loadFixture(marketFixture);
    await market.connect(alice).openPosition(parseEther("1"), true);
    await oracle.setStatus(primaryId, Status.DOWN, 0);
    await registry.migrate(serviceId);
    expect((await guard.tripStatus(1))[0]).to.equal(Guard.DEPENDENCIES_USABLE);
    await expect(market.connect(bob).openPosition(parseEther("2"), false))
      .to.emit(market, "PositionOpened")
      .withArgs(bob.address, parseEther("2"), false, BACKUP_PRICE);
    // alice's long from the primary's price settles at the backup's.
    const pnl = ((BACKUP_PRICE - PRIMARY_PRICE) * parseEther("1")) / 10n ** 18n;
    await expect(market.connect(alice).closePosition())
      .to.emit(market, "PositionReduced")
      .withArgs(alice.address, parseEther("1"), 0, BACKUP_PRICE, pnl);
    expect(await market.paused()).to.equal(false);
  });

  it("fails closed on a stale price: no trade, while deposits and withdrawals without a position stay open", async function () {
    const { market, feed, primaryId, primary, alice, bob } = await loadFixture(marketFixture);
    await market.connect(bob).openPosition(parseEther("1"), true);
    await time.increase(MAX_AGE + 1n);
    const [, , , updatedAt] = await primary.latestRoundData();
    await expect(market.connect(alice).openPosition(parseEther("1"), true))
      .to.be.revertedWithCustomError(feed, "FailoverFeedStaleAnswer")
      .withArgs(primaryId, updatedAt, MAX_AGE);
    await expect(market.connect(bob).closePosition()).to.be.revertedWithCustomError(
      feed,
      "FailoverFeedStaleAnswer",
    );
    await market.connect(alice).deposit(parseEther("1"));
    await expect(market.connect(alice).withdraw(parseEther("10001")))
      .to.emit(market, "Withdrawn")
      .withArgs(alice.address, parseEther("10001"));
  });

  it("refuses setMarkPrice: the price is the feed's", async function () {
    const { market, owner } = await loadFixture(marketFixture);
    await expect(market.connect(owner).setMarkPrice(1n)).to.be.revertedWithCustomError(
      market,
      "FeedPricedPerpMarketPriceFromFeed",
    );
  });

  it("rejects a feed without code and a feed with more decimals than the collateral", async function () {
    const { token, guard, owner } = await loadFixture(marketFixture);
    const factory = await ethers.getContractFactory("FeedPricedPerpMarket");
    const args = [await token.getAddress(), await guard.getAddress(), owner.address] as const;
    await expect(factory.deploy(...args, owner.address))
      .to.be.revertedWithCustomError(factory, "FeedPricedPerpMarketInvalidFeed")
      .withArgs(owner.address, 255, 18);
    const fine = await ethers.deployContract("MockAggregator", [24, "too fine"]);
    await expect(factory.deploy(...args, await fine.getAddress()))
      .to.be.revertedWithCustomError(factory, "FeedPricedPerpMarketInvalidFeed")
      .withArgs(await fine.getAddress(), 24, 18);
  });

  it("refuses a non-positive answer from a feed that does not check it itself", async function () {
    const { token, guard, owner } = await loadFixture(marketFixture);
    const raw = await ethers.deployContract("MockAggregator", [8, "raw"]);
    await raw.updateAnswer(0);
    const market = await ethers.deployContract("FeedPricedPerpMarket", [
      await token.getAddress(),
      await guard.getAddress(),
      owner.address,
      await raw.getAddress(),
    ]);
    expect(await market.priceFeed()).to.equal(await raw.getAddress());
    await expect(market.markPrice())
      .to.be.revertedWithCustomError(market, "FeedPricedPerpMarketInvalidAnswer")
      .withArgs(0);
  });

  it(`costs a consumer under ${LATEST_ROUND_DATA_GAS_BOUND} gas per cold FailoverFeed.latestRoundData`, async function () {
    const { feed, probe } = await loadFixture(marketFixture);
    const [gasUsed, answer] = await probe.measure(await feed.getAddress());
    expect(answer).to.equal(PRIMARY_PRICE);
    expect(gasUsed).to.be.lessThan(LATEST_ROUND_DATA_GAS_BOUND);
  });
});
