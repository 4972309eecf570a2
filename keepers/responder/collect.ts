/**
 * Gather the attestors' signed reports (health model v2: one report per attestor per round covering every
 * endpoint it watches) and choose the round to relay. Every byte an attestor serves is hostile: each report is
 * checked off-chain as the oracle will check it (schema, config digest, round rule, time, endpoint order, values,
 * one signature recovered under the domain read from the oracle, signer in the current set and not jailed), and
 * one lying, slow or broken attestor never blocks the others. Answers are fanned out to every attestor, each
 * with its own deadline, and the choice is made from all of them: the first answer is never trusted.
 */
import { getAddress, isAddress, type TypedDataDomain } from "ethers";
import { z } from "zod";
import type { Logger } from "../shared/logger";
import type { Metrics } from "../shared/metrics";
import {
  decodeValues,
  domainSeparator,
  hashEndpointIds,
  recoverReportSigner,
  reportDigest,
  VALUE_BYTES,
  zSignedReport,
  type EndpointValue,
  type SignedReport,
} from "../shared/report";
import type { RoundEvidence } from "./decide";
import { responderMetrics } from "./metrics";
import { faultsOf, type AttestorLog } from "./visibility";

/** What the oracle says now; read from the chain, never configured. */
export interface ChainContext {
  /** EIP-712 domain from the oracle's `eip712Domain()`. */
  domain: TypedDataDomain;
  /** Chain id the attestors must name (the control chain). */
  chainId: number;
  configDigest: string;
  /** Current attestor set (any case). */
  attestors: readonly string[];
  /** Attestors proven to equivocate under the current set (`isJailed`), any case. */
  jailed: readonly string[];
  quorum: number;
  roundSeconds: number;
  maxSkew: number;
  /**
   * Chain time a transaction sent now will see, Unix seconds: the next block's estimated timestamp,
   * `nextBlockTime(latest.timestamp, Date.now())` (keepers/shared/chain.ts), not the latest block's, which on a
   * chain with sparse blocks lags the wall clock (an idle automining dev chain: by hours).
   */
  now: number;
  /**
   * Oldest report worth verifying, seconds before `now`: the largest `maxAge` of the watched endpoints (an older
   * report could never be accepted by the oracle).
   */
  maxAge: number;
}

/** Why a served report was not used. Counted per attestor URL in `vigil_reports_rejected_total`. */
export type RejectReason =
  /** Not a `SignedReport` (zod `zSignedReport`). */
  | "schema"
  /** The response names another chain or config digest than the oracle's. */
  | "envelope"
  /** Signed under another config digest (a rotated set). */
  | "digest"
  /** `round != floor(observedAt / roundSeconds)`. */
  | "round"
  /** `observedAt` beyond `now + maxSkew`. */
  | "future"
  /**
   * `observedAt + maxAge < now`: expired, the oracle would reject it. Not a fault: an attestor serves its last
   * few rounds, and the oldest asked for (`sinceRound`) may have expired by a few seconds. Counted, logged at debug.
   */
  | "stale"
  /** Endpoint ids not strictly ascending (duplicates included). */
  | "endpoints"
  /** Values not 4 bytes per endpoint, or a health above 10_000 bps. */
  | "values"
  /** Malformed signature, high s, or it does not recover. */
  | "signature"
  /** The report claims, or recovers to, another attestor than the one the response speaks for. */
  | "identity"
  /** Signed by an address outside the current set. */
  | "outsider"
  /** Signed by an attestor jailed for equivocation. */
  | "jailed"
  /** Two different valid reports of one attestor for one round: neither counts. */
  | "equivocation"
  /** Over {@link MAX_REPORTS_PER_RESPONSE} in one response. */
  | "excess";

/** Most reports taken from one response (an attestor serves about the last 8 rounds); the rest count as `excess`. */
export const MAX_REPORTS_PER_RESPONSE = 16;

/** secp256k1 n / 2: signatures with a larger s are malleable and the oracle rejects them. */
const HALF_N = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n;

/** A report whose signature recovered to its attestor and that passed every off-chain check. */
export interface VerifiedReport {
  /** Checksummed signer address. */
  signer: string;
  round: number;
  observedAt: number;
  /** The canonical (lower-case, shared) endpoint list. */
  endpointIds: readonly string[];
  /** `hashEndpointIds(endpointIds)`. */
  idsHash: string;
  /** Raw values hex, as signed. */
  values: string;
  decoded: EndpointValue[];
  /** 65-byte signature hex. */
  signature: string;
  /** The EIP-712 digest the attestor signed. */
  digest: string;
}

/**
 * Verifies reports under one EIP-712 domain: the domain separator is computed once, `hashEndpointIds` once per
 * distinct endpoint list (attestors of one round share it), and a recovered signer is remembered per (digest,
 * signature) so a report served again next loop costs no second recovery. Caches are bounded.
 */
export class ReportVerifier {
  readonly separator: string;
  /** Work done so far (for tests and the bench): endpoint lists hashed, signatures recovered. */
  readonly stats = { listHashes: 0, recoveries: 0 };
  private readonly _lists = new Map<string, { ids: readonly string[]; hash: string; ascending: boolean }>();
  private readonly _signers = new Map<string, string | null>();

  constructor(
    readonly domain: TypedDataDomain,
    private readonly maxLists = 32,
    private readonly maxSigners = 4_096,
  ) {
    this.separator = domainSeparator(domain);
  }

  /** The canonical lower-case list, its EIP-712 hash and whether it is strictly ascending (cached per list). */
  endpointList(ids: readonly string[]): { ids: readonly string[]; hash: string; ascending: boolean } {
    const key = ids.join("");
    let hit = this._lists.get(key);
    if (!hit) {
      const lower = ids.map((id) => id.toLowerCase());
      let ascending = lower.length > 0;
      for (let i = 1; i < lower.length && ascending; i++) ascending = lower[i] > lower[i - 1];
      hit = { ids: lower, hash: hashEndpointIds(lower), ascending };
      this.stats.listHashes++;
      if (this._lists.size >= this.maxLists) this._lists.delete(this._lists.keys().next().value as string);
      this._lists.set(key, hit);
    }
    return hit;
  }

  /** The signer of `digest` (checksummed), or null when the signature is malformed, high-s or does not recover. */
  recover(digest: string, signature: string): string | null {
    const key = digest + signature.toLowerCase();
    const hit = this._signers.get(key);
    if (hit !== undefined) return hit;
    let signer: string | null = null;
    this.stats.recoveries++;
    try {
      // s is bytes 32..64 of the 65-byte signature: hex digits 66..130.
      if (BigInt("0x" + signature.slice(66, 130)) <= HALF_N) signer = recoverReportSigner(digest, signature);
    } catch {
      signer = null;
    }
    if (this._signers.size >= this.maxSigners)
      this._signers.delete(this._signers.keys().next().value as string);
    this._signers.set(key, signer);
    return signer;
  }
}

/**
 * Check one served report completely: schema, digest, round rule, time window, claimed attestor (the one the
 * response speaks for, in the set, not jailed), endpoint order, values, then the one signature recovery.
 * @param speaksFor Lower-case attestor the response names; the report must be its own.
 */
export function verifyReport(
  raw: unknown,
  ctx: ChainContext,
  speaksFor: string | undefined,
  verifier: ReportVerifier,
  sets: { members: ReadonlySet<string>; jailed: ReadonlySet<string> } = memberSets(ctx),
): { ok: true; report: VerifiedReport } | { ok: false; reason: RejectReason } {
  const parsed = zSignedReport.safeParse(raw);
  if (!parsed.success) return { ok: false, reason: "schema" };
  const r: SignedReport = parsed.data;
  if (r.configDigest.toLowerCase() !== ctx.configDigest.toLowerCase()) return { ok: false, reason: "digest" };
  if (Math.floor(r.observedAt / ctx.roundSeconds) !== r.round) return { ok: false, reason: "round" };
  if (r.observedAt > ctx.now + ctx.maxSkew) return { ok: false, reason: "future" };
  if (r.observedAt + ctx.maxAge < ctx.now) return { ok: false, reason: "stale" };
  const claimed = r.attestor.toLowerCase();
  if (speaksFor === undefined || claimed !== speaksFor) return { ok: false, reason: "identity" };
  if (!sets.members.has(claimed)) return { ok: false, reason: "outsider" };
  if (sets.jailed.has(claimed)) return { ok: false, reason: "jailed" };
  const list = verifier.endpointList(r.endpointIds);
  if (!list.ascending) return { ok: false, reason: "endpoints" };
  if ((r.values.length - 2) / 2 !== list.ids.length * VALUE_BYTES) return { ok: false, reason: "values" };
  let decoded: EndpointValue[];
  try {
    decoded = decodeValues(r.values);
  } catch {
    return { ok: false, reason: "values" };
  }
  const digest = reportDigest(verifier.separator, r, list.hash);
  const signer = verifier.recover(digest, r.signature);
  if (signer === null) return { ok: false, reason: "signature" };
  if (signer.toLowerCase() !== claimed) return { ok: false, reason: "identity" };
  return {
    ok: true,
    report: {
      signer,
      round: r.round,
      observedAt: r.observedAt,
      endpointIds: list.ids,
      idsHash: list.hash,
      values: r.values,
      decoded,
      signature: r.signature,
      digest,
    },
  };
}

function memberSets(ctx: ChainContext) {
  return {
    members: new Set(ctx.attestors.map((a) => a.toLowerCase())),
    jailed: new Set(ctx.jailed.map((a) => a.toLowerCase())),
  };
}

/** The reports of one round over one endpoint list, ready for `submit`. */
export interface Bundle extends RoundEvidence {
  idsHash: string;
  /** At least `quorum` reports, sorted by signer address strictly ascending (as the oracle requires). */
  reports: VerifiedReport[];
}

/** Two valid reports of one attestor for one round with different payloads (provable with `proveEquivocation`). */
export interface Equivocation {
  signer: string;
  round: number;
  a: VerifiedReport;
  b: VerifiedReport;
}

/** Per attestor URL: what it served and what was made of it. */
export interface AttestorOutcome {
  url: string;
  /** `ok`: fetched and parsed; `error`: transport, status, size, timeout or JSON failure. */
  outcome: "ok" | "error";
  error?: string;
  /** The attestor the response says it speaks for, lower-case. */
  attestor?: string;
  /** Reports that passed every check. */
  accepted: number;
  rejected: Partial<Record<RejectReason, number>>;
}

export interface CollectResult {
  /** Quorum bundles, best first: newest round, then most signers, then endpoint-list hash (deterministic). */
  bundles: Bundle[];
  attestors: AttestorOutcome[];
  equivocations: Equivocation[];
  /**
   * Members of the current set, not jailed, that served at least one report that passed every check (and no
   * equivocation), lower-case, sorted. Fewer than `quorum` of them: no round can be relayed.
   */
  answering: string[];
}

/** Group verified reports by (round, endpoint list) and keep the groups with at least `quorum` signers, best first. */
export function assembleBundles(verified: readonly VerifiedReport[], quorum: number): Bundle[] {
  const groups = new Map<string, VerifiedReport[]>();
  for (const r of verified) {
    const key = `${r.round}|${r.idsHash}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = []));
    g.push(r);
  }
  const bundles: Bundle[] = [];
  for (const reports of groups.values()) {
    if (reports.length < quorum) continue;
    // Lower-case hex of equal length sorts as the numbers do.
    reports.sort((a, b) => (a.signer.toLowerCase() < b.signer.toLowerCase() ? -1 : 1));
    const first = reports[0];
    bundles.push({
      round: first.round,
      endpointIds: first.endpointIds,
      idsHash: first.idsHash,
      values: reports.map((r) => r.decoded),
      observedAt: reports.map((r) => r.observedAt),
      reports,
    });
  }
  return bundles.sort(
    (a, b) =>
      b.round - a.round ||
      b.reports.length - a.reports.length ||
      (a.idsHash < b.idsHash ? -1 : a.idsHash > b.idsHash ? 1 : 0),
  );
}

/** What {@link collect} and {@link evaluateResponses} log to and count in; all optional. */
export interface CollectDeps {
  logger?: Logger;
  metrics?: Metrics;
  verifier?: ReportVerifier;
  /** Log each attestor's lasting fault once per change; without it every poll logs its faults. */
  attestorLog?: AttestorLog;
}

/** One attestor's answer, before any report in it is checked. */
export interface FetchedResponse {
  url: string;
  /** Lower-case attestor the response speaks for (its top-level `attestor`), undefined when it names none. */
  attestor?: string;
  configDigest?: string;
  chainId?: number;
  reports: readonly unknown[];
  /** Set when the fetch failed; then `reports` is empty. */
  error?: string;
}

/**
 * The CPU half of {@link collect}: verify every report of every response, drop equivocators, group, and rank the
 * quorum bundles. Counts each rejection by reason per URL (`outcomes` and the metrics). Never throws for an
 * attestor's fault.
 */
export function evaluateResponses(
  fetched: readonly FetchedResponse[],
  ctx: ChainContext,
  deps: CollectDeps = {},
): CollectResult {
  const verifier = deps.verifier ?? new ReportVerifier(ctx.domain);
  const sets = memberSets(ctx);
  const outcomes: AttestorOutcome[] = [];
  // signer -> round -> distinct reports (by digest)
  const bySigner = new Map<string, Map<number, { report: VerifiedReport; from: AttestorOutcome }[]>>();
  const reject = (o: AttestorOutcome, reason: RejectReason, n = 1) =>
    (o.rejected[reason] = (o.rejected[reason] ?? 0) + n);
  for (const f of fetched) {
    const o: AttestorOutcome = {
      url: f.url,
      outcome: f.error ? "error" : "ok",
      error: f.error,
      attestor: f.attestor,
      accepted: 0,
      rejected: {},
    };
    outcomes.push(o);
    if (f.error) continue;
    if (
      (f.chainId !== undefined && f.chainId !== ctx.chainId) ||
      (f.configDigest !== undefined && f.configDigest.toLowerCase() !== ctx.configDigest.toLowerCase())
    ) {
      reject(o, "envelope", f.reports.length);
      continue;
    }
    // Served ascending by round: the newest are last.
    const excess = Math.max(0, f.reports.length - MAX_REPORTS_PER_RESPONSE);
    if (excess) reject(o, "excess", excess);
    for (let i = excess; i < f.reports.length; i++) {
      const v = verifyReport(f.reports[i], ctx, f.attestor, verifier, sets);
      if (!v.ok) {
        reject(o, v.reason);
        continue;
      }
      const key = v.report.signer.toLowerCase();
      let rounds = bySigner.get(key);
      if (!rounds) bySigner.set(key, (rounds = new Map()));
      let list = rounds.get(v.report.round);
      if (!list) rounds.set(v.report.round, (list = []));
      // The same report again (same digest) is one vote, never equivocation.
      if (!list.some((x) => x.report.digest === v.report.digest)) list.push({ report: v.report, from: o });
      o.accepted++;
    }
  }
  const verified: VerifiedReport[] = [];
  const equivocations: Equivocation[] = [];
  for (const rounds of bySigner.values()) {
    for (const [round, list] of rounds) {
      if (list.length === 1) {
        verified.push(list[0].report);
        continue;
      }
      equivocations.push({ signer: list[0].report.signer, round, a: list[0].report, b: list[1].report });
      for (const x of list) {
        x.from.accepted--;
        reject(x.from, "equivocation");
      }
    }
  }
  const m = deps.metrics ? responderMetrics(deps.metrics) : undefined;
  for (const o of outcomes) {
    deps.metrics?.attestorFetches.inc({ attestor: o.url, outcome: o.outcome });
    for (const [reason, n] of Object.entries(o.rejected)) {
      m?.reportsRejected.inc({ attestor: o.url, reason }, n);
      m?.observationsRejected.inc({ reason }, n);
    }
    if (o.rejected.stale)
      deps.logger?.debug({ attestor: o.url, expired: o.rejected.stale }, "expired reports ignored");
    if (deps.attestorLog) {
      if (deps.logger) deps.attestorLog.report(o, deps.logger);
    } else if (o.outcome === "error")
      deps.logger?.warn({ attestor: o.url, err: o.error }, "attestor fetch failed");
    else {
      const faults = faultsOf(o.rejected);
      if (faults)
        deps.logger?.warn(
          { attestor: o.url, claims: o.attestor, rejected: faults },
          "attestor served invalid reports",
        );
    }
  }
  for (const e of equivocations)
    deps.logger?.warn(
      { signer: e.signer, round: e.round },
      "attestor signed two different reports for one round",
    );
  const answering = [...new Set(verified.map((r) => r.signer.toLowerCase()))].sort();
  return { bundles: assembleBundles(verified, ctx.quorum), attestors: outcomes, equivocations, answering };
}

export interface FetchSettings {
  timeoutMs: number;
  maxBytes: number;
  /** Aborts every fetch in flight (shutdown). */
  signal?: AbortSignal;
}

const zEnvelope = z
  .object({
    attestor: z.unknown().optional(),
    configDigest: z.unknown().optional(),
    chainId: z.unknown().optional(),
    reports: z.array(z.unknown()).max(10_000),
  })
  .passthrough();

/**
 * GET `<url>/v1/reports?sinceRound=<n>` with a deadline and a size cap.
 * @returns the response's claims (attestor, digest, chain) and its raw report list.
 * @throws on transport errors, non-2xx, a body over `maxBytes`, bad JSON or a bad envelope.
 */
export async function fetchReports(
  url: string,
  sinceRound: number,
  settings: FetchSettings,
): Promise<Omit<FetchedResponse, "error">> {
  const signals = [AbortSignal.timeout(settings.timeoutMs)];
  if (settings.signal) signals.push(settings.signal);
  const target = new URL("/v1/reports", url);
  target.searchParams.set("sinceRound", String(Math.max(0, Math.floor(sinceRound))));
  const res = await fetch(target, {
    signal: AbortSignal.any(signals),
    headers: { accept: "application/json" },
    redirect: "error",
  });
  if (!res.ok) {
    await res.body?.cancel().catch(() => undefined);
    throw new Error(`HTTP ${res.status}`);
  }
  const declared = Number(res.headers.get("content-length") ?? "0");
  if (declared > settings.maxBytes) {
    await res.body?.cancel().catch(() => undefined);
    throw new Error(`response of ${declared} bytes exceeds ${settings.maxBytes}`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = res.body?.getReader();
  if (!reader) throw new Error("empty response");
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > settings.maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw new Error(`response exceeds ${settings.maxBytes} bytes`);
    }
    chunks.push(value);
  }
  const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown;
  const env = zEnvelope.safeParse(body);
  if (!env.success) throw new Error("response is not { attestor, configDigest, chainId, reports: [...] }");
  const { attestor, configDigest, chainId } = env.data;
  return {
    url,
    attestor:
      typeof attestor === "string" && isAddress(attestor) ? getAddress(attestor).toLowerCase() : undefined,
    configDigest: typeof configDigest === "string" ? configDigest : undefined,
    chainId:
      typeof chainId === "number" ? chainId : typeof chainId === "string" ? Number(chainId) : undefined,
    reports: env.data.reports,
  };
}

/** The first round worth asking for: older ones could not be accepted (`observedAt + maxAge < now`). */
export function sinceRound(ctx: Pick<ChainContext, "now" | "maxAge" | "roundSeconds">): number {
  return Math.max(0, Math.floor((ctx.now - ctx.maxAge) / ctx.roundSeconds));
}

/**
 * Fetch from every attestor in parallel (each with its own deadline), verify, and rank the quorum bundles.
 * One URL speaks for one attestor: only reports it names as its own and that recover to it are taken from it.
 */
export async function collect(
  urls: readonly string[],
  ctx: ChainContext,
  settings: FetchSettings,
  deps: CollectDeps = {},
): Promise<CollectResult> {
  const since = sinceRound(ctx);
  const fetched = await Promise.all(
    urls.map(async (url): Promise<FetchedResponse> => {
      try {
        return await fetchReports(url, since, settings);
      } catch (e) {
        return { url, reports: [], error: e instanceof Error ? e.message : String(e) };
      }
    }),
  );
  return evaluateResponses(fetched, ctx, deps);
}
