import { expect } from "chai";
import fc from "fast-check";
import { judgeRound, type StreakState } from "../../keepers/attestor/streaks";

const POLICY = { downBelowBps: 5_000, upAtBps: 8_000 };
const BAD = 0;
const MID = 6_000;
const GOOD = 10_000;

/** Judge `series` (one health value per round, `undefined` = a round not judged) from round `first`. */
function run(series: Array<number | undefined>, first = 100): StreakState | undefined {
  let s: StreakState | undefined;
  series.forEach((h, i) => {
    if (h !== undefined) s = judgeRound(s, first + i, h, POLICY);
  });
  return s;
}

describe("attestor streaks", function () {
  it("counts consecutive BAD rounds, this one included, and resets GOOD", function () {
    expect(run([BAD, BAD, BAD])).to.include({ round: 102, badRounds: 3, goodRounds: 0 });
  });

  it("counts consecutive GOOD rounds and resets BAD", function () {
    expect(run([BAD, BAD, GOOD, GOOD])).to.include({ badRounds: 0, goodRounds: 2 });
  });

  it("resets both on a MID round (between downBelowBps and upAtBps)", function () {
    expect(run([GOOD, GOOD, MID])).to.include({ badRounds: 0, goodRounds: 0 });
    expect(run([BAD, MID, BAD])).to.include({ badRounds: 1, goodRounds: 0 });
  });

  it("restarts from one after a round the attestor did not judge", function () {
    expect(run([BAD, BAD, undefined, BAD])).to.include({ round: 103, badRounds: 1 });
    expect(run([GOOD, GOOD, GOOD, undefined, undefined, GOOD])).to.include({ goodRounds: 1 });
  });

  it("starts from one for an endpoint never judged (a restart forgets the streaks)", function () {
    expect(judgeRound(undefined, 7, BAD, POLICY)).to.include({ round: 7, badRounds: 1, goodRounds: 0 });
  });

  it("restarts when the endpoint's thresholds changed", function () {
    const before = run([BAD, BAD])!;
    expect(judgeRound(before, 102, BAD, { downBelowBps: 6_000, upAtBps: 9_000 })).to.include({
      badRounds: 1,
    });
    expect(judgeRound(before, 102, BAD, POLICY)).to.include({ badRounds: 3 });
  });

  it("judges the same round again (new config digest) from the streaks before it, not on top of itself", function () {
    const once = run([BAD, BAD, BAD])!;
    const again = judgeRound(once, 102, BAD, POLICY);
    expect(again).to.include({ round: 102, badRounds: 3 });
    expect(judgeRound(once, 102, GOOD, POLICY)).to.include({ badRounds: 0, goodRounds: 1 });
    expect(judgeRound(again, 103, BAD, POLICY)).to.include({ badRounds: 4 });
  });

  it("does not count a round before the last one as consecutive (clock stepped back)", function () {
    const s = run([BAD, BAD])!;
    expect(judgeRound(s, 90, BAD, POLICY)).to.include({ round: 90, badRounds: 1 });
  });

  it("saturates at 255", function () {
    expect(run(Array(300).fill(BAD))).to.include({ badRounds: 255 });
    expect(run(Array(300).fill(GOOD))).to.include({ goodRounds: 255 });
  });

  it("equals the run of trailing same-class judged rounds with no gap, for any series", function () {
    const health = fc.oneof(fc.constant(undefined), fc.integer({ min: 0, max: 10_000 }));
    fc.assert(
      fc.property(fc.array(health, { minLength: 1, maxLength: 60 }), (series) => {
        const s = run(series);
        const lastJudged = series.map((h) => h !== undefined).lastIndexOf(true);
        if (lastJudged < 0) {
          expect(s).to.equal(undefined);
          return;
        }
        const cls = (h: number) => (h < POLICY.downBelowBps ? "BAD" : h >= POLICY.upAtBps ? "GOOD" : "MID");
        const want = cls(series[lastJudged]!);
        let count = 0;
        for (let i = lastJudged; i >= 0; i--) {
          const h = series[i];
          if (h === undefined || cls(h) !== want) break;
          count++;
        }
        expect(s!.badRounds).to.equal(want === "BAD" ? Math.min(255, count) : 0);
        expect(s!.goodRounds).to.equal(want === "GOOD" ? Math.min(255, count) : 0);
      }),
      { numRuns: 500, seed: 8 },
    );
  });
});
