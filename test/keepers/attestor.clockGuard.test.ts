import { expect } from "chai";
import { Wallet } from "ethers";
import { Attestor } from "../../keepers/attestor/attestor";
import { boundForMaxSkew, DEFAULT_CLOCK_BOUND_SEC } from "../../keepers/attestor/clockGuard";
import {
  attestorConfigSchema,
  loadAttestorConfig,
  type AttestorConfigInput,
} from "../../keepers/attestor/config";
import { staticOracleReader, type WatchedEndpoint } from "../../keepers/attestor/sources";
import type { ChainClock } from "../../keepers/shared/chain";
import { EndpointKind } from "../../keepers/shared/health";
import { createLogger } from "../../keepers/shared/logger";
import { Metrics } from "../../keepers/shared/metrics";
import { FakeRpcServer } from "../../scripts/bench/fakeRpc";
import { tmpDataDir } from "./attestor-helpers";

const SERVICE = "0x" + "5".repeat(64);
const ID = "0x" + "1".padStart(64, "0");
const SERVED = 1337; // not the control chain (31337): its own clock source

describe("attestor clock discipline in the attestor", function () {
  let server: FakeRpcServer;
  const wallet = Wallet.createRandom();
  before(async function () {
    server = await new FakeRpcServer({ chainId: SERVED, blockNumber: 100 }).start();
  });
  after(async function () {
    await server.close();
  });

  const base = (over: Partial<AttestorConfigInput> = {}): AttestorConfigInput => ({
    chain: { rpcUrls: ["http://127.0.0.1:1"], chainId: 31337 },
    contracts: { oracle: "0x" + "99".repeat(20), registry: "0x" + "88".repeat(20) },
    services: [SERVICE],
    expectedChainIds: { [SERVICE]: SERVED },
    allowPrivateTargets: true,
    probeIntervalMs: 1_000,
    timeoutMs: 800,
    dataDir: tmpDataDir(),
    ...over,
  });
  const endpoint: WatchedEndpoint = {
    id: ID,
    serviceId: SERVICE,
    kind: EndpointKind.JSON_RPC,
    uri: "",
    priority: 0,
  };

  /**
   * An attestor on an injected clock. Each round the served chain makes a block stamped `world.chainSec` behind
   * the local clock (or stays at its last block when `world.halted`), and the control chain's pending block is
   * `world.controlSec` behind it ("fails": the read fails). Positive offsets: the local clock is fast.
   */
  async function make(
    opts: { maxSkew?: number; over?: Partial<AttestorConfigInput>; control?: boolean } = {},
  ) {
    const clock = { ms: Math.floor(Date.now() / 1000) * 1000, block: 100 };
    const world = { chainSec: 0, controlSec: 0 as number | "fails", halted: false };
    const metrics = new Metrics(false);
    const attestor = new Attestor({
      config: attestorConfigSchema.parse(base(opts.over)),
      key: wallet.signingKey,
      endpoints: { listEndpoints: async () => [{ ...endpoint, uri: server.url("/rpc") }] },
      oracle: staticOracleReader({ attestors: [wallet.address], roundSeconds: 1, maxSkew: opts.maxSkew }),
      logger: createLogger("test", { level: "silent" }),
      metrics,
      now: () => clock.ms,
      controlClock:
        opts.control === false
          ? undefined
          : async (): Promise<ChainClock> => {
              if (world.controlSec === "fails") throw new Error("control chain down");
              const now = Math.floor(clock.ms / 1000) - world.controlSec;
              return { block: clock.block, latest: now - 1, next: now, source: "node" };
            },
    });
    await attestor.refreshOracle();
    await attestor.refreshEndpoints();
    const round = async () => {
      clock.ms += 1_000;
      if (!world.halted) {
        clock.block++;
        server.set("/rpc", {
          blockNumber: clock.block,
          blockTimestamp: Math.floor(clock.ms / 1000) - world.chainSec,
        });
      }
      return attestor.probeRound();
    };
    const text = () => metrics.registry.metrics();
    return { attestor, clock, world, round, text };
  }

  it("signs when the control chain and the served chain agree with the local clock", async function () {
    const { attestor, round, text } = await make();
    const r = await round();
    expect(r.skipped).to.equal(undefined);
    expect(r.report).to.not.equal(undefined);
    expect(attestor.clock.condition()).to.include({ name: "attestor_clock", ok: true });
    expect(await text()).to.match(/^vigil_attestor_clock_ok 1$/m);
  });

  it("skips the round as clock_skew while the local clock is 30 s fast, and resumes when it is back", async function () {
    const m = await make();
    m.world.chainSec = m.world.controlSec = 30; // both chains: the local clock alone is off
    const r = await m.round();
    expect(r.skipped).to.equal("clock_skew");
    expect(r.report).to.equal(undefined);
    const t = await m.text();
    expect(t).to.match(/^vigil_attestor_clock_ok 0$/m);
    expect(t).to.contain('vigil_report_rounds_skipped_total{reason="clock_skew"} 1');
    expect(t).to.contain('vigil_observations_withheld_total{reason="clock_skew"} 1');
    expect(Number(t.match(/^vigil_attestor_clock_offset_seconds (\S+)$/m)![1])).to.be.within(28, 31);
    expect(t).to.match(/^vigil_attestor_clock_bound_seconds 7.5$/m);
    expect(m.attestor.clock.condition()).to.include({ ok: false });
    expect(m.attestor.clock.condition().detail).to.match(/ahead of chain time/);
    m.world.chainSec = m.world.controlSec = 0;
    let resumed;
    for (let i = 0; i < 15 && !resumed; i++) resumed = (await m.round()).report; // the fast samples age out
    expect(resumed, "signs again once the clock is back").to.not.equal(undefined);
    expect(await m.text()).to.match(/^vigil_attestor_clock_ok 1$/m);
  });

  it("signs nothing before the clock is verified: a halted chain and a control chain that cannot be read", async function () {
    const m = await make({ over: { clock: { checkEveryRounds: 1 } } });
    m.world.controlSec = "fails";
    m.world.chainSec = 60;
    await m.round();
    m.world.halted = true; // the served chain's head stays a minute old: halted, or the local clock fast
    expect((await m.round()).skipped).to.equal("clock_skew");
    expect(m.attestor.clock.condition().detail).to.match(/waiting for a majority/);
    m.world.controlSec = 0; // the control chain answers: it is the only source that can tell
    expect((await m.round()).report).to.not.equal(undefined);
  });

  it("signs without a control chain until its probes' chains show the clock off", async function () {
    const m = await make({ control: false });
    expect((await m.round()).report).to.not.equal(undefined);
    m.world.chainSec = -30; // the served chain is 30 s ahead of the local clock: the clock is slow
    expect((await m.round()).skipped).to.equal("clock_skew");
    expect(m.attestor.clock.condition().detail).to.match(/behind chain time/);
  });

  it("serves no report dated beyond the estimated chain time plus the bound", async function () {
    const m = await make();
    const signed = (await m.round()).report!;
    expect(signed).to.not.equal(undefined);
    expect(m.attestor.reports().reports).to.have.length(1);
    // The chains now say the local clock is 30 s fast: the report signed a moment ago is from their future.
    m.attestor.clock.discipline.observeNodeClock("control", m.clock.ms, Math.floor(m.clock.ms / 1000) - 30);
    m.attestor.clock.discipline.observeNodeClock(
      "chain:1337",
      m.clock.ms,
      Math.floor(m.clock.ms / 1000) - 30,
    );
    m.attestor.clock.check();
    expect(signed.observedAt).to.be.greaterThan(m.attestor.clock.latestServable());
    expect(m.attestor.reports().reports).to.deep.equal([]);
  });

  it("takes half the oracle's maxSkew as the bound, at least 1 s, unless clock.maxOffsetSec is set", async function () {
    expect((await make({ maxSkew: 10 })).attestor.clock.discipline.boundSec).to.equal(5);
    expect((await make({ maxSkew: 0 })).attestor.clock.discipline.boundSec).to.equal(1);
    const set = await make({ maxSkew: 10, over: { clock: { maxOffsetSec: 3 } } });
    expect(set.attestor.clock.discipline.boundSec).to.equal(3);
    expect(boundForMaxSkew(15)).to.equal(DEFAULT_CLOCK_BOUND_SEC);
  });

  describe("config", function () {
    it("defaults: bound from the oracle, control chain every 3 rounds, 10 intervals fresh, 1 s slack", function () {
      expect(attestorConfigSchema.parse(base()).clock).to.deep.equal({
        checkEveryRounds: 3,
        freshIntervals: 10,
        slackSec: 1,
      });
    });
    for (const [clock, path] of [
      [{ maxOffsetSec: 0 }, "clock.maxOffsetSec"],
      [{ checkEveryRounds: 0 }, "clock.checkEveryRounds"],
      [{ freshIntervals: 1 }, "clock.freshIntervals"],
      [{ slackSec: -1 }, "clock.slackSec"],
      [{ bound: 3 }, "clock"],
    ] as const) {
      it(`rejects ${JSON.stringify(clock)} naming ${path}`, function () {
        const r = attestorConfigSchema.safeParse(base({ clock } as Partial<AttestorConfigInput>));
        expect(r.success).to.equal(false);
        expect(r.error!.issues.map((i) => i.path.join("."))).to.include(path);
      });
    }
    it("reads the bound from VIGIL_ATTESTOR_CLOCK_MAX_OFFSET_SEC", function () {
      const env = {
        VIGIL_RPC_URL: "http://127.0.0.1:1",
        VIGIL_CHAIN_ID: "31337",
        VIGIL_ORACLE: "0x" + "99".repeat(20),
        VIGIL_REGISTRY: "0x" + "88".repeat(20),
        VIGIL_ATTESTOR_SERVICES: SERVICE,
        VIGIL_ATTESTOR_CLOCK_MAX_OFFSET_SEC: "4",
      };
      expect(loadAttestorConfig(undefined, {}, env).clock.maxOffsetSec).to.equal(4);
    });
  });
});
