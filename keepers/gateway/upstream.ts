/**
 * One attempt of one JSON-RPC call on one endpoint, over node:http(s) with keep-alive connections per
 * endpoint. The outcome is either an answer (HTTP 200 with a JSON-RPC response object: a result or the
 * node's error, both answers) or a transport failure, with whether the request may have reached the node
 * (what decides if a signed transaction may have been broadcast).
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

/** The outcome of one attempt. */
export type AttemptResult =
  | { ok: true; answer: RpcAnswer }
  | {
      ok: false;
      /** `refused` (never connected), `timeout`, `reset`, `http_status`, `invalid_response`, `error`. */
      reason: "refused" | "timeout" | "reset" | "http_status" | "invalid_response" | "error";
      /** Whether the whole request was handed to the connection (the node may have acted on it). */
      mayHaveReached: boolean;
      /** What happened, with URLs cut to their origin. */
      detail: string;
    };

/** Sends calls to endpoints, one keep-alive agent per endpoint origin. */
export class Upstreams {
  private readonly _agents = new Map<string, http.Agent>();

  /** @param maxSockets Connections kept per endpoint. */
  constructor(private readonly maxSockets: number) {}

  /**
   * POST `body` (one JSON-RPC request, serialized) to `uri` and wait at most `timeoutMs`.
   * Never throws: every failure is an {@link AttemptResult} with `ok: false`.
   */
  send(uri: string, body: Buffer | string, timeoutMs: number): Promise<AttemptResult> {
    let url: URL;
    try {
      url = new URL(uri);
    } catch {
      return Promise.resolve({
        ok: false,
        reason: "error",
        mayHaveReached: false,
        detail: "invalid endpoint URI",
      });
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
      const fail = (reason: Exclude<AttemptResult, { ok: true }>["reason"], detail: string) =>
        done({ ok: false, reason, mayHaveReached: finished, detail: redactUrls(detail) });
      const req = (secure ? https : http).request(
        url,
        {
          method: "POST",
          agent,
          headers: {
            "content-type": "application/json",
            "content-length": Buffer.byteLength(body),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("error", (e) => fail("reset", `response from ${url.origin} broke: ${e.message}`));
          res.on("end", () => {
            if (res.statusCode !== 200) {
              return fail("http_status", `${url.origin} answered HTTP ${res.statusCode}`);
            }
            let answer: RpcAnswer;
            try {
              answer = JSON.parse(Buffer.concat(chunks).toString("utf8")) as RpcAnswer;
            } catch {
              return fail("invalid_response", `${url.origin} answered a body that is not JSON`);
            }
            if (!isAnswer(answer)) {
              return fail("invalid_response", `${url.origin} answered no JSON-RPC response object`);
            }
            done({ ok: true, answer });
          });
        },
      );
      const timer = setTimeout(() => {
        fail("timeout", `${url.origin} did not answer within ${timeoutMs} ms`);
        req.destroy();
      }, timeoutMs);
      req.on("finish", () => (finished = true));
      req.on("error", (e: NodeJS.ErrnoException) => {
        const reason = e.code === "ECONNREFUSED" ? "refused" : e.code === "ECONNRESET" ? "reset" : "error";
        fail(reason, `${url.origin}: ${e.code ?? e.message}`);
      });
      req.end(body);
    });
  }

  /** Close every kept connection. */
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

/** True for a JSON-RPC response object: an object with `result` or an `error` with a numeric code. */
function isAnswer(v: unknown): v is RpcAnswer {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const a = v as RpcAnswer;
  if ("error" in a && a.error !== undefined && a.error !== null) {
    return typeof a.error === "object" && typeof a.error.code === "number";
  }
  return "result" in a;
}
