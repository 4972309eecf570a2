import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";
import { ethers } from "hardhat";
import { Kind, Status } from "./helpers";
import { DECIMALS, MAX_AGE, deployFixture, failedOverFixture, serviceWith } from "./failoverFeed.fixture";

const P1 = 1n << 64n;
const P2 = 2n << 64n;

describe("FailoverFeed", function () {
  describe("deployment", function () {
    it("copies every endpoint of the service as a phase, in registry order", async function () {
      const { feed, registry, serviceId, primary, backup, primaryId, backupId } =
        await loadFixture(deployFixture);
      await expect(feed.deploymentTransaction())
        .to.emit(feed, "PhaseAdded")
        .withArgs(1, primaryId, await primary.getAddress(), 8)
        .and.to.emit(feed, "PhaseAdded")
        .withArgs(2, backupId, await backup.getAddress(), 18);
      expect(await feed.registry()).to.equal(await registry.getAddress());
      expect(await feed.serviceId()).to.equal(serviceId);
      expect(await feed.decimals()).to.equal(18n);
      expect(await feed.maxAge()).to.equal(MAX_AGE);
      expect(await feed.description()).to.equal("ETH / USD");
      expect(await feed.version()).to.equal(1n);
      expect(await feed.MAX_DECIMALS()).to.equal(36n);
      expect(await feed.phaseCount()).to.equal(2n);
      expect(await feed.phase(1)).to.deep.equal([primaryId, await primary.getAddress(), 8n]);
      expect(await feed.phase(2)).to.deep.equal([backupId, await backup.getAddress(), 18n]);
      expect(await feed.phase(3)).to.deep.equal([ethers.ZeroHash, ethers.ZeroAddress, 0n]);
      expect(await feed.phase(0)).to.deep.equal([ethers.ZeroHash, ethers.ZeroAddress, 0n]);
      expect(await feed.phaseOf(backupId)).to.equal(2n);
      expect(await feed.phaseOf(ethers.ZeroHash)).to.equal(0n);
      expect(await feed.phaseId()).to.equal(1n);
      expect(await feed.aggregator()).to.equal(await primary.getAddress());
      expect(await feed.phaseAggregators(2)).to.equal(await backup.getAddress());
      expect(await feed.phaseAggregators(9)).to.equal(ethers.ZeroAddress);
    });

    it("rejects a registry without code, a zero maxAge and more than 36 decimals", async function () {
      const { factory, registry, serviceId, other } = await loadFixture(deployFixture);
      const reg = await registry.getAddress();
      await expect(factory.deploy(other.address, serviceId, 8, MAX_AGE, "x"))
        .to.be.revertedWithCustomError(factory, "FailoverFeedInvalidSetup")
        .withArgs(other.address, 8, MAX_AGE);
      await expect(factory.deploy(reg, serviceId, 8, 0, "x"))
        .to.be.revertedWithCustomError(factory, "FailoverFeedInvalidSetup")
        .withArgs(reg, 8, 0);
      await expect(factory.deploy(reg, serviceId, 37, MAX_AGE, "x"))
        .to.be.revertedWithCustomError(factory, "FailoverFeedInvalidSetup")
        .withArgs(reg, 37, MAX_AGE);
    });

    it("rejects an unknown service and a service without endpoints", async function () {
      const f = await loadFixture(deployFixture);
      const reg = await f.registry.getAddress();
      const unknown = ethers.id("no such service");
      await expect(f.factory.deploy(reg, unknown, 18, MAX_AGE, "x"))
        .to.be.revertedWithCustomError(f.factory, "FailoverFeedNoEndpoints")
        .withArgs(unknown);
      const { serviceId } = await serviceWith(f, "empty", []);
      await expect(f.factory.deploy(reg, serviceId, 18, MAX_AGE, "x"))
        .to.be.revertedWithCustomError(f.factory, "FailoverFeedNoEndpoints")
        .withArgs(serviceId);
    });

    it("rejects a service with an endpoint that is not an ORACLE_FEED", async function () {
      const f = await loadFixture(deployFixture);
      const { serviceId, ids } = await serviceWith(f, "mixed", [
        { kind: Kind.ORACLE_FEED, uri: await f.caip(f.primary) },
        { kind: Kind.SEQUENCER_FEED, uri: await f.caip(f.backup) },
      ]);
      await expect(f.factory.deploy(await f.registry.getAddress(), serviceId, 18, MAX_AGE, "x"))
        .to.be.revertedWithCustomError(f.factory, "FailoverFeedNotOracleFeed")
        .withArgs(ids[1], Kind.SEQUENCER_FEED);
    });

    for (const [label, uri] of [
      ["a short address", "eip155:31337:0x1234"],
      ["a leading zero in the chain id", "eip155:031337:0x" + "11".repeat(20)],
      ["another namespace", "cosmos:31337:0x" + "11".repeat(20)],
      ["an upper-case 0X", "eip155:31337:0X" + "11".repeat(20)],
      ["a non-hex digit", "eip155:31337:0x" + "11".repeat(19) + "1g"],
      ["a 17-digit chain id", "eip155:12345678901234567:0x" + "11".repeat(20)],
      ["surrounding space", " eip155:31337:0x" + "11".repeat(20)],
      ["a URL", "https://example.com/feed"],
    ]) {
      it(`rejects a feed URI with ${label}`, async function () {
        const f = await loadFixture(deployFixture);
        const { serviceId, ids } = await serviceWith(f, `bad-${label}`, [{ kind: Kind.ORACLE_FEED, uri }]);
        await expect(f.factory.deploy(await f.registry.getAddress(), serviceId, 18, MAX_AGE, "x"))
          .to.be.revertedWithCustomError(f.factory, "FailoverFeedInvalidUri")
          .withArgs(ids[0], uri);
      });
    }

    it("rejects a feed on another chain", async function () {
      const f = await loadFixture(deployFixture);
      const uri = `eip155:1:${await f.primary.getAddress()}`;
      const { serviceId, ids } = await serviceWith(f, "mainnet", [{ kind: Kind.ORACLE_FEED, uri }]);
      await expect(f.factory.deploy(await f.registry.getAddress(), serviceId, 18, MAX_AGE, "x"))
        .to.be.revertedWithCustomError(f.factory, "FailoverFeedWrongChain")
        .withArgs(ids[0], 1, f.chainId);
    });

    it("rejects a feed address without code", async function () {
      const f = await loadFixture(deployFixture);
      const uri = `eip155:${f.chainId}:${f.other.address.toLowerCase()}`;
      const { serviceId, ids } = await serviceWith(f, "eoa", [{ kind: Kind.ORACLE_FEED, uri }]);
      await expect(f.factory.deploy(await f.registry.getAddress(), serviceId, 18, MAX_AGE, "x"))
        .to.be.revertedWithCustomError(f.factory, "FailoverFeedNoCode")
        .withArgs(ids[0], f.other.address);
    });

    it("refuses a service whose feeds have more decimals than the adapter (lossy scaling)", async function () {
      const f = await loadFixture(deployFixture);
      await expect(f.factory.deploy(await f.registry.getAddress(), f.serviceId, 8, MAX_AGE, "x"))
        .to.be.revertedWithCustomError(f.factory, "FailoverFeedLossyDecimals")
        .withArgs(f.backupId, 18, 8);
    });
  });

  describe("latestRoundData", function () {
    it("answers from the active feed, scaled exactly to the adapter's decimals, in phase 1", async function () {
      const { feed, primary } = await loadFixture(deployFixture);
      const [, , startedAt, updatedAt] = await primary.latestRoundData();
      expect(await feed.latestRoundData()).to.deep.equal([
        P1 | 1n,
        200_012_345_678n * 10n ** 10n,
        startedAt,
        updatedAt,
        P1 | 1n,
      ]);
      expect(await feed.latestAnswer()).to.equal(200_012_345_678n * 10n ** 10n);
      expect(await feed.latestTimestamp()).to.equal(updatedAt);
      expect(await feed.latestRound()).to.equal(P1 | 1n);
    });

    it("answers at exactly maxAge and reverts one second later (stale)", async function () {
      const { feed, primary, primaryId } = await loadFixture(deployFixture);
      const [, , , updatedAt] = await primary.latestRoundData();
      await time.setNextBlockTimestamp(updatedAt + MAX_AGE);
      await ethers.provider.send("evm_mine", []);
      expect((await feed.latestRoundData())[1]).to.equal(200_012_345_678n * 10n ** 10n);
      await time.increase(1);
      await expect(feed.latestRoundData())
        .to.be.revertedWithCustomError(feed, "FailoverFeedStaleAnswer")
        .withArgs(primaryId, updatedAt, MAX_AGE);
      for (const v2 of [() => feed.latestAnswer(), () => feed.latestTimestamp(), () => feed.latestRound()]) {
        await expect(v2()).to.be.revertedWithCustomError(feed, "FailoverFeedStaleAnswer");
      }
    });

    it("reverts stale when the active feed never answered (updatedAt 0)", async function () {
      const f = await loadFixture(deployFixture);
      const silent = await ethers.deployContract("MockAggregator", [8, "silent"]);
      const { serviceId, ids } = await serviceWith(f, "silent", [
        { kind: Kind.ORACLE_FEED, uri: await f.caip(silent) },
      ]);
      const feed = await f.factory.deploy(await f.registry.getAddress(), serviceId, 8, MAX_AGE, "x");
      await expect(feed.latestRoundData())
        .to.be.revertedWithCustomError(feed, "FailoverFeedStaleAnswer")
        .withArgs(ids[0], 0, MAX_AGE);
    });

    it("reverts on an updatedAt after the current block", async function () {
      const { feed, primary, primaryId } = await loadFixture(deployFixture);
      const future = BigInt(await time.latest()) + 1_000n;
      await primary.setRound(2, 200_000_000_000n, future, future);
      await expect(feed.latestRoundData())
        .to.be.revertedWithCustomError(feed, "FailoverFeedFutureAnswer")
        .withArgs(primaryId, future);
    });

    for (const answer of [0n, -1n, -(10n ** 30n)]) {
      it(`reverts on a non-positive answer (${answer})`, async function () {
        const { feed, primary, primaryId } = await loadFixture(deployFixture);
        await primary.updateAnswer(answer);
        await expect(feed.latestRoundData())
          .to.be.revertedWithCustomError(feed, "FailoverFeedNonPositiveAnswer")
          .withArgs(primaryId, answer);
        await expect(feed.latestAnswer()).to.be.revertedWithCustomError(
          feed,
          "FailoverFeedNonPositiveAnswer",
        );
      });
    }

    it("reverts when the feed's decimals changed since its phase was added", async function () {
      const { feed, primary, primaryId } = await loadFixture(deployFixture);
      await primary.setDecimals(6);
      await expect(feed.latestRoundData())
        .to.be.revertedWithCustomError(feed, "FailoverFeedDecimalsChanged")
        .withArgs(primaryId, 6, 8);
    });

    it("reverts when the scaled answer does not fit int256", async function () {
      const { feed, primary, primaryId } = await loadFixture(deployFixture);
      const huge = ethers.MaxInt256 / 10n ** 10n + 1n;
      await primary.updateAnswer(huge);
      await expect(feed.latestRoundData())
        .to.be.revertedWithCustomError(feed, "FailoverFeedAnswerOverflow")
        .withArgs(primaryId, huge);
      await primary.updateAnswer(huge - 1n);
      expect((await feed.latestRoundData())[1]).to.equal((huge - 1n) * 10n ** 10n);
    });

    it("packs a source that is itself an AggregatorProxy (phase 3, round 7) into its phase", async function () {
      const { feed, primary } = await loadFixture(deployFixture);
      const now = BigInt(await time.latest());
      const proxyRound = (3n << 64n) | 7n;
      await primary.setRound(proxyRound, 199_900_000_000n, now, now);
      const packed = P1 | (3n << 48n) | 7n;
      const latest = await feed.latestRoundData();
      expect(latest[0]).to.equal(packed);
      expect(latest[4]).to.equal(packed);
      expect(await feed.getRoundData(packed)).to.deep.equal(latest);
    });

    it("reverts on a source round id it cannot place in a phase", async function () {
      const { feed, primary, primaryId } = await loadFixture(deployFixture);
      const now = BigInt(await time.latest());
      for (const id of [1n << 48n, (3n << 64n) | (1n << 48n)]) {
        await primary.setRound(id, 1n, now, now);
        await expect(feed.latestRoundData())
          .to.be.revertedWithCustomError(feed, "FailoverFeedRoundIdUnsupported")
          .withArgs(primaryId, id);
      }
    });

    it("passes a revert of the source through (fails closed)", async function () {
      const { feed, primary } = await loadFixture(deployFixture);
      await primary.setReverting(true);
      await expect(feed.latestRoundData()).to.be.revertedWithCustomError(primary, "MockAggregatorDown");
      await expect(feed.getRoundData(P1 | 1n)).to.be.revertedWithCustomError(primary, "MockAggregatorDown");
    });
  });

  describe("after a failover", function () {
    it("answers from the backup in phase 2, scaled, with the same address", async function () {
      const { feed, backup } = await loadFixture(failedOverFixture);
      const [, , startedAt, updatedAt] = await backup.latestRoundData();
      expect(await feed.latestRoundData()).to.deep.equal([
        P2 | 1n,
        2_001n * 10n ** 18n,
        startedAt,
        updatedAt,
        P2 | 1n,
      ]);
      expect(await feed.phaseId()).to.equal(2n);
      expect(await feed.aggregator()).to.equal(await backup.getAddress());
    });

    it("still answers rounds of the older phase through getRoundData", async function () {
      const { feed, primary } = await loadFixture(failedOverFixture);
      const [, , startedAt, updatedAt] = await primary.getRoundData(1);
      expect(await feed.getRoundData(P1 | 1n)).to.deep.equal([
        P1 | 1n,
        200_012_345_678n * 10n ** 10n,
        startedAt,
        updatedAt,
        P1 | 1n,
      ]);
      expect(await feed.getAnswer(P1 | 1n)).to.equal(200_012_345_678n * 10n ** 10n);
      expect(await feed.getTimestamp(P1 | 1n)).to.equal(updatedAt);
    });

    it("answers history without an age check, even long after the phase was left", async function () {
      const { feed } = await loadFixture(failedOverFixture);
      await time.increase(MAX_AGE * 10n);
      expect((await feed.getRoundData(P1 | 1n))[1]).to.equal(200_012_345_678n * 10n ** 10n);
      await expect(feed.latestRoundData()).to.be.revertedWithCustomError(feed, "FailoverFeedStaleAnswer");
    });

    it("returns to phase 1 on failback, where the primary's new rounds continue", async function () {
      const { feed, oracle, registry, serviceId, primary, primaryId } = await loadFixture(failedOverFixture);
      await oracle.setStatus(primaryId, Status.HEALTHY, 10_000);
      await time.increase(301);
      await primary.updateAnswer(200_100_000_000n);
      await registry.migrate(serviceId);
      const [roundId, answer] = await feed.latestRoundData();
      expect(roundId).to.equal(P1 | 2n);
      expect(answer).to.equal(200_100_000_000n * 10n ** 10n);
    });
  });

  describe("getRoundData", function () {
    it("reverts for phase 0 and for a phase beyond the last", async function () {
      const { feed } = await loadFixture(deployFixture);
      await expect(feed.getRoundData(1n))
        .to.be.revertedWithCustomError(feed, "FailoverFeedUnknownPhase")
        .withArgs(0);
      await expect(feed.getRoundData((3n << 64n) | 1n))
        .to.be.revertedWithCustomError(feed, "FailoverFeedUnknownPhase")
        .withArgs(3);
    });

    it("reverts for a round the source never had", async function () {
      const { feed } = await loadFixture(deployFixture);
      await expect(feed.getRoundData(P1 | 5n))
        .to.be.revertedWithCustomError(feed, "FailoverFeedRoundNotAvailable")
        .withArgs(P1 | 5n);
      await expect(feed.getAnswer(1n << 80n))
        .to.be.revertedWithCustomError(feed, "FailoverFeedRoundNotAvailable")
        .withArgs(1n << 80n);
      await expect(feed.getTimestamp(P2 | 9n)).to.be.revertedWithCustomError(
        feed,
        "FailoverFeedRoundNotAvailable",
      );
    });

    it("refuses a historical round whose answer is not positive", async function () {
      const { feed, primary, primaryId } = await loadFixture(deployFixture);
      await primary.updateAnswer(0);
      await primary.updateAnswer(1);
      await expect(feed.getRoundData(P1 | 2n))
        .to.be.revertedWithCustomError(feed, "FailoverFeedNonPositiveAnswer")
        .withArgs(primaryId, 0);
    });
  });

  describe("endpoints added after deployment", function () {
    /** A third feed (6 decimals) added to the service after the adapter, then made active by a failover. */
    async function thirdActiveFixture() {
      const f = await deployFixture();
      const third = await ethers.deployContract("MockAggregator", [6, "third"]);
      await third.updateAnswer(1_999_500_000n);
      const thirdId = await f.add(Kind.ORACLE_FEED, await f.caip(third), 2);
      await f.oracle.setStatus(f.primaryId, Status.DOWN, 0);
      await f.oracle.setStatus(f.backupId, Status.DOWN, 0);
      await f.oracle.setStatus(thirdId, Status.HEALTHY, 10_000);
      await f.registry.migrate(f.serviceId);
      return { ...f, third, thirdId };
    }

    it("fails closed until syncPhases copies the endpoint, then answers in phase 3", async function () {
      const { feed, third, thirdId, other } = await loadFixture(thirdActiveFixture);
      await expect(feed.latestRoundData())
        .to.be.revertedWithCustomError(feed, "FailoverFeedUnknownEndpoint")
        .withArgs(thirdId);
      expect(await feed.phaseId()).to.equal(0n);
      expect(await feed.aggregator()).to.equal(ethers.ZeroAddress);
      expect(await feed.connect(other).syncPhases.staticCall()).to.equal(1n);
      await expect(feed.connect(other).syncPhases())
        .to.emit(feed, "PhaseAdded")
        .withArgs(3, thirdId, await third.getAddress(), 6);
      const [roundId, answer] = await feed.latestRoundData();
      expect(roundId).to.equal((3n << 64n) | 1n);
      expect(answer).to.equal(1_999_500_000n * 10n ** 12n);
      expect(await feed.syncPhases.staticCall()).to.equal(0n);
    });

    it("syncPhases refuses an endpoint the constructor would refuse", async function () {
      const f = await loadFixture(deployFixture);
      const uri = `eip155:1:${await f.primary.getAddress()}`;
      const badId = await f.add(Kind.ORACLE_FEED, uri, 5);
      await expect(f.feed.syncPhases())
        .to.be.revertedWithCustomError(f.feed, "FailoverFeedWrongChain")
        .withArgs(badId, 1, f.chainId);
      expect(await f.feed.phaseCount()).to.equal(2n);
    });
  });
});
