/**
 * keepers/shared/report.ts, the v2 report format: its hand-rolled EIP-712 digest equals ethers' TypedDataEncoder
 * and the deployed HealthOracle's `reportDigest`; values round-trip and reject out-of-range input; the wire schema
 * rejects malformed reports.
 */
import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import fc from "fast-check";
import { Signature, TypedDataEncoder, Wallet, concat, hexlify, keccak256, type TypedDataField } from "ethers";
import {
  REPORT_TYPEHASH,
  REPORT_TYPES,
  decodeValues,
  domainSeparator,
  encodeValues,
  hashEndpointIds,
  recoverReportSigner,
  reportDigest,
  signReportDigest,
  sortEndpointIds,
  toCalldata,
  toSubmitArgs,
  zSignedReport,
  type EndpointValue,
  type Report,
} from "../../keepers/shared/report";
import { reportDomain } from "../helpers/attest";

const TYPES = REPORT_TYPES as unknown as Record<string, TypedDataField[]>;

async function oracleFixture() {
  const [owner] = await ethers.getSigners();
  const oracle = await ethers.deployContract("HealthOracle", [
    owner.address,
    10,
    5,
    100_000,
    { downBelowBps: 5000, upAtBps: 8000, fallRounds: 3, riseRounds: 2, heartbeat: 60, maxAge: 90 },
  ]);
  return { oracle, domain: await reportDomain(oracle as never) };
}

const hex32 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => hexlify(b));
const value: fc.Arbitrary<EndpointValue> = fc.record({
  healthBps: fc.integer({ min: 0, max: 10_000 }),
  badRounds: fc.integer({ min: 0, max: 255 }),
  goodRounds: fc.integer({ min: 0, max: 255 }),
});
const report: fc.Arbitrary<Report> = fc.uniqueArray(hex32, { minLength: 1, maxLength: 12 }).chain((ids) =>
  fc.record({
    configDigest: hex32,
    round: fc.integer({ min: 0, max: 2 ** 40 - 1 }),
    observedAt: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
    endpointIds: fc.constant(sortEndpointIds(ids)),
    values: fc.array(value, { minLength: ids.length, maxLength: ids.length }).map(encodeValues),
  }),
);

describe("keepers/shared/report", function () {
  describe("reportDigest", function () {
    it("uses the contract's REPORT_TYPEHASH", async function () {
      const { oracle } = await loadFixture(oracleFixture);
      expect(REPORT_TYPEHASH).to.equal(await oracle.REPORT_TYPEHASH());
    });

    it("equals ethers' TypedDataEncoder.hash and the deployed HealthOracle's reportDigest for random reports", async function () {
      const { oracle, domain } = await loadFixture(oracleFixture);
      const separator = domainSeparator(domain);
      await fc.assert(
        fc.asyncProperty(report, async (r) => {
          const digest = reportDigest(separator, r);
          expect(digest).to.equal(TypedDataEncoder.hash(domain, TYPES, r));
          expect(digest).to.equal(
            await oracle.reportDigest(r.configDigest, r.round, r.observedAt, r.endpointIds, r.values),
          );
          expect(reportDigest(separator, r, hashEndpointIds(r.endpointIds))).to.equal(digest);
        }),
        { numRuns: 60, seed: 8 },
      );
    });

    it("hashes an endpoint list as keccak256 of the concatenated ids (and the empty list as keccak256 of nothing)", function () {
      const ids = [ethers.id("a"), ethers.id("b")];
      expect(hashEndpointIds(ids)).to.equal(keccak256(concat(ids)));
      expect(hashEndpointIds([])).to.equal(keccak256("0x"));
    });

    it("signs and recovers: the signer of signReportDigest is recovered, and toCalldata is its EIP-2098 form", async function () {
      const { domain } = await loadFixture(oracleFixture);
      const wallet = new Wallet(ethers.id("report-signer"));
      const r: Report = {
        configDigest: ethers.id("cfg"),
        round: 7,
        observedAt: 75,
        endpointIds: [ethers.id("a")],
        values: encodeValues([{ healthBps: 1, badRounds: 2, goodRounds: 3 }]),
      };
      const digest = reportDigest(domainSeparator(domain), r);
      const signature = signReportDigest(wallet.signingKey, digest);
      expect(signature).to.equal(await wallet.signTypedData(domain, TYPES, r));
      expect(recoverReportSigner(digest, signature)).to.equal(wallet.address);
      const c = toCalldata({ signature, observedAt: r.observedAt });
      expect(c).to.deep.equal({
        r: Signature.from(signature).r,
        vs: Signature.from(signature).yParityAndS,
        observedAt: 75n,
      });
    });
  });

  describe("encodeValues / decodeValues", function () {
    it("round-trip any in-range values, 4 bytes per endpoint, health big-endian", function () {
      fc.assert(
        fc.property(fc.array(value, { maxLength: 50 }), (vs) => {
          const hex = encodeValues(vs);
          expect(ethers.dataLength(hex)).to.equal(4 * vs.length);
          expect(decodeValues(hex)).to.deep.equal(vs);
        }),
        { seed: 8 },
      );
      expect(encodeValues([{ healthBps: 10_000, badRounds: 1, goodRounds: 255 }])).to.equal("0x271001ff");
    });

    for (const [name, v] of [
      ["health above 10000 bps", { healthBps: 10_001, badRounds: 0, goodRounds: 0 }],
      ["negative health", { healthBps: -1, badRounds: 0, goodRounds: 0 }],
      ["fractional health", { healthBps: 1.5, badRounds: 0, goodRounds: 0 }],
      ["badRounds above 255", { healthBps: 0, badRounds: 256, goodRounds: 0 }],
      ["negative goodRounds", { healthBps: 0, badRounds: 0, goodRounds: -1 }],
    ] as const) {
      it(`encodeValues throws a RangeError on ${name}`, function () {
        expect(() => encodeValues([{ healthBps: 1, badRounds: 0, goodRounds: 0 }, v])).to.throw(
          RangeError,
          /endpoint 1/,
        );
      });
    }

    it("decodeValues throws a RangeError on a length that is not a multiple of 4 or health above 10000 bps", function () {
      expect(() => decodeValues("0x271000")).to.throw(RangeError, /3 bytes/);
      expect(() => decodeValues("0x0000000027110000")).to.throw(RangeError, /endpoint 1 exceeds/);
    });
  });

  describe("sortEndpointIds", function () {
    it("sorts ids ascending as numbers in lower case and rejects duplicates whatever their case", function () {
      const [a, b] = [ethers.id("x"), ethers.id("y")].sort();
      expect(sortEndpointIds([b.toUpperCase().replace("0X", "0x"), a])).to.deep.equal([a, b]);
      expect(() => sortEndpointIds([a, a.toUpperCase().replace("0X", "0x")])).to.throw(
        RangeError,
        /duplicate/,
      );
    });
  });

  describe("toSubmitArgs", function () {
    const base: Report = {
      configDigest: ethers.id("cfg"),
      round: 9,
      observedAt: 91,
      endpointIds: [ethers.id("a")].map((x) => x.toLowerCase()),
      values: "0x00000000",
    };
    const signed = (i: number, patch: Partial<Report> = {}) => ({
      ...base,
      values: encodeValues([{ healthBps: i, badRounds: 0, goodRounds: 0 }]),
      ...patch,
      attestor: ethers.getAddress(ethers.zeroPadValue(ethers.toBeHex(100 - i), 20)),
      signature: Signature.from({ r: ethers.id(`r${i}`), yParityAndS: ethers.toBeHex(i + 1, 32) }).serialized,
    });

    it("sorts reports by attestor and concatenates their values in the same order", function () {
      const reports = [signed(3), signed(1), signed(2)];
      const args = toSubmitArgs(reports);
      // attestor 100 - i: ascending addresses are i = 3, 2, 1
      expect(args.values).to.equal(concat([reports[0].values, reports[2].values, reports[1].values]));
      expect(args.reports.map((x) => x.observedAt)).to.deep.equal([91n, 91n, 91n]);
      expect(args.reports[0].r).to.equal(ethers.id("r3"));
      expect([args.configDigest, args.round, args.endpointIds]).to.deep.equal([
        base.configDigest,
        9,
        base.endpointIds,
      ]);
    });

    it("throws a RangeError on no reports, another round, another digest, another endpoint list or an attestor twice", function () {
      expect(() => toSubmitArgs([])).to.throw(RangeError);
      expect(() => toSubmitArgs([signed(1), signed(2, { round: 10 })])).to.throw(RangeError, /round/);
      expect(() => toSubmitArgs([signed(1), signed(2, { configDigest: ethers.id("x") })])).to.throw(
        RangeError,
      );
      expect(() => toSubmitArgs([signed(1), signed(2, { endpointIds: [ethers.id("b")] })])).to.throw(
        RangeError,
        /endpoint list/,
      );
      expect(() => toSubmitArgs([signed(1), signed(1)])).to.throw(RangeError, /twice/);
    });
  });

  describe("zSignedReport", function () {
    const valid = {
      attestor: "0x" + "11".repeat(20),
      configDigest: "0x" + "22".repeat(32),
      round: 5,
      observedAt: 55,
      endpointIds: ["0x" + "33".repeat(32)],
      values: "0x27100001",
      signature: "0x" + "44".repeat(65),
    };

    it("accepts a well-formed report", function () {
      expect(zSignedReport.safeParse(valid).success).to.equal(true);
    });

    for (const [name, patch] of [
      ["a short attestor address", { attestor: "0x" + "11".repeat(19) }],
      ["a config digest of 31 bytes", { configDigest: "0x" + "22".repeat(31) }],
      ["a negative round", { round: -1 }],
      ["a fractional round", { round: 1.5 }],
      ["a round beyond 2^53", { round: 2 ** 53 }],
      ["observedAt as a string", { observedAt: "55" }],
      ["no endpoint ids", { endpointIds: [] }],
      ["an endpoint id that is not hex", { endpointIds: ["0x" + "zz".repeat(32)] }],
      ["values of 3 bytes", { values: "0x271000" }],
      ["empty values", { values: "0x" }],
      ["a 64-byte signature", { signature: "0x" + "44".repeat(64) }],
      ["a missing signature", { signature: undefined }],
    ] as const) {
      it(`rejects ${name}`, function () {
        expect(zSignedReport.safeParse({ ...valid, ...patch }).success).to.equal(false);
      });
    }
  });
});
