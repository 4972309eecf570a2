import { expect } from "chai";
import {
  accountIncidents,
  findDuplicates,
  findNonceGaps,
  judgeFeeSpike,
  type BlockView,
  type EffectEvent,
  type IncidentSpec,
  type MinedTx,
} from "../../scripts/chaos/accounting";
import { planSequence } from "../../scripts/chaos/run";
import { seededRng } from "../../scripts/chaos/random";
import { txKind } from "../../scripts/chaos/scan";

const S = "0x" + "11".repeat(32);
const A = "0x" + "aa".repeat(32);
const B = "0x" + "bb".repeat(32);
const R1 = "0x" + "01".repeat(20);

// Views: migration ACTIVE_USABLE (2), trip DEPENDENCIES_USABLE (3), resume NOT_PAUSED (2) unless overridden.
function views(from: number, to: number, over: Record<number, Partial<BlockView>> = {}): BlockView[] {
  const out: BlockView[] = [];
  for (let b = from; b <= to; b++)
    out.push({ block: b, timestamp: 1000 + b, migration: 2, trip: 3, resume: 2, ...over[b] });
  return out;
}
const migrated = (block: number, from: string, to: string, failback: boolean): EffectEvent => ({
  kind: "migrated",
  serviceId: S,
  from,
  to,
  failback,
  block,
  tx: `0xm${block}`,
  logIndex: 0,
});
const paused = (block: number, logIndex = 0): EffectEvent => ({
  kind: "paused",
  marketId: "1",
  block,
  tx: `0xp${block}`,
  logIndex,
});
const resumed = (block: number): EffectEvent => ({
  kind: "resumed",
  marketId: "1",
  block,
  tx: `0xr${block}`,
  logIndex: 0,
});
const tx = (nonce: number, block: number, ok = true, kind = "trip"): MinedTx => ({
  from: R1,
  nonce,
  block,
  hash: `0x${nonce}`,
  ok,
  kind,
});

describe("chaos accounting", () => {
  const migrate: IncidentSpec = {
    id: 1,
    name: "m",
    startBlock: 10,
    endBlock: 40,
    transitions: ["failover", "failback"],
  };
  const outage: IncidentSpec = {
    id: 2,
    name: "o",
    startBlock: 50,
    endBlock: 80,
    transitions: ["pause", "resume"],
  };

  it("counts applied transitions and times them from the first block their view said due", () => {
    const v = views(10, 80, {
      12: { migration: 0 },
      13: { migration: 0 },
      25: { migration: 1 },
      26: { migration: 1 },
      55: { trip: 0 },
      70: { resume: 0 },
    });
    const ev = [migrated(14, A, B, false), migrated(27, B, A, true), paused(56), resumed(72)];
    const [m, o] = accountIncidents([migrate, outage], ev, v, []);
    expect(m).to.include({ needed: 2, applied: 2, lost: 0 });
    expect(m.transitions.map((t) => [t.dueBlock, t.appliedBlock, t.blocksDueToApplied])).to.deep.equal([
      [12, 14, 2],
      [25, 27, 2],
    ]);
    expect(o.transitions.map((t) => t.secondsDueToApplied)).to.deep.equal([1, 2]);
  });

  it("a due transition with no effect inside the incident is lost, even when one lands after it", () => {
    const v = views(50, 90, { 55: { trip: 0 }, 56: { trip: 0 }, 75: { resume: 0 }, 76: { resume: 0 } });
    const [o] = accountIncidents([outage], [paused(56), resumed(85)], v, []);
    expect(o).to.include({ needed: 2, applied: 1, lost: 1, neverDue: 0 });
    expect(o.transitions[1]).to.include({ kind: "resume", applied: false, dueBlock: 75 });
  });

  it("a transition never due and never applied is not lost but never due", () => {
    const [o] = accountIncidents([outage], [paused(56)], views(50, 80, { 55: { trip: 0 } }), []);
    expect(o).to.include({ applied: 1, lost: 0, neverDue: 1 });
  });

  it("a failback does not stand in for a failover (and the reverse)", () => {
    const [m] = accountIncidents(
      [migrate],
      [migrated(20, B, A, true)],
      views(10, 40, { 12: { migration: 0 } }),
      [],
    );
    expect(m.transitions.map((t) => t.applied)).to.deep.equal([false, true]);
    expect(m.lost).to.equal(1);
  });

  it("an effect applied in the block that made it due counts zero blocks", () => {
    const [o] = accountIncidents([outage], [paused(60), resumed(70)], views(50, 80), []);
    expect(o.transitions[0]).to.include({ dueBlock: 60, blocksDueToApplied: 0 });
  });

  it("an effect no transition of the incident needed is extra; one at the start block belongs to the previous incident", () => {
    const ev = [paused(50), migrated(52, A, B, false), migrated(55, B, A, true), paused(56), resumed(72)];
    const [o] = accountIncidents([outage], ev, views(50, 80), []);
    expect(o.lost).to.equal(0);
    expect(o.extra.map((e) => [e.kind, e.block])).to.deep.equal([
      ["migrated", 52],
      ["migrated", 55],
    ]);
    const [again] = accountIncidents([outage], [paused(56), paused(60), resumed(72)], views(50, 80), []);
    expect(again.extra.map((e) => e.block)).to.deep.equal([60]);
    const tolerant = { ...outage, tolerated: ["migrated" as const] };
    const [t] = accountIncidents([tolerant], ev, views(50, 80), []);
    expect(t.extra).to.deep.equal([]);
  });

  it("counts reverted responder transactions per incident and kind", () => {
    const txs = [
      tx(0, 15, false, "migrate"),
      tx(1, 16, true, "migrate"),
      tx(2, 57, false, "trip"),
      tx(3, 58, false, "trip"),
    ];
    const [m, o] = accountIncidents([migrate, outage], [], views(10, 80), txs);
    expect(m.wasted).to.equal(1);
    expect(o.wastedByKind).to.deep.equal({ trip: 2 });
  });

  it("finds duplicated effects: a migration repeated, a pause without a resume between, a resume twice", () => {
    const ok = [
      migrated(14, A, B, false),
      migrated(27, B, A, true),
      migrated(40, A, B, false),
      paused(56),
      resumed(72),
      paused(90),
    ];
    expect(findDuplicates(ok)).to.deep.equal([]);
    const dup = [
      migrated(14, A, B, false),
      migrated(15, A, B, false),
      paused(56),
      paused(56, 1),
      resumed(72),
      resumed(73),
    ];
    const found = findDuplicates(dup);
    expect(found.map((d) => [d.kind, d.block])).to.deep.equal([
      ["migrated", 15],
      ["paused", 56],
      ["resumed", 73],
    ]);
    // out of order input is sorted by block and log index first
    expect(findDuplicates([paused(60), resumed(58), paused(57)])).to.deep.equal([]);
  });

  it("finds nonce gaps: a missing mined nonce, stuck pending transactions, queued ones", () => {
    const txs = [tx(0, 1), tx(1, 2), tx(2, 3)];
    expect(findNonceGaps([{ address: R1, latest: 3, pending: 3, queued: 0 }], txs)).to.deep.equal([]);
    const missing = findNonceGaps([{ address: R1, latest: 4, pending: 4, queued: 0 }], txs);
    expect(missing).to.have.length(1);
    expect(missing[0].detail).to.match(/nonce\(s\) 3 below 4/);
    const stuck = findNonceGaps(
      [{ address: R1.toUpperCase().replace("0X", "0x"), latest: 3, pending: 5, queued: 2 }],
      txs,
    );
    expect(stuck.map((g) => g.detail)).to.have.length(2);
    expect(findNonceGaps([{ address: R1, latest: 2, pending: 2, queued: 0 }], txs)[0].detail).to.match(
      /at or above/,
    );
  });

  it("judges the fee spike on blocks from due to the pause (goal 3)", () => {
    const spike = { spikeBlock: 50, baseFeeBeforeWei: "1", baseFeeSpikeWei: "50" };
    const [o] = accountIncidents([outage], [paused(59), resumed(70)], views(50, 80, { 55: { trip: 0 } }), []);
    const late = judgeFeeSpike(spike, o.transitions[0]);
    expect(late).to.include({
      dueBlock: 55,
      pauseBlock: 59,
      blocksDueToPause: 4,
      blocksSpikeToPause: 9,
      withinGoal: false,
    });
    const [o2] = accountIncidents(
      [outage],
      [paused(58), resumed(70)],
      views(50, 80, { 55: { trip: 0 } }),
      [],
    );
    expect(judgeFeeSpike(spike, o2.transitions[0]).withinGoal).to.equal(true);
    expect(judgeFeeSpike(spike, undefined).withinGoal).to.equal(false);
  });

  it("names responder transactions by the function they call, and a 0-value self-send as a cancel", () => {
    expect(txKind({ to: R1, from: R1, data: "0x" })).to.equal("cancel");
    expect(txKind({ to: R1, from: "0x" + "02".repeat(20), data: "0x" })).to.equal("other");
  });

  it("plans the requested kills over the untimed incidents, reorgs at depth 1, 3 and 12", () => {
    const full = planSequence(false, 50);
    expect(full.reduce((n, p) => n + p.kills, 0)).to.equal(50);
    expect(full.filter((p) => p.rpc || p.feeSpike).every((p) => p.kills === 0)).to.equal(true);
    expect(full.filter((p) => p.reorg).map((p) => p.reorg!.depth)).to.deep.equal([1, 3, 12]);
    expect(full.map((p) => p.rpc).filter(Boolean)).to.deep.equal([
      "honest",
      "refuse",
      "hang",
      "frozen",
      "lie",
    ]);
    const a = seededRng(5);
    const b = seededRng(5);
    expect([a.next(), a.int(10)]).to.deep.equal([b.next(), b.int(10)]);
  });
});
