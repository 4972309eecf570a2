/**
 * The registry follower (keepers/client/follow.ts) against the real contracts: the active endpoint and the
 * HEALTHY backups as the chain says, a switch by the migration event and, with events missed, by polling;
 * chain ids checked at start and on every switch; endpoint URLs never in a log line.
 */
import { expect } from "chai";
import { RegistryFollower, type RefusedEvent, type SwitchEvent } from "../../keepers/client/follow";
import { isVigilError } from "../../keepers/shared/errors";
import { createLogger } from "../../keepers/shared/logger";
import type { GatewayHandle } from "../../keepers/gateway/run";
import { Anvil } from "./helpers/anvil";
import { until } from "./helpers/until";
import {
  ControlChain,
  DEGRADED,
  DOWN,
  HEALTHY,
  LogSink,
  metricValue,
  startTestGateway,
  type TestService,
} from "./gateway/fixture";

describe("registry follower (real contracts)", function () {
  this.timeout(120_000);
  let chain: ControlChain;
  let node: Anvil, foreign: Anvil;
  const stops: (() => Promise<void>)[] = [];

  before(async function () {
    [chain, node, foreign] = await Promise.all([
      ControlChain.start(),
      Anvil.start(),
      Anvil.start({ chainId: 999 }),
    ]);
  });

  after(async function () {
    await Promise.all(stops.map((s) => s()));
    await Promise.all([chain?.stop(), node?.stop(), foreign?.stop()]);
  });

  async function follow(
    svc: TestService,
    opts: { pollIntervalMs?: number; eventIntervalMs?: number; chainId?: number; sink?: LogSink } = {},
  ): Promise<RegistryFollower> {
    const controller = new AbortController();
    const f = new RegistryFollower({
      provider: chain.provider,
      registry: await chain.registry.getAddress(),
      oracle: await chain.oracle.getAddress(),
      services: [{ id: svc.id, name: svc.name, expectedChainId: opts.chainId ?? 31337 }],
      pollIntervalMs: opts.pollIntervalMs ?? 200,
      eventIntervalMs: opts.eventIntervalMs ?? 100,
      chainIdTimeoutMs: 2000,
      logger: createLogger("follow-test", {
        level: opts.sink ? "debug" : "silent",
        destination: opts.sink?.stream,
      }),
    });
    await f.start(controller.signal);
    stops.push(async () => {
      controller.abort();
      await f.done;
    });
    return f;
  }

  it("reads the active endpoint and the HEALTHY backups best first, never DOWN, DEGRADED or UNKNOWN", async function () {
    // Priorities 0, 7, 3, 1, 2, 0: among the HEALTHY ones the registry's order is e3 (1), e2 (3), e1 (7);
    // e4 turns DEGRADED, e5 is never reported (UNKNOWN), both preferred by priority.
    const svc = await chain.service([node, node, node, node, node, node], [0, 7, 3, 1, 2, 0]);
    const [e0, e1, e2, e3, e4, e5] = svc.endpoints;
    chain.health.clear();
    chain.set([e0, e1, e2, e3, e4].map((e) => [e, HEALTHY]));
    await chain.round();
    chain.set([[e4, DEGRADED]]);
    await chain.round();
    const f = await follow(svc);
    expect(f.active(svc.name)?.id).to.equal(e0.id);
    expect(f.active(svc.id)?.id).to.equal(e0.id); // by id too
    expect(f.endpoints(svc.name).map((e) => e.status)).to.deep.equal([1, 1, 1, 1, 2, 0]);
    expect(f.healthyBackups(svc.name).map((e) => e.id)).to.deep.equal([e3.id, e2.id, e1.id]);

    chain.set([[e3, DOWN]]);
    await chain.round();
    await until("DOWN leaves the backups", async () => f.healthyBackups(svc.name).length === 2);
    expect(f.healthyBackups(svc.name).map((e) => e.id)).to.deep.equal([e2.id, e1.id]);
    expect(e5.proxy.count("eth_chainId")).to.equal(0); // an UNKNOWN endpoint is not even asked
  });

  for (const path of ["events", "polling"] as const) {
    it(`follows a migration by ${path === "events" ? "the EndpointMigrated event" : "polling when the event is missed"}`, async function () {
      const svc = await chain.service([node, node]);
      const [a, b] = svc.endpoints;
      chain.health.clear();
      chain.set([
        [a, HEALTHY],
        [b, HEALTHY],
      ]);
      await chain.round();
      // One path at a time: the other one's interval is longer than the test.
      const f = await follow(
        svc,
        path === "events"
          ? { pollIntervalMs: 600_000, eventIntervalMs: 100 }
          : { pollIntervalMs: 200, eventIntervalMs: 600_000 },
      );
      const switches: SwitchEvent[] = [];
      f.on("switch", (e: SwitchEvent) => switches.push(e));
      chain.set([[a, DOWN]]);
      await chain.round();
      await chain.migrate(svc.id);
      await until("the switch event", async () => switches.length === 1);
      expect(switches[0].from?.id).to.equal(a.id);
      expect(switches[0].to.id).to.equal(b.id);
      expect(f.active(svc.name)?.id).to.equal(b.id);
      expect(f.healthyBackups(svc.name)).to.deep.equal([]);
    });
  }

  it("refuses a switch to an endpoint on another chain id, and never retries on it", async function () {
    const svc = await chain.service([node, foreign, node]);
    const [a, wrong, c] = svc.endpoints;
    chain.health.clear();
    chain.set([
      [a, HEALTHY],
      [wrong, HEALTHY],
    ]);
    await chain.round();
    const sink = new LogSink();
    const gw: GatewayHandle = await startTestGateway(
      chain,
      [{ name: svc.name, id: svc.id, chainId: 31337 }],
      {},
      sink,
    );
    stops.push(() => gw.stop());
    const f = gw.follower;
    expect(f.healthyBackups(svc.name)).to.deep.equal([]); // HEALTHY on-chain, but chain 999
    const refused: RefusedEvent[] = [];
    f.on("refused", (e: RefusedEvent) => refused.push(e));
    chain.set([[a, DOWN]]);
    await chain.round();
    await chain.migrate(svc.id); // the registry moves to `wrong`, its only HEALTHY candidate
    await until("the refusal", async () => refused.some((r) => r.activeOnChain));
    expect(refused.find((r) => r.activeOnChain)).to.deep.include({ chainId: 999, expected: 31337 });
    expect(f.onChainActive(svc.name)).to.equal(wrong.id);
    expect(f.active(svc.name)?.id).to.equal(a.id);
    expect(await metricValue(gw.gatewayMetrics.switches, { service: svc.name, outcome: "refused" })).to.equal(
      1,
    );
    // A right-chain endpoint turns HEALTHY: it is the retry target; the foreign one never is.
    chain.set([[c, HEALTHY]]);
    await chain.round();
    await until("the right-chain backup", async () => f.healthyBackups(svc.name).some((e) => e.id === c.id));
    expect(f.healthyBackups(svc.name).map((e) => e.id)).to.deep.equal([c.id]);
    // Logs name endpoints by id and origin, never by the full URL with its key.
    expect(sink.text).to.contain("switch refused");
    expect(sink.text).to.not.match(/SECRETKEY/);
  });

  it("refuses to start when every endpoint answers another chain id than the config's", async function () {
    const svc = await chain.service([node, node]);
    chain.health.clear();
    chain.set(svc.endpoints.map((e) => [e, HEALTHY]));
    await chain.round();
    const err = await follow(svc, { chainId: 1 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isVigilError(err, "VIGIL_CHAIN"), String(err)).to.equal(true);
    expect((err as Error).message).to.contain("serve chain 31337, config says 1");
  });

  it("refuses to start for a service the registry does not know", async function () {
    const svc = { id: `0x${"ab".repeat(32)}`, name: "nope", endpoints: [] };
    const err = await follow(svc).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isVigilError(err, "VIGIL_CONFIG"), String(err)).to.equal(true);
  });
});
