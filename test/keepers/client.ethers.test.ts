/**
 * The Vigil ethers provider (keepers/client/ethers.ts) against real nodes: replicas of one chain behind
 * fault proxies, the Vigil contracts on a control chain, health moved by attestor reports and the active
 * endpoint by `migrate`. The provider follows the migration, retries a read once on a HEALTHY endpoint only,
 * passes a revert on, resends a signed transaction and answers its hash, and never steps the head back.
 */
import { expect } from "chai";
import { isError, keccak256 } from "ethers";
import { VigilProvider } from "../../keepers/client/ethers";
import { ClientBed, DOWN, HEALTHY, REVERTING_INITCODE } from "./client/fixture";

describe("client: ethers VigilProvider (real nodes)", function () {
  this.timeout(180_000);
  let bed: ClientBed;
  const providers: VigilProvider[] = [];

  before(async function () {
    bed = await ClientBed.start(3);
  });

  after(async function () {
    providers.forEach((p) => p.destroy());
    await bed?.stop();
  });

  async function providerFor(...args: Parameters<ClientBed["router"]>) {
    const router = await bed.router(...args);
    const p = new VigilProvider(router, args[0].name, { cacheTimeout: -1 });
    providers.push(p);
    return { p, router };
  }

  it("reads from the active endpoint and follows the registry's migration", async function () {
    const svc = await bed.service([0, 1], [HEALTHY, HEALTHY]);
    const { p, router } = await providerFor(svc);
    const switches: string[] = [];
    router.follower.on("switch", (e) => switches.push(e.to.id));
    const [a, b] = svc.endpoints.map((e) => e.proxy);
    // No ethers batches: a batch resolves its calls together in request order, which could put a head the
    // router decided later (higher) before one it decided earlier.
    expect(p._getOption("batchMaxCount")).to.equal(1);
    expect(await p.getBlockNumber()).to.equal(bed.replicas.tip);
    expect([a.count("eth_blockNumber"), b.count("eth_blockNumber")]).to.deep.equal([1, 0]);

    await bed.failover(svc, router);
    await bed.replicas.tick();
    expect(await p.getBlockNumber()).to.equal(bed.replicas.tip);
    expect([a.count("eth_blockNumber"), b.count("eth_blockNumber")]).to.deep.equal([1, 1]);
    expect(switches).to.deep.equal([svc.endpoints[1].id]);
  });

  it("retries a read after a transport failure on a HEALTHY endpoint, and never on a DOWN or UNKNOWN one", async function () {
    const svc = await bed.service([0, 1, 2], [HEALTHY, DOWN, undefined]);
    const { p, router } = await providerFor(svc);
    const [a, b, c] = svc.endpoints.map((e) => e.proxy);
    await a.setMode("refuse");
    const err = await p.getBalance("0x00000000000000000000000000000000000000aa").catch((e: unknown) => e);
    expect(err).to.be.instanceOf(Error);
    expect(String((err as Error).message)).to.match(/upstream unavailable/);
    expect(String((err as Error).message)).not.to.match(/SECRETKEY/);
    expect([b.count(), c.count()]).to.deep.equal([0, 0]);

    await bed.report(svc, [HEALTHY, DOWN, HEALTHY], router);
    expect(await p.getBalance("0x00000000000000000000000000000000000000aa")).to.equal(0n);
    expect([b.count(), c.count("eth_getBalance")]).to.deep.equal([0, 1]);
    await a.setMode("pass");
  });

  it("passes a revert on as an answer: one call, on the active endpoint only", async function () {
    const svc = await bed.service([0, 1], [HEALTHY, HEALTHY]);
    const { p } = await providerFor(svc);
    const [a, b] = svc.endpoints.map((e) => e.proxy);
    const err = await p.call({ data: REVERTING_INITCODE }).catch((e: unknown) => e);
    expect(isError(err, "CALL_EXCEPTION"), String(err)).to.equal(true);
    expect((err as { data?: string }).data).to.equal(`0x${"00".repeat(31)}01`);
    expect([a.count("eth_call"), b.count("eth_call")]).to.deep.equal([1, 0]);
  });

  it("resends a signed transaction to the next HEALTHY endpoint after a transport failure and returns its hash", async function () {
    const svc = await bed.service([0, 1], [HEALTHY, HEALTHY]);
    const { p } = await providerFor(svc);
    const [a, b] = svc.endpoints.map((e) => e.proxy);
    await a.setMode("refuse");
    const raw = await bed.signedTransfer(1);
    const tx = await p.broadcastTransaction(raw);
    expect(tx.hash).to.equal(keccak256(raw));
    expect(b.count("eth_sendRawTransaction")).to.equal(1);
    expect((await p.getTransaction(tx.hash))?.hash).to.equal(keccak256(raw));
    await a.setMode("pass");
  });

  it("throws an error that says a transaction may have been broadcast when the only endpoint took it and never answered", async function () {
    const svc = await bed.service([0, 1], [HEALTHY, DOWN]);
    const { p } = await providerFor(svc, { deadlineMs: 1500, attemptTimeoutMs: 700 });
    const [a, b] = svc.endpoints.map((e) => e.proxy);
    await a.setMode("hang");
    const raw = await bed.signedTransfer(0, 4);
    const err = (await p.broadcastTransaction(raw).catch((e: unknown) => e)) as Error & {
      mayHaveBeenBroadcast?: boolean;
      txHash?: string;
    };
    expect(err.message).to.match(/^transaction may have been broadcast: watch for 0x/);
    expect(err.mayHaveBeenBroadcast).to.equal(true);
    expect(err.txHash).to.equal(keccak256(raw));
    expect(b.count()).to.equal(0);
    await a.setMode("refuse");
    const err2 = (await p.broadcastTransaction(raw).catch((e: unknown) => e)) as {
      mayHaveBeenBroadcast?: boolean;
    };
    expect(err2.mayHaveBeenBroadcast).to.equal(false);
    await a.setMode("pass");
  });

  it("never answers eth_blockNumber below a block it served, across a failover to an endpoint behind", async function () {
    const svc = await bed.service([0, 2], [HEALTHY, HEALTHY]);
    const { p, router } = await providerFor(svc);
    bed.replicas.halt(2);
    for (let i = 0; i < 4; i++) await bed.replicas.tick();
    const before = await p.getBlockNumber();
    expect(before).to.equal(bed.replicas.tip);
    await bed.failover(svc, router);
    const seen: number[] = [];
    for (let i = 0; i < 5; i++) seen.push(await p.getBlockNumber());
    expect(seen).to.deep.equal(Array(5).fill(before));
    expect(svc.endpoints[1].proxy.count("eth_blockNumber")).to.be.at.least(5);
    bed.replicas.resume(2);
    await bed.replicas.tick();
    await bed.replicas.waitInSync(2);
    expect(await p.getBlockNumber()).to.equal(bed.replicas.tip);
  });
});
