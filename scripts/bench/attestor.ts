/**
 * Attestor throughput: observations probed, scored and signed per second by one attestor against N
 * local JSON-RPC endpoints (N = 100 and 1,000), all served by one fast fake JSON-RPC server on
 * loopback (`/rpc/<i>`, four endpoints per service so lag and chain checks run). Prints a table and
 * writes reports/bench-attestor.json. A benchmark prints figures; it asserts nothing.
 *
 *   npx ts-node --transpile-only scripts/bench/attestor.ts [N ...]
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
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
import { signObservation } from "../../keepers/shared/observation";
import { FakeRpcServer } from "./fakeRpc";

const CONCURRENCY = 64;

interface Row {
  endpoints: number;
  rounds: number;
  observations: number;
  seconds: number;
  observationsPerSecond: number;
  msPerRound: number;
  healthy: number;
}

async function benchN(server: FakeRpcServer, n: number, rounds: number): Promise<Row> {
  const wallet = Wallet.createRandom();
  const endpoints: WatchedEndpoint[] = Array.from({ length: n }, (_, i) => ({
    id: "0x" + (i + 1).toString(16).padStart(64, "0"),
    serviceId: "0x" + (Math.floor(i / 4) + 1).toString(16).padStart(64, "f"),
    kind: EndpointKind.JSON_RPC,
    uri: server.url(`/rpc/${i}`),
    priority: i % 4,
  }));
  let clock = Date.now();
  const attestor = new Attestor({
    config: attestorConfigSchema.parse({
      rpcUrls: ["http://127.0.0.1:1"],
      chainId: 31337,
      oracle: "0x" + "99".repeat(20),
      registry: "0x" + "88".repeat(20),
      services: [...new Set(endpoints.map((e) => e.serviceId))],
      expectedChainIds: Object.fromEntries(endpoints.map((e) => [e.serviceId, 31337])),
      allowPrivateTargets: true, // the fake RPC server is on loopback
      concurrency: CONCURRENCY,
      timeoutMs: 4_000,
      probeIntervalMs: 5_000,
      keepObservations: rounds + 2,
      // The bench clock jumps one oracle round per probe round (see below), so heads look minutes old.
      thresholds: { jsonRpc: { headAgeSec: { ok: 3_600, max: 7_200 } } },
    }),
    signer: wallet,
    address: wallet.address,
    endpoints: staticEndpointSource(endpoints),
    oracle: staticOracleReader({ attestors: [wallet.address] }),
    logger: createLogger("bench", { level: "silent" }),
    metrics: new Metrics(false),
    // One oracle round (12 s) per probe round: the attestor signs one observation per endpoint and
    // round, so each measured probe round must fall in a round of its own to be signed.
    now: () => clock,
  });
  await attestor.refreshOracle();
  await attestor.refreshEndpoints();
  await attestor.probeRound(); // warm-up: connections, JIT
  let observations = 0;
  let healthy = 0;
  const started = performance.now();
  for (let r = 0; r < rounds; r++) {
    clock += 12_000;
    const outcomes = await attestor.probeRound();
    observations += outcomes.filter((o) => o.observation).length;
    healthy += outcomes.filter((o) => o.healthBps === 10_000).length;
  }
  const seconds = (performance.now() - started) / 1000;
  return {
    endpoints: n,
    rounds,
    observations,
    seconds: +seconds.toFixed(3),
    observationsPerSecond: Math.round(observations / seconds),
    msPerRound: +((seconds * 1000) / rounds).toFixed(1),
    healthy,
  };
}

/** Signing alone (EIP-712 hash + secp256k1), to show where the time goes. */
async function signingRate(count: number): Promise<number> {
  const wallet = Wallet.createRandom();
  const domain = {
    name: "Vigil HealthOracle",
    version: "1",
    chainId: 31337n,
    verifyingContract: "0x" + "99".repeat(20),
  };
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    await signObservation(wallet, domain, {
      configDigest: "0x" + "ab".repeat(32),
      endpointId: "0x" + (i + 1).toString(16).padStart(64, "0"),
      round: 1_000 + i,
      healthBps: 10_000,
      observedAt: 12_000 + i,
    });
  }
  return Math.round(count / ((performance.now() - started) / 1000));
}

async function main() {
  const sizes = process.argv
    .slice(2)
    .map(Number)
    .filter((n) => n > 0);
  const ns = sizes.length ? sizes : [100, 1_000];
  const server = await new FakeRpcServer({ chainId: 31337, blockNumber: 1_000 }).start();
  const rows: Row[] = [];
  try {
    for (const n of ns) rows.push(await benchN(server, n, n >= 1_000 ? 5 : 20));
  } finally {
    await server.close();
  }
  const signPerSecond = await signingRate(2_000);
  const header = ["endpoints", "rounds", "observations", "seconds", "obs/s", "ms/round"];
  const lines = rows.map((r) =>
    [r.endpoints, r.rounds, r.observations, r.seconds, r.observationsPerSecond, r.msPerRound].map(String),
  );
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i])).join("  ");
  process.stdout.write(
    `attestor throughput (one process, concurrency ${CONCURRENCY}, fake JSON-RPC on loopback)\n`,
  );
  process.stdout.write(
    [fmt(header), fmt(widths.map((w) => "-".repeat(w))), ...lines.map(fmt)].join("\n") + "\n",
  );
  process.stdout.write(`signing alone (EIP-712 + secp256k1, ethers Wallet): ${signPerSecond} signatures/s\n`);
  const report = {
    benchmark: "attestor",
    date: new Date().toISOString(),
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model ?? "?", node: process.version },
    concurrency: CONCURRENCY,
    results: rows,
    signaturesPerSecond: signPerSecond,
  };
  const out = path.resolve(__dirname, "../../reports/bench-attestor.json");
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify(report, null, 2) + "\n");
  process.stdout.write(`wrote ${path.relative(process.cwd(), out)}\n`);
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
