/**
 * No time travel through the gateway, against real nodes: after a failover to an endpoint whose chain is
 * behind, `eth_blockNumber` never answers below a block already served, `eth_getBlockByNumber("latest")`
 * never answers an older block, and a HEALTHY endpoint at or above the served head is asked once instead.
 */
import { expect } from "chai";
import type { GatewayHandle } from "../../keepers/gateway/run";
import { Anvil } from "./helpers/anvil";
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

describe("gateway: no time travel (real nodes)", function () {
  this.timeout(120_000);
  let chain: ControlChain;
  let high: Anvil, low: Anvil;
  const gateways: GatewayHandle[] = [];

  before(async function () {
    [chain, high, low] = await Promise.all([ControlChain.start(), Anvil.start(), Anvil.start()]);
  });

  after(async function () {
    await Promise.all(gateways.map((g) => g.stop()));
    await Promise.all([chain?.stop(), high?.stop(), low?.stop()]);
  });

  const headOf = async (node: Anvil) => Number(BigInt(await node.send<string>("eth_blockNumber")));

  async function failover(svc: TestService, to: number, gw: GatewayHandle): Promise<void> {
    chain.set(svc.endpoints.map((e, i) => [e, i === 0 ? DOWN : HEALTHY]));
    await chain.round();
    await chain.migrate(svc.id);
    await until("the gateway follows", async () => gw.follower.active(svc.name)?.id === svc.endpoints[to].id);
  }

  it("holds eth_blockNumber at the highest block served and refuses an older latest block, until the new endpoint catches up", async function () {
    await high.mine(40);
    const svc = await chain.service([high, low]);
    chain.set(svc.endpoints.map((e) => [e, HEALTHY]));
    await chain.round();
    const gw = await startTestGateway(chain, [{ name: svc.name, id: svc.id, chainId: 31337 }]);
    gateways.push(gw);
    const url = `${gw.url}/${svc.name}`;
    const before = Number(BigInt((await call(url, "eth_blockNumber")).body.result));
    expect(before).to.equal(await headOf(high));
    expect(await headOf(low)).to.be.below(before);

    await failover(svc, 1, gw);
    const seen: number[] = [];
    for (let i = 0; i < 5; i++) seen.push(Number(BigInt((await call(url, "eth_blockNumber")).body.result)));
    expect(seen).to.deep.equal(Array(5).fill(before));
    const block = await call(url, "eth_getBlockByNumber", ["latest", false]);
    expect(block.body.error.code).to.equal(-32000);
    expect(block.body.error.data).to.deep.equal({
      headBehind: true,
      highestServed: `0x${before.toString(16)}`,
    });
    expect(await metricValue(gw.gatewayMetrics.timeTravel, { service: svc.name, action: "held" })).to.equal(
      5,
    );
    expect(
      await metricValue(gw.gatewayMetrics.timeTravel, { service: svc.name, action: "refused" }),
    ).to.equal(1);

    // The new endpoint catches up and passes the head: its own answers are served again.
    await low.mine(before - (await headOf(low)) + 3);
    const after = Number(BigInt((await call(url, "eth_blockNumber")).body.result));
    expect(after).to.equal(await headOf(low));
    expect(after).to.be.above(before);
    const latest = await call(url, "eth_getBlockByNumber", ["latest", false]);
    expect(Number(BigInt(latest.body.result.number))).to.equal(after);
    expect(await metricValue(gw.gatewayMetrics.head, { service: svc.name })).to.equal(after);
  });

  it("asks the other HEALTHY endpoint once when the new active is behind, and serves its head", async function () {
    const svc = await chain.service([high, low, high]);
    chain.set(svc.endpoints.map((e) => [e, HEALTHY]));
    await chain.round();
    const gw = await startTestGateway(chain, [{ name: svc.name, id: svc.id, chainId: 31337 }]);
    gateways.push(gw);
    const url = `${gw.url}/${svc.name}`;
    await high.mine(5);
    const served = Number(BigInt((await call(url, "eth_blockNumber")).body.result));
    expect(served).to.be.above(await headOf(low));

    await failover(svc, 1, gw);
    const third = svc.endpoints[2].proxy;
    const asked = third.count("eth_blockNumber");
    const r = await call(url, "eth_blockNumber");
    expect(Number(BigInt(r.body.result))).to.equal(await headOf(high));
    expect(third.count("eth_blockNumber")).to.equal(asked + 1);
    expect(svc.endpoints[0].proxy.count("eth_blockNumber")).to.equal(1); // the DOWN one: only before the failover
    expect(
      await metricValue(gw.gatewayMetrics.timeTravel, { service: svc.name, action: "retried" }),
    ).to.equal(1);
  });

  it("never lets the head go backwards under concurrent polling across a failover", async function () {
    await high.mine(10);
    expect(await headOf(low)).to.be.below(await headOf(high));
    const svc = await chain.service([high, low]);
    chain.set(svc.endpoints.map((e) => [e, HEALTHY]));
    await chain.round();
    const gw = await startTestGateway(chain, [{ name: svc.name, id: svc.id, chainId: 31337 }]);
    gateways.push(gw);
    const url = `${gw.url}/${svc.name}`;
    const answers: number[] = [];
    let polling = true;
    const poller = (async () => {
      while (polling) {
        const batch = await Promise.all([1, 2, 3].map(() => call(url, "eth_blockNumber")));
        for (const b of batch) answers.push(Number(BigInt(b.body.result)));
      }
    })();
    await until("answers before the failover", async () => answers.length > 20);
    await failover(svc, 1, gw);
    const mark = answers.length;
    await until("answers after the failover", async () => answers.length > mark + 20);
    polling = false;
    await poller;
    const highest = Math.max(...answers);
    expect(highest).to.equal(await headOf(high));
    // Each answer is at least the highest served before it was answered: the maximum is reached and kept.
    expect(answers.slice(answers.indexOf(highest))).to.satisfy((xs: number[]) =>
      xs.every((x) => x === highest),
    );
  });
});
