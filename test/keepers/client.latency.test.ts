/** The hedge delay derived from observed latency (keepers/client/latency.ts), on recorded samples. */
import { expect } from "chai";
import { LatencyTracker } from "../../keepers/client/latency";

describe("client: hedge delay from observed latency", function () {
  it("waits the ceiling before any answer, then follows srtt + 4 rttvar within [min, max]", function () {
    const t = new LatencyTracker({ minMs: 30, maxMs: 150 });
    expect(t.hedgeAfter("a", "read")).to.equal(150);
    for (let i = 0; i < 20; i++) t.observe("a", "read", 2);
    expect(t.hedgeAfter("a", "read")).to.equal(30); // 2 ms and steady: the floor
    expect(t.hedgeAfter("a", "head")).to.equal(150); // per class
    expect(t.hedgeAfter("b", "read")).to.equal(150); // per endpoint
    for (let i = 0; i < 20; i++) t.observe("c", "read", i % 2 ? 20 : 60);
    const varied = t.hedgeAfter("c", "read");
    expect(varied).to.be.above(60).and.at.most(150); // mean 40, deviation about 20
    for (let i = 0; i < 20; i++) t.observe("d", "read", 400);
    expect(t.hedgeAfter("d", "read")).to.equal(150); // slow endpoint: the ceiling
  });

  it("refuses a floor above the ceiling or below zero", function () {
    expect(() => new LatencyTracker({ minMs: 200, maxMs: 100 })).to.throw(RangeError);
    expect(() => new LatencyTracker({ minMs: -1, maxMs: 100 })).to.throw(RangeError);
  });
});
