import { expect } from "chai";
import hre from "hardhat";
import { Attestor } from "../../keepers/attestor/attestor";
import { attestorConfigSchema } from "../../keepers/attestor/config";
import { contractOracleReader, staticEndpointSource } from "../../keepers/attestor/sources";
import { EndpointKind } from "../../keepers/shared/health";
import { createLogger } from "../../keepers/shared/logger";
import { Metrics } from "../../keepers/shared/metrics";
import { observationDigest, recoverObservationSigner } from "../../keepers/shared/observation";
import { FakeRpcServer } from "../../scripts/bench/fakeRpc";

/**
 * Signing against the real HealthOracle: the digest the attestor signs equals the contract's own
 * `observationDigest`, and the oracle accepts the signature. Skipped (with a message) on a checkout
 * without contracts/HealthOracle.sol.
 */
describe("attestor signing against the HealthOracle contract", function () {
  let server: FakeRpcServer;

  before(async function () {
    if (!(await hre.artifacts.artifactExists("HealthOracle"))) {
      // eslint-disable-next-line no-console
      console.log("      (skipped: HealthOracle is not on this branch yet; merge main)");
      this.skip();
    }
    server = await new FakeRpcServer({ chainId: 31337 }).start();
  });
  after(async function () {
    await server?.close();
  });

  it("signs the contract's observationDigest with the attestor key, and submit accepts it", async function () {
    const [owner] = await hre.ethers.getSigners();
    const attestorWallet = hre.ethers.Wallet.createRandom();
    const policy = {
      downBelowBps: 5_000,
      upAtBps: 8_000,
      fallRounds: 2,
      riseRounds: 2,
      heartbeat: 3_600,
      maxAge: 600,
    };
    const factory = await hre.ethers.getContractFactory("HealthOracle");
    const oracle = (await factory.deploy(owner.address, 12, 30, 200_000, policy)) as unknown as {
      getAddress(): Promise<string>;
      setAttestors(a: string[], q: number): Promise<{ wait(): Promise<unknown> }>;
      observationDigest(c: string, e: string, r: number, h: number, o: number): Promise<string>;
      submit(
        c: string,
        e: string,
        r: number,
        obs: Array<{ healthBps: number; observedAt: number; signature: string }>,
      ): Promise<{ wait(): Promise<{ logs: unknown[] }> }>;
    };
    await (await oracle.setAttestors([attestorWallet.address], 1)).wait();
    const address = await oracle.getAddress();

    const endpointId = "0x" + "e1".repeat(32);
    const latest = await hre.ethers.provider.getBlock("latest");
    const attestor = new Attestor({
      config: attestorConfigSchema.parse({
        rpcUrls: ["http://127.0.0.1:8545"],
        chainId: 31337,
        oracle: address,
        registry: "0x" + "88".repeat(20),
        services: ["0x" + "5".repeat(64)],
        expectedChainIds: { ["0x" + "5".repeat(64)]: 31337 },
        allowPrivateTargets: true, // the fake RPC server is on loopback
        probeIntervalMs: 5_000,
        timeoutMs: 1_000,
      }),
      signer: attestorWallet,
      address: attestorWallet.address,
      endpoints: staticEndpointSource([
        {
          id: endpointId,
          serviceId: "0x" + "5".repeat(64),
          kind: EndpointKind.JSON_RPC,
          uri: server.url("/rpc"),
          priority: 0,
        },
      ]),
      oracle: contractOracleReader(address, hre.ethers.provider),
      logger: createLogger("test", { level: "silent" }),
      metrics: new Metrics(false),
      now: () => latest!.timestamp * 1000, // the chain's clock
    });
    await attestor.refreshOracle();
    await attestor.refreshEndpoints();
    const state = attestor.oracleState!;
    expect(state.domain.name).to.equal("Vigil HealthOracle");
    expect(state.domain.verifyingContract).to.equal(address);

    const outcome = await attestor.probeEndpoint(endpointId);
    const o = outcome!.observation!;
    const onChain = await oracle.observationDigest(
      o.configDigest,
      o.endpointId,
      o.round,
      o.healthBps,
      o.observedAt,
    );
    expect(observationDigest(state.domain, o)).to.equal(onChain);
    expect(recoverObservationSigner(state.domain, o, o.signature)).to.equal(attestorWallet.address);

    const receipt = await (
      await oracle.submit(o.configDigest, o.endpointId, o.round, [
        { healthBps: o.healthBps, observedAt: o.observedAt, signature: o.signature },
      ])
    ).wait();
    expect(receipt.logs.length).to.be.greaterThan(0);
  });
});
