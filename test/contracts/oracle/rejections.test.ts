/**
 * HealthOracle v2 `submit`: every rejection, with its exact custom error and arguments, and what is accepted at
 * each boundary.
 */
import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { hexlify, recoverAddress, toBeHex, zeroPadValue } from "ethers";
import { domainSeparator, reportDigest, toCalldata } from "../../../keepers/shared/report";
import {
  reportDomain,
  signReport,
  signRound,
  submitArgs,
  valuesFor,
  type ReportCalldata,
  type SignedReport,
  type SignedRound,
} from "../../helpers/attest";
import {
  EP1,
  EP2,
  MAX_SKEW,
  POLICY,
  ROUND_SECONDS,
  SECP256K1_N,
  deployOracle,
  nextSlot,
  oracleFixture,
  submitAt,
  type Fx,
} from "./fixture";

/** What the oracle recovers from `report`'s signature when it hashes the report under its own domain. */
async function recoveredBy(
  oracle: Fx["oracle"],
  report: SignedReport,
  digest = report.configDigest,
): Promise<string> {
  const separator = domainSeparator(await reportDomain(oracle));
  return recoverAddress(reportDigest(separator, { ...report, configDigest: digest }), report.signature);
}

/** A round of the first three attestors (A < B < C) for EP1 at 9,000 bps, signed for the next slot. */
async function threeSigned(fx: Fx, endpointIds = [EP1]) {
  const slot = await nextSlot();
  const r = await signRound(fx.oracle, fx.attestors.slice(0, 3), {
    endpointIds,
    values: 9000,
    observedAt: slot.observedAt,
  });
  return { r, ...slot };
}

/** `submit` calldata of `r` with report `position` replaced. */
function withReport(r: SignedRound, position: number, replacement: ReportCalldata) {
  const args = submitArgs(r);
  args[3][position] = replacement;
  return args;
}

/** An x coordinate with no point on secp256k1 (x^3 + 7 is not a square mod p): ecrecover returns zero. */
function offCurveR(): string {
  const p = 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc2fn;
  const pow = (b: bigint, e: bigint) => {
    let r = 1n;
    b %= p;
    for (; e > 0n; e >>= 1n, b = (b * b) % p) if (e & 1n) r = (r * b) % p;
    return r;
  };
  for (let x = 1n; ; x++)
    if (pow(x ** 3n + 7n, (p - 1n) / 2n) === p - 1n) return zeroPadValue(toBeHex(x), 32);
}

describe("HealthOracle v2: submit rejections", function () {
  describe("accepting", function () {
    it("accepts a quorum of reports from anyone, signed with raw keys or eth_signTypedData", async function () {
      const fx = await loadFixture(oracleFixture);
      const { r, blockTime, round, observedAt } = await threeSigned(fx);
      const viaTyped = await signRound(
        fx.oracle,
        fx.attestors.slice(0, 3),
        {
          endpointIds: [EP1],
          values: 9000,
          observedAt,
        },
        { viaTypedData: true },
      );
      expect(viaTyped.reports.map((x) => x.signature)).to.deep.equal(r.reports.map((x) => x.signature));
      await expect(submitAt(fx.oracle.connect(fx.other), r, blockTime))
        .to.emit(fx.oracle, "ReportAccepted")
        .withArgs(round, observedAt, 0b0111, 1, 0);
    });
  });

  describe("configuration", function () {
    it("rejects another digest with HealthOracleConfigDigestMismatch(current, received)", async function () {
      const fx = await loadFixture(oracleFixture);
      const { r } = await threeSigned(fx);
      const current = await fx.oracle.configDigest();
      const wrong = ethers.id("another set");
      const args = submitArgs(r);
      await expect(fx.oracle.submit(wrong, args[1], args[2], args[3], args[4]))
        .to.be.revertedWithCustomError(fx.oracle, "HealthOracleConfigDigestMismatch")
        .withArgs(current, wrong);
    });

    it("rejects fewer reports than the quorum with HealthOracleInsufficientSignatures(received, quorum)", async function () {
      const fx = await loadFixture(oracleFixture);
      const { r } = await threeSigned(fx);
      await expect(fx.oracle.submit(...submitArgs(r, r.reports.slice(0, 2))))
        .to.be.revertedWithCustomError(fx.oracle, "HealthOracleInsufficientSignatures")
        .withArgs(2, 3);
      await expect(fx.oracle.submit(...submitArgs(r, [])))
        .to.be.revertedWithCustomError(fx.oracle, "HealthOracleInsufficientSignatures")
        .withArgs(0, 3);
    });
  });

  describe("endpoint list", function () {
    for (const [name, ids, index, id] of [
      ["an empty list", [], 0, ethers.ZeroHash],
      ["a list out of ascending order", [EP2, EP1], 1, EP1],
      ["a duplicate endpoint", [EP1, EP1], 1, EP1],
    ] as const) {
      it(`rejects ${name} with HealthOracleEndpointsNotAscending(index, id)`, async function () {
        const fx = await loadFixture(oracleFixture);
        const slot = await nextSlot();
        const r = await signRound(fx.oracle, fx.attestors.slice(0, 3), {
          endpointIds: ids,
          values: 9000,
          observedAt: slot.observedAt,
          keepOrder: true,
        });
        await expect(submitAt(fx.oracle, r, slot.blockTime))
          .to.be.revertedWithCustomError(fx.oracle, "HealthOracleEndpointsNotAscending")
          .withArgs(index, id);
      });
    }
  });

  describe("values", function () {
    for (const [name, values] of [
      ["4 bytes short", "0x"],
      ["3 bytes instead of 4", "0x2328ff"],
      ["8 bytes for one endpoint", valuesFor([9000, 9000])],
    ] as const) {
      it(`rejects a report ${name} with HealthOracleMalformedReport(blob length, 4 per endpoint per report)`, async function () {
        const fx = await loadFixture(oracleFixture);
        const { r, blockTime, observedAt } = await threeSigned(fx);
        const odd = await signReport(fx.oracle, fx.attestors[2], {
          ...r.reports[2],
          observedAt: Number(observedAt),
          values,
        });
        await expect(submitAt(fx.oracle, r, blockTime, [r.reports[0], r.reports[1], odd]))
          .to.be.revertedWithCustomError(fx.oracle, "HealthOracleMalformedReport")
          .withArgs(8 + ethers.dataLength(values), 12);
      });
    }

    for (const bps of [10_001, 0xffff]) {
      it(`rejects ${bps} bps with HealthOracleHealthOutOfRange(position, index, healthBps)`, async function () {
        const fx = await loadFixture(oracleFixture);
        const { r, blockTime } = await threeSigned(fx, [EP1, EP2]);
        // Endpoint index 1 of report position 1 says `bps` (encodeValues refuses it, so pack by hand).
        const values = hexlify(new Uint8Array([0x23, 0x28, 0, 1, bps >> 8, bps & 0xff, 0, 1]));
        const liar = await signReport(fx.oracle, fx.attestors[1], { ...r.reports[1], values });
        await expect(submitAt(fx.oracle, r, blockTime, [r.reports[0], liar, r.reports[2]]))
          .to.be.revertedWithCustomError(fx.oracle, "HealthOracleHealthOutOfRange")
          .withArgs(1, 1, bps);
      });
    }

    it("accepts exactly 10000 bps", async function () {
      const fx = await loadFixture(oracleFixture);
      const slot = await nextSlot();
      const r = await signRound(fx.oracle, fx.attestors.slice(0, 3), {
        endpointIds: [EP1],
        values: 10_000,
        observedAt: slot.observedAt,
      });
      await expect(submitAt(fx.oracle, r, slot.blockTime)).to.emit(fx.oracle, "ReportAccepted");
    });
  });

  describe("observation time", function () {
    it("rejects a report observed outside the submitted round with HealthOracleObservationOutsideRound(position, round, observedAt)", async function () {
      const fx = await loadFixture(oracleFixture);
      const { r, blockTime } = await threeSigned(fx);
      const early = r.round * ROUND_SECONDS - 1n; // last second of the previous round
      const moved = await signReport(fx.oracle, fx.attestors[1], {
        ...r.reports[1],
        observedAt: Number(early),
      });
      await expect(submitAt(fx.oracle, r, blockTime, [r.reports[0], moved, r.reports[2]]))
        .to.be.revertedWithCustomError(fx.oracle, "HealthOracleObservationOutsideRound")
        .withArgs(1, r.round, early);
    });

    describe("from the future (maxSkew = 5 s)", function () {
      async function futureCase(fx: Fx, ahead: bigint) {
        const slot = await nextSlot(0n, 2n);
        const observedAt = slot.blockTime + ahead;
        const r = await signRound(fx.oracle, fx.attestors.slice(0, 3), {
          endpointIds: [EP1],
          values: 9000,
          observedAt: [slot.start, slot.start, observedAt],
          round: slot.round,
        });
        const position = r.reports.findIndex((x) => BigInt(x.observedAt) === observedAt);
        return { ...slot, r, position, observedAt };
      }

      it("accepts a report exactly maxSkew ahead of the block", async function () {
        const fx = await loadFixture(oracleFixture);
        const { r, blockTime } = await futureCase(fx, MAX_SKEW);
        await expect(submitAt(fx.oracle, r, blockTime)).to.emit(fx.oracle, "ReportAccepted");
      });

      it("rejects a report maxSkew + 1 s ahead with HealthOracleObservationFromFuture(position, observedAt, latestAllowed)", async function () {
        const fx = await loadFixture(oracleFixture);
        const { r, blockTime, position, observedAt } = await futureCase(fx, MAX_SKEW + 1n);
        await expect(submitAt(fx.oracle, r, blockTime))
          .to.be.revertedWithCustomError(fx.oracle, "HealthOracleObservationFromFuture")
          .withArgs(position, observedAt, blockTime + MAX_SKEW);
      });
    });

    describe("stale (maxAge = 90 s, counted from the quorum's observation time)", function () {
      /**
       * Reports at the first second of the round from one signer, the last second from two: the quorum's observation
       * time is the earliest (the oldest evidence counts; a signer can only make a round look older).
       */
      async function spread(fx: Fx, ids = [EP1]) {
        const slot = await nextSlot(0n);
        const quorumTime = slot.start;
        const r = await signRound(fx.oracle, fx.attestors.slice(0, 3), {
          endpointIds: ids,
          values: 9000,
          observedAt: [slot.start, quorumTime, quorumTime],
          round: slot.round,
        });
        return { r, quorumTime };
      }

      it("accepts the round exactly maxAge after its earliest observation, whatever later signers say", async function () {
        const fx = await loadFixture(oracleFixture);
        const { r, quorumTime } = await spread(fx);
        const blockTime = quorumTime + BigInt(POLICY.maxAge);
        await expect(submitAt(fx.oracle, r, blockTime))
          .to.emit(fx.oracle, "ReportAccepted")
          .withArgs(r.round, quorumTime, 0b0111, 1, 0);
        expect((await fx.oracle.statusOf(EP1)).updatedAt).to.equal(quorumTime);
      });

      it("rejects it 1 s later with HealthOracleStaleObservation(endpointId, quorum observedAt, maxAge)", async function () {
        const fx = await loadFixture(oracleFixture);
        const { r, quorumTime } = await spread(fx);
        await expect(submitAt(fx.oracle, r, quorumTime + BigInt(POLICY.maxAge) + 1n))
          .to.be.revertedWithCustomError(fx.oracle, "HealthOracleStaleObservation")
          .withArgs(EP1, quorumTime, POLICY.maxAge);
      });

      it("applies each endpoint's own maxAge and names the stale endpoint", async function () {
        const fx = await loadFixture(oracleFixture);
        await fx.oracle.setEndpointPolicy(EP2, { ...POLICY, maxAge: 30 });
        const { r, quorumTime } = await spread(fx, [EP1, EP2]);
        await expect(submitAt(fx.oracle, r, quorumTime + 31n))
          .to.be.revertedWithCustomError(fx.oracle, "HealthOracleStaleObservation")
          .withArgs(EP2, quorumTime, 30);
      });
    });
  });

  describe("signatures", function () {
    describe("malformed", function () {
      const cases: [string, (c: ReportCalldata) => ReportCalldata][] = [
        [
          "a high s (above n/2) carried in vs",
          (c) => ({ ...c, vs: toBeHex((BigInt(c.vs) & (1n << 255n)) | (SECP256K1_N / 2n + 1n), 32) }),
        ],
        ["r = 0", (c) => ({ ...c, r: ethers.ZeroHash })],
        [
          "s = 0 (recovers the zero address)",
          (c) => ({ ...c, vs: toBeHex(BigInt(c.vs) & (1n << 255n), 32) }),
        ],
        ["an r off the curve (recovers the zero address)", (c) => ({ ...c, r: offCurveR() })],
        ["r = n", (c) => ({ ...c, r: toBeHex(SECP256K1_N, 32) })],
      ];
      for (const [name, mangle] of cases) {
        it(`rejects ${name} with HealthOracleMalformedSignature(position)`, async function () {
          const fx = await loadFixture(oracleFixture);
          const { r, blockTime } = await threeSigned(fx);
          await time0(blockTime);
          await expect(fx.oracle.submit(...withReport(r, 1, mangle(toCalldata(r.reports[1])))))
            .to.be.revertedWithCustomError(fx.oracle, "HealthOracleMalformedSignature")
            .withArgs(1);
        });
      }
    });

    describe("signers", function () {
      it("rejects an outsider key with HealthOracleUnknownSigner(position, signer)", async function () {
        const fx = await loadFixture(oracleFixture);
        const { r, blockTime } = await threeSigned(fx);
        const forged = await signReport(fx.oracle, fx.outsider, r.reports[0]);
        await expect(submitAt(fx.oracle, r, blockTime, [forged, r.reports[1], r.reports[2]]))
          .to.be.revertedWithCustomError(fx.oracle, "HealthOracleUnknownSigner")
          .withArgs(0, fx.outsider.address);
      });

      it("never counts an outsider in place of a member, wherever it stands", async function () {
        const fx = await loadFixture(oracleFixture);
        const { r, blockTime } = await threeSigned(fx);
        const forged = await signReport(fx.oracle, fx.outsider, r.reports[2]);
        const previous = r.reports[1].attestor;
        const error =
          BigInt(fx.outsider.address) < BigInt(previous)
            ? "HealthOracleSignersNotAscending"
            : "HealthOracleUnknownSigner";
        await expect(submitAt(fx.oracle, r, blockTime, [r.reports[0], r.reports[1], forged]))
          .to.be.revertedWithCustomError(fx.oracle, error)
          .withArgs(2, fx.outsider.address);
      });

      it("rejects the same attestor twice with HealthOracleDuplicateSigner(position, signer)", async function () {
        const fx = await loadFixture(oracleFixture);
        const { r, blockTime } = await threeSigned(fx);
        await expect(submitAt(fx.oracle, r, blockTime, [r.reports[0], r.reports[0], r.reports[1]]))
          .to.be.revertedWithCustomError(fx.oracle, "HealthOracleDuplicateSigner")
          .withArgs(1, r.reports[0].attestor);
      });

      it("rejects reports not sorted by signer with HealthOracleSignersNotAscending(position, signer)", async function () {
        const fx = await loadFixture(oracleFixture);
        const { r, blockTime } = await threeSigned(fx);
        await expect(submitAt(fx.oracle, r, blockTime, [r.reports[1], r.reports[0], r.reports[2]]))
          .to.be.revertedWithCustomError(fx.oracle, "HealthOracleSignersNotAscending")
          .withArgs(1, r.reports[0].attestor);
      });
    });

    describe("replay across domains and configurations", function () {
      for (const [name, override] of [
        ["another chain id", { chainId: 1n }],
        [
          "another oracle (verifyingContract)",
          { verifyingContract: "0x000000000000000000000000000000000000dEaD" },
        ],
        ["another version", { version: "1" }],
      ] as const) {
        it(`rejects a report signed under ${name} with HealthOracleUnknownSigner(position, recovered)`, async function () {
          const fx = await loadFixture(oracleFixture);
          const { r, blockTime } = await threeSigned(fx);
          const foreign = await signReport(fx.oracle, fx.attestors[0], r.reports[0], {
            domainOverride: override,
          });
          await expect(submitAt(fx.oracle, r, blockTime, [foreign, r.reports[1], r.reports[2]]))
            .to.be.revertedWithCustomError(fx.oracle, "HealthOracleUnknownSigner")
            .withArgs(0, await recoveredBy(fx.oracle, foreign));
        });
      }

      it("rejects at a second deployment a round made for the first, whatever digest it is relayed with", async function () {
        const fx = await loadFixture(oracleFixture);
        const second = await deployOracle();
        await second.setAttestors(
          fx.attestors.map((a) => a.address),
          3,
        );
        const secondDigest = await second.configDigest();
        const { r, blockTime } = await threeSigned(fx);
        await time0(blockTime);
        await expect(second.submit(...submitArgs(r)))
          .to.be.revertedWithCustomError(second, "HealthOracleConfigDigestMismatch")
          .withArgs(secondDigest, r.configDigest);
        const separator = domainSeparator(await reportDomain(second));
        const recovered = recoverAddress(
          reportDigest(separator, { ...r.reports[0], configDigest: secondDigest }),
          r.reports[0].signature,
        );
        const [, round, ids, signatures, values] = submitArgs(r);
        await expect(second.submit(secondDigest, round, ids, signatures, values))
          .to.be.revertedWithCustomError(second, "HealthOracleUnknownSigner")
          .withArgs(0, recovered);
      });

      it("after a rotation, rejects the old digest and counts no signature made under it", async function () {
        const fx = await loadFixture(oracleFixture);
        const { r, blockTime } = await threeSigned(fx);
        await fx.oracle.setAttestors(
          fx.attestors.map((a) => a.address),
          4,
        );
        const current = await fx.oracle.configDigest();
        await time0(blockTime);
        await expect(fx.oracle.submit(...submitArgs(r)))
          .to.be.revertedWithCustomError(fx.oracle, "HealthOracleConfigDigestMismatch")
          .withArgs(current, r.configDigest);
        const all = await signRound(fx.oracle, fx.attestors, {
          endpointIds: [EP1],
          values: 9000,
          observedAt: r.reports[0].observedAt,
          configDigest: r.configDigest,
        });
        const [, round, ids, signatures, values] = submitArgs(all);
        await expect(fx.oracle.submit(current, round, ids, signatures, values))
          .to.be.revertedWithCustomError(fx.oracle, "HealthOracleUnknownSigner")
          .withArgs(0, await recoveredBy(fx.oracle, all.reports[0], current));
      });
    });
  });
});

/** The next block's timestamp (for calls that go through the contract directly). */
async function time0(at: bigint) {
  const { time } = await import("@nomicfoundation/hardhat-network-helpers");
  await time.setNextBlockTimestamp(at);
}
