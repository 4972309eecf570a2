/**
 * How the RPC pool tells a node's answer from a transport fault. Retry only transient transport errors
 * against another member (viem's `shouldRetry` list); a revert or a refused transaction is the chain's
 * answer and is not failed over.
 */
import { isError, makeError } from "ethers";

/** ethers codes a node returns as the chain's answer: thrown to the caller, never failed over. */
const ANSWER_CODES = new Set([
  "CALL_EXCEPTION",
  "INSUFFICIENT_FUNDS",
  "NONCE_EXPIRED",
  "REPLACEMENT_UNDERPRICED",
  "TRANSACTION_REPLACED",
  "INVALID_ARGUMENT",
  "UNCONFIGURED_NAME",
  "ACTION_REJECTED",
]);

/** ethers codes of a request that never got a usable answer from the member. */
const TRANSPORT_CODES = new Set(["TIMEOUT", "NETWORK_ERROR", "SERVER_ERROR", "BAD_DATA", "CANCELLED"]);

/** Node socket errors (`ECONNREFUSED`, `ECONNRESET`, `EPIPE`, `ETIMEDOUT`, `EHOSTUNREACH`, …). */
const SOCKET_CODE = /^E[A-Z]+$/;

/** The chain answered (a revert, a refused transaction): throw it, do not ask another member. */
export function isAnswer(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === "string" && ANSWER_CODES.has(code);
}

/**
 * The member did not answer: refused or reset connection, HTTP error status, unparsable body, or no answer
 * within the deadline. Such a member is marked down and re-probed with backoff.
 */
export function isTransportError(e: unknown): boolean {
  const err = e as { code?: unknown; cause?: { code?: unknown } } | null;
  const code = err?.code;
  if (typeof code === "string" && (TRANSPORT_CODES.has(code) || SOCKET_CODE.test(code))) return true;
  const cause = err?.cause?.code;
  if (typeof cause === "string" && SOCKET_CODE.test(cause)) return true;
  const message = (e as { message?: unknown } | null)?.message;
  return typeof message === "string" && /socket hang up|fetch failed|other side closed/i.test(message);
}

/** The fault kind a transport error counts as: `timeout` for a deadline, else `refused`. */
export function transportKind(e: unknown): "timeout" | "refused" {
  return isError(e, "TIMEOUT") ? "timeout" : "refused";
}

/** A node's "I have this transaction already" (geth, erigon, nethermind, anvil, hardhat wordings). */
export function isAlreadyKnown(e: unknown): boolean {
  const parts: string[] = [];
  let cur: unknown = e;
  for (let depth = 0; cur && depth < 4; depth++) {
    const m = (cur as { message?: unknown }).message;
    if (typeof m === "string") parts.push(m);
    const inner =
      (cur as { error?: unknown; info?: { error?: unknown } }).error ??
      (cur as { info?: { error?: unknown } }).info?.error;
    cur = inner;
  }
  return /already known|known transaction|already imported|alreadyknown|already in (the )?(tx)?pool|already exists/i.test(
    parts.join(" | "),
  );
}

/** The error a member request gets when it passes its deadline (ethers code `TIMEOUT`). */
export function timeoutError(label: string, method: string, timeoutMs: number): Error {
  return makeError(`${label} did not answer ${method} within ${timeoutMs} ms`, "TIMEOUT", {
    operation: method,
    reason: "timeout",
  });
}

/**
 * Resolve with `p`, or reject with `timeoutError` after `timeoutMs`, or with the signal's reason when it aborts.
 * The timer never keeps the process alive.
 */
export function withDeadline<T>(
  p: Promise<T>,
  timeoutMs: number,
  onTimeout: () => Error,
  signal?: AbortSignal,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => finish(() => reject(onTimeout())), timeoutMs);
    timer.unref?.();
    const onAbort = () => finish(() => reject(signal!.reason));
    signal?.addEventListener("abort", onAbort, { once: true });
    let done = false;
    function finish(f: () => void): void {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      f();
    }
    p.then(
      (v) => finish(() => resolve(v)),
      (e: unknown) => finish(() => reject(e)),
    );
  });
}
