import { expect } from "chai";
import { Wallet } from "ethers";
import { ReplicaSet } from "../../scripts/drill/replicas";
import { DEV_KEYS } from "../../scripts/drill/setup";
import { until } from "./helpers/until";

/** Real anvils driven by the lockstep replica driver (scripts/drill/replicas.ts), manual clock. */
describe("ReplicaSet (lockstep anvil replicas)", function () {
  this.timeout(120_000);
  let set: ReplicaSet;

  const hashes = (n: number) => Promise.all(set.nodes.map((_, i) => set.hashAt(i, n)));
  const ticks = async (k: number) => {
    for (let j = 0; j < k; j++) await set.tick();
  };
  /** Every replica in `which` has the same hash as replica 0 at every height 0..tip. */
  const sameChain = async (which: number[]) => {
    for (let n = 0; n <= set.tip; n++) {
      const h = await Promise.all(which.map((i) => set.hashAt(i, n)));
      const ref = await set.hashAt(0, n);
      expect(ref, `replica 0 has block ${n}`).to.be.a("string");
      expect(h, `hashes at height ${n}`).to.deep.equal(which.map(() => ref));
    }
  };

  beforeEach(async () => {
    set = await ReplicaSet.create({
      names: ["a", "b", "c"],
      chainId: 4242,
      blockTimeSec: 2,
      clock: "manual",
      callTimeoutMs: 1000,
    });
    await set.start();
  });
  afterEach(async () => {
    await set.stop();
  });

  it("gives every replica the same genesis and the same block at every height over many ticks", async () => {
    await ticks(6);
    expect(set.tip).to.equal(6);
    expect(await Promise.all([0, 1, 2].map((i) => set.headOf(i)))).to.deep.equal([6, 6, 6]);
    await sameChain([1, 2]);
    const h6 = await hashes(6);
    expect(new Set(h6).size).to.equal(1);
    const block = await fetch(set.url(1), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_getBlockByNumber", params: ["0x6", false] }),
    }).then((r) => r.json() as Promise<{ result: { timestamp: string } }>);
    expect(Number(BigInt(block.result.timestamp))).to.equal(set.timestampOf(6));
  });

  it("leaves a halted replica behind while answering, then replays the blocks it missed", async () => {
    await ticks(2);
    set.halt(1);
    await ticks(3);
    expect(await set.headOf(1)).to.equal(2);
    expect(await set.headOf(0)).to.equal(5);
    expect(set.inSync(1)).to.equal(false);
    set.resume(1);
    await set.waitInSync(1);
    expect(await set.headOf(1)).to.equal(5);
    await sameChain([1, 2]);
  });

  it("replays a killed and restarted replica from genesis up to the others, with the same hashes", async () => {
    await ticks(3);
    await set.kill(2);
    await ticks(2);
    expect(set.state(2).mode).to.equal("dead");
    await set.restart(2);
    expect(set.inSync(2)).to.equal(true);
    await ticks(1);
    await sameChain([1, 2]);
  });

  it("never blocks a tick on a hung replica, and catches it up once it answers again", async () => {
    await ticks(1);
    set.hang(0);
    await ticks(3); // each tick waits at most callTimeoutMs for the hung replica
    expect(await set.headOf(1)).to.equal(4);
    expect(set.state(0).busy).to.equal(true);
    set.unhang(0);
    await set.waitInSync(0);
    await sameChain([1, 2]);
  });

  for (const position of ["equal", "behind", "ahead"] as const) {
    it(`forks a replica for real (${position}): same chain id, different hash at the same height`, async () => {
      await ticks(2);
      set.fork(1, position);
      await ticks(3);
      const offset = position === "ahead" ? 1 : position === "behind" ? -1 : 0;
      await until("the forked replica at its position", async () => (await set.headOf(1)) === 5 + offset);
      expect(await set.headOf(0)).to.equal(5);
      // honest below the fork, different from the fork on, at every common height
      expect(await set.hashAt(1, 2)).to.equal(await set.hashAt(0, 2));
      for (let n = 3; n <= 5 + Math.min(0, offset); n++)
        expect(await set.hashAt(1, n), `height ${n}`).to.not.equal(await set.hashAt(0, n));
      expect(await set.hashAt(2, 5)).to.equal(await set.hashAt(0, 5));
      const chainId = await fetch(set.url(1), {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
      }).then((r) => r.json() as Promise<{ result: string }>);
      expect(Number(BigInt(chainId.result))).to.equal(4242);
      await set.unfork(1);
      await sameChain([1, 2]);
    });
  }

  describe("with transactions", () => {
    /** A signed ETH transfer from dev account `k` (chain 4242), sent raw to replica `i`; @returns its hash. */
    const sendTo = async (i: number, k: number, nonce = 0) => {
      const raw = await new Wallet(DEV_KEYS[k]).signTransaction({
        type: 2,
        chainId: 4242,
        nonce,
        to: "0x000000000000000000000000000000000000dEaD",
        value: 1n,
        gasLimit: 21_000n,
        maxFeePerGas: 10n ** 10n,
        maxPriorityFeePerGas: 10n ** 9n,
      });
      return (await rpcCall<string>(set.url(i), "eth_sendRawTransaction", [raw])).toLowerCase();
    };
    const rpcCall = async <T>(url: string, method: string, params: unknown[]) => {
      const body = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
      }).then((r) => r.json() as Promise<{ result: T; error?: { message: string } }>);
      if (body.error) throw new Error(body.error.message);
      return body.result;
    };
    /** Block number of `hash` on replica i, or null while it has no receipt. */
    const minedOn = async (i: number, hash: string) => {
      const r = await rpcCall<{ blockNumber: string } | null>(set.url(i), "eth_getTransactionReceipt", [
        hash,
      ]);
      return r ? Number(BigInt(r.blockNumber)) : null;
    };

    it("mines a transaction sent to one replica into the same block on every replica", async () => {
      await ticks(1);
      const a = await sendTo(1, 1);
      const b = await sendTo(2, 2);
      await ticks(2);
      expect(set.includedIn(a)).to.equal(2);
      expect(set.includedIn(b)).to.equal(2);
      for (const i of [0, 1, 2]) {
        expect(await minedOn(i, a), `replica ${i}`).to.equal(2);
        expect(await minedOn(i, b), `replica ${i}`).to.equal(2);
      }
      await sameChain([1, 2]);
    });

    it("mines the same block when replicas received the same transactions in other orders", async () => {
      await ticks(1);
      const a = await sendTo(0, 1);
      const b = await sendTo(0, 2);
      expect(await sendTo(1, 2)).to.equal(b);
      expect(await sendTo(1, 1)).to.equal(a);
      await ticks(2);
      expect(set.includedIn(a)).to.equal(2);
      expect(set.includedIn(b)).to.equal(2);
      await sameChain([1, 2]);
    });

    it("replays the transactions on a killed and restarted replica", async () => {
      await ticks(1);
      const a = await sendTo(0, 1);
      await ticks(1);
      const b = await sendTo(2, 1, 1);
      await ticks(1);
      await set.kill(1);
      const c = await sendTo(0, 2);
      await ticks(2);
      await set.restart(1);
      for (const [h, n] of [
        [a, 2],
        [b, 3],
        [c, 4],
      ] as const)
        expect(await minedOn(1, h), `restarted replica has ${h} in block ${n}`).to.equal(n);
      await sameChain([1, 2]);
    });

    it("includes a transaction a halted replica accepted, and replays it there on resume", async () => {
      await ticks(1);
      set.halt(1);
      const a = await sendTo(1, 3);
      await ticks(2);
      expect(set.includedIn(a)).to.equal(2);
      expect(await minedOn(0, a)).to.equal(2);
      set.resume(1);
      await set.waitInSync(1);
      expect(await minedOn(1, a)).to.equal(2);
      await sameChain([1, 2]);
    });

    it("takes a transaction sent to a killed replica just before the kill onto the others", async () => {
      await ticks(1);
      const a = await sendTo(2, 3);
      await set.kill(2);
      await ticks(1);
      expect(set.includedIn(a)).to.equal(2);
      expect(await minedOn(0, a)).to.equal(2);
      expect(await minedOn(1, a)).to.equal(2);
    });
    it("takes a transaction a forked replica mined onto the honest chain, but never the fork's own", async () => {
      await ticks(1);
      set.fork(1, "equal");
      await ticks(1);
      const a = await sendTo(1, 4);
      await ticks(2);
      expect(set.includedIn(a)).to.be.a("number");
      expect(await minedOn(0, a)).to.equal(set.includedIn(a));
      expect(await minedOn(2, a)).to.equal(set.includedIn(a));
      expect(set.ledger.counts.mined, "only the client's transaction").to.equal(1);
      await set.unfork(1);
      await sameChain([1, 2]);
    });
  });

  describe("with the wall clock", () => {
    it("mines block n once the clock reaches its timestamp, on every replica alike", async () => {
      const wall = await ReplicaSet.create({ names: ["x", "y"], chainId: 4243, blockTimeSec: 1 });
      try {
        await wall.start();
        await until("three blocks on both replicas", async () =>
          (await Promise.all([0, 1].map((i) => wall.headOf(i)))).every((h) => h >= 3),
        );
        const head = Math.min(...(await Promise.all([0, 1].map((i) => wall.headOf(i)))));
        expect(await wall.hashAt(1, head)).to.equal(await wall.hashAt(0, head));
        expect(wall.timestampOf(head)).to.be.at.most(Math.floor(Date.now() / 1000));
      } finally {
        await wall.stop();
      }
    });
  });
});
