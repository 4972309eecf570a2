/**
 * Gather signed observations from the attestors and assemble quorum bundles. Every byte an attestor
 * serves is hostile: each observation is checked off-chain exactly as the oracle will check it
 * (schema, config digest, round rule, freshness, signature under the domain read from the oracle,
 * signer in the current set), and one lying, slow or broken attestor never blocks the others.
 */
import {
  concat,
  getAddress,
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
   * Whether a round whose claimed quorum median is `medianBps` would be submitted (the decide rule).
   * Signatures are recovered only for wanted rounds: recovery costs ~1 ms of CPU each, and in steady
   * state almost no round is wanted. Default: every round is wanted.
   */
  wanted?(endpointId: string, round: number, medianBps: number): boolean;
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
  | "equivocation";

export interface AttestorReport {
  url: string;
  /** `ok`: fetched and parsed; `error`: transport, status, size, timeout or JSON failure. */
  outcome: "ok" | "error";
  error?: string;
  accepted: number;
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

const zEnvelope = z.object({ observations: z.array(z.unknown()).max(100_000) }).passthrough();

/** secp256k1 n / 2: signatures with a larger s are malleable and the oracle rejects them. */
const HALF_N = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n;

/**
 * GET `<url>/v1/observations` with a timeout and a size cap. @returns the raw observation list.
 * @throws on transport errors, non-2xx, a body over `maxBytes`, bad JSON or a bad envelope.
 */
export async function fetchObservations(url: string, settings: FetchSettings): Promise<unknown[]> {
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
  return env.data.observations;
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
 * URL in `metrics`, and assemble bundles. Signatures are recovered lazily: per endpoint, the newest
 * round with a claimed quorum is verified only if `ctx.wanted` says it would be submitted; when
 * forged or equivocating signatures leave it short of a quorum, the next older round is tried. A
 * forged signature is counted as invalid when it is checked. Never throws for an attestor's fault.
 */
export async function collect(
  urls: readonly string[],
  ctx: ChainContext,
  settings: FetchSettings,
  deps: { logger?: Logger; metrics?: Metrics; verifier?: ObservationVerifier } = {},
): Promise<CollectResult> {
  const fetched = await Promise.all(
    urls.map(async (url): Promise<{ report: AttestorReport; raw: unknown[] }> => {
      const report: AttestorReport = { url, outcome: "ok", accepted: 0, rejected: {} };
      try {
        return { report, raw: await fetchObservations(url, settings) };
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

/**
 * The CPU half of {@link collect}, for already fetched responses: pre-check, group, lazily verify,
 * assemble. Counts rejections into each report and the metrics.
 */
export function evaluateObservations(
  fetched: ReadonlyArray<{ report: AttestorReport; raw: readonly unknown[] }>,
  ctx: ChainContext,
  deps: { logger?: Logger; metrics?: Metrics; verifier?: ObservationVerifier } = {},
): CollectResult {
  const members = new Set(ctx.attestors.map((a) => a.toLowerCase()));
  const verifier = deps.verifier ?? new ObservationVerifier(ctx.domain);
  type Served = { obs: SignedObservation; from: AttestorReport[] };
  const groups = new Map<string, Map<number, Map<string, Served[]>>>();
  const reports = fetched.map((f) => f.report);
  for (const { report, raw } of fetched) {
    for (const item of raw) {
      const r = precheckObservation(item, ctx, members);
      if (!r.ok) {
        report.rejected[r.reason] = (report.rejected[r.reason] ?? 0) + 1;
        continue;
      }
      report.accepted += 1;
      const endpoint = r.obs.endpointId.toLowerCase();
      if (ctx.storedRoundOf && r.obs.round <= ctx.storedRoundOf(endpoint)) continue;
      let rounds = groups.get(endpoint);
      if (!rounds) groups.set(endpoint, (rounds = new Map()));
      let signers = rounds.get(r.obs.round);
      if (!signers) rounds.set(r.obs.round, (signers = new Map()));
      const claimed = r.obs.attestor.toLowerCase();
      let served = signers.get(claimed);
      if (!served) signers.set(claimed, (served = []));
      const same = served.find(
        (s) =>
          s.obs.healthBps === r.obs.healthBps &&
          s.obs.observedAt === r.obs.observedAt &&
          s.obs.signature.toLowerCase() === r.obs.signature.toLowerCase(),
      );
      if (same) {
        if (!same.from.includes(report)) same.from.push(report);
      } else served.push({ obs: r.obs, from: [report] });
    }
  }

  const verified: Array<{ obs: SignedObservation; signer: string }> = [];
  const equivocators = new Set<string>();
  for (const [endpoint, rounds] of groups) {
    const newestFirst = [...rounds.keys()].sort((a, b) => b - a);
    for (const round of newestFirst) {
      const signers = rounds.get(round)!;
      if (signers.size < ctx.quorum) continue;
      if (ctx.wanted) {
        const claimedQuorum = [...signers.keys()]
          .sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1))
          .slice(0, ctx.quorum)
          .map((k) => signers.get(k)![0].obs.healthBps);
        if (!ctx.wanted(endpoint, round, medianBps(claimedQuorum))) break;
      }
      const good: Array<{ obs: SignedObservation; signer: string }> = [];
      for (const [claimed, served] of signers) {
        const valid = served.filter((s) => {
          const signer = verifier.recover(s.obs);
          const ok = signer !== null && signer.toLowerCase() === claimed;
          if (!ok) for (const rep of s.from) rep.rejected.signature = (rep.rejected.signature ?? 0) + 1;
          return ok;
        });
        if (valid.length === 1) good.push({ obs: valid[0].obs, signer: getAddress(claimed) });
        else if (valid.length > 1) {
          equivocators.add(getAddress(claimed));
          for (const v of valid)
            for (const rep of v.from) rep.rejected.equivocation = (rep.rejected.equivocation ?? 0) + 1;
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
        { attestor: report.url, rejected: report.rejected },
        "attestor served invalid observations",
      );
    }
  }
  if (equivocators.size)
    deps.logger?.warn({ signers: [...equivocators] }, "attestor signed conflicting observations");
  const { bundles } = assembleBundles(verified, ctx.quorum);
  return { bundles, reports };
}
