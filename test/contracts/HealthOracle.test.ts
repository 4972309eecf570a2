import { expect } from "chai";
import hre, { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { anyValue } from "@nomicfoundation/hardhat-chai-matchers/withArgs";
import fc from "fast-check";
import type { HealthOracle } from "../../typechain-types";
import {
  OBSERVATION_TYPES,
  attest,
  attestorWallets,
  endpointIdOf,
  expectedConfigDigest,
  observationDomain,
  signObservation,
  sortAddresses,
  sortSigners,
  submitArgs,
  toReport,
  type AttestedRound,
  type SignedObservation,
} from "../helpers/attest";

// Status codes of IHealthOracle.Status.
const UNKNOWN = 0n;
const HEALTHY = 1n;
const DEGRADED = 2n;
const DOWN = 3n;

const ROUND_SECONDS = 30n;
const MAX_SKEW = 15n;
const LISTENER_GAS = 100_000n;
const LISTENER_GAS_MARGIN = 5_000n; // _LISTENER_GAS_MARGIN in HealthOracle.sol
const POLICY = {
  downBelowBps: 5000,
  upAtBps: 8000,
  fallRounds: 3,
  riseRounds: 2,
  heartbeat: 300,
  maxAge: 120,
};
const policyTuple = (p: typeof POLICY) => [
  p.downBelowBps,
  p.upAtBps,
  p.fallRounds,
  p.riseRounds,
  p.heartbeat,
  p.maxAge,
];

const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const EP = endpointIdOf("eth-mainnet-rpc/node-a");
const EP2 = endpointIdOf("eth-mainnet-rpc/node-b");
const EP3 = endpointIdOf("eth-usd-feed/primary");

const coverage =
  (hre as unknown as { __SOLIDITY_COVERAGE_RUNNING?: boolean }).__SOLIDITY_COVERAGE_RUNNING === true;

async function deployOracle(overrides: Partial<{ listenerGas: bigint; policy: typeof POLICY }> = {}) {
  const [owner] = await ethers.getSigners();
  return ethers.deployContract("HealthOracle", [
    owner.address,
    ROUND_SECONDS,
    MAX_SKEW,
    overrides.listenerGas ?? LISTENER_GAS,
    overrides.policy ?? POLICY,
  ]) as unknown as Promise<HealthOracle>;
}

/** 4 attestors, quorum 3 (n = 4 tolerates f = 1), default policy. */
async function oracleFixture() {
  const [owner, other] = await ethers.getSigners();
  const oracle = await deployOracle();
  const attestors = await sortSigners(attestorWallets(4, "oracle-test"));
  const outsider = attestorWallets(1, "outsider")[0];
  await oracle.setAttestors(
    attestors.map((a) => a.address),
    3,
  );
  return { oracle, owner, other, attestors, outsider };
}

async function unconfiguredOracleFixture() {
  const [owner, other] = await ethers.getSigners();
  const oracle = await deployOracle();
  return { oracle, owner, other, attestors: await sortSigners(attestorWallets(4, "oracle-test")) };
}

async function listenersFixture() {
  const fx = await oracleFixture();
  const recorder = await ethers.deployContract("MockListenerRecording");
  const reverter = await ethers.deployContract("MockListenerReverting");
  const burner = await ethers.deployContract("MockListenerGasBurning");
  const bomb = await ethers.deployContract("MockListenerReturnBomb", [60_000]);
  const reentrant = await ethers.deployContract("MockListenerReentrant");
  return { ...fx, recorder, reverter, burner, bomb, reentrant };
}

type Fx = Awaited<ReturnType<typeof oracleFixture>>;

/** Times inside the next round: the block lands at `start + blockOffset`, attestors observed at `start + 5`. */
async function nextSlot(blockOffset = 10n) {
  const now = BigInt(await time.latest());
  const start = (now / ROUND_SECONDS + 1n) * ROUND_SECONDS;
  return { start, blockTime: start + blockOffset, observedAt: start + 5n, round: start / ROUND_SECONDS };
}

/** Have `signers` attest `healthBps` for `endpointId` in the next round and submit it in a block at a known time. */
async function submitRound(
  fx: Pick<Fx, "oracle" | "attestors">,
  endpointId: string,
  healthBps: number | number[],
  signers = fx.attestors.slice(0, 3),
) {
  const slot = await nextSlot();
  const r = await attest(fx.oracle, signers, { endpointId, observedAt: slot.observedAt, healthBps });
  await time.setNextBlockTimestamp(slot.blockTime);
  const tx = await fx.oracle.submit(...submitArgs(r));
  return { tx, r, ...slot };
}

async function statusOf(oracle: HealthOracle, id: string) {
  const h = await oracle.statusOf(id);
  return { status: h.status, healthBps: h.healthBps, since: h.since, round: h.round, updatedAt: h.updatedAt };
}

/** Replace observation 0's signature and return the round. */
function withSignature(r: AttestedRound, signature: string): AttestedRound {
  const observations = r.observations.map((o, i) => (i === 0 ? { ...o, signature } : o));
  return { ...r, observations };
}

function splitSig(sig: string) {
  const b = ethers.getBytes(sig);
  return { r: b.slice(0, 32), s: b.slice(32, 64), v: b[64] };
}

function joinSig(r: Uint8Array, s: Uint8Array, v: number) {
  return ethers.concat([r, s, new Uint8Array([v])]);
}

/** The signer a (possibly mangled) 65-byte signature recovers to under `digest`, or null if it does not recover. */
function recoverOrNull(digest: string, sig: string): string | null {
  try {
    return ethers.recoverAddress(digest, sig);
  } catch {
    return null;
  }
}

describe("HealthOracle", function () {
  describe("deployment", function () {
    it("exposes its immutables and the EIP-712 domain through ERC-5267", async function () {
      const { oracle } = await loadFixture(oracleFixture);
      expect(await oracle.roundSeconds()).to.equal(ROUND_SECONDS);
      expect(await oracle.maxSkew()).to.equal(MAX_SKEW);
      expect(await oracle.listenerGasLimit()).to.equal(LISTENER_GAS);
      expect(await oracle.MAX_LISTENERS()).to.equal(4n);
      const d = await oracle.eip712Domain();
      expect(d.name).to.equal("Vigil HealthOracle");
      expect(d.version).to.equal("1");
      expect(d.chainId).to.equal((await ethers.provider.getNetwork()).chainId);
      expect(d.verifyingContract).to.equal(await oracle.getAddress());
    });

    it("uses the Observation typehash of the documented preimage", async function () {
      const { oracle } = await loadFixture(oracleFixture);
      expect(await oracle.OBSERVATION_TYPEHASH()).to.equal(
        ethers.id(
          "Observation(bytes32 configDigest,bytes32 endpointId,uint64 round,uint16 healthBps,uint64 observedAt)",
        ),
      );
    });

    it("stores the default policy and announces it", async function () {
      const oracle = await deployOracle();
      await expect(oracle.deploymentTransaction())
        .to.emit(oracle, "DefaultPolicyChanged")
        .withArgs(policyTuple(POLICY));
      expect(await oracle.policyOf(EP)).to.deep.equal(policyTuple(POLICY));
    });

    for (const [name, roundSeconds, maxSkew, listenerGas] of [
      ["zero roundSeconds", 0n, 15n, 100_000n],
      ["roundSeconds above 2^32-1", 2n ** 32n, 15n, 100_000n],
      ["maxSkew above 2^32-1", 30n, 2n ** 32n, 100_000n],
      ["zero listenerGasLimit", 30n, 15n, 0n],
      ["listenerGasLimit above 2,000,000", 30n, 15n, 2_000_001n],
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
      const bad = { ...POLICY, upAtBps: 4000 };
      await expect(factory.deploy(owner.address, 30, 15, 100_000, bad))
        .to.be.revertedWithCustomError(factory, "HealthOracleInvalidPolicy")
        .withArgs(policyTuple(bad));
    });

    it("reports UNKNOWN and zeros for an endpoint never seen", async function () {
      const { oracle } = await loadFixture(oracleFixture);
      expect(await statusOf(oracle, EP)).to.deep.equal({
        status: UNKNOWN,
        healthBps: 0n,
        since: 0n,
        round: 0n,
        updatedAt: 0n,
      });
    });
  });

  describe("before the first attestor set", function () {
    it("has a zero config digest and an empty set", async function () {
      const { oracle } = await loadFixture(unconfiguredOracleFixture);
      expect(await oracle.configDigest()).to.equal(ethers.ZeroHash);
      const [version, quorum, attestors] = await oracle.attestorSet();
      expect([version, quorum, attestors]).to.deep.equal([0n, 0n, []]);
    });

    it("rejects every submission, even one claiming the zero digest", async function () {
      const { oracle, attestors } = await loadFixture(unconfiguredOracleFixture);
      const slot = await nextSlot();
      for (const digest of [ethers.ZeroHash, ethers.id("guess")]) {
        const r = await attest(oracle, attestors, {
          endpointId: EP,
          observedAt: slot.observedAt,
          healthBps: 9000,
          configDigest: digest,
        });
        await expect(oracle.submit(...submitArgs(r)))
          .to.be.revertedWithCustomError(oracle, "HealthOracleConfigDigestMismatch")
          .withArgs(ethers.ZeroHash, digest);
        await expect(oracle.submitBatch(digest, [toReport(r)]))
          .to.be.revertedWithCustomError(oracle, "HealthOracleConfigDigestMismatch")
          .withArgs(ethers.ZeroHash, digest);
      }
    });
  });

  describe("setAttestors", function () {
    it("stores the set, bumps the version and derives the OCR2-style config digest", async function () {
      const { oracle, attestors } = await loadFixture(unconfiguredOracleFixture);
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
      expect(digest2).to.not.equal(digest1);
    });

    for (const [n, quorum, ok] of [
      [1, 1, true],
      [1, 0, false],
      [2, 1, false], // f = 0, but 1 of 2 is no majority
      [2, 2, true],
      [3, 1, false], // f = 0, but 1 of 3 is no majority
      [3, 2, true],
      [4, 2, false], // f = 1 needs 3
      [4, 3, true],
      [4, 4, true],
      [4, 5, false], // more than n
      [6, 3, false], // 2f + 1 = 3 is half of 6, no majority
      [6, 4, true],
      [7, 4, false], // f = 2 needs 5
      [7, 5, true],
      [10, 7, true], // f = 3
      [10, 6, false],
    ] as const) {
      it(`${ok ? "accepts" : "rejects"} quorum ${quorum} of ${n}`, async function () {
        const { oracle } = await loadFixture(unconfiguredOracleFixture);
        const addrs = sortAddresses(attestorWallets(n, "quorum").map((w) => w.address));
        if (ok) {
          await expect(oracle.setAttestors(addrs, quorum)).to.emit(oracle, "AttestorSetChanged");
        } else {
          await expect(oracle.setAttestors(addrs, quorum))
            .to.be.revertedWithCustomError(oracle, "HealthOracleInvalidQuorum")
            .withArgs(n, quorum);
        }
      });
    }

    it("rejects an empty set", async function () {
      const { oracle } = await loadFixture(unconfiguredOracleFixture);
      await expect(oracle.setAttestors([], 1))
        .to.be.revertedWithCustomError(oracle, "HealthOracleInvalidQuorum")
        .withArgs(0, 1);
    });

    it("rejects more than 255 attestors", async function () {
      const { oracle } = await loadFixture(unconfiguredOracleFixture);
      const addrs = Array.from({ length: 256 }, (_, i) => ethers.zeroPadValue(ethers.toBeHex(i + 1), 20));
      await expect(oracle.setAttestors(addrs, 255))
        .to.be.revertedWithCustomError(oracle, "HealthOracleInvalidQuorum")
        .withArgs(256, 255);
    });

    it("accepts 255 attestors and stores them all", async function () {
      const { oracle } = await loadFixture(unconfiguredOracleFixture);
      const addrs = Array.from({ length: 255 }, (_, i) =>
        ethers.getAddress(ethers.zeroPadValue(ethers.toBeHex(i + 1), 20)),
      );
      await oracle.setAttestors(addrs, 171);
      expect((await oracle.attestorSet())[2]).to.deep.equal(addrs);
    });

    it("rejects unsorted, duplicate and zero attestors", async function () {
      const { oracle, attestors } = await loadFixture(unconfiguredOracleFixture);
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
      const { oracle, other, attestors } = await loadFixture(unconfiguredOracleFixture);
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
    it("accepts rounds under a maxAge that reaches back past the Unix epoch (no underflow)", async function () {
      const fx = await loadFixture(oracleFixture);
      await fx.oracle.setEndpointPolicy(EP, { ...POLICY, maxAge: 2 ** 32 - 1 });
      const { tx } = await submitRound(fx, EP, 9000);
      await expect(tx).to.emit(fx.oracle, "RoundAccepted");
    });

    const invalid: [string, typeof POLICY][] = [
      ["zero downBelowBps", { ...POLICY, downBelowBps: 0 }],
      ["upAtBps equal to downBelowBps", { ...POLICY, upAtBps: 5000 }],
      ["upAtBps below downBelowBps", { ...POLICY, upAtBps: 4000 }],
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
        await expect(oracle.setEndpointPolicy(EP, policy))
          .to.be.revertedWithCustomError(oracle, "HealthOracleInvalidPolicy")
          .withArgs(policyTuple(policy));
      });
    }

    it("replaces the default policy", async function () {
      const { oracle } = await loadFixture(oracleFixture);
      const p = { ...POLICY, fallRounds: 5, maxAge: 60 };
      await expect(oracle.setDefaultPolicy(p))
        .to.emit(oracle, "DefaultPolicyChanged")
        .withArgs(policyTuple(p));
      expect(await oracle.policyOf(EP)).to.deep.equal(policyTuple(p));
    });

    it("gives an endpoint its own policy and takes it back", async function () {
      const { oracle } = await loadFixture(oracleFixture);
      const p = {
        downBelowBps: 1,
        upAtBps: 10000,
        fallRounds: 1,
        riseRounds: 255,
        heartbeat: 2 ** 32 - 1,
        maxAge: 1,
      };
      await expect(oracle.setEndpointPolicy(EP, p))
        .to.emit(oracle, "EndpointPolicyChanged")
        .withArgs(EP, policyTuple(p), false);
      expect(await oracle.policyOf(EP)).to.deep.equal(policyTuple(p));
      expect(await oracle.policyOf(EP2)).to.deep.equal(policyTuple(POLICY));
      await expect(oracle.clearEndpointPolicy(EP))
        .to.emit(oracle, "EndpointPolicyChanged")
        .withArgs(EP, policyTuple(POLICY), true);
      expect(await oracle.policyOf(EP)).to.deep.equal(policyTuple(POLICY));
    });

    it("applies an endpoint's own policy to its status", async function () {
      const fx = await loadFixture(oracleFixture);
      await fx.oracle.setEndpointPolicy(EP, { ...POLICY, fallRounds: 1 });
      await submitRound(fx, EP, 1000);
      await submitRound(fx, EP2, 1000);
      expect((await fx.oracle.statusOf(EP)).status).to.equal(DOWN);
      expect((await fx.oracle.statusOf(EP2)).status).to.equal(UNKNOWN);
    });

    it("keeps an endpoint's state when its policy changes", async function () {
      const fx = await loadFixture(oracleFixture);
      await submitRound(fx, EP, 9000);
      const before = await statusOf(fx.oracle, EP);
      await fx.oracle.setEndpointPolicy(EP, { ...POLICY, riseRounds: 1 });
      expect(await statusOf(fx.oracle, EP)).to.deep.equal(before);
      await fx.oracle.clearEndpointPolicy(EP);
      expect(await statusOf(fx.oracle, EP)).to.deep.equal(before);
    });

    it("is owner-only", async function () {
      const { oracle, other } = await loadFixture(oracleFixture);
      // Thunks: each call is sent only when awaited, so no rejection goes unhandled in between.
      for (const call of [
        () => oracle.connect(other).setDefaultPolicy(POLICY),
        () => oracle.connect(other).setEndpointPolicy(EP, POLICY),
        () => oracle.connect(other).clearEndpointPolicy(EP),
        () => oracle.connect(other).addStatusListener(other.address),
        () => oracle.connect(other).removeStatusListener(other.address),
      ]) {
        await expect(call())
          .to.be.revertedWithCustomError(oracle, "OwnableUnauthorizedAccount")
          .withArgs(other.address);
      }
    });
  });

  describe("submit", function () {
    describe("accepting a round", function () {
      it("stores the median and emits RoundAccepted and StatusChanged", async function () {
        const fx = await loadFixture(oracleFixture);
        const { tx, round, blockTime } = await submitRound(fx, EP, [9000, 8500, 9500]);
        await expect(tx).to.emit(fx.oracle, "RoundAccepted").withArgs(EP, round, 9000, 3);
        await expect(tx).to.emit(fx.oracle, "StatusChanged").withArgs(EP, UNKNOWN, DEGRADED, blockTime);
        expect(await statusOf(fx.oracle, EP)).to.deep.equal({
          status: DEGRADED,
          healthBps: 9000n,
          since: blockTime,
          round,
          updatedAt: blockTime,
        });
      });

      it("counts every member beyond the quorum and takes the lower median of an even count", async function () {
        const fx = await loadFixture(oracleFixture);
        const { tx, round } = await submitRound(fx, EP, [1000, 9000, 3000, 7000], fx.attestors);
        await expect(tx).to.emit(fx.oracle, "RoundAccepted").withArgs(EP, round, 3000, 4);
      });

      it("accepts a quorum of non-consecutive members", async function () {
        const fx = await loadFixture(oracleFixture);
        const signers = [fx.attestors[0], fx.attestors[2], fx.attestors[3]];
        const { tx, round } = await submitRound(fx, EP, 9000, signers);
        await expect(tx).to.emit(fx.oracle, "RoundAccepted").withArgs(EP, round, 9000, 3);
      });

      it("accepts 64-byte EIP-2098 signatures, alone or mixed with 65-byte ones", async function () {
        const fx = await loadFixture(oracleFixture);
        const slot = await nextSlot();
        const compact = await attest(
          fx.oracle,
          fx.attestors.slice(0, 3),
          { endpointId: EP, observedAt: slot.observedAt, healthBps: 9000 },
          { compact: true },
        );
        expect(compact.observations.every((o) => ethers.dataLength(o.signature) === 64)).to.equal(true);
        await time.setNextBlockTimestamp(slot.blockTime);
        await expect(fx.oracle.submit(...submitArgs(compact)))
          .to.emit(fx.oracle, "RoundAccepted")
          .withArgs(EP, slot.round, 9000, 3);

        const slot2 = await nextSlot();
        const full = await attest(fx.oracle, fx.attestors.slice(0, 3), {
          endpointId: EP,
          observedAt: slot2.observedAt,
          healthBps: 8000,
        });
        const mixed = withSignature(
          full,
          ethers.Signature.from(full.observations[0].signature).compactSerialized,
        );
        await time.setNextBlockTimestamp(slot2.blockTime);
        await expect(fx.oracle.submit(...submitArgs(mixed)))
          .to.emit(fx.oracle, "RoundAccepted")
          .withArgs(EP, slot2.round, 8000, 3);
      });

      it("computes the same digest as ethers' EIP-712 encoder", async function () {
        const { oracle } = await loadFixture(oracleFixture);
        const value = {
          configDigest: await oracle.configDigest(),
          endpointId: EP,
          round: 58_000_000n,
          healthBps: 7321,
          observedAt: 1_740_000_017n,
        };
        const expected = ethers.TypedDataEncoder.hash(
          await observationDomain(oracle),
          OBSERVATION_TYPES,
          value,
        );
        expect(
          await oracle.observationDigest(
            value.configDigest,
            value.endpointId,
            value.round,
            value.healthBps,
            value.observedAt,
          ),
        ).to.equal(expected);
      });

      it("lets anyone relay, since only the signatures count", async function () {
        const fx = await loadFixture(oracleFixture);
        const slot = await nextSlot();
        const r = await attest(fx.oracle, fx.attestors.slice(0, 3), {
          endpointId: EP,
          observedAt: slot.observedAt,
          healthBps: 9000,
        });
        await time.setNextBlockTimestamp(slot.blockTime);
        await expect(fx.oracle.connect(fx.other).submit(...submitArgs(r))).to.emit(
          fx.oracle,
          "RoundAccepted",
        );
      });
    });

    describe("rejections", function () {
      async function prepared(
        fx: Fx,
        healthBps: number | number[] = 9000,
        signers = fx.attestors.slice(0, 3),
      ) {
        const slot = await nextSlot();
        const r = await attest(fx.oracle, signers, {
          endpointId: EP,
          observedAt: slot.observedAt,
          healthBps,
        });
        await time.setNextBlockTimestamp(slot.blockTime);
        return { r, ...slot };
      }

      it("rejects fewer signatures than the quorum", async function () {
        const fx = await loadFixture(oracleFixture);
        const { r } = await prepared(fx, 9000, fx.attestors.slice(0, 2));
        await expect(fx.oracle.submit(...submitArgs(r)))
          .to.be.revertedWithCustomError(fx.oracle, "HealthOracleInsufficientSignatures")
          .withArgs(2, 3);
        await expect(fx.oracle.submit(r.configDigest, EP, r.round, []))
          .to.be.revertedWithCustomError(fx.oracle, "HealthOracleInsufficientSignatures")
          .withArgs(0, 3);
      });

      it("rejects the same attestor twice", async function () {
        const fx = await loadFixture(oracleFixture);
        const { r } = await prepared(fx);
        const obs = [r.observations[0], r.observations[0], r.observations[1]];
        await expect(fx.oracle.submit(r.configDigest, EP, r.round, obs))
          .to.be.revertedWithCustomError(fx.oracle, "HealthOracleDuplicateSigner")
          .withArgs(1, obs[0].signer);
      });

      it("rejects signers out of ascending order", async function () {
        const fx = await loadFixture(oracleFixture);
        const { r } = await prepared(fx);
        const obs = [r.observations[1], r.observations[0], r.observations[2]];
        await expect(fx.oracle.submit(r.configDigest, EP, r.round, obs))
          .to.be.revertedWithCustomError(fx.oracle, "HealthOracleSignersNotAscending")
          .withArgs(1, obs[1].signer);
      });

      it("rejects an outsider key", async function () {
        const fx = await loadFixture(oracleFixture);
        const { r } = await prepared(fx, 9000, [fx.attestors[0], fx.attestors[1], fx.outsider]);
        const position = r.observations.findIndex((o) => o.signer === fx.outsider.address);
        await expect(fx.oracle.submit(...submitArgs(r)))
          .to.be.revertedWithCustomError(fx.oracle, "HealthOracleUnknownSigner")
          .withArgs(position, fx.outsider.address);
      });

      it("rejects health above 10000 bps", async function () {
        const fx = await loadFixture(oracleFixture);
        const { r } = await prepared(fx, [10001, 9000, 9000]);
        const position = r.observations.findIndex((o) => o.healthBps === 10001);
        await expect(fx.oracle.submit(...submitArgs(r)))
          .to.be.revertedWithCustomError(fx.oracle, "HealthOracleHealthOutOfRange")
          .withArgs(position, 10001);
      });

      describe("malformed signatures", function () {
        const mangles: [string, (sig: string) => string][] = [
          ["an empty signature", () => "0x"],
          ["a 63-byte signature", (sig) => ethers.dataSlice(sig, 0, 63)],
          ["a 66-byte signature", (sig) => ethers.concat([sig, "0x00"])],
          [
            "a high-s signature (the malleable twin)",
            (sig) => {
              const { r, s, v } = splitSig(sig);
              const highS = ethers.getBytes(ethers.toBeHex(SECP256K1_N - BigInt(ethers.hexlify(s)), 32));
              return joinSig(r, highS, v === 27 ? 28 : 27);
            },
          ],
          ["v = 0", (sig) => joinSig(splitSig(sig).r, splitSig(sig).s, 0)],
          ["v = 1", (sig) => joinSig(splitSig(sig).r, splitSig(sig).s, 1)],
          ["v = 29", (sig) => joinSig(splitSig(sig).r, splitSig(sig).s, 29)],
          ["r = 0", (sig) => joinSig(new Uint8Array(32), splitSig(sig).s, splitSig(sig).v)],
          ["s = 0", (sig) => joinSig(splitSig(sig).r, new Uint8Array(32), splitSig(sig).v)],
          ["64 bytes of zeros", () => ethers.hexlify(new Uint8Array(64))],
        ];
        for (const [name, mangle] of mangles) {
          it(`rejects ${name}`, async function () {
            const fx = await loadFixture(oracleFixture);
            const { r } = await prepared(fx);
            const bad = withSignature(r, mangle(r.observations[0].signature));
            await expect(fx.oracle.submit(...submitArgs(bad)))
              .to.be.revertedWithCustomError(fx.oracle, "HealthOracleMalformedSignature")
              .withArgs(0);
          });
        }

        for (const [part, byte] of [
          ["r", 31],
          ["s", 63],
          ["r", 0],
        ] as const) {
          it(`rejects a signature with a flipped bit in ${part} (byte ${byte})`, async function () {
            const fx = await loadFixture(oracleFixture);
            const { r } = await prepared(fx);
            const bytes = ethers.getBytes(r.observations[0].signature);
            bytes[byte] ^= 1;
            const sig = ethers.hexlify(bytes);
            const o = r.observations[0];
            const digest = await fx.oracle.observationDigest(
              r.configDigest,
              EP,
              r.round,
              o.healthBps,
              o.observedAt,
            );
            const recovered = recoverOrNull(digest, sig);
            const tx = fx.oracle.submit(...submitArgs(withSignature(r, sig)));
            if (recovered === null) {
              await expect(tx)
                .to.be.revertedWithCustomError(fx.oracle, "HealthOracleMalformedSignature")
                .withArgs(0);
            } else {
              expect(recovered).to.not.equal(o.signer);
              await expect(tx)
                .to.be.revertedWithCustomError(fx.oracle, "HealthOracleUnknownSigner")
                .withArgs(0, recovered);
            }
          });
        }
      });

      describe("replay across configurations and domains", function () {
        it("rejects a submission for the previous attestor set after rotation", async function () {
          const fx = await loadFixture(oracleFixture);
          const { r } = await prepared(fx);
          await fx.oracle.setAttestors(
            fx.attestors.map((a) => a.address),
            4,
          );
          const current = await fx.oracle.configDigest();
          await expect(fx.oracle.submit(...submitArgs(r)))
            .to.be.revertedWithCustomError(fx.oracle, "HealthOracleConfigDigestMismatch")
            .withArgs(current, r.configDigest);
        });

        it("counts no signature made under the previous digest even when relayed with the new one", async function () {
          const fx = await loadFixture(oracleFixture);
          const { r } = await prepared(fx, 9000, fx.attestors);
          await fx.oracle.setAttestors(
            fx.attestors.map((a) => a.address),
            4,
          );
          const current = await fx.oracle.configDigest();
          const o = r.observations[0];
          const digest = await fx.oracle.observationDigest(current, EP, r.round, o.healthBps, o.observedAt);
          await expect(fx.oracle.submit(current, EP, r.round, r.observations))
            .to.be.revertedWithCustomError(fx.oracle, "HealthOracleUnknownSigner")
            .withArgs(0, ethers.recoverAddress(digest, o.signature));
        });

        for (const [name, override] of [
          ["another chain id", { chainId: 1n }],
          ["another verifying contract", { verifyingContract: "0x000000000000000000000000000000000000dEaD" }],
          ["another domain name", { name: "Vigil EndpointRegistry" }],
          ["another domain version", { version: "2" }],
        ] as const) {
          it(`rejects observations signed under ${name}`, async function () {
            const fx = await loadFixture(oracleFixture);
            const slot = await nextSlot();
            const r = await attest(
              fx.oracle,
              fx.attestors.slice(0, 3),
              { endpointId: EP, observedAt: slot.observedAt, healthBps: 9000 },
              { domainOverride: override },
            );
            const o = r.observations[0];
            const digest = await fx.oracle.observationDigest(
              r.configDigest,
              EP,
              r.round,
              o.healthBps,
              o.observedAt,
            );
            await time.setNextBlockTimestamp(slot.blockTime);
            await expect(fx.oracle.submit(...submitArgs(r)))
              .to.be.revertedWithCustomError(fx.oracle, "HealthOracleUnknownSigner")
              .withArgs(0, ethers.recoverAddress(digest, o.signature));
          });
        }

        it("rejects at a second deployment a report made for the first", async function () {
          const fx = await loadFixture(oracleFixture);
          const second = await deployOracle();
          await second.setAttestors(
            fx.attestors.map((a) => a.address),
            3,
          );
          const secondDigest = await second.configDigest();
          expect(secondDigest).to.not.equal(await fx.oracle.configDigest());
          const { r } = await prepared(fx);
          await expect(second.submit(...submitArgs(r)))
            .to.be.revertedWithCustomError(second, "HealthOracleConfigDigestMismatch")
            .withArgs(secondDigest, r.configDigest);
          const o = r.observations[0];
          const digest = await second.observationDigest(secondDigest, EP, r.round, o.healthBps, o.observedAt);
          await expect(second.submit(secondDigest, EP, r.round, r.observations))
            .to.be.revertedWithCustomError(second, "HealthOracleUnknownSigner")
            .withArgs(0, ethers.recoverAddress(digest, o.signature));
          await expect(fx.oracle.submit(...submitArgs(r))).to.emit(fx.oracle, "RoundAccepted");
        });
      });

      describe("observation time", function () {
        async function atOffsets(fx: Fx, blockOffset: bigint, observedOffset: bigint, roundOf?: bigint) {
          const now = BigInt(await time.latest());
          const start = (now / ROUND_SECONDS + 10n) * ROUND_SECONDS;
          const blockTime = start + blockOffset;
          const observedAt = blockTime + observedOffset;
          const r = await attest(fx.oracle, fx.attestors.slice(0, 3), {
            endpointId: EP,
            observedAt,
            healthBps: 9000,
            round: roundOf ?? observedAt / ROUND_SECONDS,
          });
          await time.setNextBlockTimestamp(blockTime);
          return { r, blockTime, observedAt };
        }

        it("accepts an observation exactly maxSkew ahead of the block", async function () {
          const fx = await loadFixture(oracleFixture);
          const { r } = await atOffsets(fx, 5n, MAX_SKEW);
          await expect(fx.oracle.submit(...submitArgs(r))).to.emit(fx.oracle, "RoundAccepted");
        });

        it("rejects an observation maxSkew + 1 s ahead of the block", async function () {
          const fx = await loadFixture(oracleFixture);
          const { r, blockTime, observedAt } = await atOffsets(fx, 5n, MAX_SKEW + 1n);
          await expect(fx.oracle.submit(...submitArgs(r)))
            .to.be.revertedWithCustomError(fx.oracle, "HealthOracleObservationFromFuture")
            .withArgs(EP, observedAt, blockTime + MAX_SKEW);
        });

        it("accepts an observation exactly maxAge old", async function () {
          const fx = await loadFixture(oracleFixture);
          const { r } = await atOffsets(fx, 5n, -BigInt(POLICY.maxAge));
          await expect(fx.oracle.submit(...submitArgs(r))).to.emit(fx.oracle, "RoundAccepted");
        });

        it("rejects an observation maxAge + 1 s old", async function () {
          const fx = await loadFixture(oracleFixture);
          const { r, observedAt } = await atOffsets(fx, 5n, -BigInt(POLICY.maxAge) - 1n);
          await expect(fx.oracle.submit(...submitArgs(r)))
            .to.be.revertedWithCustomError(fx.oracle, "HealthOracleStaleObservation")
            .withArgs(EP, observedAt, POLICY.maxAge);
        });

        it("rejects an observation made outside the submitted round", async function () {
          const fx = await loadFixture(oracleFixture);
          const { r, observedAt } = await atOffsets(fx, 10n, -5n, 0n);
          const claimed = observedAt / ROUND_SECONDS - 1n;
          const moved = await attest(fx.oracle, fx.attestors.slice(0, 3), {
            endpointId: EP,
            observedAt,
            healthBps: 9000,
            round: claimed,
          });
          expect(r.round).to.equal(0n);
          await expect(fx.oracle.submit(...submitArgs(moved)))
            .to.be.revertedWithCustomError(fx.oracle, "HealthOracleObservationOutsideRound")
            .withArgs(EP, claimed, observedAt);
        });
      });

      describe("replay of rounds", function () {
        it("rejects the same report twice", async function () {
          const fx = await loadFixture(oracleFixture);
          const { r, round } = await submitRound(fx, EP, 9000);
          await expect(fx.oracle.submit(...submitArgs(r)))
            .to.be.revertedWithCustomError(fx.oracle, "HealthOracleRoundNotNewer")
            .withArgs(EP, round, round);
        });

        it("rejects an older round after a newer one", async function () {
          const fx = await loadFixture(oracleFixture);
          const slot = await nextSlot();
          const older = await attest(fx.oracle, fx.attestors.slice(0, 3), {
            endpointId: EP,
            observedAt: slot.observedAt,
            healthBps: 9000,
          });
          const { round } = await submitRound(fx, EP, 9000);
          // Still young enough for maxAge: only the round order rejects it.
          await expect(fx.oracle.submit(...submitArgs(older)))
            .to.be.revertedWithCustomError(fx.oracle, "HealthOracleRoundNotNewer")
            .withArgs(EP, older.round, round);
        });
      });
    });
  });

  describe("status machine", function () {
    async function run(fx: Fx, values: number[], id = EP) {
      const statuses: bigint[] = [];
      for (const v of values) {
        await submitRound(fx, id, v);
        statuses.push((await fx.oracle.statusOf(id)).status);
      }
      return statuses;
    }

    describe("when UNKNOWN", function () {
      it("reads DEGRADED after the first observation and HEALTHY after riseRounds GOOD rounds", async function () {
        const fx = await loadFixture(oracleFixture);
        expect(await run(fx, [9000, 9000, 9000])).to.deep.equal([DEGRADED, HEALTHY, HEALTHY]);
      });

      it("stays UNKNOWN on BAD rounds and reads DOWN after fallRounds of them, never DEGRADED", async function () {
        const fx = await loadFixture(oracleFixture);
        expect(await run(fx, [1000, 1000, 1000])).to.deep.equal([UNKNOWN, UNKNOWN, DOWN]);
      });

      it("reads DEGRADED on a MID first observation", async function () {
        const fx = await loadFixture(oracleFixture);
        expect(await run(fx, [6000])).to.deep.equal([DEGRADED]);
      });
    });

    describe("when HEALTHY", function () {
      async function healthy() {
        const fx = await loadFixture(oracleFixture);
        await run(fx, [9000, 9000]);
        expect((await fx.oracle.statusOf(EP)).status).to.equal(HEALTHY);
        return fx;
      }

      it("degrades on a MID round", async function () {
        const fx = await healthy();
        const { tx, blockTime } = await submitRound(fx, EP, 6000);
        await expect(tx).to.emit(fx.oracle, "StatusChanged").withArgs(EP, HEALTHY, DEGRADED, blockTime);
      });

      it("degrades on a BAD round but does not go DOWN before fallRounds consecutive BAD rounds", async function () {
        const fx = await healthy();
        expect(await run(fx, [1000, 1000, 1000])).to.deep.equal([DEGRADED, DEGRADED, DOWN]);
      });

      it("restarts the BAD streak after a MID round", async function () {
        const fx = await healthy();
        expect(await run(fx, [1000, 1000, 6000, 1000, 1000, 1000])).to.deep.equal([
          DEGRADED,
          DEGRADED,
          DEGRADED,
          DEGRADED,
          DEGRADED,
          DOWN,
        ]);
      });

      it("keeps since and emits no StatusChanged while it stays HEALTHY", async function () {
        const fx = await healthy();
        const since = (await fx.oracle.statusOf(EP)).since;
        const { tx } = await submitRound(fx, EP, 9500);
        await expect(tx).to.not.emit(fx.oracle, "StatusChanged");
        expect((await fx.oracle.statusOf(EP)).since).to.equal(since);
      });
    });

    describe("when DOWN", function () {
      async function down() {
        const fx = await loadFixture(oracleFixture);
        await run(fx, [1000, 1000, 1000]);
        expect((await fx.oracle.statusOf(EP)).status).to.equal(DOWN);
        return fx;
      }

      it("stays DOWN through MID rounds and a single GOOD round", async function () {
        const fx = await down();
        expect(await run(fx, [6000, 9000, 6000, 9000])).to.deep.equal([DOWN, DOWN, DOWN, DOWN]);
      });

      it("recovers to HEALTHY only after riseRounds consecutive GOOD rounds, with since at that block", async function () {
        const fx = await down();
        await submitRound(fx, EP, 9000);
        const { tx, blockTime } = await submitRound(fx, EP, 9000);
        await expect(tx).to.emit(fx.oracle, "StatusChanged").withArgs(EP, DOWN, HEALTHY, blockTime);
        expect((await fx.oracle.statusOf(EP)).since).to.equal(blockTime);
      });
    });

    describe("staleness", function () {
      it("reads UNKNOWN from updatedAt + heartbeat on, with since at that moment", async function () {
        const fx = await loadFixture(oracleFixture);
        await run(fx, [9000]);
        const { blockTime: updatedAt } = await submitRound(fx, EP, 9000);
        const staleAt = updatedAt + BigInt(POLICY.heartbeat);
        await time.increaseTo(staleAt - 1n);
        expect(await statusOf(fx.oracle, EP)).to.include({ status: HEALTHY, since: updatedAt });
        await time.increaseTo(staleAt);
        expect(await statusOf(fx.oracle, EP)).to.deep.equal({
          status: UNKNOWN,
          healthBps: 9000n,
          since: staleAt,
          round: updatedAt / ROUND_SECONDS,
          updatedAt,
        });
      });

      it("after silence, restarts from UNKNOWN with zero streaks", async function () {
        const fx = await loadFixture(oracleFixture);
        await run(fx, [9000, 9000]);
        await time.increase(POLICY.heartbeat);
        const { tx, blockTime } = await submitRound(fx, EP, 9000);
        await expect(tx).to.emit(fx.oracle, "StatusChanged").withArgs(EP, UNKNOWN, DEGRADED, blockTime);
        expect(await statusOf(fx.oracle, EP)).to.include({ status: DEGRADED, since: blockTime });
        expect(await run(fx, [9000])).to.deep.equal([HEALTHY]);
      });

      it("after silence, does not carry a BAD streak over the gap", async function () {
        const fx = await loadFixture(oracleFixture);
        await run(fx, [9000, 9000, 1000, 1000]);
        await time.increase(POLICY.heartbeat);
        expect(await run(fx, [1000, 1000, 1000])).to.deep.equal([UNKNOWN, UNKNOWN, DOWN]);
      });

      it("after silence, a BAD round stays UNKNOWN with `since` at the lapse of the heartbeat, no event", async function () {
        const fx = await loadFixture(oracleFixture);
        await run(fx, [9000, 9000]);
        const { updatedAt } = await fx.oracle.statusOf(EP);
        await time.increase(POLICY.heartbeat + 5);
        const { tx } = await submitRound(fx, EP, 1000);
        await expect(tx).to.not.emit(fx.oracle, "StatusChanged");
        expect(await statusOf(fx.oracle, EP)).to.include({
          status: UNKNOWN,
          since: updatedAt + BigInt(POLICY.heartbeat),
        });
      });

      it("keeps `since` at the first lapse through BAD rounds and further lapses while UNKNOWN", async function () {
        const fx = await loadFixture(oracleFixture);
        await run(fx, [9000, 9000]);
        const firstLapse = (await fx.oracle.statusOf(EP)).updatedAt + BigInt(POLICY.heartbeat);
        for (let k = 0; k < 3; k++) {
          await time.increase(POLICY.heartbeat + 5);
          expect(await statusOf(fx.oracle, EP)).to.include({ status: UNKNOWN, since: firstLapse });
          const { tx, blockTime } = await submitRound(fx, EP, 1000);
          await expect(tx).to.not.emit(fx.oracle, "StatusChanged");
          expect(await statusOf(fx.oracle, EP)).to.include({
            status: UNKNOWN,
            since: firstLapse,
            updatedAt: blockTime,
          });
        }
        // Leaving UNKNOWN restarts `since` as any change does.
        const { tx, blockTime } = await submitRound(fx, EP, 6000);
        await expect(tx).to.emit(fx.oracle, "StatusChanged").withArgs(EP, UNKNOWN, DEGRADED, blockTime);
        expect(await statusOf(fx.oracle, EP)).to.include({ status: DEGRADED, since: blockTime });
      });

      it("keeps `since` zero for an endpoint that has been UNKNOWN since its first round, across lapses", async function () {
        const fx = await loadFixture(oracleFixture);
        await run(fx, [1000]);
        await time.increase(POLICY.heartbeat + 5);
        expect(await statusOf(fx.oracle, EP)).to.include({ status: UNKNOWN, since: 0n });
        await run(fx, [1000]);
        expect(await statusOf(fx.oracle, EP)).to.include({ status: UNKNOWN, since: 0n });
      });

      it("uses the endpoint's own heartbeat", async function () {
        const fx = await loadFixture(oracleFixture);
        await fx.oracle.setEndpointPolicy(EP, { ...POLICY, heartbeat: 60 });
        const { blockTime } = await submitRound(fx, EP, 9000);
        await time.increaseTo(blockTime + 60n);
        expect(await statusOf(fx.oracle, EP)).to.include({ status: UNKNOWN, since: blockTime + 60n });
      });
    });

    describe("round gaps", function () {
      /** Attest `entries` as (round offset from the next slot, healthBps) and submit them in one batch. */
      async function submitRounds(fx: Fx, entries: [bigint, number][]) {
        const slot = await nextSlot();
        const last = entries[entries.length - 1][0];
        const rounds = await Promise.all(
          entries.map(([offset, healthBps]) =>
            attest(fx.oracle, fx.attestors.slice(0, 3), {
              endpointId: EP,
              observedAt: slot.observedAt + offset * ROUND_SECONDS,
              healthBps,
            }),
          ),
        );
        await time.setNextBlockTimestamp(slot.blockTime + last * ROUND_SECONDS);
        const tx = await fx.oracle.submitBatch(rounds[0].configDigest, rounds.map(toReport));
        return { tx, rounds, blockTime: slot.blockTime + last * ROUND_SECONDS };
      }

      async function healthyWithFallRounds(fallRounds: number) {
        const fx = await loadFixture(oracleFixture);
        await fx.oracle.setDefaultPolicy({ ...POLICY, fallRounds });
        await run(fx, [9000, 9000]);
        expect((await fx.oracle.statusOf(EP)).status).to.equal(HEALTHY);
        return fx;
      }

      it("does not go DOWN on BAD rounds r and r+2 relayed without the GOOD round r+1 between them", async function () {
        const fx = await healthyWithFallRounds(2);
        // BAD at r, GOOD at r+1 (signed, never relayed), BAD at r+2: not two consecutive BAD rounds.
        const { tx, rounds, blockTime } = await submitRounds(fx, [
          [0n, 1000],
          [2n, 1000],
        ]);
        await expect(tx).to.emit(fx.oracle, "StatusChanged").withArgs(EP, HEALTHY, DEGRADED, blockTime);
        const changes = (await tx.wait())!.logs.filter(
          (l) => fx.oracle.interface.parseLog(l)?.name === "StatusChanged",
        );
        expect(changes).to.have.length(1);
        expect(await statusOf(fx.oracle, EP)).to.include({ status: DEGRADED, round: rounds[1].round });
      });

      it("goes DOWN on fallRounds BAD rounds of adjacent rounds in one batch", async function () {
        const fx = await healthyWithFallRounds(2);
        const { tx, blockTime } = await submitRounds(fx, [
          [0n, 1000],
          [1n, 1000],
        ]);
        await expect(tx).to.emit(fx.oracle, "StatusChanged").withArgs(EP, DEGRADED, DOWN, blockTime);
      });

      it("needs riseRounds adjacent GOOD rounds to recover from DOWN", async function () {
        const fx = await loadFixture(oracleFixture);
        await run(fx, [1000, 1000, 1000]);
        await submitRounds(fx, [
          [0n, 9000],
          [2n, 9000],
        ]);
        expect((await fx.oracle.statusOf(EP)).status).to.equal(DOWN);
        await submitRounds(fx, [[0n, 9000]]);
        expect((await fx.oracle.statusOf(EP)).status).to.equal(HEALTHY);
      });

      it("keeps a HEALTHY endpoint refreshed about once per heartbeat HEALTHY, with its since", async function () {
        const fx = await loadFixture(oracleFixture);
        await run(fx, [9000, 9000]);
        const { since } = await fx.oracle.statusOf(EP);
        for (let k = 0; k < 4; k++) {
          await time.increase(POLICY.heartbeat - 2 * Number(ROUND_SECONDS));
          const { tx } = await submitRound(fx, EP, 9000);
          await expect(tx).to.not.emit(fx.oracle, "StatusChanged");
          expect(await statusOf(fx.oracle, EP)).to.include({ status: HEALTHY, since });
        }
      });
    });

    describe("median against liars", function () {
      it("keeps the median within the honest values when f attestors lie high or low", async function () {
        const fx = await loadFixture(oracleFixture);
        // n = 4 tolerates f = 1; quorum 3 means at least two honest values.
        const liarLow = await submitRound(fx, EP, [0, 9000, 8500]);
        await expect(liarLow.tx).to.emit(fx.oracle, "RoundAccepted").withArgs(EP, liarLow.round, 8500, 3);
        const liarHigh = await submitRound(fx, EP2, [10000, 2000, 3000]);
        await expect(liarHigh.tx).to.emit(fx.oracle, "RoundAccepted").withArgs(EP2, liarHigh.round, 3000, 3);
      });
    });
  });

  describe("submitBatch", function () {
    async function batch(fx: Fx, entries: [string, number, number?][]) {
      const slot = await nextSlot();
      const rounds = await Promise.all(
        entries.map(([id, bps, count]) =>
          attest(fx.oracle, fx.attestors.slice(0, count ?? 3), {
            endpointId: id,
            observedAt: slot.observedAt,
            healthBps: bps,
          }),
        ),
      );
      await time.setNextBlockTimestamp(slot.blockTime);
      return { rounds, ...slot };
    }

    it("accepts many endpoints' rounds in one transaction", async function () {
      const fx = await loadFixture(oracleFixture);
      const { rounds, round, blockTime } = await batch(fx, [
        [EP, 9000],
        [EP2, 1000],
        [EP3, 6000],
      ]);
      const tx = fx.oracle.submitBatch(rounds[0].configDigest, rounds.map(toReport));
      await expect(tx)
        .to.emit(fx.oracle, "RoundAccepted")
        .withArgs(EP, round, 9000, 3)
        .and.to.emit(fx.oracle, "RoundAccepted")
        .withArgs(EP2, round, 1000, 3)
        .and.to.emit(fx.oracle, "RoundAccepted")
        .withArgs(EP3, round, 6000, 3);
      // A first GOOD or MID round reads DEGRADED; a first BAD one leaves the endpoint UNKNOWN.
      for (const [id, status] of [
        [EP, DEGRADED],
        [EP2, UNKNOWN],
        [EP3, DEGRADED],
      ] as const) {
        expect(await statusOf(fx.oracle, id)).to.include({ status, updatedAt: blockTime });
      }
    });

    it("reverts the whole batch naming the failing entry and its error", async function () {
      const fx = await loadFixture(oracleFixture);
      const { rounds } = await batch(fx, [
        [EP, 9000],
        [EP2, 9000, 2],
        [EP3, 9000],
      ]);
      const inner = fx.oracle.interface.encodeErrorResult("HealthOracleInsufficientSignatures", [2, 3]);
      await expect(fx.oracle.submitBatch(rounds[0].configDigest, rounds.map(toReport)))
        .to.be.revertedWithCustomError(fx.oracle, "HealthOracleBatchEntryFailed")
        .withArgs(1, EP2, inner);
      expect((await fx.oracle.statusOf(EP)).updatedAt).to.equal(0n);
    });

    it("rejects the same endpoint round twice in one batch", async function () {
      const fx = await loadFixture(oracleFixture);
      const { rounds, round } = await batch(fx, [[EP, 9000]]);
      const reports = [toReport(rounds[0]), toReport(rounds[0])];
      const inner = fx.oracle.interface.encodeErrorResult("HealthOracleRoundNotNewer", [EP, round, round]);
      await expect(fx.oracle.submitBatch(rounds[0].configDigest, reports))
        .to.be.revertedWithCustomError(fx.oracle, "HealthOracleBatchEntryFailed")
        .withArgs(1, EP, inner);
    });

    it("wraps a signature error of a later entry with its position", async function () {
      const fx = await loadFixture(oracleFixture);
      const { rounds } = await batch(fx, [
        [EP, 9000],
        [EP2, 9000],
      ]);
      const bad = withSignature(rounds[1], "0x1234");
      const inner = fx.oracle.interface.encodeErrorResult("HealthOracleMalformedSignature", [0]);
      await expect(fx.oracle.submitBatch(rounds[0].configDigest, [toReport(rounds[0]), toReport(bad)]))
        .to.be.revertedWithCustomError(fx.oracle, "HealthOracleBatchEntryFailed")
        .withArgs(1, EP2, inner);
    });

    it("does not wrap a config digest mismatch, which concerns the whole batch", async function () {
      const fx = await loadFixture(oracleFixture);
      const { rounds } = await batch(fx, [[EP, 9000]]);
      const wrong = ethers.id("wrong");
      await expect(fx.oracle.submitBatch(wrong, rounds.map(toReport)))
        .to.be.revertedWithCustomError(fx.oracle, "HealthOracleConfigDigestMismatch")
        .withArgs(rounds[0].configDigest, wrong);
    });

    it("accepts an empty batch as a no-op", async function () {
      const fx = await loadFixture(oracleFixture);
      await expect(fx.oracle.submitBatch(await fx.oracle.configDigest(), [])).to.not.emit(
        fx.oracle,
        "RoundAccepted",
      );
    });
  });

  describe("listeners", function () {
    it("adds and removes listeners, keeping their order", async function () {
      const fx = await loadFixture(listenersFixture);
      const [a, b, c] = [fx.recorder, fx.reverter, fx.burner].map((x) => x.target as string);
      for (const l of [a, b, c]) {
        await expect(fx.oracle.addStatusListener(l)).to.emit(fx.oracle, "ListenerChanged").withArgs(l, true);
      }
      expect(await fx.oracle.statusListeners()).to.deep.equal([a, b, c]);
      await expect(fx.oracle.removeStatusListener(a))
        .to.emit(fx.oracle, "ListenerChanged")
        .withArgs(a, false);
      expect(await fx.oracle.statusListeners()).to.deep.equal([b, c]);
      await fx.oracle.removeStatusListener(c);
      expect(await fx.oracle.statusListeners()).to.deep.equal([b]);
    });

    it("rejects a fifth listener, a duplicate, an address without code and removing a stranger", async function () {
      const fx = await loadFixture(listenersFixture);
      const all = [fx.recorder, fx.reverter, fx.burner, fx.bomb].map((x) => x.target as string);
      for (const l of all) await fx.oracle.addStatusListener(l);
      const fifth = fx.reentrant.target as string;
      await expect(fx.oracle.addStatusListener(fifth))
        .to.be.revertedWithCustomError(fx.oracle, "HealthOracleInvalidListener")
        .withArgs(fifth);
      await fx.oracle.removeStatusListener(all[3]);
      await expect(fx.oracle.addStatusListener(all[0]))
        .to.be.revertedWithCustomError(fx.oracle, "HealthOracleInvalidListener")
        .withArgs(all[0]);
      for (const noCode of [fx.other.address, ethers.ZeroAddress]) {
        await expect(fx.oracle.addStatusListener(noCode))
          .to.be.revertedWithCustomError(fx.oracle, "HealthOracleInvalidListener")
          .withArgs(noCode);
      }
      await expect(fx.oracle.removeStatusListener(fifth))
        .to.be.revertedWithCustomError(fx.oracle, "HealthOracleInvalidListener")
        .withArgs(fifth);
    });

    it("notifies a listener of a status change in the same transaction, after the state is stored", async function () {
      const fx = await loadFixture(listenersFixture);
      await fx.oracle.addStatusListener(fx.recorder.target);
      const { tx } = await submitRound(fx, EP, 9000);
      await expect(tx)
        .to.emit(fx.recorder, "Notified")
        .withArgs(fx.oracle.target, EP, UNKNOWN, DEGRADED, DEGRADED);
      await submitRound(fx, EP, 9000);
      expect(await fx.recorder.calls()).to.equal(2n);
    });

    it("does not notify when the status stays the same", async function () {
      const fx = await loadFixture(listenersFixture);
      await fx.oracle.addStatusListener(fx.recorder.target);
      await submitRound(fx, EP, 6000);
      const { tx } = await submitRound(fx, EP, 6000);
      await expect(tx).to.not.emit(fx.recorder, "Notified");
      expect(await fx.recorder.calls()).to.equal(1n);
    });

    it("survives a reverting listener, reports it and still notifies the next one", async function () {
      const fx = await loadFixture(listenersFixture);
      await fx.oracle.addStatusListener(fx.reverter.target);
      await fx.oracle.addStatusListener(fx.recorder.target);
      const reason = fx.reverter.interface.encodeErrorResult("MockListenerRevertingRefused", [EP]);
      const { tx } = await submitRound(fx, EP, 9000);
      await expect(tx).to.emit(fx.oracle, "ListenerFailed").withArgs(fx.reverter.target, EP, reason);
      await expect(tx).to.emit(fx.recorder, "Notified");
      expect((await fx.oracle.statusOf(EP)).status).to.equal(DEGRADED);
    });

    it("survives a listener that burns all the gas it is given", async function () {
      const fx = await loadFixture(listenersFixture);
      await fx.oracle.addStatusListener(fx.burner.target);
      const { tx } = await submitRound(fx, EP, 9000);
      await expect(tx).to.emit(fx.oracle, "ListenerFailed").withArgs(fx.burner.target, EP, "0x");
      const receipt = await tx.wait();
      expect(receipt!.gasUsed).to.be.greaterThan(LISTENER_GAS);
      expect((await fx.oracle.statusOf(EP)).status).to.equal(DEGRADED);
    });

    it("survives a return-data bomb and keeps only a bounded prefix of it", async function () {
      const fx = await loadFixture(listenersFixture);
      await fx.oracle.addStatusListener(fx.bomb.target);
      const { tx } = await submitRound(fx, EP, 9000);
      const receipt = await tx.wait();
      const log = receipt!.logs
        .map((l) => fx.oracle.interface.parseLog(l))
        .find((l) => l?.name === "ListenerFailed");
      expect(log!.args.listener).to.equal(fx.bomb.target);
      expect(ethers.dataLength(log!.args.reason)).to.equal(256);
      expect(ethers.dataSlice(log!.args.reason, 0, 32)).to.equal(await fx.bomb.MARKER());
    });

    it("refuses to call a listener with less than its full gas budget", async function () {
      const fx = await loadFixture(listenersFixture);
      const oracle = await deployOracle({ listenerGas: 2_000_000n });
      await oracle.setAttestors(
        fx.attestors.map((a) => a.address),
        3,
      );
      await oracle.addStatusListener(fx.recorder.target);
      const slot = await nextSlot();
      const r = await attest(oracle, fx.attestors.slice(0, 3), {
        endpointId: EP,
        observedAt: slot.observedAt,
        healthBps: 9000,
      });
      await time.setNextBlockTimestamp(slot.blockTime);
      const required = (2_000_000n * 64n) / 63n + LISTENER_GAS_MARGIN;
      await expect(oracle.submit(...submitArgs(r), { gasLimit: 1_000_000 }))
        .to.be.revertedWithCustomError(oracle, "HealthOracleInsufficientGasForListener")
        .withArgs(anyValue, required);
      await time.setNextBlockTimestamp(slot.blockTime + 1n);
      await expect(oracle.submit(...submitArgs(r), { gasLimit: 3_000_000 })).to.emit(fx.recorder, "Notified");
    });

    it("lets eth_estimateGas find a limit that satisfies the listener gas check", async function () {
      const fx = await loadFixture(listenersFixture);
      await fx.oracle.addStatusListener(fx.recorder.target);
      const slot = await nextSlot();
      const r = await attest(fx.oracle, fx.attestors.slice(0, 3), {
        endpointId: EP,
        observedAt: slot.observedAt,
        healthBps: 9000,
      });
      await time.setNextBlockTimestamp(slot.blockTime);
      const estimate = await fx.oracle.submit.estimateGas(...submitArgs(r));
      await expect(fx.oracle.submit(...submitArgs(r), { gasLimit: estimate })).to.emit(
        fx.recorder,
        "Notified",
      );
    });

    it("blocks a listener from re-entering submit or submitBatch, even with valid reports", async function () {
      const fx = await loadFixture(listenersFixture);
      await fx.oracle.addStatusListener(fx.reentrant.target);
      const slot = await nextSlot();
      const inner = await attest(fx.oracle, fx.attestors.slice(0, 3), {
        endpointId: EP2,
        observedAt: slot.observedAt,
        healthBps: 9000,
      });
      const reentrancy = fx.oracle.interface.encodeErrorResult("ReentrancyGuardReentrantCall", []);
      for (const payload of [
        fx.oracle.interface.encodeFunctionData("submit", submitArgs(inner)),
        fx.oracle.interface.encodeFunctionData("submitBatch", [inner.configDigest, [toReport(inner)]]),
      ]) {
        await fx.reentrant.setPayload(payload);
        const { tx } = await submitRound(fx, endpointIdOf(payload.slice(0, 10)), 9000);
        await expect(tx)
          .to.emit(fx.oracle, "ListenerFailed")
          .withArgs(fx.reentrant.target, anyValue, reentrancy);
        expect((await fx.oracle.statusOf(EP2)).updatedAt).to.equal(0n);
      }
    });
  });

  describe("properties", function () {
    type ModelState = {
      status: bigint;
      good: number;
      bad: number;
      round: bigint;
      updatedAt: bigint;
      since: bigint;
    };
    type Policy = typeof POLICY;

    /** Reference model of the status machine (the spec, in TypeScript). */
    function modelApply(s: ModelState, p: Policy, round: bigint, median: number, now: bigint): ModelState {
      let previous = s.status;
      let good = s.good;
      let bad = s.bad;
      let since = s.since;
      // Streaks count adjacent rounds only.
      if (round !== s.round + 1n) {
        good = 0;
        bad = 0;
      }
      if (s.updatedAt !== 0n && now >= s.updatedAt + BigInt(p.heartbeat)) {
        // An endpoint stored UNKNOWN already keeps the `since` of its first lapse.
        if (s.status !== UNKNOWN) since = s.updatedAt + BigInt(p.heartbeat);
        previous = UNKNOWN;
        good = 0;
        bad = 0;
      }
      const isGood = median >= p.upAtBps;
      const isBad = median < p.downBelowBps;
      good = isGood ? Math.min(good + 1, 255) : 0;
      bad = isBad ? Math.min(bad + 1, 255) : 0;
      let current = previous;
      if (bad >= p.fallRounds) current = DOWN;
      else if (good >= p.riseRounds) current = HEALTHY;
      else if ((previous === HEALTHY && !isGood) || (previous === UNKNOWN && !isBad)) current = DEGRADED;
      return { status: current, good, bad, round, updatedAt: now, since: current !== previous ? now : since };
    }

    function modelView(s: ModelState, p: Policy, now: bigint) {
      if (s.updatedAt === 0n) return { status: UNKNOWN, since: 0n };
      const staleAt = s.updatedAt + BigInt(p.heartbeat);
      return now >= staleAt && s.status !== UNKNOWN
        ? { status: UNKNOWN, since: staleAt }
        : { status: s.status, since: s.since };
    }

    it("follows the reference status machine for random health series, round gaps, batches and silences", async function () {
      const value = fc.constantFrom(0, 2500, 4999, 5000, 6500, 7999, 8000, 9500, 10000);
      // `gap` rounds after the previous entry (1 = adjacent); `batched` joins the previous entry's transaction.
      const step = fc.record({
        value,
        gap: fc.constantFrom(1, 1, 1, 2, 3),
        batched: fc.boolean(),
        silence: fc.integer({ min: 0, max: 4 }),
      });
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 1, max: 3 }),
          fc.integer({ min: 1, max: 3 }),
          fc.array(step, { minLength: 1, maxLength: 10 }),
          async (fallRounds, riseRounds, steps) => {
            const fx = await loadFixture(oracleFixture);
            // maxAge covers a whole batch (at most 10 entries 3 rounds apart).
            const p = { ...POLICY, fallRounds, riseRounds, maxAge: 1200 };
            await fx.oracle.setDefaultPolicy(p);
            let s: ModelState = { status: UNKNOWN, good: 0, bad: 0, round: 0n, updatedAt: 0n, since: 0n };
            // Split the steps into transactions; silence past the heartbeat comes only between them.
            const batches: (typeof steps)[] = [];
            for (const st of steps) {
              if (st.batched && batches.length > 0) batches[batches.length - 1].push(st);
              else batches.push([st]);
            }
            let lastRound = 0n;
            for (const batch of batches) {
              // Silence past the heartbeat in about one transaction of five.
              if (batch[0].silence === 0) await time.increase(p.heartbeat);
              const nowRound = BigInt(await time.latest()) / ROUND_SECONDS;
              let round = (lastRound > nowRound ? lastRound : nowRound) + BigInt(batch[0].gap);
              const entries: { round: bigint; value: number }[] = [];
              for (const [k, st] of batch.entries()) {
                if (k > 0) round += BigInt(st.gap);
                entries.push({ round, value: st.value });
              }
              lastRound = round;
              const reports = await Promise.all(
                entries.map((e) =>
                  attest(fx.oracle, fx.attestors.slice(0, 3), {
                    endpointId: EP,
                    observedAt: e.round * ROUND_SECONDS + 5n,
                    healthBps: e.value,
                  }),
                ),
              );
              const blockTime = lastRound * ROUND_SECONDS + 10n;
              await time.setNextBlockTimestamp(blockTime);
              await fx.oracle.submitBatch(reports[0].configDigest, reports.map(toReport));
              for (const e of entries) s = modelApply(s, p, e.round, e.value, blockTime);
              const onChain = await fx.oracle.statusOf(EP);
              const expected = modelView(s, p, BigInt(await time.latest()));
              expect(onChain.status).to.equal(expected.status);
              expect(onChain.since).to.equal(expected.since);
              expect(onChain.round).to.equal(lastRound);
              expect(onChain.healthBps).to.equal(BigInt(entries[entries.length - 1].value));
            }
          },
        ),
        { numRuns: 30 },
      );
    });

    it("never counts a duplicate, unsorted or outsider signature", async function () {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 6 }),
          async (picks) => {
            const fx = await loadFixture(oracleFixture);
            const pool = [...fx.attestors, fx.outsider];
            const members = fx.attestors.map((a) => BigInt(a.address));
            const slot = await nextSlot();
            const round = slot.round;
            const configDigest = await fx.oracle.configDigest();
            const observations: SignedObservation[] = [];
            for (const k of picks) {
              observations.push(
                await signObservation(fx.oracle, pool[k], {
                  configDigest,
                  endpointId: EP,
                  round,
                  healthBps: 9000,
                  observedAt: slot.observedAt,
                }),
              );
            }
            // Expected outcome, per the documented rules.
            let expected: { error: string; args: unknown[] } | null = null;
            if (observations.length < 3)
              expected = { error: "HealthOracleInsufficientSignatures", args: [observations.length, 3] };
            let from = 0;
            for (let i = 0; !expected && i < observations.length; i++) {
              const a = BigInt(observations[i].signer);
              const idx = members.findIndex((m, j) => j >= from && m === a);
              if (idx >= 0) {
                from = idx + 1;
                continue;
              }
              const previous = from === 0 ? 0n : members[from - 1];
              const error =
                a === previous
                  ? "HealthOracleDuplicateSigner"
                  : a < previous
                    ? "HealthOracleSignersNotAscending"
                    : "HealthOracleUnknownSigner";
              expected = { error, args: [i, observations[i].signer] };
            }
            await time.setNextBlockTimestamp(slot.blockTime);
            const tx = fx.oracle.submit(configDigest, EP, round, observations);
            if (expected) {
              await expect(tx)
                .to.be.revertedWithCustomError(fx.oracle, expected.error)
                .withArgs(...expected.args);
            } else {
              const distinct = new Set(observations.map((o) => o.signer)).size;
              expect(distinct).to.equal(observations.length);
              await expect(tx).to.emit(fx.oracle, "RoundAccepted").withArgs(EP, round, 9000, distinct);
            }
          },
        ),
        { numRuns: 30 },
      );
    });
  });

  describe("gas", function () {
    // Gas is deterministic for fixed keys, times and deployment order, so the budget is asserted here.
    // Instrumented coverage builds cost more gas: skip there.
    before(function () {
      if (coverage) this.skip();
    });

    const EPOCH = 2_000_000_000n; // fixed block times make signatures, and so calldata gas, reproducible

    async function warmSubmitGas(q: number): Promise<bigint> {
      const oracle = await deployOracle();
      const wallets = await sortSigners(attestorWallets(q, "gas"));
      await oracle.setAttestors(
        wallets.map((w) => w.address),
        q,
      );
      const base =
        ((BigInt(await time.latest()) > EPOCH ? BigInt(await time.latest()) : EPOCH) / ROUND_SECONDS + 1n) *
        ROUND_SECONDS;
      let gas = 0n;
      // Rounds 1 and 2 make the endpoint slot non-zero (warm); round 3 is measured and changes no status.
      for (let k = 0n; k < 3n; k++) {
        const start = base + k * ROUND_SECONDS;
        const r = await attest(oracle, wallets, { endpointId: EP, observedAt: start + 5n, healthBps: 9000 });
        await time.setNextBlockTimestamp(start + 10n);
        const tx = await oracle.submit(...submitArgs(r));
        if (k === 2n) {
          await expect(tx).to.not.emit(oracle, "StatusChanged");
          gas = (await tx.wait())!.gasUsed;
        }
      }
      return gas;
    }

    it("costs at most 40,000 gas base and 6,500 gas per extra signer for a warm, unchanged endpoint", async function () {
      const quorums = [1, 3, 5, 7, 10, 16];
      const gas: number[] = [];
      for (const q of quorums) gas.push(Number(await warmSubmitGas(q)));
      const n = quorums.length;
      const mx = quorums.reduce((a, b) => a + b) / n;
      const my = gas.reduce((a, b) => a + b) / n;
      const slope =
        quorums.reduce((a, x, i) => a + (x - mx) * (gas[i] - my), 0) /
        quorums.reduce((a, x) => a + (x - mx) ** 2, 0);
      const base = gas[0] - slope;
      console.log(
        `      submit gas by quorum: ${quorums.map((q, i) => `${q}:${gas[i]}`).join(" ")}; ` +
          `per signer ${slope.toFixed(0)}, base ${base.toFixed(0)}`,
      );
      expect(slope).to.be.at.most(6500);
      expect(base).to.be.at.most(40_000);
    });

    it("costs less per endpoint in a batch than in single submissions", async function () {
      const fx = await loadFixture(oracleFixture);
      const ids = [EP, EP2, EP3];
      for (const id of ids) await submitRound(fx, id, 9000); // warm the slots
      let singles = 0n;
      for (const id of ids) singles += (await (await submitRound(fx, id, 9000)).tx.wait())!.gasUsed;
      const slot = await nextSlot();
      const rounds = await Promise.all(
        ids.map((id) =>
          attest(fx.oracle, fx.attestors.slice(0, 3), {
            endpointId: id,
            observedAt: slot.observedAt,
            healthBps: 9000,
          }),
        ),
      );
      await time.setNextBlockTimestamp(slot.blockTime);
      const batchGas = (await (
        await fx.oracle.submitBatch(rounds[0].configDigest, rounds.map(toReport))
      ).wait())!.gasUsed;
      console.log(`      3 endpoints: singles ${singles}, batch ${batchGas}`);
      expect(batchGas).to.be.lessThan(singles);
    });
  });
});
