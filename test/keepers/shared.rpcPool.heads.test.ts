import { expect } from "chai";
import { HeadTable } from "../../keepers/shared/rpc/heads";

describe("RpcPool head table (down, frozen, lagging rules)", () => {
  let now = 0;
  const clock = () => now;
  const rules = { lagBlocks: 3, frozenAfterMs: 1000, backoffBaseMs: 100, backoffCapMs: 800 };
  beforeEach(() => {
    now = 1_000_000;
  });

  it("freezes nobody on an idle chain where no head moves", () => {
    const t = new HeadTable(2, rules, clock);
    t.answered(0, 10);
    t.answered(1, 10);
    now += 60_000;
    expect(t.evaluate()).to.deep.equal([]);
    expect([t.status(0), t.status(1)]).to.deep.equal(["fresh", "fresh"]);
  });

  it("calls a member frozen when it sits behind for frozenAfterMs while another head advanced", () => {
    const t = new HeadTable(2, rules, clock);
    t.answered(0, 10);
    t.answered(1, 11);
    expect(t.evaluate()).to.deep.equal([]);
    now += 999;
    t.evaluate();
    expect(t.status(0)).to.equal("fresh");
    now += 1;
    expect(t.evaluate()).to.deep.equal([{ index: 0, from: "fresh", to: "frozen", head: 10, maxHead: 11 }]);
  });

  it("does not freeze a member that is behind but advancing", () => {
    const t = new HeadTable(2, rules, clock);
    t.answered(0, 10);
    t.answered(1, 12);
    for (let i = 0; i < 10; i++) {
      now += 600;
      t.answered(0, 11 + i);
      t.answered(1, 12 + i);
      t.evaluate();
      expect(t.status(0)).to.equal("fresh");
    }
  });

  it("calls a member lagging at more than lagBlocks behind, and fresh again when it catches up", () => {
    const t = new HeadTable(2, rules, clock);
    t.answered(0, 10);
    t.answered(1, 13);
    t.evaluate();
    expect(t.status(0)).to.equal("fresh");
    t.answered(1, 14);
    expect(t.evaluate()).to.deep.equal([{ index: 0, from: "fresh", to: "lagging", head: 10, maxHead: 14 }]);
    expect(t.lag(0)).to.equal(4);
    t.answered(0, 14);
    expect(t.evaluate()).to.deep.equal([{ index: 0, from: "lagging", to: "fresh", head: 14, maxHead: 14 }]);
  });

  it("leaves a down member's head out of the highest head", () => {
    const t = new HeadTable(2, rules, clock);
    t.answered(0, 100);
    t.answered(1, 10);
    expect(t.failed(0)).to.equal(true);
    expect(t.evaluate()).to.deep.equal([{ index: 0, from: "fresh", to: "down", head: 100, maxHead: 10 }]);
    expect(t.status(1)).to.equal("fresh");
    expect(t.maxHead()).to.equal(10);
  });

  it("leaves a lying member's head out of the highest head: honest members stay fresh, it is lying", () => {
    const t = new HeadTable(2, rules, clock);
    t.answered(0, 1010);
    t.answered(1, 10);
    t.setLying(0, true);
    expect(t.evaluate()).to.deep.equal([{ index: 0, from: "fresh", to: "lying", head: 1010, maxHead: 10 }]);
    expect(t.status(1)).to.equal("fresh");
    expect(t.maxHead()).to.equal(10);
    expect(t.lag(1)).to.equal(0);
    t.answered(0, 10);
    t.setLying(0, false);
    expect(t.evaluate()).to.deep.equal([{ index: 0, from: "lying", to: "fresh", head: 10, maxHead: 10 }]);
  });

  it("re-probes a down member with doubling backoff up to the cap, and reports its return once", () => {
    const t = new HeadTable(1, rules, clock);
    expect(t.failed(0)).to.equal(true);
    expect(t.dueForProbe(0)).to.equal(false);
    const waits: number[] = [];
    for (let i = 0; i < 5; i++) {
      const start = now;
      while (!t.dueForProbe(0)) now += 1;
      waits.push(now - start);
      expect(t.failed(0)).to.equal(false);
    }
    expect(waits).to.deep.equal([100, 200, 400, 800, 800]);
    expect(t.answered(0, 5)).to.equal(true);
    expect(t.answered(0, 6)).to.equal(false);
    expect(t.dueForProbe(0)).to.equal(true);
  });
});
