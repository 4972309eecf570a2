import { expect } from "chai";
import fc from "fast-check";
import { ClockDiscipline, CONTROL_SOURCE, voteOf, type ClockCheck } from "../../keepers/attestor/clock";

const BOUND = 7.5;
const PROBE_MS = 1_000;
const T0 = 1_700_000_000_000; // true time at the start of every simulation, ms

/** A source in a simulated world: how it answers at true time `t` (ms). */
type Behaviour =
  | { kind: "live"; blockTimeSec: number }
  | { kind: "halted"; atSec: number; number: number }
  | { kind: "future"; aheadSec: number }
  | { kind: "answers"; answer: (step: number) => { ts: number; number: number } | undefined };

interface SimSource {
  source: string;
  node?: string;
  /** The control chain answers its pending block (its clock) too. */
  pending?: boolean;
  behaviour: Behaviour;
}

/**
 * A world where true time starts at T0 and the local clock is `thetaSec` off (local = true + θ). Each step is one
 * probe interval: every source answers (latency 100 ms, answered halfway), the discipline observes, then checks.
 */
function simulate(
  clock: ClockDiscipline,
  thetaSec: number,
  sources: SimSource[],
  steps: number,
  from = 0,
): ClockCheck[] {
  const latencyMs = 100;
  const out: ClockCheck[] = [];
  for (let i = from; i < from + steps; i++) {
    const t = T0 + i * PROBE_MS;
    const local = t + thetaSec * 1000;
    const answeredSec = (t - latencyMs / 2) / 1000;
    for (const s of sources) {
      const b = s.behaviour;
      let head: { ts: number; number: number } | undefined;
      if (b.kind === "live") {
        const n = Math.floor((answeredSec - T0 / 1000) / b.blockTimeSec) + 1000;
        head = { ts: T0 / 1000 + (n - 1000) * b.blockTimeSec, number: n };
      } else if (b.kind === "halted") head = { ts: b.atSec, number: b.number };
      else if (b.kind === "future") head = { ts: Math.floor(answeredSec) + b.aheadSec, number: i };
      else head = b.answer(i);
      if (!head) continue;
      clock.observe(s.source, local, head.ts, { node: s.node, blockNumber: head.number, latencyMs });
      if (s.pending && b.kind === "live")
        clock.observeNodeClock(s.source, local, Math.floor(answeredSec), { node: s.node, latencyMs });
    }
    out.push(clock.check(local));
  }
  return out;
}

const discipline = (o: Partial<ConstructorParameters<typeof ClockDiscipline>[0]> = {}) =>
  new ClockDiscipline({ boundSec: BOUND, freshMs: 15 * PROBE_MS, ...o });

const control: SimSource = {
  source: CONTROL_SOURCE,
  pending: true,
  behaviour: { kind: "live", blockTimeSec: 2 },
};
const l2 = (b: Behaviour, node?: string): SimSource => ({ source: "chain:10", node, behaviour: b });

describe("attestor clock discipline", function () {
  describe("one sample", function () {
    it("a latest block gives an upper bound only: age can only add", function () {
      const c = discipline();
      c.observe("chain:1", T0, T0 / 1000 - 3, { blockNumber: 5 });
      const s = c.check(T0).sources[0];
      expect(s).to.include({ source: "chain:1", hiSec: 3, loSec: null, vote: "agree" });
    });

    it("a head number that rose gives a lower bound: the block was not there at the previous probe", function () {
      const c = discipline({ slackSec: 1 });
      c.observe("chain:1", T0, T0 / 1000 - 10, { blockNumber: 5, latencyMs: 200 });
      c.observe("chain:1", T0 + 5_000, T0 / 1000 + 2, { blockNumber: 6, latencyMs: 200 });
      // lo = (T0 − 200 ms) − (T0 + 2 s) − 1 s = −3.2 s; hi = min(10, 3) = 3
      expect(c.check(T0 + 5_000).sources[0]).to.include({ loSec: -3.2, hiSec: 3, vote: "agree" });
    });

    it("no lower bound from a head that stayed or went back (a reorg)", function () {
      const c = discipline();
      c.observe("chain:1", T0, T0 / 1000, { blockNumber: 5 });
      c.observe("chain:1", T0 + 1_000, T0 / 1000, { blockNumber: 5 });
      c.observe("chain:1", T0 + 2_000, T0 / 1000 + 1, { blockNumber: 4 });
      expect(c.check(T0 + 2_000).sources[0].loSec).to.equal(null);
    });

    it("the node's pending block bounds the clock on both sides", function () {
      const c = discipline();
      c.observeNodeClock(CONTROL_SOURCE, T0 + 30_000, T0 / 1000, { latencyMs: 500 });
      const s = c.check(T0 + 30_000).sources[0];
      expect(s).to.include({ hiSec: 30, loSec: 28.5, vote: "ahead" });
    });

    it("ignores non-finite samples", function () {
      const c = discipline();
      c.observe("chain:1", NaN, 1);
      c.observe("chain:1", T0, Infinity);
      c.observeNodeClock(CONTROL_SOURCE, T0, NaN);
      expect(c.check(T0).sources).to.deep.equal([]);
    });

    it("forgets samples older than freshMs, and samples from the check's future", function () {
      const c = discipline({ freshMs: 5_000 });
      c.observe("chain:1", T0, T0 / 1000);
      c.observe("chain:2", T0 + 20_000, T0 / 1000 + 20);
      expect(c.check(T0 + 10_000).sources).to.deep.equal([]);
    });
  });

  describe("node votes", function () {
    it("ahead only with a lower bound beyond the bound", function () {
      expect(voteOf(8, 9, BOUND)).to.equal("ahead");
      expect(voteOf(undefined, 100, BOUND)).to.equal("cannot_tell"); // halted, or fast: cannot tell which
    });
    it("behind when even the upper bound is below −bound", function () {
      expect(voteOf(undefined, -8, BOUND)).to.equal("behind");
      expect(voteOf(-20, -8, BOUND)).to.equal("behind");
    });
    it("agree when the bounds put the clock inside", function () {
      expect(voteOf(undefined, 7.5, BOUND)).to.equal("agree");
      expect(voteOf(-3, 40, BOUND)).to.equal("agree");
    });
    it("cannot tell from bounds that contradict each other (invented timestamps)", function () {
      expect(voteOf(5, 2, BOUND)).to.equal("cannot_tell");
    });
  });

  describe("verdict", function () {
    it("agrees with an honest clock on live chains, offset near zero", function () {
      const c = discipline();
      const last = simulate(c, 0, [control, l2({ kind: "live", blockTimeSec: 2 })], 10).pop()!;
      expect(last).to.include({ ok: true, state: "agree" });
      expect(Math.abs(last.offsetSec!)).to.be.below(1.5);
      expect(c.condition()).to.include({ name: "attestor_clock", ok: true });
    });

    it("stops at the first check for a clock 30 s ahead (the control chain's pending block)", function () {
      const c = discipline();
      const [first] = simulate(c, 30, [control, l2({ kind: "live", blockTimeSec: 2 })], 1);
      expect(first).to.include({ ok: false, state: "ahead", changed: true });
      expect(first.offsetSec).to.be.within(28, 31);
      expect(c.condition().ok).to.equal(false);
      expect(c.condition().detail).to.match(/ahead of chain time by more than 7.5 s/);
    });

    it("stops for a clock 30 s behind", function () {
      const c = discipline();
      const [first] = simulate(c, -30, [control, l2({ kind: "live", blockTimeSec: 2 })], 1);
      expect(first).to.include({ ok: false, state: "behind" });
      expect(first.offsetSec).to.be.within(-31, -28);
    });

    it("detects a fast clock from watched chains alone once their heads move", function () {
      const c = discipline();
      const checks = simulate(c, 30, [l2({ kind: "live", blockTimeSec: 2 })], 6);
      expect(checks[0].state).to.equal("unverified"); // one sample: cannot tell halted from fast
      expect(checks[checks.length - 1]).to.include({ ok: false, state: "ahead" });
    });

    it("resumes when the clock is back, changed once", function () {
      const c = discipline();
      const off = simulate(c, 30, [control], 3);
      expect(off.map((x) => x.changed)).to.deep.equal([true, false, false]);
      const back = simulate(c, 0, [control], 20, 3); // the fast samples age out of freshMs
      expect(back[back.length - 1]).to.include({ ok: true, state: "agree" });
      expect(back.filter((x) => x.changed)).to.have.length(1);
    });

    it("starts unverified (not signing) until a decisive agree; unchecked (signing) without requireEvidence", function () {
      const c = discipline();
      expect(c.check(T0)).to.include({ ok: false, state: "unverified" });
      expect(c.condition()).to.include({ ok: false });
      expect(c.condition().detail).to.match(/waiting for a majority/);
      expect(discipline({ requireEvidence: false }).check(T0)).to.include({ ok: true, state: "unchecked" });
    });

    it("keeps the last verdict while every source is silent (all halted)", function () {
      const c = discipline();
      simulate(c, 0, [control], 3);
      const silent = simulate(
        c,
        0,
        [{ ...control, behaviour: { kind: "halted", atSec: T0 / 1000, number: 1 } }],
        60,
        3,
      );
      expect(silent.every((x) => x.ok)).to.equal(true);
    });

    it("a halted L2 next to the control chain never stops signing", function () {
      const c = discipline();
      const halted = l2({ kind: "halted", atSec: T0 / 1000 - 3_600, number: 77 });
      const checks = simulate(c, 0, [control, halted], 60);
      expect(checks.every((x) => x.ok)).to.equal(true);
      expect(checks[59].sources.find((s) => s.source === "chain:10")!.vote).to.equal("cannot_tell");
    });

    it("a node serving future timestamps next to the control chain never stops signing (the tie goes to the control chain)", function () {
      const c = discipline();
      const checks = simulate(c, 0, [control, l2({ kind: "future", aheadSec: 600 })], 30);
      expect(checks.every((x) => x.ok)).to.equal(true);
      expect(checks[29].sources.find((s) => s.source === "chain:10")!.vote).to.equal("behind");
    });

    it("a tie goes to the control chain's side, both ways", function () {
      const fast = discipline();
      // the control chain says 30 s ahead, the watched chain says fine: the control chain decides
      fast.observeNodeClock(CONTROL_SOURCE, T0 + 30_000, T0 / 1000);
      fast.observe("chain:10", T0 + 30_000, T0 / 1000 + 29, { blockNumber: 1 });
      expect(fast.check(T0 + 30_000).state).to.equal("ahead");
      const fine = discipline();
      fine.observeNodeClock(CONTROL_SOURCE, T0, T0 / 1000);
      fine.observeNodeClock("chain:10", T0, T0 / 1000 - 30);
      expect(fine.check(T0).state).to.equal("agree");
    });

    it("one lying replica of a chain is outvoted by the others", function () {
      const c = discipline();
      const live = { kind: "live", blockTimeSec: 1 } as const;
      const checks = simulate(
        c,
        0,
        [l2(live, "a"), l2(live, "b"), l2({ kind: "future", aheadSec: 300 }, "liar")],
        10,
      );
      const last = checks[checks.length - 1];
      expect(last.state).to.equal("agree");
      expect(last.sources[0].nodes).to.deep.equal({ a: "agree", b: "agree", liar: "behind" });
    });

    it("a source split between its nodes cannot tell", function () {
      const c = discipline();
      c.observeNodeClock("chain:10", T0, T0 / 1000, { node: "a" });
      c.observeNodeClock("chain:10", T0, T0 / 1000 - 60, { node: "b" });
      expect(c.check(T0).sources[0].vote).to.equal("cannot_tell");
    });

    it("forget drops a node, and the source with its last node", function () {
      const c = discipline();
      c.observe("chain:10", T0, T0 / 1000, { node: "a" });
      c.forget("chain:10", "a");
      expect(c.check(T0).sources).to.deep.equal([]);
    });
  });

  describe("serving", function () {
    it("serves nothing dated beyond the estimated chain time plus the bound, nor after the local clock", function () {
      const c = discipline();
      expect(c.latestServable(T0 + 1_500)).to.equal(T0 / 1000 + 1); // no estimate yet: the local clock
      simulate(c, 30, [control], 1);
      const now = T0 + 30_000;
      expect(c.latestServable(now)).to.be.within(T0 / 1000 + 7, T0 / 1000 + 9);
      simulate(c, -30, [control], 20, 1);
      expect(c.latestServable(T0 + 20_000 - 30_000)).to.equal(T0 / 1000 - 10);
    });
  });

  describe("settings", function () {
    it("rejects a bound, freshness or slack out of range", function () {
      expect(() => discipline({ boundSec: 0 })).to.throw(RangeError, /boundSec/);
      expect(() => discipline({ boundSec: NaN })).to.throw(RangeError, /boundSec/);
      expect(() => discipline({ freshMs: 0 })).to.throw(RangeError, /freshMs/);
      expect(() => discipline({ slackSec: -1 })).to.throw(RangeError, /slackSec/);
      expect(() => discipline().setBound(-1)).to.throw(RangeError, /boundSec/);
    });

    it("a new bound applies from the next check", function () {
      const c = discipline();
      c.observeNodeClock(CONTROL_SOURCE, T0 + 5_000, T0 / 1000);
      expect(c.check(T0 + 5_000).state).to.equal("agree");
      c.setBound(2);
      expect(c.check(T0 + 5_000)).to.include({ state: "ahead", boundSec: 2 });
    });
  });

  describe("properties", function () {
    const blockTime = fc.constantFrom(1, 2, 5, 12);
    /** Arbitrary answers: any timestamp within a day of true time, any head number, or no answer. */
    const liar = fc
      .array(fc.option(fc.record({ dts: fc.integer({ min: -86_400, max: 86_400 }), n: fc.nat(50) })), {
        minLength: 60,
        maxLength: 60,
      })
      .map((answers): Behaviour => ({
        kind: "answers",
        answer: (i) => {
          const a = answers[i % answers.length];
          return a ? { ts: T0 / 1000 + i + a.dts, number: a.n } : undefined;
        },
      }));
    /** 1–4 honest live sources (the first may be the control chain), fewer arbitrary ones. */
    const world = fc
      .tuple(fc.array(blockTime, { minLength: 1, maxLength: 4 }), fc.boolean(), fc.boolean())
      .chain(([honest, controlHonest, controlPending]) =>
        fc
          .array(liar, { maxLength: Math.ceil(honest.length) - 1 })
          .map((liars) => ({ honest, liars, controlHonest, controlPending })),
      )
      .map(({ honest, liars, controlHonest, controlPending }) => {
        const sources: SimSource[] = honest.map((b, i) => ({
          source: i === 0 && controlHonest ? CONTROL_SOURCE : `chain:${100 + i}`,
          pending: i === 0 && controlHonest && controlPending,
          behaviour: { kind: "live", blockTimeSec: b },
        }));
        liars.forEach((b, i) =>
          sources.push({
            source: i === 0 && !controlHonest ? CONTROL_SOURCE : `chain:${200 + i}`,
            behaviour: b,
          }),
        );
        return sources;
      });

    it("a minority of arbitrary sources never makes an honest majority's clock stop, and it is verified", function () {
      fc.assert(
        fc.property(world, fc.double({ min: -BOUND, max: BOUND, noNaN: true }), (sources, theta) => {
          const checks = simulate(discipline(), theta, sources, 40);
          expect(checks.every((x) => x.state === "unverified" || x.state === "agree")).to.equal(true);
          expect(checks[checks.length - 1].state).to.equal("agree");
        }),
        { numRuns: 150 },
      );
    });

    it("a minority of arbitrary sources never hides a clock far off from an honest majority", function () {
      const far = BOUND + 12 + PROBE_MS / 1000 + 2; // bound + longest block time + probe interval + latency, slack
      fc.assert(
        fc.property(
          world,
          fc.double({ min: far, max: 3_600, noNaN: true }),
          fc.boolean(),
          (sources, magnitude, ahead) => {
            const checks = simulate(discipline(), ahead ? magnitude : -magnitude, sources, 40);
            expect(checks.some((x) => x.ok)).to.equal(false);
            expect(checks[checks.length - 1].state).to.equal(ahead ? "ahead" : "behind");
          },
        ),
        { numRuns: 150 },
      );
    });
  });
});
