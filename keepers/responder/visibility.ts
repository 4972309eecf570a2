/**
 * What the responder tells an operator about its attestors, once per change rather than once per poll: a lasting
 * fault of one attestor (unreachable, serving invalid reports), and the loss of the quorum (fewer than the oracle's
 * quorum of attestors answering: no round can be relayed, endpoints go UNKNOWN once their heartbeat lapses). The
 * quorum state is a `/healthz` condition (degraded, 503) and the gauges `vigil_attestors_answering`,
 * `vigil_attestor_quorum` and `vigil_quorum_lost`.
 */
import type { Logger } from "../shared/logger";
import type { Metrics } from "../shared/metrics";
import type { HealthCondition } from "../shared/server";
import type { AttestorOutcome, RejectReason } from "./collect";
import { responderMetrics } from "./metrics";

/** Rejections that are no fault of the attestor (an expired round it still serves): counted, not warned about. */
export const EXPIRED_REASONS: ReadonlySet<RejectReason> = new Set<RejectReason>(["stale"]);

/** The attestor's faults among `rejected` (every reason but {@link EXPIRED_REASONS}), or undefined when none. */
export function faultsOf(
  rejected: Partial<Record<RejectReason, number>>,
): Partial<Record<RejectReason, number>> | undefined {
  const out: Partial<Record<RejectReason, number>> = {};
  let any = false;
  for (const [reason, n] of Object.entries(rejected) as [RejectReason, number][]) {
    if (EXPIRED_REASONS.has(reason) || !n) continue;
    out[reason] = n;
    any = true;
  }
  return any ? out : undefined;
}

/**
 * What was last said about each attestor URL, so a lasting fault (an attestor down, one serving bad reports) is
 * logged once when it starts or changes, and once at info when it ends, not on every poll. Owned by the caller
 * (one per responder); bounded by the number of configured URLs.
 */
export class AttestorLog {
  private readonly _last = new Map<string, string>();

  /** Log `o`'s problem (warn) when it differs from the last one said for its URL, or its recovery (info). */
  report(o: AttestorOutcome, logger: Logger): void {
    const faults = o.outcome === "ok" ? faultsOf(o.rejected) : undefined;
    const problem =
      o.outcome === "error" ? `error:${o.error}` : faults ? `invalid:${JSON.stringify(faults)}` : "";
    const last = this._last.get(o.url) ?? "";
    if (problem === last) return;
    this._last.set(o.url, problem);
    if (o.outcome === "error") logger.warn({ attestor: o.url, err: o.error }, "attestor fetch failed");
    else if (faults)
      logger.warn(
        { attestor: o.url, claims: o.attestor, rejected: faults },
        "attestor served invalid reports",
      );
    else logger.info({ attestor: o.url, claims: o.attestor }, "attestor answers with valid reports again");
  }
}

/**
 * Whether at least `quorum` attestors answer, as a `/healthz` condition and three gauges, logged once per change
 * (warn when the quorum is lost or the set of answering attestors changes while it is, info when it is back).
 */
export class QuorumWatch {
  private _state?: { answering: readonly string[]; quorum: number; members: number };
  private _said = "";

  constructor(
    private readonly logger: Logger,
    private readonly metrics?: Metrics,
  ) {}

  /**
   * Record one poll: `answering` (lower-case members that served a valid report), the oracle's `quorum` and the
   * size of the current set.
   */
  update(answering: readonly string[], quorum: number, members: number): void {
    this._state = { answering, quorum, members };
    const lost = answering.length < quorum;
    if (this.metrics) {
      const m = responderMetrics(this.metrics);
      m.attestorsAnswering.set(answering.length);
      m.attestorQuorum.set(quorum);
      m.quorumLost.set(lost ? 1 : 0);
    }
    const said = lost ? `lost:${answering.join(",")}:${quorum}` : "ok";
    if (said === this._said) return;
    const first = this._said === "";
    this._said = said;
    if (lost)
      this.logger.warn(
        { answering: answering.length, quorum, members, attestors: answering },
        "fewer than quorum attestors answer: no round can be relayed",
      );
    else if (!first)
      this.logger.info({ answering: answering.length, quorum }, "attestor quorum answers again");
  }

  /** The `/healthz` condition: not ok while fewer than quorum answer (ok before the first poll). */
  condition(): HealthCondition {
    const s = this._state;
    if (!s || s.answering.length >= s.quorum)
      return {
        name: "attestor_quorum",
        ok: true,
        detail: s ? `${s.answering.length} of ${s.quorum} answering` : "not polled yet",
      };
    return {
      name: "attestor_quorum",
      ok: false,
      detail: `${s.answering.length} of ${s.members} attestors answer with valid reports, the oracle's quorum is ${s.quorum}: no round can be relayed`,
    };
  }
}
