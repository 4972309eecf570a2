/**
 * The chaos run's report: everything judged from the canonical chain (scripts/chaos/accounting.ts), the
 * verdict, the table printed at the end and `reports/chaos.json`.
 */
import fs from "node:fs";
import path from "node:path";
import type { Duplicate, FeeSpikeResult, IncidentResult, NonceGap, NonceState } from "./accounting";
import type { IncidentRecord, ReorgRecord, RpcFault } from "./incidents";
import type { KillRecord } from "./responders";

/** Seconds from due to confirmed per RPC fault (the pause and the resume of its outage incident). */
export interface RpcFaultTiming {
  fault: RpcFault;
  incident: number;
  pauseDueToConfirmedS: number | null;
  resumeDueToConfirmedS: number | null;
  /** Calls the responders' proxies received during the incident. */
  proxyCalls: number;
  /** Within 2 rounds of the honest figure (the issue's goal), for the pause. */
  withinGoal: boolean | null;
}

export interface ChaosReport {
  startedAt: string;
  mode: "quick" | "full";
  seed: number;
  settings: Record<string, unknown>;
  totals: {
    incidents: number;
    actionsNeeded: number;
    actionsApplied: number;
    lost: number;
    neverDue: number;
    duplicated: number;
    /** Effects inside an incident beyond its planned transitions (each one due on-chain: reported, not failed). */
    unplanned: number;
    nonceGaps: number;
    wasted: number;
    kills: number;
    killsAtCrashPoints: number;
    reorgs: number;
  };
  incidents: (IncidentResult & { plan: IncidentRecord["plan"]; notes: string[] })[];
  duplicates: Duplicate[];
  nonceGaps: NonceGap[];
  nonces: NonceState[];
  /** Responder transactions by kind: mined ok / reverted, whole run. */
  txsByKind: Record<string, { ok: number; reverted: number }>;
  kills: KillRecord[];
  reorgs: ReorgRecord[];
  feeSpikes: FeeSpikeResult[];
  rpcFaults: RpcFaultTiming[];
  failures: string[];
  durationS: number;
}

const pad = (s: string | number, n: number) => String(s).padEnd(n);
const num = (x: number | null | undefined) => (x === null || x === undefined ? "—" : String(x));

/** The per-incident table. */
export function formatTable(r: ChaosReport): string {
  const lines = [
    `${pad("#", 3)}${pad("incident", 58)}${pad("blocks", 12)}${pad("needed", 7)}${pad("applied", 8)}${pad("lost", 5)}${pad("wasted", 7)}due→applied (blocks)`,
  ];
  for (const i of r.incidents) {
    const timing = i.transitions
      .map(
        (t) =>
          `${t.kind} ${t.applied ? num(t.blocksDueToApplied) : t.dueBlock === null ? "NEVER DUE" : "LOST"}`,
      )
      .join(", ");
    lines.push(
      `${pad(i.id, 3)}${pad(i.name.slice(0, 56), 58)}${pad(`${i.startBlock}-${i.endBlock}`, 12)}${pad(i.needed, 7)}${pad(i.applied, 8)}${pad(i.lost, 5)}${pad(i.wasted, 7)}${timing}`,
    );
  }
  return lines.join("\n");
}

/** The summary lines under the table. */
export function formatSummary(r: ChaosReport): string {
  const t = r.totals;
  const out = [
    `incidents ${t.incidents} · actions needed ${t.actionsNeeded} · applied ${t.actionsApplied} · lost ${t.lost} · never due ${t.neverDue} · duplicated ${t.duplicated} · unplanned effects ${t.unplanned} · nonce gaps ${t.nonceGaps} · wasted (reverted) ${t.wasted}`,
    `responder kills ${t.kills} (${t.killsAtCrashPoints} at a crash point, ${t.kills - t.killsAtCrashPoints} SIGKILL from outside) · reorgs ${t.reorgs}`,
  ];
  for (const g of r.reorgs)
    out.push(
      `reorg depth ${g.depth} (incident ${g.incident}): ${g.skipped ? `skipped: ${g.skipped}` : `effect of block ${g.effectBlock} removed at head ${g.headBlock}; re-applied ${g.reapplied ? `after ${g.reappliedAfterS?.toFixed(1)} s` : "NEVER"}`}`,
    );
  for (const f of r.feeSpikes)
    out.push(
      `fee spike: base fee ${f.baseFeeBeforeWei} → ${f.baseFeeSpikeWei} wei at block ${f.spikeBlock}; pause due at ${num(f.dueBlock)}, landed at ${num(f.pauseBlock)}: ${num(f.blocksDueToPause)} block(s) after due, ${num(f.blocksSpikeToPause)} after the spike (goal ≤ 3: ${f.withinGoal ? "met" : "MISSED"})`,
    );
  if (r.rpcFaults.length) {
    out.push("seconds from due to confirmed, per fault of every responder's first RPC (block timestamps):");
    for (const f of r.rpcFaults)
      out.push(
        `  ${pad(f.fault, 8)} pause ${pad(num(f.pauseDueToConfirmedS), 5)} resume ${pad(num(f.resumeDueToConfirmedS), 5)} proxy calls ${pad(f.proxyCalls, 7)}${f.withinGoal === null ? "" : f.withinGoal ? "within 2 rounds of honest" : "MORE than 2 rounds over honest"}`,
      );
  }
  const kinds = Object.entries(r.txsByKind)
    .map(([k, v]) => `${k} ${v.ok}/${v.reverted}`)
    .join(", ");
  out.push(`responder transactions (mined ok/reverted): ${kinds || "none"}`);
  for (const n of r.nonces)
    out.push(`  ${n.address}: nonce latest ${n.latest}, pending ${n.pending}, queued ${n.queued}`);
  for (const d of r.duplicates)
    out.push(`DUPLICATE at block ${d.block} (previous ${d.previousBlock}): ${d.what}`);
  for (const g of r.nonceGaps) out.push(`NONCE GAP ${g.address}: ${g.detail}`);
  return out.join("\n");
}

/** Write `chaos.json` to `outDir`. @returns its path. */
export function writeReport(r: ChaosReport, outDir: string): string {
  fs.mkdirSync(outDir, { recursive: true });
  const file = path.join(outDir, "chaos.json");
  fs.writeFileSync(file, JSON.stringify(r, (_k, v) => (typeof v === "bigint" ? v.toString() : v), 2) + "\n");
  return file;
}
