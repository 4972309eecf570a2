/**
 * Quorum rounds: collect and verify the attestors' reports, read the stored state of the round's endpoints through
 * every RPC of the pool, decide per RPC whether the round is worth a transaction ({@link decideRound}), and submit
 * it when any RPC's views say so and it simulates as storing something.
 */
import { concat, type AbstractProvider, type Log, type TypedDataDomain } from "ethers";
import type { IHealthOracle } from "../../typechain-types";
import type { Logger } from "../shared/logger";
import type { Metrics } from "../shared/metrics";
import { toCalldata } from "../shared/report";
import type { Actor } from "./act";
import { collect, ReportVerifier, type Bundle, type ChainContext, type Equivocation } from "./collect";
import type { ResponderConfig } from "./config";
import { decideRound, type RoundDecision, type RoundReason } from "./decide";
import { responderMetrics } from "./metrics";
import { answered, type Member, type ViewPool } from "./sources";
import { readEndpointViews, type Contracts, type PolicyCache, type StaticContext } from "./views";
import type { AttestorLog, QuorumWatch } from "./visibility";

/** The outbox target of a round: its number, size and endpoint-list hash (the list itself is in the calldata). */
export function submitTarget(bundle: Pick<Bundle, "round" | "endpointIds" | "idsHash">): string {
  return `round ${bundle.round} (${bundle.endpointIds.length} endpoints, list ${bundle.idsHash})`;
}

/** `submit`'s `(updated, skipped)` from a simulation's return data. */
export function simulatedSubmit(
  oracle: IHealthOracle,
  returnData: string,
): { updated: number; skipped: number } {
  const [updated, skipped] = oracle.interface.decodeFunctionResult("submit", returnData);
  return { updated: Number(updated), skipped: Number(skipped) };
}

/**
 * Count a confirmed round's `ReportAccepted` (updated and skipped endpoints; all skipped is a lost race) in the
 * metrics and the log.
 */
export function countAccepted(
  oracle: IHealthOracle,
  metrics: Metrics,
  receipt: { logs: readonly Log[] },
  log: Logger,
): void {
  metrics.bundlesSubmitted.inc({ outcome: "confirmed" });
  const iface = oracle.interface;
  const topic = iface.getEvent("ReportAccepted")!.topicHash;
  const l = receipt.logs.find((x) => x.topics[0] === topic);
  const e = l && iface.parseLog({ topics: [...l.topics], data: l.data });
  if (!e) return;
  const accepted = { updated: Number(e.args.updated), skipped: Number(e.args.skipped) };
  const m = responderMetrics(metrics);
  m.roundEndpoints.inc({ outcome: "updated" }, accepted.updated);
  m.roundEndpoints.inc({ outcome: "skipped" }, accepted.skipped);
  metrics.bundleSize.observe(accepted.updated + accepted.skipped);
  if (accepted.updated === 0) {
    metrics.actions.inc({ action: "submit", outcome: "lost_race" });
    log.info(accepted, "another relayer stored the round first; every endpoint skipped (not retried)");
  } else if (accepted.skipped > 0) log.info(accepted, "round partly stored by another relayer first");
}

/** A round worth a transaction, with the RPCs whose views said so. */
export interface RoundPlan {
  bundle: Bundle;
  decision: RoundDecision;
  proposers: Member[];
  dissenters: Member[];
}

const REASON_RANK: Record<RoundReason, number> = { status: 0, new: 1, heartbeat: 2 };

/** Collects, decides and submits quorum rounds for one responder. */
export class Rounds {
  private _verifier?: ReportVerifier;
  private _domain?: TypedDataDomain;
  private readonly _log: Logger;

  constructor(
    private readonly d: {
      config: ResponderConfig;
      logger: Logger;
      metrics: Metrics;
      pool: ViewPool;
      contractsOf: (p: AbstractProvider) => Contracts;
      policies: PolicyCache;
      actor: Actor;
      quorum: QuorumWatch;
      attestorLog: AttestorLog;
    },
  ) {
    this._log = d.logger;
  }

  private get _oracle(): IHealthOracle {
    return this.d.contractsOf(this.d.pool.provider).oracle;
  }

  /**
   * Collect the reports, take the best quorum bundle (newest round, most signers), read the stored state of every
   * endpoint it covers through each RPC, and decide per RPC. @returns the round when any RPC's views make it worth
   * a transaction, and every equivocation the collection found.
   */
  async collect(
    ctx: StaticContext,
    now: number,
    watched: ReadonlySet<string>,
    signal: AbortSignal,
  ): Promise<{ round?: RoundPlan; equivocations: Equivocation[] }> {
    if (watched.size === 0) return { equivocations: [] };
    // The oldest report worth verifying: the largest maxAge among the watched endpoints.
    const watchedPolicies = await this.d.policies.of([...watched]);
    const chainCtx: ChainContext = { ...ctx, now, maxAge: Math.max(...watchedPolicies.map((p) => p.maxAge)) };
    if (this._domain !== ctx.domain) {
      this._domain = ctx.domain;
      this._verifier = new ReportVerifier(ctx.domain);
    }
    const { bundles, equivocations, answering } = await collect(
      this.d.config.attestorUrls,
      chainCtx,
      { timeoutMs: this.d.config.attestorTimeoutMs, maxBytes: this.d.config.attestorMaxBytes, signal },
      {
        logger: this._log,
        metrics: this.d.metrics,
        verifier: this._verifier!,
        attestorLog: this.d.attestorLog,
      },
    );
    this.d.quorum.update(answering, ctx.quorum, ctx.attestors.length - ctx.jailed.length);
    const bundle = bundles[0];
    if (!bundle || !bundle.endpointIds.some((id) => watched.has(id))) return { equivocations };
    const ids = bundle.endpointIds;
    const policies = await this.d.policies.of(ids);
    const settings = { refreshFraction: this.d.config.heartbeatRefreshFraction };
    const decided = answered(
      await this.d.pool.each(async (p) => {
        const views = await readEndpointViews(this.d.contractsOf(p).oracle, ids, policies);
        return decideRound(bundle, views, now, ctx.quorum, settings, watched);
      }, signal),
    );
    const proposers = decided.filter((x) => x.value.submit);
    const best = [...proposers].sort((a, b) => REASON_RANK[a.value.reason!] - REASON_RANK[b.value.reason!])[0]
      ?.value;
    const decision = best ?? decided[0].value;
    const summary = {
      round: bundle.round,
      endpoints: ids.length,
      signers: bundle.reports.length,
      reasons: decision.reasons,
      changes: decision.changes.length,
    };
    if (decision.stale && decision.reason)
      this._log.warn(
        { ...summary, expiresAt: decision.expiresAt },
        "newest quorum round is too old to submit",
      );
    else if (decision.submit) this._log.debug(summary, "round due");
    if (!best) return { equivocations };
    return {
      round: {
        bundle,
        decision,
        proposers: proposers.map((x) => x.member),
        dissenters: decided.filter((x) => !x.value.submit).map((x) => x.member),
      },
      equivocations,
    };
  }

  /**
   * Encode a bundle as `IHealthOracle.submit(configDigest, round, endpointIds, reports, values)`: EIP-2098
   * signatures in signer order, every report's values concatenated in the same order.
   */
  encode(digest: string, bundle: Bundle): string {
    return this._oracle.interface.encodeFunctionData("submit", [
      digest,
      bundle.round,
      [...bundle.endpointIds],
      bundle.reports.map((r) => toCalldata(r)),
      concat(bundle.reports.map((r) => r.values)),
    ]);
  }

  /**
   * Simulate the whole round on the RPCs that called it due; send it only when the oracle would store something (a
   * round another relayer already stored simulates as all skipped: a lost race, counted, never retried). The
   * transaction's deadline is the round's expiry (`observedAt + maxAge`): past it the oracle would revert it.
   */
  async submit(digest: string, plan: RoundPlan, inflight: AbortSignal, chainNow: number): Promise<void> {
    const { bundle, decision } = plan;
    const oracle = this._oracle;
    const base = { round: bundle.round, endpoints: bundle.endpointIds.length, reason: decision.reason };
    const log = this._log.child(base);
    const acted = await this.d.actor.act(
      {
        kind: "submit",
        target: submitTarget(bundle),
        to: await oracle.getAddress(),
        data: this.encode(digest, bundle),
        proposers: plan.proposers,
        dissenters: plan.dissenters,
        safety: false,
        blameDissenters: false,
        deadlineMs: Date.now() + Math.max(0, decision.expiresAt - chainNow) * 1000,
        skip: (data) =>
          simulatedSubmit(oracle, data).updated === 0
            ? "round already stored by another relayer; not sent"
            : undefined,
        log,
      },
      inflight,
    );
    if (!acted.sent) {
      this.d.metrics.bundlesSubmitted.inc({ outcome: "skipped" });
      this.d.actor.notSent("submit", acted, log, "round not sent");
      return;
    }
    if (acted.status === "confirmed" && acted.outcome?.outcome === "confirmed")
      countAccepted(oracle, this.d.metrics, acted.outcome.receipt, acted.log);
    else if (acted.status === "failed") this.d.metrics.bundlesSubmitted.inc({ outcome: "failed" });
  }
}
