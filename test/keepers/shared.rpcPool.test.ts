import { expect } from "chai";
import { Wallet, isError, type AbstractProvider } from "ethers";
import { RpcProxy, type ProxyMode } from "../../scripts/chaos/rpcProxy";
import { assertChain, createProvider } from "../../keepers/shared/chain";
import { isVigilError } from "../../keepers/shared/errors";
import { createLogger } from "../../keepers/shared/logger";
import { Metrics } from "../../keepers/shared/metrics";
import { RpcPool, poolOf } from "../../keepers/shared/rpcPool";
import { ANVIL_KEYS, Anvil } from "./helpers/anvil";
import { LogSink } from "./helpers/logSink";
import { until } from "./helpers/until";

/** Init code run by an eth_call without `to`: returns block.number (NUMBER PUSH0 MSTORE … RETURN). */
const BLOCK_NUMBER_CODE = "0x4360005260206000f3";
/** Init code that reverts with no data. */
const REVERT_CODE = "0x60006000fd";
/** A hang detector, not a timing assertion: a pool request must settle, and this bounds the wait. */
const SETTLES_WITHIN_MS = 30_000;

async function settles<T>(what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what} did not settle: the provider hung`)),
      SETTLES_WITHIN_MS,
    );
  });
  try {
    return await Promise.race([p, hung]);
  } finally {
    clearTimeout(timer);
  }
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error("expected a rejection");
}

describe("RpcPool over real anvil behind hostile proxies", function () {
  let anvil: Anvil;
  let bad: RpcProxy;
  let good: RpcProxy;
  let pool: RpcPool;
  let metrics: Metrics;
  let sink: LogSink;
  let keyIndex = 1;

  const makePool = (urls: string[]) =>
    new RpcPool({
      urls,
      chainId: anvil.chainId,
      timeoutMs: 1000,
      pollingIntervalMs: 100,
      frozenAfterMs: 1000,
      logger: createLogger("test", { destination: sink }),
      metrics,
    });

  const metric = async (name: string, labels: Record<string, string>): Promise<number> => {
    const m = metrics.registry.getSingleMetric(name);
    const values = (await m!.get()).values;
    const hit = values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x));
    return hit?.value ?? 0;
  };

  before(async () => {
    anvil = await Anvil.start();
  });
  after(async () => {
    await anvil?.stop();
  });
  beforeEach(async () => {
    bad = await RpcProxy.start(anvil.url);
    good = await RpcProxy.start(anvil.url);
    metrics = new Metrics(false);
    sink = new LogSink();
    pool = makePool([bad.url, good.url]);
  });
  afterEach(async () => {
    pool.destroy();
    await Promise.all([bad.close(), good.close()]);
  });

  /**
   * Reads, a state-dependent `call`, the latest block, a transaction and its receipt through `provider`, each
   * checked against anvil itself.
   */
  async function keeperWork(provider: AbstractProvider): Promise<void> {
    const head = Number(await anvil.send<string>("eth_blockNumber"));
    expect(await settles("getBlockNumber", provider.getBlockNumber())).to.equal(head);
    expect((await settles("getBlock(latest)", provider.getBlock("latest")))!.number).to.equal(head);
    const direct = await anvil.send<string>("eth_call", [{ data: BLOCK_NUMBER_CODE }, "latest"]);
    expect(await settles("call", provider.call({ data: BLOCK_NUMBER_CODE }))).to.equal(direct);
    const wallet = new Wallet(ANVIL_KEYS[keyIndex++], provider);
    const to = Wallet.createRandom().address;
    const tx = await settles("sendTransaction", wallet.sendTransaction({ to, value: 1234n }));
    const receipt = await settles("wait", tx.wait());
    expect(receipt!.status).to.equal(1);
    expect(
      (await settles("getTransactionReceipt", provider.getTransactionReceipt(tx.hash)))!.blockHash,
    ).to.equal(receipt!.blockHash);
    expect(await settles("getBalance", provider.getBalance(to))).to.equal(1234n);
  }

  const faults: [string, ProxyMode, string, string][] = [
    ["refusing connections", { kind: "refuse" }, "down", "refused"],
    ["accepting and never answering", { kind: "hang" }, "down", "timeout"],
    ["serving a frozen head", { kind: "frozen" }, "frozen", "frozen"],
  ];
  for (const [name, mode, status, kind] of faults) {
    describe(`when the first RPC is ${name}`, () => {
      /** The fault starts after the provider has served (a node dies under a running keeper). */
      async function fault(provider: AbstractProvider): Promise<void> {
        await settles("warm-up", provider.getBlockNumber());
        await bad.set(mode);
        // A frozen node falls behind only when the chain moves on.
        if (mode.kind === "frozen") await anvil.mine(5);
      }

      it("still reads, calls, broadcasts and gets receipts through the second", async () => {
        await fault(pool.provider);
        await keeperWork(pool.provider);
        expect(good.calls("eth_sendRawTransaction")).to.equal(1);
      });

      it(`reports the first RPC as ${status} (log and vigil_rpc_faults_total{kind="${kind}"})`, async () => {
        const first = pool.members[0];
        await fault(pool.provider);
        await settles("getBlockNumber", pool.provider.getBlockNumber());
        await until(`first RPC ${status}`, async () => pool.state(first).status === status, 20_000);
        expect(await metric("vigil_rpc_faults_total", { rpc: first.label, kind })).to.be.greaterThan(0);
        expect(await metric("vigil_rpc_up", { rpc: first.label })).to.equal(0);
        expect(await metric("vigil_rpc_up", { rpc: pool.members[1].label })).to.equal(1);
        expect(pool.fresh()).to.deep.equal([pool.members[1]]);
        expect(
          sink.find(`control-chain RPC ${first.label}: ${kind}`, { rpc: first.label, kind }),
        ).to.have.length(1);
      });
    });
  }

  it("sends a raw transaction to every member", async () => {
    const wallet = new Wallet(ANVIL_KEYS[keyIndex++], pool.provider);
    const tx = await settles("sendTransaction", wallet.sendTransaction({ to: wallet.address, value: 1n }));
    await settles("wait", tx.wait());
    await until(
      "both members got the transaction",
      async () => bad.calls("eth_sendRawTransaction") === 1 && good.calls("eth_sendRawTransaction") === 1,
    );
  });

  it("takes a node's 'already known' as an accepted broadcast", async () => {
    const quiet = await Anvil.start({ noMining: true });
    const p = makePool([quiet.url]);
    try {
      const wallet = new Wallet(ANVIL_KEYS[0], quiet.provider());
      const raw = await wallet.signTransaction(
        await wallet.populateTransaction({ to: wallet.address, value: 1n, nonce: 0, gasLimit: 21000 }),
      );
      const hash = await quiet.send<string>("eth_sendRawTransaction", [raw]);
      expect(await settles("send", p.provider.send("eth_sendRawTransaction", [raw]))).to.equal(hash);
    } finally {
      p.destroy();
      await quiet.stop();
    }
  });

  it("takes a revert as the answer: one member asked, CALL_EXCEPTION thrown", async () => {
    await settles("getBlockNumber", pool.provider.getBlockNumber());
    const e = await rejection(pool.provider.call({ data: REVERT_CODE }));
    expect(isError(e, "CALL_EXCEPTION")).to.equal(true);
    expect(bad.calls("eth_call") + good.calls("eth_call")).to.equal(1);
  });

  it("with one URL, a hung RPC makes requests time out instead of hanging, and it is used again once it answers", async () => {
    const single = makePool([bad.url]);
    try {
      await bad.set({ kind: "hang" });
      const e = await settles("getBlockNumber", rejection(single.provider.getBlockNumber()));
      expect(isError(e, "TIMEOUT")).to.equal(true);
      expect(
        isError(await settles("again", rejection(single.provider.getBlockNumber())), "TIMEOUT"),
      ).to.equal(true);
      await bad.set({ kind: "pass" });
      expect(await settles("getBlockNumber", single.provider.getBlockNumber())).to.equal(
        Number(await anvil.send<string>("eth_blockNumber")),
      );
      await until("the RPC fresh again", async () => single.state(single.members[0]).status === "fresh");
    } finally {
      single.destroy();
    }
  });

  it("each() settles every live member without waiting on a hung one twice", async () => {
    await bad.set({ kind: "hang" });
    const first = await settles(
      "each",
      pool.each((p) => p.getBlockNumber()),
    );
    expect(first.map((s) => s.ok)).to.deep.equal([false, true]);
    expect(isError((first[0] as { error: unknown }).error, "TIMEOUT")).to.equal(true);
    const second = await settles(
      "each",
      pool.each((p) => p.getBlockNumber()),
    );
    expect(second.map((s) => s.member.index)).to.deep.equal([1]);
  });

  it("re-probes a refusing member and takes it back when it answers, logging once each way", async () => {
    const first = pool.members[0];
    await bad.set({ kind: "refuse" });
    await settles("getBlockNumber", pool.provider.getBlockNumber());
    await until("first RPC down", async () => pool.state(first).status === "down");
    await bad.set({ kind: "pass" });
    await until("first RPC fresh again", async () => pool.state(first).status === "fresh");
    expect(await metric("vigil_rpc_up", { rpc: first.label })).to.equal(1);
    expect(sink.find(`control-chain RPC ${first.label}: refused`)).to.have.length(1);
    expect(sink.find(`control-chain RPC ${first.label}: fresh again`)).to.have.length(1);
  });

  it("blame() counts every fault and logs once per change of kind", async () => {
    const m = pool.members[1];
    pool.blame(m, "lied", "tripStatus");
    pool.blame(m, "lied", "tripStatus");
    pool.blame(m, "reverted");
    expect(await metric("vigil_rpc_faults_total", { rpc: m.label, kind: "lied" })).to.equal(2);
    expect(sink.find(`control-chain RPC ${m.label}: lied`)).to.have.length(1);
    expect(sink.find(`control-chain RPC ${m.label}: reverted`)).to.have.length(1);
  });

  describe("createProvider and assertChain", () => {
    it("returns the pool's facade for one URL and for several", () => {
      for (const urls of [[good.url], [bad.url, good.url]]) {
        const provider = createProvider({ rpcUrls: urls, chainId: anvil.chainId });
        expect(poolOf(provider)!.members).to.have.length(urls.length);
        provider.destroy();
      }
    });

    it("passes with one member down and fails naming the member that serves another chain", async () => {
      const other = await Anvil.start({ chainId: 5 });
      const mixed = makePool([good.url, other.url]);
      try {
        await bad.set({ kind: "refuse" });
        await assertChain(pool.provider, anvil.chainId);
        const e = await rejection(assertChain(mixed.provider, anvil.chainId));
        expect(isVigilError(e, "VIGIL_CHAIN")).to.equal(true);
        expect((e as Error).message)
          .to.contain("RPC serves chain 5, config says 31337")
          .and.contain(other.url);
      } finally {
        mixed.destroy();
        await other.stop();
      }
    });
  });
});
