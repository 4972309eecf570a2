/**
 * Never fail over onto a minority chain (issue 12), with the real contracts and keepers: HealthOracle +
 * EndpointRegistry + MarketGuard + a guarded market on an anvil control chain, three real attestors (quorum 2)
 * probing a monitored service of real nodes, and a real responder relaying their rounds, migrating and tripping.
 *
 * The service: `primary` (priority 0), `forked` (priority 1: the FIRST backup a failover would pick) and
 * `backup` (priority 2), three replicas of one chain mined in lockstep by a ReplicaSet (block time 1 s), plus an
 * unregistered `upstream` replica the fork is taken from. `forked` is replaced by `anvil --fork-url <upstream>
 * --chain-id <same>` on its port, diverged by a transaction, and kept level with, one block ahead of and one
 * behind its peers. Then the primary dies: one honest node against one forked node is no strict majority, so
 * the attestors ask the service's reference source (`referenceRpcUrls`: the upstream replica, a second
 * chain-data source), and the service must go to `backup`, skipping the fork. (Without a reference the parity
 * spec scores both `no_majority`: the service would pause instead, also never onto the fork.) Then `backup`
 * dies too, leaving the fork the only node that answers: the market must pause and the fork must stay DOWN.
 * Failback is on (recoveryPeriod 1 s): once on `backup`, a HEALTHY `forked` of better priority would be failed
 * back onto. Once the fork is undone (an honest replica again) it is HEALTHY only after the attestors' hold
 * (riseRounds).
 * Every wait is for a state of the contracts or the keepers, with a deadline that only ends a hang.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import hre from "hardhat";
import { Wallet, type Contract, type EventLog, type JsonRpcProvider } from "ethers";
import { startAttestor, type RunningAttestor } from "../../keepers/attestor/service";
import { attestorConfigSchema } from "../../keepers/attestor/config";
import { parseResponderConfig } from "../../keepers/responder/config";
import { startResponder, type ResponderHandle } from "../../keepers/responder/responder";
import { EndpointKind, Status } from "../../keepers/shared/health";
import { createLogger } from "../../keepers/shared/logger";
import { Metrics } from "../../keepers/shared/metrics";
import { decodeValues, type SignedReport } from "../../keepers/shared/report";
import { ReplicaSet, type ForkPosition } from "../../scripts/drill/replicas";
import { Anvil, ANVIL_KEYS, deployArtifact } from "./helpers/anvil";
import { ForkedNode } from "./helpers/forkNode";
import { LogSink } from "./helpers/logSink";
import { until } from "./helpers/until";

const ROUND = 5;
const GRACE = 5;
const CHAIN_ID = 4444;
const POLICY = {
  downBelowBps: 5000,
  upAtBps: 8000,
  fallRounds: 1,
  riseRounds: 2,
  heartbeat: 600,
  maxAge: 15,
};
const [PRIMARY, BACKUP, SLOT, UPSTREAM] = [0, 1, 2, 3];
const LIFTED = "back on the majority chain: fork verdict lifted";
const WAIT = 240_000;

describe("a service with a forked backup, on the real contracts and keepers", function () {
  this.timeout(900_000);
  let anvil: Anvil;
  let provider: JsonRpcProvider;
  let oracle: Contract, registry: Contract, guard: Contract;
  let set: ReplicaSet;
  let fork: ForkedNode | undefined;
  let serviceId: string;
  let marketId: number;
  /** Endpoint id per replica index (lower-case); the upstream replica has none. */
  const ids: string[] = [];
  const attestorKeys = ANVIL_KEYS.slice(5, 8).map((k) => new Wallet(k));
  const attestors: RunningAttestor[] = [];
  const sinks = attestorKeys.map(() => new LogSink());
  let responder: ResponderHandle;
  /** Every report each attestor served, by round: collected while the test runs. */
  const served = attestorKeys.map(() => new Map<number, SignedReport>());
  let collector: NodeJS.Timeout | undefined;
  let collecting: Promise<void> = Promise.resolve();
  /** Wall-clock Unix seconds: from when every attestor called the slot a fork, to the undo. */
  let forkedFrom = 0;
  let undoneAt = 0;
  /** Control-chain blocks: the last before the fork, the last before the undo. */
  let forkBlock = 0;
  let undoBlock = 0;

  before(async function () {
    for (const n of ["HealthOracle", "EndpointRegistry", "MarketGuard", "GuardedPerpMarket", "MockERC20"])
      if (!(await hre.artifacts.artifactExists(n))) this.skip();
    set = await ReplicaSet.create({
      names: ["primary", "backup", "forked", "upstream"],
      chainId: CHAIN_ID,
      blockTimeSec: 1,
      callTimeoutMs: 2_000,
      // The fork is mined just before each tick of the honest replicas, at its position from the coming tip.
      beforeTick: async () => {
        await fork?.follow(Math.floor(Date.now() / 1000 - set.genesisTimestamp));
      },
    });
    await set.start();

    anvil = await Anvil.start();
    provider = anvil.provider(200);
    const admin = new Wallet(ANVIL_KEYS[0], provider);
    oracle = await deployArtifact("HealthOracle", [admin.address, ROUND, 15, 500_000, POLICY], admin);
    const sorted = attestorKeys.map((a) => a.address).sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1));
    await (await oracle.setAttestors(sorted, 2)).wait();
    registry = await deployArtifact("EndpointRegistry", [await oracle.getAddress()], admin);
    guard = await deployArtifact(
      "MarketGuard",
      [admin.address, await oracle.getAddress(), await registry.getAddress(), 200_000],
      admin,
    );
    const token = await deployArtifact("MockERC20", ["Collateral", "COL"], admin);
    const market = await deployArtifact(
      "GuardedPerpMarket",
      [await token.getAddress(), await guard.getAddress(), admin.address, 10n ** 18n],
      admin,
    );
    // recoveryPeriod > 0: failback is on, so a forked backup of better priority would be failed back onto.
    const cfg = { cooldown: 0, recoveryPeriod: 1 };
    serviceId = await registry.registerService.staticCall("eth-rpc", cfg);
    await (await registry.registerService("eth-rpc", cfg)).wait();
    for (const [i, priority] of [
      [PRIMARY, 0],
      [SLOT, 1],
      [BACKUP, 2],
    ]) {
      const uri = set.url(i);
      ids[i] = (
        (await registry.addEndpoint.staticCall(serviceId, EndpointKind.JSON_RPC, uri, priority)) as string
      ).toLowerCase();
      await (await registry.addEndpoint(serviceId, EndpointKind.JSON_RPC, uri, priority)).wait();
    }
    await (
      await guard.registerMarket({
        market: await market.getAddress(),
        guardian: "0x0000000000000000000000000000000000000000",
        pauseThresholdBps: 5000,
        gracePeriod: GRACE,
        services: [serviceId],
        endpoints: [],
      })
    ).wait();
    marketId = Number(await guard.marketIdOf(await market.getAddress()));

    const chain = { rpcUrls: [anvil.url], chainId: anvil.chainId };
    const contracts = {
      oracle: await oracle.getAddress(),
      registry: await registry.getAddress(),
      guard: await guard.getAddress(),
    };
    for (const [i, key] of attestorKeys.entries()) {
      const config = attestorConfigSchema.parse({
        chain,
        contracts,
        services: [serviceId],
        allowPrivateTargets: true, // the nodes are on loopback
        expectedChainIds: { [serviceId]: CHAIN_ID },
        referenceRpcUrls: { [serviceId]: [set.url(UPSTREAM)] },
        http: { port: 0 },
        probeIntervalMs: 2_000,
        timeoutMs: 1_500,
        // Latency is not under test: with both cores busy an honest node must still read HEALTHY.
        thresholds: { jsonRpc: { latencyMs: { ok: 1_000, max: 1_400 } } },
        dataDir: fs.mkdtempSync(path.join(os.tmpdir(), "vigil-fork-att-")),
      });
      attestors.push(
        await startAttestor(config, {
          signer: key,
          logger: createLogger("attestor", { level: "info", destination: sinks[i] }),
          metrics: new Metrics(false),
        }),
      );
    }
    responder = await startResponder(
      parseResponderConfig({
        chain,
        contracts,
        attestorUrls: attestors.map((a) => a.url),
        services: [serviceId],
        pollIntervalMs: 500,
        outboxPath: path.join(fs.mkdtempSync(path.join(os.tmpdir(), "vigil-fork-resp-")), "outbox.sqlite"),
        http: { port: 0 },
        confirmations: 1,
      }),
      {
        logger: createLogger("responder", { level: process.env.VIGIL_TEST_LOG ?? "silent" }),
        metrics: new Metrics(false),
        wallet: new Wallet(ANVIL_KEYS[1]),
      },
    );
    // Keep every report each attestor serves (it serves its last few rounds only).
    collector = setInterval(() => {
      collecting = collecting.then(() =>
        Promise.all(
          attestors.map(async (a, k) => {
            const body = (await (await fetch(`${a.url}/v1/reports`)).json()) as { reports: SignedReport[] };
            for (const r of body.reports) served[k].set(r.round, r);
          }),
        ).then(
          () => undefined,
          () => undefined,
        ),
      );
    }, 500);
  });

  after(async function () {
    clearInterval(collector);
    await collecting;
    await responder?.stop();
    await Promise.all(attestors.map((a) => a.stop()));
    provider?.destroy();
    await anvil?.stop();
    await fork?.stop();
    await set?.stop();
  });

  const statusOf = async (i: number) => Number((await oracle.statusOf(ids[i])).status);
  const paused = async () => Boolean(await guard.isPaused(marketId));
  const active = async () => ((await registry.activeEndpointId(serviceId)) as string).toLowerCase();
  const migrations = async () =>
    (await registry.queryFilter(registry.filters.EndpointMigrated(serviceId))) as EventLog[];
  /** The slot's row in an attestor's /v1/endpoints. */
  const row = async (a: RunningAttestor) => {
    const body = (await (await fetch(`${a.url}/v1/endpoints`)).json()) as {
      endpoints: Array<{
        id: string;
        healthBps: number | null;
        reason: string | null;
        detail: string | null;
      }>;
    };
    return body.endpoints.find((e) => e.id.toLowerCase() === ids[SLOT])!;
  };
  /** The slot's health in each report attestor k served, signed in [from, to) (Unix seconds). */
  const slotHealth = (k: number, from: number, to = Infinity) =>
    [...served[k].values()]
      .filter((r) => r.observedAt >= from && r.observedAt < to)
      .map(
        (r) => decodeValues(r.values)[r.endpointIds.map((e) => e.toLowerCase()).indexOf(ids[SLOT])].healthBps,
      );
  /** The state of the service, the market and the attestors' verdicts, for a failure message. */
  const diag = async () => {
    const names = ["primary", "backup", "forked"];
    const statuses = await Promise.all([PRIMARY, BACKUP, SLOT].map(statusOf));
    const m = await registry.migrationStatus(serviceId);
    const rows = await Promise.all(
      attestors.map(async (a) => {
        const body = (await (await fetch(`${a.url}/v1/endpoints`)).json()) as {
          endpoints: Array<{ id: string; healthBps: number | null; reason: string | null }>;
        };
        return [PRIMARY, BACKUP, SLOT]
          .map((i) => body.endpoints.find((e) => e.id.toLowerCase() === ids[i]))
          .map((e, j) => `${names[j]} ${e?.healthBps}${e?.reason ? `(${e.reason})` : ""}`)
          .join(" ");
      }),
    );
    return (
      `statuses ${statuses.map((x, j) => `${names[j]} ${Status[x]}`).join(", ")}; active ${names[ids.indexOf(await active())]}; ` +
      `migrationStatus ${m.check} to ${m.to}; paused ${await paused()}; attestors: ${rows.join(" | ")}`
    );
  };
  /** {@link until}, with the state of everything in the error. */
  const waitFor = async (what: string, holds: () => Promise<boolean>) => {
    try {
      await until(what, holds, WAIT);
    } catch (e) {
      throw new Error(`${(e as Error).message}: ${await diag()}`);
    }
  };
  /** Resolves once every attestor has served `n` more reports than it had when called. */
  const moreReports = async (n: number) => {
    await collecting;
    const had = served.map((m) => m.size);
    await until(
      `${n} more reports from every attestor`,
      async () => served.every((m, k) => m.size >= had[k] + n),
      WAIT,
    );
  };

  it("all three endpoints turn HEALTHY, the primary is active and the market open", async function () {
    await until(
      "every endpoint HEALTHY",
      async () => {
        const s = await Promise.all([PRIMARY, SLOT, BACKUP].map(statusOf));
        return s.every((x) => x === Status.HEALTHY);
      },
      WAIT,
    );
    await until("the market open", async () => !(await paused()), WAIT);
    expect(await active()).to.equal(ids[PRIMARY]);
  });

  it("a backup on a diverged fork (same chain id) is DOWN with reason fork at every attestor, at every position", async function () {
    forkBlock = await provider.getBlockNumber();
    fork = await ForkedNode.start(set, SLOT, UPSTREAM);
    await until(
      "every attestor to call the slot a fork",
      async () => (await Promise.all(attestors.map(row))).every((r) => r.reason === "fork"),
      WAIT,
    );
    forkedFrom = Math.ceil(Date.now() / 1000);
    await until("the slot DOWN", async () => (await statusOf(SLOT)) === Status.DOWN, WAIT);
    for (const position of ["equal", "ahead", "behind"] as ForkPosition[]) {
      fork.position = position;
      await moreReports(3);
      for (const r of await Promise.all(attestors.map(row)))
        expect(r, `at position ${position}`).to.include({ healthBps: 0, reason: "fork" });
    }
    expect(await statusOf(SLOT)).to.equal(Status.DOWN);
  });

  it("when the primary fails, the service migrates to the honest backup, never to the fork", async function () {
    const before = (await migrations()).length;
    await set.kill(PRIMARY);
    await waitFor("a migration", async () => (await migrations()).length > before);
    const [m] = (await migrations()).slice(before);
    expect(m.args.from.toLowerCase()).to.equal(ids[PRIMARY]);
    expect(m.args.to.toLowerCase()).to.equal(ids[BACKUP]);
    expect(await active()).to.equal(ids[BACKUP]);
    expect(await statusOf(SLOT)).to.equal(Status.DOWN);
  });

  it("when the honest backup fails too, the market pauses and the lone forked node stays DOWN and inactive", async function () {
    const pausesBefore = (await guard.queryFilter(guard.filters.MarketPaused(marketId))).length;
    await set.kill(BACKUP);
    await until("the market paused", paused, WAIT);
    expect(await guard.queryFilter(guard.filters.MarketPaused(marketId))).to.have.length(pausesBefore + 1);
    // The fork is now the only node that answers: no peer to compare it with, and it is still held.
    await moreReports(3);
    for (const r of await Promise.all(attestors.map(row)))
      expect(r).to.include({ healthBps: 0, reason: "fork" });
    expect(await statusOf(SLOT)).to.equal(Status.DOWN);
    expect(await active()).to.equal(ids[BACKUP]);
    expect(await paused()).to.equal(true);
  });

  it("was BAD in every report signed while it was forked, never HEALTHY on chain, never migrated to", async function () {
    undoneAt = Math.floor(Date.now() / 1000);
    undoBlock = await provider.getBlockNumber();
    await collecting;
    const counts = served.map((_, k) => slotHealth(k, forkedFrom, undoneAt));
    // eslint-disable-next-line no-console
    console.log(`      reports signed while forked, per attestor: ${counts.map((c) => c.length).join(", ")}`);
    for (const [k, c] of counts.entries()) {
      expect(c.length, `attestor ${k}'s reports while forked`).to.be.at.least(9);
      expect(
        c.filter((h) => h !== 0),
        `attestor ${k}: a forked round not scored 0`,
      ).to.deep.equal([]);
    }
    const changes = (await oracle.queryFilter(oracle.filters.StatusChanged(ids[SLOT]))) as EventLog[];
    const afterFork = changes.filter((e) => e.blockNumber > forkBlock && e.blockNumber <= undoBlock);
    expect(afterFork.map((e) => Number(e.args.current))).to.not.include(Status.HEALTHY);
    for (const m of await migrations()) expect(m.args.to.toLowerCase()).to.not.equal(ids[SLOT]);
  });

  it("undone, it is HEALTHY again only after every attestor held it for riseRounds; the service is served and the market resumes", async function () {
    await Promise.all([set.restart(PRIMARY), set.restart(BACKUP)]);
    await fork!.undo();
    fork = undefined;
    await until("the slot HEALTHY", async () => (await statusOf(SLOT)) === Status.HEALTHY, WAIT);
    // A round scoring it healthy is signed only after its attestor lifted the hold: a quorum had lifted it.
    const lifted = sinks.map((s) =>
      s.find(LIFTED).filter((l) => String(l.endpointId).toLowerCase() === ids[SLOT]),
    );
    expect(lifted.filter((l) => l.length > 0).length).to.be.at.least(2);
    for (const l of lifted.flat()) expect(l.rounds).to.equal(POLICY.riseRounds);
    // (Whether it fails back to the primary or to the slot, honest again, depends on which turns HEALTHY first,
    // and a failback waits for a block after the recovery period: this control chain mines only transactions.)
    await waitFor(
      "the service on a HEALTHY endpoint",
      async () => Number((await oracle.statusOf(await active())).status) === Status.HEALTHY,
    );
    await until("the market open", async () => !(await paused()), WAIT);
    // Only the failback after the undo may touch the slot; before it, nothing migrated onto it.
    for (const m of await migrations())
      if (m.blockNumber <= undoBlock) expect(m.args.to.toLowerCase()).to.not.equal(ids[SLOT]);
  });
});
