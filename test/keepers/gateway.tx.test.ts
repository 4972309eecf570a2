/**
 * `eth_sendRawTransaction` through the gateway against real nodes: the client always gets keccak256(raw) or an
 * error that says whether the transaction may have been broadcast; a signed order is never silently lost.
 */
import { expect } from "chai";
import { keccak256, Wallet } from "ethers";
import type { GatewayHandle } from "../../keepers/gateway/run";
import { Anvil, ANVIL_KEYS } from "./helpers/anvil";
import { until } from "./helpers/until";
import {
  call,
  ControlChain,
  DOWN,
  HEALTHY,
  metricValue,
  startTestGateway,
  type TestService,
} from "./gateway/fixture";

const TO = "0x00000000000000000000000000000000000000bb";

// Both upstream senders (config upstreamClient): whether a failed attempt may have reached a node is each
// sender's own judgement, and it decides mayHaveBeenBroadcast.
for (const upstreamClient of ["undici", "http"] as const)
  describe(`gateway: signed transactions (real nodes, ${upstreamClient} sender)`, function () {
    this.timeout(120_000);
    let chain: ControlChain;
    let x: Anvil, y: Anvil;
    const gateways: GatewayHandle[] = [];
    const trader = new Wallet(ANVIL_KEYS[2]);

    before(async function () {
      [chain, x, y] = await Promise.all([ControlChain.start(), Anvil.start(), Anvil.start()]);
    });

    after(async function () {
      await Promise.all(gateways.map((g) => g.stop()));
      await Promise.all([chain?.stop(), x?.stop(), y?.stop()]);
    });

    /** A signed transfer from `signer` with its next nonce on `node` (or `nonce`). */
    async function signed(node: Anvil, signer: Wallet = trader, nonce?: number): Promise<string> {
      const n =
        nonce ??
        Number(BigInt(await node.send<string>("eth_getTransactionCount", [signer.address, "pending"])));
      return signer.signTransaction({
        to: TO,
        value: 1n,
        nonce: n,
        gasLimit: 21_000n,
        maxFeePerGas: 20_000_000_000n,
        maxPriorityFeePerGas: 1_000_000_000n,
        chainId: 31337n,
        type: 2,
      });
    }

    /** A service over `nodes` whose health per endpoint is `health` (undefined: never reported, UNKNOWN). */
    async function setUp(
      nodes: Anvil[],
      health: (number | undefined)[],
      over: Record<string, unknown> = {},
    ): Promise<{ svc: TestService; gw: GatewayHandle; url: string }> {
      const svc = await chain.service(nodes);
      chain.health.clear();
      chain.set(svc.endpoints.map((e, i) => [e, health[i]]));
      await chain.round();
      const gw = await startTestGateway(chain, [{ name: svc.name, id: svc.id, chainId: 31337 }], {
        attemptTimeoutMs: 400,
        deadlineMs: 3000,
        upstreamClient,
        ...over,
      });
      gateways.push(gw);
      return { svc, gw, url: `${gw.url}/${svc.name}` };
    }

    const receiptOn = (node: Anvil, hash: string) =>
      node.send<{ status: string } | null>("eth_getTransactionReceipt", [hash]);
    /** The receipt status once the node mined `hash` (anvil's automine may answer before the block is made). */
    async function mined(node: Anvil, hash: string): Promise<string | undefined> {
      await until(`${hash} mined`, async () => (await receiptOn(node, hash)) !== null, 20_000);
      return (await receiptOn(node, hash))?.status;
    }
    const sends = (svc: TestService) => svc.endpoints.map((e) => e.proxy.count("eth_sendRawTransaction"));

    it("answers keccak256(raw) and the transaction lands on the active endpoint's chain", async function () {
      const { svc, gw, url } = await setUp([x, y], [HEALTHY, HEALTHY]);
      const raw = await signed(x);
      const r = await call(url, "eth_sendRawTransaction", [raw], 11);
      expect(r.body).to.deep.equal({ jsonrpc: "2.0", id: 11, result: keccak256(raw) });
      expect(await mined(x, keccak256(raw))).to.equal("0x1");
      expect(sends(svc)).to.deep.equal([1, 0]);
      expect(
        await metricValue(gw.gatewayMetrics.transactions, { service: svc.name, outcome: "sent" }),
      ).to.equal(1);
    });

    it("after connection refused, sends the same bytes to the next HEALTHY endpoint", async function () {
      const { svc, url } = await setUp([x, y], [HEALTHY, HEALTHY]);
      await svc.endpoints[0].proxy.setMode("refuse");
      const raw = await signed(y);
      const r = await call(url, "eth_sendRawTransaction", [raw]);
      expect(r.body.result).to.equal(keccak256(raw));
      expect(await mined(y, keccak256(raw))).to.equal("0x1");
      expect(sends(svc)).to.deep.equal([0, 1]);
    });

    it("answers the hash when the retry hears 'nonce too low' after the first endpoint swallowed the answer (it was broadcast)", async function () {
      // Two endpoints of one chain: the first forwards the transaction to the node and never answers.
      // The attempt timeout leaves the swallowing proxy time to hand the transaction to the node before the retry.
      const { svc, gw, url } = await setUp([x, x], [HEALTHY, HEALTHY], {
        attemptTimeoutMs: 2000,
        deadlineMs: 5000,
      });
      await svc.endpoints[0].proxy.setMode("swallow");
      const raw = await signed(x);
      const r = await call(url, "eth_sendRawTransaction", [raw]);
      expect(r.body.result).to.equal(keccak256(raw));
      expect(await mined(x, keccak256(raw))).to.equal("0x1"); // mined once, from the first send
      expect(sends(svc)).to.deep.equal([1, 1]);
      expect(
        await metricValue(gw.gatewayMetrics.transactions, { service: svc.name, outcome: "already_known" }),
      ).to.equal(1);
    });

    it("says mayHaveBeenBroadcast: true when the request reached a node that never answered and no HEALTHY endpoint is left", async function () {
      const { svc, url } = await setUp([x, y, y], [HEALTHY, DOWN, undefined]);
      await svc.endpoints[0].proxy.setMode("swallow");
      const raw = await signed(x);
      const r = await call(url, "eth_sendRawTransaction", [raw]);
      expect(r.body.error.code).to.equal(-32050);
      expect(r.body.error.data).to.deep.equal({ mayHaveBeenBroadcast: true, txHash: keccak256(raw) });
      expect(sends(svc)).to.deep.equal([1, 0, 0]); // never to the DOWN or the UNKNOWN endpoint
      await until(
        "the swallowed transaction is mined",
        async () => (await receiptOn(x, keccak256(raw))) !== null,
      );
    });

    it("says mayHaveBeenBroadcast: false when no endpoint could be reached", async function () {
      const { svc, gw, url } = await setUp([x, y], [HEALTHY, DOWN]);
      await svc.endpoints[0].proxy.setMode("refuse");
      const raw = await signed(x);
      const r = await call(url, "eth_sendRawTransaction", [raw]);
      expect(r.body.error.code).to.equal(-32050);
      expect(r.body.error.data).to.deep.equal({ mayHaveBeenBroadcast: false, txHash: keccak256(raw) });
      expect(sends(svc)).to.deep.equal([0, 0]);
      expect(await receiptOn(x, keccak256(raw))).to.equal(null);
      expect(
        await metricValue(gw.gatewayMetrics.transactions, { service: svc.name, outcome: "not_broadcast" }),
      ).to.equal(1);
    });

    it("passes a node's refusal on as the answer, not broadcast, without a retry", async function () {
      const { svc, url } = await setUp([x, y], [HEALTHY, HEALTHY]);
      const pauper = Wallet.createRandom();
      const raw = await signed(x, new Wallet(pauper.privateKey), 0);
      const r = await call(url, "eth_sendRawTransaction", [raw]);
      expect(r.body.error.message).to.match(/insufficient funds|funds/i);
      expect(r.body.error.data).to.include({ mayHaveBeenBroadcast: false, txHash: keccak256(raw) });
      expect(sends(svc)).to.deep.equal([1, 0]);
    });

    it("passes 'nonce too low' on as an error when no earlier attempt could have broadcast it", async function () {
      const { url } = await setUp([x, y], [HEALTHY, HEALTHY]);
      const raw = await signed(x, trader, 0); // nonce 0 was used by the first test
      const r = await call(url, "eth_sendRawTransaction", [raw]);
      expect(r.body.error.message).to.match(/nonce too low/i);
      expect(r.body.error.data).to.include({ mayHaveBeenBroadcast: false });
    });

    it("refuses a parameter that is no signed transaction in hex, as not broadcast", async function () {
      const { svc, url } = await setUp([x, y], [HEALTHY, HEALTHY]);
      for (const params of [[], ["0x123"], ["not hex"], [{}]]) {
        const r = await call(url, "eth_sendRawTransaction", params);
        expect(r.body.error.code).to.equal(-32602);
        expect(r.body.error.data).to.deep.equal({ mayHaveBeenBroadcast: false });
      }
      expect(sends(svc)).to.deep.equal([0, 0]);
    });
  });
