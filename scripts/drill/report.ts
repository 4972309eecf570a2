/**
 * The drill's report: the `reports/drill.json` shape (issue 4), the per-fault table, and the figures
 * derived from it. All timestamps are Unix milliseconds, `null` where a step does not apply.
 */

import type { CooldownEvidence, ResumeEvidence } from "./evidence";

/** What Vigil is expected to do about a fault. */
export type Expected = "migrate" | "pause" | "none";

export interface FaultRecord {
  name: string;
  expected: Expected;
  /** When the fault was injected. */
  injectedAtMs: number | null;
  /** First signed observation under the DOWN threshold for an affected endpoint, from any attestor. */
  firstUnhealthyAtMs: number | null;
  /** The on-chain status change (to DOWN or UNKNOWN) was seen by the drill. */
  statusChangedAtMs: number | null;
  /** The migration or pause transaction was seen confirmed. */
  reactionAtMs: number | null;
  reactionTx: string | null;
  /** When the drill undid the fault. */
  recoveredAtMs: number | null;
  /** The affected endpoint(s) read HEALTHY again on-chain. */
  healthyAtMs: number | null;
  /** The market resumed (pause faults only). */
  resumedAtMs: number | null;
  /** For a fault injected right after a failback: the failover's block time against the cooldown. */
  cooldown: CooldownEvidence | null;
  /** For a pause fault: the resume's block time against the guard's grace-period rule. */
  resume: ResumeEvidence | null;
  /**
   * The price-feed failover fault: the position market 1 opened on the backup feed. `price` is the opening
   * price (collateral units per 1e18 size, decimal string); `backupAnswers` the backup feed's answer scaled the
   * same way at the end of the block before the trade and of the trade's block (the price must be one of them).
   */
  trade: { openedAtMs: number; price: string; backupAnswers: string[] } | null;
  /**
   * The slow-node fault: verdict changes of the slow endpoint while the fault lasted, between usable (HEALTHY,
   * DEGRADED) and not (DOWN, UNKNOWN). 1 is the expected fall to DOWN; more is a storm (the drill fails).
   */
  statusChanges: number | null;
  /**
   * What clients saw from injection until the fault was fully undone (`healthyAtMs`, or `resumedAtMs` when
   * later): the same load through `vigil gateway` and sent directly to the primary's URL. Null when no load ran.
   */
  clients: { gateway: ClientStats; direct: ClientStats } | null;
}

/**
 * One client's figures over one fault window (scripts/drill/clients.ts). A request belongs to the window it
 * was sent in.
 */
export interface ClientStats {
  /** Reads sent (`eth_blockNumber` and `eth_getBlockByNumber("latest")`, about 20 per second). */
  reads: number;
  /** Reads and transactions that failed: an error answer, a transport error, or no answer within 6 s. */
  failedRequests: number;
  /**
   * Longest time the client went without a successful read answer, ms: between two answers, or from the window's
   * start to the first / from the last to its end.
   */
  longestGapMs: number;
  /** Read answers 3 or more blocks behind the honest head (the replica driver's tip) when they arrived. */
  staleAnswers: number;
  /** `eth_blockNumber` answers lower than one this client had already received (time travel). */
  backwardSteps: number;
  /** Transactions answered with their hash. */
  txSent: number;
  /** Of those, included in a block of the honest replicas. */
  txIncluded: number;
  /** Of those, never included: answered with a hash and lost. */
  txLost: number;
}

export interface DrillReport {
  startedAt: string;
  mode: "quick" | "full";
  settings: Record<string, unknown>;
  faults: FaultRecord[];
  falseMigrations: number;
  falsePauses: number;
  /** Max over faults with a reaction of `reactionAtMs − injectedAtMs` (recovery time objective met). */
  rtoMs: number | null;
  /** Every check that failed; empty on success. */
  failures: string[];
  timeline: TimelineEvent[];
}

export interface TimelineEvent {
  atMs: number;
  kind: "fault" | "recover" | "observation" | "status" | "migration" | "pause" | "resume" | "info";
  text: string;
  tx?: string;
}

/** Empty record for a fault about to be injected. */
export function newFault(name: string, expected: Expected): FaultRecord {
  return {
    name,
    expected,
    injectedAtMs: null,
    firstUnhealthyAtMs: null,
    statusChangedAtMs: null,
    reactionAtMs: null,
    reactionTx: null,
    recoveredAtMs: null,
    healthyAtMs: null,
    resumedAtMs: null,
    cooldown: null,
    resume: null,
    trade: null,
    statusChanges: null,
    clients: null,
  };
}

/** `b − a` in ms, or null when either is missing. */
export function span(a: number | null, b: number | null): number | null {
  return a === null || b === null ? null : b - a;
}

/** RTO: the longest fault-to-reaction time among faults that expected a reaction. */
export function computeRto(faults: readonly FaultRecord[]): number | null {
  const spans = faults
    .filter((f) => f.expected !== "none")
    .map((f) => span(f.injectedAtMs, f.reactionAtMs))
    .filter((x): x is number => x !== null);
  return spans.length ? Math.max(...spans) : null;
}

/** The per-fault table printed at the end of a drill (milliseconds from injection / recovery). */
export function formatTable(faults: readonly FaultRecord[]): string {
  const head = [
    "fault",
    "expected",
    "→unhealthy obs",
    "→status change",
    "→reaction",
    "recovery→HEALTHY",
    "recovery→resume",
  ];
  const ms = (v: number | null) => (v === null ? "—" : `${v} ms`);
  const rows = faults.map((f) => [
    f.name,
    f.expected,
    ms(span(f.injectedAtMs, f.firstUnhealthyAtMs)),
    ms(span(f.injectedAtMs, f.statusChangedAtMs)),
    ms(span(f.injectedAtMs, f.reactionAtMs)),
    ms(span(f.recoveredAtMs, f.healthyAtMs)),
    ms(span(f.recoveredAtMs, f.resumedAtMs)),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join("  ");
  return [line(head), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

/** One line per on-chain proof the drill made (block seconds), printed under the table. */
export function formatEvidence(faults: readonly FaultRecord[]): string {
  const lines: string[] = [];
  for (const f of faults) {
    const c = f.cooldown;
    if (c)
      lines.push(
        `${f.name}: failover ${c.failoverAtS - c.failbackAtS} s after the failback, ` +
          `${c.inside ? "inside" : "OUTSIDE"} the ${c.cooldownS} s cooldown (block time)`,
      );
    const r = f.resume;
    if (r)
      lines.push(
        `${f.name}: resumed ${r.resumedAtS - Math.max(r.pausedAtS, r.healthySinceS)} s after the service's ` +
          `active endpoint was HEALTHY (grace ${r.gracePeriodS} s, block time)`,
      );
  }
  return lines.join("\n");
}
