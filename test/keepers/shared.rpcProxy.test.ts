import { expect } from "chai";
import { Wallet, toBeHex } from "ethers";
import { RpcProxy } from "../../scripts/chaos/rpcProxy";
import { rpc } from "../../scripts/drill/nodes";
import { ANVIL_KEYS, Anvil } from "./helpers/anvil";

/** The error code under a rejected fetch (undici puts the socket error in `cause`). */
async function failure(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    const err = e as { name?: string; cause?: { code?: string; name?: string } };
    return err.cause?.code ?? err.cause?.name ?? err.name ?? String(e);
  }
  throw new Error("expected the call to fail");
}

describe("chaos RpcProxy (hostile JSON-RPC proxy in front of anvil)", function () {
  let anvil: Anvil;
  let proxy: RpcProxy;

  before(async () => {
    anvil = await Anvil.start();
  });
  after(async () => {
    await anvil?.stop();
  });
  beforeEach(async () => {
    proxy = await RpcProxy.start(anvil.url);
  });
  afterEach(async () => {
    await proxy.close();
  });

  it("passes calls through and counts them by method", async () => {
    expect(await rpc(proxy.url, "eth_chainId")).to.equal(toBeHex(anvil.chainId));
    await rpc(proxy.url, "eth_blockNumber");
    await rpc(proxy.url, "eth_blockNumber");
    expect(proxy.calls("eth_blockNumber")).to.equal(2);
    expect(proxy.calls()).to.equal(3);
  });

  describe("when refusing", () => {
    it("refuses new connections (ECONNREFUSED) and listens again on the same port in another mode", async () => {
      await rpc(proxy.url, "eth_blockNumber");
      const url = proxy.url;
      await proxy.set({ kind: "refuse" });
      expect(await failure(rpc(url, "eth_blockNumber"))).to.equal("ECONNREFUSED");
      await proxy.set({ kind: "pass" });
      expect(proxy.url).to.equal(url);
      expect(await rpc(url, "eth_chainId")).to.equal(toBeHex(anvil.chainId));
    });

    it("drops a connection that was open when the mode was set", async () => {
      await proxy.set({ kind: "hang" });
      const held = rpc(proxy.url, "eth_blockNumber", [], 60_000);
      const seen = () => proxy.calls("eth_blockNumber") === 1;
      while (!seen()) await new Promise((r) => setTimeout(r, 20));
      await proxy.set({ kind: "refuse" });
      expect(await failure(held)).to.not.equal("TimeoutError");
    });
  });

  describe("when hanging", () => {
    it("accepts a call and never answers it", async () => {
      await proxy.set({ kind: "hang" });
      expect(await failure(rpc(proxy.url, "eth_chainId", [], 500))).to.equal("TimeoutError");
      expect(proxy.calls("eth_chainId")).to.equal(1);
    });

    it("ends the held calls on close()", async () => {
      await proxy.set({ kind: "hang" });
      const held = rpc(proxy.url, "eth_chainId", [], 60_000);
      while (proxy.calls("eth_chainId") === 0) await new Promise((r) => setTimeout(r, 20));
      await proxy.close();
      expect(await failure(held)).to.not.equal("TimeoutError");
    });
  });

  describe("when frozen", () => {
    it("pins the head and the latest/pending tags, answers null past it and drops raw transactions", async () => {
      await anvil.mine(2);
      await proxy.set({ kind: "frozen" });
      const head = proxy.frozenHead!;
      expect(head).to.equal(Number(await anvil.send<string>("eth_blockNumber")));
      const wallet = new Wallet(ANVIL_KEYS[1], anvil.provider());
      const to = Wallet.createRandom().address;
      const sent = await wallet.sendTransaction({ to, value: 1000n });
      const mined = await sent.wait();
      await anvil.mine(3);

      expect(Number(await rpc<string>(proxy.url, "eth_blockNumber"))).to.equal(head);
      for (const tag of ["latest", "pending"]) {
        const b = await rpc<{ number: string }>(proxy.url, "eth_getBlockByNumber", [tag, false]);
        expect(Number(b.number)).to.equal(head);
      }
      expect(await rpc(proxy.url, "eth_getBlockByNumber", [toBeHex(head + 1), false])).to.equal(null);
      expect(await rpc(proxy.url, "eth_getBalance", [to, "latest"])).to.equal("0x0");
      expect(BigInt(await rpc<string>(anvil.url, "eth_getBalance", [to, "latest"]))).to.equal(1000n);
      expect(await rpc(proxy.url, "eth_getTransactionCount", [wallet.address, "pending"])).to.equal("0x0");
      expect(await rpc(proxy.url, "eth_getTransactionReceipt", [mined!.hash])).to.equal(null);
      expect(await rpc(anvil.url, "eth_getTransactionReceipt", [mined!.hash])).to.not.equal(null);

      const raw = await wallet.signTransaction(
        await wallet.populateTransaction({ to, value: 1n, nonce: 1, gasLimit: 21000 }),
      );
      const hash = await rpc<string>(proxy.url, "eth_sendRawTransaction", [raw]);
      expect(hash).to.match(/^0x[0-9a-f]{64}$/);
      expect(await anvil.send("eth_getTransactionByHash", [hash])).to.equal(null);
      expect(proxy.calls("eth_sendRawTransaction")).to.equal(1);

      await proxy.set({ kind: "pass" });
      expect(Number(await rpc<string>(proxy.url, "eth_blockNumber"))).to.equal(head + 4);
    });
  });

  describe("when lying", () => {
    it("answers the chosen eth_call with the given data and passes every other call", async () => {
      const to = Wallet.createRandom().address;
      const lie = "0x" + "00".repeat(31) + "01";
      await proxy.set({ kind: "lie", to, selector: "0x12345678", result: lie });
      expect(
        await rpc(proxy.url, "eth_call", [{ to: to.toLowerCase(), data: "0x12345678aa" }, "latest"]),
      ).to.equal(lie);
      expect(await rpc(proxy.url, "eth_call", [{ to, data: "0x87654321" }, "latest"])).to.equal("0x");
      expect(await rpc(anvil.url, "eth_call", [{ to, data: "0x12345678aa" }, "latest"])).to.equal("0x");
    });
  });

  it("answers a batch call by call", async () => {
    await proxy.set({ kind: "frozen" });
    const res = await fetch(proxy.url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify([
        { jsonrpc: "2.0", id: 1, method: "eth_blockNumber", params: [] },
        { jsonrpc: "2.0", id: 2, method: "eth_chainId", params: [] },
      ]),
    });
    const body = (await res.json()) as { id: number; result: string }[];
    expect(body.map((a) => a.id)).to.deep.equal([1, 2]);
    expect(Number(body[0].result)).to.equal(proxy.frozenHead);
    expect(body[1].result).to.equal(toBeHex(anvil.chainId));
  });
});
