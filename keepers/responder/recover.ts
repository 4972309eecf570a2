/**
 * Recovery actions (`trip`, `migrate`, `resume`, `retryDelivery`): the market views and migration statuses are read
 * through every RPC of the pool, {@link decideRecovery} runs per RPC, and the union is acted on, each action tagged
 * with the RPCs that called it due (keepers/responder/act.ts sends it when it simulates cleanly on one of them).
 */
import type { AbstractProvider } from "ethers";
import type { Logger } from "../shared/logger";
import type { Actor } from "./act";
import { decideRecovery, Delivery, isPauseAction, isSafety, type RecoveryAction } from "./decide";
import type { DeliveryGate } from "./delivery";
import type { Outbox } from "./outbox";
import type { ExecuteOutcome } from "./tx";
import { answered, unionProposals, type Proposal, type ViewPool } from "./sources";
import { readMarketViews, readServiceViews, type Contracts, type Scope } from "./views";

/** The key of a recovery action in the union: kind, target, and what a delivery delivers. */
function actionKey(a: RecoveryAction): string {
  return a.kind === "deliver" ? `deliver:${a.target}:${a.delivery}` : `${a.kind}:${a.target}`;
}

/** Safety first across RPCs, as {@link decideRecovery} orders one RPC's list. */
function actionRank(a: RecoveryAction): number {
  return isPauseAction(a) ? 0 : a.kind === "migrate" ? 1 : 2;
}

export class Recovery {
  constructor(
    private readonly d: {
      logger: Logger;
      pool: ViewPool;
      contractsOf: (p: AbstractProvider) => Contracts;
      actor: Actor;
      outbox: Outbox;
      /** Absent without a guard. */
      gate?: DeliveryGate;
    },
  ) {}

  /**
   * Read the market views (and, with `services`, the migration statuses) through every RPC, decide per RPC and
   * return the union, safety first. `now` is the next block's estimated time.
   * @throws when no RPC answered.
   */
  async propose(
    scope: Scope,
    now: number,
    services: boolean,
    signal?: AbortSignal,
  ): Promise<Proposal<RecoveryAction>[]> {
    const settled = answered(
      await this.d.pool.each(async (p) => {
        const c = this.d.contractsOf(p);
        const [markets, serviceViews] = await Promise.all([
          readMarketViews(c.guard, scope.marketIds),
          services ? readServiceViews(c.registry, scope.serviceIds) : [],
        ]);
        return { markets, actions: decideRecovery(serviceViews, markets, now) };
      }, signal),
    );
    // A backoff is lifted only when every answering RPC sees the delivery change: one RPC cannot reset it.
    this.d.gate?.observeAll(settled.map((s) => s.value.markets));
    return unionProposals(
      settled.map((s) => ({ member: s.member, value: s.value.actions })),
      actionKey,
      actionRank,
    );
  }

  /**
   * Act on one proposal unless the outbox already holds it open. A delivery passes the gate first (backoff, hourly
   * gas, the hook's `eth_call`) and is judged by its outcome after it confirms.
   */
  async recover(p: Proposal<RecoveryAction>, inflight: AbortSignal): Promise<void> {
    const a = p.action;
    if (this.d.outbox.hasOpen(a.kind, a.target)) return;
    const log = this.d.logger.child({ action: a.kind, target: a.target });
    const facade = this.d.contractsOf(this.d.pool.provider);
    let to: string;
    let data: string;
    const marketId = a.kind === "migrate" ? 0 : Number(a.target);
    const gate = this.d.gate;
    if (a.kind === "migrate") {
      to = await facade.registry.getAddress();
      data = facade.registry.interface.encodeFunctionData("migrate", [a.target]);
    } else {
      to = await facade.guard!.getAddress();
      const iface = facade.guard!.interface;
      if (a.kind === "deliver") {
        if (!(await gate!.due(marketId, a.delivery, log))) return;
        data = iface.encodeFunctionData("retryDelivery", [marketId]);
      } else
        data =
          a.kind === "trip"
            ? iface.encodeFunctionData("trip", [marketId])
            : iface.encodeFunctionData("resume", [marketId]);
    }
    const deliver = a.kind === "deliver" ? a.delivery : undefined;
    const acted = await this.d.actor.act(
      {
        kind: a.kind,
        target: a.target,
        to,
        data,
        proposers: p.proposers,
        dissenters: p.dissenters,
        safety: isSafety(a.kind, deliver),
        fits: deliver !== undefined ? (gas) => gate!.fits(marketId, gas, log) : undefined,
        log,
      },
      inflight,
    );
    if (!acted.sent) {
      if (acted.reason !== "over its gas budget") this.d.actor.notSent(a.kind, acted, log);
      return;
    }
    if (deliver === undefined || !acted.outcome) return;
    await this.delivered(marketId, deliver, acted.outcome, acted.gasLimit, acted.log);
  }

  /**
   * The gas and the outcome of a `retryDelivery`: a confirmed one that left the delivery pending is a refusal;
   * a reverted one counts its gas limit.
   */
  async delivered(
    marketId: number,
    delivery: Delivery,
    outcome: ExecuteOutcome,
    gasLimit: bigint,
    log: Logger,
  ): Promise<void> {
    const gate = this.d.gate!;
    if (outcome.outcome === "confirmed") {
      gate.spent(marketId, outcome.receipt.gasUsed);
      await gate.outcome(marketId, delivery, log);
    } else if (
      (outcome.outcome === "failed" && outcome.error.includes("reverted")) ||
      (outcome.outcome === "lost_race" && outcome.stage === "mined")
    )
      gate.spent(marketId, gasLimit);
  }
}
