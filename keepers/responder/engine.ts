/**
 * One responder's iteration, safety first: re-check confirmed actions for reorgs, finish open outbox actions, then
 * trips already due; the rounds that may change a status; on fresh views, trips, migrations and resumes;
 * equivocation proofs; heartbeat refreshes last. Reading (views.ts), deciding (decide.ts), the multi-RPC rule
 * (sources.ts, act.ts) and sending (act.ts) live elsewhere; this file only orders them.
 */
import type { AbstractProvider } from "ethers";
import { readChainClock } from "../shared/chain";
import type { CrashHook } from "../shared/crash";
import type { Logger } from "../shared/logger";
import type { Metrics } from "../shared/metrics";
import { Actor, type FeeCaps } from "./act";
import type { ResponderConfig } from "./config";
import { isPauseAction } from "./decide";
import { DeliveryGate } from "./delivery";
import type { Outbox, OutboxAction } from "./outbox";
import { Proofs } from "./proofs";
import { reconcile } from "./reconcile";
import { Recovery } from "./recover";
import { Rounds } from "./rounds";
import type { ViewPool } from "./sources";
import type { TxManager } from "./tx";
import { PolicyCache, readContext, readScope, type Contracts, type Scope, type StaticContext } from "./views";
import { AttestorLog, QuorumWatch } from "./visibility";

export interface EngineDeps {
  logger: Logger;
  metrics: Metrics;
  pool: ViewPool;
  /** The contracts connected to a provider (a member's, or the pool's facade). */
  contractsOf: (p: AbstractProvider) => Contracts;
  outbox: Outbox;
  tx: TxManager;
  /** The fee caps (computed once, the TxManager has the same). */
  caps: FeeCaps;
  /** Re-checks confirmed actions for reorgs (keepers/responder/reorgs.ts); called first in every iteration. */
  reorgs?: { check(signal?: AbortSignal): Promise<number> };
  hooks?: { afterRecord?(action: OutboxAction): void | Promise<void> };
  crash?: CrashHook;
}

/** One responder's state between iterations. */
export class Engine {
  /** Whether at least quorum attestors answer: a `/healthz` condition, gauges, a log line per change. */
  readonly quorum: QuorumWatch;
  private _static?: StaticContext;
  private _watched?: string;
  /** Whether the local clock was last seen off the node's by more than maxSkew (logged once per change). */
  private _clockOff = false;
  private readonly _log: Logger;
  private readonly _facade: Contracts;
  private readonly _policies: PolicyCache;
  private readonly _actor: Actor;
  private readonly _gate?: DeliveryGate;
  private readonly _rounds: Rounds;
  private readonly _recovery: Recovery;
  private readonly _proofs: Proofs;

  constructor(
    private readonly config: ResponderConfig,
    private readonly d: EngineDeps,
  ) {
    const logger = (this._log = d.logger.child({ component: "engine" }));
    this.quorum = new QuorumWatch(logger, d.metrics);
    const facade = (this._facade = d.contractsOf(d.pool.provider));
    this._policies = new PolicyCache(facade.oracle);
    const actor = (this._actor = new Actor({ ...d, logger, config }));
    if (facade.guard)
      this._gate = new DeliveryGate({
        settings: config.delivery,
        guard: facade.guard,
        provider: d.pool.provider,
        metrics: d.metrics,
      });
    // The hourly delivery gas survives a restart: a crash loop hands a hostile market no fresh budget.
    this._gate?.restore(d.outbox.list(10_000));
    const common = { logger, pool: d.pool, contractsOf: d.contractsOf, actor, outbox: d.outbox };
    this._rounds = new Rounds({
      ...common,
      config,
      metrics: d.metrics,
      policies: this._policies,
      quorum: this.quorum,
      attestorLog: new AttestorLog(),
    });
    this._recovery = new Recovery({ ...common, gate: this._gate });
    this._proofs = new Proofs({
      ...common,
      metrics: d.metrics,
      oracle: facade.oracle,
      invalidate: () => this.invalidate(),
    });
  }

  /** Forget the cached attestor set, jailed signers and policies (on the oracle's set, jail and policy events). */
  invalidate(): void {
    this._static = undefined;
    this._policies.clear();
  }

  /** Finish every open outbox action (keepers/responder/reconcile.ts). */
  reconcile(signal: AbortSignal): Promise<void> {
    const { metrics, outbox, tx } = this.d;
    return reconcile(
      {
        logger: this._log,
        metrics,
        outbox,
        tx,
        actor: this._actor,
        oracle: this._facade.oracle,
        gate: this._gate,
        recovery: this._recovery,
      },
      signal,
    );
  }

  /** One iteration (see the file's comment). Only the configured services, their endpoints and markets are read. */
  async iterate(signal: AbortSignal, inflight: AbortSignal): Promise<void> {
    try {
      await this._iterate(signal, inflight);
    } catch (e) {
      // Reads through the pool end when shutdown begins: that is a stop, not a failed iteration.
      if (!signal.aborted) throw e;
    }
  }

  private async _iterate(signal: AbortSignal, inflight: AbortSignal): Promise<void> {
    await this.d.reorgs?.check(inflight);
    await this.reconcile(inflight);
    if (signal.aborted) return;
    const ctx = await this._context();
    const now = await this._now(ctx);
    const scope = await this._scope();

    // 1. A trip (or a pause the market has yet to receive) that is already due goes out before anything else.
    for (const p of await this._recovery.propose(scope, now, false, signal)) {
      if (signal.aborted) return;
      if (isPauseAction(p.action)) await this._recovery.recover(p, inflight);
    }

    // 2. Collect and verify the attestors' reports; submit the newest quorum round now if it changes a status.
    const { round, equivocations } = await this._rounds.collect(ctx, now, new Set(scope.endpointIds), signal);
    if (round && round.decision.reason !== "heartbeat")
      await this._rounds.submit(ctx.configDigest, round, inflight, now);

    // 3. Re-read the views, then act on what is due: trips, migrations, resumes, deliveries.
    if (signal.aborted) return;
    for (const p of await this._recovery.propose(scope, now, true, signal)) {
      if (signal.aborted) return;
      await this._recovery.recover(p, inflight);
    }

    // 4. Jail the attestors caught signing two different reports for one round.
    if (signal.aborted) return;
    await this._proofs.proveAll(ctx.configDigest, equivocations, signal, inflight);

    // 5. Heartbeat refreshes of steady endpoints.
    if (signal.aborted) return;
    if (round && round.decision.reason === "heartbeat")
      await this._rounds.submit(ctx.configDigest, round, inflight, now);
  }

  /** The cached context; the digest is cheap to re-read and catches a missed AttestorSetChanged. */
  private async _context(): Promise<StaticContext> {
    if (this._static && (await this._facade.oracle.configDigest()) === this._static.configDigest)
      return this._static;
    const ctx = (this._static = await readContext(this._facade.oracle, this.d.pool.provider));
    this._log.info(
      {
        configDigest: ctx.configDigest,
        quorum: ctx.quorum,
        attestors: ctx.attestors.length,
        jailed: ctx.jailed,
      },
      "attestor set loaded",
    );
    return ctx;
  }

  /**
   * The time the next block will have: reports and due-ness are judged by it, not by the latest block's (on a chain
   * with sparse blocks the latter lags the wall clock). Warns once per change when the local clock is off.
   */
  private async _now(ctx: StaticContext): Promise<number> {
    const clock = await readChainClock(this.d.pool.provider);
    const off = clock.skewSec !== undefined && Math.abs(clock.skewSec) > ctx.maxSkew;
    if (off !== this._clockOff) {
      this._clockOff = off;
      if (off)
        this._log.warn(
          { skewSec: clock.skewSec, maxSkew: ctx.maxSkew },
          "the local clock differs from the control-chain node's by more than maxSkew: judging by the node's clock; fix NTP",
        );
      else this._log.info({ skewSec: clock.skewSec }, "the local clock agrees with the node's again");
    }
    return clock.next;
  }

  /** What this responder watches: the configured services, their endpoints, their markets (logged per change). */
  private async _scope(): Promise<Scope> {
    const scope = await readScope(this._facade, this.config);
    const watched = `${scope.endpointIds.length} endpoints, markets ${scope.marketIds.join(",") || "none"}`;
    if (watched !== this._watched) {
      this._watched = watched;
      this._log.info(
        { services: scope.serviceIds, endpoints: scope.endpointIds.length, markets: scope.marketIds },
        "watching",
      );
    }
    return scope;
  }
}
