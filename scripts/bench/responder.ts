/**
 * Responder benchmark: `npx hardhat run scripts/bench/responder.ts`.
 *
 * 1. CPU time per watched endpoint of one evaluation loop at 1,000 and 10,000 endpoints: the pure
 *    decision (`decideSubmissions` over synthetic on-chain state), bundle assembly, and the off-chain
 *    verification of every served observation (schema, freshness, EIP-712 signature recovery) for
 *    4 attestors per endpoint, one response per attestor. Every observation of a round that may be
 *    used is recovered once (cold: a new round), then served from the verifier's cache (warm).
 * 2. Gas per endpoint per day in steady state at the default settings (4 attestors, quorum 3,
 *    roundSeconds 10, heartbeat 300 s, refresh fraction 0.8, batches of 50): submissions per day from the
 *    decide policy over a simulated day × measured `submit` / per-entry `submitBatch` gas on the
 *    in-process Hardhat network. Needs the HealthOracle artifact (merged from the `oracle` branch);
 *    without it the gas part is reported as waiting.
 * Prints a table and writes `reports/bench-responder.json`. Figures, not assertions.
 */
import fs from "node:fs";
import path from "node:path";
import { Wallet, type TypedDataDomain } from "ethers";
import hre from "hardhat";
import { Status } from "../../keepers/shared/health";
import { signObservation, type SignedObservation } from "../../keepers/shared/observation";
import {
  evaluateObservations,
  ObservationVerifier,
  type ChainContext,
} from "../../keepers/responder/collect";
import {
  decideSubmissions,
  decideSubmit,
  type EndpointView,
  type Policy,
} from "../../keepers/responder/decide";

/** One response per attestor (one URL speaks for one attestor). */
function responses(raw: readonly SignedObservation[]) {
  const by = new Map<string, SignedObservation[]>();
  for (const o of raw) by.set(o.attestor.toLowerCase(), [...(by.get(o.attestor.toLowerCase()) ?? []), o]);
  return [...by].map(([attestor, list]) => ({
    report: { url: attestor, attestor, outcome: "ok" as const, accepted: 0, ignored: 0, rejected: {} },
    raw: list,
  }));
}

const ATTESTORS = 4;
const QUORUM = 3;
const ROUND_SECONDS = 10;
const MAX_SKEW = 15;
const POLICY: Policy = {
  downBelowBps: 5000,
  upAtBps: 8000,
  fallRounds: 2,
  riseRounds: 2,
  heartbeat: 300,
  maxAge: 60,
};
const REFRESH = 0.8;
const BATCH = 50;
const DIGEST = "0x" + "ab".repeat(32);
const NOW = 1_700_000_005;

const cpuMicros = (f: () => void): number => {
  const start = process.cpuUsage();
  f();
  const d = process.cpuUsage(start);
  return d.user + d.system;
};

function endpointId(i: number): string {
  return "0x" + i.toString(16).padStart(64, "0");
}

async function cpuBench(wallets: Wallet[], domain: TypedDataDomain) {
  // Full verification cost of one observation (pre-checks + EIP-712 hash + secp256k1 recovery), cold cache.
  const SAMPLE = 200;
  const sample: SignedObservation[] = [];
  const obsAt = NOW - 3;
  const round = Math.floor(obsAt / ROUND_SECONDS);
  const signed = async (w: Wallet, id: string, bps: number): Promise<SignedObservation> => {
    const obs = { configDigest: DIGEST, endpointId: id, round, healthBps: bps, observedAt: obsAt };
    return { ...obs, attestor: w.address, signature: await signObservation(w, domain, obs) };
  };
  for (let i = 0; i < SAMPLE / ATTESTORS; i++)
    for (const w of wallets) sample.push(await signed(w, endpointId(i + 1), 9000));
  const ctxFor = (views: Map<string, EndpointView>): ChainContext => ({
    domain,
    configDigest: DIGEST,
    attestors: wallets.map((w) => w.address),
    quorum: QUORUM,
    roundSeconds: ROUND_SECONDS,
    maxSkew: MAX_SKEW,
    now: NOW,
    maxAgeOf: (id) => views.get(id)?.policy.maxAge,
    storedRoundOf: (id) => views.get(id)?.round ?? 0,
  });
  const fresh = (n: number) => {
    const views = new Map<string, EndpointView>();
    for (let i = 0; i < n; i++) {
      const id = endpointId(i + 1);
      // steady state: 98% healthy and fresh, 1% due for a heartbeat refresh, 1% going down
      const updatedAt = i % 100 === 0 ? NOW - 250 : NOW - 30;
      views.set(id, {
        endpointId: id,
        status: Status.HEALTHY,
        healthBps: 9500,
        round: round - 3,
        updatedAt,
        policy: POLICY,
      });
    }
    return views;
  };
  const sampleViews = fresh(SAMPLE / ATTESTORS);
  const verifyUs = cpuMicros(() => {
    const r = evaluateObservations(responses(sample), ctxFor(sampleViews));
    if (r.bundles.length !== SAMPLE / ATTESTORS) throw new Error("sample did not verify");
  });
  const perObservationUs = verifyUs / sample.length;

  const rows = [];
  for (const n of [1_000, 10_000]) {
    const views = fresh(n);
    const raw: SignedObservation[] = [];
    const dummy = sample[0].signature;
    for (let i = 0; i < n; i++) {
      const id = endpointId(i + 1);
      const due = i % 100 === 0 || i % 100 === 1;
      const bps = i % 100 === 1 ? 1000 : 9500;
      for (const w of wallets) {
        // verified like every other, so the cost is the same; a real signature only where it matters
        raw.push(
          due
            ? await signed(w, id, bps)
            : {
                configDigest: DIGEST,
                endpointId: id,
                round,
                healthBps: bps,
                observedAt: obsAt,
                attestor: w.address,
                signature: dummy,
              },
        );
      }
    }
    // Served as JSON by the attestors: parse cost included.
    const bodies = responses(raw).map((r) =>
      JSON.stringify({ attestor: r.report.attestor, observations: r.raw }),
    );
    const verifier = new ObservationVerifier(domain);
    let decisions = 0;
    const loop = () => {
      const parsed = responses(
        bodies.flatMap((b) => (JSON.parse(b) as { observations: SignedObservation[] }).observations),
      );
      const { bundles } = evaluateObservations(parsed, ctxFor(views), { verifier });
      decisions = decideSubmissions(bundles, views, NOW, { refreshFraction: REFRESH }).length;
    };
    const coldUs = cpuMicros(loop);
    const warmUs = cpuMicros(loop);
    const decideUs = cpuMicros(() => {
      for (const v of views.values())
        decideSubmit({ endpointId: v.endpointId, round, medianBps: 9500 }, v, NOW, {
          refreshFraction: REFRESH,
        });
    });
    rows.push({
      endpoints: n,
      observations: raw.length,
      decideUsPerEndpoint: round2(decideUs / n),
      loopUsPerEndpointCold: round2(coldUs / n),
      loopUsPerEndpointWarm: round2(warmUs / n),
      loopCpuMsCold: round2(coldUs / 1000),
      loopCpuMsWarm: round2(warmUs / 1000),
      fullVerifyUsPerEndpoint: round2(perObservationUs * ATTESTORS),
      submissionsDecided: decisions,
    });
  }
  return { perObservationVerifyUs: round2(perObservationUs), rows };
}

/** Submissions per day of one steady healthy endpoint under the decide policy (one round every ROUND_SECONDS). */
function submissionsPerDay(inclusionDelaySec: number): number {
  let v: EndpointView = {
    endpointId: endpointId(1),
    status: Status.HEALTHY,
    healthBps: 9500,
    round: 1,
    updatedAt: 0,
    policy: POLICY,
  };
  let count = 0;
  for (let t = ROUND_SECONDS; t <= 86_400; t += ROUND_SECONDS) {
    const round = Math.floor(t / ROUND_SECONDS) - 1;
    if (
      decideSubmit({ endpointId: v.endpointId, round, medianBps: 9500 }, v, t, { refreshFraction: REFRESH })
    ) {
      count++;
      v = { ...v, round, updatedAt: t + inclusionDelaySec };
    }
  }
  return count;
}

async function gasBench(perDay: number) {
  if (!(await hre.artifacts.artifactExists("HealthOracle"))) {
    return { status: "waiting for HealthOracle on main (oracle branch not merged)", perDay };
  }
  const { ethers } = hre;
  const { time } = await import("@nomicfoundation/hardhat-network-helpers");
  const [admin] = await ethers.getSigners();
  const oracle = await ethers.deployContract("HealthOracle", [
    admin.address,
    ROUND_SECONDS,
    MAX_SKEW,
    500_000,
    POLICY,
  ]);
  const attestors = Array.from({ length: ATTESTORS }, (_, i) =>
    ethers.HDNodeWallet.fromPhrase(
      "test test test test test test test test test test test junk",
      undefined,
      `m/44'/60'/2'/0/${i}`,
    ),
  ).sort((a, b) => (a.address.toLowerCase() < b.address.toLowerCase() ? -1 : 1));
  await (
    await oracle.setAttestors(
      attestors.map((a) => a.address),
      QUORUM,
    )
  ).wait();
  const { readDomain, toCompact } = await import("../../keepers/shared/observation");
  const domain = await readDomain(oracle as never);
  const digest: string = await oracle.configDigest();
  const build = async (ids: string[], bps: number) => {
    const now = await time.latest();
    const observedAt = now;
    const round = Math.floor(observedAt / ROUND_SECONDS);
    const reports = [];
    for (const id of ids) {
      const obs = [];
      for (const a of attestors.slice(0, QUORUM)) {
        const o = { configDigest: digest, endpointId: id, round, healthBps: bps, observedAt };
        obs.push({ healthBps: bps, observedAt, signature: toCompact(await signObservation(a, domain, o)) });
      }
      reports.push({ endpointId: id, round, observations: obs });
    }
    return reports;
  };
  const ids = Array.from({ length: BATCH }, (_, i) => endpointId(0x1000 + i));
  // warm storage: first rounds, then steady-state rounds with no status change
  await (await oracle.submitBatch(digest, await build(ids, 9500))).wait();
  await time.increase(ROUND_SECONDS);
  let r = await build(ids.slice(0, 1), 9400);
  const single = Number(
    (await (await oracle.submit(digest, r[0].endpointId, r[0].round, r[0].observations)).wait())!.gasUsed,
  );
  await time.increase(ROUND_SECONDS);
  r = await build(ids, 9300);
  const batch = Number((await (await oracle.submitBatch(digest, r)).wait())!.gasUsed);
  const perEntry = batch / BATCH;
  return {
    status: "measured",
    perDay,
    submitGas: single,
    submitBatchGas: batch,
    batchSize: BATCH,
    perEntryGas: Math.round(perEntry),
    gasPerEndpointPerDaySingle: Math.round(single * perDay),
    gasPerEndpointPerDayBatched: Math.round(perEntry * perDay),
  };
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

async function main() {
  const wallets = Array.from(
    { length: ATTESTORS },
    (_, i) => new Wallet("0x" + (i + 1).toString(16).padStart(64, "0")),
  );
  const domain: TypedDataDomain = {
    name: "Vigil HealthOracle",
    version: "1",
    chainId: 31337n,
    verifyingContract: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
  };
  const cpu = await cpuBench(wallets, domain);
  const perDay = submissionsPerDay(2);
  const gas = await gasBench(perDay);

  console.log("\nResponder evaluation loop, CPU time per watched endpoint (4 attestors, quorum 3)");
  console.log(`  signature verification: ${cpu.perObservationVerifyUs} µs per observation`);
  console.log(
    "  (steady state: 98% fresh and healthy, 1% due for a heartbeat refresh, 1% going down; signatures",
  );
  console.log("   recovered once per new round, before any value is used; warm = the same responses again)");
  console.log(
    "  endpoints | observations | decide µs | loop µs/endpoint cold | warm | loop CPU ms cold | warm | all-verified µs/endpoint",
  );
  for (const r of cpu.rows) {
    const c = [
      r.endpoints,
      r.observations,
      r.decideUsPerEndpoint,
      r.loopUsPerEndpointCold,
      r.loopUsPerEndpointWarm,
      r.loopCpuMsCold,
      r.loopCpuMsWarm,
      r.fullVerifyUsPerEndpoint,
    ];
    const w = [9, 12, 9, 21, 4, 16, 4, 24];
    console.log("  " + c.map((x, i) => String(x).padStart(w[i])).join(" | "));
  }
  console.log(
    `\nSteady healthy endpoint at defaults (heartbeat ${POLICY.heartbeat} s, refresh ${REFRESH}): ${perDay} submissions/day`,
  );
  if (gas.status === "measured") {
    const g = gas as Required<typeof gas> & Record<string, number>;
    console.log(`  submit (1 endpoint, quorum ${QUORUM}, EIP-2098): ${g.submitGas} gas`);
    console.log(
      `  submitBatch (${BATCH} endpoints): ${g.submitBatchGas} gas = ${g.perEntryGas} per endpoint`,
    );
    console.log(
      `  gas per endpoint per day: ${g.gasPerEndpointPerDaySingle} unbatched, ${g.gasPerEndpointPerDayBatched} batched`,
    );
  } else {
    console.log(`  gas: ${gas.status}`);
  }
  const out = path.join(__dirname, "..", "..", "reports", "bench-responder.json");
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(
    out,
    JSON.stringify(
      { settings: { ATTESTORS, QUORUM, ROUND_SECONDS, POLICY, REFRESH, BATCH }, cpu, gas },
      null,
      2,
    ) + "\n",
  );
  console.log(`\nwrote ${path.relative(process.cwd(), out)}`);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
