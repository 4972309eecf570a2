/**
 * HealthOracle v2 status machine: the stories of an endpoint's life (hysteresis from the attestors' own signed
 * streaks), the heartbeat counted from observation time, `since`, the stored order statistics, per-endpoint
 * policies, and idempotent relaying.
 */
import { expect } from "chai";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { AttestorPanel, bad, good, mid, pick, signRound, submitArgs } from "../../helpers/attest";
import {
  DEGRADED,
  DOWN,
  EP1,
  EP2,
  HEALTHY,
  POLICY,
  UNKNOWN,
  health,
  honestRound,
  nextSlot,
  oracleFixture,
  submitAt,
  submitRound,
  type Fx,
} from "./fixture";

/** Drive EP1 to HEALTHY with two GOOD rounds of every attestor. */
async function healthyFixture() {
  const fx = await oracleFixture();
  await honestRound(fx, [EP1], 10_000);
  await honestRound(fx, [EP1], 10_000);
  return fx;
}

/** EP1 DOWN after three BAD rounds of every attestor from HEALTHY. */
async function downFixture() {
  const fx = await healthyFixture();
  for (let i = 0; i < POLICY.fallRounds; i++) await honestRound(fx, [EP1], 0);
  return fx;
}

async function statusOf(fx: Fx, id = EP1) {
  return (await fx.oracle.statusOf(id)).status;
}

describe("HealthOracle v2: status machine", function () {
  describe("when UNKNOWN", function () {
    it("reads DEGRADED on the first round of GOOD reports and HEALTHY once a quorum's own GOOD streaks reach riseRounds", async function () {
      const fx = await loadFixture(oracleFixture);
      const first = await honestRound(fx, [EP1], 10_000);
      await expect(first.tx)
        .to.emit(fx.oracle, "StatusChanged")
        .withArgs(EP1, UNKNOWN, DEGRADED, first.blockTime);
      const second = await honestRound(fx, [EP1], 10_000);
      await expect(second.tx)
        .to.emit(fx.oracle, "StatusChanged")
        .withArgs(EP1, DEGRADED, HEALTHY, second.blockTime);
      expect(await health(fx.oracle, EP1)).to.include({
        status: HEALTHY,
        since: second.blockTime,
        round: second.round,
      });
    });

    it("goes HEALTHY at once when the first relayed round already carries streaks of riseRounds", async function () {
      const fx = await loadFixture(oracleFixture);
      const { tx, blockTime } = await submitRound(fx, [EP1], good(POLICY.riseRounds));
      await expect(tx).to.emit(fx.oracle, "StatusChanged").withArgs(EP1, UNKNOWN, HEALTHY, blockTime);
    });

    it("stays UNKNOWN on BAD reports (never better than silence) and reads DOWN once a quorum's BAD streaks reach fallRounds", async function () {
      const fx = await loadFixture(oracleFixture);
      for (let i = 1; i < POLICY.fallRounds; i++) {
        const { tx } = await honestRound(fx, [EP1], 0);
        await expect(tx).to.not.emit(fx.oracle, "StatusChanged");
        expect(await health(fx.oracle, EP1)).to.include({ status: UNKNOWN, since: 0n });
      }
      const last = await honestRound(fx, [EP1], 0);
      await expect(last.tx).to.emit(fx.oracle, "StatusChanged").withArgs(EP1, UNKNOWN, DOWN, last.blockTime);
    });
  });

  describe("when HEALTHY", function () {
    it("degrades on the first BAD round and goes DOWN only when a quorum of signers' own streaks reach fallRounds", async function () {
      const fx = await loadFixture(healthyFixture);
      const r1 = await honestRound(fx, [EP1], 0);
      await expect(r1.tx).to.emit(fx.oracle, "StatusChanged").withArgs(EP1, HEALTHY, DEGRADED, r1.blockTime);
      // Attestor 3 misses the second BAD round (a restart): its own streak starts again.
      const r2 = await honestRound(fx, [EP1], 0, [0, 1, 2]);
      await expect(r2.tx).to.not.emit(fx.oracle, "StatusChanged");
      const slot = await nextSlot();
      const r3 = await fx.panel.sign(fx.oracle, {
        endpointIds: [EP1],
        observedAt: slot.observedAt,
        health: 0,
      });
      // Streaks 3, 3, 3, 1: the relayer picks {0, 1, 3}, two signers at fallRounds: no quorum, no DOWN.
      const [a0, a1, a2, a3] = fx.attestors.map((a) => a.address);
      await expect(submitAt(fx.oracle, r3, slot.blockTime, pick(r3, [a0, a1, a3]).reports)).to.not.emit(
        fx.oracle,
        "StatusChanged",
      );
      expect(await statusOf(fx)).to.equal(DEGRADED);
      // The whole round has three signers at fallRounds: DOWN, in the same round.
      const full = await submitAt(fx.oracle, r3, slot.blockTime + 1n, pick(r3, [a0, a1, a2, a3]).reports);
      await expect(full)
        .to.emit(fx.oracle, "StatusChanged")
        .withArgs(EP1, DEGRADED, DOWN, slot.blockTime + 1n);
    });

    it("degrades on a quorum of MID reports and keeps `since` with no event while it stays HEALTHY", async function () {
      const fx = await loadFixture(healthyFixture);
      const since = (await health(fx.oracle, EP1)).since;
      const steady = await honestRound(fx, [EP1], 9_000);
      await expect(steady.tx).to.not.emit(fx.oracle, "StatusChanged");
      expect(await health(fx.oracle, EP1)).to.include({ status: HEALTHY, since, round: steady.round });
      const { tx, blockTime } = await honestRound(fx, [EP1], 6_000);
      await expect(tx).to.emit(fx.oracle, "StatusChanged").withArgs(EP1, HEALTHY, DEGRADED, blockTime);
    });
  });

  describe("when DOWN", function () {
    it("stays DOWN through MID rounds and GOOD rounds short of riseRounds, and recovers straight to HEALTHY", async function () {
      const fx = await loadFixture(downFixture);
      const since = (await health(fx.oracle, EP1)).since;
      for (const bps of [6_000, 6_000, 10_000]) {
        const { tx } = await honestRound(fx, [EP1], bps);
        await expect(tx).to.not.emit(fx.oracle, "StatusChanged");
        expect(await health(fx.oracle, EP1)).to.include({ status: DOWN, since });
      }
      const { tx, blockTime } = await honestRound(fx, [EP1], 10_000);
      await expect(tx).to.emit(fx.oracle, "StatusChanged").withArgs(EP1, DOWN, HEALTHY, blockTime);
      expect((await health(fx.oracle, EP1)).since).to.equal(blockTime);
    });
  });

  describe("heartbeat (60 s from the quorum's observation time)", function () {
    it("reads UNKNOWN at observedAt + heartbeat for a round relayed 50 s after it was observed, not at inclusion + heartbeat", async function () {
      const fx = await loadFixture(oracleFixture);
      const slot = await nextSlot();
      const r = await signRound(fx.oracle, fx.attestors.slice(0, 3), {
        endpointIds: [EP1],
        values: good(2),
        observedAt: slot.observedAt,
      });
      const included = slot.observedAt + 50n;
      await expect(submitAt(fx.oracle, r, included))
        .to.emit(fx.oracle, "StatusChanged")
        .withArgs(EP1, UNKNOWN, HEALTHY, included);
      expect(await health(fx.oracle, EP1)).to.include({
        status: HEALTHY,
        since: included,
        updatedAt: slot.observedAt,
      });
      await time.increaseTo(slot.observedAt + BigInt(POLICY.heartbeat) - 1n);
      expect(await statusOf(fx)).to.equal(HEALTHY);
      await time.increaseTo(slot.observedAt + BigInt(POLICY.heartbeat));
      expect(await health(fx.oracle, EP1)).to.include({
        status: UNKNOWN,
        since: slot.observedAt + BigInt(POLICY.heartbeat),
      });
    });

    it("after a lapse, keeps UNKNOWN since the lapse through BAD rounds, with no event, until fresh evidence", async function () {
      const fx = await loadFixture(healthyFixture);
      const lapse = (await health(fx.oracle, EP1)).updatedAt + BigInt(POLICY.heartbeat);
      await time.increaseTo(lapse + 100n);
      const r1 = await honestRound(fx, [EP1], 0);
      await expect(r1.tx).to.not.emit(fx.oracle, "StatusChanged");
      expect(await health(fx.oracle, EP1)).to.include({ status: UNKNOWN, since: lapse });
      const r2 = await honestRound(fx, [EP1], 10_000);
      await expect(r2.tx).to.emit(fx.oracle, "StatusChanged").withArgs(EP1, UNKNOWN, DEGRADED, r2.blockTime);
    });

    it("keeps `since` zero for an endpoint UNKNOWN since its first round, across lapses", async function () {
      const fx = await loadFixture(oracleFixture);
      await honestRound(fx, [EP1], 0);
      await time.increase(POLICY.heartbeat * 3);
      expect(await health(fx.oracle, EP1)).to.include({ status: UNKNOWN, since: 0n });
    });

    it("uses each endpoint's own heartbeat", async function () {
      const fx = await loadFixture(oracleFixture);
      await fx.oracle.setEndpointPolicy(EP2, { ...POLICY, heartbeat: 20 });
      const { observedAt } = await submitRound(fx, [EP1, EP2], good(2));
      await time.increaseTo(observedAt + 20n);
      expect(await statusOf(fx, EP1)).to.equal(HEALTHY);
      expect(await statusOf(fx, EP2)).to.equal(UNKNOWN);
    });
  });

  describe("stored values", function () {
    it("stores the lower median, the quorum-th highest (floor) and the quorum-th lowest (ceiling) of 4 reports", async function () {
      const fx = await loadFixture(oracleFixture);
      await submitRound(fx, [EP1], [1000, 9000, 4000, 7000].map(mid), fx.attestors);
      expect(await health(fx.oracle, EP1)).to.include({
        healthBps: 4000n,
        floorBps: 4000n,
        ceilingBps: 7000n,
      });
    });

    it("stores floor = lowest and ceiling = highest of exactly a quorum of reports", async function () {
      const fx = await loadFixture(oracleFixture);
      await submitRound(fx, [EP1], [9000, 1000, 4000].map(mid));
      expect(await health(fx.oracle, EP1)).to.include({
        healthBps: 4000n,
        floorBps: 1000n,
        ceilingBps: 9000n,
      });
    });

    it("stores the earliest of the reports' observedAt as updatedAt (the oldest evidence of the round)", async function () {
      const fx = await loadFixture(oracleFixture);
      const slot = await nextSlot(0n, 9n);
      const r = await signRound(fx.oracle, fx.attestors, {
        endpointIds: [EP1],
        values: 9000,
        observedAt: [slot.start + 8n, slot.start, slot.start + 2n, slot.start + 5n],
      });
      await expect(submitAt(fx.oracle, r, slot.blockTime))
        .to.emit(fx.oracle, "ReportAccepted")
        .withArgs(slot.round, slot.start, 0b1111, 1, 0);
      expect((await health(fx.oracle, EP1)).updatedAt).to.equal(slot.start);
    });
  });

  describe("per-endpoint policy", function () {
    it("judges each endpoint of one submission by its own policy, with attestors counting streaks by it", async function () {
      const fx = await loadFixture(oracleFixture);
      const own = {
        downBelowBps: 9000,
        upAtBps: 9500,
        fallRounds: 1,
        riseRounds: 1,
        heartbeat: 60,
        maxAge: 90,
      };
      await fx.oracle.setEndpointPolicy(EP2, own);
      const panel = new AttestorPanel(fx.attestors, (id) => (id === EP2 ? own : POLICY));
      const round = async () => {
        const slot = await nextSlot();
        const r = await panel.sign(fx.oracle, {
          endpointIds: [EP1, EP2],
          observedAt: slot.observedAt,
          health: 8500,
        });
        return submitAt(fx.oracle, r, slot.blockTime);
      };
      const first = await round();
      await expect(first)
        .to.emit(fx.oracle, "StatusChanged")
        .withArgs(EP1, UNKNOWN, DEGRADED, (await first.getBlock())!.timestamp);
      await expect(first)
        .to.emit(fx.oracle, "StatusChanged")
        .withArgs(EP2, UNKNOWN, DOWN, (await first.getBlock())!.timestamp);
      await round();
      expect(await statusOf(fx, EP1)).to.equal(HEALTHY);
      expect(await statusOf(fx, EP2)).to.equal(DOWN);
    });
  });

  describe("idempotent relaying", function () {
    it("skips the same round again: returns (0, 1), emits ReportAccepted(…, 0, 1) and changes nothing", async function () {
      const fx = await loadFixture(oracleFixture);
      const { r, round, observedAt, blockTime } = await submitRound(fx, [EP1], good(1));
      const before = await health(fx.oracle, EP1);
      expect(await fx.oracle.submit.staticCall(...submitArgs(r))).to.deep.equal([0n, 1n]);
      const again = await submitAt(fx.oracle, r, blockTime + 2n);
      await expect(again).to.emit(fx.oracle, "ReportAccepted").withArgs(round, observedAt, 0b0111, 0, 1);
      await expect(again).to.not.emit(fx.oracle, "StatusChanged");
      expect(await health(fx.oracle, EP1)).to.deep.equal(before);
    });

    it("skips an endpoint whose stored round is newer and still updates the others of the submission", async function () {
      const fx = await loadFixture(oracleFixture);
      const old = await signRound(fx.oracle, fx.attestors.slice(0, 3), {
        endpointIds: [EP1, EP2],
        values: good(1),
        observedAt: (await nextSlot()).observedAt,
      });
      await submitRound(fx, [EP1], good(1)); // EP1 at a newer round than `old`
      const ep1 = await health(fx.oracle, EP1);
      const blockTime = BigInt(await time.latest()) + 1n;
      await time.setNextBlockTimestamp(blockTime);
      expect(await fx.oracle.submit.staticCall(...submitArgs(old))).to.deep.equal([1n, 1n]);
      const tx = await submitAt(fx.oracle, old, blockTime);
      await expect(tx)
        .to.emit(fx.oracle, "ReportAccepted")
        .withArgs(old.round, old.reports[0].observedAt, 0b0111, 1, 1);
      expect(await health(fx.oracle, EP1)).to.deep.equal(ep1);
      expect((await health(fx.oracle, EP2)).round).to.equal(old.round);
    });

    it("applies the stored round again when it changes the status, then skips it", async function () {
      const fx = await loadFixture(oracleFixture);
      const slot = await nextSlot();
      // Attestor 2 sees the endpoint BAD, the others GOOD.
      const r = await signRound(fx.oracle, fx.attestors, {
        endpointIds: [EP1],
        values: [good(1), good(1), bad(1), good(1)],
        observedAt: slot.observedAt,
      });
      const [a0, a1, a2, a3] = fx.attestors.map((a) => a.address);
      const subset = await submitAt(fx.oracle, r, slot.blockTime, pick(r, [a0, a1, a2]).reports);
      await expect(subset)
        .to.emit(fx.oracle, "ReportAccepted")
        .withArgs(slot.round, slot.observedAt, 0b0111, 1, 0);
      await expect(subset).to.not.emit(fx.oracle, "StatusChanged");
      const full = await submitAt(fx.oracle, r, slot.blockTime + 1n);
      await expect(full)
        .to.emit(fx.oracle, "ReportAccepted")
        .withArgs(slot.round, slot.observedAt, 0b1111, 1, 0);
      await expect(full)
        .to.emit(fx.oracle, "StatusChanged")
        .withArgs(EP1, UNKNOWN, DEGRADED, slot.blockTime + 1n);
      const again = await submitAt(fx.oracle, r, slot.blockTime + 2n, pick(r, [a0, a1, a3]).reports);
      await expect(again)
        .to.emit(fx.oracle, "ReportAccepted")
        .withArgs(slot.round, slot.observedAt, 0b1011, 0, 1);
    });
  });
});
