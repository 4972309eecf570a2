/**
 * Attestor throughput (health model v2): endpoints probed, scored and judged per second by one attestor
 * process against N local JSON-RPC endpoints (N = 100 and 1,000), with ONE report signed per round over all
 * of them. The endpoints are served by one fast fake JSON-RPC server on loopback (`/rpc/<i>`, four endpoints
 * per service so lag and chain checks run) in a child process, so the figures are the attestor's own work,
 * as against remote endpoints: wall-clock endpoints per second, and the attestor process's CPU time per
 * endpoint (which a loaded machine does not inflate). Prints a table and writes reports/bench-attestor.json. A benchmark
 * prints figures; it asserts nothing.
 *
 *   npx ts-node --transpile-only scripts/bench/attestor.ts [N ...]
 *
 * Fields: `observations` are endpoint values signed (endpoints × rounds), `observationsPerSecond` the
 * endpoints judged per second (probe, score, streaks, report), `signatures` the reports signed (one per
 * round), `signaturesPerSecond` (top level) the rate of signing alone: the hand-made EIP-712 digest of a
 * 1,000-endpoint report plus one secp256k1 signature with the raw key.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fork } from "node:child_process";
import { Wallet } from "ethers";
import { Attestor } from "../../keepers/attestor/attestor";
import { attestorConfigSchema } from "../../keepers/attestor/config";
import {
  staticEndpointSource,
  staticOracleReader,
  type WatchedEndpoint,
} from "../../keepers/attestor/sources";
import { EndpointKind } from "../../keepers/shared/health";
import { createLogger } from "../../keepers/shared/logger";
import { Metrics } from "../../keepers/shared/metrics";
import {
  domainSeparator,
  encodeValues,
  hashEndpointIds,
  reportDigest,
  signReportDigest,
  sortEndpointIds,
} from "../../keepers/shared/report";
import { FakeRpcServer } from "./fakeRpc";

const CONCURRENCY = 64;
const ROUND_SECONDS = 12;

interface Row {
  endpoints: number;
  rounds: number;
  /** Endpoint values signed (endpoints × rounds). */
  observations: number;
  /** Reports signed: one ECDSA signature per round. */
  signatures: number;
  seconds: number;
  /** Endpoints judged (probed, scored, carried in a signed report) per second, wall clock. */
  observationsPerSecond: number;
  /** CPU time of the attestor process (user + system) per endpoint judged, µs: 1e6 / this is the rate one
   *  free core sustains, whatever else the machine runs. */
  cpuMicrosPerEndpoint: number;
  msPerRound: number;
  healthy: number;
}

/**
 * The fake JSON-RPC server, run in a child process (this file with `--serve`), so that the CPU time measured
 * in this process is the attestor's alone. @returns its port.
 */
async function startServerProcess(): Promise<{ port: number; stop: () => Promise<void> }> {
  const child = fork(__filename, ["--serve"], { execArgv: ["-r", "ts-node/register/transpile-only"] });
  const port = await new Promise<number>((resolve, reject) => {
    child.once("message", (m) => resolve(Number(m)));
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`fake RPC server exited with ${code}`)));
  });
  return {
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}

async function benchN(port: number, dataDir: string, n: number, rounds: number): Promise<Row> {
  const wallet = Wallet.createRandom();
  const endpoints: WatchedEndpoint[] = Array.from({ length: n }, (_, i) => ({
    id: "0x" + (i + 1).toString(16).padStart(64, "0"),
    serviceId: "0x" + (Math.floor(i / 4) + 1).toString(16).padStart(64, "f"),
    kind: EndpointKind.JSON_RPC,
    uri: `http://127.0.0.1:${port}/rpc/${i}`,
    priority: i % 4,
  }));
  let clock = Date.now();
  const attestor = new Attestor({
    config: attestorConfigSchema.parse({
      chain: { rpcUrls: ["http://127.0.0.1:1"], chainId: 31337 },
      contracts: { oracle: "0x" + "99".repeat(20), registry: "0x" + "88".repeat(20) },
      services: [...new Set(endpoints.map((e) => e.serviceId))],
      expectedChainIds: Object.fromEntries(endpoints.map((e) => [e.serviceId, 31337])),
      allowPrivateTargets: true, // the fake RPC server is on loopback
      concurrency: CONCURRENCY,
      timeoutMs: 4_000,
      probeIntervalMs: 5_000,
      dataDir: path.join(dataDir, String(n)),
      // The bench clock jumps one oracle round per probe round (see below), so heads look minutes old.
      thresholds: { jsonRpc: { headAgeSec: { ok: 3_600, max: 7_200 } } },
    }),
    key: wallet.signingKey,
    endpoints: staticEndpointSource(endpoints),
    oracle: staticOracleReader({ attestors: [wallet.address], roundSeconds: ROUND_SECONDS }),
    logger: createLogger("bench", { level: "silent" }),
    metrics: new Metrics(false),
    // One oracle round per probe round: the attestor signs one report per round, so each measured probe
    // round must fall in a round of its own to be signed.
    now: () => clock,
  });
  await attestor.refreshOracle();
  await attestor.refreshEndpoints();
  await attestor.probeRound(); // warm-up: connections, JIT
  let observations = 0;
  let signatures = 0;
  let healthy = 0;
  const started = performance.now();
  const cpu = process.cpuUsage();
  for (let r = 0; r < rounds; r++) {
    clock += ROUND_SECONDS * 1_000;
    const { outcomes, report } = await attestor.probeRound();
    if (report) {
      signatures += 1;
      observations += report.endpointIds.length;
    }
    healthy += outcomes.filter((o) => o.healthBps === 10_000).length;
  }
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  return {
    endpoints: n,
    rounds,
    observations,
    signatures,
    seconds: +seconds.toFixed(3),
    observationsPerSecond: Math.round(observations / seconds),
    cpuMicrosPerEndpoint: Math.round((used.user + used.system) / observations),
    msPerRound: +((seconds * 1000) / rounds).toFixed(1),
    healthy,
  };
}

/**
 * Signing alone, as the attestor does it per round: the digest of a 1,000-endpoint report (its id list hashed
 * once, as the attestor caches it) plus one signature.
 */
function signingRate(count: number, endpoints = 1_000): number {
  const wallet = Wallet.createRandom();
  const separator = domainSeparator({
    name: "Vigil HealthOracle",
    version: "2",
    chainId: 31337n,
    verifyingContract: "0x" + "99".repeat(20),
  });
  const endpointIds = sortEndpointIds(
    Array.from({ length: endpoints }, (_, i) => "0x" + (i + 1).toString(16).padStart(64, "0")),
  );
  const values = encodeValues(endpointIds.map(() => ({ healthBps: 10_000, badRounds: 0, goodRounds: 3 })));
  const idsHash = hashEndpointIds(endpointIds); // the attestor reuses it while its endpoint list is unchanged
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    const report = {
      configDigest: "0x" + "ab".repeat(32),
      round: 1_000 + i,
      observedAt: 12_000 + i * ROUND_SECONDS,
      endpointIds,
      values,
    };
    signReportDigest(wallet.signingKey, reportDigest(separator, report, idsHash));
  }
  return Math.round(count / ((performance.now() - started) / 1000));
}

async function main() {
  const sizes = process.argv
    .slice(2)
    .map(Number)
    .filter((n) => n > 0);
  const ns = sizes.length ? sizes : [100, 1_000];
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "vigil-bench-attestor-"));
  const server = await startServerProcess();
  const rows: Row[] = [];
  try {
    for (const n of ns) rows.push(await benchN(server.port, dataDir, n, n >= 1_000 ? 10 : 40));
  } finally {
    await server.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  const signPerSecond = signingRate(500);
  const header = [
    "endpoints",
    "rounds",
    "reports",
    "endpoints judged",
    "seconds",
    "endpoints/s",
    "ms/round",
    "CPU µs/endpoint",
  ];
  const lines = rows.map((r) =>
    [
      r.endpoints,
      r.rounds,
      r.signatures,
      r.observations,
      r.seconds,
      r.observationsPerSecond,
      r.msPerRound,
      r.cpuMicrosPerEndpoint,
    ].map(String),
  );
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i])).join("  ");
  process.stdout.write(
    `attestor throughput (one process, concurrency ${CONCURRENCY}, one signed report per round, ` +
      `fake JSON-RPC on loopback in a child process; load average ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} CPUs)\n`,
  );
  process.stdout.write(
    [fmt(header), fmt(widths.map((w) => "-".repeat(w))), ...lines.map(fmt)].join("\n") + "\n",
  );
  process.stdout.write(
    `signing alone (1,000-endpoint report digest, id list hashed once, + one secp256k1 signature with the raw key): ` +
      `${signPerSecond} signatures/s\n`,
  );
  const report = {
    benchmark: "attestor",
    date: new Date().toISOString(),
    machine: {
      cpus: os.cpus().length,
      model: os.cpus()[0]?.model ?? "?",
      node: process.version,
      loadAverage: +os.loadavg()[0].toFixed(1),
    },
    concurrency: CONCURRENCY,
    results: rows,
    signaturesPerSecond: signPerSecond,
  };
  const out = path.resolve(__dirname, "../../reports/bench-attestor.json");
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify(report, null, 2) + "\n");
  process.stdout.write(`wrote ${path.relative(process.cwd(), out)}\n`);
}

if (process.argv.includes("--serve")) {
  void new FakeRpcServer({ chainId: 31337, blockNumber: 1_000 }).start().then((s) => process.send!(s.port));
} else {
  main().catch((e) => {
    process.stderr.write(`${(e as Error).stack ?? e}\n`);
    process.exit(1);
  });
}
