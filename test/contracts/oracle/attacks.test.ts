/**
 * The attacks of issue 8, as an adversarial relayer would try them against HealthOracle v2. Each failed on v1
 * (see the commit that added this file for why); each must fail here.
 */
import { expect } from "chai";
import { ethers, network } from "hardhat";
import { loadFixture, takeSnapshot, time } from "@nomicfoundation/hardhat-network-helpers";
import { bad, pick, signReport, sortReports, submitArgs, valuesFor } from "../../helpers/attest";
import {
  DEGRADED,
  DOWN,
  EP1,
  HEALTHY,
  POLICY,
  ROUND_SECONDS,
  UNKNOWN,
  health,
  honestRound,
  nextSlot,
  oracleFixture,
  submitAt,
  type Fx,
} from "./fixture";

/** A market's pause threshold: `HealthRules.isUsable` needs `ceilingBps >= PAUSE_BELOW_BPS`. */
const PAUSE_BELOW_BPS = 5000n;

/** EP1 HEALTHY after two GOOD rounds of every honest attestor. */
async function healthyFixture() {
  const fx = await oracleFixture();
  await honestRound(fx, [EP1], 10_000);
  await honestRound(fx, [EP1], 10_000);
  return fx;
}

/**
 * Every attestor judges `count` consecutive rounds from the next slot on (`health` per attestor) and signs its
 * report of each; nothing is relayed and no block is mined, so the test relays whichever rounds it wants, at
 * each round's `blockTime` or later.
 */
async function signRounds(fx: Fx, count: number, health: number | ((s: number) => number)) {
  const first = await nextSlot();
  const out = [];
  for (let k = 0n; k < BigInt(count); k++) {
    const start = first.start + k * ROUND_SECONDS;
    const slot = { start, observedAt: start + 1n, blockTime: start + 3n, round: first.round + k };
    const r = await fx.panel.sign(fx.oracle, {
      endpointIds: [EP1],
      observedAt: slot.observedAt,
      health: typeof health === "number" ? health : (s) => health(s),
    });
    out.push({ r, ...slot });
  }
  return out;
}

async function signNext(fx: Fx, health: number | ((s: number) => number)) {
  return (await signRounds(fx, 1, health))[0];
}

/** Every subset of at least `quorum` of `items`. */
function subsets<T>(items: readonly T[], quorum: number): T[][] {
  const out: T[][] = [];
  for (let mask = 1; mask < 1 << items.length; mask++) {
    const s = items.filter((_, i) => mask & (1 << i));
    if (s.length >= quorum) out.push(s);
  }
  return out;
}

describe("HealthOracle v2: attacks from issue 8", function () {
  describe("(1) a relayer that chooses rounds cannot keep a dead endpoint from DOWN", function () {
    it("relaying only every other round: DOWN at the first relayed round in which a quorum's own BAD streaks reach fallRounds", async function () {
      const fx = await loadFixture(healthyFixture);
      const [d0, , d2] = await signRounds(fx, 3, 0); // d1 is signed by every attestor, withheld by the relayer
      await expect(submitAt(fx.oracle, d0.r, d0.blockTime))
        .to.emit(fx.oracle, "StatusChanged")
        .withArgs(EP1, HEALTHY, DEGRADED, d0.blockTime);
      await expect(submitAt(fx.oracle, d2.r, d2.blockTime))
        .to.emit(fx.oracle, "StatusChanged")
        .withArgs(EP1, DEGRADED, DOWN, d2.blockTime);
    });

    it("withholding every round after the first: one honest transaction with the full latest round makes it DOWN", async function () {
      const fx = await loadFixture(healthyFixture);
      const signed = await signRounds(fx, 6, 0); // d1..d4 withheld
      const [d0, latest] = [signed[0], signed[5]];
      await submitAt(fx.oracle, d0.r, d0.blockTime);
      await expect(submitAt(fx.oracle, latest.r, latest.blockTime))
        .to.emit(fx.oracle, "StatusChanged")
        .withArgs(EP1, DEGRADED, DOWN, latest.blockTime);
    });

    it("losing a race: an older round mined after a newer one is skipped (no revert) and DOWN holds", async function () {
      const fx = await loadFixture(healthyFixture);
      const rounds = await signRounds(fx, POLICY.fallRounds, 0);
      const last = rounds[rounds.length - 1];
      await expect(submitAt(fx.oracle, last.r, last.blockTime))
        .to.emit(fx.oracle, "StatusChanged")
        .withArgs(EP1, HEALTHY, DOWN, last.blockTime);
      const late = rounds[rounds.length - 2];
      const tx = await submitAt(fx.oracle, late.r, last.blockTime + 1n);
      await expect(tx)
        .to.emit(fx.oracle, "ReportAccepted")
        .withArgs(late.round, late.observedAt, 0b1111, 0, 1);
      await expect(tx).to.not.emit(fx.oracle, "StatusChanged");
      expect((await health(fx.oracle, EP1)).status).to.equal(DOWN);
    });

    it("front-running the honest relayer in the same block with a subset that hides the quorum: the honest full round still lands DOWN", async function () {
      const fx = await loadFixture(healthyFixture);
      // Attestor 3 lies (10,000 bps, GOOD streak 255); 0, 1 and 2 see the endpoint dead.
      const liar = 3;
      const lying = (s: number) => (s === liar ? 10_000 : 0);
      const [d0, , d2] = await signRounds(fx, 3, lying);
      await submitAt(fx.oracle, d0.r, d0.blockTime);
      expect((await health(fx.oracle, EP1)).status).to.equal(DEGRADED);
      const [a0, a1, , a3] = fx.attestors.map((a) => a.address);
      const [adversary, honest] = (await ethers.getSigners()).slice(2, 4);
      await network.provider.send("evm_setAutomine", [false]);
      try {
        await time.setNextBlockTimestamp(d2.blockTime);
        const front = await fx.oracle.connect(adversary).submit(...submitArgs(pick(d2.r, [a0, a1, a3])), {
          gasLimit: 1_000_000,
          maxPriorityFeePerGas: ethers.parseUnits("50", "gwei"),
          maxFeePerGas: ethers.parseUnits("100", "gwei"),
        });
        const full = await fx.oracle.connect(honest).submit(...submitArgs(d2.r), {
          gasLimit: 1_000_000,
          maxPriorityFeePerGas: 1n,
          maxFeePerGas: ethers.parseUnits("100", "gwei"),
        });
        await network.provider.send("evm_mine", []);
        const [rf, rh] = [(await front.wait())!, (await full.wait())!];
        expect(rf.blockNumber).to.equal(rh.blockNumber);
        expect(rf.index).to.be.lessThan(rh.index);
        await expect(front)
          .to.emit(fx.oracle, "ReportAccepted")
          .withArgs(d2.round, d2.observedAt, 0b1011, 1, 0);
        await expect(front).to.not.emit(fx.oracle, "StatusChanged");
        await expect(full).to.emit(fx.oracle, "StatusChanged").withArgs(EP1, DEGRADED, DOWN, d2.blockTime);
      } finally {
        await network.provider.send("evm_setAutomine", [true]);
      }
      expect((await health(fx.oracle, EP1)).status).to.equal(DOWN);
    });
  });

  describe("(2) a relayer choosing signers cannot bias the verdict", function () {
    it("4 attestors, quorum 3, one liar at 0 bps + one honest with a broken path at 0 bps: the subset {liar, broken, good} makes it neither DOWN nor unusable", async function () {
      const fx = await loadFixture(healthyFixture);
      const [liar, broken, good] = [0, 1, 2];
      const addr = fx.attestors.map((a) => a.address);
      for (let i = 0; i < POLICY.fallRounds + 2; i++) {
        // The liar claims a saturated BAD streak; the broken honest attestor's own streak grows honestly.
        const { r, blockTime } = await signNext(fx, (s) => (s === liar || s === broken ? 0 : 10_000));
        const honest = r.reports.find((x) => x.attestor === addr[liar])!;
        const lie = await signReport(fx.oracle, fx.attestors[liar], {
          ...honest,
          values: valuesFor([bad(255)]),
        });
        const chosen = sortReports([lie, ...pick(r, [addr[broken], addr[good]]).reports]);
        const tx = await submitAt(fx.oracle, r, blockTime, chosen);
        await expect(tx).to.not.emit(fx.oracle, "StatusChanged");
        const h = await health(fx.oracle, EP1);
        expect(h.status).to.equal(HEALTHY);
        expect(h.healthBps).to.equal(0n); // the median a v1 relayer chose: display only
        expect(h.ceilingBps).to.equal(10_000n);
        expect(h.ceilingBps >= PAUSE_BELOW_BPS).to.equal(true);
      }
    });

    it("no subset of at least quorum signers of {liar, broken, good, good} yields DOWN or a ceiling under the pause threshold", async function () {
      const fx = await loadFixture(healthyFixture);
      const addr = fx.attestors.map((a) => a.address);
      const signed = await signRounds(fx, POLICY.fallRounds + 1, (s) => (s < 2 ? 0 : 10_000)); // streaks build up
      const { r, blockTime } = signed[signed.length - 1];
      for (const who of subsets(addr, 3)) {
        const snapshot = await takeSnapshot();
        await submitAt(fx.oracle, r, blockTime, pick(r, who).reports);
        const h = await health(fx.oracle, EP1);
        expect(h.status, `signers ${who.join(",")}`).to.equal(HEALTHY);
        expect(h.ceilingBps >= PAUSE_BELOW_BPS, `signers ${who.join(",")}`).to.equal(true);
        await snapshot.restore();
      }
    });

    for (const [start, setup] of [
      ["HEALTHY", async (_fx: Fx) => undefined],
      ["DEGRADED", async (fx: Fx) => void (await honestRound(fx, [EP1], 6_000))],
    ] as const) {
      it(`a 2-2 honest split from ${start} cannot be decided by the relayer: every subset gives the same status, floor and ceiling`, async function () {
        const fx = await loadFixture(healthyFixture);
        await setup(fx);
        const addr = fx.attestors.map((a) => a.address);
        const split = (s: number) => (s % 2 === 0 ? 10_000 : 0);
        const signed = await signRounds(fx, POLICY.fallRounds + 1, split);
        const { r: last, blockTime } = signed[signed.length - 1];
        const verdicts = new Set<string>();
        for (const who of subsets(addr, 3)) {
          const snapshot = await takeSnapshot();
          await submitAt(fx.oracle, last, blockTime, pick(last, who).reports);
          const h = await health(fx.oracle, EP1);
          verdicts.add(`${h.status}/${h.floorBps}/${h.ceilingBps}`);
          await snapshot.restore();
        }
        expect([...verdicts]).to.deep.equal([`${start === "HEALTHY" ? HEALTHY : DEGRADED}/0/10000`]);
      });
    }
  });

  describe("(3) withholding cannot extend liveness", function () {
    it("a report observed 59 s ago and relayed now keeps the endpoint alive only until observedAt + heartbeat", async function () {
      const fx = await loadFixture(healthyFixture);
      const withheld = await signNext(fx, 10_000);
      const relayedAt = withheld.observedAt + BigInt(POLICY.heartbeat) - 1n;
      await expect(submitAt(fx.oracle, withheld.r, relayedAt))
        .to.emit(fx.oracle, "ReportAccepted")
        .withArgs(withheld.round, withheld.observedAt, 0b1111, 1, 0);
      expect(await health(fx.oracle, EP1)).to.include({ status: HEALTHY, updatedAt: withheld.observedAt });
      await time.increaseTo(withheld.observedAt + BigInt(POLICY.heartbeat));
      expect(await health(fx.oracle, EP1)).to.include({
        status: UNKNOWN,
        since: withheld.observedAt + BigInt(POLICY.heartbeat),
      });
    });

    it("a withheld report older than the stored round cannot refresh it, and one older than maxAge is refused", async function () {
      const fx = await loadFixture(healthyFixture);
      const [older, newer] = await signRounds(fx, 2, 10_000);
      await submitAt(fx.oracle, newer.r, newer.blockTime);
      const stored = await health(fx.oracle, EP1);
      await expect(submitAt(fx.oracle, older.r, newer.blockTime + 1n))
        .to.emit(fx.oracle, "ReportAccepted")
        .withArgs(older.round, older.observedAt, 0b1111, 0, 1);
      expect(await health(fx.oracle, EP1)).to.deep.equal(stored);
      const withheld = await signNext(fx, 10_000);
      await time.setNextBlockTimestamp(withheld.observedAt + BigInt(POLICY.maxAge) + 1n);
      await expect(fx.oracle.submit(...submitArgs(withheld.r)))
        .to.be.revertedWithCustomError(fx.oracle, "HealthOracleStaleObservation")
        .withArgs(EP1, withheld.observedAt, POLICY.maxAge);
    });
  });
});
