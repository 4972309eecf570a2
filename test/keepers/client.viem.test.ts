/**
 * The Vigil viem transport (keepers/client/viem.ts) against real nodes: replicas of one chain behind fault
 * proxies, the Vigil contracts on a control chain, health moved by attestor reports and the active endpoint
 * by `migrate`. A viem public client on the transport follows the migration, retries a read once on a
 * HEALTHY endpoint only, passes a revert on, resends a signed transaction and answers its hash, and never
 * steps the head back.
 */
import { expect } from "chai";
import { keccak256 } from "ethers";
import { BaseError, createPublicClient, defineChain, type Hex } from "viem";
import { vigilTransport } from "../../keepers/client/viem";
import { ClientBed, DOWN, HEALTHY, REVERTING_INITCODE, SERVED_CHAIN } from "./client/fixture";

const chain = defineChain({
  id: SERVED_CHAIN,
  name: "replicas",
  nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
  rpcUrls: { default: { http: [] } },
});
const AA = "0x00000000000000000000000000000000000000aa";

/** The JSON-RPC error data inside a viem error chain, if any. */
function rpcData(e: unknown): Record<string, unknown> | undefined {
  const inner = (e as BaseError).walk?.((x) => typeof (x as { data?: unknown }).data === "object");
  return (inner as { data?: Record<string, unknown> } | null)?.data;
}

describe("client: viem vigilTransport (real nodes)", function () {
  this.timeout(180_000);
  let bed: ClientBed;

  before(async function () {
    bed = await ClientBed.start(3);
  });

  after(async function () {
    await bed?.stop();
  });

  async function clientFor(...args: Parameters<ClientBed["router"]>) {
    const router = await bed.router(...args);
    const client = createPublicClient({
      chain,
      cacheTime: 0,
      transport: vigilTransport({ router, service: args[0].name }),
    });
    return { client, router };
  }

  it("reads from the active endpoint and follows the registry's migration", async function () {
    const svc = await bed.service([0, 1], [HEALTHY, HEALTHY]);
    const { client, router } = await clientFor(svc);
    const switches: string[] = [];
    router.follower.on("switch", (e) => switches.push(e.to.id));
    const [a, b] = svc.endpoints.map((e) => e.proxy);
    expect(await client.getBlockNumber()).to.equal(BigInt(bed.replicas.tip));
    expect([a.count("eth_blockNumber"), b.count("eth_blockNumber")]).to.deep.equal([1, 0]);

    await bed.failover(svc, router);
    await bed.replicas.tick();
    expect(await client.getBlockNumber()).to.equal(BigInt(bed.replicas.tip));
    expect([a.count("eth_blockNumber"), b.count("eth_blockNumber")]).to.deep.equal([1, 1]);
    expect(switches).to.deep.equal([svc.endpoints[1].id]);
    expect(client.transport.type).to.equal("vigil");
  });

  it("retries a read after a transport failure on a HEALTHY endpoint, and never on a DOWN or UNKNOWN one", async function () {
    const svc = await bed.service([0, 1, 2], [HEALTHY, DOWN, undefined]);
    const { client, router } = await clientFor(svc);
    const [a, b, c] = svc.endpoints.map((e) => e.proxy);
    await a.setMode("refuse");
    const err = await client.getBalance({ address: AA }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(BaseError);
    expect((err as BaseError).message).to.match(/upstream unavailable/);
    expect((err as BaseError).message).not.to.match(/SECRETKEY/);
    expect(rpcData(err)).to.deep.equal({ reason: "failed" });
    expect([a.count("eth_getBalance"), b.count(), c.count()]).to.deep.equal([0, 0, 0]);

    await bed.report(svc, [HEALTHY, DOWN, HEALTHY], router);
    expect(await client.getBalance({ address: AA })).to.equal(0n);
    expect([b.count(), c.count("eth_getBalance")]).to.deep.equal([0, 1]);
    await a.setMode("pass");
  });

  it("passes a revert on as an answer: one call, on the active endpoint only", async function () {
    const svc = await bed.service([0, 1], [HEALTHY, HEALTHY]);
    const { client } = await clientFor(svc);
    const [a, b] = svc.endpoints.map((e) => e.proxy);
    const err = await client.call({ data: REVERTING_INITCODE }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(BaseError);
    expect((err as BaseError).name).to.equal("CallExecutionError");
    expect((err as BaseError).message).to.match(/revert/i);
    expect([a.count("eth_call"), b.count("eth_call")]).to.deep.equal([1, 0]);
  });

  it("resends a signed transaction to the next HEALTHY endpoint after a transport failure and returns its hash", async function () {
    const svc = await bed.service([0, 1], [HEALTHY, HEALTHY]);
    const { client } = await clientFor(svc);
    const [a, b] = svc.endpoints.map((e) => e.proxy);
    await a.setMode("refuse");
    const raw = (await bed.signedTransfer(1, 5)) as Hex;
    expect(await client.sendRawTransaction({ serializedTransaction: raw })).to.equal(keccak256(raw));
    expect(b.count("eth_sendRawTransaction")).to.equal(1);
    expect((await client.getTransaction({ hash: keccak256(raw) as Hex })).hash).to.equal(keccak256(raw));
    await a.setMode("pass");
  });

  it("throws an error that says whether a transaction may have been broadcast", async function () {
    const svc = await bed.service([0, 1], [HEALTHY, DOWN]);
    const { client } = await clientFor(svc, { deadlineMs: 1500, attemptTimeoutMs: 700 });
    const [a, b] = svc.endpoints.map((e) => e.proxy);
    await a.setMode("hang");
    const raw = (await bed.signedTransfer(0, 6)) as Hex;
    const err = await client.sendRawTransaction({ serializedTransaction: raw }).catch((e: unknown) => e);
    expect((err as BaseError).message).to.match(/transaction may have been broadcast: watch for 0x/);
    expect(rpcData(err)).to.include({ mayHaveBeenBroadcast: true, txHash: keccak256(raw) });
    expect(b.count()).to.equal(0);
    await a.setMode("refuse");
    const err2 = await client.sendRawTransaction({ serializedTransaction: raw }).catch((e: unknown) => e);
    expect((err2 as BaseError).message).to.match(/transaction not broadcast/);
    expect(rpcData(err2)).to.include({ mayHaveBeenBroadcast: false });
    await a.setMode("pass");
  });

  it("never answers eth_blockNumber below a block it served, across a failover to an endpoint behind", async function () {
    const svc = await bed.service([0, 2], [HEALTHY, HEALTHY]);
    const { client, router } = await clientFor(svc);
    bed.replicas.halt(2);
    for (let i = 0; i < 4; i++) await bed.replicas.tick();
    const before = await client.getBlockNumber();
    expect(before).to.equal(BigInt(bed.replicas.tip));
    await bed.failover(svc, router);
    const seen: bigint[] = [];
    for (let i = 0; i < 5; i++) seen.push(await client.getBlockNumber());
    expect(seen).to.deep.equal(Array(5).fill(before));
    expect(svc.endpoints[1].proxy.count("eth_blockNumber")).to.be.at.least(5);
    bed.replicas.resume(2);
    await bed.replicas.tick();
    await bed.replicas.waitInSync(2);
    expect(await client.getBlockNumber()).to.equal(BigInt(bed.replicas.tip));
  });
});
