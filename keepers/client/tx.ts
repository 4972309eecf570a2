/**
 * `eth_sendRawTransaction`: a signed order is never silently lost. The raw bytes go to the service's active
 * endpoint; after a transport failure (refused, reset, timeout, a broken answer) the SAME bytes go to the
 * next endpoint that is HEALTHY on-chain, then the next, while the deadline allows (never to a DOWN,
 * DEGRADED or UNKNOWN one). The client always gets one of:
 * - `keccak256(raw)`: a node accepted it; or a node answered "already known" (it holds this very
 *   transaction); or, after an attempt that may have reached a node, "nonce too low" (the first node took
 *   it and it was mined or gossiped before the retry arrived). Before any attempt could have reached a node,
 *   "nonce too low" is the node's verdict on the client's nonce and is passed on as an error;
 * - a JSON-RPC error whose `data` is `{ mayHaveBeenBroadcast: boolean, txHash, upstream? }`:
 *   `mayHaveBeenBroadcast` is true when any attempt handed the whole request to a connection (a timeout or a
 *   reset after the body was sent: the node may have taken it), false when none did (connection refused, no
 *   endpoint) and the node's error answer came from the first node asked. A client that gets `true` should
 *   watch for `txHash` before signing a replacement. `upstream` carries the node's own error data.
 * Never hedged: a second copy in flight before the first failed would make "may have been broadcast"
 * unanswerable. The breakers are not consulted either: a transaction goes to the active endpoint first.
 */
import { keccak256 } from "ethers";
import { attempt, firstTarget, remaining, type CallContext, type RpcRequest } from "./routing";
import type { RpcAnswer } from "./upstream";

/** JSON-RPC error code when no endpoint took the transaction (transport failures or the deadline). */
export const TX_NOT_ACCEPTED_CODE = -32050;

/** A node's "I already have this very transaction" answer (geth, erigon, nethermind, anvil, besu). */
const ALREADY_KNOWN =
  /already known|already imported|known transaction|already in (the )?(tx)?pool|AlreadyKnown/i;
/** A node's "this nonce is used" answer. */
const NONCE_TOO_LOW = /nonce too low|nonce has already been used|OldNonce|invalid nonce/i;

/** `eth_sendRawTransaction`'s outcome, for the metric: what the client was told. */
export type TxOutcome = "sent" | "already_known" | "rejected" | "may_have_been_broadcast" | "not_broadcast";

/**
 * Send `req` (an `eth_sendRawTransaction`) by the rule in the file comment. Never throws.
 * @returns The answer for the client (with its id) and the outcome.
 */
export async function routeTx(
  ctx: CallContext,
  req: RpcRequest,
): Promise<{ answer: RpcAnswer; outcome: TxOutcome }> {
  const raw = Array.isArray(req.params) ? req.params[0] : undefined;
  if (typeof raw !== "string" || !/^0x(?:[0-9a-fA-F]{2})+$/.test(raw)) {
    return {
      answer: {
        jsonrpc: "2.0",
        id: req.id,
        error: {
          code: -32602,
          message: "eth_sendRawTransaction takes one 0x-prefixed hex string of the signed transaction",
          data: { mayHaveBeenBroadcast: false },
        },
      },
      outcome: "not_broadcast",
    };
  }
  const txHash = keccak256(raw);
  const body = JSON.stringify({ jsonrpc: "2.0", id: req.id ?? null, method: req.method, params: [raw] });
  const ok = (outcome: TxOutcome) => ({ answer: { jsonrpc: "2.0", id: req.id, result: txHash }, outcome });
  const log = ctx.logger.child({ service: ctx.service.name, txHash });
  const tried: string[] = [];
  let mayHave = false;
  let last = "no endpoint to send to";
  for (let target = firstTarget(ctx); target; target = nextHealthy(ctx, tried)) {
    if (remaining(ctx) <= 0) {
      last = "deadline passed";
      break;
    }
    tried.push(target.id);
    const r = await attempt(ctx, target, body);
    if (tried.length > 1) {
      ctx.metrics?.retries.inc({ service: ctx.service.name, class: "tx", outcome: r.ok ? "ok" : "failed" });
    }
    if (!r.ok) {
      mayHave ||= r.mayHaveReached;
      last = r.detail;
      log.warn(
        { endpointId: target.id, reason: r.reason, mayHaveReached: r.mayHaveReached },
        "transaction send failed",
      );
      continue;
    }
    const err = r.answer.error;
    if (!err) {
      if (typeof r.answer.result === "string" && r.answer.result.toLowerCase() !== txHash) {
        log.warn(
          { endpointId: target.id },
          "node answered another hash than keccak256(raw); answering keccak256(raw)",
        );
      }
      return ok("sent");
    }
    if (ALREADY_KNOWN.test(err.message) || (mayHave && NONCE_TOO_LOW.test(err.message))) {
      log.info(
        { endpointId: target.id, answer: err.message },
        "transaction already broadcast; answering its hash",
      );
      return ok("already_known");
    }
    // The node refused it: an answer, not a transport fault. Earlier attempts may still have delivered it.
    return {
      answer: {
        jsonrpc: "2.0",
        id: req.id,
        error: {
          code: err.code,
          message: err.message,
          data: { mayHaveBeenBroadcast: mayHave, txHash, upstream: err.data },
        },
      },
      outcome: mayHave ? "may_have_been_broadcast" : "rejected",
    };
  }
  log.error(
    { mayHaveBeenBroadcast: mayHave, tried: tried.length },
    "transaction not accepted by any endpoint",
  );
  return {
    answer: {
      jsonrpc: "2.0",
      id: req.id,
      error: {
        code: TX_NOT_ACCEPTED_CODE,
        message: `transaction not accepted by any endpoint (${tried.length} tried): ${last}`,
        data: { mayHaveBeenBroadcast: mayHave, txHash },
      },
    },
    outcome: mayHave ? "may_have_been_broadcast" : "not_broadcast",
  };
}

/** The best HEALTHY endpoint not tried yet. */
function nextHealthy(ctx: CallContext, tried: readonly string[]) {
  return ctx.follower.healthyBackups(ctx.service.name).find((e) => !tried.includes(e.id));
}
