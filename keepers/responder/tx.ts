/**
 * A transaction manager for ONE signer (the `act` of `config → check → act`): sends are serialised,
 * the nonce comes from the chain (`pending`) for every send, so any error leaves nothing to roll back
 * (unlike ethers' NonceManager, which increments blindly); every call is simulated (`eth_call` and
 * `eth_estimateGas`) before it is signed; a revert the injected {@link RevertClassifier} calls a lost race
 * means another keeper won, which is normal; a transaction not mined after `stuckAfterMs` is replaced at the
 * same nonce with both EIP-1559 fees raised by at least 12.5% (geth's price bump), up to a cap; past its
 * deadline (wall clock) the nonce is cancelled by a 0-value self-send; confirmations are awaited within
 * `confirmTimeoutMs`; a receipt that vanishes (reorg) is answered by re-broadcasting the signed bytes.
 * It knows no contract: revert decoding comes from `reverts` (the responder's is keepers/responder/reverts.ts).
 */
import { isError, Transaction, type TransactionReceipt } from "ethers";
import type { CrashPoint } from "../shared/crash";
import { VigilError } from "../shared/errors";
import { sleep } from "../shared/lifecycle";
import type { Logger } from "../shared/logger";
import { bumpFees, cancelFees, type Fees } from "./tx/fees";
import { closeGaps, type GapEnv } from "./tx/gaps";
import { CANCEL_GAS, isCancel, resumeFlight } from "./tx/resume";
import { errText, isTransient, withRetry } from "./tx/retry";
import type {
  ExecuteHooks,
  ExecuteOutcome,
  RecordedTx,
  RevertClassifier,
  SimulationResult,
  TxManagerOptions,
  TxRequest,
  TxRole,
} from "./tx/types";
import type { Flight } from "./tx/resume";
export * from "./tx/fees";
export { isTransient, withRetry } from "./tx/retry";
export * from "./tx/types";

/** One signer's transaction pipeline. */
export class TxManager {
  readonly address: string;
  private _queue: Promise<unknown> = Promise.resolve();
  private readonly _log: Logger;
  private readonly _reverts: RevertClassifier;
  private readonly _gapCancels = new Map<number, Fees>();

  constructor(private readonly o: TxManagerOptions) {
    this.address = o.wallet.address;
    this._log = o.logger.child({ component: "tx", signer: this.address });
    this._reverts = o.reverts;
    if ((o.bumpPercent ?? 12.5) < 12.5) {
      throw new VigilError("VIGIL_CONFIG", "fees.bumpPercent must be at least 12.5");
    }
  }

  /**
   * `eth_call` at the `pending` block, then `eth_estimateGas` (the node's default block: `pending` on anvil and
   * hardhat), from this signer. At `pending` the node runs the call as the next block would (its timestamp, the
   * transactions waiting for it), which is where the transaction will run.
   * At `latest` an idle or automining chain would judge time-bound rules (a report's skew, a grace period) by
   * the last block's timestamp, possibly hours old. A revert is an answer: decoded, not retried.
   */
  async simulate(req: TxRequest, signal?: AbortSignal): Promise<SimulationResult> {
    const tx = { from: this.address, to: req.to, data: req.data, blockTag: "pending" };
    try {
      const returnData = await withRetry(() => this.o.provider.call(tx), 3, 200, signal);
      const estimate = await withRetry(() => this.o.provider.estimateGas(tx), 3, 200, signal);
      const headroom = BigInt(this.o.gasHeadroomPercent ?? 25);
      return { ok: true, gasLimit: (estimate * (100n + headroom)) / 100n, returnData };
    } catch (e) {
      if (!isError(e, "CALL_EXCEPTION")) throw e;
      const revert = this._reverts.decode(e);
      return { ok: false, lostRace: this._reverts.isLostRace(revert), revert };
    }
  }

  /**
   * Simulate, sign, broadcast and wait for `confirmations`, replacing the transaction when stuck and
   * cancelling it (a 0-value self-send at the same nonce) once its deadline passes. Serialised: one
   * execution at a time for this signer. With `resumeTxs` (crash recovery) an earlier run's transactions are
   * finished first: a mined cancel is "cancelled" (the action never ran), a mined action is confirmed or its
   * revert decoded, a pending one is adopted, a recorded one the node lost is re-broadcast while its nonce is
   * free; only when none of them can still be mined is the action simulated and sent anew. Never throws for a
   * revert or a send failure; throws only when the transport stays down after retries (the outbox keeps the
   * action open for reconciliation).
   */
  execute(req: TxRequest, hooks: ExecuteHooks = {}, signal?: AbortSignal): Promise<ExecuteOutcome> {
    const run = this._queue.then(() => this._execute(req, hooks, signal));
    this._queue = run.catch(() => undefined);
    return run;
  }

  /** Nonces as the chain sees them. Equal when nothing of ours is pending. */
  async nonces(): Promise<{ latest: number; pending: number }> {
    const [latest, pending] = await Promise.all([
      this.o.provider.getTransactionCount(this.address, "latest"),
      this.o.provider.getTransactionCount(this.address, "pending"),
    ]);
    return { latest, pending };
  }

  private async _execute(req: TxRequest, hooks: ExecuteHooks, signal?: AbortSignal): Promise<ExecuteOutcome> {
    // 1. An earlier run's transaction may be mined, pending or lost by the node: finish it rather than send again.
    const recorded: RecordedTx[] = hooks.resumeTxs?.length
      ? [...hooks.resumeTxs]
      : (hooks.resumeHashes ?? []).map((hash) => ({ hash }));
    if (recorded.length) {
      const env = {
        provider: this.o.provider,
        address: this.address,
        log: this._log,
        broadcast: (raw: string) => this._broadcast(raw),
      };
      const flight = await resumeFlight(env, recorded, hooks, signal);
      if (flight) return this._watch(req, flight, hooks, signal);
    }
    // 2. Simulate.
    let gasLimit = hooks.gasLimit;
    if (gasLimit === undefined) {
      const sim = await this.simulate(req, signal);
      if (!sim.ok) {
        return sim.lostRace
          ? { outcome: "lost_race", revert: sim.revert, stage: "simulation" }
          : { outcome: "failed", error: sim.revert.message, revert: sim.revert };
      }
      gasLimit = sim.gasLimit;
    }
    // 3. Sign and broadcast at the chain's pending nonce N. Every later send of this action uses N:
    //    after a broadcast error, a recorded hash the node knows (pending or mined) means the send
    //    went through, so it is watched; otherwise the same transaction is signed again at N.
    const nonce = await withRetry(
      () => this.o.provider.getTransactionCount(this.address, "pending"),
      3,
      200,
      signal,
    );
    const fees = await this._initialFees(this._cap(hooks), signal);
    const flight: Flight = { nonce, gasLimit, fees, sent: new Map(), cancelling: false, replacements: 0 };
    let lastError: unknown;
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await this._send(req, flight, fees, "action", hooks);
        return this._watch(req, flight, hooks, signal);
      } catch (e) {
        lastError = e;
        if (await this._anyKnown([...flight.sent.keys()], signal)) {
          this._log.warn({ err: errText(e), nonce }, "broadcast reported an error but reached the node");
          return this._watch(req, flight, hooks, signal);
        }
        this._log.warn({ err: errText(e), attempt, nonce }, "send failed; signing again at the same nonce");
        if (isError(e, "INSUFFICIENT_FUNDS") || isError(e, "NONCE_EXPIRED")) break;
      }
    }
    return { outcome: "failed", error: errText(lastError) };
  }

  /** The action's fee cap. */
  private _cap(hooks: ExecuteHooks): bigint {
    return hooks.maxFeeCapWei ?? this.o.maxFeeCapWei;
  }

  /** True when the node knows any of `hashes` (pending or mined). */
  private async _anyKnown(hashes: readonly string[], signal?: AbortSignal): Promise<boolean> {
    for (const h of hashes) {
      const t = await withRetry(() => this.o.provider.getTransaction(h), 3, 200, signal).catch(() => null);
      if (t) return true;
    }
    return false;
  }

  private async _initialFees(capWei: bigint, signal?: AbortSignal): Promise<Fees> {
    const fd = await withRetry(() => this.o.provider.getFeeData(), 3, 200, signal);
    const tip = fd.maxPriorityFeePerGas ?? 1_000_000_000n;
    let maxFee = fd.maxFeePerGas ?? (fd.gasPrice ?? 1_000_000_000n) * 2n + tip;
    if (maxFee > capWei) maxFee = capWei;
    return { maxFeePerGas: maxFee, maxPriorityFeePerGas: tip > maxFee ? maxFee : tip };
  }

  private _crash(point: CrashPoint): void {
    this.o.crash?.(point);
  }

  private async _broadcast(raw: string): Promise<void> {
    await withRetry(() => this.o.provider.broadcastTransaction(raw), 3, 200);
  }

  /**
   * Sign `tx` at the flight's nonce, record it (`onSigned`, then the flight), crash point "signed" /
   * "cancel_signed", broadcast, crash point "broadcast" / "cancel_broadcast". @returns the hash.
   */
  private async _send(
    tx: TxRequest,
    f: Flight,
    fees: Fees,
    role: TxRole,
    hooks: ExecuteHooks,
  ): Promise<string> {
    const raw = await this.o.wallet.signTransaction({
      type: 2,
      chainId: this.o.chainId,
      to: tx.to,
      data: tx.data,
      nonce: f.nonce,
      gasLimit: role === "cancel" ? CANCEL_GAS : f.gasLimit,
      maxFeePerGas: fees.maxFeePerGas,
      maxPriorityFeePerGas: fees.maxPriorityFeePerGas,
      value: 0n,
    });
    const hash = Transaction.from(raw).hash!;
    hooks.onSigned?.(f.nonce, { hash, raw, role, ...fees });
    if (!f.sent.has(hash)) f.sent.set(hash, { role, raw });
    this._crash(role === "cancel" ? "cancel_signed" : "signed");
    await this._broadcast(raw);
    this._log.debug({ hash, nonce: f.nonce, role, maxFeePerGas: String(fees.maxFeePerGas) }, "broadcast");
    this._crash(role === "cancel" ? "cancel_broadcast" : "broadcast");
    return hash;
  }

  /**
   * Wait for one of the flight's transactions to be mined with confirmations; replace at the same nonce when
   * stuck. Once the deadline (wall clock) passes, replace the nonce with a 0-value self-send (the cancel), keep
   * raising it when stuck, and stop waiting after `4 × stuckAfterMs` more. A mined transaction is waited on for
   * `confirmTimeoutMs` at most; if its receipt vanishes (a reorg), its signed bytes are broadcast again. Every
   * wait ends: the loop never blocks forever.
   */
  private async _watch(
    req: TxRequest,
    f: Flight,
    hooks: ExecuteHooks,
    signal?: AbortSignal,
  ): Promise<ExecuteOutcome> {
    const pollMs = this.o.pollMs ?? 500;
    const stuckAfter = this.o.stuckAfterMs ?? 30_000;
    const want = this.o.confirmations ?? 1;
    const confirmTimeout = this.o.confirmTimeoutMs ?? 120_000;
    const deadline = hooks.deadlineMs ?? Date.now() + (this.o.actionTimeoutMs ?? 300_000);
    const cap = this._cap(hooks);
    const cancel: TxRequest = { to: this.address, data: "0x" };
    let giveUpAt = f.cancelling ? Date.now() + 4 * stuckAfter : Infinity;
    let lastSend = Date.now();
    let lastGapCheck = lastSend;
    let capped = false;
    let mined: { hash: string; since: number } | undefined;
    for (;;) {
      this._crash("awaiting_receipt");
      const receipt = await this._findReceipt([...f.sent.keys()]).catch((e) => {
        if (!isTransient(e)) throw e;
        return null;
      });
      const now = Date.now();
      if (receipt) {
        const confirmations = await receipt.confirmations().catch(() => 0);
        if (confirmations >= want) return this._settle(req, f, receipt, signal);
        if (mined?.hash !== receipt.hash) mined = { hash: receipt.hash, since: now };
        else if (now - mined.since >= confirmTimeout) {
          this._log.warn(
            { nonce: f.nonce, hash: receipt.hash, confirmations, want },
            "mined, not confirmed in time",
          );
          return { outcome: "persisted", nonce: f.nonce };
        }
      } else {
        if (mined) {
          // Mined, then gone: a reorg dropped the block. The same bytes again (same nonce: it cannot apply twice).
          const raw = f.sent.get(mined.hash)?.raw;
          this._log.warn(
            { nonce: f.nonce, hash: mined.hash, rebroadcast: !!raw },
            "receipt vanished (reorg)",
          );
          if (raw)
            await this._broadcast(raw).catch((e) =>
              this._log.warn({ err: errText(e) }, "re-broadcast failed"),
            );
          mined = undefined;
          lastSend = now;
        }
        if (signal?.aborted) return { outcome: "persisted", nonce: f.nonce };
        if (now - lastGapCheck >= stuckAfter) {
          // Nothing mined below our nonce (a reorg removed it): ours can never be mined until that is filled.
          lastGapCheck = now;
          await closeGaps(this._gapEnv(cap), f.nonce, signal).catch((e) =>
            this._log.warn({ err: errText(e), nonce: f.nonce }, "nonce gap check failed"),
          );
        }
        if (f.cancelling && now >= giveUpAt) {
          const hash = [...f.sent].filter(([, t]) => t.role === "cancel").pop()?.[0] ?? "";
          this._log.warn({ nonce: f.nonce, hash }, "cancel not mined yet; moving on (it holds the nonce)");
          return { outcome: "cancelled", nonce: f.nonce, hash, mined: false };
        }
        if (!f.cancelling && now >= deadline) {
          const next = cancelFees(f.fees, this.o.bumpPercent ?? 12.5, this._cancelCap(cap));
          f.cancelling = true;
          giveUpAt = now + 4 * stuckAfter;
          this._log.warn(
            { nonce: f.nonce, maxFeePerGas: String(next.maxFeePerGas) },
            "deadline passed: cancelling",
          );
          await this._send(cancel, f, next, "cancel", hooks).catch((e) =>
            this._log.warn({ err: errText(e), nonce: f.nonce }, "cancel not accepted"),
          );
          f.fees = next;
          capped = false;
          lastSend = now;
        } else if (now - lastSend >= stuckAfter && !capped) {
          const next = bumpFees(
            f.fees,
            this.o.bumpPercent ?? 12.5,
            f.cancelling ? this._cancelCap(cap) : cap,
          );
          if (!next) {
            capped = true;
            this._log.warn(
              { nonce: f.nonce, maxFeePerGas: String(f.fees.maxFeePerGas) },
              "stuck at the fee cap; waiting",
            );
          } else {
            const role: TxRole = f.cancelling ? "cancel" : "action";
            try {
              const hash = await this._send(f.cancelling ? cancel : req, f, next, role, hooks);
              f.replacements += 1;
              this._log.info(
                {
                  nonce: f.nonce,
                  hash,
                  cancel: f.cancelling,
                  maxFeePerGas: String(next.maxFeePerGas),
                  tip: String(next.maxPriorityFeePerGas),
                },
                "replaced a stuck transaction",
              );
            } catch (e) {
              // "nonce too low": one of ours was mined meanwhile (found on the next poll).
              // "underpriced": the node wants more; the next bump goes higher.
              this._log.warn({ err: errText(e), nonce: f.nonce }, "replacement not accepted");
            }
            f.fees = next;
            lastSend = Date.now();
          }
        }
      }
      if (!(await sleep(pollMs, signal))) return { outcome: "persisted", nonce: f.nonce };
    }
  }

  private _gapEnv(actionCap: bigint): GapEnv {
    const o = this.o;
    return {
      provider: o.provider,
      wallet: o.wallet,
      chainId: o.chainId,
      log: this._log,
      fillGap: o.fillGap?.bind(o),
      onNonceGap: o.onNonceGap?.bind(o),
      cancelCapWei: this._cancelCap(actionCap),
      bumpPercent: o.bumpPercent ?? 12.5,
      cancels: this._gapCancels,
    };
  }

  private _cancelCap(actionCap: bigint): bigint {
    const c = this.o.cancelMaxFeeCapWei ?? actionCap;
    return c > actionCap ? c : actionCap;
  }

  private async _findReceipt(hashes: readonly string[]): Promise<TransactionReceipt | null> {
    for (const h of hashes) {
      const r = await withRetry(() => this.o.provider.getTransactionReceipt(h));
      if (r) return r;
    }
    return null;
  }

  /**
   * The outcome of a confirmed receipt: the cancel's receipt is "cancelled" (the action never ran), never
   * "confirmed"; the action's own is "confirmed" when it succeeded, else its revert is read by simulating the
   * action again (a lost race, or "failed").
   */
  private async _settle(
    req: TxRequest,
    f: Flight,
    receipt: TransactionReceipt,
    signal?: AbortSignal,
  ): Promise<ExecuteOutcome> {
    const role =
      f.sent.get(receipt.hash)?.role ??
      (isCancel({ to: receipt.to, data: "0x", value: 0n }, this.address) ? "cancel" : "action");
    if (role === "cancel") {
      this._log.warn({ nonce: f.nonce, hash: receipt.hash }, "deadline passed: the action was cancelled");
      return { outcome: "cancelled", nonce: f.nonce, hash: receipt.hash, mined: true, receipt };
    }
    if (receipt.status === 1)
      return { outcome: "confirmed", receipt, nonce: f.nonce, replacements: f.replacements };
    // Reverted on-chain although the simulation passed: someone acted in the same block, or the state moved.
    const sim = await this.simulate(req, signal).catch(() => undefined);
    if (sim && !sim.ok && sim.lostRace) return { outcome: "lost_race", revert: sim.revert, stage: "mined" };
    return {
      outcome: "failed",
      error: `transaction ${receipt.hash} reverted`,
      revert: sim && !sim.ok ? sim.revert : undefined,
    };
  }
}
