/**
 * `npm run bench:clients`: what clients see when the primary RPC node fails, side by side (issue 9,
 * "Goals … measured side by side"). Per fault, a fresh world (scripts/bench/clientsStack.ts: three anvil
 * replicas behind identical pass-through fault proxies, a real Vigil with attestors and a responder), and
 * six clients polling `eth_blockNumber` at the same rate in the same run: direct to the primary, ethers
 * `FallbackProvider` (quorum 1), viem `fallback` with `rank` and a 1 s timeout, the Vigil gateway, the
 * Vigil ethers provider and the Vigil viem transport. At a third of the run the primary hangs, refuses
 * connections, serves a frozen head, or is on a diverged fork one block ahead (same chain id).
 *
 * Per client and fault: failed requests (no answer within the client deadline of 2 s, or an error), the
 * longest client-visible gap between two answers (ms; "never recovers" when the run ends inside it),
 * stale answers (≥ 3 blocks behind the honest head), foreign answers (above the honest head: blocks only the
 * forked node has), backward steps of `eth_blockNumber` (an answer below the one before). Prints a markdown
 * table and writes reports/bench-clients.json. Asserts nothing; exits 1 when a row could not run.
 *
 *   npm run bench:clients -- [--seconds 30] [--quick] [--faults hang,refused,frozen,fork]
 */
import fs from "node:fs";
import path from "node:path";
import { Command } from "commander";
import { FallbackProvider, JsonRpcProvider, Network } from "ethers";
import { createPublicClient, defineChain, fallback, http } from "viem";
import { VigilProvider } from "../../keepers/client/ethers";
import { vigilTransport } from "../../keepers/client/viem";
import { SERVED_CHAIN, SERVICE, startClientsStack, type ClientsStack } from "./clientsStack";

const FAULTS = ["hang", "refused", "frozen", "fork"] as const;
type Fault = (typeof FAULTS)[number];
const CLIENTS = [
  "direct to primary",
  "ethers FallbackProvider (quorum 1)",
  "viem fallback (defaults)",
  "viem fallback (rank, 1 s timeout)",
  "Vigil gateway",
  "Vigil ethers provider",
  "Vigil viem transport",
] as const;
/**
 * The URL tag of each baseline client (`?client=<tag>` on every proxy URL it uses), so each proxy counts
 * what each client sent it: a row measured a fault only if its client sent requests to the faulty node
 * after the fault. The Vigil rows reach the registry's URIs, untagged (shared with the attestors).
 */
const TAGS: (string | undefined)[] = ["direct", "ethers-fb", "viem-default", "viem-rank"];
/** Requests per second per client, and how long a client waits for one answer. */
const RATE = 20;
const CLIENT_DEADLINE_MS = 2000;
/** An answer this many blocks behind the honest head is stale. */
const STALE_BLOCKS = 3;

interface Sample {
  doneAt: number;
  ok: boolean;
  value?: number;
  /** The honest head (blocks mined on the honest replicas) when the answer arrived. */
  tip: number;
  /** Why a request failed (the client's error message, cut to 120 characters). */
  error?: string;
}

/** One row of the report (field names are the JSON's). */
export interface ClientRow {
  fault: Fault;
  client: string;
  requests: number;
  failed: number;
  failedPct: number;
  /** Longest time without an answer, ms (from the run's start to its end). */
  longestGapMs: number;
  /** False when the run ended inside the longest gap. */
  recovered: boolean;
  stale: number;
  foreign: number;
  backwardSteps: number;
  /** When the registry's active endpoint moved off the primary, ms after the fault; null if it did not. */
  migratedAfterMs: number | null;
  /** The most frequent failure messages with their counts. */
  errors: Record<string, number>;
  /**
   * Requests this client sent to each node's proxy (primary, backup-1, backup-2) from the fault to the
   * end; null for the Vigil rows (their URIs are the registry's, untagged). Under `hang`, `frozen` and
   * `fork` a baseline row whose primary count is 0 never met the fault: its figures say nothing about it.
   * Under `refused` the primary's count is 0 by design (no connection is accepted).
   */
  sentAfterFault: number[] | null;
}

const chain = defineChain({
  id: SERVED_CHAIN,
  name: "bench",
  nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
  rpcUrls: { default: { http: [] } },
});

/** The clients, each a function that asks the head once. */
function clients(s: ClientsStack): { poll: (() => Promise<number>)[]; close: () => void } {
  const network = Network.from(SERVED_CHAIN);
  const plain = (url: string) =>
    new JsonRpcProvider(url, network, { staticNetwork: network, batchMaxCount: 1, cacheTimeout: -1 });
  const tagged = (url: string, i: number) => `${url}?client=${TAGS[i]}`;
  const direct = plain(tagged(s.proxies[0].url, 0));
  const members = s.proxies.map((p, i) => ({
    provider: plain(tagged(p.url, 1)),
    priority: i + 1,
    weight: 1,
  }));
  const fb = new FallbackProvider(members, network, { quorum: 1, cacheTimeout: -1 });
  const viemDefault = createPublicClient({
    chain,
    cacheTime: 0,
    transport: fallback(s.proxies.map((p) => http(tagged(p.url, 2)))),
  });
  const viemFb = createPublicClient({
    chain,
    cacheTime: 0,
    transport: fallback(
      s.proxies.map((p) => http(tagged(p.url, 3), { timeout: 1000 })),
      { rank: true },
    ),
  });
  const gw = plain(`${s.gateway.url}/${SERVICE}`);
  const vp = new VigilProvider(s.routers[0], SERVICE, { cacheTimeout: -1 });
  const vv = createPublicClient({
    chain,
    cacheTime: 0,
    transport: vigilTransport({ router: s.routers[1], service: SERVICE }),
  });
  return {
    poll: [
      () => direct.getBlockNumber(),
      () => fb.getBlockNumber(),
      async () => Number(await viemDefault.getBlockNumber()),
      async () => Number(await viemFb.getBlockNumber()),
      () => gw.getBlockNumber(),
      () => vp.getBlockNumber(),
      async () => Number(await vv.getBlockNumber()),
    ],
    close: () => [direct, fb, gw, vp, ...members.map((m) => m.provider)].forEach((p) => p.destroy()),
  };
}

async function inject(s: ClientsStack, fault: Fault): Promise<void> {
  if (fault === "hang") await s.proxies[0].setMode("hang");
  else if (fault === "refused") await s.proxies[0].setMode("refuse");
  else if (fault === "frozen") s.replicas.halt(0);
  else s.replicas.fork(0, "ahead");
}

function withDeadline<T>(p: Promise<T>, ms: number): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => (t = setTimeout(() => reject(new Error("client deadline")), ms))),
  ]).finally(() => clearTimeout(t));
}

/** Run one fault's row for every client. @throws when the world cannot be started. */
async function runFault(fault: Fault, seconds: number, say: (s: string) => void): Promise<ClientRow[]> {
  const s = await startClientsStack();
  const c = clients(s);
  try {
    // One answer from each client before the clock starts (connections, lazy starts).
    await Promise.all(c.poll.map((poll) => withDeadline(poll(), 10_000)));
    const samples: Sample[][] = CLIENTS.map(() => []);
    const inflight = new Set<Promise<unknown>>();
    const start = Date.now();
    const end = start + seconds * 1000;
    const faultAt = start + Math.round((seconds * 1000) / 3);
    let injected = false;
    let migratedAt: number | null = null;
    const sent = () => TAGS.map((t) => (t ? s.proxies.map((p) => p.countPath(`?client=${t}`)) : null));
    let sentAtFault = sent();
    const pending: Promise<void>[] = [];
    const watch = setInterval(() => {
      if (!injected || migratedAt !== null) return;
      void s
        .activeIndex()
        .then((i) => {
          if (i !== 0 && migratedAt === null) migratedAt = Date.now();
        })
        .catch(() => undefined);
    }, 250);
    for (let tick = 0; ; tick++) {
      const at = start + (tick * 1000) / RATE;
      if (at >= end) break;
      await new Promise((r) => setTimeout(r, Math.max(0, at - Date.now())));
      if (!injected && Date.now() >= faultAt) {
        injected = true;
        sentAtFault = sent();
        // Not awaited: the load keeps its rate while the fault is set up (closing a proxy takes a moment).
        const at = ((Date.now() - start) / 1000).toFixed(1);
        pending.push(inject(s, fault).then(() => say(`  ${fault}: injected at ${at} s`)));
      }
      c.poll.forEach((poll, i) => {
        const p = withDeadline(poll(), CLIENT_DEADLINE_MS).then(
          (v) => samples[i].push({ doneAt: Date.now(), ok: true, value: v, tip: s.replicas.tip }),
          (e: unknown) =>
            samples[i].push({
              doneAt: Date.now(),
              ok: false,
              tip: s.replicas.tip,
              error: String((e as Error)?.message ?? e).slice(0, 120),
            }),
        );
        inflight.add(p);
        void p.finally(() => inflight.delete(p));
      });
    }
    await Promise.all([...inflight, ...pending]);
    clearInterval(watch);
    // The bench's own noise floor: the longest gap any client saw BEFORE the fault (no fault to explain it:
    // event-loop stalls of this process, which also runs the gateway, routers and keepers, under load).
    const floor = Math.max(...samples.map((xs) => longestGap(xs, start, faultAt)));
    say(`  ${fault}: longest gap of any client before the fault (noise floor) ${floor} ms`);
    const sentAtEnd = sent();
    const finished = end; // the last request was sent just before `end`
    return CLIENTS.map((client, i) => ({
      ...summarize(fault, client, samples[i], start, finished, migratedAt && migratedAt - faultAt),
      sentAfterFault: sentAtEnd[i]?.map((n, k) => n - sentAtFault[i]![k]) ?? null,
    }));
  } finally {
    c.close();
    await s.stop();
  }
}

function summarize(
  fault: Fault,
  client: string,
  samples: Sample[],
  start: number,
  end: number,
  migratedAfterMs: number | null,
): Omit<ClientRow, "sentAfterFault"> {
  const ok = samples.filter((x) => x.ok).sort((a, b) => a.doneAt - b.doneAt);
  let gap = 0;
  let prev = start;
  for (const x of ok) {
    gap = Math.max(gap, x.doneAt - prev);
    prev = x.doneAt;
  }
  const tail = end - prev;
  let backward = 0;
  let last: number | undefined;
  for (const x of ok) {
    if (last !== undefined && x.value! < last) backward++;
    last = x.value;
  }
  const failed = samples.length - ok.length;
  return {
    fault,
    client,
    requests: samples.length,
    failed,
    failedPct: samples.length ? Math.round((1000 * failed) / samples.length) / 10 : 0,
    longestGapMs: Math.max(gap, tail),
    recovered: tail < gap || tail <= 1000,
    stale: ok.filter((x) => x.value! <= x.tip - STALE_BLOCKS).length,
    foreign: ok.filter((x) => x.value! > x.tip).length,
    backwardSteps: backward,
    migratedAfterMs,
    errors: topErrors(samples),
  };
}

/** Longest time between answers of `samples` within [from, to], ms. */
function longestGap(samples: Sample[], from: number, to: number): number {
  let gap = 0;
  let prev = from;
  for (const x of samples.filter((y) => y.ok && y.doneAt <= to).sort((a, b) => a.doneAt - b.doneAt)) {
    gap = Math.max(gap, x.doneAt - prev);
    prev = x.doneAt;
  }
  return gap;
}

function topErrors(samples: Sample[]): Record<string, number> {
  const counts = new Map<string, number>();
  for (const x of samples) if (x.error) counts.set(x.error, (counts.get(x.error) ?? 0) + 1);
  return Object.fromEntries([...counts].sort((a, b) => b[1] - a[1]).slice(0, 3));
}

/**
 * Requests to each node after the fault. Under `refused` the primary's proxy takes no connection, so it
 * counts nothing by design; under the other faults a baseline that sent the primary nothing after the
 * fault did not meet it ("fault not reached"), and one that sent it under a tenth of its requests
 * ("barely reached": viem's `rank` pings every transport now and then) measured little of it.
 */
function sentCell(r: ClientRow): string {
  if (!r.sentAfterFault) return "—";
  const [primary, ...rest] = r.sentAfterFault;
  if (r.fault === "refused") return `refused/${rest.join("/")}`;
  const all = primary + rest.reduce((x, y) => x + y, 0);
  const counts = r.sentAfterFault.join("/");
  if (primary === 0) return `${counts}, fault not reached`;
  // viem's rank pings every transport now and then: a few requests to the primary are not its traffic.
  if (primary < all / 10) return `${counts}, fault barely reached (${Math.round((100 * primary) / all)}%)`;
  return counts;
}

/** The markdown table of `rows`. */
export function formatClientTable(rows: readonly ClientRow[]): string {
  const out = [
    "| fault | client | failed | longest gap (ms) | stale (≥ 3 behind) | foreign (fork) | backward steps | migrated after (ms) | sent after fault (primary/b1/b2) |",
    "|---|---|---|---|---|---|---|---|---|",
  ];
  for (const r of rows) {
    const gap = `${r.longestGapMs}${r.recovered ? "" : ", never recovers"}`;
    out.push(
      `| ${r.fault} | ${r.client} | ${r.failed}/${r.requests} (${r.failedPct}%) | ${gap} | ${r.stale} | ${r.foreign} | ${r.backwardSteps} | ${r.migratedAfterMs ?? "—"} | ${sentCell(r)} |`,
    );
  }
  return out.join("\n");
}

async function main(): Promise<number> {
  const opts = new Command("bench:clients")
    .option("--seconds <n>", "length of each row's run, seconds", (v) => Number(v), 30)
    .option("--quick", "shorter runs (20 s)")
    .option("--faults <list>", "comma-separated subset of hang,refused,frozen,fork", FAULTS.join(","))
    .parse()
    .opts<{ seconds: number; quick?: boolean; faults: string }>();
  const seconds = opts.quick ? Math.min(opts.seconds, 20) : opts.seconds;
  const faults = opts.faults.split(",").map((f) => f.trim()) as Fault[];
  const bad = faults.filter((f) => !FAULTS.includes(f));
  if (!(seconds >= 6) || bad.length) {
    console.error(`bench:clients: --seconds must be >= 6 and --faults one of ${FAULTS.join(",")}`);
    return 2;
  }
  const say = (t: string) => console.log(t);
  say(
    `bench:clients: ${RATE} req/s per client, ${seconds} s per fault, fault at ${(seconds / 3).toFixed(1)} s`,
  );
  const rows: ClientRow[] = [];
  const failures: string[] = [];
  for (const fault of faults) {
    try {
      rows.push(...(await runFault(fault, seconds, say)));
    } catch (e) {
      failures.push(`${fault}: ${(e as Error).message}`);
      say(`  ${fault}: could not run: ${(e as Error).message}`);
    }
  }
  const table = formatClientTable(rows);
  say(`\n${table}\n`);
  const file = path.join(__dirname, "..", "..", "reports", "bench-clients.json");
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const report = { generatedAt: new Date().toISOString(), seconds, ratePerClient: RATE, rows, failures };
  fs.writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  say(`wrote ${path.relative(process.cwd(), file)}`);
  return failures.length ? 1 : 0;
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
