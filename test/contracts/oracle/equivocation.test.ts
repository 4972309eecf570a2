/**
 * HealthOracle v2 equivocation: two different reports of one attestor for one round under the current digest are
 * provable by anyone and jail the attestor until the owner rotates the set; honest behaviour is never provable.
 */
import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { recoverAddress } from "ethers";
import { domainSeparator, reportDigest } from "../../../keepers/shared/report";
import {
  attestorWallets,
  equivocationArgs,
  reportDomain,
  signReport,
  signRound,
  sortSigners,
  valuesFor,
  type Report,
} from "../../helpers/attest";
import { EP1, EP2, ROUND_SECONDS, deployOracle, nextSlot, oracleFixture, submitAt, type Fx } from "./fixture";

/** Attestor `i` signs `report` and a variant of it (same round). */
async function conflicting(fx: Fx, i: number, variant: (r: Report) => Report) {
  const slot = await nextSlot();
  const report: Report = {
    configDigest: await fx.oracle.configDigest(),
    round: Number(slot.round),
    observedAt: Number(slot.observedAt),
    endpointIds: [EP1],
    values: valuesFor([9000]),
  };
  const a = await signReport(fx.oracle, fx.attestors[i], report);
  const b = await signReport(fx.oracle, fx.attestors[i], variant(report));
  return { a, b, ...slot };
}

describe("HealthOracle v2: equivocation", function () {
  for (const [name, variant] of [
    ["different values", (r: Report) => ({ ...r, values: valuesFor([0]) })],
    [
      "a different observation time in the same round",
      (r: Report) => ({ ...r, observedAt: r.observedAt + 1 }),
    ],
    [
      "a different endpoint list",
      (r: Report) => ({ ...r, endpointIds: [EP1, EP2], values: valuesFor([9000, 9000]) }),
    ],
  ] as const) {
    it(`jails an attestor that signed two reports of one round with ${name}, proven by anyone`, async function () {
      const fx = await loadFixture(oracleFixture);
      const { a, b, round } = await conflicting(fx, 1, variant);
      const digest = await fx.oracle.configDigest();
      await expect(fx.oracle.connect(fx.other).proveEquivocation(...equivocationArgs(round, a, b)))
        .to.emit(fx.oracle, "AttestorJailed")
        .withArgs(fx.attestors[1].address, digest, round, fx.other.address);
      expect(await fx.oracle.isJailed(fx.attestors[1].address)).to.equal(true);
      expect(await fx.oracle.isJailed(fx.attestors[0].address)).to.equal(false);
    });
  }

  it("refuses a jailed signer's report with HealthOracleJailedSigner(position, signer), and counts the others", async function () {
    const fx = await loadFixture(oracleFixture);
    const { a, b, round } = await conflicting(fx, 1, (r) => ({ ...r, values: valuesFor([0]) }));
    await fx.oracle.proveEquivocation(...equivocationArgs(round, a, b));
    const slot = await nextSlot();
    const r = await signRound(fx.oracle, fx.attestors, {
      endpointIds: [EP1],
      values: 9000,
      observedAt: slot.observedAt,
    });
    await expect(submitAt(fx.oracle, r, slot.blockTime))
      .to.be.revertedWithCustomError(fx.oracle, "HealthOracleJailedSigner")
      .withArgs(1, fx.attestors[1].address);
    await expect(submitAt(fx.oracle, r, slot.blockTime + 1n, [r.reports[0], r.reports[2], r.reports[3]]))
      .to.emit(fx.oracle, "ReportAccepted")
      .withArgs(slot.round, slot.observedAt, 0b1101, 1, 0);
  });

  it("rejects a second proof against the same attestor with HealthOracleAlreadyJailed(attestor)", async function () {
    const fx = await loadFixture(oracleFixture);
    const { a, b, round } = await conflicting(fx, 2, (r) => ({ ...r, values: valuesFor([0]) }));
    await fx.oracle.proveEquivocation(...equivocationArgs(round, a, b));
    await expect(fx.oracle.proveEquivocation(...equivocationArgs(round, b, a)))
      .to.be.revertedWithCustomError(fx.oracle, "HealthOracleAlreadyJailed")
      .withArgs(fx.attestors[2].address);
  });

  it("releases every jailed attestor on rotation (setAttestors)", async function () {
    const fx = await loadFixture(oracleFixture);
    const { a, b, round } = await conflicting(fx, 0, (r) => ({ ...r, values: valuesFor([0]) }));
    await fx.oracle.proveEquivocation(...equivocationArgs(round, a, b));
    await fx.oracle.setAttestors(
      fx.attestors.map((x) => x.address),
      3,
    );
    expect(await fx.oracle.isJailed(fx.attestors[0].address)).to.equal(false);
    const slot = await nextSlot();
    const r = await signRound(fx.oracle, fx.attestors.slice(0, 3), {
      endpointIds: [EP1],
      values: 9000,
      observedAt: slot.observedAt,
    });
    await expect(submitAt(fx.oracle, r, slot.blockTime))
      .to.emit(fx.oracle, "ReportAccepted")
      .withArgs(slot.round, slot.observedAt, 0b0111, 1, 0);
  });

  describe("honest behaviour is never provable", function () {
    it("rejects the same report twice (same payload) with HealthOracleNotEquivocation(signer, signer)", async function () {
      const fx = await loadFixture(oracleFixture);
      const { a, round } = await conflicting(fx, 0, (r) => r);
      await expect(fx.oracle.proveEquivocation(...equivocationArgs(round, a, a)))
        .to.be.revertedWithCustomError(fx.oracle, "HealthOracleNotEquivocation")
        .withArgs(fx.attestors[0].address, fx.attestors[0].address);
    });

    it("rejects reports of two different signers with HealthOracleNotEquivocation(signerA, signerB)", async function () {
      const fx = await loadFixture(oracleFixture);
      const { a, round } = await conflicting(fx, 0, (r) => r);
      const b = await signReport(fx.oracle, fx.attestors[1], { ...a, values: valuesFor([0]) });
      await expect(fx.oracle.proveEquivocation(...equivocationArgs(round, a, b)))
        .to.be.revertedWithCustomError(fx.oracle, "HealthOracleNotEquivocation")
        .withArgs(fx.attestors[0].address, fx.attestors[1].address);
    });

    it("cannot prove one attestor's reports of two different rounds (the second recovers to another address)", async function () {
      const fx = await loadFixture(oracleFixture);
      const { a, round } = await conflicting(fx, 0, (r) => r);
      const b = await signReport(fx.oracle, fx.attestors[0], {
        ...a,
        round: a.round + 1,
        observedAt: a.observedAt + Number(ROUND_SECONDS),
        values: valuesFor([0]),
      });
      const separator = domainSeparator(await reportDomain(fx.oracle));
      const asIfSameRound = recoverAddress(
        reportDigest(separator, { ...b, round: Number(round) }),
        b.signature,
      );
      for (const claimed of [round, round + 1n]) {
        const [first, second] =
          claimed === round
            ? [a.attestor, asIfSameRound]
            : [
                recoverAddress(reportDigest(separator, { ...a, round: Number(claimed) }), a.signature),
                b.attestor,
              ];
        await expect(fx.oracle.proveEquivocation(...equivocationArgs(claimed, a, b)))
          .to.be.revertedWithCustomError(fx.oracle, "HealthOracleNotEquivocation")
          .withArgs(first, second);
      }
    });

    it("rejects an outsider's conflicting pair with HealthOracleNotEquivocation(outsider, outsider)", async function () {
      const fx = await loadFixture(oracleFixture);
      const { a, round } = await conflicting(fx, 0, (r) => r);
      const x = await signReport(fx.oracle, fx.outsider, a);
      const y = await signReport(fx.oracle, fx.outsider, { ...a, values: valuesFor([0]) });
      await expect(fx.oracle.proveEquivocation(...equivocationArgs(round, x, y)))
        .to.be.revertedWithCustomError(fx.oracle, "HealthOracleNotEquivocation")
        .withArgs(fx.outsider.address, fx.outsider.address);
    });

    it("cannot prove a pair signed under the previous digest after a rotation", async function () {
      const fx = await loadFixture(oracleFixture);
      const { a, b, round } = await conflicting(fx, 0, (r) => ({ ...r, values: valuesFor([0]) }));
      await fx.oracle.setAttestors(
        fx.attestors.map((x) => x.address),
        4,
      );
      const current = await fx.oracle.configDigest();
      const separator = domainSeparator(await reportDomain(fx.oracle));
      const rec = (r: typeof a) =>
        recoverAddress(reportDigest(separator, { ...r, configDigest: current }), r.signature);
      await expect(fx.oracle.proveEquivocation(...equivocationArgs(round, a, b)))
        .to.be.revertedWithCustomError(fx.oracle, "HealthOracleNotEquivocation")
        .withArgs(rec(a), rec(b));
    });
  });

  it("rejects a malformed signature in either report with HealthOracleMalformedSignature(0 or 1)", async function () {
    const fx = await loadFixture(oracleFixture);
    const { a, b, round } = await conflicting(fx, 0, (r) => ({ ...r, values: valuesFor([0]) }));
    const [claimed, ea, eb] = equivocationArgs(round, a, b);
    await expect(
      fx.oracle.proveEquivocation(claimed, { ...ea, report: { ...ea.report, r: ethers.ZeroHash } }, eb),
    )
      .to.be.revertedWithCustomError(fx.oracle, "HealthOracleMalformedSignature")
      .withArgs(0);
    await expect(
      fx.oracle.proveEquivocation(claimed, ea, { ...eb, report: { ...eb.report, r: ethers.ZeroHash } }),
    )
      .to.be.revertedWithCustomError(fx.oracle, "HealthOracleMalformedSignature")
      .withArgs(1);
  });

  it("rejects any proof before the first attestor set with HealthOracleConfigDigestMismatch(0, 0)", async function () {
    const oracle = await deployOracle();
    const [w] = await sortSigners(attestorWallets(1, "lonely"));
    const slot = await nextSlot();
    const report: Report = {
      configDigest: ethers.ZeroHash,
      round: Number(slot.round),
      observedAt: Number(slot.observedAt),
      endpointIds: [EP1],
      values: valuesFor([1]),
    };
    const a = await signReport(oracle, w, report);
    const b = await signReport(oracle, w, { ...report, values: valuesFor([2]) });
    await expect(oracle.proveEquivocation(...equivocationArgs(slot.round, a, b)))
      .to.be.revertedWithCustomError(oracle, "HealthOracleConfigDigestMismatch")
      .withArgs(ethers.ZeroHash, ethers.ZeroHash);
  });
});
