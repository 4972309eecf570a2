import { expect } from "chai";
import { JsonRpcProvider, Network, parseUnits, toQuantity, Transaction, Wallet } from "ethers";
import { vigilReverts } from "../../keepers/responder/reverts";
import { TxManager } from "../../keepers/responder/tx";
import { Anvil, ANVIL_KEYS } from "./helpers/anvil";
import { until } from "./helpers/until";
import { COUNTER_INIT, deploy, listeningLogger, logger } from "./responder.tx.helpers";

describe("responder tx manager, mining off", function () {
  this.timeout(60_000);

  describe("against anvil with mining off", function () {
    let anvil: Anvil;
    let provider: JsonRpcProvider;
    before(async function () {
      anvil = await Anvil.start({ noMining: true });
      provider = anvil.provider();
    });
    /** A provider of its own for one manager (destroyed by the test once the manager is done with it). */
    function own<P extends JsonRpcProvider>(
      Provider: new (url: string, network: Network, options: object) => P,
    ): P {
      const network = Network.from(anvil.chainId);
      return new Provider(anvil.url, network, { staticNetwork: network, batchMaxCount: 1, cacheTimeout: -1 });
    }
    after(async function () {
      provider.destroy();
      await anvil.stop();
    });

    it("replaces a stuck transaction at the same nonce with both fees raised, and has one effect", async function () {
      const wallet = new Wallet(ANVIL_KEYS[2], provider);
      const counter = await deploy(provider, wallet, COUNTER_INIT, anvil);
      const sent: Array<{ nonce: number; hash: string; maxFeePerGas: bigint; maxPriorityFeePerGas: bigint }> =
        [];
      const { logger, logged } = listeningLogger();
      const tx = new TxManager({
        reverts: vigilReverts,
        wallet,
        provider,
        chainId: anvil.chainId,
        logger,
        maxFeeCapWei: parseUnits("100", "gwei"),
        stuckAfterMs: 300,
        pollMs: 50,
      });
      const run = tx.execute(
        { to: counter, data: "0x" },
        { onSigned: (nonce, t) => sent.push({ nonce, ...t }) },
      );
      // Two replacements accepted by the node, however long a loaded machine takes to get there.
      await logged("replaced a stuck transaction", 2);
      expect(sent.length).to.be.at.least(3);
      await anvil.mine();
      const out = await run;
      expect(out.outcome).to.equal("confirmed");
      expect(out.outcome === "confirmed" && out.replacements).to.be.at.least(2);
      expect(new Set(sent.map((s) => s.nonce)).size).to.equal(1);
      for (let i = 1; i < sent.length; i++) {
        expect(sent[i].maxFeePerGas * 1000n >= sent[i - 1].maxFeePerGas * 1125n).to.equal(true);
        expect(sent[i].maxPriorityFeePerGas * 1000n >= sent[i - 1].maxPriorityFeePerGas * 1125n).to.equal(
          true,
        );
      }
      const minedHash = out.outcome === "confirmed" ? out.receipt.hash : "";
      expect(sent.map((s) => s.hash)).to.include(minedHash);
      await anvil.mine(2);
      expect(BigInt(await provider.getStorage(counter, 0))).to.equal(1n);
      const n = await tx.nonces();
      expect(n.pending).to.equal(n.latest);
    });

    it("stops raising at the fee cap and keeps waiting", async function () {
      const wallet = new Wallet(ANVIL_KEYS[3], provider);
      const counter = await deploy(provider, wallet, COUNTER_INIT, anvil);
      const fd = await provider.getFeeData();
      const sent: bigint[] = [];
      /** Counts the manager's receipt polls. */
      class Polled extends JsonRpcProvider {
        polls = 0;
        override async getTransactionReceipt(hash: string) {
          try {
            return await super.getTransactionReceipt(hash);
          } finally {
            this.polls += 1;
          }
        }
      }
      const polled = own(Polled);
      const { logger, logged } = listeningLogger();
      const tx = new TxManager({
        reverts: vigilReverts,
        wallet: wallet.connect(polled),
        provider: polled,
        chainId: anvil.chainId,
        logger,
        maxFeeCapWei: (fd.maxFeePerGas! * 13n) / 10n, // room for two bumps at most
        stuckAfterMs: 100,
        pollMs: 30,
      });
      try {
        const run = tx.execute(
          { to: counter, data: "0x" },
          { onSigned: (_n, t) => sent.push(t.maxFeePerGas) },
        );
        await logged("stuck at the fee cap; waiting");
        // It keeps waiting: polls go on (well past `stuckAfterMs`), nothing more is signed.
        const at = { polls: polled.polls, sent: sent.length };
        while (polled.polls < at.polls + 8) await new Promise((r) => setTimeout(r, 10));
        expect(sent.length).to.equal(at.sent);
        expect(sent.length).to.be.within(2, 3);
        expect(sent.every((f) => f <= (fd.maxFeePerGas! * 13n) / 10n)).to.equal(true);
        await anvil.mine();
        expect((await run).outcome).to.equal("confirmed");
      } finally {
        polled.destroy();
      }
    });

    it("during a gas spike: cancels an action stuck at its cap at the deadline, and a safety action with the higher cap lands", async function () {
      const wallet = new Wallet(ANVIL_KEYS[5], provider);
      const counter = await deploy(provider, wallet, COUNTER_INIT, anvil);
      // The chain during the spike: every block's base fee is SPIKE, and a block is mined as soon as a
      // transaction that pays it reaches the node. The test follows what the manager sends; no miner on
      // a timer races the manager's own deadlines (a cancel mined 150 ms late read as "not mined").
      const SPIKE = parseUnits("20", "gwei");
      const spikeBlock = async () => {
        await anvil.send("anvil_setNextBlockBaseFeePerGas", [toQuantity(SPIKE)]);
        await anvil.mine();
      };
      class Spiking extends JsonRpcProvider {
        spiking = false;
        override async broadcastTransaction(signed: string) {
          const r = await super.broadcastTransaction(signed);
          if (!this.spiking) {
            this.spiking = true; // the spike begins right after the action is sent: it is stuck
            await spikeBlock();
          } else if (Transaction.from(signed).maxFeePerGas! >= SPIKE) await spikeBlock();
          return r;
        }
      }
      const chain = own(Spiking);
      const tx = new TxManager({
        reverts: vigilReverts,
        wallet: wallet.connect(chain),
        provider: chain,
        chainId: anvil.chainId,
        logger,
        maxFeeCapWei: parseUnits("10", "gwei"),
        cancelMaxFeeCapWei: parseUnits("100", "gwei"),
        bumpPercent: 50,
        // The cancel gets 4 × stuckAfterMs to be mined and needs one bump to pay the spike: keep that
        // window well above a loaded machine's pauses between two polls.
        stuckAfterMs: 200,
        pollMs: 20,
      });
      const sent: Array<{ nonce: number; hash: string; maxFeePerGas: bigint }> = [];
      const started = Date.now();
      const submit = tx.execute(
        { to: counter, data: "0x" },
        { deadlineMs: started + 6 * 200, onSigned: (nonce, t) => sent.push({ nonce, ...t }) },
      );
      // queued behind the stuck submit, as a trip would be
      const trip = tx.execute({ to: counter, data: "0x" }, { maxFeeCapWei: parseUnits("100", "gwei") });
      try {
        const out = await submit;
        expect(out.outcome).to.equal("cancelled");
        expect(out.outcome === "cancelled" && out.mined).to.equal(true);
        expect(Date.now() - started).to.be.below(10_000);
        expect(new Set(sent.map((x) => x.nonce)).size).to.equal(1);
        const cancelHash = out.outcome === "cancelled" ? out.hash : "";
        const cancel = await provider.getTransaction(cancelHash);
        expect(cancel?.to).to.equal(wallet.address);
        expect(cancel?.value).to.equal(0n);
        const tripOut = await trip;
        expect(tripOut.outcome).to.equal("confirmed");
        expect(tripOut.outcome === "confirmed" && tripOut.receipt.gasPrice).to.be.greaterThan(
          parseUnits("10", "gwei"),
        );
        expect(BigInt(await provider.getStorage(counter, 0))).to.equal(1n); // only the trip
        const n = await tx.nonces();
        expect(n.pending).to.equal(n.latest);
      } finally {
        await Promise.allSettled([submit, trip]); // the manager is done with its provider
        chain.destroy();
      }
    });

    it("ends the wait for confirmations on a head that stops moving: persisted, the outbox keeps it", async function () {
      const wallet = new Wallet(ANVIL_KEYS[7], provider);
      const counter = await deploy(provider, wallet, COUNTER_INIT, anvil);
      const { logger, logged } = listeningLogger();
      const tx = new TxManager({
        wallet,
        provider,
        chainId: anvil.chainId,
        logger,
        reverts: vigilReverts,
        maxFeeCapWei: parseUnits("100", "gwei"),
        confirmations: 3,
        confirmTimeoutMs: 300,
        pollMs: 30,
      });
      const hashes: string[] = [];
      const run = tx.execute({ to: counter, data: "0x" }, { onSigned: (_n, t) => hashes.push(t.hash) });
      await until(
        "the action in the pool",
        async () => !!hashes[0] && !!(await provider.getTransaction(hashes[0])),
      );
      await anvil.mine(); // one block, then none: the head is frozen at 1 confirmation of 3
      const out = await run;
      expect(out.outcome).to.equal("persisted");
      await logged("mined, not confirmed in time");
      expect((await provider.getTransactionReceipt(hashes[0]))?.status).to.equal(1);
      // The next run, from the recorded transaction, confirms it once the head moves; nothing sent again.
      const extra: string[] = [];
      const again = tx.execute(
        { to: counter, data: "0x" },
        { resumeTxs: hashes.map((hash) => ({ hash })), onSigned: (_n, t) => extra.push(t.hash) },
      );
      await anvil.mine(2);
      const confirmed = await again;
      expect(confirmed.outcome === "confirmed" && confirmed.receipt.hash).to.equal(hashes[0]);
      expect(extra).to.deep.equal([]);
      expect(BigInt(await provider.getStorage(counter, 0))).to.equal(1n);
    });

    it("after a crash during its deadline cancel, a mined cancel is 'cancelled', never 'confirmed' (hashes only, no roles)", async function () {
      // What main did before: the cancel's receipt was found and the action reported confirmed, though it never ran.
      const wallet = new Wallet(ANVIL_KEYS[8], provider);
      const counter = await deploy(provider, wallet, COUNTER_INIT, anvil);
      const manager = () =>
        new TxManager({
          reverts: vigilReverts,
          wallet,
          provider,
          chainId: anvil.chainId,
          logger,
          maxFeeCapWei: parseUnits("100", "gwei"),
          stuckAfterMs: 60_000,
          pollMs: 30,
        });
      const hashes: string[] = [];
      const crash = new AbortController();
      const first = await manager().execute(
        { to: counter, data: "0x" },
        {
          deadlineMs: Date.now() + 200,
          onSigned: (_n, t) => {
            hashes.push(t.hash);
            if (t.role === "cancel") crash.abort(); // the process stops once the cancel is out
          },
        },
        crash.signal,
      );
      expect(first.outcome).to.equal("persisted");
      expect(hashes.length).to.equal(2);
      await anvil.mine(); // the cancel replaced the action in the pool: it is what gets mined
      const out = await manager().execute({ to: counter, data: "0x" }, { resumeHashes: hashes });
      expect(out.outcome).to.equal("cancelled");
      expect(out.outcome === "cancelled" && [out.mined, out.hash]).to.deep.equal([true, hashes[1]]);
      expect(BigInt(await provider.getStorage(counter, 0))).to.equal(0n);
      const n = await manager().nonces();
      expect(n.pending).to.equal(n.latest);
    });

    it("adopts a still-pending transaction from a previous run instead of sending again", async function () {
      const wallet = new Wallet(ANVIL_KEYS[4], provider);
      const counter = await deploy(provider, wallet, COUNTER_INIT, anvil);
      const hashes: string[] = [];
      const first = new TxManager({
        reverts: vigilReverts,
        wallet,
        provider,
        chainId: anvil.chainId,
        logger,
        maxFeeCapWei: parseUnits("100", "gwei"),
        pollMs: 50,
      });
      const abort = new AbortController();
      const run1 = first.execute(
        { to: counter, data: "0x" },
        { onSigned: (_n, t) => hashes.push(t.hash) },
        abort.signal,
      );
      while (hashes.length === 0) await new Promise((r) => setTimeout(r, 20));
      abort.abort(); // "crash": shutdown while the tx is pending
      expect((await run1).outcome).to.equal("persisted");
      const { logger: secondLogger, logged: adopted } = listeningLogger();
      const second = new TxManager({
        reverts: vigilReverts,
        wallet,
        provider,
        chainId: anvil.chainId,
        logger: secondLogger,
        maxFeeCapWei: parseUnits("100", "gwei"),
        pollMs: 50,
      });
      const extra: string[] = [];
      const run2 = second.execute(
        { to: counter, data: "0x" },
        { resumeHashes: hashes, onSigned: (_n, t) => extra.push(t.hash) },
      );
      // Mine only once the second run has adopted the pending transaction (mined earlier, it would be
      // found by its receipt and the adoption never tested).
      await adopted("adopting a transaction from the previous run");
      await anvil.mine();
      const out = await run2;
      expect(out.outcome).to.equal("confirmed");
      expect(extra).to.deep.equal([]);
      expect(BigInt(await provider.getStorage(counter, 0))).to.equal(1n);
    });
  });
});
