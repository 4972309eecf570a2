/**
 * The dashboard's chain reading on a real anvil node, counting every RPC request it makes: the services
 * allow-list (a stranger's service is never read), the cap on services read without one, the bound on
 * calls in flight, and a reorg that replaces the last block read at the same height.
 */
import { expect } from "chai";
import { Contract, JsonRpcProvider, Network, Wallet } from "ethers";
import { mapLimit } from "../../keepers/dashboard/limit";
import { ChainReader, type ReaderOptions } from "../../keepers/dashboard/reader";
import { startDashboardView } from "../../keepers/dashboard/server";
import { createLogger } from "../../keepers/shared/logger";
import { DashboardStack } from "./dashboard/stack";
import { ANVIL_KEYS } from "./helpers/anvil";

const logger = createLogger("test", { level: process.env.VIGIL_TEST_LOG ?? "silent" });

/** A provider that records every JSON-RPC request and the most requests it had pending at once. */
class CountingProvider extends JsonRpcProvider {
  readonly requests: { method: string; params: unknown }[] = [];
  private pending = 0;
  maxPending = 0;

  constructor(url: string, chainId: number) {
    const network = Network.from(chainId);
    super(url, network, { staticNetwork: network, batchMaxCount: 1, cacheTimeout: -1 });
  }

  override async send(method: string, params: unknown[] | Record<string, unknown>): Promise<unknown> {
    this.requests.push({ method, params });
    this.pending += 1;
    this.maxPending = Math.max(this.maxPending, this.pending);
    try {
      return await super.send(method, params);
    } finally {
      this.pending -= 1;
    }
  }

  /** Whether any request carried `id` (a bytes32 id appears verbatim in the call data). */
  mentions(id: string): boolean {
    const hex = id.slice(2).toLowerCase();
    return this.requests.some((r) => JSON.stringify(r.params).toLowerCase().includes(hex));
  }

  reset(): void {
    this.requests.length = 0;
    this.maxPending = 0;
  }
}

/** Resolves once `get()` returns a value that `holds`; fails naming `what` after the deadline. */
async function until<T>(get: () => T | undefined, holds: (v: T) => boolean, what: string): Promise<T> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const v = get();
    if (v !== undefined && holds(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("dashboard chain reader (anvil)", function () {
  this.timeout(120_000);
  let stack: DashboardStack;
  let provider: CountingProvider;
  let contracts: ReaderOptions["contracts"];
  const extra: string[] = [];

  before(async function () {
    stack = await DashboardStack.start({ hostile: true });
    await stack.warmUp(2);
    // More strangers' services: the registry is permissionless.
    const stranger = stack.registry.connect(new Wallet(ANVIL_KEYS[9], stack.provider)) as Contract;
    for (let i = 0; i < 4; i++) {
      const config = { cooldown: 60, recoveryPeriod: 120 };
      const name = `spam-${i}-${"x".repeat(300)}`;
      extra.push(((await stranger.registerService.staticCall(name, config)) as string).toLowerCase());
      await (await stranger.registerService(name, config)).wait();
    }
    provider = new CountingProvider(stack.anvil.url, stack.anvil.chainId);
    contracts = {
      oracle: await stack.oracle.getAddress(),
      registry: await stack.registry.getAddress(),
      guard: await stack.guard.getAddress(),
    };
  });

  after(async function () {
    provider?.destroy();
    await stack?.stop();
  });

  const reader = (over: Partial<ReaderOptions> = {}) =>
    new ChainReader({
      provider,
      chainId: stack.anvil.chainId,
      contracts,
      blockWindow: 5000,
      maxEvents: 500,
      maxBlockRange: 1000,
      maxServices: 200,
      maxConcurrentCalls: 8,
      ...over,
    });

  describe("with a services allow-list", function () {
    it("reads and shows only the listed services, never a stranger's, and names an unknown id", async function () {
      const unknown = "0x" + "ab".repeat(32);
      const abort = new AbortController();
      provider.reset();
      const view = startDashboardView({
        provider,
        chainId: stack.anvil.chainId,
        contracts,
        services: [stack.ids.rpcService, stack.ids.feedService.toUpperCase().replace("0X", "0x"), unknown],
        pollIntervalMs: 100,
        signal: abort.signal,
        logger,
      });
      try {
        const state = await until(
          () => view.state(),
          () => true,
          "the first state",
        );
        expect(state.services.map((s) => s.id)).to.deep.equal([stack.ids.rpcService, stack.ids.feedService]);
        expect(state.servicesNotShown).to.equal(0);
        expect(state.unregisteredServices).to.deep.equal([unknown]);
        // Every guard market is still shown (the guard's owner registers them).
        expect(state.markets.map((m) => m.id)).to.deep.equal([1, 2]);
        expect(provider.requests.some((r) => r.method === "eth_call")).to.equal(true);
        for (const id of [stack.ids.hostileService!, stack.ids.hostile!, ...extra]) {
          expect(provider.mentions(id), `a call carried ${id}`).to.equal(false);
        }
        // The allow-list replaces the registry's list: services() is never called.
        const servicesSelector = stack.registry.interface.getFunction("services")!.selector;
        expect(JSON.stringify(provider.requests)).not.to.contain(servicesSelector);
      } finally {
        abort.abort();
        await view.done;
      }
    });
  });

  describe("without an allow-list", function () {
    it("reads at most maxServices services, counts the rest, and keeps maxConcurrentCalls in flight", async function () {
      provider.reset();
      const r = reader({ maxServices: 2, maxConcurrentCalls: 3 });
      const snap = await r.poll();
      // Registration order: the two services of the stack come first.
      expect(snap.services.map((s) => s.id)).to.deep.equal([stack.ids.rpcService, stack.ids.feedService]);
      expect(snap.servicesNotShown).to.equal(1 + extra.length);
      for (const id of [stack.ids.hostileService!, ...extra]) expect(provider.mentions(id)).to.equal(false);
      expect(provider.maxPending).to.be.at.most(3);
      // 2 services × 4 calls + 3 endpoints, 4 attestors, 2 markets × 4 + marketCount, services(), and
      // attestorSet at the head and the window start (again at the head when the start predates the
      // oracle): a bound that does not grow with the registry.
      const calls = provider.requests.filter((q) => q.method === "eth_call").length;
      expect(calls).to.be.at.most(2 * 4 + 3 + 4 + 2 * 4 + 1 + 1 + 3);
    });

    it("shows every service up to the default cap, stranger's included", async function () {
      const snap = await reader().poll();
      expect(snap.services).to.have.length(3 + extra.length);
      expect(snap.servicesNotShown).to.equal(0);
    });
  });

  describe("when the last block read is replaced at the same height", function () {
    it("forgets the events of the replaced block and reads the new chain", async function () {
      const r = reader({ services: [stack.ids.rpcService] });
      await r.poll();
      const snapshotId = await stack.anvil.send<string>("evm_snapshot");
      const roundTx = await stack.round();
      const before = await r.poll();
      expect(r.history.rounds.map((x) => x.tx)).to.include(roundTx.toLowerCase());
      await stack.anvil.send("evm_revert", [snapshotId]);
      await stack.anvil.send("anvil_mine", ["0x1"]); // an empty block at the height of the round's
      expect(await provider.getBlockNumber()).to.equal(before.block.number);
      const after = await r.poll();
      expect(after.block.number).to.equal(before.block.number);
      expect(r.history.rounds.map((x) => x.tx)).not.to.include(roundTx.toLowerCase());
      // Events before the replaced block are still there (read again, not duplicated).
      const txs = r.history.rounds.map((x) => x.tx);
      expect(txs).to.have.length(new Set(txs).size).and.length.above(0);
    });
  });
});

describe("mapLimit", function () {
  it("keeps at most `limit` calls pending and returns results in order", async function () {
    let pending = 0;
    let most = 0;
    const out = await mapLimit([5, 1, 4, 2, 3, 0, 6], 3, async (ms, i) => {
      pending += 1;
      most = Math.max(most, pending);
      await new Promise((r) => setTimeout(r, ms));
      pending -= 1;
      return i;
    });
    expect(out).to.deep.equal([0, 1, 2, 3, 4, 5, 6]);
    expect(most).to.equal(3);
  });
});
