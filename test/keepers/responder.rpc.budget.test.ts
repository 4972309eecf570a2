/**
 * The multi-RPC rule without a chain: the union of per-RPC decisions (keepers/responder/sources.ts) and how the
 * actor (keepers/responder/act.ts) simulates, blames and caps what lying RPCs can cost. RPCs, the TxManager and the
 * clock are fakes: each case states what every RPC answers and checks what is sent and whom is blamed.
 */
import { expect } from "chai";
import { makeError, type AbstractProvider } from "ethers";
import { createLogger } from "../../keepers/shared/logger";
import { Metrics } from "../../keepers/shared/metrics";
import { Actor, type ActRequest } from "../../keepers/responder/act";
import { parseResponderConfig } from "../../keepers/responder/config";
import { responderMetrics } from "../../keepers/responder/metrics";
import { Outbox } from "../../keepers/responder/outbox";
import {
  MemberRevertBudgets,
  RevertBudget,
  unionProposals,
  type BlameKind,
  type Member,
  type ViewPool,
} from "../../keepers/responder/sources";
import type { ExecuteOutcome, TxManager } from "../../keepers/responder/tx";

const logger = createLogger("test", { level: process.env.VIGIL_TEST_LOG ?? "silent" });
const BASE = {
  chain: { rpcUrls: ["http://127.0.0.1:8545"], chainId: 31337 },
  contracts: {
    oracle: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
    registry: "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512",
  },
  attestorUrls: ["http://127.0.0.1:9101"],
  services: ["0x" + "aa".repeat(32)],
};

/** An RPC whose simulation of every call is clean (`ok`) or reverts, estimating `gas`. */
function rpc(index: number, ok: () => boolean, gas = 100_000n): Member & { calls: number } {
  const m = {
    index,
    label: `rpc${index}`,
    calls: 0,
    provider: {
      async call() {
        m.calls++;
        if (!ok()) throw makeError("execution reverted", "CALL_EXCEPTION", { data: "0x" } as never);
        return "0x";
      },
      async estimateGas() {
        return gas;
      },
    } as unknown as AbstractProvider,
  };
  return m;
}

function pool(members: Member[], fresh = members): ViewPool & { blamed: Array<[string, BlameKind]> } {
  const blamed: Array<[string, BlameKind]> = [];
  return {
    members,
    provider: {} as AbstractProvider,
    each: async () => [],
    fresh: () => fresh,
    blame: (m, kind) => void blamed.push([m.label, kind]),
    blamed,
  };
}

function actor(p: ViewPool, outcome: () => ExecuteOutcome, maxRevertedTxPerHour = 6) {
  const sent: bigint[] = [];
  const tx = {
    address: "0x0000000000000000000000000000000000000001",
    simulate: async () => {
      throw new Error("the facade is not used here");
    },
    execute: async (_req: unknown, hooks: { gasLimit?: bigint }) => {
      sent.push(hooks.gasLimit ?? 0n);
      return outcome();
    },
  } as unknown as TxManager;
  const metrics = new Metrics(false);
  const a = new Actor({
    config: parseResponderConfig({ ...BASE, maxRevertedTxPerHour }),
    logger,
    metrics,
    outbox: new Outbox(":memory:"),
    tx,
    pool: p,
    caps: { normal: 1n, safety: 2n },
  });
  return { a, sent, metrics };
}

const confirmed = (): ExecuteOutcome =>
  ({
    outcome: "confirmed",
    receipt: { hash: "0x01", blockNumber: 1, blockHash: "0x02", gasUsed: 1n },
    nonce: 0,
    replacements: 0,
  }) as never;
const reverted = (): ExecuteOutcome => ({ outcome: "failed", error: "transaction 0x01 reverted" });

function trip(proposers: Member[], dissenters: Member[] = []): ActRequest {
  return {
    kind: "trip",
    target: "1",
    to: "0x" + "11".repeat(20),
    data: "0x",
    proposers,
    dissenters,
    safety: true,
    log: logger,
  };
}

describe("responder multi-RPC rule (sources and actor, fakes)", function () {
  describe("unionProposals", function () {
    const [a, b] = [rpc(0, () => true), rpc(1, () => true)];
    const id = (x: string) => x;
    const rank = (x: string) => (x.startsWith("trip") ? 0 : 1);

    it("a single RPC's list comes back unchanged, with no dissenters", function () {
      const out = unionProposals([{ member: a, value: ["trip:1", "resume:2", "trip:3"] }], id, () => 0);
      expect(out.map((p) => p.key)).to.deep.equal(["trip:1", "resume:2", "trip:3"]);
      expect(out.every((p) => p.dissenters.length === 0 && p.proposers[0] === a)).to.equal(true);
    });

    it("an action is a candidate when any RPC calls it due, tagged with its proposers and dissenters, safety first", function () {
      const out = unionProposals(
        [
          { member: a, value: ["resume:2"] },
          { member: b, value: ["resume:2", "trip:1"] },
        ],
        id,
        rank,
      );
      expect(
        out.map((p) => [p.key, p.proposers.map((m) => m.label), p.dissenters.map((m) => m.label)]),
      ).to.deep.equal([
        ["trip:1", ["rpc1"], ["rpc0"]],
        ["resume:2", ["rpc0", "rpc1"], []],
      ]);
    });
  });

  describe("RevertBudget", function () {
    it("is exhausted at maxPerHour reverted transactions and forgets them after an hour", function () {
      let now = 0;
      const b = new RevertBudget(2, () => now);
      b.add();
      expect(b.exhausted()).to.equal(false);
      b.add();
      expect([b.used(), b.exhausted()]).to.deep.equal([2, true]);
      now = 3_600_001;
      expect([b.used(), b.exhausted()]).to.deep.equal([0, false]);
    });
  });

  describe("MemberRevertBudgets", function () {
    it("counts each RPC against its own budget and forgets after an hour", function () {
      let now = 0;
      const [x, y] = [rpc(0, () => true), rpc(1, () => true)];
      const b = new MemberRevertBudgets(2, () => now);
      b.add(x);
      b.add(x);
      b.add(y);
      expect([b.over(x), b.over(y), b.used(x), b.used(y)]).to.deep.equal([true, false, 2, 1]);
      now = 3_600_001;
      expect([b.over(x), b.used(x)]).to.deep.equal([false, 0]);
    });
  });

  describe("Actor", function () {
    it("a revert on one proposer is no reason to skip when another proposer simulates cleanly", async function () {
      const [bad, good] = [rpc(0, () => false), rpc(1, () => true)];
      const { a, sent } = actor(pool([bad, good]), confirmed);
      const r = await a.act(trip([bad, good]), new AbortController().signal);
      expect(r.sent).to.equal(true);
      expect(sent).to.deep.equal([125_000n]); // the clean simulation's estimate plus 25%
    });

    it("the gas limit is the largest clean estimate of the proposers, not the first one's", async function () {
      // The liar calls the trip due too and answers eth_estimateGas with a plain transfer's gas.
      const liar = rpc(0, () => true, 21_000n);
      const honest = rpc(1, () => true, 100_000n);
      const { a, sent } = actor(pool([liar, honest]), confirmed);
      const r = await a.act(trip([liar, honest]), new AbortController().signal);
      expect(r.sent && r.gasLimit).to.equal(125_000n);
      expect(sent).to.deep.equal([125_000n]);
      expect([liar.calls, honest.calls]).to.deep.equal([1, 1]);
    });

    it("not sent when every proposer's simulation reverts", async function () {
      const [x, y] = [rpc(0, () => false), rpc(1, () => false)];
      const { a, sent } = actor(pool([x, y]), confirmed);
      const r = await a.act(trip([x, y]), new AbortController().signal);
      expect(r.sent).to.equal(false);
      expect(sent).to.deep.equal([]);
    });

    it('blames "lied" a fresh RPC whose "not due" contradicts its own clean simulation, not one that reverts', async function () {
      const honest = rpc(0, () => true);
      const liar = rpc(1, () => true); // its views said not due, yet trip() simulates cleanly on it
      const lagging = rpc(2, () => false); // not due and its simulation agrees: a different state, not a lie
      const p = pool([honest, liar, lagging]);
      const { a, metrics } = actor(p, confirmed);
      await a.act(trip([honest], [liar, lagging]), new AbortController().signal);
      expect(p.blamed).to.deep.equal([["rpc1", "lied"]]);
      const d = (await responderMetrics(metrics).rpcDisagreements.get()).values;
      expect(d.map((v) => [v.labels.action, v.value])).to.deep.equal([["trip", 1]]);
    });

    it("a dissenter that is not fresh (down, frozen, lagging) is not asked and not blamed", async function () {
      const honest = rpc(0, () => true);
      const stale = rpc(1, () => true);
      const p = pool([honest, stale], [honest]);
      const { a } = actor(p, confirmed);
      await a.act(trip([honest], [stale]), new AbortController().signal);
      expect(p.blamed).to.deep.equal([]);
      expect(stale.calls).to.equal(0);
    });

    it("a lying RPC costs at most maxRevertedTxPerHour reverted transactions: then every fresh RPC must agree", async function () {
      // The liar calls the trip due and simulates it cleanly; the chain reverts it; the honest RPC's simulation reverts.
      const liar = rpc(0, () => true);
      const honest = rpc(1, () => false);
      const p = pool([liar, honest]);
      const { a, sent, metrics } = actor(p, reverted, 2);
      for (let i = 0; i < 10; i++) await a.act(trip([liar], [honest]), new AbortController().signal);
      expect(sent).to.have.length(2);
      expect(p.blamed).to.deep.equal([
        ["rpc0", "reverted"],
        ["rpc0", "reverted"],
      ]);
      expect((await responderMetrics(metrics).revertedTxs.get()).values[0].value).to.equal(2);
      expect((await responderMetrics(metrics).revertedLastHour.get()).values[0].value).to.equal(2);
    });

    it("a liar that burned the budget with false dues can neither veto a real action nor propose again", async function () {
      let due = false; // what the chain says: the trip is due (the liar says so always)
      const liar = rpc(0, () => !due); // its simulation agrees with its lie, and reverts the real trip
      const honest = rpc(1, () => due);
      const p = pool([liar, honest]);
      const { a, sent } = actor(p, () => (due ? confirmed() : reverted()), 2);
      for (let i = 0; i < 2; i++) await a.act(trip([liar], [honest]), new AbortController().signal);
      expect([a.reverts.exhausted(), a.memberReverts.over(liar), a.memberReverts.over(honest)]).to.deep.equal(
        [true, true, false],
      );
      const again = await a.act(trip([liar], [honest]), new AbortController().signal);
      expect(again.sent === false && again.reason).to.equal(
        "proposed only by RPCs over their own revert budget",
      );
      expect(sent).to.have.length(2);
      due = true;
      const real = await a.act(trip([honest], [liar]), new AbortController().signal);
      expect(real.sent && real.status).to.equal("confirmed");
      expect(sent).to.have.length(3);
    });

    it("past the budget, a fresh RPC within its own budget whose simulation reverts vetoes", async function () {
      const [x, y, z] = [rpc(0, () => true), rpc(1, () => false), rpc(2, () => true)];
      const { a, sent } = actor(pool([x, y, z]), reverted, 1);
      await a.act(trip([z], [x, y]), new AbortController().signal); // z's false due: z over its own budget
      expect([a.reverts.exhausted(), a.memberReverts.over(z)]).to.deep.equal([true, true]);
      const r = await a.act(trip([x], [y]), new AbortController().signal);
      expect(r.sent).to.equal(false);
      expect(sent).to.have.length(1);
    });

    it("past the budget, an action every fresh RPC simulates cleanly is still sent", async function () {
      const [x, y] = [rpc(0, () => true), rpc(1, () => true)];
      let n = 0;
      const { a, sent } = actor(pool([x, y]), () => (n++ < 1 ? reverted() : confirmed()), 1);
      await a.act(trip([x, y]), new AbortController().signal);
      expect(a.reverts.exhausted()).to.equal(true);
      // every fresh RPC proposed the revert: evidence against none of them
      expect([a.memberReverts.used(x), a.memberReverts.used(y)]).to.deep.equal([0, 0]);
      const r = await a.act(trip([x]), new AbortController().signal);
      expect(r.sent).to.equal(true);
      expect(sent).to.have.length(2);
    });

    it("a mined lost race that every RPC proposed counts against the budget but blames nobody", async function () {
      const [x, y] = [rpc(0, () => true), rpc(1, () => true)];
      const p = pool([x, y]);
      const { a } = actor(p, () => ({
        outcome: "lost_race",
        revert: { message: "MarketGuardTripNotDue" },
        stage: "mined",
      }));
      await a.act(trip([x, y]), new AbortController().signal);
      expect(a.reverts.used()).to.equal(1);
      expect(p.blamed).to.deep.equal([]);
    });
  });
});
