import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";
import { ethers } from "hardhat";
import {
  formatUnits,
  readFailoverFeeds,
  renderFailoverFeeds,
  type FailoverFeedStatus,
} from "../../keepers/cli/failoverFeedStatus";
import type { CliContext } from "../../keepers/cli/context";
import type { MarketStatus } from "../../keepers/cli/status";
import { MAX_AGE, failedOverFixture } from "../contracts/failoverFeed.fixture";

const base: FailoverFeedStatus = {
  address: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
  service: "0x" + "ab".repeat(32),
  serviceName: "eth-usd-feed",
  decimals: 8,
  maxAge: 3600,
  phase: 2,
  phaseCount: 2,
  endpoint: "0x" + "cd".repeat(32),
  feed: "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512",
  latest: { roundId: String((2n << 64n) | 7n), answer: "200012345678", updatedAt: 1_700_000_000 },
};

describe("vigil status: FailoverFeeds", function () {
  it("shows the phase, the endpoint and feed served, and the scaled latest answer", function () {
    const out = renderFailoverFeeds([base], 1_700_000_030);
    expect(out).to.contain("eth-usd-feed");
    expect(out).to.contain("2 of 2");
    expect(out).to.contain("0xcdcdcd…cdcd");
    expect(out).to.contain(base.feed!);
    expect(out).to.contain(`2000.12345678 (round ${(2n << 64n) | 7n}, 2023-11-14T22:13:20Z (30 s ago))`);
  });

  it("shows why a feed refuses to answer, and an active endpoint without a phase", function () {
    const out = renderFailoverFeeds(
      [
        {
          ...base,
          phase: 0,
          endpoint: null,
          feed: null,
          latest: { error: "FailoverFeedUnknownEndpoint(0x01)" },
        },
      ],
      1_700_000_030,
    );
    expect(out).to.contain("0 of 2");
    expect(out).to.contain("none (syncPhases due)");
    expect(out).to.contain("refuses: FailoverFeedUnknownEndpoint(0x01)");
  });

  it("formats integer answers with their decimals", function () {
    expect(formatUnits("200012345678", 8)).to.equal("2000.12345678");
    expect(formatUnits("2000000000000000000000", 18)).to.equal("2000");
    expect(formatUnits("5", 3)).to.equal("0.005");
    expect(formatUnits("-15", 1)).to.equal("-1.5");
    expect(formatUnits("42", 0)).to.equal("42");
  });

  it("reads which feed a deployed FailoverFeed serves after a failover, and its refusal once stale", async function () {
    const f = await loadFixture(failedOverFixture);
    const ctx = { provider: ethers.provider } as unknown as CliContext;
    const address = await f.feed.getAddress();
    const services = [{ id: f.serviceId.toLowerCase(), name: "eth-usd-feed" }] as never[];
    const [read] = await readFailoverFeeds(ctx, [address], [], services);
    expect(read).to.deep.include({
      address,
      service: f.serviceId.toLowerCase(),
      serviceName: "eth-usd-feed",
      decimals: 18,
      maxAge: Number(MAX_AGE),
      phase: 2,
      phaseCount: 2,
      endpoint: f.backupId.toLowerCase(),
      feed: await f.backup.getAddress(),
    });
    expect(read.latest).to.deep.include({
      roundId: String((2n << 64n) | 1n),
      answer: String(2_001n * 10n ** 18n),
    });
    // A market that prices from it is found without the address; a market without priceFeed() is skipped.
    const market = await ethers.deployContract("FeedPricedPerpMarket", [
      await (await ethers.deployContract("MockERC20", ["t", "t"])).getAddress(),
      f.owner.address,
      f.owner.address,
      address,
    ]);
    const markets = [{ market: await market.getAddress() }, { market: f.owner.address }] as MarketStatus[];
    expect((await readFailoverFeeds(ctx, [], markets, services)).map((x) => x.address)).to.deep.equal([
      address,
    ]);
    await time.increase(MAX_AGE + 1n);
    const [stale] = await readFailoverFeeds(ctx, [address], [], services);
    expect(stale.latest)
      .to.have.property("error")
      .that.matches(/^FailoverFeedStaleAnswer\(0x/);
  });
});
