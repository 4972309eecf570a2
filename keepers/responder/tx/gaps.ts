/**
 * Nonce gaps: a transaction waits at nonce M while the signer's `pending` nonce (mined, plus ready in the pool) is
 * N < M, so nonces [N, M) have nothing mined or ready (a reorg removed a settled transaction after its watch window, or while the process waited on M)
 * and M can never be mined. Each missing nonce is filled: by the injected `fillGap` (the responder re-broadcasts
 * the signed bytes it recorded at that nonce and reopens that action), else by a 0-value self-send (a cancel).
 */
import type { AbstractProvider, Wallet } from "ethers";
import type { Logger } from "../../shared/logger";
import { cancelFees, type Fees } from "./fees";
import { CANCEL_GAS } from "./resume";
import { errText, withRetry } from "./retry";

/** What {@link closeGaps} needs of the manager. */
export interface GapEnv {
  provider: AbstractProvider;
  wallet: Wallet;
  chainId: number;
  log: Logger;
  /** The injected hook (`TxManagerOptions.fillGap`): true when it put a transaction at `nonce` in the pool. */
  fillGap?(nonce: number): Promise<boolean>;
  /** Told of each missing nonce and how it was filled (a metric). */
  onNonceGap?(nonce: number, how: "refilled" | "cancelled"): void;
  /** Ceiling of a gap cancel's max fee, wei. */
  cancelCapWei: bigint;
  bumpPercent: number;
  /** Fees of the last gap cancel per nonce (a repeated cancel at a nonce must outbid the previous one). */
  cancels: Map<number, Fees>;
}

/**
 * Read the signer's `pending` nonce (mined plus ready in the pool); for every nonce in [pending, `waiting`) ask
 * `fillGap`, and when it has
 * nothing (or its transaction was refused) sign and broadcast a 0-value self-send at that nonce. A refused cancel
 * (e.g. "nonce too low": the nonce filled meanwhile) is logged; the next call looks again.
 * @returns how many nonces were missing (0: no gap).
 * @throws when the provider stays unreachable after retries (the caller's poll tries again).
 */
export async function closeGaps(env: GapEnv, waiting: number, signal?: AbortSignal): Promise<number> {
  const address = env.wallet.address;
  // `pending` counts mined nonces and the pool's ready ones, never a transaction queued behind a missing nonce:
  // below it nothing is missing (a transaction merely waiting in the pool is not a gap, and is not cancelled).
  const from = await withRetry(() => env.provider.getTransactionCount(address, "pending"), 3, 200, signal);
  if (from >= waiting) return 0;
  for (let nonce = from; nonce < waiting; nonce++) {
    const refilled = env.fillGap ? await env.fillGap(nonce).catch(() => false) : false;
    env.log.warn(
      { nonce, waiting, pendingNonce: from, how: refilled ? "refilled" : "cancelled" },
      `nonce gap at ${nonce} below ${waiting}: ${refilled ? "the transaction recorded at it broadcast again" : "cancelling it (a 0-value self-send)"}`,
    );
    env.onNonceGap?.(nonce, refilled ? "refilled" : "cancelled");
    if (refilled) continue;
    const fees = await gapCancelFees(env, nonce, signal);
    try {
      const raw = await env.wallet.signTransaction({
        type: 2,
        chainId: env.chainId,
        to: address,
        data: "0x",
        value: 0n,
        nonce,
        gasLimit: CANCEL_GAS,
        ...fees,
      });
      env.cancels.set(nonce, fees);
      await withRetry(() => env.provider.broadcastTransaction(raw), 3, 200, signal);
    } catch (e) {
      env.log.warn({ err: errText(e), nonce }, "nonce gap: cancel not accepted");
    }
  }
  return waiting - from;
}

/**
 * The node's fees within the cap; when a cancel was signed at `nonce` before, at least that one bumped (a
 * replacement must outbid it by 12.5%; at the cap, the smallest valid bump above it).
 */
async function gapCancelFees(env: GapEnv, nonce: number, signal?: AbortSignal): Promise<Fees> {
  const fd = await withRetry(() => env.provider.getFeeData(), 3, 200, signal);
  const tip = fd.maxPriorityFeePerGas ?? 1_000_000_000n;
  let maxFee = fd.maxFeePerGas ?? (fd.gasPrice ?? 1_000_000_000n) * 2n + tip;
  if (maxFee > env.cancelCapWei) maxFee = env.cancelCapWei;
  const fresh = { maxFeePerGas: maxFee, maxPriorityFeePerGas: tip > maxFee ? maxFee : tip };
  const prev = env.cancels.get(nonce);
  if (!prev) return fresh;
  const up = cancelFees(prev, env.bumpPercent, env.cancelCapWei);
  const max = (a: bigint, b: bigint) => (a > b ? a : b);
  return {
    maxFeePerGas: max(up.maxFeePerGas, fresh.maxFeePerGas),
    maxPriorityFeePerGas: max(up.maxPriorityFeePerGas, fresh.maxPriorityFeePerGas),
  };
}
