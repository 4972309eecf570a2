/**
 * The outage drill: real nodes on loopback, real faults, every reaction measured.
 *
 * 1. A control chain (anvil, 1 s interval mining) holds Vigil, deployed through the same Ignition
 *    code as testnets (`scripts/deploy.ts`).
 * 2. The monitored service `drill-rpc` is three REPLICAS of one chain (primary, backup 1, backup 2):
 *    anvils with one genesis mined in lockstep by scripts/drill/replicas.ts, so honest nodes agree on
 *    every block hash, as the attestors' state-parity check requires (notes/parity-spec.md). Market 1
 *    (an example perpetuals market) depends on it.
 * 3. An L2-style chain: a sequencer (anvil, chain 4242, its own interval mining) as service `l2-rpc`, and
 *    a Chainlink-style sequencer uptime feed on the control chain (answer 0 up, 1 down) as service
 *    `l2-sequencer` (a SEQUENCER_FEED endpoint). Market 2 depends on both.
 * 4. Three attestors (own keys, own ports, quorum 2 of 3) and one responder run as operators run them:
 *    `node bin/vigil.js attestor|responder --config <file>`.
 * 5. Faults, one after another, each undone before the next (expected reaction in brackets):
 *    primary killed [migrate], active node hung [migrate], block production halted on the active
 *    replica [migrate], the primary hung right after a failback, inside the cooldown [migrate],
 *    a backup on a diverged fork with the same chain id at equal height, one ahead, one behind
 *    [DOWN with reason `fork`, never migrated onto], the active node on a diverged fork [migrate off
 *    it, HEALTHY again only through the rise rounds], the L2 sequencer stops producing blocks
 *    [market 2 paused, resumed after the grace period], a foreign node (ganache) on the wrong chain
 *    at a backup's address [DOWN], every node of the service down [market 1 paused, exits open].
 *    For each: time to the first unhealthy signed observation, to the on-chain status change, to the
 *    migration or pause; after recovery, to HEALTHY and to resume.
 *
 * Exits non-zero when an expected reaction is missing, or when anything migrated or paused that
 * should not have.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ProcessRegistry } from "./processes";
import { ChainWatcher, ObservationWatcher, describeEvent, type ChainEvent } from "./watch";
import {
  computeRto,
  formatEvidence,
  formatTable,
  type DrillReport,
  type FaultRecord,
  type TimelineEvent,
} from "./report";
import { renderChart } from "./chart";
import { migrateFault, type DrillContext } from "./faults";
import { activeForkFault, backupForkFault } from "./forks";
import { sequencerFault } from "./sequencer";
import { bothFeedsFault, primaryFeedFault, type FeedFaultDeps } from "./feeds";
import { slowNodeFault } from "./slow";
import { wrongChainThenOutage } from "./outage";
import { clientStats, faultWindow, formatClientTable, gatewayFailures, startGatewayProcess } from "./clients";
import { ClientLoad } from "./load";
import { startStack, type DrillStack } from "./stack";
import { MONITORED_CHAIN, sleep, timing, waitUntil } from "./setup";

/** Fresh genesis accounts per client load (one per transaction, one every 2 s): quick and full drill. */
const CLIENT_ACCOUNTS = { quick: 400, full: 800 };

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
  let stack: DrillStack | undefined;
  const onExit = () => procs.killAllSync();
  process.on("exit", onExit);
  const onSignal = () => {
    say("info", "interrupted: stopping every process the drill started");
    void stack?.replicas.stop();
    void procs.stopAll(1000).finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  let watcher: ChainWatcher | undefined;
  let report: DrillReport | undefined;
  const loads: ClientLoad[] = [];
  try {
    const perClient = opts.quick ? CLIENT_ACCOUNTS.quick : CLIENT_ACCOUNTS.full;
    stack = await startStack(
      t,
      procs,
      workDir,
      (text) => say("info", text),
      `drill-${startedMs}`,
      10 + 2 * perClient,
    );
    const s = stack;
    const { replicas, ids, guard } = s;
    watcher = new ChainWatcher(s.provider, s.deployed);
    await watcher.start();
    watcher.onEvent((e) => say(eventKind(e), describeEvent(e, s.names), e.tx));
    const ctx: DrillContext = {
      t,
      say,
      failures,
      faults,
      affectedBy: new Map(),
      affectedFeeds: new Map(),
      pausedMarket: new Map(),
      provider: s.provider,
      oracle: s.oracle,
      registry: s.registry,
      guard,
      watcher,
      observations: new ObservationWatcher(s.attestorUrls, t.roundSeconds),
      attestorUrls: s.attestorUrls,
      serviceId: s.serviceIds[0],
      marketId: s.marketIds[0],
      ids,
      replicas,
    };
    // Clients: the same load through `vigil gateway` and directly to the primary's URL, for the whole run.
    const gatewayUrl = await startGatewayProcess(procs, workDir, {
      controlUrl: s.control.url,
      oracle: s.deployed.oracle,
      registry: s.deployed.registry,
      name: "drill-rpc",
      serviceId: s.serviceIds[0],
      chainId: MONITORED_CHAIN,
    });
    say("info", `vigil gateway serving ${gatewayUrl}; client load (20 reads/s, a transfer every 2 s) starts`);
    const honestHead = () => replicas.tip;
    const gateway = new ClientLoad({
      url: gatewayUrl,
      chainId: MONITORED_CHAIN,
      accounts: [10, 10 + perClient],
      honestHead,
    });
    const direct = new ClientLoad({
      url: s.endpointUrls[0],
      chainId: MONITORED_CHAIN,
      accounts: [10 + perClient, 10 + 2 * perClient],
      honestHead,
    });
    loads.push(gateway, direct);
    loads.forEach((l) => l.start());
    const steadyAtMs = Date.now();
    say("info", "steady state: every endpoint HEALTHY, both markets open — injecting faults");

    // 1-4: the active replica killed, hung, halted, and hung right after a failback (inside the cooldown:
    //      the registry must fail over at once, never a pause while backup-1 is HEALTHY).
    await migrateFault(
      ctx,
      "primary node killed (SIGKILL)",
      (i) => replicas.kill(i),
      (i) => replicas.restart(i),
    );
    await migrateFault(
      ctx,
      "active node hangs (SIGSTOP)",
      (i) => replicas.hang(i),
      (i) => replicas.unhang(i),
    );
    await migrateFault(
      ctx,
      "block production halts on the active node",
      (i) => replicas.halt(i),
      (i) => replicas.resume(i),
    );
    await migrateFault(
      ctx,
      "primary hangs right after a failback (inside the cooldown)",
      (i) => replicas.hang(i),
      (i) => replicas.unhang(i),
      true,
    );
    // 5-6: diverged forks with the same chain id (issue 12).
    await backupForkFault(ctx, 2);
    await activeForkFault(ctx);
    // 7: the L2 sequencer stops producing blocks; market 2 pauses, market 1 stays open.
    await sequencerFault(ctx, s.l2, s.l2Ids, [s.serviceIds[1], s.serviceIds[2]], s.marketIds[1]);

    // 8-9: the price-feed service: the primary feed stops (migrate, market 1 keeps trading), then both stop
    //      (market 1 paused, resumed after the grace period).
    const feedDeps: FeedFaultDeps = {
      feeder: s.feeds.feeder,
      failoverFeed: s.failoverFeed,
      market: s.market,
      serviceId: s.serviceIds[3],
      feedIds: s.feedIds,
    };
    await primaryFeedFault(ctx, feedDeps);
    await bothFeedsFault(ctx, feedDeps);
    // 10: a slow backup (3 s per answer): DOWN once, no storm, nothing migrates or pauses.
    await slowNodeFault(ctx, s.slowProxy, 2);
    // 11-12: the foreign node on backup-2's port, then every node down (scripts/drill/outage.ts).
    await wrongChainThenOutage(ctx, procs, s.market);

    // ------------------------------------------------------------------ clients
    await Promise.all(loads.map((l) => l.stop()));
    const included = (h: string) => replicas.includedIn(h) !== undefined;
    // Transactions answered last are included within a block or two: wait for them (bounded).
    await waitUntil(async () => gateway.txs.every((x) => !x.accepted || included(x.hash)), 15_000);
    for (const f of faults) {
      const w = faultWindow(f);
      if (w)
        f.clients = { gateway: clientStats(gateway, w, included), direct: clientStats(direct, w, included) };
    }
    failures.push(...gatewayFailures(gateway, included));

    // ------------------------------------------------------------------ verdict
    await sleep(2000);
    const endMs = Date.now();
    const underFault = (endpoint: number, atMs: number) =>
      faults.some(
        (x) =>
          (ctx.affectedBy.get(x) ?? []).includes(endpoint) &&
          atMs >= x.injectedAtMs! &&
          atMs <= (x.healthyAtMs ?? endMs) + 2000,
      );
    const after = watcher.events.filter((e) => e.seenAtMs >= steadyAtMs);
    // A failback is the recovery path (the contract requires the target HEALTHY for the recovery
    // period); a failover is false when it leaves an endpoint no fault touched.
    const underFeedFault = (id: string, atMs: number) =>
      faults.some(
        (x) =>
          (ctx.affectedFeeds.get(x) ?? []).includes(id) &&
          atMs >= x.injectedAtMs! &&
          atMs <= (x.healthyAtMs ?? endMs) + 2000,
      );
    const falseMigrations = after.filter(
      (e) =>
        e.kind === "migration" &&
        !e.failback &&
        !underFault(ids.indexOf(e.from.toLowerCase()), e.seenAtMs) &&
        !underFeedFault(e.from.toLowerCase(), e.seenAtMs),
    ).length;
    // A pause is false unless a pause fault expecting that very market was in force.
    const falsePauses = after.filter(
      (e) =>
        e.kind === "pause" &&
        !faults.some(
          (x) =>
            x.expected === "pause" &&
            ctx.pausedMarket.get(x) === e.marketId &&
            e.seenAtMs >= x.injectedAtMs! &&
            e.seenAtMs <= (x.resumedAtMs ?? endMs),
        ),
    ).length;
    if (falseMigrations) failures.push(`${falseMigrations} migration(s) that no fault called for`);
    if (falsePauses) failures.push(`${falsePauses} pause(s) that no fault called for`);
    const dead = procs.deadKeepers();
    if (dead.length) failures.push(`keeper process(es) exited during the drill: ${dead.join(", ")}`);

    report = {
      startedAt: new Date(startedMs).toISOString(),
      mode: opts.quick ? "quick" : "full",
      settings: {
        ...t,
        monitoredNodes: replicas.nodes.map((n) => `${n.spec.name}:anvil replica`),
        l2: "sequencer:anvil + uptime feed",
        priceFeeds: "2 MockAggregator (8 and 6 decimals), a round each second; FailoverFeed 8 decimals",
        clients: "20 reads/s + a transfer every 2 s, through vigil gateway and direct to the primary",
        quorum: "2 of 3",
      },
      faults,
      falseMigrations,
      falsePauses,
      rtoMs: computeRto(faults),
      failures,
      timeline,
    };
    writeReport(report, opts.outDir);
    process.stdout.write(`\n${formatTable(faults)}\n\n${formatEvidence(faults)}\n\n`);
    process.stdout.write(`What clients saw (through the gateway vs directly to the primary):\n`);
    process.stdout.write(`${formatClientTable(faults)}\n\n`);
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
        `\nStack left running (Ctrl-C to stop):\n  npx vigil status --rpc-url ${s.control.url} --chain-id 31337 --oracle ${s.deployed.oracle} --registry ${s.deployed.registry} --guard ${s.deployed.guard}\n`,
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
    await Promise.all(loads.map((l) => l.stop()));
    stack?.feeds.feeder.stop();
    await stack?.slowProxy.close();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await stack?.replicas.stop();
    await procs.stopAll();
    process.off("exit", onExit);
  }
}

function eventKind(e: ChainEvent): TimelineEvent["kind"] {
  return e.kind === "status" ? "status" : e.kind;
}

function writeReport(report: DrillReport, outDir: string): void {
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(path.join(outDir, "drill.json"), JSON.stringify(report, null, 2) + "\n");
  if (report.faults.some((f) => f.injectedAtMs !== null))
    fs.writeFileSync(path.join(outDir, "drill.svg"), renderChart(report));
}
