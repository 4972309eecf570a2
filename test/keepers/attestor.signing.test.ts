import { expect } from "chai";
import hre from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import type { Contract } from "ethers";
import { Attestor } from "../../keepers/attestor/attestor";
import { attestorConfigSchema } from "../../keepers/attestor/config";
import { contractOracleReader, staticEndpointSource } from "../../keepers/attestor/sources";
import { EndpointKind, Status } from "../../keepers/shared/health";
import { createLogger } from "../../keepers/shared/logger";
import { Metrics } from "../../keepers/shared/metrics";
import {
  decodeValues,
  domainSeparator,
  reportDigest,
  toSubmitArgs,
  type SignedReport,
} from "../../keepers/shared/report";
import { FakeRpcServer } from "../../scripts/bench/fakeRpc";
import { tmpDataDir } from "./attestor-helpers";

const SERVICE = "0x" + "5".repeat(64);
const ROUND_SECONDS = 12;
/** `oracle.submit(...)` of one attestor's report (quorum 1). */
const submitOne = (oracle: Contract, r: SignedReport) => {
  const a = toSubmitArgs([r]);
  return oracle.submit(a.configDigest, a.round, a.endpointIds, a.reports, a.values);
};

const POLICY = {
  downBelowBps: 5_000,
  upAtBps: 8_000,
  fallRounds: 2,
  riseRounds: 2,
  heartbeat: 3_600,
  maxAge: 600,
};

/**
 * The attestor against the real HealthOracle (v2): it reads the domain, digest, round length and each
 * endpoint's policy from the contract, its report digest is the contract's own `reportDigest`, and `submit`
 * accepts its reports and moves an endpoint to DOWN on its signed streaks. Skipped (with a message) on a
 * checkout without a compiled HealthOracle.
 */
describe("attestor signing against the HealthOracle contract", function () {
  let server: FakeRpcServer;

  before(async function () {
    if (!(await hre.artifacts.artifactExists("HealthOracle"))) {
      // eslint-disable-next-line no-console
      console.log("      (skipped: HealthOracle is not compiled on this branch)");
      this.skip();
    }
    server = await new FakeRpcServer({ chainId: 31337 }).start();
  });
  after(async function () {
    await server?.close();
  });

  /** A fresh oracle (quorum 1 of one attestor) and an attestor on the chain's clock; `latencyMs` score thresholds. */
  async function deploy(latencyMs?: { ok: number; max: number; floor: number }) {
    const [owner] = await hre.ethers.getSigners();
    const wallet = hre.ethers.Wallet.createRandom();
    const factory = await hre.ethers.getContractFactory("HealthOracle");
    const oracle = (await factory.deploy(
      owner.address,
      ROUND_SECONDS,
      30,
      200_000,
      POLICY,
    )) as unknown as Contract;
    await oracle.waitForDeployment();
    await (await oracle.setAttestors([wallet.address], 1)).wait();
    const address = await oracle.getAddress();
    const ids = [1, 2].map((i) => "0x" + "e".repeat(63) + i);
    // Endpoint 2 has its own policy: the attestor must classify its rounds with it.
    await (await oracle.setEndpointPolicy(ids[1], { ...POLICY, downBelowBps: 9_000, upAtBps: 9_500 })).wait();
    let clockSec = 0;
    const attestor = new Attestor({
      config: attestorConfigSchema.parse({
        chain: { rpcUrls: ["http://127.0.0.1:8545"], chainId: 31337 },
        contracts: { oracle: address, registry: "0x" + "88".repeat(20) },
        services: [SERVICE],
        expectedChainIds: { [SERVICE]: 31337 },
        allowPrivateTargets: true, // the fake RPC server is on loopback
        probeIntervalMs: 5_000,
        timeoutMs: 1_000,
        errorWindow: 1,
        dataDir: tmpDataDir(),
        // The chain's clock runs ahead of the fake node's head timestamps once time is increased.
        thresholds: { jsonRpc: { headAgeSec: { ok: 3_600, max: 7_200 }, ...(latencyMs && { latencyMs }) } },
      }),
      key: wallet.signingKey,
      endpoints: staticEndpointSource(
        ids.map((id, i) => ({
          id,
          serviceId: SERVICE,
          kind: EndpointKind.JSON_RPC,
          uri: server.url(`/rpc/${i + 1}`),
          priority: i,
        })),
      ),
      oracle: contractOracleReader(address, hre.ethers.provider),
      logger: createLogger("test", { level: "silent" }),
      metrics: new Metrics(false),
      now: () => clockSec * 1000, // the chain's clock
    });
    /**
     * Move the chain to the start of the next round and the attestor's clock with it, and the fake nodes' head
     * timestamps too: one clock for all, as on a real network (earlier test files may have moved the chain's
     * time hours ahead; nodes stamped with the wall clock would then make the attestor's clock look fast, and
     * its clock discipline would rightly stop signing).
     */
    const nextRound = async () => {
      const now = await time.latest();
      clockSec = (Math.floor(now / ROUND_SECONDS) + 1) * ROUND_SECONDS;
      await time.setNextBlockTimestamp(clockSec + 1);
      for (const i of [1, 2]) server.set(`/rpc/${i}`, { blockTimestamp: clockSec - 1 });
    };
    await nextRound();
    await attestor.refreshOracle();
    await attestor.refreshEndpoints();
    return { oracle, attestor, wallet, ids, nextRound };
  }

  it("signs the contract's reportDigest under the domain read from eip712Domain()", async function () {
    const { oracle, attestor } = await deploy();
    const state = attestor.oracleState!;
    expect(state.domain).to.include({ name: "Vigil HealthOracle", version: "2" });
    expect(state.domain.verifyingContract).to.equal(await oracle.getAddress());
    const { report } = await attestor.probeRound();
    const r = report!;
    const onChain = await oracle.reportDigest(r.configDigest, r.round, r.observedAt, r.endpointIds, r.values);
    expect(reportDigest(domainSeparator(state.domain), r)).to.equal(onChain);
  });

  it("reports that submit accepts, one signature for every endpoint", async function () {
    const { oracle, attestor, ids } = await deploy();
    const { report } = await attestor.probeRound();
    const r = report!;
    await expect(submitOne(oracle, r))
      .to.emit(oracle, "ReportAccepted")
      .withArgs(r.round, r.observedAt, 1n, 2n, 0n);
    for (const id of ids) {
      const h = await oracle.statusOf(id);
      expect(h.healthBps).to.equal(10_000n);
      expect(h.round).to.equal(BigInt(r.round));
      expect(h.updatedAt).to.equal(BigInt(r.observedAt));
    }
  });

  it("takes each endpoint's policy from policyOf and its signed BAD streak makes the endpoint DOWN after fallRounds", async function () {
    // Both endpoints slow but correct: 6000 bps, MID under the default policy, BAD under endpoint 2's own.
    const { oracle, attestor, ids, nextRound } = await deploy({ ok: 1, max: 2, floor: 0.6 });
    for (const i of [1, 2]) server.set(`/rpc/${i}`, { delayMs: 30 });
    try {
      for (let round = 1; round <= 2; round++) {
        const r = (await attestor.probeRound()).report!;
        const [v1, v2] = decodeValues(r.values);
        expect(v1).to.deep.equal({ healthBps: 6_000, badRounds: 0, goodRounds: 0 });
        expect(v2).to.deep.equal({ healthBps: 6_000, badRounds: round, goodRounds: 0 });
        await (await submitOne(oracle, r)).wait();
        await nextRound();
      }
      expect((await oracle.statusOf(ids[1])).status).to.equal(BigInt(Status.DOWN));
      expect((await oracle.statusOf(ids[0])).status).to.equal(BigInt(Status.DEGRADED));
    } finally {
      for (const i of [1, 2]) server.set(`/rpc/${i}`, { delayMs: 0 });
    }
  });
});
