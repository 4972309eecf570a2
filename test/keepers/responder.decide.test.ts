import { expect } from "chai";
import fc from "fast-check";
import { Status } from "../../keepers/shared/health";
import {
  classify,
  decideRecovery,
  isPauseAction,
  decideSubmissions,
  decideSubmit,
  Delivery,
  GuardCheck,
  watchedMarkets,
  medianBps,
  MigrationCheck,
  planBatches,
  type EndpointView,
  type Policy,
} from "../../keepers/responder/decide";

const POLICY: Policy = {
  downBelowBps: 5000,
  upAtBps: 8000,
  fallRounds: 3,
  riseRounds: 3,
  heartbeat: 3600,
  maxAge: 120,
};
const SETTINGS = { refreshFraction: 0.8 };
const ID = "0x" + "11".repeat(32);

function view(over: Partial<EndpointView> = {}): EndpointView {
  return {
    endpointId: ID,
    status: Status.HEALTHY,
    healthBps: 10_000,
    round: 100,
    updatedAt: 1_000,
    policy: POLICY,
    ...over,
  };
}
const GOOD = 9000;
const MID = 6000;
const BAD = 1000;

describe("responder decide", function () {
  describe("classify", function () {
    it("uses the oracle's thresholds: GOOD at or above upAtBps, BAD below downBelowBps", function () {
      expect(classify(8000, POLICY)).to.equal("GOOD");
      expect(classify(7999, POLICY)).to.equal("MID");
      expect(classify(5000, POLICY)).to.equal("MID");
      expect(classify(4999, POLICY)).to.equal("BAD");
    });
  });

  describe("medianBps", function () {
    it("takes the middle value, the lower one for an even count (as the oracle)", function () {
      expect(medianBps([3, 1, 2])).to.equal(2);
      expect(medianBps([4, 1, 3, 2])).to.equal(2);
      expect(() => medianBps([])).to.throw(RangeError);
    });
  });

  describe("decideSubmit", function () {
    // status, stored median, candidate median, age (s) → expected reason
    const table: Array<[Status, number, number, number, string | undefined]> = [
      [Status.HEALTHY, GOOD, GOOD, 10, undefined],
      [Status.HEALTHY, GOOD, GOOD, 2879, undefined],
      [Status.HEALTHY, GOOD, GOOD, 2880, "heartbeat"],
      [Status.HEALTHY, GOOD, MID, 10, "status"],
      [Status.HEALTHY, GOOD, BAD, 10, "status"],
      [Status.DEGRADED, BAD, BAD, 10, "status"],
      [Status.DEGRADED, MID, MID, 10, undefined],
      [Status.DEGRADED, MID, MID, 3000, "heartbeat"],
      [Status.DEGRADED, MID, GOOD, 10, "status"],
      [Status.DOWN, BAD, BAD, 10, undefined],
      [Status.DOWN, BAD, BAD, 2880, "heartbeat"],
      [Status.DOWN, BAD, GOOD, 10, "status"],
      [Status.DOWN, GOOD, MID, 10, "count"],
      [Status.DOWN, BAD, MID, 10, "count"],
      [Status.DOWN, MID, MID, 10, undefined],
      [Status.UNKNOWN, GOOD, GOOD, 4000, "status"],
      [Status.UNKNOWN, BAD, BAD, 4000, "status"],
      [Status.UNKNOWN, MID, MID, 4000, "heartbeat"],
    ];
    for (const [status, stored, cand, age, want] of table) {
      it(`${Status[status]} stored ${stored} candidate ${cand} age ${age}s → ${want ?? "skip"}`, function () {
        const v = view({ status, healthBps: stored, updatedAt: 10_000 });
        const d = decideSubmit({ endpointId: ID, round: 101, medianBps: cand }, v, 10_000 + age, SETTINGS);
        expect(d?.reason).to.equal(want);
      });
    }

    it("submits the first round of an endpoint never reported", function () {
      const v = view({ status: Status.UNKNOWN, healthBps: 0, round: 0, updatedAt: 0 });
      expect(decideSubmit({ endpointId: ID, round: 1, medianBps: GOOD }, v, 5, SETTINGS)?.reason).to.equal(
        "status",
      );
    });

    it("never submits a round not newer than the stored one", function () {
      const v = view({ status: Status.HEALTHY, round: 100 });
      expect(decideSubmit({ endpointId: ID, round: 100, medianBps: BAD }, v, 1e9, SETTINGS)).to.equal(
        undefined,
      );
      expect(decideSubmit({ endpointId: ID, round: 99, medianBps: BAD }, v, 1e9, SETTINGS)).to.equal(
        undefined,
      );
    });
  });

  const arbPolicy = fc
    .record({
      downBelowBps: fc.integer({ min: 1, max: 9999 }),
      gap: fc.integer({ min: 1, max: 5000 }),
      fallRounds: fc.integer({ min: 1, max: 10 }),
      riseRounds: fc.integer({ min: 1, max: 10 }),
      heartbeat: fc.integer({ min: 60, max: 86_400 }),
      maxAge: fc.integer({ min: 10, max: 3600 }),
    })
    .map(({ gap, ...p }): Policy => ({ ...p, upAtBps: Math.min(10_000, p.downBelowBps + gap) }));
  const arbView = fc.record({
    endpointId: fc.constant(ID),
    status: fc.constantFrom(Status.UNKNOWN, Status.HEALTHY, Status.DEGRADED, Status.DOWN),
    healthBps: fc.integer({ min: 0, max: 10_000 }),
    round: fc.integer({ min: 0, max: 1e9 }),
    updatedAt: fc.integer({ min: 0, max: 2e9 }),
    policy: arbPolicy,
  });

  describe("properties", function () {
    it("never submits a round not newer than the stored one", function () {
      fc.assert(
        fc.property(
          arbView,
          fc.integer({ min: 0, max: 1e9 }),
          fc.integer({ min: 0, max: 10_000 }),
          fc.integer({ min: 0, max: 3e9 }),
          fc.double({ min: 0.01, max: 0.99, noNaN: true }),
          (v, round, bps, now, f) => {
            const d = decideSubmit({ endpointId: ID, round, medianBps: bps }, v, now, { refreshFraction: f });
            return d === undefined || round > v.round;
          },
        ),
        { numRuns: 2000 },
      );
    });

    it("always submits a newer BAD round while the endpoint is not DOWN", function () {
      fc.assert(
        fc.property(arbView, fc.integer({ min: 1, max: 1000 }), fc.nat(), (v, ahead, r) => {
          fc.pre(v.status !== Status.DOWN);
          const bps = r % v.policy.downBelowBps; // < downBelowBps
          const d = decideSubmit(
            { endpointId: ID, round: v.round + ahead, medianBps: bps },
            v,
            v.updatedAt,
            SETTINGS,
          );
          return d?.reason === "status";
        }),
        { numRuns: 2000 },
      );
    });

    it("always submits a newer GOOD round while the endpoint is not HEALTHY", function () {
      fc.assert(
        fc.property(arbView, fc.integer({ min: 1, max: 1000 }), fc.nat(), (v, ahead, r) => {
          fc.pre(v.status !== Status.HEALTHY);
          const bps = v.policy.upAtBps + (r % (10_001 - v.policy.upAtBps));
          return (
            decideSubmit(
              { endpointId: ID, round: v.round + ahead, medianBps: bps },
              v,
              v.updatedAt,
              SETTINGS,
            ) !== undefined
          );
        }),
        { numRuns: 2000 },
      );
    });

    it("a steady healthy endpoint costs one submission per refresh interval over a simulated day, and never lapses", function () {
      fc.assert(
        fc.property(
          fc.integer({ min: 5, max: 60 }), // roundSeconds
          fc.integer({ min: 10, max: 120 }), // heartbeat in rounds
          fc.double({ min: 0.3, max: 0.9, noNaN: true }),
          fc.integer({ min: 0, max: 30 }), // inclusion delay, s
          (roundSeconds, hbRounds, f, delay) => {
            const heartbeat = hbRounds * roundSeconds;
            fc.pre(f * heartbeat + roundSeconds + delay < heartbeat);
            const policy = { ...POLICY, heartbeat };
            let v = view({ status: Status.HEALTHY, healthBps: 9500, round: 0, updatedAt: 0, policy });
            const submittedAt: number[] = [];
            const day = 86_400;
            for (let t = roundSeconds; t <= day; t += roundSeconds) {
              // the newest complete round is the previous one; the chain sees it `delay` s later
              const round = Math.floor(t / roundSeconds) - 1;
              const d = decideSubmit({ endpointId: ID, round, medianBps: 9500 }, v, t, {
                refreshFraction: f,
              });
              if (d) {
                submittedAt.push(t);
                v = { ...v, round, updatedAt: t + delay, healthBps: 9500 };
              }
              if (submittedAt.length > 1 && t - v.updatedAt >= heartbeat) return false; // lapsed to UNKNOWN
            }
            for (let i = 2; i < submittedAt.length; i++) {
              if (submittedAt[i] - submittedAt[i - 1] < f * heartbeat) return false;
            }
            // first submission (never reported) + one per refresh interval
            return submittedAt.length <= 1 + Math.ceil(day / (f * heartbeat));
          },
        ),
        { numRuns: 300 },
      );
    });

    it("at the default fraction a steady healthy endpoint submits at most 1.25 times per heartbeat", function () {
      const heartbeat = 3600;
      let v = view({ status: Status.HEALTHY, healthBps: 9500, round: 1, updatedAt: 0 });
      let count = 0;
      for (let t = 12; t <= 86_400; t += 12) {
        const d = decideSubmit({ endpointId: ID, round: t / 12, medianBps: 9500 }, v, t, SETTINGS);
        if (d) {
          count++;
          v = { ...v, round: t / 12, updatedAt: t };
        }
      }
      expect(count).to.be.at.most(Math.ceil(86_400 / heartbeat / 0.8));
      expect(count).to.be.at.least(86_400 / heartbeat); // and never less than one per heartbeat
    });
  });

  describe("decideSubmissions", function () {
    it("puts status changes before count changes before heartbeat refreshes, one per endpoint", function () {
      const ids = ["0x" + "01".repeat(32), "0x" + "02".repeat(32), "0x" + "03".repeat(32)];
      const views = new Map([
        [ids[0], view({ endpointId: ids[0], updatedAt: 1 })], // stale → heartbeat
        [ids[1], view({ endpointId: ids[1], status: Status.DOWN, healthBps: GOOD })], // MID → count
        [ids[2], view({ endpointId: ids[2] })], // BAD → status
      ]);
      const out = decideSubmissions(
        [
          { endpointId: ids[0], round: 101, medianBps: GOOD },
          { endpointId: ids[1], round: 101, medianBps: MID },
          { endpointId: ids[2], round: 101, medianBps: BAD },
          { endpointId: ids[2], round: 102, medianBps: BAD },
          { endpointId: "0x" + "ff".repeat(32), round: 101, medianBps: BAD },
        ],
        views,
        3000,
        SETTINGS,
      );
      expect(out.map((d) => [d.endpointId, d.reason])).to.deep.equal([
        [ids[2], "status"],
        [ids[1], "count"],
        [ids[0], "heartbeat"],
      ]);
    });
  });

  describe("planBatches", function () {
    it("splits in order into batches of at most maxSize", function () {
      expect(planBatches([1, 2, 3, 4, 5], 2)).to.deep.equal([[1, 2], [3, 4], [5]]);
      expect(planBatches([], 2)).to.deep.equal([]);
      expect(() => planBatches([1], 0)).to.throw(RangeError);
    });
  });

  describe("decideRecovery", function () {
    it("trips when DUE, migrates when DUE_FAILOVER or DUE_FAILBACK, resumes when DUE: trips first", function () {
      const actions = decideRecovery(
        [
          { serviceId: "0xa", check: MigrationCheck.DUE_FAILOVER },
          { serviceId: "0xb", check: MigrationCheck.DUE_FAILBACK },
          { serviceId: "0xc", check: MigrationCheck.COOLDOWN },
          { serviceId: "0xd", check: MigrationCheck.NO_HEALTHY_CANDIDATE },
          { serviceId: "0xe", check: MigrationCheck.ACTIVE_USABLE },
        ],
        [
          { marketId: 1, trip: GuardCheck.DUE, resume: GuardCheck.NOT_PAUSED, delivery: Delivery.NONE },
          { marketId: 2, trip: GuardCheck.ALREADY_PAUSED, resume: GuardCheck.DUE, delivery: Delivery.NONE },
          {
            marketId: 3,
            trip: GuardCheck.DEPENDENCIES_USABLE,
            resume: GuardCheck.NOT_PAUSED,
            delivery: Delivery.NONE,
          },
          {
            marketId: 4,
            trip: GuardCheck.ALREADY_PAUSED,
            resume: GuardCheck.GRACE_PERIOD,
            delivery: Delivery.NONE,
          },
        ],
      );
      expect(actions).to.deep.equal([
        { kind: "trip", target: "1" },
        { kind: "migrate", target: "0xa", check: MigrationCheck.DUE_FAILOVER },
        { kind: "migrate", target: "0xb", check: MigrationCheck.DUE_FAILBACK },
        { kind: "resume", target: "2" },
      ]);
    });

    it("retries a pending pause delivery with the trips (first) and a pending unpause with the resumes (last)", function () {
      const actions = decideRecovery(
        [{ serviceId: "0xa", check: MigrationCheck.DUE_FAILOVER }],
        [
          {
            marketId: 1,
            trip: GuardCheck.ALREADY_PAUSED,
            resume: GuardCheck.DEPENDENCY_UNHEALTHY,
            delivery: Delivery.PENDING_UNPAUSE,
          },
          { marketId: 2, trip: GuardCheck.NOT_PAUSED, resume: GuardCheck.DUE, delivery: Delivery.NONE },
          {
            marketId: 3,
            trip: GuardCheck.ALREADY_PAUSED,
            resume: GuardCheck.GRACE_PERIOD,
            delivery: Delivery.PENDING_PAUSE,
          },
          { marketId: 4, trip: GuardCheck.DUE, resume: GuardCheck.NOT_PAUSED, delivery: Delivery.NONE },
          {
            marketId: 5,
            trip: GuardCheck.DEPENDENCIES_USABLE,
            resume: GuardCheck.NOT_PAUSED,
            delivery: Delivery.PENDING_UNPAUSE,
          },
        ],
      );
      expect(actions).to.deep.equal([
        { kind: "deliver", target: "3", delivery: Delivery.PENDING_PAUSE },
        { kind: "trip", target: "4" },
        { kind: "migrate", target: "0xa", check: MigrationCheck.DUE_FAILOVER },
        { kind: "deliver", target: "1", delivery: Delivery.PENDING_UNPAUSE },
        { kind: "resume", target: "2" },
        { kind: "deliver", target: "5", delivery: Delivery.PENDING_UNPAUSE },
      ]);
      expect(actions.map(isPauseAction)).to.deep.equal([true, true, false, false, false, false]);
    });

    it("a due trip or resume supersedes a pending delivery of the same market", function () {
      expect(
        decideRecovery(
          [],
          [
            {
              marketId: 1,
              trip: GuardCheck.DUE,
              resume: GuardCheck.NOT_PAUSED,
              delivery: Delivery.PENDING_UNPAUSE,
            },
            {
              marketId: 2,
              trip: GuardCheck.ALREADY_PAUSED,
              resume: GuardCheck.DUE,
              delivery: Delivery.PENDING_PAUSE,
            },
          ],
        ),
      ).to.deep.equal([
        { kind: "trip", target: "1" },
        { kind: "resume", target: "2" },
      ]);
    });

    it("acts only on DUE views (property)", function () {
      fc.assert(
        fc.property(
          fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 20 }),
          fc.array(
            fc.tuple(
              fc.integer({ min: 0, max: 6 }),
              fc.integer({ min: 0, max: 6 }),
              fc.constantFrom(Delivery.NONE, Delivery.PENDING_PAUSE, Delivery.PENDING_UNPAUSE),
            ),
            { maxLength: 20 },
          ),
          (svc, mkt) => {
            const actions = decideRecovery(
              svc.map((check, i) => ({ serviceId: String(i), check })),
              mkt.map(([trip, resume, delivery], i) => ({ marketId: i + 1, trip, resume, delivery })),
            );
            const migrates = svc.filter((c) => c <= 1).length;
            const trips = mkt.filter(([t]) => t === 0).length;
            const resumes = mkt.filter(([, r]) => r === 0).length;
            // A due trip or resume supersedes the delivery it would otherwise retry (the guard's too).
            const pending = (d: Delivery) => mkt.filter(([t, r, x]) => t !== 0 && r !== 0 && x === d).length;
            const pauses = pending(Delivery.PENDING_PAUSE);
            const unpauses = pending(Delivery.PENDING_UNPAUSE);
            const safe = actions.map(isPauseAction);
            const firstNonPause = safe.indexOf(false);
            const pausesFirst = firstNonPause === -1 || !safe.slice(firstNonPause).includes(true);
            const kinds = actions.map((a) => a.kind);
            const lastMigrate = kinds.lastIndexOf("migrate");
            const unpausesLast = actions.every(
              (a, i) =>
                !(a.kind === "resume" || (a.kind === "deliver" && a.delivery === Delivery.PENDING_UNPAUSE)) ||
                i > lastMigrate,
            );
            return (
              actions.length === migrates + trips + resumes + pauses + unpauses && pausesFirst && unpausesLast
            );
          },
        ),
      );
    });
  });

  describe("watchedMarkets", function () {
    it("keeps only markets whose every dependency is a watched service or an endpoint of one", function () {
      const s = (b: string) => "0x" + b.repeat(32);
      const services = new Set([s("aa"), s("bb")]);
      const endpoints = new Set([s("a1"), s("b1")]);
      expect(
        watchedMarkets(
          [
            { marketId: 3, services: [s("aa"), s("bb")], endpoints: [s("a1")] },
            { marketId: 1, services: [s("AA")], endpoints: [] },
            { marketId: 2, services: [s("aa"), s("cc")], endpoints: [] }, // cc: not ours
            { marketId: 4, services: [], endpoints: [s("c1")] }, // an endpoint of an unwatched service
            { marketId: 5, services: [], endpoints: [] },
          ],
          services,
          endpoints,
        ),
      ).to.deep.equal([1, 3]);
    });
  });
});
