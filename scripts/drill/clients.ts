/**
 * What clients see during the drill (issue 9): `vigil gateway` for the monitored service, started as an
 * operator starts it, and two identical client loads (scripts/drill/load.ts) that run from the steady state
 * to the end: one through the gateway, one sent directly to the primary's URL (the baseline). Per fault, the
 * figures over the fault's window ({@link ClientStats}); the drill fails when a transaction sent through the
 * gateway is lost or the gateway's `eth_blockNumber` goes backwards.
 */
import fs from "node:fs";
import path from "node:path";
import { freePort } from "./nodes";
import type { ProcessRegistry } from "./processes";
import type { ClientStats, FaultRecord } from "./report";
import { CONTROL_CHAIN, waitUntil } from "./setup";
import type { ClientLoad, ReadSample } from "./load";

/** A read answer this many blocks (or more) behind the honest head is stale. */
export const STALE_BLOCKS = 3;

/**
 * Start `node bin/vigil.js gateway --config <file>` routing service `name` (id `serviceId`, chain `chainId`).
 * @returns the URL clients POST to (`http://127.0.0.1:<port>/<name>`) once `/readyz` answers 200.
 * @throws when it is not ready within `timeoutMs` (its log is in `workDir/gateway.log`).
 */
export async function startGatewayProcess(
  procs: ProcessRegistry,
  workDir: string,
  s: {
    controlUrl: string;
    oracle: string;
    registry: string;
    name: string;
    serviceId: string;
    chainId: number;
  },
  timeoutMs = 120_000,
): Promise<string> {
  const port = await freePort();
  const file = path.join(workDir, "gateway.json");
  const config = {
    chain: { rpcUrls: [s.controlUrl], chainId: CONTROL_CHAIN },
    contracts: { oracle: s.oracle, registry: s.registry },
    services: [{ name: s.name, id: s.serviceId, chainId: s.chainId }],
    http: { host: "127.0.0.1", port },
    // The drill's control chain mines every second: follow its logs at that pace.
    eventIntervalMs: 250,
    pollIntervalMs: 1000,
    log: { level: "info" },
  };
  fs.writeFileSync(file, JSON.stringify(config, null, 2));
  const log = path.join(workDir, "gateway.log");
  const child = procs.startKeeper("gateway", "gateway", file, {}, log);
  const base = `http://127.0.0.1:${port}`;
  const ready = await waitUntil(async () => {
    if (child.exitCode !== null) throw new Error("exited");
    return (await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(1000) })).ok;
  }, timeoutMs);
  if (!ready) throw new Error(`vigil gateway not ready within ${timeoutMs} ms; see ${log}`);
  return `${base}/${s.name}`;
}

/** The window a fault's client figures cover: injection until fully undone (null before injection). */
export function faultWindow(f: FaultRecord): [number, number] | null {
  if (f.injectedAtMs === null) return null;
  const ends = [f.healthyAtMs, f.resumedAtMs, f.recoveredAtMs].filter((x): x is number => x !== null);
  return [f.injectedAtMs, ends.length ? Math.max(...ends) : f.injectedAtMs];
}

/**
 * One client's figures over `[fromMs, toMs]`. `includedIn(hash)` says whether the honest chain has the
 * transaction (the replica driver's ledger). Backward steps compare each `eth_blockNumber` answer with the
 * highest this client had received before it, over the whole run (a step just before the window counts too).
 */
export function clientStats(
  load: ClientLoad,
  [fromMs, toMs]: [number, number],
  includedIn: (hash: string) => boolean,
): ClientStats {
  const inside = (t: { sentAtMs: number }) => t.sentAtMs >= fromMs && t.sentAtMs <= toMs;
  const reads = load.reads.filter(inside);
  const txs = load.txs.filter(inside);
  const ok = reads.filter((r) => r.error === null).sort((a, b) => a.endedAtMs - b.endedAtMs);
  let longestGapMs = 0;
  let last = fromMs;
  for (const r of ok) {
    longestGapMs = Math.max(longestGapMs, r.endedAtMs - last);
    last = Math.max(last, r.endedAtMs);
  }
  longestGapMs = Math.max(longestGapMs, toMs - last);
  const sent = txs.filter((t) => t.accepted);
  const included = sent.filter((t) => includedIn(t.hash)).length;
  return {
    reads: reads.length,
    failedRequests: reads.length - ok.length + txs.filter((t) => !t.accepted).length,
    longestGapMs,
    staleAnswers: ok.filter((r) => r.block! <= r.honestHead - STALE_BLOCKS).length,
    backwardSteps: backwardSteps(load.reads).filter(inside).length,
    txSent: sent.length,
    txIncluded: included,
    txLost: sent.length - included,
  };
}

/**
 * The `eth_blockNumber` answers lower than one the client had already received when it sent the request
 * (monotonic reads). Two requests in flight at once are concurrent: either order of their answers is
 * consistent, so an answer is compared only with answers that arrived before its request was sent; the
 * load sends a read every 50 ms whether or not the last one came back, so overlaps are common under load.
 */
export function backwardSteps(reads: readonly ReadSample[]): ReadSample[] {
  const answers = reads.filter((r) => r.method === "eth_blockNumber" && r.block !== null);
  const arrived = [...answers].sort((a, b) => a.endedAtMs - b.endedAtMs);
  const out: ReadSample[] = [];
  // Walk the requests in the order they were sent, folding in every answer that arrived before each.
  let next = 0;
  let max = -1;
  for (const r of [...answers].sort((a, b) => a.sentAtMs - b.sentAtMs)) {
    while (next < arrived.length && arrived[next].endedAtMs < r.sentAtMs)
      max = Math.max(max, arrived[next++].block!);
    if (r.block! < max) out.push(r);
  }
  return out.sort((a, b) => a.endedAtMs - b.endedAtMs);
}

/**
 * The drill's verdict on the gateway over the whole run: every transaction it answered with a hash is on
 * the honest chain, and its `eth_blockNumber` never went backwards. @returns the failures (empty when none).
 */
export function gatewayFailures(gateway: ClientLoad, includedIn: (hash: string) => boolean): string[] {
  const out: string[] = [];
  const lost = gateway.txs.filter((t) => t.accepted && !includedIn(t.hash));
  if (lost.length)
    out.push(
      `${lost.length} transaction(s) sent through the gateway answered with a hash and never included: ${lost
        .slice(0, 3)
        .map((t) => t.hash)
        .join(", ")}`,
    );
  const back = backwardSteps(gateway.reads);
  if (back.length)
    out.push(
      `the gateway's eth_blockNumber went backwards ${back.length} time(s) (first: ${back[0].block} at ${new Date(
        back[0].endedAtMs,
      ).toISOString()})`,
    );
  return out;
}

/** The client table printed at the end of a drill: per fault, the gateway beside the direct baseline. */
export function formatClientTable(faults: readonly FaultRecord[]): string {
  const head = [
    "fault",
    "client",
    "reads",
    "failed",
    "longest gap",
    "stale",
    "tx sent/incl/lost",
    "backward",
  ];
  const rows: string[][] = [];
  for (const f of faults) {
    if (!f.clients) continue;
    for (const [who, c] of [
      ["gateway", f.clients.gateway],
      ["direct", f.clients.direct],
    ] as const)
      rows.push([
        who === "gateway" ? f.name : "",
        who,
        String(c.reads),
        String(c.failedRequests),
        `${c.longestGapMs} ms`,
        String(c.staleAnswers),
        `${c.txSent}/${c.txIncluded}/${c.txLost}`,
        String(c.backwardSteps),
      ]);
  }
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join("  ");
  return [line(head), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}
