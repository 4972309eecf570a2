/**
 * Finish every open outbox action, exactly once: at start-up (what a crash left) and at the start of every
 * iteration (what a transport error while confirming left).
 */
import type { IHealthOracle } from "../../typechain-types";
import type { Logger } from "../shared/logger";
import type { Metrics } from "../shared/metrics";
import type { Actor } from "./act";
import { Delivery, isSafety } from "./decide";
import type { DeliveryGate } from "./delivery";
import type { Outbox } from "./outbox";
import type { Recovery } from "./recover";
import { countAccepted, simulatedSubmit } from "./rounds";
import type { TxManager } from "./tx";

/**
 * A recorded transaction with a receipt is finished; one still pending is watched (at its nonce, with its
 * deadline); otherwise the action is simulated again and sent only if the contracts still say it is due. A
 * transport error leaves the action open for the next call.
 */
export async function reconcile(
  d: {
    logger: Logger;
    metrics: Metrics;
    outbox: Outbox;
    tx: TxManager;
    actor: Actor;
    /** The oracle over the pool's facade. */
    oracle: IHealthOracle;
    gate?: DeliveryGate;
    recovery: Recovery;
  },
  signal: AbortSignal,
): Promise<void> {
  for (const a of d.outbox.unfinished()) {
    if (signal.aborted) return;
    const log = d.logger.child({ actionId: a.id, action: a.kind, target: a.target });
    log.info({ status: a.status, nonce: a.nonce, txs: a.txs.length }, "reconciling an unfinished action");
    let delivery: Delivery | undefined;
    if (a.kind === "submit" && a.txs.length === 0) {
      // `submit` never reverts for a stored round: it succeeds and skips. Never broadcast, it is sent only if
      // the oracle would still store something (a stale round reverts and is dropped by the simulation).
      const sim = await d.tx.simulate({ to: a.to, data: a.data }, signal);
      if (sim.ok && simulatedSubmit(d.oracle, sim.returnData).updated === 0) {
        d.outbox.finish(a.id, "dropped", "not sent: the round is already stored");
        d.metrics.actions.inc({ action: "submit", outcome: "lost_race" });
        log.info("round already stored; dropped");
        continue;
      }
    }
    if (a.kind === "deliver" && d.gate) {
      // retryDelivery succeeds (and spends gas) even when the market refuses again: an action never broadcast is
      // sent only if the market would accept it now; otherwise the iteration decides anew.
      const marketId = Number(a.target);
      delivery = await d.gate.status(marketId);
      if (a.txs.length === 0) {
        const refusal =
          delivery === Delivery.NONE ? "nothing to deliver" : await d.gate.refuses(marketId, delivery);
        if (refusal !== undefined) {
          d.outbox.finish(a.id, "dropped", `not sent: ${refusal}`);
          log.info({ reason: refusal }, "delivery no longer sendable; dropped");
          continue;
        }
      }
    }
    const outcome = await d.actor.execute(
      a.kind,
      { to: a.to, data: a.data },
      { resumeTxs: a.txs, onSigned: d.actor.onSigned(a.id, a.kind) },
      signal,
      log,
      isSafety(a.kind, delivery),
    );
    if (!outcome) continue;
    const status = d.actor.finish(a.id, a.kind, outcome, log, true);
    if (a.kind === "submit" && status === "confirmed" && outcome.outcome === "confirmed")
      countAccepted(d.oracle, d.metrics, outcome.receipt, log);
    if (a.kind === "deliver" && delivery !== undefined && delivery !== Delivery.NONE && d.gate)
      // The gas limit of a transaction recorded by an earlier run is not known here: a revert counts 0.
      await d.recovery.delivered(Number(a.target), delivery, outcome, 0n, log);
  }
}
