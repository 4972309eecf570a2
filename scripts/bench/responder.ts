/**
 * Responder benchmark (health model v2): `npx hardhat run scripts/bench/responder.ts`.
 *
 * 1. CPU time per watched endpoint of one evaluation loop, 1,000 and 10,000 endpoints, 4 attestors (quorum 3),
 *    each serving ONE signed report covering every endpoint: verify (schema, checks, endpoint-list hash, values,
 *    one EIP-712 signature recovery per report), group into quorum bundles, and decide (tally and status
 *    machine for every endpoint of the round). Cold = a fresh `ReportVerifier` (no cached list hash, no cached
 *    signer), measured after one JIT warm-up on other data; warm = the same responses again. JSON parsing of
 *    the served bodies is printed apart. Steady state: 98% healthy and fresh, 1% due for a heartbeat, 1% going down.
 * 2. Gas per steady healthy endpoint per day at the defaults (4 attestors, quorum 3, roundSeconds 10,
 *    heartbeat 300 s, refresh fraction 0.8): submissions per day from `decideRound` over a simulated day ×
 *    the measured per-endpoint gas of a warm (already stored, no status change) `submit` of 50 and 100
 *    endpoints on the in-process Hardhat network, with the 4 reports the responder relays when every attestor
 *    answers, and with the 3 of a bare quorum.
 * Prints a table and writes `reports/bench-responder.json`. Figures, not assertions.
 */
import fs from "node:fs";
import path from "node:path";
import { concat, SigningKey, Wallet, type TypedDataDomain } from "ethers";
import hre from "hardhat";
import { Status } from "../../keepers/shared/health";
import {
  domainSeparator,
  encodeValues,
  reportDigest,
  signReportDigest,
  sortEndpointIds,
  toCalldata,
  type EndpointValue,
  type SignedReport,
} from "../../keepers/shared/report";
import {
  evaluateResponses,
  ReportVerifier,
  type ChainContext,
  type FetchedResponse,
} from "../../keepers/responder/collect";
import { decideRound, type EndpointView, type Policy } from "../../keepers/responder/decide";

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
/** Endpoints per measured `submit` (the round of one attestor list). */
const BATCH = 100;
const DIGEST = "0x" + "ab".repeat(32);
const NOW = 1_700_000_005;
const TARGET_US_PER_ENDPOINT = 20;
const TARGET_GAS_PER_DAY = 3_500_000;

const cpuMicros = (f: () => void): number => {
  const start = process.cpuUsage();
  f();
  const d = process.cpuUsage(start);
  return d.user + d.system;
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const round2 = (x: number) => Math.round(x * 100) / 100;

function endpointId(i: number): string {
  return "0x" + i.toString(16).padStart(64, "0");
}

/** One report per attestor over `ids`, signed for real. */
function signRound(
  keys: SigningKey[],
  separator: string,
  ids: string[],
  value: (i: number, attestor: number) => EndpointValue,
  observedAt: number,
  digest = DIGEST,
): SignedReport[] {
  return keys.map((key, a) => {
    const report = {
      configDigest: digest,
      round: Math.floor(observedAt / ROUND_SECONDS),
      observedAt: observedAt + (a % 2),
      endpointIds: ids,
      values: encodeValues(ids.map((_, i) => value(i, a))),
    };
    report.round = Math.floor(report.observedAt / ROUND_SECONDS);
    return {
      ...report,
      attestor: new Wallet(key.privateKey).address,
      signature: signReportDigest(key, reportDigest(separator, report)),
    };
  });
}

/** 98% steady and healthy, 1% due for a heartbeat refresh, 1% going down (BAD for 2 rounds). */
function steady(i: number): EndpointValue {
  return i % 100 === 1
    ? { healthBps: 1000, badRounds: 2, goodRounds: 0 }
    : { healthBps: 9500, badRounds: 0, goodRounds: 255 };
}

function views(ids: readonly string[], round: number): Map<string, EndpointView> {
  const out = new Map<string, EndpointView>();
  ids.forEach((id, i) =>
    out.set(id, {
      endpointId: id,
      status: Status.HEALTHY,
      round: round - 3,
      updatedAt: i % 100 === 0 ? NOW - 250 : NOW - 30,
      policy: POLICY,
    }),
  );
  return out;
}

function cpuBench(keys: SigningKey[], domain: TypedDataDomain) {
  const separator = domainSeparator(domain);
  const ctx: ChainContext = {
    domain,
    chainId: Number(domain.chainId),
    configDigest: DIGEST,
    attestors: keys.map((k) => new Wallet(k.privateKey).address),
    jailed: [],
    quorum: QUORUM,
    roundSeconds: ROUND_SECONDS,
    maxSkew: MAX_SKEW,
    now: NOW,
    maxAge: POLICY.maxAge,
  };
  const bodiesFor = (ids: string[], obsAt: number) =>
    signRound(keys, separator, ids, steady, obsAt).map((r) =>
      JSON.stringify({ attestor: r.attestor, configDigest: DIGEST, chainId: ctx.chainId, reports: [r] }),
    );
  const parse = (bodies: string[]): FetchedResponse[] =>
    bodies.map((b, i) => {
      const j = JSON.parse(b) as {
        attestor: string;
        configDigest: string;
        chainId: number;
        reports: unknown[];
      };
      return {
        url: `a${i}`,
        attestor: j.attestor.toLowerCase(),
        configDigest: j.configDigest,
        chainId: j.chainId,
        reports: j.reports,
      };
    });
  const loop = (fetched: FetchedResponse[], v: Map<string, EndpointView>, verifier: ReportVerifier) => {
    const { bundles } = evaluateResponses(fetched, ctx, { verifier });
    if (bundles.length !== 1 || bundles[0].reports.length !== ATTESTORS)
      throw new Error("round did not verify");
    return decideRound(bundles[0], v, NOW, QUORUM, { refreshFraction: REFRESH });
  };

  // JIT warm-up on other endpoints, so "cold" means fresh caches, not unoptimised code.
  {
    const ids = sortEndpointIds(Array.from({ length: 2_000 }, (_, i) => endpointId(0x100000 + i)));
    const fetched = parse(bodiesFor(ids, NOW - 3));
    const v = views(ids, Math.floor((NOW - 3) / ROUND_SECONDS));
    for (let k = 0; k < 5; k++) loop(fetched, v, new ReportVerifier(domain));
  }

  const rows = [];
  for (const n of [1_000, 10_000]) {
    const ids = sortEndpointIds(Array.from({ length: n }, (_, i) => endpointId(i + 1)));
    const obsAt = NOW - 3;
    const bodies = bodiesFor(ids, obsAt);
    const v = views(ids, Math.floor(obsAt / ROUND_SECONDS));
    const parseUs = median(Array.from({ length: 5 }, () => cpuMicros(() => parse(bodies))));
    const fetched = parse(bodies);
    const cold: number[] = [];
    const verifyCold: number[] = [];
    const decideUs: number[] = [];
    let warm = 0;
    let decision: ReturnType<typeof decideRound> | undefined;
    for (let k = 0; k < 5; k++) {
      const verifier = new ReportVerifier(domain);
      cold.push(cpuMicros(() => (decision = loop(fetched, v, verifier))));
      warm = cpuMicros(() => loop(fetched, v, verifier));
      let bundle: ReturnType<typeof evaluateResponses>["bundles"][0] | undefined;
      verifyCold.push(
        cpuMicros(
          () =>
            (bundle = evaluateResponses(fetched, ctx, { verifier: new ReportVerifier(domain) }).bundles[0]),
        ),
      );
      decideUs.push(cpuMicros(() => decideRound(bundle!, v, NOW, QUORUM, { refreshFraction: REFRESH })));
    }
    const c = median(cold);
    rows.push({
      endpoints: n,
      reports: ATTESTORS,
      observations: n * ATTESTORS,
      decideUsPerEndpoint: round2(median(decideUs) / n),
      loopUsPerEndpointCold: round2(c / n),
      loopUsPerEndpointWarm: round2(warm / n),
      loopCpuMsCold: round2(c / 1000),
      loopCpuMsWarm: round2(warm / 1000),
      fullVerifyUsPerEndpoint: round2(median(verifyCold) / n),
      perReportVerifyMs: round2(median(verifyCold) / ATTESTORS / 1000),
      parseUsPerEndpoint: round2(parseUs / n),
      loopUsPerEndpointColdRuns: cold.map((x) => round2(x / n)),
      submissionsDecided: decision?.submit ? 1 : 0,
      decidedReason: decision?.reason ?? null,
      predictedChanges: decision?.changes.length ?? 0,
    });
  }
  const big = rows[rows.length - 1];
  return {
    perObservationVerifyUs: round2(big.fullVerifyUsPerEndpoint / ATTESTORS),
    targetUsPerEndpoint: TARGET_US_PER_ENDPOINT,
    rows,
  };
}

/**
 * Submissions per day of a steady healthy endpoint under `decideRound`: the responder loops every 2 s of chain
 * time; the newest quorum round is the last complete one, its attestors observed 1 s into the slot; a
 * submission lands 2 s later and stores the round with the quorum's observation time.
 */
function submissionsPerDay(): number {
  const id = endpointId(1);
  let view: EndpointView = { endpointId: id, status: Status.HEALTHY, round: 0, updatedAt: 1, policy: POLICY };
  let count = 0;
  let pendingUntil = -1;
  let pending: EndpointView | undefined;
  for (let t = 2 * ROUND_SECONDS; t <= 86_400 + 2 * ROUND_SECONDS; t += 2) {
    if (pending && t >= pendingUntil) {
      view = pending;
      pending = undefined;
    }
    if (pending) continue;
    const round = Math.floor(t / ROUND_SECONDS) - 1;
    const observedAt = round * ROUND_SECONDS + 1;
    const good = { healthBps: 9500, badRounds: 0, goodRounds: 255 };
    const d = decideRound(
      {
        round,
        endpointIds: [id],
        values: [[good], [good], [good], [good]],
        observedAt: [observedAt, observedAt, observedAt, observedAt],
      },
      new Map([[id, view]]),
      t,
      QUORUM,
      { refreshFraction: REFRESH },
    );
    if (d.submit) {
      count++;
      pending = { ...view, round, updatedAt: d.observedAt };
      pendingUntil = t + 2;
    }
  }
  return count;
}

async function gasBench(perDay: number) {
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
  const keys = Array.from(
    { length: ATTESTORS },
    (_, i) => new SigningKey("0x" + (0x1000 + i).toString(16).padStart(64, "0")),
  )
    .map((k) => ({ k, a: new Wallet(k.privateKey).address }))
    .sort((x, y) => (x.a.toLowerCase() < y.a.toLowerCase() ? -1 : 1));
  await (
    await oracle.setAttestors(
      keys.map((x) => x.a),
      QUORUM,
    )
  ).wait();
  const d = await oracle.eip712Domain();
  const separator = domainSeparator({ name: d[1], version: d[2], chainId: d[3], verifyingContract: d[4] });
  const digest: string = await oracle.configDigest();
  const good = (): EndpointValue => ({ healthBps: 9500, badRounds: 0, goodRounds: 255 });

  const measure = async (n: number, reports: number) => {
    const ids = sortEndpointIds(Array.from({ length: n }, (_, i) => endpointId(0x10000 * (n + reports) + i)));
    const send = async () => {
      const observedAt = (await time.latest()) + 1;
      const signed = signRound(
        keys.slice(0, reports).map((x) => x.k),
        separator,
        ids,
        good,
        observedAt,
        digest,
      );
      const round = signed[0].round;
      // Same round for every report (signRound offsets odd attestors by 1 s; keep them inside the slot).
      const rs = signed.map((r) => (r.round === round ? r : undefined)).filter(Boolean) as SignedReport[];
      if (rs.length !== reports) {
        await time.increase(1);
        return send();
      }
      await time.setNextBlockTimestamp(observedAt + 2);
      const tx = await oracle.submit(
        digest,
        round,
        ids,
        rs.map((r) => toCalldata(r)),
        concat(rs.map((r) => r.values)),
      );
      return Number((await tx.wait())!.gasUsed);
    };
    const cold = await send(); // first round: new slots, UNKNOWN -> HEALTHY
    await time.increase(Math.ceil(REFRESH * POLICY.heartbeat));
    const warm = await send(); // a heartbeat refresh: stored slots, no status change
    return { endpoints: n, reports, coldGas: cold, warmGas: warm, warmGasPerEndpoint: Math.round(warm / n) };
  };
  const runs = [];
  for (const n of [50, BATCH])
    for (const reports of [ATTESTORS, QUORUM]) runs.push(await measure(n, reports));
  const main = runs.find((r) => r.endpoints === BATCH && r.reports === ATTESTORS)!;
  const quorumOnly = runs.find((r) => r.endpoints === BATCH && r.reports === QUORUM)!;
  return {
    status: "measured",
    perDay,
    batchSize: BATCH,
    submitGas: main.warmGas,
    perEntryGas: main.warmGasPerEndpoint,
    gasPerEndpointPerDayBatched: main.warmGasPerEndpoint * perDay,
    gasPerEndpointPerDayQuorumOnly: quorumOnly.warmGasPerEndpoint * perDay,
    targetGasPerDay: TARGET_GAS_PER_DAY,
    runs,
  };
}

async function main() {
  const keys = Array.from(
    { length: ATTESTORS },
    (_, i) => new SigningKey("0x" + (i + 1).toString(16).padStart(64, "0")),
  );
  const domain: TypedDataDomain = {
    name: "Vigil HealthOracle",
    version: "2",
    chainId: 31337n,
    verifyingContract: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
  };
  const cpu = cpuBench(keys, domain);
  const perDay = submissionsPerDay();
  const gas = await gasBench(perDay);

  console.log(
    `\nResponder evaluation loop, CPU per watched endpoint (${ATTESTORS} attestors, quorum ${QUORUM}, one report each)`,
  );
  console.log(
    "  verify (schema, checks, list hash, values, 1 recovery per report) + group + decide; cold = fresh caches",
  );
  console.log(
    "  endpoints | µs/endpoint cold | warm | loop ms cold | warm | verify µs/endpoint | decide µs/endpoint | ms per report | JSON.parse µs/endpoint",
  );
  for (const r of cpu.rows) {
    const c = [
      r.endpoints,
      r.loopUsPerEndpointCold,
      r.loopUsPerEndpointWarm,
      r.loopCpuMsCold,
      r.loopCpuMsWarm,
      r.fullVerifyUsPerEndpoint,
      r.decideUsPerEndpoint,
      r.perReportVerifyMs,
      r.parseUsPerEndpoint,
    ];
    const w = [9, 16, 4, 12, 4, 18, 18, 13, 22];
    console.log("  " + c.map((x, i) => String(x).padStart(w[i])).join(" | "));
  }
  console.log(`  target: <= ${TARGET_US_PER_ENDPOINT} µs per endpoint cold at 10,000 endpoints`);
  console.log(
    `\nSteady healthy endpoint at defaults (heartbeat ${POLICY.heartbeat} s, refresh ${REFRESH}, rounds ${ROUND_SECONDS} s): ${perDay} submissions/day`,
  );
  console.log("  warm submit (stored endpoints, no status change), all-in receipt gas:");
  console.log("  endpoints | reports | cold gas | warm gas | warm gas/endpoint");
  for (const r of gas.runs)
    console.log(
      "  " +
        [r.endpoints, r.reports, r.coldGas, r.warmGas, r.warmGasPerEndpoint]
          .map((x, i) => String(x).padStart([9, 7, 8, 8, 17][i]))
          .join(" | "),
    );
  console.log(
    `  gas per endpoint per day, batched (${BATCH} endpoints, ${ATTESTORS} reports): ${gas.gasPerEndpointPerDayBatched.toLocaleString("en-US")}` +
      ` (${QUORUM} reports: ${gas.gasPerEndpointPerDayQuorumOnly.toLocaleString("en-US")}); target <= ${TARGET_GAS_PER_DAY.toLocaleString("en-US")}`,
  );
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
