/** The shapes of keepers/responder/tx.ts: requests, hooks, outcomes, options. No contract is known here. */
import type { AbstractProvider, TransactionReceipt, Wallet } from "ethers";
import type { CrashHook } from "../../shared/crash";
import type { Logger } from "../../shared/logger";
import type { Fees } from "./fees";

export interface DecodedRevert {
  /** Custom error name, when the data decodes against the classifier's errors. */
  name?: string;
  args?: readonly unknown[];
  /** Raw revert data, when the node returned it. */
  data?: string;
  message: string;
}

/** How a revert is read: injected, so the manager knows no contract (Vigil's: `vigilReverts` in ./reverts). */
export interface RevertClassifier {
  /** Decode an ethers CALL_EXCEPTION (or raw hex revert data); never throws. */
  decode(e: unknown): DecodedRevert;
  /** True when the revert means another keeper already did it: dropped, never retried. */
  isLostRace(r: DecodedRevert): boolean;
}

export interface TxRequest {
  to: string;
  data: string;
}

/** What a signed transaction of an action is: the action itself (or a replacement), or its deadline cancel. */
export type TxRole = "action" | "cancel";

/** A signed transaction, handed to `onSigned` before it is broadcast. */
export interface SignedTx extends Fees {
  hash: string;
  /** The signed bytes: re-broadcast verbatim after a crash or a reorg (same nonce: it cannot apply twice). */
  raw: string;
  role: TxRole;
}

/** A transaction an earlier run recorded (the outbox's `OutboxTx` fits). */
export interface RecordedTx {
  hash: string;
  raw?: string | null;
  /** Unknown for records older than the role (then read from the transaction: a 0-value self-send is a cancel). */
  role?: TxRole | null;
}

export type SimulationResult =
  /** `returnData`: what the `eth_call` returned (e.g. `submit`'s `(updated, skipped)`). */
  | { ok: true; gasLimit: bigint; returnData: string }
  | { ok: false; lostRace: boolean; revert: DecodedRevert };

export type ExecuteOutcome =
  | { outcome: "confirmed"; receipt: TransactionReceipt; nonce: number; replacements: number }
  | { outcome: "lost_race"; revert: DecodedRevert; stage: "simulation" | "mined" }
  | { outcome: "failed"; error: string; revert?: DecodedRevert }
  /**
   * The outcome is not known yet and the action stays open in the outbox: shutdown began while a transaction
   * waited, or a mined transaction did not reach `confirmations` within `confirmTimeoutMs` (a frozen head).
   */
  | { outcome: "persisted"; nonce: number }
  /**
   * The deadline passed before the action was mined: its nonce was replaced by a 0-value self-send, the action
   * never ran. `mined`: the cancel was mined with `receipt` (false: still pending when the wait for it ended; it
   * holds the nonce, and the action stays open: one of the two will be mined).
   */
  | { outcome: "cancelled"; nonce: number; hash: string; mined: boolean; receipt?: TransactionReceipt };

export interface ExecuteHooks {
  /** Called with each signed transaction BEFORE it is broadcast (the outbox records nonce, hash, raw, role). */
  onSigned?(nonce: number, tx: SignedTx): void;
  /** Transactions recorded by an earlier run for this action (crash recovery): finished, adopted or re-sent. */
  resumeTxs?: readonly RecordedTx[];
  /** @deprecated use `resumeTxs`; hashes only (roles read from the chain, nothing to re-broadcast). */
  resumeHashes?: readonly string[];
  /** Skip the simulation (the caller just simulated). */
  gasLimit?: bigint;
  /**
   * Wall-clock time (ms since the epoch, never a block timestamp) after which the action is no longer worth
   * mining; then its nonce is cancelled. Default: now + `actionTimeoutMs`.
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
  /** How reverts are decoded and which mean a lost race (the responder's: `vigilReverts`, ./reverts.ts). */
  reverts: RevertClassifier;
  /** Fault injection: called at each crash point (keepers/shared/crash.ts `crashHookFromEnv`). */
  crash?: CrashHook;
  /** Blocks to wait after inclusion. Default 1. */
  confirmations?: number;
  /** Longest wait for `confirmations` once mined, ms; then "persisted" (the outbox re-checks). Default 120000. */
  confirmTimeoutMs?: number;
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
  /**
   * Fill a nonce gap: called for each nonce below the watched one with nothing mined or ready in the pool (from
   * the `pending` nonce, checked every `stuckAfterMs` while the watched transaction is not mined). @returns true when
   * it put a transaction at `nonce` in the pool (the responder re-broadcasts what its outbox recorded there and
   * reopens that action); false (or a throw) and the manager cancels the nonce with a 0-value self-send.
   */
  fillGap?(nonce: number): Promise<boolean>;
  /** Told of each nonce gap found and how it was filled (e.g. `vigil_responder_nonce_gaps_total{how}`). */
  onNonceGap?(nonce: number, how: "refilled" | "cancelled"): void;
}
