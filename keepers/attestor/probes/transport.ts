/**
 * HTTP and JSON-RPC transport for probes. Everything an endpoint returns is hostile: bodies are read
 * up to a size cap, every field is validated, and every request carries `AbortSignal.timeout`, so a
 * hung TCP connection ends as a `timeout` instead of blocking a worker.
 */
import type { Failure } from "../score";

/** A probe's hard failure, with the reason for logs. */
export class ProbeFailure extends Error {
  constructor(
    readonly failure: Failure,
    message: string,
  ) {
    super(message);
    this.name = "ProbeFailure";
  }
}

/** The `fetch` the probes use (injectable for tests). */
export type FetchFn = typeof fetch;

export interface RequestOptions {
  /** Aborts the request (a timeout signal). */
  signal: AbortSignal;
  fetch?: FetchFn;
  /** Largest body accepted, bytes. Default 1 MiB. */
  maxBodyBytes?: number;
}

/** Map an exception thrown by fetch or a body read to a probe failure. */
export function classifyTransportError(e: unknown, signal: AbortSignal): ProbeFailure {
  if (e instanceof ProbeFailure) return e;
  if (signal.aborted) return new ProbeFailure("timeout", "no answer before the timeout");
  const err = e as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (err?.name === "TimeoutError" || err?.name === "AbortError") {
    return new ProbeFailure("timeout", "no answer before the timeout");
  }
  const detail = err?.cause?.code ?? err?.cause?.message ?? err?.message ?? String(e);
  return new ProbeFailure("unreachable", `request failed: ${detail}`);
}

/**
 * Read a response body as text, at most `maxBytes`; a larger body is an `invalid_response` (a node
 * cannot make the attestor buffer gigabytes).
 */
export async function readBodyLimited(res: Response, maxBytes: number): Promise<string> {
  if (!res.body) return "";
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw new ProbeFailure("invalid_response", `body larger than ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}

let nextId = 1;

/**
 * One JSON-RPC 2.0 call over HTTP POST. Returns `result`, or throws a {@link ProbeFailure}:
 * `timeout`, `unreachable`, `http_status` (non-2xx), `invalid_response` (not JSON, not a JSON-RPC
 * response, wrong id), `rpc_error` (an `error` object).
 */
export async function jsonRpcCall(
  url: string,
  method: string,
  params: readonly unknown[],
  options: RequestOptions,
): Promise<unknown> {
  const id = nextId++;
  const doFetch = options.fetch ?? fetch;
  let text: string;
  let status: number;
  try {
    const res = await doFetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id, method, params }),
      signal: options.signal,
      redirect: "error",
    });
    status = res.status;
    text = await readBodyLimited(res, options.maxBodyBytes ?? 1 << 20);
  } catch (e) {
    throw classifyTransportError(e, options.signal);
  }
  if (status < 200 || status > 299) {
    throw new ProbeFailure("http_status", `${method}: HTTP ${status}`);
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ProbeFailure("invalid_response", `${method}: body is not JSON`);
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new ProbeFailure("invalid_response", `${method}: not a JSON-RPC response object`);
  }
  const r = body as Record<string, unknown>;
  if (r.jsonrpc !== "2.0" || r.id !== id) {
    throw new ProbeFailure("invalid_response", `${method}: wrong jsonrpc version or id`);
  }
  if (r.error !== undefined && r.error !== null) {
    const err = r.error as { code?: unknown; message?: unknown };
    const code = typeof err.code === "number" ? err.code : "?";
    const msg = typeof err.message === "string" ? err.message.slice(0, 200) : "";
    throw new ProbeFailure("rpc_error", `${method}: JSON-RPC error ${code} ${msg}`.trim());
  }
  if (!("result" in r)) throw new ProbeFailure("invalid_response", `${method}: no result`);
  return r.result;
}

const QUANTITY = /^0x(0|[1-9a-fA-F][0-9a-fA-F]{0,63})$/;
const HASH32 = /^0x[0-9a-fA-F]{64}$/;

/**
 * Parse a JSON-RPC QUANTITY (`0x`-hex, no leading zeros) into a safe integer. Anything else — a
 * decimal, a number, non-hex, leading zeros, a value above 2^53 − 1 — is an `invalid_response`.
 */
export function parseQuantity(value: unknown, field: string): number {
  if (typeof value !== "string" || !QUANTITY.test(value)) {
    throw new ProbeFailure("invalid_response", `${field} is not a hex quantity`);
  }
  const n = BigInt(value);
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new ProbeFailure("invalid_response", `${field} is out of range`);
  }
  return Number(n);
}

/** Parse a 32-byte hash (`0x` + 64 hex digits), lower-cased. */
export function parseHash(value: unknown, field: string): string {
  if (typeof value !== "string" || !HASH32.test(value)) {
    throw new ProbeFailure("invalid_response", `${field} is not a 32-byte hash`);
  }
  return value.toLowerCase();
}

/** Hex data (`0x` + even number of hex digits). */
export function parseData(value: unknown, field: string): string {
  if (typeof value !== "string" || !/^0x([0-9a-fA-F]{2})*$/.test(value)) {
    throw new ProbeFailure("invalid_response", `${field} is not hex data`);
  }
  return value;
}
