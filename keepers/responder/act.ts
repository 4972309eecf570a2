/**
 * The `act` of `config → check → act`: simulate an action on the RPCs that called it due, record it in the outbox,
 * send it through the {@link TxManager} under its fee cap, and write the outcome to the outbox and the metrics.
 * The rule that no decision rests on one RPC is enforced here: an action some RPC's views made due is simulated on
 * every RPC that proposed it and sent when it simulates cleanly on one of them (the contract re-checks everything
 * on-chain), with the largest of the clean gas estimates (one RPC answering a low `eth_estimateGas` cannot make the
 * transaction run out of gas); an RPC whose "not due" contradicts its own clean simulation is blamed `lied`; a
 * transaction that reverts is blamed on the RPCs that proposed it and, unless every fresh RPC proposed it, counted
 * against each proposer's own hourly budget. An RPC over its own budget neither proposes nor vetoes. Past
 * `maxRevertedTxPerHour` reverts in all, an action must simulate cleanly on every fresh RPC within its own budget.
 */
import { isError, parseUnits, type AbstractProvider } from "ethers";
import type { CrashHook } from "../shared/crash";
import type { Logger } from "../shared/logger";
import type { Metrics } from "../shared/metrics";
import type { ResponderConfig } from "./config";
import { responderMetrics } from "./metrics";
import type { ActionKind, ActionStatus, Outbox, OutboxAction } from "./outbox";
import { vigilReverts } from "./reverts";
import { MemberRevertBudgets, RevertBudget, type Member, type ViewPool } from "./sources";
import {
  withRetry,
  type ExecuteHooks,
  type ExecuteOutcome,
  type SimulationResult,
  type TxManager,
  type TxRequest,
} from "./tx";

export interface ActorDeps {
  config: ResponderConfig;
  logger: Logger;
  metrics: Metrics;
  outbox: Outbox;
  tx: TxManager;
  pool: ViewPool;
  caps: FeeCaps;
  /** Fault injection: called after an action is recorded and before it is signed (throwing simulates a crash). */
  hooks?: { afterRecord?(action: OutboxAction): void | Promise<void> };
  /** Named crash points (keepers/shared/crash.ts); the actor calls `recorded`. */
  crash?: CrashHook;
}

/** One action to take, as the engine decided it. */
export interface ActRequest {
  kind: ActionKind;
  target: string;
  to: string;
  data: string;
  /** Members whose views made it due (simulated in this order). */
  proposers: readonly Member[];
  /** Members that answered and did not make it due. */
  dissenters: readonly Member[];
  /** A safety action (`isSafety`): the higher fee cap. */
  safety: boolean;
  /** Wall-clock deadline (ms) of the transaction; default: `actionDeadlineMs` from now. */
  deadlineMs?: number;
  /** A reason not to send despite a clean simulation (its return data), e.g. a round already stored. */
  skip?(returnData: string): string | undefined;
  /** Whether a transaction of this gas limit may be sent (a delivery's hourly gas budget). */
  fits?(gasLimit: bigint): boolean;
  /**
   * Blame a fresh dissenter whose own simulation is clean (`lied`). Default true; false where "due" is a judgement
   * beyond what the contract checks (a round worth a transaction), not a contract's view.
   */
  blameDissenters?: boolean;
  log: Logger;
}

export type Acted =
  /** Not recorded: the simulation reverted (`revert`), `skip` answered (`reason`), or `fits` refused. */
  | { sent: false; lostRace: boolean; reason: string; revertName?: string }
  /** Recorded and sent; `outcome` undefined when the transport failed while confirming (the outbox keeps it). */
  | {
      sent: true;
      id: number;
      gasLimit: bigint;
      outcome?: ExecuteOutcome;
      status?: FinishStatus;
      log: Logger;
    };

export type FinishStatus = ActionStatus;

/** Max fee per gas, wei: `normal` for submit, resume, prove and unpause deliveries; `safety` for `isSafety` actions. */
export interface FeeCaps {
  normal: bigint;
  safety: bigint;
}

/** The fee policy, computed once from `fees.maxFeeCapGwei` and `fees.safetyMaxFeeCapGwei` (gwei → wei). */
export function feeCaps(fees: ResponderConfig["fees"]): FeeCaps {
  return {
    normal: parseUnits(String(fees.maxFeeCapGwei), "gwei"),
    safety: parseUnits(String(fees.safetyMaxFeeCapGwei), "gwei"),
  };
}

/** Sends actions for one signer, under the fee caps, within the hourly revert budget. */
export class Actor {
  /** Reverted transactions of the last hour, all RPCs together: past it, strict mode. */
  readonly reverts: RevertBudget;
  /** Reverted transactions of the last hour attributed to each RPC: past its own, it neither proposes nor vetoes. */
  readonly memberReverts: MemberRevertBudgets;

  constructor(private readonly d: ActorDeps) {
    this.reverts = new RevertBudget(d.config.maxRevertedTxPerHour);
    this.memberReverts = new MemberRevertBudgets(d.config.maxRevertedTxPerHour);
  }

  /**
   * `eth_call` at `pending`, then `eth_estimateGas`, on one member, from the signer: as `TxManager.simulate` on the
   * member's own provider. A revert is an answer; a transport error throws.
   */
  async simulateOn(
    provider: AbstractProvider,
    req: TxRequest,
    signal?: AbortSignal,
  ): Promise<SimulationResult> {
    if (provider === this.d.pool.provider) return this.d.tx.simulate(req, signal);
    const tx = { from: this.d.tx.address, to: req.to, data: req.data, blockTag: "pending" };
    try {
      const returnData = await withRetry(() => provider.call(tx), 1, 200, signal);
      const estimate = await withRetry(() => provider.estimateGas(tx), 1, 200, signal);
      return { ok: true, gasLimit: (estimate * 125n) / 100n, returnData };
    } catch (e) {
      if (!isError(e, "CALL_EXCEPTION")) throw e;
      const revert = vigilReverts.decode(e);
      return { ok: false, lostRace: vigilReverts.isLostRace(revert), revert };
    }
  }

  /**
   * The simulation an action is sent on. Proposers over their own revert budget are dropped (none left: not sent).
   * Normally every remaining proposer is simulated and one clean simulation suffices (a revert or a transport error
   * on one is no reason to skip when another simulates cleanly); past the global revert budget (strict), every fresh
   * member within its own budget must simulate cleanly. The gas limit is the largest of the clean simulations' (each
   * with its headroom), never one member's. @returns that simulation and the first clean member, or a failure.
   * @throws the last transport error when no proposer answered (not strict).
   */
  private async _choose(
    r: ActRequest,
    signal?: AbortSignal,
  ): Promise<{ sim: SimulationResult; member?: Member }> {
    const req = { to: r.to, data: r.data };
    const strict = this.reverts.exhausted();
    responderMetrics(this.d.metrics).revertedLastHour.set(this.reverts.used());
    const within = (m: Member) => !this.memberReverts.over(m);
    const proposers = r.proposers.filter(within);
    if (proposers.length === 0)
      return { sim: notFresh("proposed only by RPCs over their own revert budget") };
    const order = strict ? this.d.pool.fresh().filter(within) : proposers;
    let failed: SimulationResult | undefined;
    let chosen: { sim: Extract<SimulationResult, { ok: true }>; member: Member } | undefined;
    let gasLimit = 0n;
    let transport: unknown;
    for (const m of order) {
      let sim: SimulationResult;
      try {
        sim = await this.simulateOn(m.provider, req, signal);
      } catch (e) {
        transport = e;
        if (strict) return { sim: notFresh(`${m.label} did not answer`) };
        continue;
      }
      if (!sim.ok) {
        failed ??= sim;
        if (strict) return { sim };
        continue;
      }
      chosen ??= { sim, member: m };
      if (sim.gasLimit > gasLimit) gasLimit = sim.gasLimit;
    }
    if (chosen) return { sim: { ...chosen.sim, gasLimit }, member: chosen.member };
    if (failed) return { sim: failed };
    if (strict) return { sim: notFresh("no fresh RPC within its revert budget") };
    throw transport ?? new Error("no RPC proposed the action");
  }

  /**
   * Simulate, record, send and finish one action (see the file's comment for the multi-RPC rule). A member of
   * `dissenters` whose own simulation is clean is blamed `lied`; a mined revert is counted against the budget and
   * blamed on the proposers (`reverted`) unless every member proposed it (a race another keeper won), and counted
   * against each proposer's own budget unless every fresh member proposed it.
   */
  async act(r: ActRequest, inflight: AbortSignal): Promise<Acted> {
    const m = responderMetrics(this.d.metrics);
    if (r.dissenters.length > 0) m.rpcDisagreements.inc({ action: r.kind });
    const { sim, member } = await this._choose(r, inflight);
    if (!sim.ok)
      return {
        sent: false,
        lostRace: sim.lostRace,
        reason: sim.revert.name ?? sim.revert.message,
        revertName: sim.revert.name,
      };
    const skip = r.skip?.(sim.returnData);
    if (skip !== undefined) return { sent: false, lostRace: true, reason: skip };
    if (r.fits && !r.fits(sim.gasLimit))
      return { sent: false, lostRace: false, reason: "over its gas budget" };
    if (r.blameDissenters !== false) await this._blameLiars(r, member!, inflight);
    const id = await this.record(r.kind, r.target, r.to, r.data);
    const log = r.log.child({ actionId: id });
    const outcome = await this.execute(
      r.kind,
      { to: r.to, data: r.data },
      {
        gasLimit: sim.gasLimit,
        onSigned: this.onSigned(id, r.kind),
        ...(r.deadlineMs !== undefined && { deadlineMs: r.deadlineMs }),
      },
      inflight,
      log,
      r.safety,
    );
    if (!outcome) return { sent: true, id, gasLimit: sim.gasLimit, log };
    const status = this.finish(id, r.kind, outcome, log, false);
    this._countRevert(r, outcome);
    return { sent: true, id, gasLimit: sim.gasLimit, outcome, status, log };
  }

  /** Blame each fresh dissenter whose own simulation of the action is clean: its view said "not due". */
  private async _blameLiars(r: ActRequest, by: Member, signal: AbortSignal): Promise<void> {
    const fresh = new Set(this.d.pool.fresh().map((f) => f.index));
    for (const d of r.dissenters) {
      if (!fresh.has(d.index)) continue;
      const own = await this.simulateOn(d.provider, { to: r.to, data: r.data }, signal).catch(
        () => undefined,
      );
      if (!own?.ok || r.skip?.(own.returnData) !== undefined) continue;
      this.d.pool.blame(d, "lied", `${r.kind} ${r.target}: its views said not due; it simulates cleanly`);
      r.log.warn(
        { rpc: d.label, proposer: by.label },
        "an RPC's views said not due for an action that simulates cleanly on it; acting anyway",
      );
    }
  }

  private _countRevert(r: ActRequest, outcome: ExecuteOutcome): void {
    const mined =
      (outcome.outcome === "failed" && outcome.error.includes("reverted")) ||
      (outcome.outcome === "lost_race" && outcome.stage === "mined");
    if (!mined) return;
    this.reverts.add();
    const m = responderMetrics(this.d.metrics);
    m.revertedTxs.inc({ action: r.kind });
    m.revertedLastHour.set(this.reverts.used());
    if (outcome.outcome === "lost_race" && r.dissenters.length === 0) return;
    for (const p of r.proposers) this.d.pool.blame(p, "reverted", `${r.kind} ${r.target} reverted on-chain`);
    // A revert every fresh member proposed is evidence against none of them (a race, a state change since the
    // simulation): it counts against the global budget only, so no honest member is silenced by it.
    const proposed = new Set(r.proposers.map((p) => p.index));
    if (this.d.pool.fresh().every((f) => proposed.has(f.index))) return;
    for (const p of r.proposers) {
      this.memberReverts.add(p);
      if (this.memberReverts.over(p))
        r.log.warn(
          { rpc: p.label, reverted: this.memberReverts.used(p) },
          "an RPC's proposals reverted maxRevertedTxPerHour times within the hour; it neither proposes nor vetoes",
        );
    }
  }

  /** Record an intent in the outbox; then the `recorded` crash point and the `afterRecord` hook. */
  async record(kind: ActionKind, target: string, to: string, data: string): Promise<number> {
    const id = this.d.outbox.record(kind, target, to, data);
    this.d.crash?.("recorded");
    await this.d.hooks?.afterRecord?.(this.d.outbox.get(id)!);
    return id;
  }

  /**
   * `tx.execute` under the action's fee cap; a transport error is logged and leaves the action open in the outbox
   * (reconciled on the next iteration) instead of failing the iteration. @returns undefined then.
   */
  async execute(
    kind: ActionKind,
    req: TxRequest,
    hooks: ExecuteHooks,
    signal: AbortSignal,
    log: Logger,
    safety: boolean,
  ): Promise<ExecuteOutcome | undefined> {
    const cap = safety ? this.d.caps.safety : this.d.caps.normal;
    try {
      return await this.d.tx.execute(req, { maxFeeCapWei: cap, ...hooks }, signal);
    } catch (e) {
      this.d.metrics.actions.inc({ action: kind, outcome: "unconfirmed" });
      log.warn(
        { err: e instanceof Error ? e.message.split("\n")[0] : String(e) },
        "transport failed while acting; the outbox keeps the action and the next iteration reconciles it",
      );
      return undefined;
    }
  }

  /** The `onSigned` hook of one outbox action: records each signed transaction before it is broadcast. */
  onSigned(id: number, kind: ActionKind): NonNullable<ExecuteHooks["onSigned"]> {
    return (nonce, t) => {
      this.d.outbox.recordBroadcast(id, nonce, {
        hash: t.hash,
        maxFeePerGas: t.maxFeePerGas.toString(),
        maxPriorityFeePerGas: t.maxPriorityFeePerGas.toString(),
        role: t.role,
        raw: t.raw,
      });
      this.d.metrics.actions.inc({ action: kind, outcome: t.role === "cancel" ? "cancel_sent" : "sent" });
    };
  }

  /**
   * Write an outcome to the outbox (`Outbox.settle`: a mined cancel is `cancelled`, a pending one leaves the action
   * open) and to the metrics and the log. @returns the outbox status afterwards.
   */
  finish(
    id: number,
    kind: ActionKind,
    outcome: ExecuteOutcome,
    log: Logger,
    reconciling: boolean,
  ): FinishStatus {
    const status = this.d.outbox.settle(id, outcome, reconciling);
    const count = (o: string, n = 1) => this.d.metrics.actions.inc({ action: kind, outcome: o }, n);
    switch (outcome.outcome) {
      case "confirmed": {
        const r = outcome.receipt;
        count("confirmed");
        if (outcome.replacements > 0) count("replaced", outcome.replacements);
        log.info({ hash: r.hash, block: r.blockNumber, gasUsed: String(r.gasUsed) }, "confirmed");
        break;
      }
      case "lost_race":
        count("lost_race");
        log.info({ reason: outcome.revert.name, stage: outcome.stage }, "another keeper acted first");
        break;
      case "failed":
        count("failed");
        log.warn({ err: outcome.error, reason: outcome.revert?.name }, "action failed");
        break;
      case "persisted":
        log.info(
          { nonce: outcome.nonce },
          "outcome not known yet (shutdown, or not confirmed in time); the outbox keeps it",
        );
        break;
      case "cancelled":
        count("cancelled");
        log.warn(
          { nonce: outcome.nonce, hash: outcome.hash, mined: outcome.mined },
          "cancelled at the deadline",
        );
        break;
    }
    return status;
  }

  /** Count and log an action the simulation (or `skip`) kept from being sent. */
  notSent(kind: ActionKind, a: Extract<Acted, { sent: false }>, log: Logger, what = "not sent"): void {
    this.d.metrics.actions.inc({ action: kind, outcome: a.lostRace ? "lost_race" : "failed" });
    log[a.lostRace ? "info" : "warn"]({ reason: a.reason }, what);
  }
}

/** A strict-mode failure that is not a revert: a fresh member did not answer (the action waits). */
function notFresh(message: string): SimulationResult {
  return { ok: false, lostRace: false, revert: { message } };
}
