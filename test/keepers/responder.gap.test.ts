import { expect } from "chai";
import { HDNodeWallet, JsonRpcProvider, parseUnits, Wallet } from "ethers";
import { outboxGapFiller } from "../../keepers/responder/gaps";
import { Outbox } from "../../keepers/responder/outbox";
import { vigilReverts } from "../../keepers/responder/reverts";
import { TxManager, type ExecuteOutcome, type SignedTx } from "../../keepers/responder/tx";
import { createLogger } from "../../keepers/shared/logger";
import { Anvil } from "./helpers/anvil";
import { until } from "./helpers/until";

/** Runtime `slot0 += 1` behind a minimal constructor: an action's on-chain effect, counted. */
const COUNTER_INIT = "0x600a600c600039600a6000f3" + "60016000540160005500";
const MNEMONIC = "test test test test test test test test test test test junk";
const key = (i: number) => HDNodeWallet.fromPhrase(MNEMONIC, undefined, `m/44'/60'/0'/0/${i}`).privateKey;
const logger = createLogger("test", { level: "silent" });

/**
 * The chaos run's NONCE GAP: an action confirmed at nonce N, the next transaction (N+1) waiting in the pool, then a
 * reorg removes N's block and no reorg watch runs (the process is blocked waiting on N+1, or N's block is past the
 * watch window). The TxManager waiting on N+1 must see that nothing is mined at N and fill it.
 */
describe("responder nonce gaps: a transaction waiting behind a nonce a reorg emptied fills the gap", function () {
  this.timeout(120_000);
  let anvil: Anvil;
  let provider: JsonRpcProvider;
  let next = 1;
  before(async function () {
    anvil = await Anvil.start({ args: ["--accounts", "12"] });
    provider = anvil.provider(50);
  });
  after(async function () {
    provider.destroy();
    await anvil.stop();
  });
  afterEach(async function () {
    await anvil.send("evm_setAutomine", [true]);
  });

  async function setup(withFiller: boolean) {
    const wallet = new Wallet(key(next++), provider);
    const counter = (await (await wallet.sendTransaction({ data: COUNTER_INIT })).wait())!.contractAddress!;
    // One increment first: every later one costs the same gas (N+1's, estimated with N applied, also suffices
    // without it).
    await (await wallet.sendTransaction({ to: counter, data: "0x" })).wait();
    const outbox = new Outbox(":memory:");
    const gaps: Array<{ nonce: number; how: string }> = [];
    const tx = new TxManager({
      wallet,
      provider,
      chainId: anvil.chainId,
      logger,
      reverts: vigilReverts,
      maxFeeCapWei: parseUnits("100", "gwei"),
      stuckAfterMs: 300,
      pollMs: 50,
      fillGap: withFiller ? outboxGapFiller({ outbox, provider, logger }) : undefined,
      onNonceGap: (nonce, how) => gaps.push({ nonce, how }),
    });
    const hooks = (id: number, seen?: (t: SignedTx) => void) => ({
      onSigned: (nonce: number, t: SignedTx) => {
        seen?.(t);
        outbox.recordBroadcast(id, nonce, {
          ...t,
          maxFeePerGas: String(t.maxFeePerGas),
          maxPriorityFeePerGas: String(t.maxPriorityFeePerGas),
        });
      },
    });
    const effects = async () => BigInt(await provider.getStorage(counter, 0)) - 1n;
    /** Start the next action (N+1) with automine off and wait until it is in the pool. */
    const startWaiting = async () => {
      await anvil.send("evm_setAutomine", [false]);
      const id = outbox.record("submit", "round", counter, "0x");
      let first = "";
      const signed = { count: 0 };
      const run = tx.execute(
        { to: counter, data: "0x" },
        hooks(id, (t) => {
          first ||= t.hash;
          signed.count += 1;
        }),
      );
      await until("N+1 in the pool", async () => !!first && !!(await provider.getTransaction(first)));
      return { id, run, signed };
    };
    /** Mine a block per poll until every transaction of the signer is mined. */
    const mineUntilSettled = async (nonce: number) =>
      until(`nonce ${nonce} mined`, async () => {
        await anvil.mine();
        return (await provider.getTransactionCount(wallet.address, "latest")) > nonce;
      });
    /** What the responder's reconcile does with an open action: resume from its recorded transactions. */
    const reconcile = async () => {
      for (const open of outbox.unfinished()) {
        const o = await tx.execute(
          { to: open.to, data: open.data },
          { resumeTxs: open.txs, ...hooks(open.id) },
        );
        outbox.settle(open.id, o, true);
      }
    };
    return { wallet, counter, outbox, tx, hooks, gaps, effects, startWaiting, mineUntilSettled, reconcile };
  }

  it("the outbox has the transaction at N: its signed bytes again, the action reopened and applied exactly once", async function () {
    const s = await setup(true);
    const a = s.outbox.record("trip", "1", s.counter, "0x");
    const first: ExecuteOutcome = await s.tx.execute({ to: s.counter, data: "0x" }, s.hooks(a));
    expect(s.outbox.settle(a, first)).to.equal("confirmed");
    if (first.outcome !== "confirmed") throw new Error("not confirmed");
    const n = first.nonce;
    expect(await s.effects()).to.equal(1n);

    const b = await s.startWaiting();
    await anvil.send("anvil_reorg", [1, []]); // N's block replaced by an empty one; no reorg watch runs
    expect(await provider.getTransactionReceipt(first.receipt.hash)).to.equal(null);
    expect(await provider.getTransactionCount(s.wallet.address, "latest")).to.equal(n);

    await s.mineUntilSettled(n + 1);
    const outcome = await b.run;
    expect(outcome.outcome).to.equal("confirmed");
    expect(s.outbox.settle(b.id, outcome)).to.equal("confirmed");
    expect(s.gaps).to.deep.equal([{ nonce: n, how: "refilled" }]);
    // The gap's action was reopened; reconcile finds its same transaction mined again.
    expect(s.outbox.get(a)).to.include({ status: "sent" });
    expect(s.outbox.get(a)!.note).to.match(/nonce gap/);
    expect(await provider.getTransactionReceipt(first.receipt.hash)).to.not.equal(null);
    await anvil.send("evm_setAutomine", [true]);
    await s.reconcile();
    expect(s.outbox.get(a)).to.include({ status: "confirmed" });
    expect(s.outbox.get(a)!.txs.map((t) => t.hash)).to.deep.equal([first.receipt.hash]);
    expect(await s.effects()).to.equal(2n); // N once, N+1 once
    const nonces = await s.tx.nonces();
    expect(nonces).to.deep.equal({ latest: n + 2, pending: n + 2 });
    s.outbox.close();
  });

  it("nothing recorded at N (no outbox hook, or another sender's bytes): N is cancelled by a 0-value self-send", async function () {
    const s = await setup(false);
    // N sent outside the manager (nothing for the manager to re-broadcast), mined, then reorganised away.
    const sent = await s.wallet.sendTransaction({ to: s.counter, data: "0x" });
    await sent.wait();
    const n = sent.nonce;
    const b = await s.startWaiting();
    await anvil.send("anvil_reorg", [1, []]);
    expect(await provider.getTransactionCount(s.wallet.address, "latest")).to.equal(n);

    await s.mineUntilSettled(n + 1);
    const outcome = await b.run;
    expect(outcome.outcome).to.equal("confirmed");
    expect(s.gaps).to.deep.equal([{ nonce: n, how: "cancelled" }]);
    expect(await s.effects()).to.equal(1n); // only N+1's: N was cancelled, never applied
    const nonces = await s.tx.nonces();
    expect(nonces).to.deep.equal({ latest: n + 2, pending: n + 2 });
    s.outbox.close();
  });

  it("a transaction merely waiting in the pool below is no gap: neither cancelled nor counted", async function () {
    const s = await setup(false);
    await anvil.send("evm_setAutomine", [false]);
    const below = await s.wallet.sendTransaction({ to: s.counter, data: "0x" }); // ready at N, not mined
    const b = await s.startWaiting();
    // Two replacements of N+1 means two stuck points passed, each with its gap check.
    await until("N+1 replaced twice", async () => b.signed.count >= 3);
    expect(s.gaps).to.deep.equal([]);
    expect(await provider.getTransaction(below.hash)).to.not.equal(null);
    await s.mineUntilSettled(below.nonce + 1);
    expect((await b.run).outcome).to.equal("confirmed");
    expect(await provider.getTransactionReceipt(below.hash)).to.not.equal(null);
    expect(await s.effects()).to.equal(2n);
    s.outbox.close();
  });

  it("the outbox's bytes at N are refused (a later base fee above their max fee): N is cancelled, the action reopened", async function () {
    const s = await setup(true);
    const a = s.outbox.record("trip", "1", s.counter, "0x");
    const first = await s.tx.execute({ to: s.counter, data: "0x" }, s.hooks(a));
    expect(s.outbox.settle(a, first)).to.equal("confirmed");
    if (first.outcome !== "confirmed") throw new Error("not confirmed");
    const n = first.nonce;
    const b = await s.startWaiting();
    await anvil.send("anvil_reorg", [1, []]);
    // A block whose base fee is 10× what N's bytes may pay: the node refuses them.
    const signed = s.outbox.get(a)!.txs[0];
    const high = BigInt(signed.maxFeePerGas) * 10n;
    await anvil.send("anvil_setNextBlockBaseFeePerGas", ["0x" + high.toString(16)]);
    await anvil.mine();

    await s.mineUntilSettled(n + 1);
    expect((await b.run).outcome).to.equal("confirmed");
    expect(s.gaps.map((g) => g.how)).to.include("cancelled");
    expect(s.outbox.get(a)).to.include({ status: "sent" }); // reconcile decides: the nonce went to a cancel
    // Its nonce taken by the cancel, the action is simulated and sent anew (still due here): applied once.
    await anvil.send("evm_setAutomine", [true]);
    await s.reconcile();
    expect(s.outbox.get(a)).to.include({ status: "confirmed" });
    expect(await s.effects()).to.equal(2n);
    const nonces = await s.tx.nonces();
    expect(nonces.latest).to.equal(nonces.pending);
    s.outbox.close();
  });
});
