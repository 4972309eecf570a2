/**
 * The outage drill: real nodes on loopback, real faults, every reaction measured.
 *
 * 1. A control chain (anvil, 1 s interval mining) holds Vigil, deployed through the same Ignition
 *    code as testnets (`scripts/deploy.ts`).
 * 2. Three monitored Ethereum nodes of three implementations (anvil, hardhat node, ganache) form one
 *    service: primary, backup 1, backup 2. An example perpetuals market depends on it.
 * 3. Three attestors (own keys, own ports, quorum 2 of 3) and one responder run as operators run them:
 *    `node bin/vigil.js attestor|responder --config <file>`.
 * 4. Faults, one after another, each undone before the next: primary killed, active node hung,
 *    block production halted, the primary hung right after a failback (inside the cooldown), a node
 *    on the wrong chain while the others are down, every node down.
 *    For each: time to the first unhealthy signed observation, to the on-chain status change, to the
 *    migration or pause; after recovery, to HEALTHY and to resume.
 *
 * Exits non-zero when an expected reaction is missing, or when anything migrated or paused that
 * should not have.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { JsonRpcProvider, Wallet, NonceManager, type Signer } from "ethers";
import { ManagedNode, freePort, rpc, syncHeads, type NodeSpec } from "./nodes";
import { ProcessRegistry } from "./processes";
import { ChainWatcher, ObservationWatcher, describeEvent, type ChainEvent } from "./watch";
import {
  computeRto,
  formatEvidence,
  formatTable,
  newFault,
  type DrillReport,
  type FaultRecord,
  type TimelineEvent,
} from "./report";
import { renderChart } from "./chart";
import { cooldownEvidence, resumeEvidence } from "./evidence";
import { Status } from "../../keepers/shared/health";
import {
  IEndpointRegistry__factory,
  IHealthOracle__factory,
  IMarketGuard__factory,
  GuardedPerpMarket__factory,
  MockERC20__factory,
} from "../../typechain-types";

/**
 * The well-known Hardhat/anvil development accounts (public test keys from the mnemonic
 * "test test … junk"); local drill only, they hold nothing anywhere else.
 */
const DEV_KEYS = [
  "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80", // #0 deployer / owner
  "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d", // #1 attestor A
  "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a", // #2 attestor B
  "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6", // #3 attestor C
  "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a", // #4 responder
  "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba", // #5 trader
];

export interface DrillOptions {
  /** Shorter intervals and grace periods, for CI. */
  quick: boolean;
  /** Leave the stack running at the end (Ctrl-C to stop). */
  keep: boolean;
  /** Where reports go. Default `reports/`. */
  outDir: string;
  /** Print the live timeline. Default true. */
  verbose?: boolean;
}

interface Timing {
  roundSeconds: number;
  probeIntervalMs: number;
  probeTimeoutMs: number;
  pollIntervalMs: number;
  fallRounds: number;
  riseRounds: number;
  heartbeat: number;
  maxAge: number;
  /**
   * The service's cooldown. Longer than fault → DOWN takes even on a busy machine (two rounds plus
   * inclusion), so the fault injected right after a failback always lands inside it: that fault proves a
   * failover is never held back by the cooldown, and the drill fails if it landed outside.
   */
  cooldown: number;
  recoveryPeriod: number;
  gracePeriod: number;
  /** Longest wait for one expected reaction, ms. */
  reactionTimeoutMs: number;
}

function timing(quick: boolean): Timing {
  return quick
    ? {
        roundSeconds: 2,
        probeIntervalMs: 1000,
        probeTimeoutMs: 700,
        pollIntervalMs: 500,
        fallRounds: 2,
        riseRounds: 2,
        heartbeat: 30,
        maxAge: 20,
        cooldown: 20,
        recoveryPeriod: 4,
        gracePeriod: 4,
        reactionTimeoutMs: 60_000,
      }
    : {
        roundSeconds: 3,
        probeIntervalMs: 1000,
        probeTimeoutMs: 800,
        pollIntervalMs: 500,
        fallRounds: 2,
        riseRounds: 3,
        heartbeat: 60,
        maxAge: 30,
        cooldown: 30,
        recoveryPeriod: 10,
        gracePeriod: 10,
        reactionTimeoutMs: 90_000,
      };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Run the drill. @returns the report (also written to `outDir`). Never leaves a process running unless `keep`. */
export async function runDrill(opts: DrillOptions): Promise<DrillReport> {
  const t = timing(opts.quick);
  const verbose = opts.verbose ?? true;
  const startedMs = Date.now();
  const procs = new ProcessRegistry();
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "vigil-drill-"));
  const timeline: TimelineEvent[] = [];
  const failures: string[] = [];
  const faults: FaultRecord[] = [];
  const say = (kind: TimelineEvent["kind"], text: string, tx?: string) => {
    const ev = { atMs: Date.now(), kind, text, tx };
    timeline.push(ev);
    if (verbose) {
      const rel = ((ev.atMs - startedMs) / 1000).toFixed(1).padStart(6);
      process.stdout.write(`[+${rel}s] ${text}${tx ? `  tx ${tx}` : ""}\n`);
    }
  };
  const onExit = () => procs.killAllSync();
  process.on("exit", onExit);
  const onSignal = () => {
    say("info", "interrupted: stopping every process the drill started");
    void procs.stopAll(1000).finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  let watcher: ChainWatcher | undefined;
  let report: DrillReport | undefined;
  try {
    // ------------------------------------------------------------------ control chain + deployment
    const controlPort = await freePort();
    const control = procs.addNode(
      new ManagedNode({ name: "control", impl: "anvil", port: controlPort, chainId: 31337, blockTimeSec: 1 }),
    );
    await control.start();
    say("info", `control chain: anvil on ${control.url} (chain 31337, a block every second)`);

    // Monitored nodes: one service, three implementations, same chain id.
    const MONITORED_CHAIN = 1337;
    const specs: NodeSpec[] = [
      { name: "primary", impl: "anvil", port: await freePort(), chainId: MONITORED_CHAIN, blockTimeSec: 1 },
      {
        name: "backup-1",
        impl: "hardhat",
        port: await freePort(),
        chainId: MONITORED_CHAIN,
        blockTimeSec: 1,
      },
      {
        name: "backup-2",
        impl: "ganache",
        port: await freePort(),
        chainId: MONITORED_CHAIN,
        blockTimeSec: 1,
      },
    ];
    const nodes = specs.map((s) => procs.addNode(new ManagedNode(s)));
    await Promise.all(nodes.map((n) => n.start(90_000)));
    await syncNodes(nodes);
    for (const n of nodes)
      say("info", `monitored node ${n.spec.name}: ${n.spec.impl} on ${n.url} (chain ${MONITORED_CHAIN})`);

    const provider = new JsonRpcProvider(control.url, 31337, { staticNetwork: true, polling: true });
    provider.pollingInterval = 250;
    const admin = new NonceManager(new Wallet(DEV_KEYS[0], provider));
    const attestorWallets = DEV_KEYS.slice(1, 4).map((k) => new Wallet(k));
    const responderWallet = new Wallet(DEV_KEYS[4]);
    const trader = new NonceManager(new Wallet(DEV_KEYS[5], provider));

    process.env.VIGIL_DRILL_RPC_URL = control.url;
    process.env.HARDHAT_NETWORK = "drill";
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { deployVigil } = require("../deploy") as typeof import("../deploy");
    const deploymentId = `drill-${startedMs}`;
    const params = {
      core: {
        roundSeconds: t.roundSeconds,
        maxSkew: 5,
        listenerGasLimit: 500_000,
        marketCallGas: 200_000,
        defaultPolicy: {
          downBelowBps: 5000,
          upAtBps: 8000,
          fallRounds: t.fallRounds,
          riseRounds: t.riseRounds,
          heartbeat: t.heartbeat,
          maxAge: t.maxAge,
        },
      },
      attestors: attestorWallets.map((w) => w.address),
      quorum: 2,
      services: [
        {
          name: "drill-rpc",
          cooldown: t.cooldown,
          recoveryPeriod: t.recoveryPeriod,
          endpoints: nodes.map((n, i) => ({ kind: "JSON_RPC", uri: n.url, priority: i })),
        },
      ],
      markets: [{ pauseThresholdBps: 5000, gracePeriod: t.gracePeriod, services: ["drill-rpc"] }],
    };
    let deployed;
    try {
      deployed = await deployVigil(params, deploymentId, "drill parameters", { requiredConfirmations: 1 });
    } finally {
      fs.rmSync(path.join(__dirname, "..", "..", "ignition", "deployments", deploymentId), {
        recursive: true,
        force: true,
      });
    }
    say(
      "info",
      `Vigil deployed with Ignition: oracle ${deployed.oracle}, registry ${deployed.registry}, guard ${deployed.guard}`,
    );

    const oracle = IHealthOracle__factory.connect(deployed.oracle, provider);
    const registry = IEndpointRegistry__factory.connect(deployed.registry, provider);
    const guard = IMarketGuard__factory.connect(deployed.guard, provider);
    const [serviceId] = await registry.services();
    const endpoints = await registry.endpointsOf(serviceId);
    const ids = endpoints.map((e) => e.id.toLowerCase());
    const names = new Map<string, string>(ids.map((id, i) => [id, nodes[i].spec.name]));
    names.set(serviceId.toLowerCase(), "service drill-rpc");
    const marketId = 1n;
    const market = GuardedPerpMarket__factory.connect(deployed.markets[0], trader);

    // A trader with a position, so the drill can prove exits stay open while paused.
    const collateral = MockERC20__factory.connect(await marketCollateral(market), trader);
    await (await collateral.mint(await trader.getAddress(), 10n ** 24n)).wait();
    await (await collateral.approve(deployed.markets[0], 2n ** 255n)).wait();
    await (await market.deposit(10n ** 23n)).wait();

    // ------------------------------------------------------------------ keepers
    const attestorPorts = await Promise.all(attestorWallets.map(() => freePort()));
    const attestorUrls = attestorPorts.map((p) => `http://127.0.0.1:${p}`);
    attestorWallets.forEach((w, i) => {
      const file = path.join(workDir, `attestor-${i + 1}.json`);
      fs.writeFileSync(
        file,
        JSON.stringify(
          attestorConfig({
            rpcUrl: control.url,
            oracle: deployed.oracle,
            registry: deployed.registry,
            port: attestorPorts[i],
            serviceId,
            monitoredChainId: MONITORED_CHAIN,
            dataDir: path.join(workDir, `attestor-${i + 1}`),
            t,
          }),
          null,
          2,
        ),
      );
      procs.startKeeper(
        `attestor-${i + 1}`,
        "attestor",
        file,
        { VIGIL_ATTESTOR_KEY: DEV_KEYS[i + 1] },
        path.join(workDir, `attestor-${i + 1}.log`),
      );
    });
    const responderFile = path.join(workDir, "responder.json");
    fs.writeFileSync(
      responderFile,
      JSON.stringify(
        responderConfig({
          serviceId,
          rpcUrl: control.url,
          oracle: deployed.oracle,
          registry: deployed.registry,
          guard: deployed.guard,
          attestorUrls,
          outbox: path.join(workDir, "responder.sqlite"),
          port: await freePort(),
          t,
        }),
        null,
        2,
      ),
    );
    procs.startKeeper(
      "responder",
      "responder",
      responderFile,
      { VIGIL_RESPONDER_KEY: DEV_KEYS[4] },
      path.join(workDir, "responder.log"),
    );
    say(
      "info",
      `3 attestors (quorum 2) on ${attestorUrls.join(", ")} and 1 responder started (logs in ${workDir})`,
    );

    watcher = new ChainWatcher(provider, deployed);
    await watcher.start();
    watcher.onEvent((e) => say(eventKind(e), describeEvent(e, names), e.tx));
    const observations = new ObservationWatcher(attestorUrls, t.roundSeconds);

    // Wait until every endpoint is HEALTHY on-chain: the steady state the faults start from.
    const ready = await waitUntil(async () => {
      const s = await Promise.all(ids.map((id) => oracle.statusOf(id)));
      return s.every((h) => Number(h.status) === Status.HEALTHY);
    }, t.reactionTimeoutMs * 2);
    if (!ready) throw new Error(`endpoints did not all become HEALTHY; see the keeper logs in ${workDir}`);
    // A market whose dependencies were never attested is tripped at start-up (silence is failure) and
    // resumes once they have been HEALTHY for its grace period.
    const open = await waitUntil(
      async () => !(await guard.isPaused(marketId)),
      t.reactionTimeoutMs + t.gracePeriod * 1000,
    );
    if (!open) throw new Error(`the market did not open after start-up; see the keeper logs in ${workDir}`);
    const steadyAtMs = Date.now();
    say("info", "steady state: every endpoint HEALTHY, market open — injecting faults");

    const activeIndex = async () => ids.indexOf((await registry.activeEndpoint(serviceId)).id.toLowerCase());
    // Which endpoints each fault affects, so every migration and pause can be judged afterwards: a
    // failover is justified only off an endpoint under a fault, a failback only onto one that is not,
    // a pause only while a pause fault is in force.
    const affectedBy = new Map<FaultRecord, number[]>();

    /** Wait until the service is back on the primary (failback) and every endpoint is HEALTHY. */
    const settle = async (f: FaultRecord, affected: number[]) => {
      const healthy = await waitUntil(async () => {
        const s = await Promise.all(affected.map((i) => oracle.statusOf(ids[i])));
        return s.every((h) => Number(h.status) === Status.HEALTHY);
      }, t.reactionTimeoutMs);
      if (healthy) {
        f.healthyAtMs = Date.now();
        const ev = watcher!.events.filter(
          (e) =>
            e.kind === "status" &&
            e.current === Status.HEALTHY &&
            affected.includes(ids.indexOf(e.endpointId.toLowerCase())) &&
            e.seenAtMs >= (f.recoveredAtMs ?? 0),
        );
        if (ev.length) f.healthyAtMs = Math.max(...ev.map((e) => e.seenAtMs));
      } else
        failures.push(`${f.name}: affected endpoints not HEALTHY again within ${t.reactionTimeoutMs} ms`);
      const back = await waitUntil(async () => (await activeIndex()) === 0, t.reactionTimeoutMs);
      if (!back) failures.push(`${f.name}: no failback to the primary within ${t.reactionTimeoutMs} ms`);
    };

    /**
     * Inject a fault on the active endpoint, measure detection, status change and failover, undo it and
     * wait for failback. With `afterFailback` (the previous fault has just failed back to the primary),
     * the failover's block time must fall inside the cooldown that failback started.
     */
    const migrateFault = async (
      name: string,
      inject: (active: ManagedNode) => Promise<void>,
      recover: (n: ManagedNode) => Promise<void>,
      afterFailback = false,
    ) => {
      const f = newFault(name, "migrate");
      faults.push(f);
      const from = await activeIndex();
      affectedBy.set(f, [from]);
      const node = nodes[from];
      // The failback's block time, from the registry itself (its log may reach the watcher a poll later):
      // the service is back on the primary, so its last migration is the failback.
      const failbackAtS = afterFailback ? Number((await registry.serviceInfo(serviceId)).lastMigrationAt) : 0;
      f.injectedAtMs = Date.now();
      say("fault", `FAULT ${faults.length}: ${name} — ${node.spec.name} (${node.spec.impl})`);
      await inject(node);
      const [firstBad, status, migration] = await Promise.all([
        observations.firstBelow(ids[from], 5000, f.injectedAtMs, t.reactionTimeoutMs),
        watcher!.waitFor(
          (e) =>
            e.kind === "status" &&
            e.endpointId.toLowerCase() === ids[from] &&
            (e.current === Status.DOWN || e.current === Status.UNKNOWN),
          f.injectedAtMs,
          t.reactionTimeoutMs,
        ),
        watcher!.waitFor(
          (e) => e.kind === "migration" && e.from.toLowerCase() === ids[from] && !e.failback,
          f.injectedAtMs,
          t.reactionTimeoutMs,
        ),
      ]);
      f.firstUnhealthyAtMs = firstBad;
      f.statusChangedAtMs = status?.seenAtMs ?? null;
      if (migration && migration.kind === "migration") {
        f.reactionAtMs = migration.seenAtMs;
        f.reactionTx = migration.tx;
        const to = ids.indexOf(migration.to.toLowerCase());
        const h = await oracle.statusOf(migration.to, { blockTag: migration.block });
        if (Number(h.status) !== Status.HEALTHY)
          failures.push(`${name}: migrated to ${nodes[to]?.spec.name} which is not HEALTHY`);
        if (afterFailback) {
          f.cooldown = await cooldownEvidence(provider, failbackAtS, migration, t.cooldown);
          if (!f.cooldown.inside)
            failures.push(
              `${name}: the failover came ${f.cooldown.failoverAtS - f.cooldown.failbackAtS} s after the failback, ` +
                `outside the ${t.cooldown} s cooldown: the case was not exercised`,
            );
        }
      } else failures.push(`${name}: no migration within ${t.reactionTimeoutMs} ms`);
      f.recoveredAtMs = Date.now();
      say("recover", `recover: ${node.spec.name}`);
      await recover(node);
      await settle(f, [from]);
    };

    // 1. primary killed
    await migrateFault(
      "primary node killed (SIGKILL)",
      (n) => n.kill(),
      async (n) => {
        await n.start(90_000);
        await syncNodes(nodes);
      },
    );
    // 2. active node hangs
    await migrateFault(
      "active node hangs (SIGSTOP)",
      async (n) => n.hang(),
      async (n) => {
        n.unhang();
        await syncNodes(nodes);
      },
    );
    // 3. block production halts
    await migrateFault(
      "block production halts on the active node",
      (n) => n.haltBlocks(),
      async (n) => {
        await n.resumeBlocks();
        await syncNodes(nodes);
      },
    );

    // 4. the primary hangs the moment the service has failed back to it, inside the cooldown: the
    //    registry must fail over at once (never a pause while backup-1 is HEALTHY).
    await migrateFault(
      "primary hangs right after a failback (inside the cooldown)",
      async (n) => n.hang(),
      async (n) => {
        n.unhang();
        await syncNodes(nodes);
      },
      true,
    );

    // 5. wrong chain: backup-2 restarts serving another chain id. It answers quickly and looks
    //    alive, but attestors check the chain id: it must be marked DOWN, and nothing else happens.
    const wrong = newFault("a node answers for the wrong chain", "none");
    faults.push(wrong);
    affectedBy.set(wrong, [2]);
    {
      wrong.injectedAtMs = Date.now();
      say("fault", `FAULT ${faults.length}: backup-2 (ganache) restarted with chain id 999`);
      await nodes[2].restart({ chainId: 999 });
      const [firstBad, down] = await Promise.all([
        observations.firstBelow(ids[2], 5000, wrong.injectedAtMs, t.reactionTimeoutMs),
        watcher.waitFor(
          (e) => e.kind === "status" && e.endpointId.toLowerCase() === ids[2] && e.current === Status.DOWN,
          wrong.injectedAtMs,
          t.reactionTimeoutMs,
        ),
      ]);
      wrong.firstUnhealthyAtMs = firstBad;
      wrong.statusChangedAtMs = down?.seenAtMs ?? null;
      if (!down) failures.push(`${wrong.name}: the wrong-chain node was not marked DOWN`);
    }

    // 6. every node of the service down at once: primary and backup-1 killed while backup-2 still
    //    answers for the wrong chain — the only node answering must never be chosen: pause instead,
    //    and the market's exits stay open.
    {
      const f = newFault("every node of the service down", "pause");
      faults.push(f);
      affectedBy.set(f, [0, 1, 2]);
      f.injectedAtMs = Date.now();
      say("fault", `FAULT ${faults.length}: primary and backup-1 killed; only the wrong-chain node answers`);
      await Promise.all([nodes[0].kill(), nodes[1].kill()]);
      await pauseFault(f, f.injectedAtMs, [0, 1]);
      if (
        watcher.events.some(
          (e) => e.kind === "migration" && e.to.toLowerCase() === ids[2] && e.seenAtMs >= wrong.injectedAtMs!,
        )
      ) {
        failures.push(`${f.name}: migrated to the wrong-chain node`);
      }
      await checkExitsOpen(f.name);
      // 7. recovery: every node back, on the right chain
      f.recoveredAtMs = Date.now();
      wrong.recoveredAtMs = f.recoveredAtMs;
      say("recover", "recover: backup-2 back on chain 1337, primary and backup-1 restarted");
      nodes[2].spec.chainId = MONITORED_CHAIN;
      await Promise.all([nodes[2].restart(), nodes[0].start(90_000), nodes[1].start(90_000)]);
      await syncNodes(nodes);
      await resumeAfterPause(f);
      const b2 = watcher.events.find(
        (e) =>
          e.kind === "status" &&
          e.endpointId.toLowerCase() === ids[2] &&
          e.current === Status.HEALTHY &&
          e.seenAtMs >= f.recoveredAtMs!,
      );
      wrong.healthyAtMs = b2?.seenAtMs ?? null;
    }

    async function pauseFault(f: FaultRecord, sinceMs: number, affected: number[]) {
      const active = await activeIndex();
      const [firstBad, status, pause] = await Promise.all([
        observations.firstBelow(ids[active], 5000, sinceMs, t.reactionTimeoutMs),
        watcher!.waitFor(
          (e) =>
            e.kind === "status" &&
            affected.includes(ids.indexOf(e.endpointId.toLowerCase())) &&
            (e.current === Status.DOWN || e.current === Status.UNKNOWN) &&
            e.seenAtMs >= sinceMs,
          sinceMs,
          t.reactionTimeoutMs,
        ),
        watcher!.waitFor((e) => e.kind === "pause" && e.marketId === marketId, sinceMs, t.reactionTimeoutMs),
      ]);
      f.firstUnhealthyAtMs = firstBad;
      f.statusChangedAtMs = status?.seenAtMs ?? null;
      if (pause) {
        f.reactionAtMs = pause.seenAtMs;
        f.reactionTx = pause.tx;
      } else failures.push(`${f.name}: market not paused within ${t.reactionTimeoutMs} ms`);
    }

    async function resumeAfterPause(f: FaultRecord) {
      const resumed = await watcher!.waitFor(
        (e) => e.kind === "resume" && e.marketId === marketId,
        f.recoveredAtMs!,
        t.reactionTimeoutMs + t.gracePeriod * 1000,
      );
      if (resumed && resumed.kind === "resume") {
        f.resumedAtMs = resumed.seenAtMs;
        // The guard's rule, checked from chain state at the resume's block rather than from when the
        // drill read the logs: HEALTHY for the grace period, counted from `since` and the pause.
        f.resume = await resumeEvidence(
          provider,
          { oracle, registry, guard },
          resumed,
          watcher!.events,
          serviceId,
          t.gracePeriod,
        );
        if (!f.resume.afterGrace)
          failures.push(`${f.name}: resumed before its dependency was HEALTHY for the grace period`);
      } else
        failures.push(
          `${f.name}: market did not resume within the grace period plus ${t.reactionTimeoutMs} ms`,
        );
      // healthyAtMs: every endpoint the fault touched HEALTHY again (the resume needs only the active one).
      await settle(f, [0, 1, 2]);
    }

    async function checkExitsOpen(name: string) {
      if (!(await guard.isPaused(marketId))) return;
      // opening risk must fail, closing and withdrawing must work
      let openBlocked = false;
      try {
        await market.openPosition.staticCall(10n ** 18n, true);
      } catch {
        openBlocked = true;
      }
      if (!openBlocked) failures.push(`${name}: opening a position was possible while paused`);
      try {
        await (await market.withdraw(10n ** 18n)).wait();
        say("info", "while paused: trader withdrew collateral (exits stay open); opening a position reverts");
      } catch (e) {
        failures.push(`${name}: withdraw failed while paused: ${(e as Error).message}`);
      }
    }

    // ------------------------------------------------------------------ verdict
    await sleep(2000);
    const endMs = Date.now();
    const underFault = (endpoint: number, atMs: number) =>
      faults.some(
        (f) =>
          (affectedBy.get(f) ?? []).includes(endpoint) &&
          atMs >= f.injectedAtMs! &&
          atMs <= (f.healthyAtMs ?? endMs) + 2000,
      );
    const after = watcher.events.filter((e) => e.seenAtMs >= steadyAtMs);
    const falseMigrations = after.filter((e) => {
      if (e.kind !== "migration") return false;
      // A failback is the recovery path (the contract requires the target HEALTHY for the recovery
      // period); a failover is false when it leaves an endpoint no fault touched.
      return !e.failback && !underFault(ids.indexOf(e.from.toLowerCase()), e.seenAtMs);
    }).length;
    const falsePauses = after.filter(
      (e) =>
        e.kind === "pause" &&
        !faults.some(
          (f) =>
            f.expected === "pause" && e.seenAtMs >= f.injectedAtMs! && e.seenAtMs <= (f.resumedAtMs ?? endMs),
        ),
    ).length;
    if (falseMigrations) failures.push(`${falseMigrations} migration(s) that no fault called for`);
    if (falsePauses) failures.push(`${falsePauses} pause(s) that no fault called for`);
    const dead = procs.deadKeepers();
    if (dead.length) failures.push(`keeper process(es) exited during the drill: ${dead.join(", ")}`);

    report = {
      startedAt: new Date(startedMs).toISOString(),
      mode: opts.quick ? "quick" : "full",
      settings: { ...t, monitoredNodes: specs.map((s) => `${s.name}:${s.impl}`), quorum: "2 of 3" },
      faults,
      falseMigrations,
      falsePauses,
      rtoMs: computeRto(faults),
      failures,
      timeline,
    };
    writeReport(report, opts.outDir);
    process.stdout.write(`\n${formatTable(faults)}\n\n${formatEvidence(faults)}\n\n`);
    process.stdout.write(
      `RTO (max fault → reaction): ${report.rtoMs ?? "—"} ms · false migrations ${falseMigrations} · false pauses ${falsePauses}\n`,
    );
    process.stdout.write(
      `wrote ${path.join(opts.outDir, "drill.json")} and ${path.join(opts.outDir, "drill.svg")}\n`,
    );
    if (failures.length) process.stdout.write(`\nDRILL FAILED:\n- ${failures.join("\n- ")}\n`);
    else process.stdout.write("\nDRILL PASSED: every expected reaction happened, nothing else did.\n");

    if (opts.keep) {
      process.stdout.write(
        `\nStack left running (Ctrl-C to stop):\n  npx vigil status --rpc-url ${control.url} --chain-id 31337 --oracle ${deployed.oracle} --registry ${deployed.registry} --guard ${deployed.guard}\n`,
      );
      await new Promise(() => undefined);
    }
    return report;
  } catch (e) {
    failures.push(`drill aborted: ${(e as Error).message}`);
    report = report ?? {
      startedAt: new Date(startedMs).toISOString(),
      mode: opts.quick ? "quick" : "full",
      settings: { ...t },
      faults,
      falseMigrations: 0,
      falsePauses: 0,
      rtoMs: computeRto(faults),
      failures,
      timeline,
    };
    try {
      writeReport(report, opts.outDir);
    } catch {
      /* best effort */
    }
    process.stdout.write(`\nDRILL FAILED: ${(e as Error).message}\nkeeper logs: ${workDir}\n`);
    return report;
  } finally {
    watcher?.stop();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await procs.stopAll();
    process.off("exit", onExit);
  }
}

function eventKind(e: ChainEvent): TimelineEvent["kind"] {
  return e.kind === "status" ? "status" : e.kind;
}

async function marketCollateral(
  market: ReturnType<typeof GuardedPerpMarket__factory.connect>,
): Promise<string> {
  return market.collateral();
}

function writeReport(report: DrillReport, outDir: string): void {
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(path.join(outDir, "drill.json"), JSON.stringify(report, null, 2) + "\n");
  if (report.faults.some((f) => f.injectedAtMs !== null))
    fs.writeFileSync(path.join(outDir, "drill.svg"), renderChart(report));
}

/** Poll `cond` every 250 ms until true or `timeoutMs`. */
async function waitUntil(cond: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if (await cond()) return true;
    } catch {
      // transient read error: retry
    }
    await sleep(250);
  }
  return false;
}

interface KeeperSettings {
  rpcUrl: string;
  oracle: string;
  registry: string;
  t: Timing;
}

function attestorConfig(
  s: KeeperSettings & { port: number; serviceId: string; monitoredChainId: number; dataDir: string },
): unknown {
  return {
    chain: { rpcUrls: [s.rpcUrl], chainId: 31337 },
    // Where the attestor records the last round it signed (never two reports for one round, across restarts).
    dataDir: s.dataDir,
    contracts: { oracle: s.oracle, registry: s.registry },
    services: [s.serviceId],
    // The drill's nodes listen on 127.0.0.1; production attestors refuse private targets.
    allowPrivateTargets: true,
    expectedChainIds: { [s.serviceId]: s.monitoredChainId },
    probeIntervalMs: s.t.probeIntervalMs,
    timeoutMs: s.t.probeTimeoutMs,
    // A short error-rate window: a node that comes back is judged on its last few probes, so recovery
    // is measured in seconds (production default: 20 probes).
    errorWindow: 5,
    registryRefreshMs: 5_000,
    oracleRefreshMs: 5_000,
    http: { host: "127.0.0.1", port: s.port },
    // Local nodes mine every second: a head older than 3 s is late, older than 6 s is halted.
    thresholds: {
      jsonRpc: { headAgeSec: { ok: 3, max: 6, floor: 0 }, lagBlocks: { ok: 3, max: 10, floor: 0 } },
    },
    log: { level: "info" },
  };
}

function responderConfig(
  s: KeeperSettings & {
    guard: string;
    attestorUrls: string[];
    outbox: string;
    port: number;
    serviceId: string;
  },
): unknown {
  return {
    chain: { rpcUrls: [s.rpcUrl], chainId: 31337 },
    services: [s.serviceId],
    contracts: { oracle: s.oracle, registry: s.registry, guard: s.guard },
    attestorUrls: s.attestorUrls,
    pollIntervalMs: s.t.pollIntervalMs,
    attestorTimeoutMs: 1000,
    confirmations: 1,
    outboxPath: s.outbox,
    http: { host: "127.0.0.1", port: s.port },
    log: { level: "info" },
  };
}

export type { Signer };

/** {@link syncHeads} over the drill's managed nodes. */
function syncNodes(nodes: readonly ManagedNode[]): Promise<void> {
  return syncHeads(nodes.map((n) => ({ url: n.url, impl: n.spec.impl })));
}
