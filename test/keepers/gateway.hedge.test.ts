/**
 * The hang goal's two techniques against real nodes (anvils behind fault proxies, health moved by real
 * attestor reports): hedged reads (a silent active endpoint costs `hedgeAfterMs`, the hedge goes only to a
 * HEALTHY endpoint, a transaction is never hedged, no head goes back) and the local circuit breaker (opens
 * on connection refused, a timeout or a lost hedge, sends reads straight to the HEALTHY endpoint, closes
 * when the endpoint answers again).
 */
import { expect } from "chai";
import { keccak256, Wallet } from "ethers";
import type { GatewayHandle } from "../../keepers/gateway/run";
import { Anvil, ANVIL_KEYS } from "./helpers/anvil";
import { until } from "./helpers/until";
import {
  call,
  ControlChain,
  DEGRADED,
  DOWN,
  HEALTHY,
  metricValue,
  startTestGateway,
  type TestEndpoint,
  type TestService,
} from "./gateway/fixture";

const WATCHED = "0x00000000000000000000000000000000000000aa";

describe("gateway: hedged reads and circuit breakers (real nodes)", function () {
  this.timeout(120_000);
  let chain: ControlChain;
  let n1: Anvil, n2: Anvil;
  const gateways: GatewayHandle[] = [];

  before(async function () {
    [chain, n1, n2] = await Promise.all([ControlChain.start(), Anvil.start(), Anvil.start()]);
    await n1.send("anvil_setBalance", [WATCHED, "0x1"]);
    await n2.send("anvil_setBalance", [WATCHED, "0x2"]);
  });

  after(async function () {
    await Promise.all(gateways.map((g) => g.stop()));
    await Promise.all([chain?.stop(), n1?.stop(), n2?.stop()]);
  });

  /**
   * A service: a (active, on n1), b DOWN, c UNKNOWN, d DEGRADED (on n2, all preferred over e), and e, the only
   * HEALTHY backup (n2) unless `eHealthy` is false (then DOWN).
   */
  async function bed(over: Record<string, unknown>, eHealthy = true) {
    const svc = await chain.service([n1, n2, n2, n2, n2]);
    const [a, b, c, d, e] = svc.endpoints;
    chain.set([
      [a, HEALTHY],
      [b, DOWN],
      [d, HEALTHY],
      [e, eHealthy ? HEALTHY : DOWN],
    ]);
    await chain.round();
    chain.set([[d, DEGRADED]]);
    await chain.round();
    const gw = await startTestGateway(chain, [{ name: svc.name, id: svc.id, chainId: 31337 }], over);
    gateways.push(gw);
    return { svc, gw, url: `${gw.url}/${svc.name}`, a, b, c, d, e, others: [b, c, d] };
  }

  const countsOf = (eps: TestEndpoint[], method: string) => eps.map((x) => x.proxy.count(method));
  const metric = (gw: GatewayHandle, name: "hedges" | "retries" | "breakerTransitions", labels: object) =>
    metricValue(gw.gatewayMetrics[name], labels as Record<string, string>);

  it("hedges a read on the HEALTHY endpoint when the active one is silent, then skips it while its breaker is open", async function () {
    const { svc, gw, url, a, e, others } = await bed({
      hedgeAfterMs: 100,
      attemptTimeoutMs: 2000,
      deadlineMs: 5000,
      breakerOpenMs: 600_000,
    });
    await a.proxy.setMode("hang");
    const r = await call(url, "eth_getBalance", [WATCHED, "latest"]);
    expect(r.body.result).to.equal("0x2"); // n2: the hedge on e answered while a stayed silent
    expect(a.proxy.count("eth_getBalance")).to.equal(1);
    expect(e.proxy.count("eth_getBalance")).to.equal(1);
    expect(countsOf(others, "eth_getBalance")).to.deep.equal([0, 0, 0]);
    expect(await metric(gw, "hedges", { service: svc.name, class: "read", outcome: "won" })).to.equal(1);
    // The loser was a: its breaker is open, so the next reads go straight to e.
    expect(gw.breakers.state(svc.name, a.id)).to.equal("open");
    for (let i = 0; i < 3; i++) {
      expect((await call(url, "eth_getBalance", [WATCHED, "latest"])).body.result).to.equal("0x2");
    }
    expect(a.proxy.count("eth_getBalance")).to.equal(1);
    expect(await metric(gw, "hedges", { service: svc.name, class: "read", outcome: "won" })).to.equal(1);
    await a.proxy.setMode("pass");
  });

  it("hedges after the endpoint's observed latency, far below the configured ceiling", async function () {
    // Ceiling 60 s, attempts 20 s: without the observed latency the read would wait 20 s and be retried.
    const { svc, gw, url, a } = await bed({
      hedgeAfterMs: 60_000,
      hedgeMinMs: 30,
      attemptTimeoutMs: 20_000,
      deadlineMs: 30_000,
      breakerOpenMs: 600_000,
    });
    for (let i = 0; i < 5; i++) {
      expect((await call(url, "eth_getBalance", [WATCHED, "latest"])).body.result).to.equal("0x1");
    }
    await a.proxy.setMode("hang");
    expect((await call(url, "eth_getBalance", [WATCHED, "latest"])).body.result).to.equal("0x2");
    expect(await metric(gw, "hedges", { service: svc.name, class: "read", outcome: "won" })).to.equal(1);
    expect(await metric(gw, "retries", { service: svc.name, class: "read", outcome: "ok" })).to.equal(0);
    await a.proxy.setMode("pass");
  });

  it("never hedges to a DOWN, UNKNOWN or DEGRADED endpoint: without a HEALTHY one the read waits for the active one", async function () {
    const { svc, gw, url, a, e, others } = await bed(
      { hedgeAfterMs: 50, attemptTimeoutMs: 400, deadlineMs: 3000, breakerOpenMs: 600_000 },
      false,
    );
    expect(gw.follower.healthyBackups(svc.name)).to.deep.equal([]);
    await a.proxy.setMode("hang");
    const r = await call(url, "eth_getBalance", [WATCHED, "latest"]);
    expect(r.body.error.code).to.equal(-32603);
    expect(countsOf([...others, e], "eth_getBalance")).to.deep.equal([0, 0, 0, 0]);
    expect(await metric(gw, "hedges", { service: svc.name, class: "read", outcome: "won" })).to.equal(0);
    // The breaker is open, but nothing HEALTHY is there to take the read: it still goes to a, never elsewhere.
    expect(gw.breakers.state(svc.name, a.id)).to.equal("open");
    await a.proxy.setMode("pass");
    expect((await call(url, "eth_getBalance", [WATCHED, "latest"])).body.result).to.equal("0x1");
    expect(countsOf([...others, e], "eth_getBalance")).to.deep.equal([0, 0, 0, 0]);
    expect(gw.breakers.state(svc.name, a.id)).to.equal("closed");
  });

  for (const fault of ["refuse", "hang"] as const) {
    it(`opens the breaker on ${fault === "refuse" ? "connection refused" : "a timeout"} and closes it when the endpoint answers again`, async function () {
      const { svc, gw, url, a, e } = await bed({
        hedgeAfterMs: 0,
        attemptTimeoutMs: 300,
        deadlineMs: 3000,
        breakerOpenMs: 500,
      });
      await a.proxy.setMode(fault);
      expect((await call(url, "eth_getBalance", [WATCHED, "latest"])).body.result).to.equal("0x2");
      expect(await metric(gw, "retries", { service: svc.name, class: "read", outcome: "ok" })).to.equal(1);
      expect(gw.breakers.state(svc.name, a.id)).to.equal("open");
      expect(await metric(gw, "breakerTransitions", { service: svc.name, to: "open" })).to.equal(1);
      expect(
        await metricValue(gw.gatewayMetrics.breakerState, { service: svc.name, endpoint: a.id }),
      ).to.equal(1);
      // Open: the next read goes straight to e, no retry needed.
      const onE = e.proxy.count("eth_getBalance");
      expect((await call(url, "eth_getBalance", [WATCHED, "latest"])).body.result).to.equal("0x2");
      expect(e.proxy.count("eth_getBalance")).to.equal(onE + 1);
      expect(await metric(gw, "retries", { service: svc.name, class: "read", outcome: "ok" })).to.equal(1);

      await a.proxy.setMode("pass");
      // After openMs the next read is the probe; the endpoint answers and the breaker closes.
      await until("a probe read closes the breaker", async () => {
        await call(url, "eth_getBalance", [WATCHED, "latest"]);
        return gw.breakers.state(svc.name, a.id) === "closed";
      });
      const onA = a.proxy.count("eth_getBalance");
      expect((await call(url, "eth_getBalance", [WATCHED, "latest"])).body.result).to.equal("0x1");
      expect(a.proxy.count("eth_getBalance")).to.equal(onA + 1);
      expect(await metric(gw, "breakerTransitions", { service: svc.name, to: "half_open" })).to.be.at.least(
        1,
      );
      expect(await metric(gw, "breakerTransitions", { service: svc.name, to: "closed" })).to.equal(1);
      expect(
        await metricValue(gw.gatewayMetrics.breakerState, { service: svc.name, endpoint: a.id }),
      ).to.equal(0);
    });
  }

  it("never hedges a signed transaction: it waits for the active endpoint's attempt, then resends", async function () {
    const { svc, gw, url, a, e } = await bed({
      hedgeAfterMs: 50,
      attemptTimeoutMs: 3000,
      deadlineMs: 8000,
      breakerOpenMs: 0,
    });
    const trader = new Wallet(ANVIL_KEYS[4]);
    const nonce = Number(
      BigInt(await n2.send<string>("eth_getTransactionCount", [trader.address, "pending"])),
    );
    const raw = await trader.signTransaction({
      to: WATCHED,
      value: 1n,
      nonce,
      gasLimit: 21_000n,
      maxFeePerGas: 20_000_000_000n,
      maxPriorityFeePerGas: 1_000_000_000n,
      chainId: 31337n,
      type: 2,
    });
    await a.proxy.setMode("hang");
    const sent = call(url, "eth_sendRawTransaction", [raw]);
    await until(
      "the active endpoint holds the transaction",
      async () => a.proxy.count("eth_sendRawTransaction") === 1,
    );
    // A read sent now is hedged after 50 ms; by its answer a hedge of the earlier transaction would have
    // gone out too.
    expect((await call(url, "eth_getBalance", [WATCHED, "latest"])).body.result).to.equal("0x2");
    expect(e.proxy.count("eth_sendRawTransaction")).to.equal(0);
    const r = await sent; // a timed out: the same bytes go to e (the transaction rule, not a hedge)
    expect(r.body.result).to.equal(keccak256(raw));
    expect(e.proxy.count("eth_sendRawTransaction")).to.equal(1);
    expect(await metric(gw, "hedges", { service: svc.name, class: "tx", outcome: "won" })).to.equal(0);
    await a.proxy.setMode("pass");
  });

  it("never serves a head below one it served when a hedge from an endpoint behind wins", async function () {
    const svc = await chain.service([n1, n2]);
    const [a, e] = svc.endpoints;
    chain.set([
      [a, HEALTHY],
      [e, HEALTHY],
    ]);
    await chain.round();
    const gw = await startTestGateway(chain, [{ name: svc.name, id: svc.id, chainId: 31337 }], {
      hedgeAfterMs: 50,
      attemptTimeoutMs: 2000,
      breakerOpenMs: 600_000,
    });
    gateways.push(gw);
    const url = `${gw.url}/${svc.name}`;
    const head = async (n: Anvil) => Number(BigInt(await n.send<string>("eth_blockNumber")));
    await n1.mine((await head(n2)) + 5 - (await head(n1)));
    const served = Number(BigInt((await call(url, "eth_blockNumber")).body.result));
    expect(served).to.equal(await head(n1));
    expect(await head(n2)).to.be.below(served);
    await a.proxy.setMode("hang");
    const seen: number[] = [];
    for (let i = 0; i < 4; i++) seen.push(Number(BigInt((await call(url, "eth_blockNumber")).body.result)));
    expect(seen).to.deep.equal(Array(4).fill(served));
    expect(e.proxy.count("eth_blockNumber")).to.be.at.least(4);
    expect(await metric(gw, "hedges", { service: svc.name, class: "head", outcome: "won" })).to.equal(1);
    expect(await metricValue(gw.gatewayMetrics.timeTravel, { service: svc.name, action: "held" })).to.equal(
      4,
    );
    await a.proxy.setMode("pass");
  });
});
