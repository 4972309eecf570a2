/**
 * The attestor's report metrics (health model v2), registered on the process's shared {@link Metrics}
 * registry next to the metrics of keepers/shared/metrics.ts (one set per registry):
 *
 * - `vigil_reports_signed_total` — reports (= ECDSA signatures) signed, one per round at most;
 * - `vigil_report_endpoints` — endpoints carried per signed report;
 * - `vigil_report_rounds_skipped_total{reason}` — rounds in which a probe round ended without a report
 *   (`round_already_signed`: a report of this round exists, before or across a restart; `nothing_judged`;
 *   `sign_failed`; `persist_failed`: the signed round could not be recorded, so the report was not served;
 *   `clock_skew`: the local clock is off chain time by more than the bound, see clock.ts);
 * - `vigil_attestor_clock_ok` — 1 while the clock discipline allows signing, 0 while it does not (clock.ts);
 * - `vigil_attestor_clock_offset_seconds` — the local clock minus chain time, estimated (positive: fast);
 * - `vigil_attestor_clock_bound_seconds` — the largest offset accepted (half the oracle's `maxSkew` by default).
 *
 * The per-endpoint counters stay where they were: `vigil_observations_signed_total` counts endpoint values
 * signed (endpoints per report, summed) and `vigil_observations_withheld_total{reason}` endpoint values not
 * signed.
 */
import { Counter, Gauge, Histogram } from "prom-client";
import type { Metrics } from "../shared/metrics";

export interface ReportMetrics {
  reportsSigned: Counter;
  reportEndpoints: Histogram;
  roundsSkipped: Counter<"reason">;
  clockOk: Gauge;
  clockOffset: Gauge;
  clockBound: Gauge;
}

const byRegistry = new WeakMap<Metrics, ReportMetrics>();

/** The report metrics of `metrics`' registry, created on first use. */
export function reportMetrics(metrics: Metrics): ReportMetrics {
  let m = byRegistry.get(metrics);
  if (!m) {
    const registers = [metrics.registry];
    m = {
      reportsSigned: new Counter({
        name: "vigil_reports_signed_total",
        help: "Reports (one ECDSA signature each, at most one per round) signed by this attestor.",
        registers,
      }),
      reportEndpoints: new Histogram({
        name: "vigil_report_endpoints",
        help: "Endpoints per signed report.",
        buckets: [1, 10, 100, 1_000, 10_000],
        registers,
      }),
      roundsSkipped: new Counter({
        name: "vigil_report_rounds_skipped_total",
        help: "Probe rounds that ended without a signed report, by reason.",
        labelNames: ["reason"],
        registers,
      }),
      clockOk: new Gauge({
        name: "vigil_attestor_clock_ok",
        help: "1 while the local clock is within the bound of chain time (signing allowed), 0 otherwise.",
        registers,
      }),
      clockOffset: new Gauge({
        name: "vigil_attestor_clock_offset_seconds",
        help: "Local clock minus chain time, estimated from the watched chains and the control chain (positive: fast).",
        registers,
      }),
      clockBound: new Gauge({
        name: "vigil_attestor_clock_bound_seconds",
        help: "Largest clock offset at which this attestor signs (default: half the oracle's maxSkew).",
        registers,
      }),
    };
    byRegistry.set(metrics, m);
  }
  return m;
}
