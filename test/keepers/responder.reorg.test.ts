import { expect } from "chai";
import { HDNodeWallet, JsonRpcProvider, Network, parseUnits, Wallet } from "ethers";
import { Outbox } from "../../keepers/responder/outbox";
import { ReorgWatch } from "../../keepers/responder/reorgs";
import { vigilReverts } from "../../keepers/responder/reverts";
import { TxManager, type ExecuteOutcome, type SignedTx } from "../../keepers/responder/tx";
import { createLogger } from "../../keepers/shared/logger";
import { Anvil } from "./helpers/anvil";
import { until } from "./helpers/until";

/** Runtime `slot0 += 1` behind a minimal constructor: the action's on-chain effect, counted. */
const COUNTER_INIT = "0x600a600c600039600a6000f3" + "60016000540160005500";
const MNEMONIC = "test test test test test test test test test test test junk";
const key = (i: number) => HDNodeWallet.fromPhrase(MNEMONIC, undefined, `m/44'/60'/0'/0/${i}`).privateKey;
const logger = createLogger("test", { level: "silent" });

describe("responder reorgs: a confirmed action whose block is reorganised away is applied again, once", function () {
  this.timeout(120_000);
  let anvil: Anvil;
  let provider: JsonRpcProvider;
  let next = 1;
  before(async function () {
    anvil = await Anvil.start({ args: ["--accounts", "12"] }); // automine: a broadcast is mined at once
    provider = anvil.provider(50);
  });
  after(async function () {
    provider.destroy();
    await anvil.stop();
  });

  /** A fresh signer, its TxManager and outbox, a fresh counter, and the responder's act/reconcile steps. */
  async function setup(confirmations = 1, managerProvider: JsonRpcProvider = provider) {
    const wallet = new Wallet(key(next++), managerProvider);
    const deploy = await wallet.sendTransaction({ data: COUNTER_INIT });
    const counter = (await deploy.wait())!.contractAddress!;
    const outbox = new Outbox(":memory:");
    const tx = new TxManager({
      wallet,
      provider: managerProvider,
      chainId: anvil.chainId,
      logger,
      reverts: vigilReverts,
      confirmations,
      maxFeeCapWei: parseUnits("100", "gwei"),
      pollMs: 50,
    });
    const hooks = (id: number) => ({
      onSigned: (nonce: number, t: SignedTx) =>
        outbox.recordBroadcast(id, nonce, {
          ...t,
          maxFeePerGas: String(t.maxFeePerGas),
          maxPriorityFeePerGas: String(t.maxPriorityFeePerGas),
        }),
    });
    const act = async (): Promise<{ id: number; outcome: ExecuteOutcome }> => {
      const id = outbox.record("trip", "1", counter, "0x");
      const outcome = await tx.execute({ to: counter, data: "0x" }, hooks(id));
      outbox.settle(id, outcome);
      return { id, outcome };
    };
    /** What the responder's reconcile does with an open action: resume from its recorded transactions. */
    const reconcile = async () => {
      for (const a of outbox.unfinished()) {
        const outcome = await tx.execute({ to: a.to, data: a.data }, { resumeTxs: a.txs, ...hooks(a.id) });
        outbox.settle(a.id, outcome, true);
      }
    };
    const watch = new ReorgWatch({ outbox, provider, logger, windowBlocks: 20 });
    const effects = async () => BigInt(await provider.getStorage(counter, 0));
    return { wallet, counter, outbox, tx, act, reconcile, watch, effects };
  }

  for (const depth of [1, 3, 12]) {
    it(`depth ${depth}: the receipt vanishes, the watch reopens the action and re-broadcasts it, applied exactly once`, async function () {
      const s = await setup();
      const { id, outcome } = await s.act();
      expect(outcome.outcome).to.equal("confirmed");
      const minedIn = outcome.outcome === "confirmed" ? outcome.receipt : undefined;
      expect(await s.effects()).to.equal(1n);
      // The action's block is the deepest of the `depth` blocks the reorg replaces.
      if (depth > 1) await anvil.mine(depth - 1);
      expect(await s.watch.check()).to.equal(0);

      await anvil.send("anvil_reorg", [depth, []]);
      expect(await provider.getTransactionReceipt(minedIn!.hash)).to.equal(null);
      expect(await s.effects()).to.equal(0n); // the reorg undid it; anvil drops the reorganised transactions

      expect(await s.watch.check()).to.equal(1);
      expect(s.outbox.get(id)).to.include({ status: "sent" });
      expect(s.outbox.get(id)!.note).to.match(/vanished/);
      // The same signed bytes were broadcast again (same hash) and automining applied them.
      await until(
        "the re-broadcast transaction mined",
        async () => !!(await provider.getTransactionReceipt(minedIn!.hash)),
      );
      await s.reconcile();
      const after = s.outbox.get(id)!;
      expect(after.status).to.equal("confirmed");
      expect(after.txs.map((t) => t.hash)).to.deep.equal([minedIn!.hash]);
      expect(after.txs[0].blockHash).to.not.equal(minedIn!.blockHash);
      expect(await s.effects()).to.equal(1n);

      // A second check finds the new receipt where the outbox says: nothing reopened, nothing applied again.
      expect(await s.watch.check()).to.equal(0);
      await anvil.mine();
      expect(await s.watch.check()).to.equal(0);
      expect(await s.effects()).to.equal(1n);
      const n = await s.tx.nonces();
      expect(n.pending).to.equal(n.latest);
      s.outbox.close();
    });
  }

  it("a mined cancel reorganised away: reopened, the same cancel broadcast again, still cancelled, the action never applied", async function () {
    const s = await setup();
    const id = s.outbox.record("trip", "1", s.counter, "0x");
    let cancel = "";
    await anvil.send("evm_setAutomine", [false]); // the action stays pending until its deadline cancels it
    try {
      const run = s.tx.execute(
        { to: s.counter, data: "0x" },
        {
          deadlineMs: Date.now() + 200,
          onSigned: (nonce, t) => {
            if (t.role === "cancel") cancel = t.hash;
            s.outbox.recordBroadcast(id, nonce, {
              ...t,
              maxFeePerGas: String(t.maxFeePerGas),
              maxPriorityFeePerGas: String(t.maxPriorityFeePerGas),
            });
          },
        },
      );
      await until(
        "the cancel in the pool",
        async () => !!cancel && !!(await provider.getTransaction(cancel)),
      );
      await anvil.mine();
      expect(s.outbox.settle(id, await run)).to.equal("cancelled");
    } finally {
      await anvil.send("evm_setAutomine", [true]);
    }
    await anvil.send("anvil_reorg", [1, []]);
    expect(await provider.getTransactionReceipt(cancel)).to.equal(null);
    expect(await s.watch.check()).to.equal(1);
    expect(s.outbox.get(id)).to.include({ status: "sent" });
    await until("the cancel mined again", async () => !!(await provider.getTransactionReceipt(cancel)));
    await s.reconcile();
    expect(s.outbox.get(id)).to.include({ status: "cancelled" });
    expect(await s.effects()).to.equal(0n);
    expect(await s.watch.check()).to.equal(0);
    const n = await s.tx.nonces();
    expect(n.pending).to.equal(n.latest);
    s.outbox.close();
  });

  it("a receipt one RPC does not have yet reopens nothing while the recorded block is where it was", async function () {
    const s = await setup();
    const { id } = await s.act();
    class Lagging extends JsonRpcProvider {
      override async getTransactionReceipt() {
        return null;
      }
    }
    const network = Network.from(anvil.chainId);
    const lagging = new Lagging(anvil.url, network, {
      staticNetwork: network,
      batchMaxCount: 1,
      cacheTimeout: -1,
    });
    try {
      const watch = new ReorgWatch({ outbox: s.outbox, provider: lagging, logger, windowBlocks: 20 });
      expect(await watch.check()).to.equal(0);
      expect(s.outbox.get(id)).to.include({ status: "confirmed" });
      expect(() => new ReorgWatch({ outbox: s.outbox, provider: lagging, logger, windowBlocks: 0 })).to.throw(
        /windowBlocks/,
      );
    } finally {
      lagging.destroy();
      s.outbox.close();
    }
  });

  it("when the nonce was used by another transaction after the reorg, reconcile simulates and sends the action anew, once", async function () {
    const s = await setup();
    const { id, outcome } = await s.act();
    const hash = outcome.outcome === "confirmed" ? outcome.receipt.hash : "";
    await anvil.mine(2);
    await anvil.send("anvil_reorg", [3, []]);
    expect(await s.effects()).to.equal(0n);
    // The same key sends something else first (another process, an operator): it takes the action's nonce.
    await (await s.wallet.sendTransaction({ to: s.wallet.address, value: 1n })).wait();
    expect(await s.watch.check()).to.equal(1); // its re-broadcast is refused: nonce too low
    expect(await provider.getTransactionReceipt(hash)).to.equal(null);
    await s.reconcile();
    const after = s.outbox.get(id)!;
    expect(after.status).to.equal("confirmed");
    expect(after.txs.length).to.equal(2);
    expect(await s.effects()).to.equal(1n);
    expect(await s.watch.check()).to.equal(0);
    s.outbox.close();
  });

  it("a reorg while the TxManager waits for confirmations: the same transaction again, confirmed once", async function () {
    /** The manager's provider: says when the manager has seen the receipt (then the reorg is one it must see). */
    class Seen extends JsonRpcProvider {
      seen = false;
      override async getTransactionReceipt(hash: string) {
        const r = await super.getTransactionReceipt(hash);
        if (r) this.seen = true;
        return r;
      }
    }
    const network = Network.from(anvil.chainId);
    const seen = new Seen(anvil.url, network, { staticNetwork: network, batchMaxCount: 1, cacheTimeout: -1 });
    const s = await setup(3, seen);
    const id = s.outbox.record("trip", "1", s.counter, "0x");
    seen.seen = false; // (the deploy's receipt was seen too)
    let hash = "";
    const run = s.tx.execute(
      { to: s.counter, data: "0x" },
      {
        onSigned: (nonce, t) => {
          hash = t.hash;
          s.outbox.recordBroadcast(id, nonce, {
            ...t,
            maxFeePerGas: String(t.maxFeePerGas),
            maxPriorityFeePerGas: String(t.maxPriorityFeePerGas),
          });
        },
      },
    );
    await until("the manager saw the action mined", async () => !!hash && seen.seen);
    await anvil.send("anvil_reorg", [1, []]);
    // The manager sees the receipt gone and broadcasts the same bytes: mined again (automine).
    await until("the action mined again", async () => !!(await provider.getTransactionReceipt(hash)));
    await anvil.mine(2);
    const outcome = await run;
    expect(outcome.outcome).to.equal("confirmed");
    expect(s.outbox.settle(id, outcome)).to.equal("confirmed");
    expect(await s.effects()).to.equal(1n);
    s.outbox.close();
    seen.destroy();
  });
});
