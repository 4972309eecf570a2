/**
 * The signed report of health model v2, for keepers: one EIP-712 `Report` per attestor per round covering
 * every endpoint it watches, exactly as `HealthOracle.REPORT_TYPEHASH` declares it:
 * `Report(bytes32 configDigest,uint64 round,uint64 observedAt,bytes32[] endpointIds,bytes values)`.
 *
 * Hashing is done here by hand (keccak over the packed id list and values, then the EIP-712 envelope) rather
 * than with ethers' `TypedDataEncoder`, which ABI-encodes a 10,000-id array element by element: the responder
 * verifies one report per attestor per round and must stay within microseconds per endpoint. The unit tests
 * check every digest here against `TypedDataEncoder` and against the contract's `reportDigest`.
 */
import {
  AbiCoder,
  Signature,
  SigningKey,
  TypedDataEncoder,
  concat,
  getBytes,
  hexlify,
  keccak256,
  recoverAddress,
  toUtf8Bytes,
  type TypedDataDomain,
} from "ethers";
import { z } from "zod";
import { MAX_BPS } from "./health";

/** The EIP-712 type, as ethers' `signTypedData` takes it. */
export const REPORT_TYPES = {
  Report: [
    { name: "configDigest", type: "bytes32" },
    { name: "round", type: "uint64" },
    { name: "observedAt", type: "uint64" },
    { name: "endpointIds", type: "bytes32[]" },
    { name: "values", type: "bytes" },
  ],
} as const;

/** `keccak256("Report(bytes32 configDigest,uint64 round,uint64 observedAt,bytes32[] endpointIds,bytes values)")`. */
export const REPORT_TYPEHASH = keccak256(
  toUtf8Bytes(
    "Report(bytes32 configDigest,uint64 round,uint64 observedAt,bytes32[] endpointIds,bytes values)",
  ),
);

/** Bytes per endpoint in `values`: healthBps (uint16 big-endian), badRounds (uint8), goodRounds (uint8). */
export const VALUE_BYTES = 4;

/** One attestor's verdict on one endpoint in one round. */
export interface EndpointValue {
  /** 0..10_000 bps. */
  healthBps: number;
  /** Consecutive rounds, this one included, in which this attestor saw health below `downBelowBps` (0..255). */
  badRounds: number;
  /** Consecutive rounds, this one included, at or above `upAtBps` (0..255). */
  goodRounds: number;
}

/** The signed payload. `round` and `observedAt` are plain numbers (Unix seconds fit in 2^53). */
export interface Report {
  configDigest: string;
  round: number;
  /** Unix seconds at which the attestor signed; inside the round's slot. */
  observedAt: number;
  /** Endpoint ids (0x-prefixed 32-byte hex), strictly ascending. */
  endpointIds: string[];
  /** `encodeValues(...)` of one value per endpoint id, 0x hex. */
  values: string;
}

/** A report with its attestor's signature, as served on `GET /v1/reports`. */
export interface SignedReport extends Report {
  /** The attestor's address (checksummed); a claim, verified by recovering the signature. */
  attestor: string;
  /** 65-byte hex signature (r, s, v). */
  signature: string;
}

/** `IHealthOracle.SignedReport` as the contract takes it (EIP-2098 compact signature; values travel apart). */
export interface ReportCalldata {
  r: string;
  vs: string;
  observedAt: bigint;
}

/** Pack per-endpoint values, 4 bytes each. @throws RangeError on a value out of range. */
export function encodeValues(values: readonly EndpointValue[]): string {
  const out = new Uint8Array(values.length * VALUE_BYTES);
  values.forEach((v, i) => {
    if (!Number.isInteger(v.healthBps) || v.healthBps < 0 || v.healthBps > MAX_BPS) {
      throw new RangeError(`healthBps ${v.healthBps} of endpoint ${i} is outside 0..${MAX_BPS}`);
    }
    for (const k of ["badRounds", "goodRounds"] as const) {
      if (!Number.isInteger(v[k]) || v[k] < 0 || v[k] > 255)
        throw new RangeError(`${k} ${v[k]} of endpoint ${i} is outside 0..255`);
    }
    out[i * 4] = v.healthBps >> 8;
    out[i * 4 + 1] = v.healthBps & 0xff;
    out[i * 4 + 2] = v.badRounds;
    out[i * 4 + 3] = v.goodRounds;
  });
  return hexlify(out);
}

/**
 * Unpack `values` hex into per-endpoint values.
 * @throws RangeError when the length is not a multiple of 4 bytes or a health value exceeds 10_000 bps.
 */
export function decodeValues(values: string): EndpointValue[] {
  const bytes = getBytes(values);
  if (bytes.length % VALUE_BYTES !== 0)
    throw new RangeError(`values are ${bytes.length} bytes, not a multiple of 4`);
  const out: EndpointValue[] = new Array(bytes.length / VALUE_BYTES);
  for (let i = 0; i < out.length; i++) {
    const healthBps = (bytes[i * 4] << 8) | bytes[i * 4 + 1];
    if (healthBps > MAX_BPS)
      throw new RangeError(`healthBps ${healthBps} of endpoint ${i} exceeds ${MAX_BPS}`);
    out[i] = { healthBps, badRounds: bytes[i * 4 + 2], goodRounds: bytes[i * 4 + 3] };
  }
  return out;
}

/** Sort endpoint ids strictly ascending as the contract requires (lower-case hex compares as numbers). @throws on duplicates. */
export function sortEndpointIds(ids: readonly string[]): string[] {
  const sorted = ids.map((id) => id.toLowerCase()).sort();
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i] === sorted[i - 1]) throw new RangeError(`duplicate endpoint id ${sorted[i]}`);
  }
  return sorted;
}

/** EIP-712 hash of a `bytes32[]`: keccak256 of the concatenated ids. Cache it: every attestor of a round shares it. */
export function hashEndpointIds(endpointIds: readonly string[]): string {
  return keccak256(endpointIds.length === 0 ? "0x" : concat(endpointIds as string[]));
}

const coder = AbiCoder.defaultAbiCoder();

/** The domain separator of `domain` (cache it per oracle). */
export function domainSeparator(domain: TypedDataDomain): string {
  return TypedDataEncoder.hashDomain(domain);
}

/**
 * The EIP-712 digest of a report: what the attestor signs and `HealthOracle.reportDigest` returns.
 * @param separator `domainSeparator(domain)`.
 * @param idsHash `hashEndpointIds(report.endpointIds)`, computed once per id list when given.
 */
export function reportDigest(
  separator: string,
  report: Report,
  idsHash = hashEndpointIds(report.endpointIds),
): string {
  const structHash = keccak256(
    coder.encode(
      ["bytes32", "bytes32", "uint64", "uint64", "bytes32", "bytes32"],
      [
        REPORT_TYPEHASH,
        report.configDigest,
        report.round,
        report.observedAt,
        idsHash,
        keccak256(report.values),
      ],
    ),
  );
  return keccak256(concat(["0x1901", separator, structHash]));
}

/** Sign a report digest with a raw key (attestors: one signature per round). @returns the 65-byte signature, 0x hex. */
export function signReportDigest(key: SigningKey, digest: string): string {
  return key.sign(digest).serialized;
}

/** Recover the signer of a report digest. @throws on a malformed signature. */
export function recoverReportSigner(digest: string, signature: string): string {
  return recoverAddress(digest, signature);
}

/** The calldata form of one signed report: EIP-2098 `(r, vs)`, `observedAt` as bigint. */
export function toCalldata(report: Pick<SignedReport, "signature" | "observedAt">): ReportCalldata {
  const sig = Signature.from(report.signature);
  return { r: sig.r, vs: sig.yParityAndS, observedAt: BigInt(report.observedAt) };
}

/** The arguments of `HealthOracle.submit` for one round. */
export interface SubmitArgs {
  configDigest: string;
  round: number;
  endpointIds: string[];
  reports: ReportCalldata[];
  /** Every report's values concatenated, in the order of `reports`. */
  values: string;
}

/**
 * Shape the reports of one round for `submit(configDigest, round, endpointIds, reports, values)`: sorted by signer
 * address ascending (as the contract requires), values concatenated in the same order.
 * @param reports At least `quorum` reports of the same round, digest and endpoint list, each signed by a
 * different attestor (`attestor` must be the recovered signer; the caller verified it).
 * @throws RangeError when the reports disagree on round, digest or endpoint list, or repeat an attestor.
 */
export function toSubmitArgs(reports: readonly SignedReport[]): SubmitArgs {
  if (reports.length === 0) throw new RangeError("no reports to submit");
  const first = reports[0];
  const ids = first.endpointIds.map((id) => id.toLowerCase()).join();
  const sorted = [...reports].sort((a, b) => (BigInt(a.attestor) < BigInt(b.attestor) ? -1 : 1));
  for (let i = 0; i < sorted.length; i++) {
    const r = sorted[i];
    if (r.round !== first.round || r.configDigest.toLowerCase() !== first.configDigest.toLowerCase()) {
      throw new RangeError(
        `report of ${r.attestor} is for round ${r.round}, not ${first.round}, or another digest`,
      );
    }
    if (r.endpointIds.map((id) => id.toLowerCase()).join() !== ids) {
      throw new RangeError(`report of ${r.attestor} covers another endpoint list`);
    }
    if (i > 0 && BigInt(sorted[i - 1].attestor) === BigInt(r.attestor))
      throw new RangeError(`attestor ${r.attestor} twice`);
  }
  return {
    configDigest: first.configDigest,
    round: first.round,
    endpointIds: first.endpointIds,
    reports: sorted.map(toCalldata),
    values: concat(sorted.map((r) => r.values)),
  };
}

const hex32 = /^0x[0-9a-fA-F]{64}$/;

/** Schema of one served report: everything an attestor returns is hostile until checked. */
export const zSignedReport = z.object({
  attestor: z.string().regex(/^0x[0-9a-fA-F]{40}$/),
  configDigest: z.string().regex(hex32),
  round: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  observedAt: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  endpointIds: z.array(z.string().regex(hex32)).min(1),
  values: z.string().regex(/^0x([0-9a-fA-F]{8})+$/),
  signature: z.string().regex(/^0x[0-9a-fA-F]{130}$/),
});
