/**
 * The responder's v2 metrics, registered on the process's one {@link Metrics} registry (one set per registry).
 * They belong beside the others in keepers/shared/metrics.ts; they live here until that file is migrated.
 */
import { Counter, Gauge } from "prom-client";
import type { Metrics } from "../shared/metrics";

export interface ResponderMetrics {
  /** Served reports not used, by attestor URL and reason (`signature`, `outsider`, `stale`, …; see `RejectReason`). */
  readonly reportsRejected: Counter<"attestor" | "reason">;
  /**
   * Endpoints of the responder's confirmed `submit` transactions, by outcome as the oracle's `ReportAccepted`
   * counted them: `updated` (took the round) or `skipped` (already stored: another relayer was first).
   */
  readonly roundEndpoints: Counter<"outcome">;
  /** Served reports not used, by reason only (the sum of `reportsRejected` over attestors); `stale` = expired. */
  readonly observationsRejected: Counter<"reason">;
  /** Attestors of the current set (not jailed) that served a valid report at the last poll. */
  readonly attestorsAnswering: Gauge;
  /** The oracle's quorum (reports a round needs), as last read. */
  readonly attestorQuorum: Gauge;
  /** 1 while fewer than quorum attestors answer (no round can be relayed), else 0. */
  readonly quorumLost: Gauge;
  /** Gas used by `retryDelivery` transactions, per market (a reverted one counts its gas limit). */
  readonly deliveryGas: Counter<"market">;
  /** Refused deliveries per market: by the hook's `eth_call`, or by outcome (confirmed, still pending). */
  readonly deliveryRefusals: Counter<"market">;
  /** The responder's transactions that reverted on-chain, by action. */
  readonly revertedTxs: Counter<"action">;
  /** Reverted transactions within the last hour (against `maxRevertedTxPerHour`). */
  readonly revertedLastHour: Gauge;
  /** Actions some RPCs of the pool called due and others not, by action (the union acted on them). */
  readonly rpcDisagreements: Counter<"action">;
  /** Confirmed actions a reorg removed or moved, reopened by the reorg watch, by action. */
  readonly reorgedActions: Counter<"action">;
  /** Nonces found with nothing mined below a waiting transaction, by how they were filled. */
  readonly nonceGaps: Counter<"how">;
}

const byRegistry = new WeakMap<Metrics, ResponderMetrics>();

/** The responder metrics of `metrics`' registry, created on first use. */
export function responderMetrics(metrics: Metrics): ResponderMetrics {
  let m = byRegistry.get(metrics);
  if (!m) {
    const registers = [metrics.registry];
    m = {
      reportsRejected: new Counter({
        name: "vigil_reports_rejected_total",
        help: "Attestor reports the responder did not use, by attestor URL and reason.",
        labelNames: ["attestor", "reason"],
        registers,
      }),
      roundEndpoints: new Counter({
        name: "vigil_round_endpoints_total",
        help: "Endpoints of confirmed submit transactions, by outcome (updated, skipped).",
        labelNames: ["outcome"],
        registers,
      }),
      observationsRejected: new Counter({
        name: "vigil_observations_rejected_total",
        help: "Attestor reports the responder did not use, by reason (stale: expired, not a fault).",
        labelNames: ["reason"],
        registers,
      }),
      attestorsAnswering: new Gauge({
        name: "vigil_attestors_answering",
        help: "Attestors of the current set, not jailed, that served a valid report at the last poll.",
        registers,
      }),
      attestorQuorum: new Gauge({
        name: "vigil_attestor_quorum",
        help: "Reports a round needs (the oracle's quorum), as last read.",
        registers,
      }),
      quorumLost: new Gauge({
        name: "vigil_quorum_lost",
        help: "1 while fewer than quorum attestors answer (no round can be relayed), else 0.",
        registers,
      }),
      deliveryGas: new Counter({
        name: "vigil_responder_delivery_gas_total",
        help: "Gas used by retryDelivery transactions, per market (a reverted one counts its gas limit).",
        labelNames: ["market"],
        registers,
      }),
      deliveryRefusals: new Counter({
        name: "vigil_responder_delivery_refusals_total",
        help: "Pending deliveries a market refused (its hook's eth_call, or a confirmed retryDelivery left pending).",
        labelNames: ["market"],
        registers,
      }),
      revertedTxs: new Counter({
        name: "vigil_responder_reverted_tx_total",
        help: "The responder's transactions that reverted on-chain, by action.",
        labelNames: ["action"],
        registers,
      }),
      revertedLastHour: new Gauge({
        name: "vigil_responder_reverted_tx_last_hour",
        help: "Reverted transactions within the last hour (past maxRevertedTxPerHour every fresh RPC must agree).",
        registers,
      }),
      reorgedActions: new Counter({
        name: "vigil_responder_reorged_actions_total",
        help: "Confirmed actions whose receipt a reorg removed or moved; reopened and settled again.",
        labelNames: ["action"],
        registers,
      }),
      nonceGaps: new Counter({
        name: "vigil_responder_nonce_gaps_total",
        help: "Nonces with nothing mined below a waiting transaction (a reorg): refilled from the outbox or cancelled.",
        labelNames: ["how"],
        registers,
      }),
      rpcDisagreements: new Counter({
        name: "vigil_responder_rpc_disagreements_total",
        help: "Actions some control-chain RPCs called due and others not (acted on when one simulates cleanly).",
        labelNames: ["action"],
        registers,
      }),
    };
    byRegistry.set(metrics, m);
  }
  return m;
}
