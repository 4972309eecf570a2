import fs from "node:fs";
import path from "node:path";
import { expect } from "chai";
import { Interface, JsonRpcProvider, Network, parseUnits, Wallet } from "ethers";
import { decodeRevert, revertClassifier, VIGIL_ERRORS, vigilReverts } from "../../keepers/responder/reverts";
import { bumpFees, isTransient, TxManager } from "../../keepers/responder/tx";
import { Anvil, ANVIL_KEYS } from "./helpers/anvil";

import { COUNTER_INIT, deploy, logger, reverterInit } from "./responder.tx.helpers";

describe("responder tx manager", function () {
  this.timeout(60_000);

  describe("bumpFees", function () {
    it("raises both fees by at least 12.5%, rounding up", function () {
      const next = bumpFees({ maxFeePerGas: 100n, maxPriorityFeePerGas: 8n }, 12.5, 10_000n)!;
      expect(next.maxFeePerGas).to.equal(113n);
      expect(next.maxPriorityFeePerGas).to.equal(9n);
      expect(next.maxFeePerGas * 1000n >= 100n * 1125n).to.equal(true);
    });
    it("caps the max fee and refuses a replacement the cap would make invalid", function () {
      expect(bumpFees({ maxFeePerGas: 100n, maxPriorityFeePerGas: 1n }, 12.5, 120n)?.maxFeePerGas).to.equal(
        113n,
      );
      expect(bumpFees({ maxFeePerGas: 100n, maxPriorityFeePerGas: 1n }, 50, 120n)?.maxFeePerGas).to.equal(
        120n,
      );
      expect(bumpFees({ maxFeePerGas: 110n, maxPriorityFeePerGas: 1n }, 12.5, 120n)).to.equal(undefined);
    });
  });

  describe("error classification", function () {
    it("decodes a *NotDue revert and treats transport failures, not reverts, as transient", function () {
      const data = VIGIL_ERRORS.encodeErrorResult("MarketGuardTripNotDue", [3n, 3]);
      expect(decodeRevert(data).name).to.equal("MarketGuardTripNotDue");
      expect(isTransient(Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), {}))).to.equal(true);
      expect(
        isTransient(Object.assign(new Error("execution reverted"), { code: "CALL_EXCEPTION" })),
      ).to.equal(false);
    });
  });

  describe("knows no contract", function () {
    it("tx.ts and tx/*.ts import no contract typings, ABIs or Vigil revert lists", function () {
      const dir = path.join(__dirname, "../../keepers/responder");
      const files = ["tx.ts", ...fs.readdirSync(path.join(dir, "tx")).map((f) => `tx/${f}`)];
      expect(files.length).to.be.at.least(5);
      for (const f of files) {
        const imports = fs.readFileSync(path.join(dir, f), "utf8").match(/from "[^"]+"/g) ?? [];
        expect(
          imports.filter((i) => /typechain|artifacts|reverts|contracts/.test(i)),
          f,
        ).to.deep.equal([]);
      }
    });
  });

  describe("against anvil with automine", function () {
    let anvil: Anvil;
    let provider: JsonRpcProvider;
    let wallet: Wallet;
    before(async function () {
      anvil = await Anvil.start();
      provider = anvil.provider();
      wallet = new Wallet(ANVIL_KEYS[1], provider);
    });
    after(async function () {
      provider.destroy();
      await anvil.stop();
    });

    function manager(over: Partial<ConstructorParameters<typeof TxManager>[0]> = {}) {
      return new TxManager({
        reverts: vigilReverts,
        wallet,
        provider,
        chainId: anvil.chainId,
        logger,
        maxFeeCapWei: parseUnits("100", "gwei"),
        pollMs: 50,
        ...over,
      });
    }

    it("simulates, sends and confirms; the nonce comes from the chain", async function () {
      const counter = await deploy(provider, wallet, COUNTER_INIT);
      const tx = manager();
      const before = await tx.nonces();
      const out = await tx.execute({ to: counter, data: "0x" });
      expect(out.outcome).to.equal("confirmed");
      expect(BigInt(await provider.getStorage(counter, 0))).to.equal(1n);
      const after = await tx.nonces();
      expect(after).to.deep.equal({ latest: before.latest + 1, pending: before.pending + 1 });
    });

    it("reports a *NotDue revert in simulation as a lost race and sends nothing", async function () {
      const data = VIGIL_ERRORS.encodeErrorResult("EndpointRegistryMigrationNotDue", [
        "0x" + "11".repeat(32),
        2,
      ]);
      const reverter = await deploy(provider, wallet, reverterInit(data));
      const tx = manager();
      const before = await tx.nonces();
      const out = await tx.execute({ to: reverter, data: "0x" });
      expect(out.outcome).to.equal("lost_race");
      expect(out.outcome === "lost_race" && out.revert.name).to.equal("EndpointRegistryMigrationNotDue");
      expect(await tx.nonces()).to.deep.equal(before);
    });

    it("reads reverts with the injected classifier: its lost races are dropped, other reverts fail", async function () {
      const errors = new Interface(["error Busy(uint256 until)"]);
      const reverter = await deploy(provider, wallet, reverterInit(errors.encodeErrorResult("Busy", [7n])));
      const before = await manager().nonces();
      const own = manager({ reverts: revertClassifier(errors, new Set(["Busy"])) });
      const lost = await own.execute({ to: reverter, data: "0x" });
      expect(lost.outcome === "lost_race" && [lost.revert.name, lost.revert.args]).to.deep.equal([
        "Busy",
        [7n],
      ]);
      const vigil = await manager().execute({ to: reverter, data: "0x" });
      expect(vigil.outcome).to.equal("failed");
      expect(vigil.outcome === "failed" && vigil.revert?.name).to.equal(undefined);
      expect(await own.nonces()).to.deep.equal(before);
    });

    it("on recovery, an action mined with a revert is read as the classifier says: a lost race", async function () {
      const data = VIGIL_ERRORS.encodeErrorResult("MarketGuardTripNotDue", [3n, 3]);
      const w = new Wallet(ANVIL_KEYS[8], provider);
      const reverter = await deploy(provider, w, reverterInit(data));
      const tx = new TxManager({
        reverts: vigilReverts,
        wallet: w,
        provider,
        chainId: anvil.chainId,
        logger,
        maxFeeCapWei: parseUnits("100", "gwei"),
        pollMs: 50,
      });
      const sent: string[] = [];
      // Sent without a simulation (as a race lost between simulation and inclusion looks): mined, reverted.
      const first = await tx.execute(
        { to: reverter, data: "0x" },
        { gasLimit: 100_000n, onSigned: (_n, t) => sent.push(t.hash) },
      );
      expect(first.outcome === "lost_race" && first.stage).to.equal("mined");
      const again = await tx.execute(
        { to: reverter, data: "0x" },
        {
          resumeTxs: sent.map((hash) => ({ hash, role: "action" as const })),
          onSigned: (_n, t) => sent.push(t.hash),
        },
      );
      expect(again.outcome === "lost_race" && [again.stage, again.revert.name]).to.deep.equal([
        "mined",
        "MarketGuardTripNotDue",
      ]);
      expect(sent.length).to.equal(1);
    });

    it("resynchronises the nonce after another process used it (no NonceManager drift)", async function () {
      const counter = await deploy(provider, wallet, COUNTER_INIT);
      const tx = manager();
      await tx.execute({ to: counter, data: "0x" });
      // the same key sends behind the manager's back, then a send fails on purpose
      await (await wallet.sendTransaction({ to: counter })).wait();
      const failed = await tx.execute({ to: counter, data: "0x" }, { gasLimit: 21_000n }); // out of gas on-chain
      expect(failed.outcome).to.equal("failed");
      const out = await tx.execute({ to: counter, data: "0x" });
      expect(out.outcome).to.equal("confirmed");
      expect(BigInt(await provider.getStorage(counter, 0))).to.equal(3n);
      const n = await tx.nonces();
      expect(n.pending).to.equal(n.latest);
    });

    it("after an ambiguous broadcast error, watches the transaction that reached the node instead of sending again", async function () {
      // The node accepts the transaction, then the answer is lost (a gateway timeout, a dropped socket).
      class Ambiguous extends JsonRpcProvider {
        failures = 1;
        override async broadcastTransaction(signed: string) {
          const r = await super.broadcastTransaction(signed);
          if (this.failures-- > 0) throw new Error("gateway closed the connection before answering");
          return r;
        }
      }
      const network = Network.from(anvil.chainId);
      const flaky = new Ambiguous(anvil.url, network, { staticNetwork: network, cacheTimeout: -1 });
      flaky.pollingInterval = 50;
      const w = new Wallet(ANVIL_KEYS[6], flaky);
      const counter = await deploy(provider, new Wallet(ANVIL_KEYS[6], provider), COUNTER_INIT);
      const tx = new TxManager({
        reverts: vigilReverts,
        wallet: w,
        provider: flaky,
        chainId: anvil.chainId,
        logger,
        maxFeeCapWei: parseUnits("100", "gwei"),
        pollMs: 50,
      });
      try {
        const before = await tx.nonces();
        const sent: Array<{ nonce: number; hash: string }> = [];
        const out = await tx.execute(
          { to: counter, data: "0x" },
          { onSigned: (nonce, t) => sent.push({ nonce, hash: t.hash }) },
        );
        expect(out.outcome).to.equal("confirmed");
        expect(out.outcome === "confirmed" && out.nonce).to.equal(before.pending);
        expect(new Set(sent.map((x) => x.hash)).size).to.equal(1);
        expect(BigInt(await provider.getStorage(counter, 0))).to.equal(1n);
        expect(await tx.nonces()).to.deep.equal({ latest: before.latest + 1, pending: before.pending + 1 });
      } finally {
        flaky.destroy(); // the manager is done with it: execute() settled
      }
    });

    it("serialises concurrent executions: each gets its own nonce", async function () {
      const counter = await deploy(provider, wallet, COUNTER_INIT);
      const tx = manager();
      const outs = await Promise.all([1, 2, 3, 4].map(() => tx.execute({ to: counter, data: "0x" })));
      expect(outs.map((o) => o.outcome)).to.deep.equal(["confirmed", "confirmed", "confirmed", "confirmed"]);
      const nonces = outs.map((o) => (o.outcome === "confirmed" ? o.nonce : -1));
      expect(new Set(nonces).size).to.equal(4);
      expect(BigInt(await provider.getStorage(counter, 0))).to.equal(4n);
    });
  });
});
