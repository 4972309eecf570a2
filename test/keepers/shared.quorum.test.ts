/**
 * keepers/shared/quorum.ts, the TS mirror of the on-chain tally and status machine: examples, the attestor's
 * streak counting, and a property run against the deployed HealthOracle: for random attestor sets, quorums,
 * signer subsets, policies and values, `tally` + `nextStatus` predict exactly what `submit` stores.
 */
import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import fc from "fast-check";
import { Status } from "../../keepers/shared/health";
import { classify, nextStatus, nextStreaks, tally, type TallyPolicy } from "../../keepers/shared/quorum";
import type { EndpointValue } from "../../keepers/shared/report";
import { attestorWallets, endpointIdOf, signRound, sortSigners, submitArgs } from "../helpers/attest";
import type { HealthOracle } from "../../typechain-types";

const POLICY: TallyPolicy = { downBelowBps: 5000, upAtBps: 8000, fallRounds: 3, riseRounds: 2 };
const ROUND_SECONDS = 10n;
const v = (healthBps: number, badRounds = 0, goodRounds = 0): EndpointValue => ({
  healthBps,
  badRounds,
  goodRounds,
});

async function oracleFixture() {
  const [owner] = await ethers.getSigners();
  const oracle = (await ethers.deployContract("HealthOracle", [
    owner.address,
    ROUND_SECONDS,
    5,
    100_000,
    { ...POLICY, heartbeat: 3600, maxAge: 3600 },
  ])) as unknown as HealthOracle;
  return { oracle, wallets: await sortSigners(attestorWallets(7, "quorum-model")) };
}

/** Valid quorums for n attestors: `max(2f+1, n/2+1)..n`, f = (n-1)/3. */
function quorums(n: number): number[] {
  const min = Math.max(2 * Math.floor((n - 1) / 3) + 1, Math.floor(n / 2) + 1);
  return Array.from({ length: n - min + 1 }, (_, i) => min + i);
}

const policyArb: fc.Arbitrary<TallyPolicy> = fc
  .tuple(
    fc.uniqueArray(fc.integer({ min: 1, max: 10_000 }), { minLength: 2, maxLength: 2 }),
    fc.integer({ min: 1, max: 255 }),
    fc.integer({ min: 1, max: 255 }),
  )
  .map(([[a, b], fallRounds, riseRounds]) => ({
    downBelowBps: Math.min(a, b),
    upAtBps: Math.max(a, b),
    fallRounds,
    riseRounds,
  }));

/** A value near the policy's edges more often than not. */
function valueArb(p: TallyPolicy): fc.Arbitrary<EndpointValue> {
  const bps = fc.oneof(
    fc.constantFrom(0, p.downBelowBps - 1, p.downBelowBps, p.upAtBps - 1, p.upAtBps, 10_000),
    fc.integer({ min: 0, max: 10_000 }),
  );
  const streak = (edge: number) =>
    fc.oneof(fc.constantFrom(0, edge - 1, edge, 255), fc.integer({ min: 0, max: 255 }));
  return fc.record({ healthBps: bps, badRounds: streak(p.fallRounds), goodRounds: streak(p.riseRounds) });
}

interface Case {
  n: number;
  quorum: number;
  /** Indices of the signers, ascending, at least `quorum`. */
  signers: number[];
  policies: TallyPolicy[];
  /** rounds[round][signer][endpoint] */
  rounds: EndpointValue[][][];
}

const caseArb: fc.Arbitrary<Case> = fc
  .integer({ min: 1, max: 7 })
  .chain((n) =>
    fc.record({
      n: fc.constant(n),
      quorum: fc.constantFrom(...quorums(n)),
      endpoints: fc.integer({ min: 1, max: 3 }),
    }),
  )
  .chain(({ n, quorum, endpoints }) =>
    fc
      .record({
        signers: fc.subarray(
          Array.from({ length: n }, (_, i) => i),
          { minLength: quorum },
        ),
        policies: fc.array(policyArb, { minLength: endpoints, maxLength: endpoints }),
      })
      .chain(({ signers, policies }) =>
        fc.record({
          n: fc.constant(n),
          quorum: fc.constant(quorum),
          signers: fc.constant(signers),
          policies: fc.constant(policies),
          rounds: fc.array(
            fc.array(fc.tuple(...policies.map(valueArb)), {
              minLength: signers.length,
              maxLength: signers.length,
            }),
            { minLength: 2, maxLength: 2 },
          ),
        }),
      ),
  );

describe("keepers/shared/quorum", function () {
  describe("tally", function () {
    it("counts votes by class and own streak, and takes the lower median, the quorum-th highest and lowest", function () {
      const t = tally([v(0, 3), v(0, 2), v(6000), v(9000, 0, 2), v(10_000, 0, 1)], POLICY, 3);
      expect(t.votes).to.deep.equal({ bad: 1, good: 1, notGood: 3, notBad: 3 });
      expect([t.healthBps, t.floorBps, t.ceilingBps]).to.deep.equal([6000, 6000, 6000]);
      const four = tally([v(1000), v(9000), v(4000), v(7000)], POLICY, 3);
      expect([four.healthBps, four.floorBps, four.ceilingBps]).to.deep.equal([4000, 4000, 7000]);
    });

    it("throws a RangeError with fewer values than the quorum or a quorum below 1", function () {
      expect(() => tally([v(1), v(2)], POLICY, 3)).to.throw(RangeError);
      expect(() => tally([v(1)], POLICY, 0)).to.throw(RangeError);
    });
  });

  describe("nextStatus", function () {
    const votes = (bad: number, good: number, notGood: number, notBad: number) => ({
      bad,
      good,
      notGood,
      notBad,
    });
    it("goes DOWN on a quorum of bad votes before anything else, then HEALTHY on a quorum of good", function () {
      expect(nextStatus(Status.HEALTHY, votes(3, 3, 3, 3), 3)).to.equal(Status.DOWN);
      expect(nextStatus(Status.DOWN, votes(2, 3, 2, 3), 3)).to.equal(Status.HEALTHY);
    });
    it("degrades HEALTHY on notGood and UNKNOWN on notBad, and keeps DOWN and DEGRADED otherwise", function () {
      expect(nextStatus(Status.HEALTHY, votes(0, 0, 3, 0), 3)).to.equal(Status.DEGRADED);
      expect(nextStatus(Status.UNKNOWN, votes(0, 0, 3, 0), 3)).to.equal(Status.UNKNOWN);
      expect(nextStatus(Status.UNKNOWN, votes(0, 0, 0, 3), 3)).to.equal(Status.DEGRADED);
      expect(nextStatus(Status.DOWN, votes(0, 2, 3, 3), 3)).to.equal(Status.DOWN);
      expect(nextStatus(Status.DEGRADED, votes(2, 2, 3, 3), 3)).to.equal(Status.DEGRADED);
    });
  });

  describe("classify / nextStreaks", function () {
    it("counts consecutive rounds per class, saturating at 255, and restarts after a round not judged", function () {
      expect([classify(4999, POLICY), classify(5000, POLICY), classify(8000, POLICY)]).to.deep.equal([
        "BAD",
        "MID",
        "GOOD",
      ]);
      expect(nextStreaks({ badRounds: 2, goodRounds: 0 }, 0, POLICY, true)).to.deep.equal({
        badRounds: 3,
        goodRounds: 0,
      });
      expect(nextStreaks({ badRounds: 2, goodRounds: 0 }, 0, POLICY, false)).to.deep.equal({
        badRounds: 1,
        goodRounds: 0,
      });
      expect(nextStreaks({ badRounds: 0, goodRounds: 255 }, 9000, POLICY, true)).to.deep.equal({
        badRounds: 0,
        goodRounds: 255,
      });
      expect(nextStreaks({ badRounds: 7, goodRounds: 0 }, 6000, POLICY, true)).to.deep.equal({
        badRounds: 0,
        goodRounds: 0,
      });
    });
  });

  describe("against the deployed HealthOracle", function () {
    it("tally + nextStatus predict what submit stores, for random sets, quorums, signer subsets, policies and values", async function () {
      const { oracle, wallets } = await loadFixture(oracleFixture);
      let serial = 0;
      const seen = new Set<Status>();
      await fc.assert(
        fc.asyncProperty(caseArb, async (c) => {
          const members = wallets.slice(0, c.n);
          await oracle.setAttestors(
            members.map((w) => w.address),
            c.quorum,
          );
          const ids = c.policies.map(() => endpointIdOf(`quorum-model/${serial++}`));
          for (const [e, p] of c.policies.entries())
            await oracle.setEndpointPolicy(ids[e], { ...p, heartbeat: 3600, maxAge: 3600 });
          // Endpoint ids must be submitted ascending: order the policies and values with them.
          const order = ids
            .map((id, e) => ({ id, e }))
            .sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1));
          const previous = ids.map(() => Status.UNKNOWN);
          for (const round of c.rounds) {
            const start = (BigInt(await time.latest()) / ROUND_SECONDS + 1n) * ROUND_SECONDS;
            const r = await signRound(
              oracle,
              c.signers.map((s) => members[s]),
              {
                endpointIds: order.map((o) => o.id),
                values: (s, k) => round[s][order[k].e],
                observedAt: start + 1n,
              },
            );
            await time.setNextBlockTimestamp(start + 2n);
            const tx = await oracle.submit(...submitArgs(r));
            const bitmap = c.signers.reduce((m, s) => m | (1n << BigInt(s)), 0n);
            await expect(tx)
              .to.emit(oracle, "ReportAccepted")
              .withArgs(r.round, start + 1n, bitmap, anyCount, anyCount);
            for (const [e, id] of ids.entries()) {
              const t = tally(
                round.map((row) => row[e]),
                c.policies[e],
                c.quorum,
              );
              const expected = nextStatus(previous[e], t.votes, c.quorum);
              const h = await oracle.statusOf(id);
              expect(
                [Number(h.status), Number(h.healthBps), Number(h.floorBps), Number(h.ceilingBps)],
                `endpoint ${e}, previous ${Status[previous[e]]}, votes ${JSON.stringify(t.votes)}`,
              ).to.deep.equal([expected, t.healthBps, t.floorBps, t.ceilingBps]);
              previous[e] = expected;
              seen.add(expected);
            }
          }
        }),
        { numRuns: 80, seed: 8 },
      );
      // The generator reaches every status, so the comparison covered every transition rule.
      expect([...seen].sort()).to.deep.equal([Status.UNKNOWN, Status.HEALTHY, Status.DEGRADED, Status.DOWN]);
    });
  });
});

/** chai-matchers `withArgs` predicate: any count. */
function anyCount(): boolean {
  return true;
}
