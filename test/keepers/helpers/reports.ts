/**
 * Signed v2 reports for the responder tests, straight from keepers/shared/report.ts (what an attestor serves on
 * `GET /v1/reports`), plus the malformed variants a hostile attestor could serve.
 */
import { Signature, SigningKey, Wallet, type TypedDataDomain } from "ethers";
import {
  domainSeparator,
  encodeValues,
  reportDigest,
  signReportDigest,
  type EndpointValue,
  type SignedReport,
} from "../../../keepers/shared/report";

export interface ReportInput {
  configDigest: string;
  roundSeconds: number;
  observedAt: number;
  /** Strictly ascending, lower-case. */
  endpointIds: string[];
  values: EndpointValue[];
  /** Default `floor(observedAt / roundSeconds)`. */
  round?: number;
}

/** One attestor's signed report under `domain` (or a precomputed separator). */
export function signReport(
  wallet: Wallet,
  domain: TypedDataDomain | string,
  input: ReportInput,
): SignedReport {
  const separator = typeof domain === "string" ? domain : domainSeparator(domain);
  const report = {
    configDigest: input.configDigest,
    round: input.round ?? Math.floor(input.observedAt / input.roundSeconds),
    observedAt: input.observedAt,
    endpointIds: input.endpointIds,
    values: encodeValues(input.values),
  };
  const key = new SigningKey(wallet.privateKey);
  return {
    ...report,
    attestor: wallet.address,
    signature: signReportDigest(key, reportDigest(separator, report)),
  };
}

/** The same signature with s replaced by n - s and v flipped: valid for ecrecover, rejected as malleable. */
export function highS(signature: string): string {
  const sig = Signature.from(signature);
  const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
  const s = n - BigInt(sig.s);
  const v = sig.v === 27 ? 28 : 27;
  return sig.r + s.toString(16).padStart(64, "0") + v.toString(16);
}

/** An endpoint id from a small number, as the registry's ids are 32-byte words. */
export function endpointId(i: number): string {
  return "0x" + i.toString(16).padStart(64, "0");
}

/** Wallets sorted by address ascending (as the oracle's attestor set must be). */
export function sortedWallets(n: number): Wallet[] {
  return Array.from({ length: n }, () => new Wallet(Wallet.createRandom().privateKey)).sort((a, b) =>
    a.address.toLowerCase() < b.address.toLowerCase() ? -1 : 1,
  );
}
