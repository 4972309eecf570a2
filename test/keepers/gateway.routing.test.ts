/**
 * The gateway's routing and retry rule against real nodes: anvils behind fault proxies, the Vigil contracts on
 * a control anvil, health moved by real attestor reports and the active endpoint by `migrate`.
 */
import { expect } from "chai";
import { JsonRpcProvider, Network } from "ethers";
import type { GatewayHandle } from "../../keepers/gateway/run";
import { Anvil } from "./helpers/anvil";
import { until } from "./helpers/until";
import {
  call,
  ControlChain,
  DEGRADED,
  DOWN,
  HEALTHY,
  metricValue,
  post,
  startTestGateway,
  type TestService,
} from "./gateway/fixture";

const WATCHED = "0x00000000000000000000000000000000000000aa";

describe("gateway routing (real nodes)", function () {
  this.timeout(120_000);
  let chain: ControlChain;
  let n1: Anvil, n2: Anvil;
  const gateways: GatewayHandle[] = [];

  before(async function () {
    [chain, n1, n2] = await Promise.all([ControlChain.start(), Anvil.start(), Anvil.start()]);
    // The two nodes tell themselves apart by one balance.
    await n1.send("anvil_setBalance", [WATCHED, "0x1"]);
    await n2.send("anvil_setBalance", [WATCHED, "0x2"]);
  });

  after(async function () {
    await Promise.all(gateways.map((g) => g.stop()));
    await Promise.all([chain?.stop(), n1?.stop(), n2?.stop()]);
  });

  async function gatewayFor(svc: TestService, over: Record<string, unknown> = {}): Promise<GatewayHandle> {
    const g = await startTestGateway(chain, [{ name: svc.name, id: svc.id, chainId: 31337 }], over);
    gateways.push(g);
    return g;
  }

  describe("when every endpoint is HEALTHY", function () {
    let svc: TestService;
    let gw: GatewayHandle;

    before(async function () {
      svc = await chain.service([n1, n2]);
      chain.set(svc.endpoints.map((e) => [e, HEALTHY]));
      await chain.round();
      gw = await gatewayFor(svc);
    });

    it("routes a single call and a batch to the on-chain active endpoint, answers in order with the ids", async function () {
      const [a, b] = svc.endpoints;
      const one = await call(`${gw.url}/${svc.name}`, "eth_getBalance", [WATCHED, "latest"], 7);
      expect(one).to.deep.include({ status: 200 });
      expect(one.body).to.deep.equal({ jsonrpc: "2.0", id: 7, result: "0x1" });
      const batch = await post(`${gw.url}/${svc.id}`, [
        { jsonrpc: "2.0", id: "x", method: "eth_getBalance", params: [WATCHED, "latest"] },
        { jsonrpc: "2.0", id: 2, method: "eth_chainId", params: [] },
        { jsonrpc: "2.0", id: 3, method: "no_such_method", params: [] },
      ]);
      expect(batch.body.map((r: { id: unknown }) => r.id)).to.deep.equal(["x", 2, 3]);
      expect(batch.body[0].result).to.equal("0x1");
      expect(batch.body[1].result).to.equal("0x7a69");
      expect(batch.body[2].error.code).to.be.a("number"); // the node's own answer, passed on
      expect(a.proxy.count("eth_getBalance")).to.equal(2);
      expect(b.proxy.count("eth_getBalance")).to.equal(0);
    });

    it("a front end on an ethers provider follows the failover once the migration lands", async function () {
      const network = Network.from(31337);
      const frontEnd = new JsonRpcProvider(`${gw.url}/${svc.name}`, network, { staticNetwork: network });
      try {
        expect(await frontEnd.getBalance(WATCHED)).to.equal(1n);
        const [a, b] = svc.endpoints;
        chain.set([
          [a, DOWN],
          [b, HEALTHY],
        ]);
        await chain.round();
        await chain.migrate(svc.id);
        await until(
          "the gateway follows the migration",
          async () => gw.follower.active(svc.name)?.id === b.id,
        );
        expect(await frontEnd.getBalance(WATCHED)).to.equal(2n);
        expect(
          await metricValue(gw.gatewayMetrics.switches, { service: svc.name, outcome: "followed" }),
        ).to.equal(2);
      } finally {
        frontEnd.destroy();
      }
    });
  });

  describe("between an endpoint failing and the migration", function () {
    let svc: TestService;
    let gw: GatewayHandle;
    // a: active; b: DOWN, c: UNKNOWN (never reported), d: DEGRADED — all preferred over e, the only HEALTHY one.
    let a: TestService["endpoints"][number], e: TestService["endpoints"][number];
    let others: TestService["endpoints"];

    before(async function () {
      svc = await chain.service([n1, n2, n2, n2, n2]);
      [a, , , , e] = svc.endpoints;
      others = svc.endpoints.slice(1, 4);
      const [, b, , d] = svc.endpoints;
      chain.set([
        [a, HEALTHY],
        [b, DOWN],
        [d, HEALTHY],
        [e, HEALTHY],
      ]);
      await chain.round();
      chain.set([[d, DEGRADED]]);
      await chain.round();
      // The retry rule alone: no hedge, and a breaker that forgets a failure at once (gateway.hedge.test.ts
      // covers both).
      gw = await gatewayFor(svc, {
        attemptTimeoutMs: 400,
        deadlineMs: 3000,
        hedgeAfterMs: 0,
        breakerOpenMs: 0,
      });
      expect(gw.follower.healthyBackups(svc.name).map((x) => x.id)).to.deep.equal([e.id]);
    });

    afterEach(async function () {
      await a.proxy.setMode("pass");
      await e.proxy.setMode("pass");
    });

    const readsOf = (method: string) => others.map((x) => x.proxy.count(method));

    it("retries an idempotent read once on the HEALTHY endpoint after connection refused, never on DOWN, UNKNOWN or DEGRADED", async function () {
      await a.proxy.setMode("refuse");
      const r = await call(`${gw.url}/${svc.name}`, "eth_getBalance", [WATCHED, "latest"]);
      expect(r.body.result).to.equal("0x2");
      expect(e.proxy.count("eth_getBalance")).to.equal(1);
      expect(readsOf("eth_getBalance")).to.deep.equal([0, 0, 0]);
      expect(
        await metricValue(gw.gatewayMetrics.retries, { service: svc.name, class: "read", outcome: "ok" }),
      ).to.equal(1);
      expect(
        await metricValue(gw.gatewayMetrics.requests, {
          service: svc.name,
          class: "read",
          outcome: "retried_ok",
        }),
      ).to.equal(1);
    });

    it("retries a read that timed out on the HEALTHY endpoint", async function () {
      await a.proxy.setMode("hang");
      const r = await call(`${gw.url}/${svc.name}`, "eth_getCode", [WATCHED, "latest"]);
      expect(r.body.result).to.equal("0x");
      expect(a.proxy.count("eth_getCode")).to.equal(1);
      expect(e.proxy.count("eth_getCode")).to.equal(1);
      expect(readsOf("eth_getCode")).to.deep.equal([0, 0, 0]);
    });

    it("retries only once: when the HEALTHY endpoint fails too, the client gets an error and no other endpoint is asked", async function () {
      await a.proxy.setMode("refuse");
      await e.proxy.setMode("refuse");
      const r = await call(`${gw.url}/${svc.name}`, "eth_getTransactionCount", [WATCHED, "latest"]);
      expect(r.body.error.code).to.equal(-32603);
      expect(r.body.error.data).to.deep.equal({ reason: "failed" });
      expect(readsOf("eth_getTransactionCount")).to.deep.equal([0, 0, 0]);
      expect(
        await metricValue(gw.gatewayMetrics.retries, { service: svc.name, class: "read", outcome: "failed" }),
      ).to.equal(1);
    });

    it("passes a revert on as the answer, without a retry", async function () {
      // Creation code that reverts at once: PUSH1 0 PUSH1 0 REVERT.
      const r = await call(`${gw.url}/${svc.name}`, "eth_call", [{ data: "0x60006000fd" }, "latest"]);
      expect(r.body.error.message).to.match(/revert/i);
      expect(a.proxy.count("eth_call")).to.equal(1);
      expect(e.proxy.count("eth_call")).to.equal(0);
      expect(
        await metricValue(gw.gatewayMetrics.requests, {
          service: svc.name,
          class: "read",
          outcome: "rpc_error",
        }),
      ).to.equal(1);
    });

    it("does not retry a method that is not idempotent (a filter lives on one node)", async function () {
      await a.proxy.setMode("refuse");
      const r = await call(`${gw.url}/${svc.name}`, "eth_newBlockFilter", []);
      expect(r.body.error.code).to.equal(-32603);
      expect(e.proxy.count("eth_newBlockFilter")).to.equal(0);
    });

    it("never puts an endpoint URL (and its API key) into an error the client gets", async function () {
      await a.proxy.setMode("refuse");
      await e.proxy.setMode("refuse");
      const r = await call(`${gw.url}/${svc.name}`, "eth_getBalance", [WATCHED, "latest"]);
      expect(JSON.stringify(r.body)).to.not.match(/SECRETKEY/);
      expect(r.body.error.message).to.match(/127\.0\.0\.1/);
    });
  });
});
