/**
 * The attestor's recent signed reports (health model v2: one report per round covering every endpoint it
 * watches), in memory, for `GET /v1/reports`. Only the last few rounds are kept: the oracle accepts a report
 * only within its endpoints' `maxAge`, and a restart loses nothing a relayer still needs for long.
 *
 * At most one report per `(configDigest, round)`, and rounds only move forward: a second report of a round
 * (or an older one) is refused, so the attestor never serves two signatures for one round (equivocation).
 */
import type { SignedReport } from "../shared/report";

export interface ReportFilter {
  /** Only rounds at or after this one. */
  sinceRound?: number;
  /** Only reports observed at or before this Unix second (a report is never served before its own time). */
  notAfter?: number;
}

export class ReportStore {
  /** Ascending by round; all under one config digest. */
  private _reports: SignedReport[] = [];

  /** @param keep Reports (rounds) kept, oldest dropped first. */
  constructor(private readonly keep: number) {}

  /**
   * Keep `report` unless it is under another config digest than the held ones, or its round is not newer
   * than the newest held.
   * @returns true when stored, false when refused.
   */
  add(report: SignedReport): boolean {
    const newest = this._reports[this._reports.length - 1];
    if (newest && (newest.configDigest !== report.configDigest || report.round <= newest.round)) return false;
    this._reports.push(report);
    if (this._reports.length > this.keep) this._reports.splice(0, this._reports.length - this.keep);
    return true;
  }

  /** Matching reports, ascending by round. */
  query(filter: ReportFilter = {}): SignedReport[] {
    const since = filter.sinceRound ?? 0;
    const notAfter = filter.notAfter ?? Number.POSITIVE_INFINITY;
    return this._reports.filter((r) => r.round >= since && r.observedAt <= notAfter);
  }

  /** The newest report held, if any. */
  get latest(): SignedReport | undefined {
    return this._reports[this._reports.length - 1];
  }

  /** Forget everything (the config digest rotated: old signatures no longer count). */
  clear(): void {
    this._reports = [];
  }

  get size(): number {
    return this._reports.length;
  }
}
