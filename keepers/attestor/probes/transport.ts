/**
 * HTTP and JSON-RPC transport for probes. Everything an endpoint returns is hostile: bodies are read
 * up to a size cap, every field is validated, and every request carries `AbortSignal.timeout`, so a
 * hung TCP connection ends as a `timeout` instead of blocking a worker.
 */
import http from "node:http";
import https from "node:https";
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
  /** Send JSON-RPC calls through this `fetch`; default: node:http(s) with keep-alive ({@link postJson}). */
  fetch?: FetchFn;
  /**
   * Keep-alive pools for the node:http(s) requests; default: plain pools (operator-configured URLs). A
   * registry target's probes use the SSRF guard's pools (resolve.ts), whose sockets connect only to
   * checked addresses.
   */
  agents?: ProbeAgents;
  /** Largest body accepted, bytes. Default 1 MiB. */
  maxBodyBytes?: number;
}

/** Map an exception thrown by fetch or a body read to a probe failure. */
export function classifyTransportError(e: unknown, signal: AbortSignal): ProbeFailure {
  if (e instanceof ProbeFailure) return e;
  // The SSRF guard's lookup (resolve.ts) fails a connection with its own verdict: keep it.
  const cause = (e as { cause?: unknown })?.cause;
  if (cause instanceof ProbeFailure && !signal.aborted) return cause;
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

/** Keep-alive connection pools by protocol, the way a probe request reaches the network. */
export interface ProbeAgents {
  "http:": http.Agent;
  "https:": https.Agent;
}

/** Keep-alive agents for probes: one connection pool per endpoint host, reused round after round. */
const AGENTS: ProbeAgents = {
  "http:": new http.Agent({ keepAlive: true }),
  "https:": new https.Agent({ keepAlive: true }),
};

/**
 * POST a JSON body with node:http(s) over a keep-alive connection and read the answer, at most `maxBytes`.
 * The attestor's hot path: a JSON-RPC probe is two of these, and WHATWG `fetch` (undici) costs about three
 * times the CPU per request (web streams, per-request objects), which capped an attestor near 1,000 endpoints
 * per second. Redirects are never followed (a 3xx is a non-2xx status). Throws what fetch would: an
 * `AbortError` on `signal`, a network error with `cause.code`, or a {@link ProbeFailure} for an oversized body.
 * @param agents Connection pools (default: plain keep-alive pools).
 */
export function postJson(
  url: string,
  body: string,
  signal: AbortSignal,
  maxBytes: number,
  agents: ProbeAgents = AGENTS,
): Promise<{ status: number; text: string }> {
  return send("POST", url, body, signal, maxBytes, agents);
}

/**
 * GET `url` with node:http(s) over a keep-alive connection and read the answer, at most `maxBytes`; as
 * {@link postJson} (no redirect followed, the same errors).
 */
export function getLimited(
  url: string,
  signal: AbortSignal,
  maxBytes: number,
  agents: ProbeAgents = AGENTS,
): Promise<{ status: number; text: string }> {
  return send("GET", url, undefined, signal, maxBytes, agents);
}

function send(
  method: "GET" | "POST",
  url: string,
  body: string | undefined,
  signal: AbortSignal,
  maxBytes: number,
  agents: ProbeAgents,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    let target: URL;
    try {
      target = new URL(url);
    } catch (e) {
      return reject(e);
    }
    const lib = target.protocol === "https:" ? https : target.protocol === "http:" ? http : undefined;
    if (!lib)
      return reject(
        new ProbeFailure("unreachable", `request failed: unsupported protocol ${target.protocol}`),
      );
    const req = lib.request(
      target,
      {
        method,
        agent: agents[target.protocol as "http:" | "https:"],
        headers:
          body === undefined
            ? {}
            : { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
        signal,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (c: Buffer) => {
          size += c.length;
          if (size > maxBytes) {
            // Reject first: destroying the response makes it emit `aborted`, which must not win.
            reject(new ProbeFailure("invalid_response", `body larger than ${maxBytes} bytes`));
            res.destroy();
            return;
          }
          chunks.push(c);
        });
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }),
        );
        res.on("error", reject);
        res.on("aborted", () => reject(new Error("response aborted")));
      },
    );
    req.on("error", (e: Error & { code?: string }) =>
      reject(e.name === "AbortError" ? e : Object.assign(new Error(e.message), { cause: e })),
    );
    req.end(body);
  });
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
  const request = JSON.stringify({ jsonrpc: "2.0", id, method, params });
  const maxBytes = options.maxBodyBytes ?? 1 << 20;
  let text: string;
  let status: number;
  try {
    if (options.fetch) {
      const res = await options.fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: request,
        signal: options.signal,
        redirect: "error",
      });
      status = res.status;
      text = await readBodyLimited(res, maxBytes);
    } else {
      ({ status, text } = await postJson(url, request, options.signal, maxBytes, options.agents));
    }
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
