/**
 * Crash recovery of one action: rebuild its flight (nonce, gas, fees, every transaction signed at that nonce and
 * what each was: the action or its cancel) from what an earlier run recorded and what the node still knows.
 */
import { Transaction, type AbstractProvider } from "ethers";
import type { Logger } from "../../shared/logger";
import type { Fees } from "./fees";
import { errText, withRetry } from "./retry";
import type { ExecuteHooks, RecordedTx, TxRole } from "./types";

/** One action's transactions at one nonce. */
export interface Flight {
  nonce: number;
  gasLimit: bigint;
  /** Fees of the last transaction signed. */
  fees: Fees;
  /** Every transaction signed at `nonce` for this action, in order. */
  sent: Map<string, { role?: TxRole | null; raw?: string | null }>;
  /** A cancel was signed: the action is no longer sent, only the cancel raised. */
  cancelling: boolean;
  replacements: number;
}

export const CANCEL_GAS = 21_000n;

/** What {@link resumeFlight} needs of the manager. */
export interface ResumeEnv {
  provider: AbstractProvider;
  /** The signer's address. */
  address: string;
  log: Logger;
  broadcast(raw: string): Promise<void>;
}

/**
 * Rebuild the flight of an earlier run from its recorded transactions (roles from the record, else read from
 * the transaction: a 0-value self-send is a cancel). A recorded transaction the node does not know (signed, then
 * the process died before the broadcast, or the node dropped it) is broadcast again from its bytes while its
 * nonce is unused. Reads only; throws when the transport stays down after retries.
 * @returns the flight to watch (its receipt, if mined, is settled by the watch), or undefined when none of the
 *   transactions can still be mined (none mined or pending, and the nonce used by another transaction or nothing
 *   recorded to re-broadcast): the action is then simulated and sent anew.
 */
export async function resumeFlight(
  env: ResumeEnv,
  recorded: readonly RecordedTx[],
  hooks: ExecuteHooks,
  signal?: AbortSignal,
): Promise<Flight | undefined> {
  const sent: Flight["sent"] = new Map(recorded.map((t) => [t.hash, { role: t.role, raw: t.raw }]));
  // Each recorded transaction as signed: from its bytes, else from the node.
  const known: Array<{ hash: string; tx: Transaction | null; onNode: boolean; mined: boolean }> = [];
  for (const t of recorded) {
    const onNode = await withRetry(() => env.provider.getTransaction(t.hash), 3, 200, signal);
    const tx = t.raw ? Transaction.from(t.raw) : onNode ? Transaction.from(onNode) : null;
    if (tx && !t.role) sent.get(t.hash)!.role = isCancel(tx, env.address) ? "cancel" : "action";
    known.push({ hash: t.hash, tx, onNode: !!onNode, mined: onNode?.blockNumber != null });
  }
  const withTx = known.filter((k) => k.tx);
  if (!withTx.length) return undefined;
  const last = withTx[withTx.length - 1].tx!;
  const action = withTx.filter((k) => sent.get(k.hash)!.role === "action").pop()?.tx;
  const flight: Flight = {
    nonce: last.nonce,
    gasLimit: action?.gasLimit ?? hooks.gasLimit ?? CANCEL_GAS,
    fees: { maxFeePerGas: last.maxFeePerGas ?? 0n, maxPriorityFeePerGas: last.maxPriorityFeePerGas ?? 0n },
    sent,
    cancelling: [...sent.values()].some((t) => t.role === "cancel"),
    replacements: 0,
  };
  if (known.some((k) => k.mined)) return flight; // the watch finds the receipt and settles it
  const latest = await withRetry(
    () => env.provider.getTransactionCount(env.address, "latest"),
    3,
    200,
    signal,
  );
  if (latest > flight.nonce) {
    // Mined, but not by one of ours (a receipt would have been found): the action never ran at this nonce.
    env.log.warn({ nonce: flight.nonce }, "the previous run's nonce was used by another transaction");
    return undefined;
  }
  const lastKnown = known.filter((k) => k.tx).pop()!;
  if (lastKnown.onNode) {
    env.log.info(
      { hash: lastKnown.hash, nonce: flight.nonce },
      "adopting a transaction from the previous run",
    );
    return flight;
  }
  // Signed and recorded, never broadcast (or the node lost it): the same bytes again.
  const raw = sent.get(lastKnown.hash)?.raw;
  if (!raw) return known.some((k) => k.onNode) ? flight : undefined;
  env.log.info(
    { hash: lastKnown.hash, nonce: flight.nonce },
    "re-broadcasting a transaction from the previous run",
  );
  await env
    .broadcast(raw)
    .catch((e) => env.log.warn({ err: errText(e), nonce: flight.nonce }, "re-broadcast not accepted"));
  return flight;
}

/** A 0-value self-send of `address` without data: how the manager cancels a nonce. */
export function isCancel(tx: { to?: string | null; data: string; value: bigint }, address: string): boolean {
  return tx.to?.toLowerCase() === address.toLowerCase() && tx.data === "0x" && tx.value === 0n;
}
