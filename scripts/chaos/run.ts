/**
 * The chaos run: the stack (scripts/chaos/stack.ts), the racing responders, a sequence of incidents with
 * chaos laid over them (scripts/chaos/incidents.ts), then the end-of-run scan of the canonical chain and the
 * accounting. See scripts/chaos/chaos.ts for the command line.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ProcessRegistry } from "../drill/processes";
import { sleep, timing } from "../drill/setup";
import { accountIncidents, findDuplicates, findNonceGaps, judgeFeeSpike, type BlockView } from "./accounting";
import {
  runIncident,
  type FeeSpikeRecord,
  type IncidentContext,
  type IncidentPlan,
  type IncidentRecord,
  type ReorgRecord,
} from "./incidents";
import { KeeperProcs } from "./keepers";
import { ViewMonitor } from "./monitor";
import { seededRng } from "./random";
import { formatSummary, formatTable, writeReport, type ChaosReport, type RpcFaultTiming } from "./report";
import { ResponderFleet } from "./responders";
import { scanChain } from "./scan";
import { startChaosStack, type ChaosStack } from "./stack";

export interface ChaosOptions {
  quick: boolean;
  seed: number;
  responders: number;
  /** Total responder kills across the sequence. */
  kills: number;
  keepListeners: boolean;
  outDir: string;
  /** Checkouts whose bin/vigil.js runs the attestors and the responders (default: this repository). */
  attestorRoot: string;
  responderRoot: string;
}

/**
 * The sequence of incidents. Kills are spread over the incidents that carry no timed figure (the fee spike and
 * the RPC faults are timed, so they run without kills); reorgs at depth 1, 3 and 12 land on a failover, a pause
 * and a failback.
 */
export function planSequence(quick: boolean, kills: number): IncidentPlan[] {
  const timed: IncidentPlan[] = quick
    ? [
        { kind: "outage", kills: 0, rpc: "honest", feeSpike: true, reorg: { depth: 3, on: 1 } },
        { kind: "outage", kills: 0, rpc: "lie" },
      ]
    : [
        { kind: "outage", kills: 0, rpc: "honest" },
        { kind: "outage", kills: 0, feeSpike: true },
        { kind: "outage", kills: 0, rpc: "refuse" },
        { kind: "outage", kills: 0, rpc: "hang" },
        { kind: "outage", kills: 0, rpc: "frozen" },
        { kind: "outage", kills: 0, rpc: "lie" },
      ];
  const killing: IncidentPlan[] = quick
    ? [{ kind: "migrate", kills: 0, reorg: { depth: 1, on: 0 } }]
    : [
        { kind: "migrate", kills: 0, reorg: { depth: 1, on: 0 } },
        { kind: "outage", kills: 0, reorg: { depth: 3, on: 0 } },
        { kind: "migrate", kills: 0, reorg: { depth: 12, on: 1 } },
        { kind: "outage", kills: 0 },
        { kind: "migrate", kills: 0 },
      ];
  killing.forEach((p, i) => {
    p.kills = Math.floor(kills / killing.length) + (i < kills % killing.length ? 1 : 0);
  });
  return [...killing, ...timed];
}

/** Run the chaos sequence. @returns the report (also written to `outDir`); `failures` empty when every goal held. */
export async function runChaos(opts: ChaosOptions): Promise<ChaosReport> {
  const t = timing(true);
  const startedMs = Date.now();
  const rng = seededRng(opts.seed);
  const procs = new ProcessRegistry();
  const keepers = new KeeperProcs();
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "vigil-chaos-"));
  const say = (text: string) => {
    const rel = ((Date.now() - startedMs) / 1000).toFixed(1).padStart(6);
    process.stdout.write(`[+${rel}s] ${text}\n`);
  };
  const failures: string[] = [];
  const reorgs: ReorgRecord[] = [];
  const feeSpikes: FeeSpikeRecord[] = [];
  const records: IncidentRecord[] = [];
  const proxyCalls: number[] = [];
  let stack: ChaosStack | undefined;
  let fleet: ResponderFleet | undefined;
  let monitor: ViewMonitor | undefined;
  const onExit = () => {
    keepers.killAllSync();
    procs.killAllSync();
  };
  process.on("exit", onExit);
  const onSignal = () => {
    say("interrupted: stopping every process the chaos run started");
    fleet?.stop();
    void stack?.replicas.stop();
    void keepers
      .stopAll(1000)
      .then(() => procs.stopAll(1000))
      .finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const plans = planSequence(opts.quick, opts.kills);
  try {
    stack = await startChaosStack({
      t,
      procs,
      keepers,
      attestorRoot: opts.attestorRoot,
      workDir,
      say,
      responders: opts.responders,
      keepListeners: opts.keepListeners,
      startResponders: (specs) => {
        fleet = new ResponderFleet(keepers, opts.responderRoot, specs, rng, say);
        fleet.startAll();
      },
    });
    const s = stack;
    monitor = new ViewMonitor(s.provider, s.registry, s.guard, s.serviceId, s.marketId);
    monitor.start(s.readyBlock);
    say(
      `steady state at block ${s.readyBlock}: every endpoint HEALTHY, the market open; ${plans.length} incidents follow`,
    );
    const ctx: IncidentContext = { t, stack: s, monitor, fleet: fleet!, say, failures, reorgs, feeSpikes };
    for (let i = 0; i < plans.length; i++) {
      const before = s.responders.reduce((n, r) => n + r.proxy.calls(), 0);
      const rec = await runIncident(ctx, i + 1, plans[i]);
      records.push(rec);
      proxyCalls.push(s.responders.reduce((n, r) => n + r.proxy.calls(), 0) - before);
      say(
        `  incident ${i + 1} done: blocks ${rec.startBlock}-${rec.endBlock}; kills so far ${fleet!.kills.length}`,
      );
    }
    fleet!.stop();
    // let the last transactions land, then read the chain
    await sleep(3000);
  } catch (e) {
    failures.push(`chaos run aborted: ${(e as Error).message}`);
    say(`ABORTED: ${(e as Error).message} (keeper logs in ${workDir})`);
  }
  monitor?.stop();
  fleet?.stop();
  let report: ChaosReport;
  try {
    report = await account(
      opts,
      stack,
      monitor,
      fleet,
      records,
      reorgs,
      feeSpikes,
      proxyCalls,
      failures,
      startedMs,
    );
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    for (const r of stack?.responders ?? []) await r.proxy.close();
    await keepers.stopAll(2000);
    await stack?.replicas.stop();
    await procs.stopAll(2000);
    process.off("exit", onExit);
  }
  const file = writeReport(report, opts.outDir);
  process.stdout.write(
    `\n${formatTable(report)}\n\n${formatSummary(report)}\n\nwrote ${file}; keeper logs in ${workDir}\n`,
  );
  if (report.failures.length) process.stdout.write(`\nCHAOS FAILED:\n- ${report.failures.join("\n- ")}\n`);
  else
    process.stdout.write(
      "\nCHAOS PASSED: nothing lost, nothing duplicated, no nonce gap, the pause landed in time.\n",
    );
  return report;
}

async function account(
  opts: ChaosOptions,
  stack: ChaosStack | undefined,
  monitor: ViewMonitor | undefined,
  fleet: ResponderFleet | undefined,
  records: IncidentRecord[],
  reorgs: ReorgRecord[],
  feeSpikes: FeeSpikeRecord[],
  proxyCalls: number[],
  failures: string[],
  startedMs: number,
): Promise<ChaosReport> {
  const empty = { events: [], txs: [], nonces: [], hashes: new Map<number, string>(), head: 0 };
  const scan = stack
    ? await scanChain(
        stack.provider,
        stack.deployed,
        stack.responders.map((r) => r.address),
        stack.readyBlock,
      ).catch((e: Error) => {
        failures.push(`the end-of-run scan failed: ${e.message}`);
        return empty;
      })
    : empty;
  // views of canonical blocks only (a record read before a reorg replaced its block is dropped)
  const views: BlockView[] = [...(monitor?.records.values() ?? [])].filter(
    (v) => scan.hashes.get(v.block) === v.hash,
  );
  const results = accountIncidents(records, scan.events, views, scan.txs);
  const duplicates = findDuplicates(scan.events);
  const nonceGaps = findNonceGaps(scan.nonces, scan.txs);
  const feeResults = feeSpikes.map((f) => {
    const inc = results.find((r) => r.id === f.incident);
    return judgeFeeSpike(
      f,
      inc?.transitions.find((x) => x.kind === "pause"),
    );
  });
  const honest = records.find((r) => r.plan.rpc === "honest");
  const honestPause = honest
    ? results.find((r) => r.id === honest.id)?.transitions.find((x) => x.kind === "pause")
        ?.secondsDueToApplied
    : undefined;
  const rounds2 = 2 * timing(true).roundSeconds;
  const rpcFaults: RpcFaultTiming[] = records
    .filter((r) => r.plan.rpc)
    .map((r) => {
      const res = results.find((x) => x.id === r.id)!;
      const p = res.transitions.find((x) => x.kind === "pause")?.secondsDueToApplied ?? null;
      const q = res.transitions.find((x) => x.kind === "resume")?.secondsDueToApplied ?? null;
      return {
        fault: r.plan.rpc!,
        incident: r.id,
        pauseDueToConfirmedS: p,
        resumeDueToConfirmedS: q,
        proxyCalls: proxyCalls[r.id - 1] ?? 0,
        withinGoal:
          r.plan.rpc === "honest" || p === null || honestPause == null ? null : p <= honestPause + rounds2,
      };
    });
  const lost = results.reduce((n, r) => n + r.lost, 0);
  if (lost) failures.push(`${lost} action(s) due and never applied`);
  const neverDue = results.reduce((n, r) => n + r.neverDue, 0);
  if (neverDue)
    failures.push(
      `${neverDue} transition(s) never became due: the stack did not recover (see the keeper logs)`,
    );
  if (duplicates.length) failures.push(`${duplicates.length} duplicated on-chain effect(s)`);
  // effects beyond the planned transitions (a kill burst that starved the heartbeat relays can make a pause due);
  // the contracts re-check every one, so they are reported, and only a repeat (findDuplicates) is a failure
  const unplanned = results.reduce((n, r) => n + r.extra.length, 0);
  if (nonceGaps.length) failures.push(`${nonceGaps.length} nonce gap(s)`);
  for (const f of feeResults)
    if (!f.withinGoal)
      failures.push(
        `under the fee spike the pause landed ${f.blocksDueToPause ?? "never"} block(s) after due (goal ≤ 3)`,
      );
  const txsByKind: ChaosReport["txsByKind"] = {};
  for (const x of scan.txs.filter((x) => x.block >= (stack?.readyBlock ?? 0))) {
    const k = (txsByKind[x.kind] ??= { ok: 0, reverted: 0 });
    if (x.ok) k.ok++;
    else k.reverted++;
  }
  const kills = fleet?.kills ?? [];
  return {
    startedAt: new Date(startedMs).toISOString(),
    mode: opts.quick ? "quick" : "full",
    seed: opts.seed,
    settings: {
      ...timing(true),
      responders: opts.responders,
      killsPlanned: opts.kills,
      listeners: opts.keepListeners ? "kept" : "removed (every action is a responder transaction)",
      controlChain: "anvil, a block every second",
      monitoredService: "3 lockstep anvil replicas",
      responderRpcUrls: "[hostile proxy, control chain]",
    },
    totals: {
      incidents: results.length,
      actionsNeeded: results.reduce((n, r) => n + r.needed, 0),
      actionsApplied: results.reduce((n, r) => n + r.applied, 0),
      lost,
      neverDue,
      duplicated: duplicates.length,
      unplanned,
      nonceGaps: nonceGaps.length,
      wasted: results.reduce((n, r) => n + r.wasted, 0),
      kills: kills.length,
      killsAtCrashPoints: kills.filter((k) => k.how === "crash_point").length,
      reorgs: reorgs.filter((r) => !r.skipped).length,
    },
    incidents: results.map((r) => {
      const rec = records.find((x) => x.id === r.id)!;
      return { ...r, plan: rec.plan, notes: rec.notes };
    }),
    duplicates,
    nonceGaps,
    nonces: scan.nonces,
    txsByKind,
    kills,
    reorgs,
    feeSpikes: feeResults,
    rpcFaults,
    failures,
    durationS: Math.round((Date.now() - startedMs) / 1000),
  };
}
