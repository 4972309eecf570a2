/**
 * Gather signed observations from the attestors and assemble quorum bundles. Every byte an attestor
 * serves is hostile: each observation is checked off-chain exactly as the oracle will check it
 * (schema, config digest, round rule, freshness, signature under the domain read from the oracle,
 * signer in the current set), and one lying, slow or broken attestor never blocks the others.
 */
import { getAddress, Signature, type TypedDataDomain } from "ethers";
import { z } from "zod";
import type { Logger } from "../shared/logger";
import type { Metrics } from "../shared/metrics";
import {
  recoverObservationSigner,
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
 * Check one raw observation against the chain context.
 * @returns the verified observation with its recovered signer, or the reason it was rejected.
 */
export function verifyObservation(
  raw: unknown,
  ctx: ChainContext,
  members: ReadonlySet<string>,
): { ok: true; obs: SignedObservation; signer: string } | { ok: false; reason: RejectReason } {
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
  const claimed = obs.attestor.toLowerCase();
  if (!members.has(claimed)) return { ok: false, reason: "outsider" };
  let signer: string;
  try {
    const sig = Signature.from(obs.signature);
    if (BigInt(sig.s) > HALF_N) return { ok: false, reason: "signature" };
    signer = recoverObservationSigner(ctx.domain, obs, obs.signature);
  } catch {
    return { ok: false, reason: "signature" };
  }
  if (signer.toLowerCase() !== claimed) return { ok: false, reason: "signature" };
  return { ok: true, obs, signer: getAddress(signer) };
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
 * Fetch from every attestor in parallel, verify each observation, count the invalid ones per
 * attestor URL in `metrics`, and assemble bundles. Never throws for an attestor's fault.
 */
export async function collect(
  urls: readonly string[],
  ctx: ChainContext,
  settings: FetchSettings,
  deps: { logger?: Logger; metrics?: Metrics } = {},
): Promise<CollectResult> {
  const members = new Set(ctx.attestors.map((a) => a.toLowerCase()));
  const verified: Array<{ obs: SignedObservation; signer: string }> = [];
  const reports = await Promise.all(
    urls.map(async (url): Promise<AttestorReport> => {
      const report: AttestorReport = { url, outcome: "ok", accepted: 0, rejected: {} };
      let raw: unknown[];
      try {
        raw = await fetchObservations(url, settings);
      } catch (e) {
        report.outcome = "error";
        report.error = e instanceof Error ? e.message : String(e);
        deps.metrics?.attestorFetches.inc({ attestor: url, outcome: "error" });
        deps.logger?.warn({ attestor: url, err: report.error }, "attestor fetch failed");
        return report;
      }
      for (const item of raw) {
        const r = verifyObservation(item, ctx, members);
        if (r.ok) {
          report.accepted += 1;
          verified.push({ obs: r.obs, signer: r.signer });
        } else {
          report.rejected[r.reason] = (report.rejected[r.reason] ?? 0) + 1;
        }
      }
      const invalid = Object.values(report.rejected).reduce((a, b) => a + (b ?? 0), 0);
      deps.metrics?.attestorFetches.inc({ attestor: url, outcome: "ok" }, report.accepted);
      if (invalid > 0) {
        deps.metrics?.attestorFetches.inc({ attestor: url, outcome: "invalid" }, invalid);
        deps.logger?.warn(
          { attestor: url, rejected: report.rejected },
          "attestor served invalid observations",
        );
      }
      return report;
    }),
  );
  const { bundles, equivocations } = assembleBundles(verified, ctx.quorum);
  if (equivocations.length)
    deps.logger?.warn({ signers: equivocations }, "attestor signed conflicting observations");
  return { bundles, reports };
}
