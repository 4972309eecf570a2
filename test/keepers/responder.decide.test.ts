import { expect } from "chai";
import fc from "fast-check";
import { Status } from "../../keepers/shared/health";
import { lowerMedian, nextStatus, tally } from "../../keepers/shared/quorum";
import type { EndpointValue } from "../../keepers/shared/report";
import {
  decideProofs,
  decideRecovery,
  decideRound,
  Delivery,
  effectiveStatus,
  GuardCheck,
  isPauseAction,
  isSafety,
  MigrationCheck,
  refreshDue,
  watchedMarkets,
  type EndpointView,
  type Policy,
  type RoundEvidence,
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
const Q = 3;
const ID = "0x" + "11".repeat(32);
const ID2 = "0x" + "22".repeat(32);
const ROUND = 1_000;
const NOW = ROUND * 10 + 5;

function view(over: Partial<EndpointView> = {}): EndpointView {
  return {
    endpointId: ID,
    status: Status.HEALTHY,
    round: ROUND - 1,
    updatedAt: NOW - 10,
    policy: POLICY,
    ...over,
  };
}
const good = (goodRounds = 255): EndpointValue => ({ healthBps: 9000, badRounds: 0, goodRounds });
const mid = (): EndpointValue => ({ healthBps: 6000, badRounds: 0, goodRounds: 0 });
const bad = (badRounds = 255): EndpointValue => ({ healthBps: 1000, badRounds, goodRounds: 0 });

/** A round over `ids` where report j carries `columns[i][j]` for endpoint i, all observed at NOW - 2. */
function evidence(ids: string[], columns: EndpointValue[][], round = ROUND): RoundEvidence {
  const reports = columns[0].length;
  return {
    round,
    endpointIds: ids,
    values: Array.from({ length: reports }, (_, j) => columns.map((c) => c[j])),
    observedAt: Array.from({ length: reports }, () => NOW - 2),
  };
}
const one = (values: EndpointValue[], v: EndpointView, now = NOW, round = ROUND) =>
  decideRound(evidence([ID], [values], round), new Map([[ID, v]]), now, Q, SETTINGS);

describe("responder decide", function () {
  describe("effectiveStatus", function () {
    it("reads UNKNOWN for an endpoint never reported and once the heartbeat from the observation time lapsed", function () {
      expect(effectiveStatus(view({ updatedAt: 0, status: Status.HEALTHY }), NOW)).to.equal(Status.UNKNOWN);
      const v = view({ updatedAt: 1_000, status: Status.DOWN });
      expect(effectiveStatus(v, 1_000 + POLICY.heartbeat - 1)).to.equal(Status.DOWN);
      expect(effectiveStatus(v, 1_000 + POLICY.heartbeat)).to.equal(Status.UNKNOWN);
    });
  });

  describe("lowerMedian", function () {
    it("takes the middle value, the lower one for an even count (as the oracle's observation time)", function () {
      expect(lowerMedian([30, 10, 20])).to.equal(20);
      expect(lowerMedian([40, 10, 30, 20])).to.equal(20);
      expect(() => lowerMedian([])).to.throw(RangeError);
    });
  });

  describe("decideRound", function () {
    it("submits a round that takes a HEALTHY endpoint DOWN (a quorum BAD for fallRounds)", function () {
      const d = one([bad(3), bad(3), bad(3), good()], view());
      expect(d).to.deep.include({ submit: true, reason: "status", updated: 1, skipped: 0 });
      expect(d.changes).to.deep.equal([{ endpointId: ID, from: Status.HEALTHY, to: Status.DOWN }]);
    });

    it("does not submit BAD values without a quorum of full streaks, except that they make HEALTHY DEGRADED", function () {
      const d = one([bad(2), bad(3), bad(3), good()], view());
      expect(d.changes).to.deep.equal([{ endpointId: ID, from: Status.HEALTHY, to: Status.DEGRADED }]);
      const stillDegraded = one([bad(2), bad(3), bad(3), good()], view({ status: Status.DEGRADED }));
      expect(stillDegraded).to.deep.include({ submit: false, reason: undefined });
    });

    it("submits a round that brings DOWN back to HEALTHY only with a quorum GOOD for riseRounds", function () {
      expect(one([good(3), good(3), good(2), bad()], view({ status: Status.DOWN })).submit).to.equal(false);
      expect(one([good(3), good(3), good(3), bad()], view({ status: Status.DOWN })).reason).to.equal(
        "status",
      );
    });

    it("does not pay for a steady endpoint until its stored update is refreshFraction × heartbeat old", function () {
      const fresh = view({ updatedAt: NOW - 2 - 0.8 * 3600 + 1 });
      expect(one([good(), good(), good(), good()], fresh)).to.deep.include({ submit: false, updated: 1 });
      const due = view({ updatedAt: NOW - 2 - 0.8 * 3600 });
      expect(one([good(), good(), good(), good()], due)).to.deep.include({
        submit: true,
        reason: "heartbeat",
      });
    });

    it("submits the first round of an endpoint never reported", function () {
      const d = one([bad(1), bad(1), bad(1)], view({ status: Status.UNKNOWN, round: 0, updatedAt: 0 }));
      expect(d).to.deep.include({ submit: true, reason: "new", updated: 1 });
      expect(d.changes).to.deep.equal([]); // BAD without the streak: still UNKNOWN, but worth storing
    });

    it("never submits a round older than the stored one, even one that would change the status", function () {
      const d = one([bad(), bad(), bad()], view({ round: ROUND + 1 }));
      expect(d).to.deep.include({ submit: false, updated: 0, skipped: 1 });
    });

    it("submits the stored round again only when it changes the status (a front-runner relayed a subset)", function () {
      const same = view({ round: ROUND, updatedAt: NOW - 3000 });
      expect(one([good(), good(), good(), good()], same)).to.deep.include({ submit: false, skipped: 1 });
      expect(one([bad(), bad(), bad(), good()], same)).to.deep.include({
        submit: true,
        reason: "status",
        updated: 1,
      });
    });

    it("decides from the status in effect now: a lapsed HEALTHY endpoint is UNKNOWN, and a GOOD quorum restores it", function () {
      const lapsed = view({ status: Status.HEALTHY, updatedAt: NOW - 3600 });
      const d = one([good(), good(), good()], lapsed);
      expect(d.changes).to.deep.equal([{ endpointId: ID, from: Status.UNKNOWN, to: Status.HEALTHY }]);
    });

    it("never submits a stale round: the oracle would revert the whole submission", function () {
      const v = view({ status: Status.HEALTHY });
      const d = one([bad(), bad(), bad()], v, NOW - 2 + POLICY.maxAge + 1);
      expect(d).to.deep.include({ submit: false, stale: true, reason: "status", expiresAt: NOW - 2 + 120 });
      expect(one([bad(), bad(), bad()], v, NOW - 2 + POLICY.maxAge).submit).to.equal(true);
    });

    it("takes the expiry from the smallest maxAge among the endpoints that take the round", function () {
      const short = { ...POLICY, maxAge: 30 };
      const views = new Map([
        [ID, view()],
        [ID2, view({ endpointId: ID2, policy: short })],
      ]);
      const d = decideRound(
        evidence(
          [ID, ID2],
          [
            [bad(), bad(), bad()],
            [good(), good(), good()],
          ],
        ),
        views,
        NOW,
        Q,
        SETTINGS,
      );
      expect(d.expiresAt).to.equal(NOW - 2 + 30);
      // an endpoint that skips the round as older is not checked for staleness by the oracle
      views.set(ID2, view({ endpointId: ID2, policy: short, round: ROUND + 5 }));
      expect(
        decideRound(
          evidence(
            [ID, ID2],
            [
              [bad(), bad(), bad()],
              [good(), good(), good()],
            ],
          ),
          views,
          NOW,
          Q,
          SETTINGS,
        ).expiresAt,
      ).to.equal(NOW - 2 + 120);
    });

    it("lets endpoints it does not watch ride along but never pay for a round", function () {
      const views = new Map([
        [ID, view()],
        [ID2, view({ endpointId: ID2 })],
      ]);
      const ev = evidence(
        [ID, ID2],
        [
          [good(), good(), good()],
          [bad(), bad(), bad()],
        ],
      );
      const d = decideRound(ev, views, NOW, Q, SETTINGS, new Set([ID]));
      expect(d).to.deep.include({ submit: false, updated: 2 });
      expect(d.changes).to.deep.equal([{ endpointId: ID2, from: Status.HEALTHY, to: Status.DOWN }]);
      expect(decideRound(ev, views, NOW, Q, SETTINGS, new Set([ID2]))).to.deep.include({
        submit: true,
        reason: "status",
      });
    });

    it("takes the strongest reason of the round: status before new before heartbeat", function () {
      const views = new Map([
        [ID, view({ updatedAt: NOW - 3000 })],
        [ID2, view({ endpointId: ID2, round: 0, updatedAt: 0, status: Status.UNKNOWN })],
      ]);
      const d = decideRound(
        evidence(
          [ID, ID2],
          [
            [good(), good(), good()],
            [mid(), mid(), mid()],
          ],
        ),
        views,
        NOW,
        Q,
        SETTINGS,
      );
      // ID2 from UNKNOWN with a quorum notBad: DEGRADED, a status change
      expect(d.reason).to.equal("status");
      expect(d.reasons).to.deep.equal({ status: 1, new: 0, heartbeat: 1 });
    });

    it("throws when the stored state of an endpoint of the round is missing", function () {
      expect(() =>
        decideRound(evidence([ID], [[good(), good(), good()]]), new Map(), NOW, Q, SETTINGS),
      ).to.throw(RangeError);
    });
  });

  describe("refreshDue", function () {
    it("counts from the round's observation time, with a chain-time fallback halfway to lapsing", function () {
      const v = view({ updatedAt: 10_000, policy: { ...POLICY, heartbeat: 300 } });
      expect(refreshDue(v, 10_239, 10_260, SETTINGS)).to.equal(false);
      expect(refreshDue(v, 10_240, 10_241, SETTINGS)).to.equal(true);
      expect(refreshDue(v, 10_200, 10_269, SETTINGS)).to.equal(false);
      expect(refreshDue(v, 10_200, 10_270, SETTINGS)).to.equal(true); // the attestors lag: refresh anyway
    });
  });

  describe("properties", function () {
    const value = fc.record({
      healthBps: fc.integer({ min: 0, max: 10_000 }),
      badRounds: fc.integer({ min: 0, max: 255 }),
      goodRounds: fc.integer({ min: 0, max: 255 }),
    });
    const status = fc.constantFrom(Status.UNKNOWN, Status.HEALTHY, Status.DEGRADED, Status.DOWN);

    it("predicts exactly the oracle's status machine for every endpoint, and pays only for a change, a first round or a refresh", function () {
      fc.assert(
        fc.property(
          fc.array(value, { minLength: 3, maxLength: 7 }),
          status,
          fc.integer({ min: ROUND - 3, max: ROUND + 1 }),
          fc.integer({ min: 0, max: 5000 }),
          (values, stored, storedRound, age) => {
            const known = storedRound > ROUND - 3;
            const v = view({
              status: stored,
              round: known ? storedRound : 0,
              updatedAt: known ? NOW - age : 0,
            });
            const d = one(values, v);
            const from = effectiveStatus(v, NOW);
            const to = nextStatus(from, tally(values, POLICY, Q).votes, Q);
            if (known && ROUND < storedRound) return d.updated === 0 && !d.submit;
            if (known && ROUND === storedRound && to === from) return d.updated === 0 && !d.submit;
            if (d.updated !== 1) return false;
            if (to !== from) return d.reason === "status" && d.changes[0].to === to;
            if (!known) return d.reason === "new";
            return d.submit === (from !== Status.UNKNOWN && refreshDue(v, NOW - 2, NOW, SETTINGS));
          },
        ),
        { numRuns: 3000 },
      );
    });

    it("a steady healthy endpoint costs one submission per refresh interval over a simulated day, and never lapses", function () {
      fc.assert(
        fc.property(
          fc.integer({ min: 5, max: 60 }), // roundSeconds
          fc.integer({ min: 10, max: 120 }), // heartbeat in rounds
          fc.double({ min: 0.3, max: 0.9, noNaN: true }),
          fc.integer({ min: 0, max: 9 }), // attestors sign this many seconds into the round
          (roundSeconds, hbRounds, f, lag) => {
            fc.pre(lag < roundSeconds);
            const heartbeat = hbRounds * roundSeconds;
            fc.pre(((1 + f) / 2) * heartbeat + 2 * roundSeconds < heartbeat);
            const policy = { ...POLICY, heartbeat, maxAge: 4 * roundSeconds };
            let v = view({ status: Status.HEALTHY, round: 0, updatedAt: 0, policy });
            const stored: number[] = [];
            const day = 86_400;
            for (let t = 2 * roundSeconds; t <= day; t += 2) {
              // the newest complete round is the previous one
              const round = Math.floor(t / roundSeconds) - 1;
              const at = round * roundSeconds + lag;
              const ev = {
                round,
                endpointIds: [ID],
                values: [[good()], [good()], [good()]],
                observedAt: [at, at, at],
              };
              const d = decideRound(ev, new Map([[ID, v]]), t, Q, { refreshFraction: f });
              if (d.submit) {
                stored.push(d.observedAt);
                v = { ...v, round, updatedAt: d.observedAt };
              }
              if (stored.length > 0 && t - v.updatedAt >= heartbeat) return false; // lapsed to UNKNOWN
            }
            for (let i = 1; i < stored.length; i++)
              if (stored[i] - stored[i - 1] < f * heartbeat) return false;
            return stored.length <= 1 + Math.ceil(day / (f * heartbeat));
          },
        ),
        { numRuns: 50 },
      );
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

    it("isSafety: trip, migrate and a pending pause delivery only", function () {
      expect(isSafety("trip")).to.equal(true);
      expect(isSafety("migrate")).to.equal(true);
      expect(isSafety("deliver", Delivery.PENDING_PAUSE)).to.equal(true);
      expect(isSafety("deliver", Delivery.PENDING_UNPAUSE)).to.equal(false);
      expect(isSafety("deliver", Delivery.NONE)).to.equal(false);
      expect(isSafety("deliver")).to.equal(false);
      for (const k of ["submit", "resume", "prove"] as const) expect(isSafety(k)).to.equal(false);
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

  describe("decideProofs", function () {
    const A = "0x" + "aA".repeat(20);
    const B = "0x" + "bB".repeat(20);
    const C = "0x" + "cC".repeat(20);
    const eq = (signer: string, round: number, tag = "") => ({ signer, round, tag });

    it("proves exactly one pair per equivocating signer not yet jailed, and none for a jailed one", function () {
      const actions = decideProofs(
        [eq(B, 7, "b7"), eq(A, 5, "a5"), eq(C, 9, "c9"), eq(A, 6, "a6"), eq(B, 7, "b7-other")],
        new Set([C.toLowerCase()]),
      );
      // One per signer, by address; the newest round; for a tie, the first pair found.
      expect(actions.map((a) => [a.kind, a.target, a.round, a.equivocation.tag])).to.deep.equal([
        ["prove", A.toLowerCase(), 6, "a6"],
        ["prove", B.toLowerCase(), 7, "b7"],
      ]);
    });

    it("proves nothing when there is no equivocation or every equivocator is jailed", function () {
      expect(decideProofs([], new Set())).to.deep.equal([]);
      expect(
        decideProofs([eq(A, 1), eq(A.toUpperCase().replace("0X", "0x"), 2)], new Set([A.toLowerCase()])),
      ).to.deep.equal([]);
    });

    it("property: one action per distinct unjailed signer, targets unique and ascending, never a jailed one", function () {
      const signer = fc.constantFrom(A, B, C, A.toLowerCase());
      fc.assert(
        fc.property(
          fc.array(fc.record({ signer, round: fc.nat(20) }), { maxLength: 12 }),
          fc.subarray([A, B, C].map((x) => x.toLowerCase())),
          (list, jailedList) => {
            const jailed = new Set(jailedList);
            const actions = decideProofs(list, jailed);
            const expected = [...new Set(list.map((e) => e.signer.toLowerCase()))]
              .filter((x) => !jailed.has(x))
              .sort();
            return (
              JSON.stringify(actions.map((a) => a.target)) === JSON.stringify(expected) &&
              actions.every(
                (a) =>
                  a.round ===
                  Math.max(...list.filter((e) => e.signer.toLowerCase() === a.target).map((e) => e.round)),
              )
            );
          },
        ),
        { numRuns: 200 },
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
