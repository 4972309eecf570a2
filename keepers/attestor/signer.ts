/**
 * One report per round, never two: the attestor's signing step. It claims the oracle round of the signing time
 * synchronously (two racing probe rounds cannot both sign), builds the EIP-712 `Report` over every endpoint
 * judged with this attestor's streaks (streaks.ts), signs its digest (hashed by hand, one ECDSA signature per
 * round), records the round on disk (signedRound.ts) BEFORE the report is stored for serving, and refuses every
 * round at or before the one recorded for the same config digest, so a restart inside a round never signs it
 * again (equivocation gets an attestor jailed). No report while the clock discipline says the local clock is
 * off (clock.ts).
 */
import { keccak256, type SigningKey } from "ethers";
import { roundOf } from "../shared/health";
import type { Logger } from "../shared/logger";
import type { Metrics } from "../shared/metrics";
import {
  encodeValues,
  reportDigest,
  signReportDigest,
  sortEndpointIds,
  type Report,
  type SignedReport,
} from "../shared/report";
import type { ClockGuard } from "./clockGuard";
import type { ReportMetrics } from "./metrics";
import type { EndpointState, ProbeOutcome } from "./prober";
import { SignedRoundLog } from "./signedRound";
import type { OracleState } from "./sources";
import type { ReportStore } from "./store";
import { judgeRound, type StreakState } from "./streaks";

/** Why a probe round ended without a signed report. */
export type SkipReason =
  | "no_oracle_state"
  | "nothing_judged"
  | "round_already_signed"
  | "sign_failed"
  | "persist_failed"
  | "rotated"
  | "clock_skew";

/** The round this attestor signed last (or is signing), under one config digest. */
export interface SignedRound {
  configDigest: string;
  round: number;
}

/** What one signing needs from the attestor's current state. */
export interface SigningContext {
  /** The oracle's signing context; undefined before it was first read. */
  oracle?: OracleState;
  /** EIP-712 domain separator of `oracle.domain`. */
  separator?: string;
  /** The endpoint's state, undefined once it left the registry. */
  stateOf(endpointId: string): EndpointState | undefined;
  /** The config digest in use now (a rotation while recording makes the signature worthless). */
  currentDigest(): string | undefined;
}

export interface SignerOptions {
  key: SigningKey;
  /** The attestor's checksummed address. */
  address: string;
  /** Directory of the signed-round record. */
  dataDir: string;
  store: ReportStore;
  clock: ClockGuard;
  metrics: Metrics;
  reportMetrics: ReportMetrics;
  log: Logger;
  /** Clock, ms since the epoch. */
  now: () => number;
}

/** Signs one report per round; see the file comment. */
export class RoundSigner {
  /** keccak256 of the last report's endpoint list (EIP-712 `bytes32[]`), reused while the list is unchanged. */
  private _idsHash?: { ids: string; hash: string };
  /** Last round claimed for signing; starts from the on-disk record, only moves forward per digest. */
  private _claimed?: SignedRound;
  private readonly _signedRounds: SignedRoundLog;

  /**
   * @throws VigilError `VIGIL_CONFIG` / `VIGIL_ATTESTATION` when the signed-round record in `dataDir` cannot be
   * created or read (see {@link SignedRoundLog}).
   */
  constructor(private readonly o: SignerOptions) {
    this._signedRounds = new SignedRoundLog(o.dataDir, o.address);
    const last = this._signedRounds.last;
    if (last) {
      this._claimed = { configDigest: last.configDigest, round: last.round };
      o.log.info(
        { configDigest: last.configDigest, round: last.round, file: this._signedRounds.file },
        "last signed round read from disk: no report for it or an earlier round will be signed under that digest",
      );
    }
  }

  /** The last round signed or being signed (in memory, starting from the on-disk record). */
  get lastSignedRound(): SignedRound | undefined {
    return this._claimed && { ...this._claimed };
  }

  /**
   * Sign one report for the round of the signing time over every endpoint judged in `outcomes`, record the
   * round on disk, then store it for serving and keep the new streaks. Never throws.
   */
  async sign(
    outcomes: readonly ProbeOutcome[],
    ctx: SigningContext,
  ): Promise<{ report?: SignedReport; skipped?: SkipReason }> {
    const { metrics } = this.o;
    // Every round: a clock off chain time would date the report and judge head ages wrongly (clock.ts).
    const clock = this.o.clock.check();
    const { oracle, separator } = ctx;
    if (!oracle || !separator) return this._skip("no_oracle_state");
    const judged: Array<{ state: EndpointState; healthBps: number }> = [];
    for (const o of outcomes) {
      const state = ctx.stateOf(o.endpointId);
      if (!state) continue; // left the registry while it was probed
      if (!o.signable) {
        metrics.observationsWithheld.inc({ reason: "no_expected_chain_id" });
        continue;
      }
      judged.push({ state, healthBps: o.healthBps });
    }
    if (judged.length === 0) return this._skip("nothing_judged");
    if (!clock.ok) {
      metrics.observationsWithheld.inc({ reason: "clock_skew" }, judged.length);
      return this._skip("clock_skew");
    }

    const observedAt = Math.floor(this.o.now() / 1000);
    const round = roundOf(observedAt, oracle.roundSeconds);
    // Claimed synchronously, before anything is awaited: a racing probe round of the same round stops here.
    const claimed = this._claimed;
    if (claimed && claimed.configDigest === oracle.configDigest && round <= claimed.round) {
      metrics.observationsWithheld.inc({ reason: "round_already_signed" }, judged.length);
      return this._skip("round_already_signed");
    }
    this._claimed = { configDigest: oracle.configDigest, round };

    judged.sort((a, b) => (a.state.endpoint.id < b.state.endpoint.id ? -1 : 1));
    let report: Report;
    let streaks: StreakState[];
    let digest: string;
    let signature: string;
    try {
      streaks = judged.map((j) => judgeRound(j.state.streak, round, j.healthBps, j.state.policy));
      report = {
        configDigest: oracle.configDigest,
        round,
        observedAt,
        endpointIds: sortEndpointIds(judged.map((j) => j.state.endpoint.id)),
        values: encodeValues(
          judged.map((j, i) => ({
            healthBps: j.healthBps,
            badRounds: streaks[i].badRounds,
            goodRounds: streaks[i].goodRounds,
          })),
        ),
      };
      digest = reportDigest(separator, report, this._hashIds(report.endpointIds));
      signature = signReportDigest(this.o.key, digest);
    } catch (e) {
      // Nothing was served: the round stays claimed (skipped) rather than risk a second signature for it.
      this.o.log.error({ err: e, round }, "building or signing the report failed: round skipped");
      return this._skip("sign_failed");
    }
    try {
      await this._signedRounds.record({
        configDigest: report.configDigest,
        round,
        observedAt,
        reportDigest: digest,
      });
    } catch (e) {
      this.o.log.error(
        { err: e, round, file: this._signedRounds.file },
        "cannot record the signed round on disk: report not served (check dataDir)",
      );
      return this._skip("persist_failed");
    }
    // A rotation while we were recording makes this signature worthless: do not serve it.
    if (ctx.currentDigest() !== report.configDigest) return this._skip("rotated");
    const signed: SignedReport = { ...report, attestor: this.o.address, signature };
    if (!this.o.store.add(signed)) return this._skip("round_already_signed");
    judged.forEach((j, i) => (j.state.streak = streaks[i]));
    metrics.observationsSigned.inc(judged.length);
    this.o.reportMetrics.reportsSigned.inc();
    this.o.reportMetrics.reportEndpoints.observe(judged.length);
    this.o.log.debug(
      { round, observedAt, endpoints: judged.length, reportDigest: digest },
      "signed the round's report",
    );
    return { report: signed };
  }

  /**
   * `hashEndpointIds(ids)` (keccak256 of the concatenated ids), computed from a native hex decode and reused
   * while the list is unchanged: the list changes only when endpoints come, go or cannot be judged.
   */
  private _hashIds(ids: readonly string[]): string {
    const key = ids.join("");
    if (this._idsHash?.ids !== key) {
      this._idsHash = { ids: key, hash: keccak256(Buffer.from(key.replace(/0x/g, ""), "hex")) };
    }
    return this._idsHash.hash;
  }

  private _skip(reason: SkipReason): { skipped: SkipReason } {
    this.o.reportMetrics.roundsSkipped.inc({ reason });
    return { skipped: reason };
  }
}
