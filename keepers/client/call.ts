/**
 * The per-call answer step the `vigil gateway` and the client libraries share: classify one JSON-RPC
 * request, route it by its class (./tx.ts for `eth_sendRawTransaction`, ./head.ts for the head, ./routing.ts
 * for the rest) and turn the outcome into the JSON-RPC answer the client gets, with the client's id.
 * A call no endpoint answered is an error with code {@link UPSTREAM_FAILED_CODE} and `data.reason`.
 */
import { redactUrls } from "../shared/redact";
import { routeHead, type HeadTracker } from "./head";
import { classify, route, type CallContext, type MethodClass, type Routed, type RpcRequest } from "./routing";
import { routeTx } from "./tx";
import type { RpcAnswer } from "./upstream";

/** JSON-RPC error code of a call that failed in transport (no answer from any endpoint, or the deadline). */
export const UPSTREAM_FAILED_CODE = -32603;

/**
 * How a call was answered (the `outcome` label of `vigil_gateway_requests_total`): `ok`, `rpc_error` (the
 * node's JSON-RPC error), `retried_ok` (answered by the retry or the hedge), `held` (head held at the highest
 * served), `failed` (no endpoint answered), `timeout` (the deadline passed).
 */
export type CallOutcome = "ok" | "rpc_error" | "retried_ok" | "held" | "failed" | "timeout";

/**
 * Answer one validated request `req` (serialized as `body`) of `ctx.service`. Counts it in
 * `ctx.metrics` when there are metrics (`requests`, `duration` from `startedMs`, `transactions`).
 * Never throws.
 * @param heads The no-time-travel floor of the caller (one per gateway or router).
 */
export async function answerCall(
  ctx: CallContext,
  req: RpcRequest,
  body: Buffer | string,
  heads: HeadTracker,
  startedMs: number = Date.now(),
): Promise<{ answer: RpcAnswer; cls: MethodClass; outcome: CallOutcome }> {
  const cls = classify(req);
  let answer: RpcAnswer;
  let outcome: CallOutcome;
  const m = ctx.metrics;
  if (cls === "tx") {
    const r = await routeTx(ctx, req);
    m?.transactions.inc({ service: ctx.service.name, outcome: r.outcome });
    answer = r.answer;
    outcome = r.answer.error ? (r.outcome === "rejected" ? "rpc_error" : "failed") : "ok";
  } else if (cls === "head") {
    const h = await routeHead(ctx, req, body, heads);
    if (h.kind === "routed") [answer, outcome] = answerOf(req, h.routed);
    else [answer, outcome] = [h.answer, h.kind === "retried" ? "retried_ok" : "held"];
  } else {
    [answer, outcome] = answerOf(req, await route(ctx, cls, body));
  }
  if (m) {
    m.requests.inc({ service: ctx.service.name, class: cls, outcome });
    m.duration.observe({ service: ctx.service.name, class: cls }, (Date.now() - startedMs) / 1000);
  }
  return { answer, cls, outcome };
}

/** The JSON-RPC answer of a routed call, with `req`'s id, and its outcome label. */
export function answerOf(req: RpcRequest, r: Routed): [RpcAnswer, CallOutcome] {
  if (r.ok) {
    const a = r.answer;
    const answer: RpcAnswer = a.error
      ? { jsonrpc: "2.0", id: req.id, error: a.error }
      : { jsonrpc: "2.0", id: req.id, result: a.result };
    return [answer, a.error ? "rpc_error" : r.retried ? "retried_ok" : "ok"];
  }
  return [
    {
      jsonrpc: "2.0",
      id: req.id,
      error: {
        code: UPSTREAM_FAILED_CODE,
        message: redactUrls(`upstream unavailable: ${r.detail}`),
        data: { reason: r.reason },
      },
    },
    r.reason === "timeout" ? "timeout" : "failed",
  ];
}
