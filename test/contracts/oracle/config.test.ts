/**
 * HealthOracle v2: deployment, the attestor set, policies, and the state before the first set.
 */
import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import {
  attestorWallets,
  expectedConfigDigest,
  signRound,
  sortAddresses,
  sortSigners,
  submitArgs,
} from "../../helpers/attest";
import {
  DOWN,
  EP1,
  EP2,
  LISTENER_GAS,
  MAX_SKEW,
  POLICY,
  ROUND_SECONDS,
  UNKNOWN,
  deployOracle,
  health,
  nextSlot,
  oracleFixture,
  submitRound,
  type PolicyStruct,
} from "./fixture";
import { bad } from "../../helpers/attest";

const policyTuple = (p: PolicyStruct) => [
  p.downBelowBps,
  p.upAtBps,
  p.fallRounds,
  p.riseRounds,
  p.heartbeat,
  p.maxAge,
];

async function unconfiguredFixture() {
  const [owner, other] = await ethers.getSigners();
  const oracle = await deployOracle();
  return { oracle, owner, other, attestors: await sortSigners(attestorWallets(4, "oracle-v2")) };
}

describe("HealthOracle v2: configuration", function () {
  describe("deployment", function () {
    it("exposes its immutables and the EIP-712 domain (name 'Vigil HealthOracle', version 2) through ERC-5267", async function () {
      const { oracle } = await loadFixture(oracleFixture);
      expect(await oracle.roundSeconds()).to.equal(ROUND_SECONDS);
      expect(await oracle.maxSkew()).to.equal(MAX_SKEW);
      expect(await oracle.listenerGasLimit()).to.equal(LISTENER_GAS);
      expect(await oracle.MAX_LISTENERS()).to.equal(4n);
      const d = await oracle.eip712Domain();
      expect(d.name).to.equal("Vigil HealthOracle");
      expect(d.version).to.equal("2");
      expect(d.chainId).to.equal((await ethers.provider.getNetwork()).chainId);
      expect(d.verifyingContract).to.equal(await oracle.getAddress());
    });

    it("uses the Report typehash of the documented preimage", async function () {
      const { oracle } = await loadFixture(oracleFixture);
      expect(await oracle.REPORT_TYPEHASH()).to.equal(
        ethers.id(
          "Report(bytes32 configDigest,uint64 round,uint64 observedAt,bytes32[] endpointIds,bytes values)",
        ),
      );
    });

    it("stores the default policy and announces it", async function () {
      const oracle = await deployOracle();
      await expect(oracle.deploymentTransaction())
        .to.emit(oracle, "DefaultPolicyChanged")
        .withArgs(policyTuple(POLICY));
      expect(await oracle.policyOf(EP1)).to.deep.equal(policyTuple(POLICY));
    });

    for (const [name, roundSeconds, maxSkew, listenerGas] of [
      ["zero roundSeconds", 0n, 5n, 100_000n],
      ["roundSeconds above 2^32-1", 2n ** 32n, 5n, 100_000n],
      ["maxSkew above 2^32-1", 10n, 2n ** 32n, 100_000n],
      ["zero listenerGasLimit", 10n, 5n, 0n],
      ["listenerGasLimit above 2,000,000", 10n, 5n, 2_000_001n],
    ] as const) {
      it(`rejects ${name}`, async function () {
        const [owner] = await ethers.getSigners();
        const factory = await ethers.getContractFactory("HealthOracle");
        await expect(factory.deploy(owner.address, roundSeconds, maxSkew, listenerGas, POLICY))
          .to.be.revertedWithCustomError(factory, "HealthOracleInvalidParameters")
          .withArgs(roundSeconds, maxSkew, listenerGas);
      });
    }

    it("rejects an invalid default policy", async function () {
      const [owner] = await ethers.getSigners();
      const factory = await ethers.getContractFactory("HealthOracle");
      const invalid = { ...POLICY, upAtBps: 4000 };
      await expect(factory.deploy(owner.address, 10, 5, 100_000, invalid))
        .to.be.revertedWithCustomError(factory, "HealthOracleInvalidPolicy")
        .withArgs(policyTuple(invalid));
    });

    it("reads UNKNOWN and zeros for an endpoint never reported", async function () {
      const { oracle } = await loadFixture(oracleFixture);
      expect(await health(oracle, EP1)).to.deep.equal({
        status: UNKNOWN,
        healthBps: 0n,
        since: 0n,
        round: 0n,
        updatedAt: 0n,
        floorBps: 0n,
        ceilingBps: 0n,
      });
    });
  });

  describe("before the first attestor set", function () {
    it("has a zero config digest, an empty set and no one jailed", async function () {
      const { oracle, attestors } = await loadFixture(unconfiguredFixture);
      expect(await oracle.configDigest()).to.equal(ethers.ZeroHash);
      expect(await oracle.attestorSet()).to.deep.equal([0n, 0n, []]);
      expect(await oracle.isJailed(attestors[0].address)).to.equal(false);
    });

    it("rejects every submission with HealthOracleConfigDigestMismatch(0, received), even one claiming the zero digest", async function () {
      const { oracle, attestors } = await loadFixture(unconfiguredFixture);
      const slot = await nextSlot();
      for (const digest of [ethers.ZeroHash, ethers.id("guess")]) {
        const r = await signRound(oracle, attestors, {
          endpointIds: [EP1],
          values: 9000,
          observedAt: slot.observedAt,
          round: slot.round,
          configDigest: digest,
        });
        await expect(oracle.submit(...submitArgs(r)))
          .to.be.revertedWithCustomError(oracle, "HealthOracleConfigDigestMismatch")
          .withArgs(ethers.ZeroHash, digest);
      }
    });
  });

  describe("setAttestors", function () {
    it("stores the set, bumps the version and derives the OCR2-style config digest", async function () {
      const { oracle, attestors } = await loadFixture(unconfiguredFixture);
      const addrs = attestors.map((a) => a.address);
      const chainId = (await ethers.provider.getNetwork()).chainId;
      const digest1 = expectedConfigDigest(chainId, await oracle.getAddress(), 1, addrs, 3);
      await expect(oracle.setAttestors(addrs, 3))
        .to.emit(oracle, "AttestorSetChanged")
        .withArgs(digest1, 1, addrs, 3);
      expect(await oracle.configDigest()).to.equal(digest1);
      expect(await oracle.attestorSet()).to.deep.equal([1n, 3n, addrs]);
      const digest2 = expectedConfigDigest(chainId, await oracle.getAddress(), 2, addrs, 4);
      await expect(oracle.setAttestors(addrs, 4))
        .to.emit(oracle, "AttestorSetChanged")
        .withArgs(digest2, 2, addrs, 4);
      expect(await oracle.configDigest()).to.equal(digest2);
    });

    for (const [n, quorum, ok] of [
      [1, 1, true],
      [1, 0, false],
      [2, 1, false], // f = 0, but 1 of 2 is no majority
      [2, 2, true],
      [3, 2, true],
      [4, 2, false], // f = 1 needs 3
      [4, 3, true],
      [4, 5, false], // more than n
      [6, 3, false], // 2f + 1 = 3 is half of 6, no majority
      [7, 4, false], // f = 2 needs 5
      [7, 5, true],
    ] as const) {
      it(`${ok ? "accepts" : "rejects with HealthOracleInvalidQuorum"} quorum ${quorum} of ${n}`, async function () {
        const { oracle } = await loadFixture(unconfiguredFixture);
        const addrs = sortAddresses(attestorWallets(n, "quorum").map((w) => w.address));
        if (ok) await expect(oracle.setAttestors(addrs, quorum)).to.emit(oracle, "AttestorSetChanged");
        else
          await expect(oracle.setAttestors(addrs, quorum))
            .to.be.revertedWithCustomError(oracle, "HealthOracleInvalidQuorum")
            .withArgs(n, quorum);
      });
    }

    it("rejects an empty set and more than 255 attestors", async function () {
      const { oracle } = await loadFixture(unconfiguredFixture);
      await expect(oracle.setAttestors([], 1))
        .to.be.revertedWithCustomError(oracle, "HealthOracleInvalidQuorum")
        .withArgs(0, 1);
      const addrs = Array.from({ length: 256 }, (_, i) => ethers.zeroPadValue(ethers.toBeHex(i + 1), 20));
      await expect(oracle.setAttestors(addrs, 255))
        .to.be.revertedWithCustomError(oracle, "HealthOracleInvalidQuorum")
        .withArgs(256, 255);
    });

    it("rejects unsorted, duplicate and zero attestors with the index", async function () {
      const { oracle, attestors } = await loadFixture(unconfiguredFixture);
      const [a, b, c, d] = attestors.map((w) => w.address);
      await expect(oracle.setAttestors([a, c, b, d], 3))
        .to.be.revertedWithCustomError(oracle, "HealthOracleAttestorsNotAscending")
        .withArgs(2, b);
      await expect(oracle.setAttestors([a, b, b, d], 3))
        .to.be.revertedWithCustomError(oracle, "HealthOracleAttestorsNotAscending")
        .withArgs(2, b);
      await expect(oracle.setAttestors([ethers.ZeroAddress, a, b, c], 3))
        .to.be.revertedWithCustomError(oracle, "HealthOracleAttestorsNotAscending")
        .withArgs(0, ethers.ZeroAddress);
    });

    it("is owner-only", async function () {
      const { oracle, other, attestors } = await loadFixture(unconfiguredFixture);
      await expect(
        oracle.connect(other).setAttestors(
          attestors.map((a) => a.address),
          3,
        ),
      )
        .to.be.revertedWithCustomError(oracle, "OwnableUnauthorizedAccount")
        .withArgs(other.address);
    });
  });

  describe("policies", function () {
    const invalid: [string, PolicyStruct][] = [
      ["zero downBelowBps", { ...POLICY, downBelowBps: 0 }],
      ["upAtBps equal to downBelowBps", { ...POLICY, upAtBps: 5000 }],
      ["upAtBps above 10000", { ...POLICY, upAtBps: 10001 }],
      ["zero fallRounds", { ...POLICY, fallRounds: 0 }],
      ["zero riseRounds", { ...POLICY, riseRounds: 0 }],
      ["zero heartbeat", { ...POLICY, heartbeat: 0 }],
      ["zero maxAge", { ...POLICY, maxAge: 0 }],
    ];
    for (const [name, policy] of invalid) {
      it(`rejects a policy with ${name}`, async function () {
        const { oracle } = await loadFixture(oracleFixture);
        await expect(oracle.setDefaultPolicy(policy))
          .to.be.revertedWithCustomError(oracle, "HealthOracleInvalidPolicy")
          .withArgs(policyTuple(policy));
        await expect(oracle.setEndpointPolicy(EP1, policy))
          .to.be.revertedWithCustomError(oracle, "HealthOracleInvalidPolicy")
          .withArgs(policyTuple(policy));
      });
    }

    it("gives an endpoint its own policy and takes it back to the default", async function () {
      const { oracle } = await loadFixture(oracleFixture);
      const own = {
        downBelowBps: 1,
        upAtBps: 10000,
        fallRounds: 1,
        riseRounds: 255,
        heartbeat: 2 ** 32 - 1,
        maxAge: 1,
      };
      await expect(oracle.setEndpointPolicy(EP1, own))
        .to.emit(oracle, "EndpointPolicyChanged")
        .withArgs(EP1, policyTuple(own), false);
      expect(await oracle.policyOf(EP1)).to.deep.equal(policyTuple(own));
      expect(await oracle.policyOf(EP2)).to.deep.equal(policyTuple(POLICY));
      await expect(oracle.clearEndpointPolicy(EP1))
        .to.emit(oracle, "EndpointPolicyChanged")
        .withArgs(EP1, policyTuple(POLICY), true);
      expect(await oracle.policyOf(EP1)).to.deep.equal(policyTuple(POLICY));
      const changed = { ...POLICY, fallRounds: 5 };
      await expect(oracle.setDefaultPolicy(changed))
        .to.emit(oracle, "DefaultPolicyChanged")
        .withArgs(policyTuple(changed));
      expect(await oracle.policyOf(EP1)).to.deep.equal(policyTuple(changed));
    });

    it("keeps an endpoint's stored state when its policy changes", async function () {
      const fx = await loadFixture(oracleFixture);
      await submitRound(fx, [EP1], bad(3));
      const before = await health(fx.oracle, EP1);
      expect(before.status).to.equal(DOWN);
      await fx.oracle.setEndpointPolicy(EP1, { ...POLICY, fallRounds: 9 });
      expect(await health(fx.oracle, EP1)).to.deep.equal(before);
      await fx.oracle.clearEndpointPolicy(EP1);
      expect(await health(fx.oracle, EP1)).to.deep.equal(before);
    });

    it("is owner-only", async function () {
      const { oracle, other } = await loadFixture(oracleFixture);
      for (const call of [
        () => oracle.connect(other).setDefaultPolicy(POLICY),
        () => oracle.connect(other).setEndpointPolicy(EP1, POLICY),
        () => oracle.connect(other).clearEndpointPolicy(EP1),
        () => oracle.connect(other).addStatusListener(other.address),
        () => oracle.connect(other).removeStatusListener(other.address),
      ]) {
        await expect(call())
          .to.be.revertedWithCustomError(oracle, "OwnableUnauthorizedAccount")
          .withArgs(other.address);
      }
    });
  });
});
