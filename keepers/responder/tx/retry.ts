/** Retrying transient transport failures (never a revert). */
import { isError } from "ethers";
import { sleep } from "../../shared/lifecycle";

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

/** The first line of an error's message (for logs and notes). */
export function errText(e: unknown): string {
  if (e instanceof Error) return e.message.split("\n")[0];
  return String(e);
}
