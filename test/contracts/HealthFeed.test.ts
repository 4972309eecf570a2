import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";
import { ZeroHash, keccak256, toUtf8Bytes } from "ethers";
import { ethers } from "hardhat";
import { Status } from "./helpers";

const ENDPOINT = keccak256(toUtf8Bytes("endpoint:base-rpc:alchemy"));
const DESCRIPTION = "Vigil health / base-rpc / alchemy";

describe("HealthFeed", function () {
  /** A feed over ENDPOINT of a MockHealthOracle; the endpoint has never reported. */
  async function deployFixture() {
    const oracle = await ethers.deployContract("MockHealthOracle");
    const feed = await ethers.deployContract("HealthFeed", [
      await oracle.getAddress(),
      ENDPOINT,
      DESCRIPTION,
    ]);
    return { oracle, feed };
  }

  /**
   * ENDPOINT DEGRADED since an hour ago: median 6_543 bps between a floor of 5_000 and a ceiling of 8_000 (the
   * reports disagreed), observed by the quorum 45 s before the block that stored it.
   */
  async function reportedFixture() {
    const f = await deployFixture();
    const now = BigInt(await time.latest());
    await f.oracle.setHealth(ENDPOINT, {
      status: Status.DEGRADED,
      healthBps: 6_543,
      since: now - 3_600n,
      round: 172_800_123n,
      updatedAt: now - 45n,
      floorBps: 5_000,
      ceilingBps: 8_000,
    });
    return { ...f, since: now - 3_600n, updatedAt: now - 45n, round: 172_800_123n };
  }

  describe("deployment", function () {
    it("exposes its wiring, description, 4 decimals and version 1", async function () {
      const { oracle, feed } = await loadFixture(deployFixture);
      expect(await feed.oracle()).to.equal(await oracle.getAddress());
      expect(await feed.endpointId()).to.equal(ENDPOINT);
      expect(await feed.description()).to.equal(DESCRIPTION);
      expect(await feed.decimals()).to.equal(4n);
      expect(await feed.version()).to.equal(1n);
    });

    it("rejects an oracle without code and a zero endpoint id", async function () {
      const { oracle } = await loadFixture(deployFixture);
      const [eoa] = await ethers.getSigners();
      const factory = await ethers.getContractFactory("HealthFeed");
      await expect(factory.deploy(eoa.address, ENDPOINT, DESCRIPTION))
        .to.be.revertedWithCustomError(factory, "HealthFeedInvalidSetup")
        .withArgs(eoa.address, ENDPOINT);
      await expect(factory.deploy(await oracle.getAddress(), ZeroHash, DESCRIPTION))
        .to.be.revertedWithCustomError(factory, "HealthFeedInvalidSetup")
        .withArgs(await oracle.getAddress(), ZeroHash);
    });
  });

  describe("latestRoundData", function () {
    it("maps round, healthBps, since, updatedAt and answeredInRound exactly", async function () {
      const { feed, since, updatedAt, round } = await loadFixture(reportedFixture);
      const r = await feed.latestRoundData();
      expect(r.roundId).to.equal(round);
      expect(r.answer).to.equal(6_543n);
      expect(r.startedAt).to.equal(since);
      expect(r.updatedAt).to.equal(updatedAt);
      expect(r.answeredInRound).to.equal(round);
      expect(await feed.status()).to.equal(Status.DEGRADED);
    });

    it("answers the median, never the quorum floor or ceiling", async function () {
      const { oracle, feed } = await loadFixture(deployFixture);
      await oracle.setStatusRange(ENDPOINT, Status.HEALTHY, 9_100, 8_200, 9_900);
      expect((await feed.latestRoundData()).answer).to.equal(9_100n);
    });

    it("reports the quorum's observation time as updatedAt, not the block that included the round", async function () {
      const { feed, updatedAt } = await loadFixture(reportedFixture);
      const storedAt = BigInt(await time.latest()); // the block of the fixture's last transaction
      const r = await feed.latestRoundData();
      expect(r.updatedAt).to.equal(updatedAt);
      expect(r.updatedAt).to.be.lt(storedAt - 44n);
    });

    it("reads all zeros and UNKNOWN for an endpoint that never reported", async function () {
      const { feed } = await loadFixture(deployFixture);
      const r = await feed.latestRoundData();
      expect([r.roundId, r.answer, r.startedAt, r.updatedAt, r.answeredInRound]).to.deep.equal([
        0n,
        0n,
        0n,
        0n,
        0n,
      ]);
      expect(await feed.status()).to.equal(Status.UNKNOWN);
    });

    it("follows every status, with answer 10_000 as 1.0000 and startedAt moving only with the status", async function () {
      const { oracle, feed } = await loadFixture(deployFixture);
      for (const [status, bps] of [
        [Status.HEALTHY, 10_000],
        [Status.DEGRADED, 7_000],
        [Status.DOWN, 0],
      ] as const) {
        await time.increase(30);
        await oracle.setStatus(ENDPOINT, status, bps);
        const now = BigInt(await time.latest());
        const r = await feed.latestRoundData();
        expect(r.answer).to.equal(BigInt(bps));
        expect(r.startedAt).to.equal(now);
        expect(r.updatedAt).to.equal(now);
        expect(await feed.status()).to.equal(status);
      }
      // A new round with the same status: updatedAt moves, startedAt (since) stays.
      const since = BigInt(await time.latest());
      await time.increase(60);
      await oracle.setStatusSince(ENDPOINT, Status.DOWN, 100, since);
      const r = await feed.latestRoundData();
      expect(r.startedAt).to.equal(since);
      expect(r.updatedAt).to.equal(BigInt(await time.latest()));
      expect(r.answer).to.equal(100n);
    });

    it("answers 0 for a silent endpoint (UNKNOWN), never its last median, keeping round and times", async function () {
      const { oracle, feed } = await loadFixture(reportedFixture);
      const now = BigInt(await time.latest());
      // What the real oracle reads after the heartbeat: UNKNOWN since updatedAt + heartbeat, same round,
      // the last median still stored (here a perfect 10_000).
      await oracle.setHealth(ENDPOINT, {
        status: Status.UNKNOWN,
        healthBps: 10_000,
        since: now,
        round: 172_800_123n,
        updatedAt: now - 600n,
        floorBps: 10_000,
        ceilingBps: 10_000,
      });
      const r = await feed.latestRoundData();
      expect([r.roundId, r.answer, r.startedAt, r.updatedAt, r.answeredInRound]).to.deep.equal([
        172_800_123n,
        0n,
        now,
        now - 600n,
        172_800_123n,
      ]);
      expect(await feed.getRoundData(172_800_123n)).to.deep.equal(r);
      expect(await feed.status()).to.equal(Status.UNKNOWN);
    });

    it("answers 0 for an endpoint kept UNKNOWN by BAD rounds after silence, with a fresh updatedAt", async function () {
      const { oracle, feed } = await loadFixture(reportedFixture);
      const now = BigInt(await time.latest());
      await oracle.setHealth(ENDPOINT, {
        status: Status.UNKNOWN,
        healthBps: 4_000,
        since: now - 300n,
        round: 172_800_200n,
        updatedAt: now,
        floorBps: 4_000,
        ceilingBps: 4_000,
      });
      const r = await feed.latestRoundData();
      expect([r.roundId, r.answer, r.startedAt, r.updatedAt]).to.deep.equal([
        172_800_200n,
        0n,
        now - 300n,
        now,
      ]);
    });
  });

  describe("getRoundData", function () {
    it("returns the latest round for the latest round id", async function () {
      const { feed } = await loadFixture(reportedFixture);
      expect(await feed.getRoundData(172_800_123n)).to.deep.equal(await feed.latestRoundData());
    });

    it("reverts HealthFeedRoundNotAvailable for an older or a future round", async function () {
      const { oracle, feed } = await loadFixture(reportedFixture);
      await oracle.setStatus(ENDPOINT, Status.HEALTHY, 9_000); // the mock's next round: 172_800_124
      for (const id of [172_800_123n, 0n, 172_800_125n, 2n ** 80n - 1n]) {
        await expect(feed.getRoundData(id))
          .to.be.revertedWithCustomError(feed, "HealthFeedRoundNotAvailable")
          .withArgs(id, 172_800_124n);
      }
      expect((await feed.getRoundData(172_800_124n)).answer).to.equal(9_000n);
    });
  });
});
