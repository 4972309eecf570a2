/**
 * The responder's answer to a nonce gap the TxManager found (keepers/responder/tx/gaps.ts): the outbox knows what
 * this signer signed at every nonce. The transaction recorded at the missing nonce is broadcast again verbatim
 * (its block was reorganised away; the same nonce means it cannot apply twice), and its action, if settled, is
 * reopened so reconcile finishes it again.
 */
import type { AbstractProvider } from "ethers";
import type { Logger } from "../shared/logger";
import type { Outbox } from "./outbox";
import { errText, withRetry } from "./tx/retry";

/**
 * `TxManagerOptions.fillGap` from the outbox. For `nonce`: the newest action with a transaction recorded at it;
 * its mined transaction (else its last signed one) is broadcast again, and a confirmed or cancelled action is
 * reopened (status `sent`, note "nonce gap: …"). @returns true when the node accepted the bytes or already has a
 * transaction at `nonce` ("already known", "underpriced"); false when the outbox has nothing with bytes at `nonce`
 * or the node refused them otherwise (e.g. a base fee above their max fee, or "nonce too low": filled meanwhile);
 * the manager then cancels the nonce, and reconcile settles the reopened action by what was mined.
 */
export function outboxGapFiller(o: {
  outbox: Outbox;
  provider: AbstractProvider;
  logger: Logger;
}): (nonce: number) => Promise<boolean> {
  const log = o.logger.child({ component: "gaps" });
  return async (nonce) => {
    const action = o.outbox.atNonce(nonce).find((a) => a.txs.some((t) => t.raw));
    if (!action) return false;
    const withRaw = action.txs.filter((t) => t.raw);
    const tx = withRaw.find((t) => t.blockNumber !== null) ?? withRaw[withRaw.length - 1];
    const reopened = o.outbox.reopen(
      action.id,
      `nonce gap: ${tx.hash} at nonce ${nonce} was not on the chain`,
    );
    const alog = log.child({ actionId: action.id, action: action.kind, target: action.target, nonce });
    if (reopened) alog.warn({ hash: tx.hash }, "nonce gap: action reopened");
    try {
      await withRetry(() => o.provider.broadcastTransaction(tx.raw!), 3, 200);
      alog.info({ hash: tx.hash }, "nonce gap: the recorded transaction broadcast again");
      return true;
    } catch (e) {
      // Already in the pool, or a pricier transaction at this nonce is: something is there, nothing to cancel.
      const there = /already (known|imported)|known transaction|underpriced/i.test(String(e));
      alog.warn({ err: errText(e), hash: tx.hash, there }, "nonce gap: re-broadcast not accepted");
      return there;
    }
  };
}
