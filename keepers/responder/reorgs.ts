/**
 * Reorg handling after confirmation. The TxManager already answers a reorg that happens while it waits for
 * confirmations (the receipt vanishes: it broadcasts the same signed bytes again). Once an action is settled by a
 * mined transaction (confirmed, or cancelled by its mined cancel), {@link ReorgWatch} keeps checking it while it is
 * within `windowBlocks` of the head: if that receipt is gone, or is now in another block, the action is reopened
 * in the outbox (status `sent`, a note saying why) and that signed transaction is broadcast again verbatim. The same nonce means it cannot apply twice; the next
 * reconcile then finds the new receipt (confirmed again, or reverted: a lost race or a failure, as decoded), adopts
 * the pending transaction, or, when the nonce was taken by another transaction meanwhile, simulates the action and
 * sends it anew only if the contracts still call it due.
 */
import type { AbstractProvider } from "ethers";
import type { Logger } from "../shared/logger";
import type { Outbox } from "./outbox";
import { errText, withRetry } from "./tx/retry";

export interface ReorgWatchOptions {
  outbox: Outbox;
  /** The control chain (the RPC pool's provider): receipts and the head. */
  provider: AbstractProvider;
  logger: Logger;
  /** Counts reopened actions by kind, e.g. `vigil_responder_reorged_actions_total{action}`. */
  metrics?: { reorged: { inc(labels: { action: string }): void } };
  /**
   * How many blocks below the head a confirmed action is still checked: the deepest reorg the responder
   * answers. Past it an action is final for this watch. Must be at least 1.
   */
  windowBlocks: number;
}

/** Re-checks recently confirmed actions; the responder calls {@link ReorgWatch.check} every iteration. */
export class ReorgWatch {
  private readonly _log: Logger;

  constructor(private readonly o: ReorgWatchOptions) {
    if (!Number.isInteger(o.windowBlocks) || o.windowBlocks < 1)
      throw new RangeError(`windowBlocks must be a positive integer, got ${o.windowBlocks}`);
    this._log = o.logger.child({ component: "reorgs" });
  }

  /**
   * For every action confirmed or cancelled (by a mined cancel) within `windowBlocks` of the head (oldest nonce first), read the block at the
   * recorded height; when its hash is not the recorded one, re-read the receipt of the transaction the action was
   * settled by. Gone, or in another block than recorded: reopen the action (`Outbox.reopen`)
   * and, when gone, broadcast its signed bytes again (an error, e.g. "nonce too low" because the nonce was used
   * meanwhile, is logged: reconcile settles it). Call before reconcile, so the reopened action is reconciled in
   * the same iteration.
   * @returns how many actions were reopened.
   * @throws when the provider stays unreachable after retries (nothing is reopened for an unread receipt).
   */
  async check(signal?: AbortSignal): Promise<number> {
    const p = this.o.provider;
    const head = await withRetry(() => p.getBlockNumber(), 3, 200, signal);
    let reopened = 0;
    for (const a of this.o.outbox.minedSince(head - this.o.windowBlocks)) {
      if (signal?.aborted) break;
      // The recorded block still at its height: nothing moved. Else the receipt decides (a block read from a
      // lagging RPC can be missing while the receipt is where it was).
      const block = await withRetry(() => p.getBlock(a.mined.blockNumber), 3, 200, signal);
      if (block?.hash === a.mined.blockHash) continue;
      const receipt = await withRetry(() => p.getTransactionReceipt(a.mined.hash), 3, 200, signal);
      if (receipt && receipt.blockHash === a.mined.blockHash) continue;
      const note = receipt
        ? `reorg: ${a.mined.hash} moved from block ${a.mined.blockNumber} (${a.mined.blockHash}) to ${receipt.blockNumber}`
        : `reorg: the receipt of ${a.mined.hash} (block ${a.mined.blockNumber}) vanished at head ${head}`;
      if (!this.o.outbox.reopen(a.id, note)) continue;
      reopened += 1;
      this.o.metrics?.reorged.inc({ action: a.kind });
      const raw = receipt ? undefined : a.txs.find((t) => t.hash === a.mined.hash)?.raw;
      const log = this._log.child({ actionId: a.id, action: a.kind, target: a.target, nonce: a.nonce });
      log.warn(
        { hash: a.mined.hash, block: a.mined.blockNumber, head, moved: !!receipt },
        "reorg: action reopened",
      );
      if (raw) {
        try {
          await withRetry(() => p.broadcastTransaction(raw), 3, 200, signal);
          log.info({ hash: a.mined.hash }, "reorg: the same signed transaction broadcast again");
        } catch (e) {
          log.warn(
            { err: errText(e), hash: a.mined.hash },
            "reorg: re-broadcast not accepted; reconcile decides",
          );
        }
      }
    }
    return reopened;
  }
}
