/**
 * The Node sender the `vigil gateway` uses by default: an undici `Pool` (keep-alive connections) per
 * endpoint origin, driven through undici's low-level `dispatch` (no stream per answer). Chosen over
 * node:http's `Agent` ({@link HttpUpstreams}) because a CPU profile of the gateway under load showed the
 * node:http client's per-request objects (ClientRequest, header building, agent bookkeeping) among the
 * largest costs; `npm run bench:gateway` measures both in one run.
 *
 * `mayHaveReached` is conservative: only a refused or unresolvable connection counts as "never reached";
 * any other failure after dispatch may have delivered the request (so a signed transaction is reported as
 * possibly broadcast: the safe side).
 */
import { Pool, type Dispatcher } from "undici";
import { failed, parseAnswer, type AttemptHandle, type AttemptResult, type UpstreamSender } from "./upstream";

/** Where a URI's calls go: the pool's origin, the request path, the headers (basic auth from the URI). */
interface Target {
  origin: string;
  path: string;
  headers: Record<string, string>;
}

const NOT_REACHED = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH"]);

/** Sends calls through one undici `Pool` per endpoint origin. */
export class UndiciUpstreams implements UpstreamSender {
  private readonly _pools = new Map<string, Pool>();
  private readonly _urls = new Map<string, Target | null>();

  /** @param connections Connections kept per endpoint. */
  constructor(private readonly connections: number) {}

  send(
    uri: string,
    body: Buffer | string,
    timeoutMs: number,
    handle?: AttemptHandle,
  ): Promise<AttemptResult> {
    const u = this._url(uri);
    if (!u) return Promise.resolve(failed("error", false, "invalid endpoint URI"));
    const pool = this._pool(u.origin);
    const origin = u.origin;
    return new Promise((resolve) => {
      let settled = false;
      let abort: (() => void) | undefined;
      let status = 0;
      const chunks: Buffer[] = [];
      const done = (r: AttemptResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(r);
      };
      const giveUp = (r: AttemptResult) => {
        if (settled) return;
        done(r);
        abort?.();
      };
      // The timeout is decided one I/O turn late (setImmediate): after an event-loop stall the timer and the
      // answer are both due, timers run first, and an answer already in the socket must win.
      const timer = setTimeout(
        () =>
          setImmediate(() =>
            giveUp(failed("timeout", true, `${origin} did not answer within ${timeoutMs} ms`)),
          ),
        timeoutMs,
      );
      if (handle) {
        handle.abort = () =>
          giveUp(failed("aborted", true, `${origin}: given up (another endpoint answered first)`));
      }
      const handler: Dispatcher.DispatchHandlers = {
        onConnect: (a) => {
          abort = a;
          if (settled) a();
        },
        onError: (err: Error & { code?: string }) => {
          const code = err.code ?? "";
          if (NOT_REACHED.has(code)) return done(failed("refused", false, `${origin}: ${code}`));
          const reason = code === "ECONNRESET" || code === "UND_ERR_SOCKET" ? "reset" : "error";
          done(failed(reason, true, `${origin}: ${code || err.message}`));
        },
        onHeaders: (s) => {
          status = s;
          return true;
        },
        onData: (c) => {
          chunks.push(c);
          return true;
        },
        onComplete: () =>
          done(
            parseAnswer(
              status,
              (chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)).toString("utf8"),
              origin,
            ),
          ),
      };
      pool.dispatch(
        {
          origin,
          path: u.path,
          method: "POST",
          headers: u.headers,
          body,
          headersTimeout: 0,
          bodyTimeout: 0,
        },
        handler,
      );
    });
  }

  close(): void {
    for (const p of this._pools.values()) void p.destroy().catch(() => undefined);
    this._pools.clear();
  }

  private _url(uri: string): Target | null {
    let u = this._urls.get(uri);
    if (u === undefined) {
      try {
        const url = new URL(uri);
        const headers: Record<string, string> = { "content-type": "application/json" };
        if (url.username || url.password) {
          const user = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
          headers.authorization = `Basic ${Buffer.from(user).toString("base64")}`;
        }
        u = { origin: url.origin, path: `${url.pathname}${url.search}` || "/", headers };
      } catch {
        u = null;
      }
      if (this._urls.size > 10_000) this._urls.clear(); // registry URIs: a bounded set in practice
      this._urls.set(uri, u);
    }
    return u;
  }

  private _pool(origin: string): Pool {
    let p = this._pools.get(origin);
    if (!p) {
      p = new Pool(origin, { connections: this.connections, keepAliveTimeout: 4_000, pipelining: 1 });
      this._pools.set(origin, p);
    }
    return p;
  }
}
