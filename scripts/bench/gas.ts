/**
 * Gas benchmark: `npm run bench:gas`.
 *
 * Deploys the contracts on the in-process Hardhat network (Cancun, deterministic gas) and measures
 * receipt `gasUsed` (intrinsic 21,000 and calldata included) of:
 * - `submit` for one endpoint at quorum 1, 3, 5, 7, 10, 16 (attestor set of the same size), warm
 *   storage (the endpoint already stored) and no status change — the steady-state cost;
 * - `submitBatch` of 10 and 100 endpoints at quorum 5;
 * - `migrate`, `trip`, `resume` called by a keeper;
 * - `submit` whose DOWN round makes the oracle's listeners migrate the service and pause the market in
 *   the same transaction.
 * Prints a table, the linear fit (base and per extra signer) against the targets, and writes
 * `reports/gas.json`: `[{ operation, quorum, endpoints, gasUsed }]`.
 */
import fs from "node:fs";
import path from "node:path";
import { ethers, network } from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import type { HDNodeWallet, TypedDataDomain } from "ethers";
import { readDomain, signObservation, toCompact } from "../../keepers/shared/observation";

const ROUND_SECONDS = 10;
const MAX_SKEW = 15;
const LISTENER_GAS = 500_000;
const MARKET_CALL_GAS = 200_000;
const POLICY = {
  downBelowBps: 5000,
  upAtBps: 8000,
  fallRounds: 1,
  riseRounds: 1,
  heartbeat: 3600,
  maxAge: 120,
};
const TARGET_BASE = 40_000;
const TARGET_PER_SIGNER = 6_500;

export interface GasRow {
  operation: string;
  quorum: number;
  endpoints: number;
  gasUsed: number;
}

function wallets(n: number): HDNodeWallet[] {
  // Deterministic test keys derived from the public Hardhat mnemonic: benchmark-only, hold nothing.
  const root = ethers.HDNodeWallet.fromPhrase(
    "test test test test test test test test test test test junk",
    undefined,
    "m/44'/60'/1'/0",
  );
  return Array.from({ length: n }, (_, i) => root.deriveChild(i)).sort((a, b) =>
    a.address.toLowerCase() < b.address.toLowerCase() ? -1 : 1,
  );
}

async function deploy() {
  const [admin] = await ethers.getSigners();
  const oracle = await ethers.deployContract("HealthOracle", [
    admin.address,
    ROUND_SECONDS,
    MAX_SKEW,
    LISTENER_GAS,
    POLICY,
  ]);
  const registry = await ethers.deployContract("EndpointRegistry", [await oracle.getAddress()]);
  const guard = await ethers.deployContract("MarketGuard", [
    admin.address,
    await oracle.getAddress(),
    await registry.getAddress(),
    MARKET_CALL_GAS,
  ]);
  await (await oracle.addStatusListener(await registry.getAddress())).wait();
  await (await oracle.addStatusListener(await guard.getAddress())).wait();
  return { admin, oracle, registry, guard };
}

type Stack = Awaited<ReturnType<typeof deploy>>;

async function observations(
  stack: Stack,
  domain: TypedDataDomain,
  signers: HDNodeWallet[],
  endpointId: string,
  healthBps: number,
) {
  const now = await time.latest();
  const observedAt = now + 1;
  const round = Math.floor(observedAt / ROUND_SECONDS);
  const configDigest = await stack.oracle.configDigest();
  const obs = await Promise.all(
    signers.map(async (w) => ({
      healthBps,
      observedAt,
      signature: toCompact(
        await signObservation(w, domain, { configDigest, endpointId, round, healthBps, observedAt }),
      ),
    })),
  );
  return { configDigest, round, obs };
}

async function nextRound(): Promise<void> {
  await time.increase(ROUND_SECONDS);
}

async function gasOf(tx: Promise<{ wait(): Promise<{ gasUsed: bigint } | null> }>): Promise<number> {
  const receipt = await (await tx).wait();
  return Number(receipt!.gasUsed);
}

async function benchSubmit(stack: Stack, quorum: number): Promise<number> {
  const signers = wallets(quorum);
  await (
    await stack.oracle.setAttestors(
      signers.map((w) => w.address),
      quorum,
    )
  ).wait();
  const domain = await readDomain(stack.oracle);
  const endpointId = ethers.id(`bench-endpoint-q${quorum}`);
  // Warm up: the endpoint is stored and HEALTHY, so the measured round changes no status.
  for (let i = 0; i < 2; i++) {
    const { configDigest, round, obs } = await observations(stack, domain, signers, endpointId, 9500);
    await (await stack.oracle.submit(configDigest, endpointId, round, obs)).wait();
    await nextRound();
  }
  const { configDigest, round, obs } = await observations(stack, domain, signers, endpointId, 9400);
  return gasOf(stack.oracle.submit(configDigest, endpointId, round, obs));
}

async function benchBatch(stack: Stack, endpoints: number, quorum: number): Promise<number> {
  const signers = wallets(quorum);
  await (
    await stack.oracle.setAttestors(
      signers.map((w) => w.address),
      quorum,
    )
  ).wait();
  const domain = await readDomain(stack.oracle);
  const ids = Array.from({ length: endpoints }, (_, i) => ethers.id(`bench-batch-${endpoints}-${i}`));
  const build = async (health: number) => {
    const reports = [];
    let digest = "";
    for (const endpointId of ids) {
      const { configDigest, round, obs } = await observations(stack, domain, signers, endpointId, health);
      digest = configDigest;
      reports.push({ endpointId, round, observations: obs });
    }
    return { digest, reports };
  };
  for (let i = 0; i < 2; i++) {
    const { digest, reports } = await build(9500);
    await (await stack.oracle.submitBatch(digest, reports)).wait();
    await nextRound();
  }
  const { digest, reports } = await build(9400);
  return gasOf(stack.oracle.submitBatch(digest, reports));
}

/** A service of two endpoints and a market on it; returns helpers to move health. */
async function scenario(stack: Stack, label: string, quorum: number) {
  const signers = wallets(quorum);
  await (
    await stack.oracle.setAttestors(
      signers.map((w) => w.address),
      quorum,
    )
  ).wait();
  const domain = await readDomain(stack.oracle);
  const tx = await stack.registry.registerService(label, { cooldown: 0, recoveryPeriod: 0 });
  const receipt = await tx.wait();
  const serviceId = stack.registry.interface.parseLog(receipt!.logs[0])!.args.serviceId as string;
  const a = await stack.registry.addEndpoint.staticCall(serviceId, 0, `http://127.0.0.1:1/${label}/a`, 0);
  await (await stack.registry.addEndpoint(serviceId, 0, `http://127.0.0.1:1/${label}/a`, 0)).wait();
  const b = await stack.registry.addEndpoint.staticCall(serviceId, 0, `http://127.0.0.1:1/${label}/b`, 1);
  await (await stack.registry.addEndpoint(serviceId, 0, `http://127.0.0.1:1/${label}/b`, 1)).wait();
  const token = await ethers.deployContract("MockERC20", ["Bench USD", "bUSD"]);
  const market = await ethers.deployContract("GuardedPerpMarket", [
    await token.getAddress(),
    await stack.guard.getAddress(),
    stack.admin.address,
    ethers.parseEther("1"),
  ]);
  const submit = async (endpointId: string, health: number) => {
    const { configDigest, round, obs } = await observations(stack, domain, signers, endpointId, health);
    return stack.oracle.submit(configDigest, endpointId, round, obs);
  };
  const both = async (ha: number, hb: number) => {
    const { configDigest, round, obs } = await observations(stack, domain, signers, a, ha);
    const ob = await observations(stack, domain, signers, b, hb);
    await (
      await stack.oracle.submitBatch(configDigest, [
        { endpointId: a, round, observations: obs },
        { endpointId: b, round: ob.round, observations: ob.obs },
      ])
    ).wait();
    await nextRound();
  };
  return { serviceId, a, b, market, submit, both };
}

async function registerMarket(
  stack: Stack,
  market: string,
  services: string[],
  endpoints: string[],
  grace: number,
) {
  const id = await stack.guard.registerMarket.staticCall({
    market,
    guardian: ethers.ZeroAddress,
    pauseThresholdBps: 5000,
    gracePeriod: grace,
    services,
    endpoints,
  });
  await (
    await stack.guard.registerMarket({
      market,
      guardian: ethers.ZeroAddress,
      pauseThresholdBps: 5000,
      gracePeriod: grace,
      services,
      endpoints,
    })
  ).wait();
  return id;
}

async function main(): Promise<void> {
  if (network.name !== "hardhat") throw new Error("bench:gas runs on the in-process hardhat network only");
  const rows: GasRow[] = [];
  const stack = await deploy();

  for (const q of [1, 3, 5, 7, 10, 16]) {
    rows.push({ operation: "submit", quorum: q, endpoints: 1, gasUsed: await benchSubmit(stack, q) });
    process.stdout.write(`  submit q=${q} measured\n`);
  }
  for (const n of [10, 100]) {
    rows.push({ operation: "submitBatch", quorum: 5, endpoints: n, gasUsed: await benchBatch(stack, n, 5) });
    process.stdout.write(`  submitBatch n=${n} measured\n`);
  }

  // migrate / trip / resume called by a keeper (listeners removed so the keeper path is measured).
  {
    await (await stack.oracle.removeStatusListener(await stack.registry.getAddress())).wait();
    await (await stack.oracle.removeStatusListener(await stack.guard.getAddress())).wait();
    const s = await scenario(stack, "bench-keeper-path", 3);
    const marketId = await registerMarket(stack, await s.market.getAddress(), [s.serviceId], [], 30);
    await s.both(9500, 9500);
    await s.both(1000, 9500); // A DOWN, B HEALTHY
    rows.push({
      operation: "migrate",
      quorum: 3,
      endpoints: 2,
      gasUsed: await gasOf(stack.registry.migrate(s.serviceId)),
    });
    await s.both(1000, 1000); // both DOWN
    rows.push({
      operation: "trip",
      quorum: 3,
      endpoints: 2,
      gasUsed: await gasOf(stack.guard.trip(marketId)),
    });
    await s.both(9500, 9500);
    await time.increase(60);
    await s.both(9500, 9500);
    rows.push({
      operation: "resume",
      quorum: 3,
      endpoints: 2,
      gasUsed: await gasOf(stack.guard.resume(marketId)),
    });
    await (await stack.oracle.addStatusListener(await stack.registry.getAddress())).wait();
    await (await stack.oracle.addStatusListener(await stack.guard.getAddress())).wait();
  }

  // One submit whose DOWN round migrates the service and pauses the market in the same transaction:
  // the market depends on the service and directly on its primary endpoint.
  {
    const s = await scenario(stack, "bench-same-tx", 3);
    const marketId = await registerMarket(stack, await s.market.getAddress(), [s.serviceId], [s.a], 30);
    await s.both(9500, 9500);
    const gas = await gasOf(s.submit(s.a, 1000));
    const active = await stack.registry.activeEndpoint(s.serviceId);
    const paused = await stack.guard.isPaused(marketId);
    if (active.id !== s.b || !paused) throw new Error("same-tx scenario did not migrate and pause");
    rows.push({ operation: "submit+migrate+pause", quorum: 3, endpoints: 1, gasUsed: gas });
  }

  // Linear fit of submit gas over quorum (least squares).
  const pts = rows.filter((r) => r.operation === "submit");
  const n = pts.length;
  const mx = pts.reduce((s, r) => s + r.quorum, 0) / n;
  const my = pts.reduce((s, r) => s + r.gasUsed, 0) / n;
  const slope =
    pts.reduce((s, r) => s + (r.quorum - mx) * (r.gasUsed - my), 0) /
    pts.reduce((s, r) => s + (r.quorum - mx) ** 2, 0);
  const base = my - slope * mx;

  console.log("\nVigil gas benchmark (receipt gasUsed, Cancun, warm endpoint storage)\n");
  console.log(
    [
      "operation".padEnd(22),
      "quorum".padStart(6),
      "endpoints".padStart(9),
      "gasUsed".padStart(10),
      "gas/endpoint".padStart(13),
    ].join("  "),
  );
  for (const r of rows) {
    console.log(
      [
        r.operation.padEnd(22),
        String(r.quorum).padStart(6),
        String(r.endpoints).padStart(9),
        r.gasUsed.toLocaleString("en-US").padStart(10),
        (r.operation.startsWith("submit")
          ? Math.round(r.gasUsed / r.endpoints).toLocaleString("en-US")
          : ""
        ).padStart(13),
      ].join("  "),
    );
  }
  const ok = (v: number, t: number) => (v <= t ? "OK" : "OVER TARGET");
  console.log(
    `\nsubmit fit: base ${Math.round(base).toLocaleString("en-US")} gas (target ≤ ${TARGET_BASE.toLocaleString("en-US")}: ${ok(base, TARGET_BASE)}), ` +
      `${Math.round(slope).toLocaleString("en-US")} gas per extra signer (target ≤ ${TARGET_PER_SIGNER.toLocaleString("en-US")}: ${ok(slope, TARGET_PER_SIGNER)})`,
  );

  const out = path.join(__dirname, "..", "..", "reports", "gas.json");
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify(rows, null, 2) + "\n");
  console.log(`wrote ${path.relative(process.cwd(), out)}`);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
