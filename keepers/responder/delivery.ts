/**
 * Whether a pending delivery (`retryDelivery`: a pause or unpause the market's hook refused) is worth a
 * transaction now, judged by outcome: `retryDelivery` succeeds and spends gas even when the market refuses again, so
 * a confirmed one that leaves `deliveryStatus` pending is a refusal. Refusals back off exponentially in wall-clock
 * time up to a cap, and the gas spent on one market's deliveries is bounded per hour. The `eth_call` of the hook
 * from the guard's address stays as a cheap first filter only: a hostile hook can tell a call from a transaction
 * (`tx.origin != msg.sender`), so it cannot be trusted to say "accepts".
 */
import { Transaction, type AbstractProvider } from "ethers";
import type { IMarketGuard } from "../../typechain-types";
import type { Logger } from "../shared/logger";
import type { Metrics } from "../shared/metrics";
import { Delivery } from "./decide";
import { responderMetrics } from "./metrics";
import type { OutboxAction } from "./outbox";
import { marketRefuses } from "./views";

export interface DeliverySettings {
  /** Wait after the first refusal, ms; doubles per consecutive refusal. */
  backoffBaseMs: number;
  /** Longest wait between two tries of one market's delivery, ms. */
  backoffMaxMs: number;
  /** Gas all `retryDelivery` transactions of one market may use within an hour (gas units). */
  maxGasPerMarketPerHour: number;
}

/** A market that refused a pending delivery: when to try it again. */
export interface Backoff {
  delivery: Delivery;
  /** Why the market refused, to log once per change. */
  reason: string;
  /** Consecutive refusals. */
  refusals: number;
  /** Wall-clock ms before which the market is not tried again. */
  retryAt: number;
}

/** One market's deliveries: the refusal backoff and the gas of the last hour. */
export class DeliveryGate {
  private readonly _backoff = new Map<number, Backoff>();
  private readonly _gas = new Map<number, Array<{ at: number; gas: bigint }>>();
  private readonly _capped = new Set<number>();
  private _marketCallGas?: bigint;

  constructor(
    private readonly o: {
      settings: DeliverySettings;
      /** The guard over the pool's facade (every read of the gate goes there). */
      guard: IMarketGuard;
      provider: AbstractProvider;
      metrics: Metrics;
      now?: () => number;
    },
  ) {}

  private _now(): number {
    return (this.o.now ?? Date.now)();
  }

  /**
   * Forget the backoff of a market whose pending delivery is no longer the one backed off, as `seen` in the views:
   * one value, or one per answering member. Cleared only when every value differs, so one member flipping its
   * `deliveryStatus` cannot lift a hostile market's backoff.
   */
  observe(marketId: number, seen: Delivery | readonly Delivery[]): void {
    const b = this._backoff.get(marketId);
    const all = typeof seen === "number" ? [seen] : seen;
    if (b && all.length > 0 && all.every((d) => d !== b.delivery)) this._backoff.delete(marketId);
  }

  /**
   * {@link observe} with every answering member's market views (one list per member, e.g.
   * `settled.map((s) => s.value.markets)` in keepers/responder/recover.ts): each market's backoff is forgotten
   * only when every member that reported the market sees a different delivery.
   */
  observeAll(views: ReadonlyArray<ReadonlyArray<{ marketId: number; delivery: Delivery }>>): void {
    const seen = new Map<number, Delivery[]>();
    for (const list of views)
      for (const m of list) seen.set(m.marketId, [...(seen.get(m.marketId) ?? []), m.delivery]);
    for (const [marketId, deliveries] of seen) this.observe(marketId, deliveries);
  }

  /** The market's backoff, if any (status and tests): the delivery backed off, consecutive refusals, retry time. */
  backoff(marketId: number): Readonly<Backoff> | undefined {
    return this._backoff.get(marketId);
  }

  /** The market's `deliveryStatus` (over the pool's facade). */
  async status(marketId: number): Promise<Delivery> {
    return Number(await this.o.guard.deliveryStatus(marketId)) as Delivery;
  }

  /** Gas the market's deliveries used within the last hour. */
  gasLastHour(marketId: number): bigint {
    const since = this._now() - 3_600_000;
    const list = (this._gas.get(marketId) ?? []).filter((g) => g.at > since);
    this._gas.set(marketId, list);
    return list.reduce((a, g) => a + g.gas, 0n);
  }

  /**
   * Whether to try the delivery now: not backing off, the hourly gas budget not spent, and the hook's `eth_call`
   * (the first filter) does not refuse. A refusal of that call counts as a refusal (backoff, metric, a log line
   * per change). @returns true when worth simulating and sending.
   */
  async due(marketId: number, delivery: Delivery, log: Logger): Promise<boolean> {
    const prev = this._backoff.get(marketId);
    if (prev && prev.delivery === delivery && this._now() < prev.retryAt) return false;
    if (this.gasLastHour(marketId) >= BigInt(this.o.settings.maxGasPerMarketPerHour)) {
      this._gasCapped(marketId, log);
      return false;
    }
    const reason = await this.refuses(marketId, delivery);
    if (reason === undefined) return true;
    this.refused(marketId, delivery, reason, "check", log);
    return false;
  }

  /** The first filter alone: the hook's `eth_call` from the guard. @returns the refusal's reason or undefined. */
  async refuses(marketId: number, delivery: Delivery): Promise<string | undefined> {
    const guard = this.o.guard;
    this._marketCallGas ??= await guard.marketCallGas();
    return marketRefuses(guard, this.o.provider, marketId, delivery, this._marketCallGas);
  }

  /** True when a delivery of `gasLimit` more gas still fits the market's hourly budget. */
  fits(marketId: number, gasLimit: bigint, log: Logger): boolean {
    if (this.gasLastHour(marketId) + gasLimit <= BigInt(this.o.settings.maxGasPerMarketPerHour)) return true;
    this._gasCapped(marketId, log);
    return false;
  }

  /** Count gas a `retryDelivery` of the market used (a receipt's `gasUsed`, or the gas limit of a reverted one). */
  spent(marketId: number, gas: bigint): void {
    const list = this._gas.get(marketId) ?? [];
    list.push({ at: this._now(), gas });
    this._gas.set(marketId, list);
    this._capped.delete(marketId); // sent again: the next time the budget is hit is logged again
    responderMetrics(this.o.metrics).deliveryGas.inc({ market: String(marketId) }, Number(gas));
  }

  /**
   * Rebuild the markets' hourly gas after a restart, so a crash loop does not hand a hostile market a fresh budget:
   * from the outbox's `deliver` actions (e.g. `Outbox.list(n)`, any order; pass at least the last hour's). Each one
   * with a signed transaction sent within the last hour counts, at its last send, the largest gas limit among its
   * transactions (the most it can have cost; the outbox keeps no receipt's `gasUsed`). Call once, before the first
   * iteration. @returns the gas counted, all markets together.
   */
  restore(actions: readonly OutboxAction[]): bigint {
    const since = this._now() - 3_600_000;
    let total = 0n;
    for (const a of actions) {
      if (a.kind !== "deliver" || a.status === "dropped") continue;
      const sent = a.txs.filter((t) => t.raw !== null && t.sentAt > since);
      if (sent.length === 0) continue;
      const gas = sent.reduce((g, t) => {
        const limit = Transaction.from(t.raw!).gasLimit;
        return limit > g ? limit : g;
      }, 0n);
      const marketId = Number(a.target);
      const list = this._gas.get(marketId) ?? [];
      list.push({ at: Math.max(...sent.map((t) => t.sentAt)), gas });
      this._gas.set(marketId, list);
      total += gas;
    }
    return total;
  }

  /**
   * After a confirmed `retryDelivery`: re-read `deliveryStatus`; still `delivery` means the market refused (the
   * guard's hook call failed inside a successful transaction). @returns true for a refusal.
   */
  async outcome(marketId: number, delivery: Delivery, log: Logger): Promise<boolean> {
    const now = await this.status(marketId);
    if (now !== delivery) {
      const prev = this._backoff.get(marketId);
      this._backoff.delete(marketId);
      if (prev) log.info({ refusals: prev.refusals }, "the market took the pending delivery");
      return false;
    }
    this.refused(marketId, delivery, "the confirmed retryDelivery left the delivery pending", "outcome", log);
    return true;
  }

  /** Count a refusal and back off: 1, 2, 4, … × `backoffBaseMs`, at most `backoffMaxMs`. */
  refused(marketId: number, delivery: Delivery, reason: string, by: "check" | "outcome", log: Logger): void {
    const prev = this._backoff.get(marketId);
    const refusals = prev && prev.delivery === delivery ? prev.refusals + 1 : 1;
    const { backoffBaseMs, backoffMaxMs } = this.o.settings;
    const wait = Math.min(backoffMaxMs, backoffBaseMs * 2 ** Math.min(refusals - 1, 40));
    this._backoff.set(marketId, { delivery, reason, refusals, retryAt: this._now() + wait });
    this.o.metrics.actions.inc({ action: "deliver", outcome: "refused" });
    responderMetrics(this.o.metrics).deliveryRefusals.inc({ market: String(marketId) });
    if (by === "outcome" || !prev || prev.delivery !== delivery || prev.reason !== reason)
      log[by === "outcome" ? "warn" : "info"](
        { delivery: Delivery[delivery], reason, by, refusals, retryInMs: wait },
        "the market refuses the pending delivery; tried again with backoff",
      );
  }

  /** Count a delivery not sent for its gas budget; logged once until the market's next delivery is sent. */
  private _gasCapped(marketId: number, log: Logger): void {
    this.o.metrics.actions.inc({ action: "deliver", outcome: "gas_capped" });
    if (this._capped.has(marketId)) return;
    this._capped.add(marketId);
    log.warn(
      { gasLastHour: String(this.gasLastHour(marketId)), cap: this.o.settings.maxGasPerMarketPerHour },
      "this market's deliveries used their hourly gas budget (delivery.maxGasPerMarketPerHour); not sent",
    );
  }
}
