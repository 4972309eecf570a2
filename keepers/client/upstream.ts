/**
 * One attempt of one JSON-RPC call on one endpoint. The routing rules (./routing.ts) talk to nodes only
 * through an {@link UpstreamSender}: `send(uri, body, timeoutMs, handle?)`. Senders:
 * - `UndiciUpstreams` (./undici.ts, Node): an undici Pool per endpoint; what the `vigil gateway` and the
 *   Node client libraries use by default;
 * - {@link HttpUpstreams} (Node): keep-alive connections per endpoint over node:http(s) (gateway config
 *   `upstreamClient: http`);
 * - {@link FetchUpstreams}: the WHATWG `fetch` (browsers, Deno, Node), for a client that has no node:http.
 * The outcome is either an answer (HTTP 200 with a JSON-RPC response object: a result or the node's error,
 * both answers) or a transport failure, with whether the request may have reached the node (what decides
 * if a signed transaction may have been broadcast). URLs in every detail are cut to their origin.
 */
import http from "node:http";
import https from "node:https";
import { redactUrls } from "../shared/redact";

/** A JSON-RPC 2.0 response object as a node sends it. */
export interface RpcAnswer {
  jsonrpc?: string;
  id?: unknown;
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
}

/** Why an attempt has no answer. `aborted`: the caller gave it up (a hedge answered first). */
export type FailReason =
  "refused" | "timeout" | "reset" | "http_status" | "invalid_response" | "error" | "aborted";

/** The outcome of one attempt. */
export type AttemptResult =
  | { ok: true; answer: RpcAnswer }
  | {
      ok: false;
      /** `refused` (never connected), `timeout`, `reset`, `http_status`, `invalid_response`, `error`, `aborted`. */
      reason: FailReason;
      /** Whether the whole request was handed to the connection (the node may have acted on it). */
      mayHaveReached: boolean;
      /** What happened, with URLs cut to their origin. */
      detail: string;
    };

/**
 * Lets the caller give up an attempt: the sender sets `abort` when it starts one; calling it ends the
 * attempt at once with reason `aborted` (the loser of a hedge). A plain object, not an AbortSignal: one
 * is made per attempt, and EventTarget listeners cost the gateway measurably per call.
 */
export interface AttemptHandle {
  abort?: () => void;
}

/**
 * What the routing rules send calls with. Implementations never throw and never reject: every failure is
 * an {@link AttemptResult} with `ok: false`.
 */
export interface UpstreamSender {
  /**
   * POST `body` (one JSON-RPC request, serialized) to `uri`; wait at most `timeoutMs`; give up at once
   * (reason `aborted`) when the caller calls `handle.abort`.
   */
  send(uri: string, body: Buffer | string, timeoutMs: number, handle?: AttemptHandle): Promise<AttemptResult>;
  /** Close kept connections (optional). */
  close?(): void;
}

/** A failed attempt with the detail redacted. */
export function failed(reason: FailReason, mayHaveReached: boolean, detail: string): AttemptResult {
  return { ok: false, reason, mayHaveReached, detail: redactUrls(detail) };
}

/** Parse a node's HTTP answer into an {@link AttemptResult}. `origin` is only for the detail. */
export function parseAnswer(status: number, text: string, origin: string): AttemptResult {
  if (status !== 200) return failed("http_status", true, `${origin} answered HTTP ${status}`);
  let answer: RpcAnswer;
  try {
    answer = JSON.parse(text) as RpcAnswer;
  } catch {
    return failed("invalid_response", true, `${origin} answered a body that is not JSON`);
  }
  if (!isAnswer(answer)) {
    return failed("invalid_response", true, `${origin} answered no JSON-RPC response object`);
  }
  return { ok: true, answer };
}

/** Sends calls over node:http(s), one keep-alive agent per endpoint origin. */
export class HttpUpstreams implements UpstreamSender {
  private readonly _agents = new Map<string, http.Agent>();

  /** @param maxSockets Connections kept per endpoint. */
  constructor(private readonly maxSockets: number) {}

  send(
    uri: string,
    body: Buffer | string,
    timeoutMs: number,
    handle?: AttemptHandle,
  ): Promise<AttemptResult> {
    let url: URL;
    try {
      url = new URL(uri);
    } catch {
      return Promise.resolve(failed("error", false, "invalid endpoint URI"));
    }
    const secure = url.protocol === "https:";
    const agent = this._agent(url.origin, secure);
    return new Promise((resolve) => {
      let settled = false;
      let finished = false;
      const done = (r: AttemptResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(r);
      };
      const fail = (reason: FailReason, detail: string) => done(failed(reason, finished, detail));
      const req = (secure ? https : http).request(
        url,
        {
          method: "POST",
          agent,
          headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("error", (e) => fail("reset", `response from ${url.origin} broke: ${e.message}`));
          res.on("end", () =>
            done(
              parseAnswer(
                res.statusCode ?? 0,
                (chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)).toString("utf8"),
                url.origin,
              ),
            ),
          );
        },
      );
      if (handle) {
        handle.abort = () => {
          fail("aborted", `${url.origin}: given up (another endpoint answered first)`);
          req.destroy();
        };
      }
      // Decided one I/O turn late (setImmediate): after an event-loop stall an answer already in the socket
      // must win over the timer that became due at the same time.
      const timer = setTimeout(
        () =>
          setImmediate(() => {
            if (settled) return;
            fail("timeout", `${url.origin} did not answer within ${timeoutMs} ms`);
            req.destroy();
          }),
        timeoutMs,
      );
      req.on("finish", () => (finished = true));
      req.on("error", (e: NodeJS.ErrnoException) => {
        const reason = e.code === "ECONNREFUSED" ? "refused" : e.code === "ECONNRESET" ? "reset" : "error";
        fail(reason, `${url.origin}: ${e.code ?? e.message}`);
      });
      req.end(body);
    });
  }

  close(): void {
    for (const a of this._agents.values()) a.destroy();
    this._agents.clear();
  }

  private _agent(origin: string, secure: boolean): http.Agent {
    let a = this._agents.get(origin);
    if (!a) {
      const options = { keepAlive: true, maxSockets: this.maxSockets, keepAliveMsecs: 1_000 };
      a = secure ? new https.Agent(options) : new http.Agent(options);
      this._agents.set(origin, a);
    }
    return a;
  }
}

/**
 * Sends calls with the WHATWG `fetch` (browsers, Deno, Node 18+). `fetch` does not say whether a failed
 * request reached the server, so any failure after the request started counts as `mayHaveReached: true`
 * (a signed transaction is then reported as possibly broadcast: the safe side).
 */
export class FetchUpstreams implements UpstreamSender {
  /** @param fetchFn The fetch to use; default `globalThis.fetch`. */
  constructor(private readonly fetchFn: typeof fetch = globalThis.fetch.bind(globalThis)) {}

  async send(
    uri: string,
    body: Buffer | string,
    timeoutMs: number,
    handle?: AttemptHandle,
  ): Promise<AttemptResult> {
    let origin: string;
    try {
      origin = new URL(uri).origin;
    } catch {
      return failed("error", false, "invalid endpoint URI");
    }
    const timeout = AbortSignal.timeout(timeoutMs);
    let given = false;
    let both = timeout;
    if (handle) {
      const c = new AbortController();
      handle.abort = () => {
        given = true;
        c.abort();
      };
      both = AbortSignal.any([c.signal, timeout]);
    }
    try {
      const res = await this.fetchFn(uri, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: typeof body === "string" ? body : new Uint8Array(body),
        signal: both,
      });
      return parseAnswer(res.status, await res.text(), origin);
    } catch (e) {
      if (given) return failed("aborted", true, `${origin}: given up (another endpoint answered first)`);
      if (timeout.aborted) return failed("timeout", true, `${origin} did not answer within ${timeoutMs} ms`);
      const code = (e as { cause?: { code?: string } }).cause?.code;
      if (code === "ECONNREFUSED") return failed("refused", false, `${origin}: ECONNREFUSED`);
      return failed(
        code === "ECONNRESET" || code === "UND_ERR_SOCKET" ? "reset" : "error",
        true,
        `${origin}: ${code ?? (e as Error).message}`,
      );
    }
  }
}

/** True for a JSON-RPC response object: an object with `result` or an `error` with a numeric code. */
function isAnswer(v: unknown): v is RpcAnswer {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const a = v as RpcAnswer;
  if ("error" in a && a.error !== undefined && a.error !== null) {
    return typeof a.error === "object" && typeof a.error.code === "number";
  }
  return "result" in a;
}
