import { expect } from "chai";
import { createServer, type Server } from "node:http";
import { type AddressInfo } from "node:net";
import { Wallet, isError } from "ethers";
import { createLogger } from "../../keepers/shared/logger";
import { Metrics } from "../../keepers/shared/metrics";
import { RpcPool, type RpcMember } from "../../keepers/shared/rpcPool";
import { firstNonNull, type Ask } from "../../keepers/shared/rpc/route";
import { ANVIL_KEYS, Anvil } from "./helpers/anvil";
import { LogSink } from "./helpers/logSink";
import { until } from "./helpers/until";

/** Init code run by an eth_call without `to`: returns block.number (NUMBER PUSH0 MSTORE … RETURN). */
const BLOCK_NUMBER_CODE = "0x4360005260206000f3";

/** Answers one JSON-RPC call itself, or undefined to pass it to anvil. */
type Rewrite = (method: string, params: unknown[]) => Promise<unknown> | unknown;

/**
 * A JSON-RPC server in front of anvil: each call waits `delayMs`, then `rewrite` answers it or anvil does.
 * Counts calls per method.
 */
class FakeRpc {
  private readonly counts = new Map<string, number>();
  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(upstream: Anvil, rewrite: Rewrite = () => undefined, delayMs = 0): Promise<FakeRpc> {
    let fake: FakeRpc | undefined;
    const server = createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => {
        void (async () => {
          const call = JSON.parse(body) as { id: unknown; method: string; params?: unknown[] };
          const params = call.params ?? [];
          fake!.counts.set(call.method, (fake!.counts.get(call.method) ?? 0) + 1);
          if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
          let answer: object;
          try {
            const own = await rewrite(call.method, params);
            const result = own !== undefined ? own : await upstream.send(call.method, params);
            answer = { jsonrpc: "2.0", id: call.id, result };
          } catch (e) {
            answer = { jsonrpc: "2.0", id: call.id, error: { code: -32000, message: String(e) } };
          }
          res.setHeader("content-type", "application/json");
          res.end(JSON.stringify(answer));
        })();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    fake = new FakeRpc(server, `http://127.0.0.1:${port}`);
    return fake;
  }

  calls(method: string): number {
    return this.counts.get(method) ?? 0;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

const hex = (n: number) => `0x${n.toString(16)}`;

describe("RpcPool trust: slow members, lying heads, stale receipts", function () {
  let anvil: Anvil;
  let metrics: Metrics;
  let sink: LogSink;
  const fakes: FakeRpc[] = [];
  const pools: RpcPool[] = [];

  const fake = async (rewrite?: Rewrite, delayMs?: number) => {
    const f = await FakeRpc.start(anvil, rewrite, delayMs);
    fakes.push(f);
    return f;
  };
  const makePool = (urls: string[], timeoutMs = 1000, frozenAfterMs = 60_000) => {
    const p = new RpcPool({
      urls,
      chainId: anvil.chainId,
      timeoutMs,
      pollingIntervalMs: 100,
      frozenAfterMs,
      logger: createLogger("test", { destination: sink }),
      metrics,
    });
    pools.push(p);
    return p;
  };
  const metric = async (name: string, labels: Record<string, string>): Promise<number> => {
    const values = (await metrics.registry.getSingleMetric(name)!.get()).values;
    const hit = values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x));
    return hit?.value ?? 0;
  };
  const head = async () => Number(await anvil.send<string>("eth_blockNumber"));

  before(async () => {
    anvil = await Anvil.start();
  });
  after(async () => {
    await anvil?.stop();
  });
  beforeEach(() => {
    metrics = new Metrics(false);
    sink = new LogSink();
  });
  afterEach(async () => {
    for (const p of pools.splice(0)) p.destroy();
    await Promise.all(fakes.splice(0).map((f) => f.close()));
  });

  describe("each()", () => {
    const DELAY_MS = 60;
    const REQUESTS = 25;
    /** REQUESTS sequential reads: at least REQUESTS × DELAY_MS = 1500 ms on the slow member. */
    const manyReads = async (p: { getBlockNumber(): Promise<number> }) => {
      let n = -1;
      for (let i = 0; i < REQUESTS; i++) n = await p.getBlockNumber();
      return n;
    };

    it("runs a callback of many requests to a slow, healthy member past timeoutMs, and the member stays fresh", async () => {
      const slow = await fake(undefined, DELAY_MS);
      const pool = makePool([slow.url, anvil.url], 1000);
      const started = Date.now();
      const settled = await pool.each((p) => manyReads(p));
      // The precondition that makes this a test: the callback outlasted the per-request deadline.
      expect(Date.now() - started).to.be.greaterThan(pool.timeoutMs);
      expect(settled.map((s) => s.ok)).to.deep.equal([true, true]);
      expect(slow.calls("eth_blockNumber")).to.be.at.least(REQUESTS);
      expect(pool.state(pool.members[0]).status).to.equal("fresh");
      expect(
        await metric("vigil_rpc_faults_total", { rpc: pool.members[0].label, kind: "timeout" }),
      ).to.equal(0);
    });

    it("with opts.timeoutMs, fails the member's entry past that bound without marking it down", async () => {
      const slow = await fake(undefined, DELAY_MS);
      const pool = makePool([slow.url], 1000);
      const settled = await pool.each((p) => manyReads(p), undefined, { timeoutMs: 200 });
      expect(settled).to.have.length(1);
      expect(settled[0].ok).to.equal(false);
      expect(isError((settled[0] as { error: unknown }).error, "TIMEOUT")).to.equal(true);
      expect(pool.state(pool.members[0]).status).to.equal("fresh");
      expect(
        await metric("vigil_rpc_faults_total", { rpc: pool.members[0].label, kind: "timeout" }),
      ).to.equal(0);
    });
  });

  describe("a member claiming a higher head", () => {
    /** Anvil's latest block, its number raised by `ahead` and its timestamp by `futureS`. */
    const claim = (ahead: number, futureS: number): Rewrite => {
      return async (method, params) => {
        if (method === "eth_blockNumber") return hex((await head()) + ahead);
        if (method === "eth_getBlockByNumber" && params[0] === "latest") {
          const b = await anvil.send<{ number: string; timestamp: string }>(method, params);
          return {
            ...b,
            number: hex(Number(b.number) + ahead),
            timestamp: hex(Number(b.timestamp) + futureS),
          };
        }
        return undefined;
      };
    };

    it("is lying when its head block is timestamped in the future: blamed 'lied', its head ignored", async () => {
      const liar = await fake(claim(1000, 3600));
      const pool = makePool([liar.url, anvil.url]);
      const [lying, honest] = pool.members;
      await until("the liar lying", async () => pool.state(lying).status === "lying", 20_000);
      await anvil.mine(5);
      // The liar's head is 1000 blocks above: counted, it would make the honest member lagging at once.
      await until(
        "the honest head probed past the mined blocks",
        async () => pool.state(honest).head === (await head()),
      );
      expect(pool.state(honest).status).to.equal("fresh");
      expect(pool.fresh()).to.deep.equal([honest]);
      expect(await pool.provider.getBlockNumber()).to.equal(await head());
      expect((await pool.provider.getBlock("latest"))!.number).to.equal(await head());
      const calls = liar.calls("eth_call");
      const direct = await anvil.send<string>("eth_call", [{ data: BLOCK_NUMBER_CODE }, "latest"]);
      expect(await pool.provider.call({ data: BLOCK_NUMBER_CODE })).to.equal(direct);
      expect(liar.calls("eth_call")).to.equal(calls);
      expect(await metric("vigil_rpc_faults_total", { rpc: lying.label, kind: "lied" })).to.be.greaterThan(0);
      expect(await metric("vigil_rpc_up", { rpc: lying.label })).to.equal(0);
      expect(sink.find(`control-chain RPC ${lying.label}: lied`, { rpc: lying.label })).to.have.length(1);
    });

    it("is not singled out when every member's head is in the future (chain time moved ahead)", async () => {
      const ahead = await fake(claim(0, 3600));
      const pool = makePool([ahead.url]);
      await until("its head known", async () => pool.state(pool.members[0]).head >= 0);
      expect(pool.state(pool.members[0]).status).to.equal("fresh");
      expect(await pool.provider.getBlockNumber()).to.equal(await head());
      expect(sink.find(`control-chain RPC ${pool.members[0].label}: lied`)).to.have.length(0);
    });

    it("buys no preference: fresh members are asked in configured order", async () => {
      const ahead = await fake(claim(1, 0));
      const pool = makePool([anvil.url, ahead.url]);
      await until(
        "the ahead member's head known",
        async () => pool.state(pool.members[1]).head > (await head()),
      );
      expect(pool.fresh()).to.deep.equal(pool.members);
      for (let i = 0; i < 3; i++) await pool.provider.call({ data: BLOCK_NUMBER_CODE });
      expect(ahead.calls("eth_call")).to.equal(0);
    });
  });

  describe("receipts, transactions and blocks by hash", () => {
    it("takes a fresh member's null over a lagging member's pre-reorg receipt", async () => {
      const snapshot = await anvil.send<string>("evm_snapshot");
      const wallet = new Wallet(ANVIL_KEYS[3], anvil.provider());
      const tx = await wallet.sendTransaction({ to: Wallet.createRandom().address, value: 1n });
      await tx.wait();
      const receipt = await anvil.send<object>("eth_getTransactionReceipt", [tx.hash]);
      const block = await anvil.send<{ number: string }>("eth_getBlockByNumber", ["latest", false]);
      const staleHead = Number(block.number);
      // The stale member stopped at the pre-reorg block; it answers at once, the honest one after 50 ms.
      const stale = await fake((method, params) => {
        if (method === "eth_blockNumber") return hex(staleHead);
        if (method === "eth_getBlockByNumber" && params[0] === "latest") return block;
        if (method === "eth_getTransactionReceipt" && params[0] === tx.hash) return receipt;
        return undefined;
      });
      const honest = await fake(undefined, 50);
      await anvil.send("evm_revert", [snapshot]);
      await anvil.mine(10);
      expect(await anvil.send("eth_getTransactionReceipt", [tx.hash])).to.equal(null);
      const pool = makePool([stale.url, honest.url]);
      await until("the stale member lagging", async () => pool.state(pool.members[0]).status === "lagging");
      expect(await pool.provider.getTransactionReceipt(tx.hash)).to.equal(null);
      expect(stale.calls("eth_getTransactionReceipt")).to.be.greaterThan(0);
    });

    describe("firstNonNull", () => {
      const members = [0, 1, 2].map((index) => ({ index, label: `m${index}` }) as unknown as RpcMember);
      const ask: Ask = (_m, _method, fn) => fn();
      const failed = () => Promise.reject(Object.assign(new Error("refused"), { code: "ECONNREFUSED" }));
      /** members[0] is fresh, the others not; `answers[i]` is member i's answer. */
      const run = (answers: (() => Promise<unknown>)[]) =>
        firstNonNull(
          members,
          ask,
          "getTransactionReceipt",
          (m) => answers[m.index](),
          (m) => m.index === 0,
        );

      it("a fresh member's null wins over a non-fresh member's receipt", async () => {
        expect(await run([async () => null, async () => ({ r: 1 }), async () => ({ r: 2 })])).to.equal(null);
      });
      it("a fresh member's receipt wins over non-fresh nulls", async () => {
        expect(await run([async () => ({ r: 0 }), async () => null, async () => null])).to.deep.equal({
          r: 0,
        });
      });
      it("falls back to a non-fresh member's receipt only when no fresh member answered", async () => {
        expect(await run([failed, async () => null, async () => ({ r: 2 })])).to.deep.equal({ r: 2 });
        expect(await run([failed, async () => null, failed])).to.equal(null);
      });
      it("throws when no member answered", async () => {
        const e = await run([failed, failed, failed]).then(
          () => undefined,
          (x: unknown) => x,
        );
        expect((e as { code?: string }).code).to.equal("ECONNREFUSED");
      });
    });
  });
});
