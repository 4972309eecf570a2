/**
 * The responder against the real contracts on a real node: anvil on loopback as the control chain,
 * HealthOracle + EndpointRegistry + MarketGuard + the example market deployed from the Hardhat
 * artifacts, in-test attestors behind a tiny HTTP server, each signing ONE report per round over every
 * endpoint of the registry (keepers/shared/report.ts) with its own BAD/GOOD streaks, as `GET /v1/reports` serves it.
 */
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import type { AddressInfo } from "node:net";
import { expect } from "chai";
import hre from "hardhat";
import { concat, Contract, JsonRpcProvider, Network, Wallet } from "ethers";
import { createLogger } from "../../keepers/shared/logger";
import { Metrics } from "../../keepers/shared/metrics";
import { nextStreaks } from "../../keepers/shared/quorum";
import { domainSeparator, sortEndpointIds, toCalldata, type SignedReport } from "../../keepers/shared/report";
import { GuardCheck, MigrationCheck } from "../../keepers/responder/decide";
import { Status } from "../../keepers/shared/health";
import { parseResponderConfig } from "../../keepers/responder/config";
import { Outbox } from "../../keepers/responder/outbox";
import {
  readDomain,
  startResponder,
  type ResponderDeps,
  type ResponderHandle,
} from "../../keepers/responder/responder";
import { Anvil, ANVIL_KEYS, deployArtifact } from "./helpers/anvil";
import { signReport } from "./helpers/reports";
import { until } from "./helpers/until";

const ROUND = 10;
const POLICY = {
  downBelowBps: 5000,
  upAtBps: 8000,
  fallRounds: 1,
  riseRounds: 1,
  heartbeat: 300,
  maxAge: 60,
};
const NEEDED = ["HealthOracle", "EndpointRegistry", "MarketGuard", "GuardedPerpMarket", "MockERC20"];
const logger = createLogger("test", { level: process.env.VIGIL_TEST_LOG ?? "silent" });

const deploy = deployArtifact;

describe("responder integration (real contracts on anvil)", function () {
  this.timeout(180_000);
  let anvil: Anvil;
  let provider: JsonRpcProvider;
  let admin: Wallet;
  let oracle: Contract, registry: Contract, guard: Contract;
  let serviceId: string;
  let endpoints: string[];
  // A stranger's service (the registry is permissionless) and a market that depends on it.
  let strangerService: string;
  let strangerEndpoints: string[];
  let separator: string;
  let digest: string;
  const attestors = ANVIL_KEYS.slice(5, 9)
    .map((k) => new Wallet(k))
    .sort((a, b) => (a.address.toLowerCase() < b.address.toLowerCase() ? -1 : 1));
  const health = new Map<string, number>();
  const attestorServers: http.Server[] = [];
  const attestorUrls: string[] = [];
  let clock: NodeJS.Timeout;
  // The clock's ticks run one after another; while `clockHeld`, a tick mines nothing.
  let clockHeld = false;
  let clockTick: Promise<unknown> = Promise.resolve();
  /** Stop the clock; resolves once no tick is in flight (no clock block is mined from then on). */
  const holdClock = async () => {
    clockHeld = true;
    await clockTick;
  };
  const responders: ResponderHandle[] = [];
  // While `race` is set, a responder that recorded a submit waits until a second one has recorded one too, so
  // both have simulated the round before either broadcasts it (simulated at `pending`, a round already broadcast
  // would simulate as all skipped and not be sent: the race under test would not happen).
  let race: { recorded: number; open: Promise<void>; release(): void } | undefined;
  const raceHooks: ResponderDeps["hooks"] = {
    afterRecord: async (a) => {
      const r = race;
      if (!r || a.kind !== "submit") return;
      if (++r.recorded >= 2) r.release();
      await r.open;
    },
  };

  before(async function () {
    for (const n of NEEDED) {
      if (!(await hre.artifacts.artifactExists(n))) {
        // eslint-disable-next-line no-console
        console.log(
          `      (skipped: artifact ${n} missing; waiting for the oracle and registry branches on main)`,
        );
        this.skip();
      }
    }
    anvil = await Anvil.start();
    provider = anvil.provider(100);
    admin = new Wallet(ANVIL_KEYS[0], provider);
    oracle = await deploy("HealthOracle", [admin.address, ROUND, 15, 500_000, POLICY], admin);
    await (
      await oracle.setAttestors(
        attestors.map((a) => a.address),
        3,
      )
    ).wait();
    registry = await deploy("EndpointRegistry", [await oracle.getAddress()], admin);
    guard = await deploy(
      "MarketGuard",
      [admin.address, await oracle.getAddress(), await registry.getAddress(), 200_000],
      admin,
    );
    const token = await deploy("MockERC20", ["Collateral", "COL"], admin);
    const market = await deploy(
      "GuardedPerpMarket",
      [await token.getAddress(), await guard.getAddress(), admin.address, 10n ** 18n],
      admin,
    );
    serviceId = await registry.registerService.staticCall("eth-rpc", { cooldown: 0, recoveryPeriod: 0 });
    await (await registry.registerService("eth-rpc", { cooldown: 0, recoveryPeriod: 0 })).wait();
    endpoints = [];
    for (const [i, uri] of ["http://primary.invalid", "http://backup.invalid"].entries()) {
      endpoints.push(await registry.addEndpoint.staticCall(serviceId, 0, uri, i));
      await (await registry.addEndpoint(serviceId, 0, uri, i)).wait();
    }
    await (
      await guard.registerMarket({
        market: await market.getAddress(),
        guardian: "0x0000000000000000000000000000000000000000",
        pauseThresholdBps: 5000,
        gracePeriod: 60,
        services: [serviceId],
        endpoints: [],
      })
    ).wait();
    for (const e of endpoints) health.set(e.toLowerCase(), 9500);
    const stranger = new Wallet(ANVIL_KEYS[9], provider);
    const reg = registry.connect(stranger) as Contract;
    strangerService = await reg.registerService.staticCall("spam", { cooldown: 0, recoveryPeriod: 0 });
    await (await reg.registerService("spam", { cooldown: 0, recoveryPeriod: 0 })).wait();
    strangerEndpoints = [];
    for (const [i, uri] of ["http://s1.invalid", "http://s2.invalid"].entries()) {
      strangerEndpoints.push(await reg.addEndpoint.staticCall(strangerService, 0, uri, i));
      await (await reg.addEndpoint(strangerService, 0, uri, i)).wait();
    }
    // The attestors watch the whole registry, so they sign the stranger's endpoints too.
    for (const e of strangerEndpoints) health.set(e.toLowerCase(), 1000);
    // The guard takes each market contract once (MarketGuardMarketAlreadyRegistered): a second market here.
    const strangerMarket = await deploy(
      "GuardedPerpMarket",
      [await token.getAddress(), await guard.getAddress(), admin.address, 10n ** 18n],
      admin,
    );
    await (
      await guard.registerMarket({
        market: await strangerMarket.getAddress(),
        guardian: "0x0000000000000000000000000000000000000000",
        pauseThresholdBps: 5000,
        gracePeriod: 60,
        services: [serviceId],
        endpoints: [strangerEndpoints[0]],
      })
    ).wait();

    // In-test attestors, one URL each: once per round (at the first request in it, at chain time), sign one
    // report over every endpoint with the current health and the attestor's own streaks; serve the last 8.
    separator = domainSeparator(await readDomain(oracle as never));
    digest = await oracle.configDigest();
    for (const a of attestors) {
      const signed = new Map<number, SignedReport>();
      const streaks = new Map<string, { round: number; badRounds: number; goodRounds: number }>();
      const server = http.createServer((req, res) => {
        void (async () => {
          const now = (await provider.getBlock("latest"))!.timestamp;
          const round = Math.floor(now / ROUND);
          if (!signed.has(round)) {
            const ids = sortEndpointIds([...health.keys()]);
            const values = ids.map((id) => {
              const bps = health.get(id)!;
              const prev = streaks.get(id) ?? { round: -1, badRounds: 0, goodRounds: 0 };
              const next = { round, ...nextStreaks(prev, bps, POLICY, prev.round === round - 1) };
              streaks.set(id, next);
              return { healthBps: bps, badRounds: next.badRounds, goodRounds: next.goodRounds };
            });
            signed.set(
              round,
              signReport(a, separator, {
                configDigest: digest,
                roundSeconds: ROUND,
                observedAt: now,
                endpointIds: ids,
                values,
              }),
            );
          }
          const since = Number(new URL(req.url!, "http://x").searchParams.get("sinceRound") ?? 0);
          const reports = [...signed.values()].filter((r) => r.round >= since).slice(-8);
          res.writeHead(200, { "content-type": "application/json" });
          res.end(
            JSON.stringify({ attestor: a.address, configDigest: digest, chainId: anvil.chainId, reports }),
          );
        })();
      });
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      attestorServers.push(server);
      attestorUrls.push(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    }
    // Advance the chain clock one round every 300 ms instead of sleeping through real rounds.
    clock = setInterval(() => {
      clockTick = clockTick.then(() =>
        clockHeld
          ? undefined
          : anvil
              .send("evm_increaseTime", [ROUND])
              .then(() => anvil.mine())
              .catch(() => undefined),
      );
    }, 300);
  });

  // Providers a test made for its own responder; destroyed in `after` once every responder stopped.
  const ownProviders: JsonRpcProvider[] = [];

  after(async function () {
    // Keepers first, then the clock and the attestors they call, then providers, then the node.
    await Promise.all(responders.splice(0).map((r) => r.stop()));
    clearInterval(clock);
    await clockTick;
    for (const server of attestorServers) {
      server.closeAllConnections();
      server.close();
    }
    for (const p of ownProviders.splice(0)) p.destroy();
    provider?.destroy();
    await anvil?.stop();
  });

  async function responder(
    keyIndex: number,
    outbox?: string,
    hooks?: ResponderDeps["hooks"],
    extra: { provider?: JsonRpcProvider; confirmations?: number; dashboard?: boolean } = {},
  ) {
    const config = parseResponderConfig({
      chain: { rpcUrls: [anvil.url], chainId: anvil.chainId },
      contracts: {
        oracle: await oracle.getAddress(),
        registry: await registry.getAddress(),
        guard: await guard.getAddress(),
      },
      attestorUrls,
      services: [serviceId],
      pollIntervalMs: 300,
      outboxPath: outbox ?? path.join(fs.mkdtempSync(path.join(os.tmpdir(), "vigil-resp-")), "outbox.sqlite"),
      http: { port: 0 },
      fees: { stuckAfterMs: 5_000 },
      confirmations: extra.confirmations ?? 1,
      dashboard: { enabled: extra.dashboard ?? false },
    });
    const r = await startResponder(config, {
      logger,
      metrics: new Metrics(false),
      wallet: new Wallet(ANVIL_KEYS[keyIndex]),
      provider: extra.provider,
      hooks,
    });
    responders.push(r);
    return r;
  }
  const statusOf = async (id: string) => Number((await oracle.statusOf(id)).status);
  const migrations = async () =>
    (await registry.queryFilter(registry.filters.EndpointMigrated(serviceId))).length;
  const counter = async (r: ResponderHandle, outcome: string) =>
    (await r.metrics.actions.get()).values
      .filter((v) => v.labels.outcome === outcome)
      .reduce((a, v) => a + v.value, 0);

  it("submits rounds until every endpoint is HEALTHY", async function () {
    const r = await responder(1, undefined, raceHooks);
    await until("HEALTHY", async () =>
      (await Promise.all(endpoints.map(statusOf))).every((s) => s === Status.HEALTHY),
    );
    expect(await counter(r, "confirmed")).to.be.greaterThan(0);
  });

  it("GET / lists what the responder serves; with dashboard.enabled it serves the dashboard at /dashboard/", async function () {
    const plain = await responder(5);
    const index = (await (await fetch(`http://127.0.0.1:${plain.port}/`)).json()) as {
      paths: string[];
      dashboard: string;
    };
    expect(index.paths).to.include.members(["/healthz", "/metrics", "/v1/outbox"]);
    expect(index.dashboard).to.contain("vigil dashboard --config");
    expect((await fetch(`http://127.0.0.1:${plain.port}/dashboard/`)).status).to.equal(404);
    await plain.stop();
    responders.splice(responders.indexOf(plain), 1); // later tests iterate the running responders

    const withPage = await responder(6, undefined, undefined, { dashboard: true });
    const base = `http://127.0.0.1:${withPage.port}`;
    expect(((await (await fetch(`${base}/`)).json()) as { dashboard: string }).dashboard).to.equal(
      "/dashboard/",
    );
    const page = await fetch(`${base}/dashboard/`);
    expect(page.status).to.equal(200);
    expect(page.headers.get("content-type")).to.contain("text/html");
    expect(page.headers.get("content-security-policy")).to.be.a("string");
    // The view's first poll reads the chain; wait for the state, not a time.
    let state: { services: { id: string }[] } | undefined;
    await until("the dashboard's first state", async () => {
      const r = await fetch(`${base}/dashboard/api/state`);
      if (r.status === 200) state = (await r.json()) as { services: { id: string }[] };
      return state !== undefined;
    });
    expect(state!.services.map((x) => x.id.toLowerCase())).to.include(serviceId.toLowerCase());
    await withPage.stop();
    responders.splice(responders.indexOf(withPage), 1);
  });

  it("two responders relay the same round: both transactions succeed, the second skips every endpoint, the status changes once", async function () {
    const second = await responder(2, undefined, raceHooks);
    const first = responders[0];
    const skipped = async (r: ResponderHandle) =>
      ((await r.metrics.registry.getSingleMetric("vigil_round_endpoints_total")?.get())?.values ?? [])
        .filter((v) => v.labels.outcome === "skipped")
        .reduce((a, v) => a + v.value, 0);
    const submits = (r: ResponderHandle) => r.outbox.list(1000).filter((a) => a.kind === "submit");
    const before = [submits(first).length, submits(second).length];
    // Freeze the chain: no clock ticks, no automine. The primary turns BAD in the next round.
    await holdClock();
    let release!: () => void;
    race = { recorded: 0, open: new Promise<void>((r) => (release = r)), release: () => release() };
    try {
      await anvil.send("evm_setAutomine", [false]);
      health.set(endpoints[0].toLowerCase(), 1000);
      await anvil.send("evm_increaseTime", [ROUND]);
      await anvil.mine();
      try {
        // Both see the same round change the primary's status and broadcast it before anything is mined.
        // (An action is marked 'sent' when signed, just before its broadcast: wait until the node has both.)
        const known = async (r: ResponderHandle) => {
          const a = submits(r)[0];
          return (
            a.status === "sent" && a.txs.length > 0 && (await provider.getTransaction(a.txs[0].hash)) !== null
          );
        };
        await until(
          "both responders to broadcast the round",
          async () =>
            submits(first).length > before[0] &&
            submits(second).length > before[1] &&
            (await known(first)) &&
            (await known(second)),
        );
        expect(submits(first)[0].target).to.equal(submits(second)[0].target);
        await anvil.mine(); // both transactions in one block
      } finally {
        await anvil.send("evm_setAutomine", [true]);
      }
      await until(
        "both submits to finish",
        async () => submits(first)[0].status !== "sent" && submits(second)[0].status !== "sent",
      );
      const receipts = await Promise.all(
        [submits(first)[0], submits(second)[0]].map((x) =>
          provider.getTransactionReceipt(x.txs[x.txs.length - 1].hash),
        ),
      );
      expect(receipts.map((r) => r!.status)).to.deep.equal([1, 1]);
      expect(receipts[0]!.blockNumber).to.equal(receipts[1]!.blockNumber);
      const accepted = receipts.flatMap((r) =>
        r!.logs
          .filter((l) => l.topics[0] === oracle.interface.getEvent("ReportAccepted")!.topicHash)
          .map((l) => oracle.interface.parseLog(l)!),
      );
      expect(accepted.map((e) => [Number(e.args.updated), Number(e.args.skipped)]).sort()).to.deep.equal(
        [
          [0, health.size],
          [health.size, 0],
        ].sort(),
      );
      const changes = await oracle.queryFilter(
        oracle.filters.StatusChanged(endpoints[0]),
        receipts[0]!.blockNumber,
        receipts[0]!.blockNumber,
      );
      expect(changes).to.have.length(1);
      expect(Number((changes[0] as unknown as { args: { current: bigint } }).args.current)).to.equal(
        Status.DOWN,
      );
      expect([submits(first)[0].status, submits(second)[0].status]).to.deep.equal(["confirmed", "confirmed"]);
      expect((await skipped(first)) + (await skipped(second))).to.equal(health.size);

      // A third responder that recorded the same round before a crash and restarts now (the round still fresh, the
      // clock held): the simulation says every endpoint would be skipped, so it drops the action unsent.
      const outbox = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "vigil-race-")), "outbox.sqlite");
      const prior = new Outbox(outbox);
      const id = prior.record(
        "submit",
        submits(first)[0].target,
        submits(first)[0].to,
        submits(first)[0].data,
      );
      prior.close();
      const third = await responder(3, outbox);
      try {
        const action = third.outbox.get(id)!;
        expect(action).to.deep.include({ status: "dropped", note: "not sent: the round is already stored" });
        expect(action.txs).to.deep.equal([]);
        expect(await counter(third, "lost_race")).to.equal(1);
      } finally {
        await third.stop();
        responders.splice(responders.indexOf(third), 1);
      }
    } finally {
      race?.release();
      race = undefined;
      clockHeld = false; // whatever failed above, later tests need the clock
    }
    // The migration that follows happens once, whoever wins that race.
    await until("migration", async () => (await registry.activeEndpoint(serviceId)).id === endpoints[1]);
    for (let i = 0; i < 3; i++) await Promise.all([first, second].map((r) => r.nextIteration()));
    expect(await migrations()).to.equal(1);
    for (const r of [first, second]) expect(await counter(r, "failed")).to.equal(0);
  });

  it("never submits, migrates or trips for a service or market it does not watch", async function () {
    // Make the stranger's service due for a failover: a quorum round over its endpoints only, sent by hand.
    const now = (await provider.getBlock("latest"))!.timestamp;
    const ids = sortEndpointIds(strangerEndpoints);
    const bps = new Map([
      [strangerEndpoints[0].toLowerCase(), 1000],
      [strangerEndpoints[1].toLowerCase(), 9500],
    ]);
    const reports = attestors.slice(0, 3).map((a) =>
      signReport(a, separator, {
        configDigest: digest,
        roundSeconds: ROUND,
        observedAt: now,
        endpointIds: ids,
        values: ids.map((id) =>
          bps.get(id)! < 5000
            ? { healthBps: bps.get(id)!, badRounds: 1, goodRounds: 0 }
            : { healthBps: bps.get(id)!, badRounds: 0, goodRounds: 1 },
        ),
      }),
    );
    await (
      await oracle.submit(
        digest,
        reports[0].round,
        ids,
        reports.map((r) => toCalldata(r)),
        concat(reports.map((r) => r.values)),
      )
    ).wait();
    expect(Number((await registry.migrationStatus(strangerService)).check)).to.equal(
      MigrationCheck.DUE_FAILOVER,
    );
    expect(Number((await guard.tripStatus(2)).check)).to.equal(GuardCheck.DUE);
    // (A round the responders relay for their own endpoints carries the stranger's too: the attestors signed
    // the whole list. It never makes them migrate or trip for it.)
    for (let i = 0; i < 3; i++) await Promise.all(responders.map((r) => r.nextIteration()));
    expect(await registry.queryFilter(registry.filters.EndpointMigrated(strangerService))).to.have.length(0);
    expect(await guard.queryFilter(guard.filters.MarketPaused(2))).to.have.length(0);
    for (const r of responders)
      for (const a of r.outbox.list(1000)) {
        if (a.kind === "migrate") expect(a.target).to.equal(serviceId.toLowerCase());
        if (a.kind === "trip" || a.kind === "resume") expect(a.target).to.equal("1");
      }
  });

  it("trips the market when every endpoint of its service is down", async function () {
    // (At start-up, before any round was stored, silence tripped it once; it resumed after its grace.)
    await until("the start-up pause to be resumed", async () => !(await guard.isPaused(1)));
    const before = (await guard.queryFilter(guard.filters.MarketPaused(1))).length;
    health.set(endpoints[1].toLowerCase(), 1000);
    await until("trip", async () => await guard.isPaused(1));
    await Promise.all(responders.map((r) => r.nextIteration()));
    const paused = await guard.queryFilter(guard.filters.MarketPaused(1));
    expect(paused).to.have.length(before + 1);
  });

  it("a responder killed between recording and sending an action sends it exactly once after restart", async function () {
    await Promise.all(responders.splice(0).map((r) => r.stop()));
    const outbox = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "vigil-crash-")), "outbox.sqlite");
    let crashed = false;
    let crash!: (e: Error) => void;
    const crashing = new Promise<never>((_resolve, reject) => (crash = reject));
    const first = await responder(3, outbox, {
      afterRecord: async (a) => {
        if (a.kind === "resume" || a.kind === "migrate") {
          crashed = true;
          // The run dies here, and stays here until the test has begun stopping it: otherwise its next
          // iteration would reconcile the recorded action itself, before the restart.
          await crashing;
        }
      },
    });
    health.set(endpoints[0].toLowerCase(), 9500);
    health.set(endpoints[1].toLowerCase(), 9500);
    const before = await migrations();
    await until("the crash", async () => crashed);
    const stopped = first.stop();
    crash(new Error("simulated crash after recording"));
    await stopped;
    responders.splice(responders.indexOf(first), 1);
    const again = await responder(3, outbox);
    await until("the recorded action to finish", async () => again.outbox.unfinished().length === 0);
    const done = again.outbox.list(10).find((a) => a.kind === "resume" || a.kind === "migrate")!;
    expect(["confirmed", "dropped"]).to.include(done.status);
    expect(done.txs.length).to.be.at.most(1 + 3); // one send, plus replacements of that same nonce at most
    if (done.kind === "migrate") expect(await migrations()).to.equal(before + 1);
  });
  it("a transport failure while confirming leaves the action open, and it is finished exactly once without a restart", async function () {
    // The previous test may end right after its crashed action (a failback migrate) while the market
    // is still paused: its responder resumes it, so wait for that before stopping it (once every
    // responder is stopped, nothing could reopen the market).
    await until("the market to be open", async () => !(await guard.isPaused(1)), 60_000);
    await Promise.all(responders.splice(0).map((r) => r.stop()));
    // No oracle listener in this deployment: a DOWN round cannot trip the market inside a submit, so
    // the trip is the responder's own action (recorded, hence armed below).
    expect(await oracle.statusListeners()).to.deep.equal([]);
    // Receipts stop coming back right after the first one is seen (the RPC goes down mid-confirmation).
    // The chain clock is held from the moment the trip is recorded: the trip is mined alone in its
    // block and nothing else mines, so the first depth check finds 1 of 2 confirmations and the wait
    // must read the receipt again, and that read fails. (With the clock running, a tick landing between
    // the trip's inclusion and that check made 2 confirmations at once: the trip was confirmed with no
    // further receipt read, the failure never hit it, and the test timed out about half the time.)
    class Flaky extends JsonRpcProvider {
      armed = false;
      down = false;
      failures = 0;
      override async getTransactionReceipt(hash: string) {
        if (this.down && ++this.failures)
          throw Object.assign(new Error("connect ECONNREFUSED 127.0.0.1"), { code: "ECONNREFUSED" });
        const r = await super.getTransactionReceipt(hash);
        if (r && this.armed) {
          this.armed = false;
          this.down = true;
        }
        return r;
      }
    }
    const network = Network.from(anvil.chainId);
    const flaky = new Flaky(anvil.url, network, { staticNetwork: network, cacheTimeout: -1 });
    flaky.pollingInterval = 100;
    ownProviders.push(flaky);
    const r = await responder(
      4,
      undefined,
      {
        afterRecord: async (a) => {
          if (a.kind !== "trip") return;
          await holdClock();
          flaky.armed = true;
        },
      },
      { provider: flaky, confirmations: 2 },
    );
    const pausesBefore = (await guard.queryFilter(guard.filters.MarketPaused(1))).length;
    health.set(endpoints[0].toLowerCase(), 1000);
    health.set(endpoints[1].toLowerCase(), 1000);
    await until("the RPC to fail mid-confirmation", async () => flaky.down);
    const trip = () => r.outbox.list(100).find((a) => a.kind === "trip");
    // The trip stays open ('sent') while receipts fail: a transport error is no outcome (the confirmation wait
    // keeps polling, within its own deadline, or the iteration ends and the next one reconciles).
    await until("several failed receipt reads", async () => flaky.failures >= 5);
    expect(trip()?.status).to.equal("sent");
    clockHeld = false;
    flaky.down = false;
    await until("the trip to be confirmed", async () => trip()?.status === "confirmed");
    await r.nextIteration();
    expect(r.outbox.list(100).filter((a) => a.kind === "trip")).to.have.length(1);
    expect(trip()?.txs).to.have.length(1);
    expect(await guard.queryFilter(guard.filters.MarketPaused(1))).to.have.length(pausesBefore + 1);
    // The keeper stops before its provider is destroyed (and nothing of it runs on the provider after).
    await r.stop();
    responders.splice(responders.indexOf(r), 1);
    ownProviders.splice(ownProviders.indexOf(flaky), 1);
    flaky.destroy();
  });
});
