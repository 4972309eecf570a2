import { expect } from "chai";
import fc from "fast-check";
import {
  DEFAULT_THRESHOLDS,
  factor,
  score,
  type Failure,
  type ScoreInput,
} from "../../keepers/attestor/score";

const RPC = DEFAULT_THRESHOLDS.jsonRpc;
const healthy = { latencyMs: 50, errorRate: 0, headAgeSec: 5, lagBlocks: 0 };

describe("attestor score", function () {
  describe("factor", function () {
    const t = { ok: 10, max: 20, floor: 0.5 };
    const cases: Array<[number, number]> = [
      [0, 1],
      [10, 1],
      [15, 0.75],
      [20, 0.5],
      [1e9, 0.5],
      [NaN, 0.5],
    ];
    for (const [x, want] of cases) {
      it(`is ${want} at ${x} for ok 10, max 20, floor 0.5`, function () {
        expect(factor(x, t)).to.be.closeTo(want, 1e-12);
      });
    }
  });

  describe("hard failures", function () {
    const failures: Failure[] = [
      "unreachable",
      "timeout",
      "http_status",
      "invalid_response",
      "rpc_error",
      "wrong_chain",
      "fork",
      "feed_invalid",
      "sequencer_down",
    ];
    for (const f of failures) {
      it(`scores ${f} as 0`, function () {
        expect(score({ failure: f }, RPC)).to.equal(0);
      });
    }
  });

  describe("JSON-RPC verdicts at the default thresholds", function () {
    const table: Array<[string, ScoreInput, (bps: number) => boolean, string]> = [
      ["a fresh, fast, in-step node", healthy, (b) => b === 10_000, "10000"],
      [
        "a halted head (no block for 120 s)",
        { ...healthy, headAgeSec: 120 },
        (b) => b < 5_000,
        "< 5000 (DOWN)",
      ],
      ["a halted head (no block for 10 min)", { ...healthy, headAgeSec: 600 }, (b) => b === 0, "0"],
      ["a node 6 blocks behind its peers", { ...healthy, lagBlocks: 6 }, (b) => b < 5_000, "< 5000 (DOWN)"],
      ["a node 1 block behind", { ...healthy, lagBlocks: 1 }, (b) => b === 10_000, "10000"],
      ["a slow node (2 s)", { ...healthy, latencyMs: 2_000 }, (b) => b >= 5_000 && b < 8_000, "DEGRADED"],
      [
        "a very slow node (4.9 s)",
        { ...healthy, latencyMs: 4_900 },
        (b) => b >= 5_000 && b < 8_000,
        "DEGRADED",
      ],
      ["a node failing half its probes", { ...healthy, errorRate: 0.5 }, (b) => b === 0, "0"],
      ["a head 60 s old", { ...healthy, headAgeSec: 60 }, (b) => b >= 5_000 && b < 8_000, "DEGRADED"],
    ];
    for (const [name, input, ok, want] of table) {
      it(`scores ${name} ${want}`, function () {
        const bps = score(input, RPC);
        expect(ok(bps), `got ${bps}`).to.equal(true);
      });
    }

    it("ignores a measurement whose thresholds are absent", function () {
      expect(score({ latencyMs: 10, stalenessSec: 1e9 }, DEFAULT_THRESHOLDS.http)).to.equal(10_000);
    });

    it("scores a stale oracle feed (1.5 × heartbeat) as 0 and a fresh one as 10000", function () {
      const T = DEFAULT_THRESHOLDS.oracleFeed;
      expect(score({ latencyMs: 10, errorRate: 0, stalenessSec: 5_400 }, T)).to.equal(0);
      expect(score({ latencyMs: 10, errorRate: 0, stalenessSec: 3_000 }, T)).to.equal(10_000);
    });
  });

  describe("properties", function () {
    const measure = fc.record({
      latencyMs: fc.double({ min: 0, max: 1e6, noNaN: true }),
      errorRate: fc.double({ min: 0, max: 1, noNaN: true }),
      headAgeSec: fc.double({ min: 0, max: 1e7, noNaN: true }),
      lagBlocks: fc.double({ min: 0, max: 1e7, noNaN: true }),
    });
    const thresholds = fc
      .record({
        ok: fc.double({ min: 0, max: 1e4, noNaN: true }),
        span: fc.double({ min: 1e-3, max: 1e4, noNaN: true }),
        floor: fc.double({ min: 0, max: 1, noNaN: true }),
      })
      .map(({ ok, span, floor }) => ({ ok, max: ok + span, floor }));

    it("is always an integer in 0..10000", function () {
      fc.assert(
        fc.property(
          measure,
          fc.record({ a: thresholds, b: thresholds, c: thresholds, d: thresholds }),
          (m, t) => {
            const bps = score(m, { latencyMs: t.a, errorRate: t.b, headAgeSec: t.c, lagBlocks: t.d });
            return Number.isInteger(bps) && bps >= 0 && bps <= 10_000;
          },
        ),
        { numRuns: 2_000 },
      );
    });

    for (const key of ["latencyMs", "errorRate", "headAgeSec", "lagBlocks"] as const) {
      it(`never rises when ${key} grows (monotone)`, function () {
        fc.assert(
          fc.property(measure, fc.double({ min: 0, max: 1e6, noNaN: true }), (m, extra) => {
            const worse = { ...m, [key]: m[key] + extra };
            return score(worse, RPC) <= score(m, RPC);
          }),
          { numRuns: 2_000 },
        );
      });
    }

    it("scores any head older than the max head age below the DOWN threshold", function () {
      fc.assert(
        fc.property(measure, fc.double({ min: 120, max: 1e9, noNaN: true }), (m, age) => {
          return score({ ...m, headAgeSec: age }, RPC) < 5_000;
        }),
      );
    });
  });
});
