/**
 * Gather signed observations from the attestors and assemble quorum bundles. Every byte an attestor
 * serves is hostile: each observation is checked off-chain exactly as the oracle will check it
 * (schema, config digest, round rule, freshness, signature under the domain read from the oracle,
 * signer in the current set), and one lying, slow or broken attestor never blocks the others.
 */
import {
  concat,
  getAddress,
  isAddress,
  keccak256,
  recoverAddress,
  Signature,
  TypedDataEncoder,
  type TypedDataDomain,
} from "ethers";
import { z } from "zod";
import type { Logger } from "../shared/logger";
import type { Metrics } from "../shared/metrics";
import {
  OBSERVATION_TYPES,
  toCompact,
  zSignedObservation,
  type SignedObservation,
} from "../shared/observation";
import { medianBps, type Candidate } from "./decide";

/** What the oracle says now; read from the chain, never configured. */
export interface ChainContext {
  /** EIP-712 domain from the oracle's `eip712Domain()`. */
  domain: TypedDataDomain;
  configDigest: string;
  /** Current attestor set (any case). */
  attestors: readonly string[];
  quorum: number;
  roundSeconds: number;
  maxSkew: number;
  /** Chain time, Unix seconds (latest block timestamp). */
  now: number;
  /** `policyOf(endpointId).maxAge`, seconds; undefined ⇒ the endpoint is not watched. */
  maxAgeOf(endpointId: string): number | undefined;
  /** Last stored round; older or equal rounds are skipped before any signature work. */
  storedRoundOf?(endpointId: string): number;
  /**
   * Most observations accepted from one attestor response (after the pre-checks, one per endpoint
   * and round); the rest are counted as `excess`. Bounds the signature work a hostile URL can cause.
   * Default: unbounded (the round rule and freshness already bound it); see {@link observationCap}.
   */
  maxObservationsPerResponse?: number;
}

/**
 * The per-response cap of {@link ChainContext.maxObservationsPerResponse}: twice what an honest
 * attestor can serve for `watchedEndpoints` endpoints whose oldest accepted observation is `maxAge`
 * seconds old, one observation per endpoint and round (rounds from `now - maxAge` to `now + maxSkew`).
 */
export function observationCap(
  watchedEndpoints: number,
  maxAge: number,
  roundSeconds: number,
  maxSkew: number,
): number {
  const rounds = Math.ceil((maxAge + maxSkew) / roundSeconds) + 2;
  return Math.max(1, 2 * watchedEndpoints * rounds);
}

/**
 * Recovers observation signers under one EIP-712 domain, with the domain separator and the struct
 * encoder built once, and a bounded cache of results keyed by the whole signed payload (never by the
 * signature alone), so an observation served again in the next loop costs no second recovery.
 */
export class ObservationVerifier {
  private readonly _encoder = TypedDataEncoder.from(OBSERVATION_TYPES as never);
  private readonly _domainSeparator: string;
  private readonly _cache = new Map<string, string | null>();

  constructor(
    readonly domain: TypedDataDomain,
    private readonly maxCache = 200_000,
  ) {
    this._domainSeparator = TypedDataEncoder.hashDomain(domain);
  }

  /** The signer of `obs`, or null when the signature is malformed or high-s. */
  recover(obs: SignedObservation): string | null {
    const key =
      `${obs.configDigest}|${obs.endpointId}|${obs.round}|${obs.healthBps}|${obs.observedAt}|${obs.signature}`.toLowerCase();
    const hit = this._cache.get(key);
    if (hit !== undefined) return hit;
    let signer: string | null;
    try {
      const sig = Signature.from(obs.signature);
      if (BigInt(sig.s) > HALF_N) signer = null;
      else {
        const struct = this._encoder.hash({
          configDigest: obs.configDigest,
          endpointId: obs.endpointId,
          round: BigInt(obs.round),
          healthBps: obs.healthBps,
          observedAt: BigInt(obs.observedAt),
        });
        signer = recoverAddress(keccak256(concat(["0x1901", this._domainSeparator, struct])), sig);
      }
    } catch {
      signer = null;
    }
    if (this._cache.size >= this.maxCache) this._cache.delete(this._cache.keys().next().value as string);
    this._cache.set(key, signer);
    return signer;
  }
}

/** One observation ready for `submit`: 64-byte EIP-2098 signature, signer recovered. */
export interface BundleObservation {
  signer: string;
  healthBps: number;
  observedAt: number;
  /** EIP-2098 compact signature, 0x + 128 hex digits. */
  signature: string;
}

/** A quorum round for one endpoint, sorted by signer ascending, exactly `quorum` observations. */
export interface Bundle extends Candidate {
  observations: BundleObservation[];
}

/** Why an observation was excluded. */
export type RejectReason =
  | "schema"
  | "digest"
  | "unknown_endpoint"
  | "round"
  | "stale"
  | "future"
  | "signature"
  | "outsider"
  | "equivocation"
  /** Claims another attestor than the one the response speaks for (one identity per URL). */
  | "identity"
  /** A second, different observation for one endpoint and round in one response. */
  | "conflict"
  /** Over {@link ChainContext.maxObservationsPerResponse}. */
  | "excess";

export interface AttestorReport {
  url: string;
  /** `ok`: fetched and parsed; `error`: transport, status, size, timeout or JSON failure. */
  outcome: "ok" | "error";
  error?: string;
  /** The attestor the response says it speaks for (its top-level `attestor`), lowercase. */
  attestor?: string;
  accepted: number;
  /** Observations for endpoints this responder does not watch: not invalid, just not ours. */
  ignored: number;
  rejected: Partial<Record<RejectReason, number>>;
}

export interface CollectResult {
  /** Newest complete round per endpoint. */
  bundles: Bundle[];
  reports: AttestorReport[];
}

export interface FetchSettings {
  timeoutMs: number;
  maxBytes: number;
  /** Aborts every fetch in flight (shutdown). */
  signal?: AbortSignal;
}

const zEnvelope = z
  .object({ attestor: z.unknown().optional(), observations: z.array(z.unknown()).max(100_000) })
  .passthrough();

/** An attestor's answer: who it speaks for (its top-level `attestor`, a claim) and what it served. */
export interface FetchedObservations {
  /** Lowercase address, or undefined when the response names none (then nothing in it counts). */
  attestor?: string;
  observations: unknown[];
}

/** secp256k1 n / 2: signatures with a larger s are malleable and the oracle rejects them. */
const HALF_N = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n;

/**
 * GET `<url>/v1/observations` with a timeout and a size cap. @returns the attestor the response
 * speaks for and the raw observation list.
 * @throws on transport errors, non-2xx, a body over `maxBytes`, bad JSON or a bad envelope.
 */
export async function fetchObservations(url: string, settings: FetchSettings): Promise<FetchedObservations> {
  const signals = [AbortSignal.timeout(settings.timeoutMs)];
  if (settings.signal) signals.push(settings.signal);
  const res = await fetch(new URL("/v1/observations", url), {
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
  if (!env.success) throw new Error("response is not { observations: [...] }");
  const attestor = env.data.attestor;
  return {
    attestor: typeof attestor === "string" && isAddress(attestor) ? attestor.toLowerCase() : undefined,
    observations: env.data.observations,
  };
}

/**
 * The checks that need no signature recovery: schema, config digest, watched endpoint, round rule,
 * freshness (maxAge, maxSkew), claimed attestor in the current set, low-s signature.
 */
export function precheckObservation(
  raw: unknown,
  ctx: ChainContext,
  members: ReadonlySet<string>,
): { ok: true; obs: SignedObservation } | { ok: false; reason: RejectReason } {
  const parsed = zSignedObservation.safeParse(raw);
  if (!parsed.success) return { ok: false, reason: "schema" };
  const obs = parsed.data;
  if (obs.configDigest.toLowerCase() !== ctx.configDigest.toLowerCase())
    return { ok: false, reason: "digest" };
  const maxAge = ctx.maxAgeOf(obs.endpointId.toLowerCase());
  if (maxAge === undefined) return { ok: false, reason: "unknown_endpoint" };
  if (Math.floor(obs.observedAt / ctx.roundSeconds) !== obs.round) return { ok: false, reason: "round" };
  if (obs.observedAt > ctx.now + ctx.maxSkew) return { ok: false, reason: "future" };
  if (obs.observedAt + maxAge < ctx.now) return { ok: false, reason: "stale" };
  if (!members.has(obs.attestor.toLowerCase())) return { ok: false, reason: "outsider" };
  return { ok: true, obs };
}

/**
 * Check one raw observation completely (the pre-checks, then the signature recovers to the claimed
 * attestor under the oracle's domain).
 */
export function verifyObservation(
  raw: unknown,
  ctx: ChainContext,
  members: ReadonlySet<string>,
  verifier = new ObservationVerifier(ctx.domain),
): { ok: true; obs: SignedObservation; signer: string } | { ok: false; reason: RejectReason } {
  const pre = precheckObservation(raw, ctx, members);
  if (!pre.ok) return pre;
  const signer = verifier.recover(pre.obs);
  if (!signer || signer.toLowerCase() !== pre.obs.attestor.toLowerCase())
    return { ok: false, reason: "signature" };
  return { ok: true, obs: pre.obs, signer: getAddress(signer) };
}

/**
 * Group verified observations by (endpoint, round), dedupe by signer (an attestor that signed two
 * different values for one round is dropped for that round), and keep, per endpoint, the newest round
 * with at least `quorum` distinct signers. The bundle holds the first `quorum` signers in ascending
 * address order (deterministic, so racing responders build the same bundle; with at most f liars among
 * a 2f+1 quorum the median stays within the honest values).
 */
export function assembleBundles(
  verified: ReadonlyArray<{ obs: SignedObservation; signer: string }>,
  quorum: number,
): { bundles: Bundle[]; equivocations: string[] } {
  // endpoint -> round -> signer -> observation | null (null: equivocated)
  const groups = new Map<string, Map<number, Map<string, SignedObservation | null>>>();
  const equivocations: string[] = [];
  for (const { obs, signer } of verified) {
    const endpoint = obs.endpointId.toLowerCase();
    let rounds = groups.get(endpoint);
    if (!rounds) groups.set(endpoint, (rounds = new Map()));
    let signers = rounds.get(obs.round);
    if (!signers) rounds.set(obs.round, (signers = new Map()));
    const key = signer.toLowerCase();
    const prev = signers.get(key);
    if (prev === undefined) signers.set(key, obs);
    else if (prev !== null && (prev.healthBps !== obs.healthBps || prev.observedAt !== obs.observedAt)) {
      signers.set(key, null);
      equivocations.push(signer);
    }
  }
  const bundles: Bundle[] = [];
  for (const [endpointId, rounds] of groups) {
    const complete = [...rounds.entries()]
      .map(([round, signers]) => ({
        round,
        entries: [...signers.entries()].filter((e): e is [string, SignedObservation] => e[1] !== null),
      }))
      .filter((g) => g.entries.length >= quorum)
      .sort((a, b) => b.round - a.round);
    if (complete.length === 0) continue;
    const newest = complete[0];
    const chosen = newest.entries
      .sort(([a], [b]) => (BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0))
      .slice(0, quorum)
      .map(([signer, o]) => ({
        signer: getAddress(signer),
        healthBps: o.healthBps,
        observedAt: o.observedAt,
        signature: toCompact(o.signature),
      }));
    bundles.push({
      endpointId: newest.entries[0][1].endpointId.toLowerCase(),
      round: newest.round,
      medianBps: medianBps(chosen.map((o) => o.healthBps)),
      observations: chosen,
    });
  }
  return { bundles, equivocations };
}

/**
 * Fetch from every attestor in parallel, check each observation, count the invalid ones per attestor
 * URL in `metrics`, and assemble bundles. One URL speaks for one attestor: only observations signed
 * (claimed) by the attestor the response names are taken from it, at most one per endpoint and round.
 * Per endpoint, the newest round with a quorum of claims is verified in full (signatures recovered,
 * with the verifier's cache) before any value of it is used; when forged or equivocating signatures
 * leave it short of a quorum, the next older round is tried. Never throws for an attestor's fault.
 */
export async function collect(
  urls: readonly string[],
  ctx: ChainContext,
  settings: FetchSettings,
  deps: { logger?: Logger; metrics?: Metrics; verifier?: ObservationVerifier } = {},
): Promise<CollectResult> {
  const fetched = await Promise.all(
    urls.map(async (url): Promise<FetchedResponse> => {
      const report: AttestorReport = { url, outcome: "ok", accepted: 0, ignored: 0, rejected: {} };
      try {
        const { attestor, observations } = await fetchObservations(url, settings);
        report.attestor = attestor;
        return { report, raw: observations };
      } catch (e) {
        report.outcome = "error";
        report.error = e instanceof Error ? e.message : String(e);
        deps.metrics?.attestorFetches.inc({ attestor: url, outcome: "error" });
        deps.logger?.warn({ attestor: url, err: report.error }, "attestor fetch failed");
        return { report, raw: [] };
      }
    }),
  );
  return evaluateObservations(fetched, ctx, deps);
}

/** One attestor response: `report.attestor` is the identity it speaks for. */
export interface FetchedResponse {
  report: AttestorReport;
  raw: readonly unknown[];
}

/**
 * The CPU half of {@link collect}, for already fetched responses: pre-check, bind each response to
 * its attestor, group, verify, assemble. Counts rejections into each report and the metrics.
 */
export function evaluateObservations(
  fetched: readonly FetchedResponse[],
  ctx: ChainContext,
  deps: { logger?: Logger; metrics?: Metrics; verifier?: ObservationVerifier } = {},
): CollectResult {
  const members = new Set(ctx.attestors.map((a) => a.toLowerCase()));
  const verifier = deps.verifier ?? new ObservationVerifier(ctx.domain);
  const cap = ctx.maxObservationsPerResponse ?? Number.POSITIVE_INFINITY;
  const reject = (report: AttestorReport, reason: RejectReason, n = 1) =>
    (report.rejected[reason] = (report.rejected[reason] ?? 0) + n);
  type Served = { obs: SignedObservation; from: AttestorReport[] };
  // endpoint -> round -> claimed signer -> distinct observations served for it (across URLs)
  const groups = new Map<string, Map<number, Map<string, Served[]>>>();
  const reports = fetched.map((f) => f.report);
  for (const { report, raw } of fetched) {
    // One observation per (endpoint, round) from one URL; null once the URL served two different ones.
    const taken = new Map<string, SignedObservation | null>();
    for (const item of raw) {
      const r = precheckObservation(item, ctx, members);
      if (!r.ok) {
        if (r.reason === "unknown_endpoint") report.ignored += 1;
        else reject(report, r.reason);
        continue;
      }
      if (report.attestor === undefined || r.obs.attestor.toLowerCase() !== report.attestor) {
        reject(report, "identity");
        continue;
      }
      const endpoint = r.obs.endpointId.toLowerCase();
      if (ctx.storedRoundOf && r.obs.round <= ctx.storedRoundOf(endpoint)) continue;
      const key = `${endpoint}|${r.obs.round}`;
      const prev = taken.get(key);
      if (prev === null) {
        reject(report, "conflict");
      } else if (prev !== undefined) {
        if (!samePayload(prev, r.obs)) {
          // Served two different values for one round: neither counts (proven or not, it is this
          // URL's only vote for that round that is lost).
          taken.set(key, null);
          report.accepted -= 1;
          reject(report, "conflict", 2);
        }
        // An identical copy is not equivocation: ignored.
      } else if (report.accepted >= cap) {
        reject(report, "excess");
      } else {
        taken.set(key, r.obs);
        report.accepted += 1;
      }
    }
    for (const obs of taken.values()) {
      if (obs === null) continue;
      const endpoint = obs.endpointId.toLowerCase();
      let rounds = groups.get(endpoint);
      if (!rounds) groups.set(endpoint, (rounds = new Map()));
      let signers = rounds.get(obs.round);
      if (!signers) rounds.set(obs.round, (signers = new Map()));
      const claimed = obs.attestor.toLowerCase();
      let served = signers.get(claimed);
      if (!served) signers.set(claimed, (served = []));
      const same = served.find(
        (s) => samePayload(s.obs, obs) && s.obs.signature.toLowerCase() === obs.signature.toLowerCase(),
      );
      if (same) same.from.push(report);
      else served.push({ obs, from: [report] });
    }
  }

  // Verify before anything is decided: a value enters a median only once its signature recovers to
  // its attestor. Per endpoint, newest round first; older rounds only when the newer one falls short.
  const verified: Array<{ obs: SignedObservation; signer: string }> = [];
  const equivocators = new Set<string>();
  for (const rounds of groups.values()) {
    const newestFirst = [...rounds.keys()].sort((a, b) => b - a);
    for (const round of newestFirst) {
      const signers = rounds.get(round)!;
      if (signers.size < ctx.quorum) continue;
      const good: Array<{ obs: SignedObservation; signer: string }> = [];
      for (const [claimed, served] of signers) {
        const valid = served.filter((s) => {
          const signer = verifier.recover(s.obs);
          const ok = signer !== null && signer.toLowerCase() === claimed;
          if (!ok) for (const rep of s.from) reject(rep, "signature");
          return ok;
        });
        if (valid.length === 0) continue;
        // Two valid signatures over different values for one round: equivocation, not counted.
        // Identical values (a re-signed copy) are one vote.
        if (valid.every((v) => samePayload(v.obs, valid[0].obs)))
          good.push({ obs: valid[0].obs, signer: getAddress(claimed) });
        else {
          equivocators.add(getAddress(claimed));
          for (const v of valid) for (const rep of v.from) reject(rep, "equivocation");
        }
      }
      if (good.length >= ctx.quorum) {
        verified.push(...good);
        break;
      }
    }
  }
  for (const report of reports) {
    if (report.outcome !== "ok") continue;
    const invalid = Object.values(report.rejected).reduce((a, b) => a + (b ?? 0), 0);
    deps.metrics?.attestorFetches.inc({ attestor: report.url, outcome: "ok" }, report.accepted);
    if (invalid > 0) {
      deps.metrics?.attestorFetches.inc({ attestor: report.url, outcome: "invalid" }, invalid);
      deps.logger?.warn(
        { attestor: report.url, claims: report.attestor, rejected: report.rejected },
        "attestor served invalid observations",
      );
    }
  }
  if (equivocators.size)
    deps.logger?.warn({ signers: [...equivocators] }, "attestor signed conflicting observations");
  const { bundles } = assembleBundles(verified, ctx.quorum);
  return { bundles, reports };
}

/** Same signed value (the round and endpoint are the caller's grouping). */
function samePayload(a: SignedObservation, b: SignedObservation): boolean {
  return a.healthBps === b.healthBps && a.observedAt === b.observedAt;
}
