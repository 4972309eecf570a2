/**
 * Equivocation proofs: an attestor that signed two different reports for one round is proven with
 * `proveEquivocation` once ({@link decideProofs}), through the outbox like any other action.
 */
import type { IHealthOracle } from "../../typechain-types";
import type { Logger } from "../shared/logger";
import type { Metrics } from "../shared/metrics";
import { toCalldata } from "../shared/report";
import type { Actor } from "./act";
import type { Equivocation, VerifiedReport } from "./collect";
import { decideProofs, type ProveAction } from "./decide";
import type { Outbox } from "./outbox";
import type { ViewPool } from "./sources";
import { mapLimit } from "./views";

/** Most `HealthOracleNotEquivocation` answers remembered (pairs never simulated again). */
const MAX_NOT_EQUIVOCATIONS = 1_024;

/**
 * One report as `IHealthOracle.ReportEvidence` for `proveEquivocation`: its endpoint list and values as signed, and
 * its signature in EIP-2098 form ({@link toCalldata}).
 */
export function reportEvidence(
  r: Pick<VerifiedReport, "endpointIds" | "values" | "signature" | "observedAt">,
): {
  endpointIds: string[];
  values: string;
  report: ReturnType<typeof toCalldata>;
} {
  return { endpointIds: [...r.endpointIds], values: r.values, report: toCalldata(r) };
}

/** The key of an equivocating pair under one config digest, independent of the pair's order. */
function pairKey(configDigest: string, e: Pick<Equivocation, "a" | "b">): string {
  const [x, y] = [e.a.digest.toLowerCase(), e.b.digest.toLowerCase()].sort();
  return `${configDigest.toLowerCase()}|${x}|${y}`;
}

export class Proofs {
  /**
   * Pairs the oracle answered `HealthOracleNotEquivocation` for (config digest and both report digests): an
   * answer, never asked again. Bounded: the oldest is forgotten first.
   */
  private readonly _notEquivocations = new Set<string>();

  constructor(
    private readonly d: {
      logger: Logger;
      metrics: Metrics;
      /** The oracle over the pool's facade. */
      oracle: IHealthOracle;
      pool: ViewPool;
      actor: Actor;
      outbox: Outbox;
      /** Forget the cached attestor set (a signer was jailed). */
      invalidate(): void;
    },
  ) {}

  /**
   * Prove the equivocations a collection found: the signers are read fresh from the oracle (`isJailed`; the cached
   * set may lag an `AttestorJailed`), and {@link decideProofs} picks one proof per signer not jailed yet. Pairs the
   * oracle already answered `HealthOracleNotEquivocation` for are not tried again.
   */
  async proveAll(
    configDigest: string,
    equivocations: readonly Equivocation[],
    signal: AbortSignal,
    inflight: AbortSignal,
  ): Promise<void> {
    const fresh = equivocations.filter((e) => !this._notEquivocations.has(pairKey(configDigest, e)));
    if (fresh.length === 0) return;
    const signers = [...new Set(fresh.map((e) => e.signer.toLowerCase()))];
    const flags = await mapLimit(signers, 16, (a) => this.d.oracle.isJailed(a));
    const jailed = new Set(signers.filter((_, i) => flags[i]));
    if (jailed.size > 0) {
      // Jailed by someone else since the set was read: reload it so the next collection drops their reports.
      this.d.invalidate();
      this.d.logger.debug({ jailed: [...jailed] }, "equivocating signers already jailed; nothing to prove");
    }
    for (const action of decideProofs(fresh, jailed)) {
      if (signal.aborted) return;
      await this._prove(configDigest, action, inflight);
    }
  }

  /**
   * Send `proveEquivocation(round, a, b)` for one signer: simulated first, where `HealthOracleAlreadyJailed`
   * (another prover was first) and `HealthOracleNotEquivocation` (the oracle does not take the pair, e.g. the set
   * was replaced since) are answers: counted, logged, not sent and not retried. A confirmed proof reloads the
   * attestor set (the signer is jailed now).
   */
  private async _prove(
    configDigest: string,
    action: ProveAction<Equivocation>,
    inflight: AbortSignal,
  ): Promise<void> {
    if (this.d.outbox.hasOpen("prove", action.target)) return;
    const e = action.equivocation;
    const log = this.d.logger.child({ action: "prove", target: action.target, round: e.round });
    const acted = await this.d.actor.act(
      {
        kind: "prove",
        target: action.target,
        to: await this.d.oracle.getAddress(),
        data: this.d.oracle.interface.encodeFunctionData("proveEquivocation", [
          e.round,
          reportEvidence(e.a),
          reportEvidence(e.b),
        ]),
        // Not a view-based decision: any RPC may simulate it, in pool order.
        proposers: [...this.d.pool.members],
        dissenters: [],
        safety: false,
        log,
      },
      inflight,
    );
    if (!acted.sent) {
      const rejected = acted.revertName === "HealthOracleNotEquivocation";
      if (rejected) {
        if (this._notEquivocations.size >= MAX_NOT_EQUIVOCATIONS)
          this._notEquivocations.delete(this._notEquivocations.values().next().value as string);
        this._notEquivocations.add(pairKey(configDigest, e));
      }
      this.d.metrics.actions.inc({
        action: "prove",
        outcome: rejected ? "rejected" : acted.lostRace ? "lost_race" : "failed",
      });
      log[acted.lostRace && !rejected ? "info" : "warn"](
        { reason: acted.reason },
        "equivocation proof not sent",
      );
      return;
    }
    acted.log.warn(
      { signer: e.signer, digests: [e.a.digest, e.b.digest] },
      "attestor signed two different reports for one round; proving it",
    );
    if (acted.status === "confirmed") {
      this.d.invalidate();
      acted.log.warn({ signer: e.signer }, "attestor jailed for equivocation");
    }
  }
}
