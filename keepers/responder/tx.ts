/**
 * A transaction manager for ONE signer (the `act` of `config → check → act`): sends are serialised,
 * the nonce comes from the chain (`pending`) for every send, so any error leaves nothing to roll back
 * (unlike ethers' NonceManager, which increments blindly); every call is simulated (`eth_call` and
 * `eth_estimateGas`) before it is signed; a *NotDue revert means another keeper won the race, which is
 * normal; a transaction not mined after `stuckAfterMs` is replaced at the same nonce with both
 * EIP-1559 fees raised by at least 12.5% (geth's price bump), up to a cap; confirmations are awaited.
 */
import {
  Interface,
  isError,
  Transaction,
  type AbstractProvider,
  type TransactionReceipt,
  type Wallet,
} from "ethers";
import {
  IEndpointRegistry__factory,
  IHealthOracle__factory,
  IMarketGuard__factory,
} from "../../typechain-types";
import { VigilError } from "../shared/errors";
import { sleep } from "../shared/lifecycle";
import type { Logger } from "../shared/logger";

/** Every custom error of the Vigil contracts, for decoding revert data. */
export const VIGIL_ERRORS = new Interface([
  ...IHealthOracle__factory.abi.filter((f) => f.type === "error"),
  ...IEndpointRegistry__factory.abi.filter((f) => f.type === "error"),
  ...IMarketGuard__factory.abi.filter((f) => f.type === "error"),
]);

/**
 * Reverts that mean "nothing to do": already done by someone else (another keeper, the oracle's listener), or
 * no longer applicable. Answers, not faults: the action is dropped, never retried.
 */
export const LOST_RACE_ERRORS: ReadonlySet<string> = new Set([
  "EndpointRegistryMigrationNotDue",
  "MarketGuardTripNotDue",
  "MarketGuardResumeNotDue",
  // retryDelivery when the market already received the decision: another keeper delivered it first.
  "MarketGuardNothingToDeliver",
  // proveEquivocation when the signer is already jailed: another prover (or our earlier proof) was first.
  "HealthOracleAlreadyJailed",
  // proveEquivocation of a pair the oracle does not take (the set was replaced since, releasing everyone):
  // nothing to prove, an answer like the others, never retried.
  "HealthOracleNotEquivocation",
  // (No oracle error: `submit` skips rounds already stored instead of reverting; the responder reads the
  // simulated and the mined (updated, skipped) instead.)
]);

export interface DecodedRevert {
  /** Custom error name, when the data decodes against {@link VIGIL_ERRORS}. */
  name?: string;
  args?: readonly unknown[];
  /** Raw revert data, when the node returned it. */
  data?: string;
  message: string;
}

/** Decode revert data (from an ethers CALL_EXCEPTION, or raw hex). */
export function decodeRevert(e: unknown): DecodedRevert {
  let data: string | undefined;
  if (typeof e === "string") data = e;
  else if (e && typeof e === "object") {
    const err = e as { data?: unknown; error?: { data?: unknown }; info?: { error?: { data?: unknown } } };
    const d = err.data ?? err.error?.data ?? err.info?.error?.data;
    if (typeof d === "string" && d.startsWith("0x")) data = d;
  }
  const message = e instanceof Error ? e.message.split("\n")[0] : String(e);
  if (!data || data === "0x") return { data, message };
  try {
    const parsed = VIGIL_ERRORS.parseError(data);
    if (parsed) return { name: parsed.name, args: [...parsed.args], data, message: parsed.name };
  } catch {
    /* not one of ours */
  }
  return { data, message };
}

/** True when a revert means another keeper won the race (not an error, not retried). */
export function isLostRace(revert: DecodedRevert): boolean {
  return revert.name !== undefined && LOST_RACE_ERRORS.has(revert.name);
}

/**
 * Transient transport failures worth retrying (viem's `shouldRetry` idea): timeouts, connection
 * errors, HTTP 408/429/5xx, JSON-RPC "limit exceeded" / internal errors. A revert is never transient.
 */
export function isTransient(e: unknown): boolean {
  if (isError(e, "CALL_EXCEPTION") || isError(e, "INSUFFICIENT_FUNDS") || isError(e, "NONCE_EXPIRED"))
    return false;
  if (isError(e, "TIMEOUT") || isError(e, "NETWORK_ERROR")) return true;
  const text = (
    e instanceof Error ? `${e.message} ${(e as { code?: unknown }).code ?? ""}` : String(e)
  ).toLowerCase();
  if (isError(e, "SERVER_ERROR")) return true;
  return /econnrefused|econnreset|etimedout|socket hang up|fetch failed|\b(408|429|500|502|503|504)\b|-32005|-32603|rate limit|limit exceeded|timeout/.test(
    text,
  );
}

/** Retry `fn` on transient errors with exponential backoff (200 ms, 400 ms, …). */
export async function withRetry<T>(
  fn: () => Promise<T>,
  retries = 3,
  baseMs = 200,
  signal?: AbortSignal,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (attempt >= retries || !isTransient(e) || signal?.aborted) throw e;
      await sleep(baseMs * 2 ** attempt, signal);
    }
  }
}

export interface Fees {
  maxFeePerGas: bigint;
  maxPriorityFeePerGas: bigint;
}

/**
 * The next fees for a replacement: both raised by `bumpPercent` (rounded up, and at least +1 wei),
 * the max fee capped at `capWei` and the tip never above the max fee. @returns undefined when the cap
 * leaves no room for a valid replacement (both fees must rise by at least 12.5%).
 */
export function bumpFees(fees: Fees, bumpPercent: number, capWei: bigint): Fees | undefined {
  const scale = BigInt(Math.round(bumpPercent * 1000));
  const up = (v: bigint) => {
    const next = (v * (100_000n + scale) + 99_999n) / 100_000n;
    return next > v ? next : v + 1n;
  };
  const minUp = (v: bigint) => (v * 1125n + 999n) / 1000n;
  const maxFee = up(fees.maxFeePerGas) > capWei ? capWei : up(fees.maxFeePerGas);
  let tip = up(fees.maxPriorityFeePerGas);
  if (tip > maxFee) tip = maxFee;
  if (maxFee < minUp(fees.maxFeePerGas) || tip < minUp(fees.maxPriorityFeePerGas)) return undefined;
  return { maxFeePerGas: maxFee, maxPriorityFeePerGas: tip };
}

/**
 * Fees of a cancel that replaces `fees` at the same nonce: a bump within `capWei` when there is room,
 * else the smallest valid replacement (both fees +12.5%) even above the cap: a cancel costs 21,000 gas
 * and frees the nonce every later action waits behind, so it must be accepted.
 */
export function cancelFees(fees: Fees, bumpPercent: number, capWei: bigint): Fees {
  const bumped = bumpFees(fees, bumpPercent, capWei);
  if (bumped) return bumped;
  const minUp = (v: bigint) => {
    const n = (v * 1125n + 999n) / 1000n;
    return n > v ? n : v + 1n;
  };
  return { maxFeePerGas: minUp(fees.maxFeePerGas), maxPriorityFeePerGas: minUp(fees.maxPriorityFeePerGas) };
}

export interface TxRequest {
  to: string;
  data: string;
}

export type SimulationResult =
  /** `returnData`: what the `eth_call` returned (e.g. `submit`'s `(updated, skipped)`). */
  | { ok: true; gasLimit: bigint; returnData: string }
  | { ok: false; lostRace: boolean; revert: DecodedRevert };

export type ExecuteOutcome =
  | { outcome: "confirmed"; receipt: TransactionReceipt; nonce: number; replacements: number }
  | { outcome: "lost_race"; revert: DecodedRevert; stage: "simulation" | "mined" }
  | { outcome: "failed"; error: string; revert?: DecodedRevert }
  /** Shutdown began while the transaction waited to be mined; the outbox keeps it for the next start. */
  | { outcome: "persisted"; nonce: number }
  /**
   * The deadline passed before the action was mined: its nonce was replaced by a 0-value self-send.
   * `mined`: the cancel was mined (false: still pending when the wait for it ended; it holds the nonce).
   */
  | { outcome: "cancelled"; nonce: number; hash: string; mined: boolean };

export interface ExecuteHooks {
  /** Called with each signed transaction BEFORE it is broadcast (the outbox records nonce and hash). */
  onSigned?(nonce: number, tx: { hash: string; maxFeePerGas: bigint; maxPriorityFeePerGas: bigint }): void;
  /** Hashes recorded by an earlier run for this action (crash recovery): adopted if still pending. */
  resumeHashes?: readonly string[];
  /** Skip the simulation (the caller just simulated). */
  gasLimit?: bigint;
  /**
   * Wall-clock time (ms) after which the action is no longer worth mining; then its nonce is
   * cancelled. Default: now + `actionTimeoutMs`.
   */
  deadlineMs?: number;
  /** Max fee per gas for this action, wei (a safety action may pay more). Default: `maxFeeCapWei`. */
  maxFeeCapWei?: bigint;
}

export interface TxManagerOptions {
  /** The signer, connected to `provider`. */
  wallet: Wallet;
  provider: AbstractProvider;
  chainId: number;
  logger: Logger;
  /** Blocks to wait after inclusion. Default 1. */
  confirmations?: number;
  /** Percent both fees rise per replacement; at least 12.5. Default 12.5. */
  bumpPercent?: number;
  /** Max fee per gas never exceeds this, wei. */
  maxFeeCapWei: bigint;
  /** Replace when not mined after this many ms. Default 30000. */
  stuckAfterMs?: number;
  /** Default deadline of an action, ms after it starts. Default 300000 (5 minutes). */
  actionTimeoutMs?: number;
  /**
   * Ceiling of a cancel's max fee, wei (a cancel costs 21,000 gas and frees the nonce that every
   * later action, a trip included, waits behind). Default: the larger of `maxFeeCapWei` and the
   * action's cap.
   */
  cancelMaxFeeCapWei?: bigint;
  /** Receipt polling interval, ms. Default 500. */
  pollMs?: number;
  /** Gas estimate headroom, percent. Default 25 (listener calls in the same tx are gas-bounded). */
  gasHeadroomPercent?: number;
}

/** One signer's transaction pipeline. */
export class TxManager {
  readonly address: string;
  private _queue: Promise<unknown> = Promise.resolve();
  private readonly _log: Logger;

  constructor(private readonly o: TxManagerOptions) {
    this.address = o.wallet.address;
    this._log = o.logger.child({ component: "tx", signer: this.address });
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
      const revert = decodeRevert(e);
      return { ok: false, lostRace: isLostRace(revert), revert };
    }
  }

  /**
   * Simulate, sign, broadcast and wait for `confirmations`, replacing the transaction when stuck and
   * cancelling it (a 0-value self-send at the same nonce) once its deadline passes. Serialised: one
   * execution at a time for this signer. Never throws for a revert or a send failure; throws only
   * when the transport stays down after retries (the outbox keeps the action open for reconciliation).
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
    // 1. An earlier run's transaction may be mined or still pending: finish it rather than send again.
    if (hooks.resumeHashes?.length) {
      const receipt = await this._findReceipt(hooks.resumeHashes);
      if (receipt) {
        const mined = await withRetry(() => this.o.provider.getTransaction(receipt.hash));
        return this._afterMined(req, receipt, mined?.nonce ?? -1, 0, signal);
      }
      for (const h of hooks.resumeHashes) {
        const pendingTx = await withRetry(() => this.o.provider.getTransaction(h), 3, 200, signal);
        if (pendingTx && pendingTx.blockNumber == null && pendingTx.maxFeePerGas != null) {
          this._log.info({ hash: h, nonce: pendingTx.nonce }, "adopting a transaction from the previous run");
          const fees = {
            maxFeePerGas: pendingTx.maxFeePerGas,
            maxPriorityFeePerGas: pendingTx.maxPriorityFeePerGas ?? 0n,
          };
          return this._watch(
            req,
            pendingTx.nonce,
            pendingTx.gasLimit,
            fees,
            [...hooks.resumeHashes],
            hooks,
            signal,
          );
        }
      }
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
    const hashes: string[] = [];
    let lastError: unknown;
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await this._signAndBroadcast(req, nonce, gasLimit, fees, hooks, hashes);
        return this._watch(req, nonce, gasLimit, fees, hashes, hooks, signal);
      } catch (e) {
        lastError = e;
        if (await this._anyKnown(hashes, signal)) {
          this._log.warn({ err: errText(e), nonce }, "broadcast reported an error but reached the node");
          return this._watch(req, nonce, gasLimit, fees, hashes, hooks, signal);
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

  /** Sign, record (hook, and `hashes` when given) and broadcast. @returns the hash. */
  private async _signAndBroadcast(
    req: TxRequest,
    nonce: number,
    gasLimit: bigint,
    fees: Fees,
    hooks: ExecuteHooks,
    hashes?: string[],
  ): Promise<string> {
    const signed = await this.o.wallet.signTransaction({
      type: 2,
      chainId: this.o.chainId,
      to: req.to,
      data: req.data,
      nonce,
      gasLimit,
      maxFeePerGas: fees.maxFeePerGas,
      maxPriorityFeePerGas: fees.maxPriorityFeePerGas,
      value: 0n,
    });
    const hash = Transaction.from(signed).hash!;
    hooks.onSigned?.(nonce, { hash, ...fees });
    if (hashes && !hashes.includes(hash)) hashes.push(hash);
    await withRetry(() => this.o.provider.broadcastTransaction(signed), 3, 200);
    this._log.debug({ hash, nonce, maxFeePerGas: String(fees.maxFeePerGas) }, "broadcast");
    return hash;
  }

  /**
   * Wait for one of `hashes` to be mined with confirmations; replace at the same nonce when stuck.
   * Once the deadline passes, replace the nonce with a 0-value self-send (the cancel), keep raising
   * it when stuck, and stop waiting after `4 × stuckAfterMs` more: the loop never blocks forever.
   */
  private async _watch(
    req: TxRequest,
    nonce: number,
    gasLimit: bigint,
    startFees: Fees,
    hashes: string[],
    hooks: ExecuteHooks,
    signal?: AbortSignal,
  ): Promise<ExecuteOutcome> {
    const pollMs = this.o.pollMs ?? 500;
    const stuckAfter = this.o.stuckAfterMs ?? 30_000;
    const deadline = hooks.deadlineMs ?? Date.now() + (this.o.actionTimeoutMs ?? 300_000);
    const cap = this._cap(hooks);
    let fees = startFees;
    let lastSend = Date.now();
    let replacements = 0;
    let capped = false;
    // Set once the deadline passed and a cancel was signed.
    let cancel: { hashes: string[]; giveUpAt: number } | undefined;
    for (;;) {
      const receipt = await this._findReceipt(hashes).catch((e) => {
        if (!isTransient(e)) throw e;
        return null;
      });
      if (receipt) {
        if (cancel?.hashes.includes(receipt.hash)) {
          this._log.warn({ nonce, hash: receipt.hash }, "deadline passed: the action was cancelled");
          return { outcome: "cancelled", nonce, hash: receipt.hash, mined: true };
        }
        return this._afterMined(req, receipt, nonce, replacements, signal);
      }
      if (signal?.aborted) return { outcome: "persisted", nonce };
      const now = Date.now();
      if (cancel && now >= cancel.giveUpAt) {
        const hash = cancel.hashes[cancel.hashes.length - 1];
        this._log.warn({ nonce, hash }, "cancel not mined yet; moving on (it holds the nonce)");
        return { outcome: "cancelled", nonce, hash, mined: false };
      }
      if (!cancel && now >= deadline) {
        const next = cancelFees(fees, this.o.bumpPercent ?? 12.5, this._cancelCap(cap));
        cancel = { hashes: [], giveUpAt: now + 4 * stuckAfter };
        try {
          await this._signAndBroadcast(
            { to: this.address, data: "0x" },
            nonce,
            21_000n,
            next,
            hooks,
            cancel.hashes,
          );
        } catch (e) {
          this._log.warn({ err: errText(e), nonce }, "cancel not accepted");
        }
        hashes.push(...cancel.hashes);
        fees = next;
        capped = false;
        lastSend = now;
        this._log.warn({ nonce, maxFeePerGas: String(next.maxFeePerGas) }, "deadline passed: cancelling");
      } else if (now - lastSend >= stuckAfter && !capped) {
        const next = bumpFees(fees, this.o.bumpPercent ?? 12.5, cancel ? this._cancelCap(cap) : cap);
        if (!next) {
          capped = true;
          this._log.warn({ nonce, maxFeePerGas: String(fees.maxFeePerGas) }, "stuck at the fee cap; waiting");
        } else {
          const tx = cancel ? { to: this.address, data: "0x" } : req;
          const sent: string[] = [];
          try {
            await this._signAndBroadcast(tx, nonce, cancel ? 21_000n : gasLimit, next, hooks, sent);
            replacements += 1;
            this._log.info(
              {
                nonce,
                hash: sent[0],
                cancel: !!cancel,
                maxFeePerGas: String(next.maxFeePerGas),
                tip: String(next.maxPriorityFeePerGas),
              },
              "replaced a stuck transaction",
            );
          } catch (e) {
            // "nonce too low": one of ours was mined meanwhile (found on the next poll).
            // "underpriced": the node wants more; the next bump goes higher.
            this._log.warn({ err: errText(e), nonce }, "replacement not accepted");
          }
          hashes.push(...sent);
          cancel?.hashes.push(...sent);
          fees = next;
          lastSend = Date.now();
        }
      }
      if (!(await sleep(pollMs, signal))) return { outcome: "persisted", nonce };
    }
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

  private async _afterMined(
    req: TxRequest,
    receipt: TransactionReceipt,
    nonce: number,
    replacements: number,
    signal?: AbortSignal,
  ): Promise<ExecuteOutcome> {
    const want = this.o.confirmations ?? 1;
    let current: TransactionReceipt | null = receipt;
    while (current && (await current.confirmations()) < want) {
      if (!(await sleep(this.o.pollMs ?? 500, signal))) return { outcome: "persisted", nonce };
      current = await withRetry(() => this.o.provider.getTransactionReceipt(receipt.hash));
    }
    if (!current) return { outcome: "failed", error: `receipt of ${receipt.hash} vanished (reorg)` };
    if (current.status === 1) return { outcome: "confirmed", receipt: current, nonce, replacements };
    // Reverted on-chain although the simulation passed: someone acted in the same block, or the state moved.
    const sim = await this.simulate(req, signal).catch(() => undefined);
    if (sim && !sim.ok && sim.lostRace) return { outcome: "lost_race", revert: sim.revert, stage: "mined" };
    return {
      outcome: "failed",
      error: `transaction ${current.hash} reverted`,
      revert: sim && !sim.ok ? sim.revert : undefined,
    };
  }
}

function errText(e: unknown): string {
  if (e instanceof Error) return e.message.split("\n")[0];
  return String(e);
}
