import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "./logger";
import type { Metrics } from "./metrics";
import type { LoopHealth } from "./lifecycle";
import { summarizeError } from "./redact";

/** A JSON route handler: returns the status code and body to send. */
export type RouteHandler = (
  url: URL,
  req: http.IncomingMessage,
) => Promise<{ status: number; body: unknown }> | { status: number; body: unknown };

/**
 * A state of the keeper that `/healthz` reports beside its loops' liveness, e.g. "at least quorum attestors
 * answer". One that is not `ok` makes `/healthz` answer 503 `degraded`, with `detail` as the reason.
 */
export interface HealthCondition {
  /** Stable name, snake_case (`attestor_quorum`). */
  name: string;
  ok: boolean;
  /** What holds, or why not, in words for an operator; no URLs with secrets. */
  detail: string;
  /**
   * The keeper cannot do its job at all while this fails (an attestor whose clock is off signs nothing), so
   * `/healthz` answers 503 for it too, not only `/readyz`. Default false: a degraded dependency (fewer than
   * quorum attestors answer) is not this process's state, and `/healthz` stays 200.
   */
  halts?: boolean;
}

export interface ServerOptions {
  /** Interface to bind; default 127.0.0.1 (bind 0.0.0.0 deliberately, behind a firewall). */
  host?: string;
  /** TCP port; 0 picks a free one. */
  port: number;
  logger: Logger;
  metrics: Metrics;
  /** Serve `GET /metrics` (config `metrics.enabled`); default true. When false it is a 404. */
  metricsEnabled?: boolean;
  /** Loops whose liveness `/healthz` reports. */
  loops: () => LoopHealth[];
  /** States beyond liveness that `/healthz` reports (see {@link HealthCondition}); default none. */
  conditions?: () => HealthCondition[];
  /**
   * Raw handlers tried first, in order, for anything that is not JSON (the dashboard's page): each
   * answers and returns true, or returns false without touching `res`.
   */
  handlers?: ((req: http.IncomingMessage, res: http.ServerResponse) => boolean)[];
  /** What `GET /` lists besides the routes, e.g. `{ dashboard: "/dashboard/" }` or a hint where it is. */
  links?: Record<string, string>;
  /** Extra GET routes by exact path, e.g. `/v1/reports`. */
  routes?: Record<string, RouteHandler>;
}

/**
 * The small HTTP server every keeper runs: `GET /healthz` (200 `ok` when every loop completed an
 * iteration recently and every condition holds; 503 `stalled` when a loop did not; `degraded` with `reasons`
 * when a condition does not hold: 200, or 503 when that condition `halts` the keeper; `/readyz` the same but
 * 503 for every failed condition; JSON detail either way: per loop whether its latest iteration
 * failed and when, with a short sanitized summary, never the raw error, and every condition), `GET /metrics` (Prometheus text) and
 * the keeper's own GET routes. Anything else is 404; non-GET is 405.
 */
export class KeeperServer {
  private readonly _server: http.Server;

  constructor(private readonly options: ServerOptions) {
    this._server = http.createServer((req, res) => {
      void this._handle(req, res);
    });
    this._server.keepAliveTimeout = 5_000;
    this._server.headersTimeout = 10_000;
    this._server.requestTimeout = 10_000;
  }

  /** Start listening. @returns the bound port. Throws when the port is taken. */
  async listen(): Promise<number> {
    const { host = "127.0.0.1", port } = this.options;
    await new Promise<void>((resolve, reject) => {
      this._server.once("error", reject);
      this._server.listen(port, host, () => {
        this._server.off("error", reject);
        resolve();
      });
    });
    const bound = (this._server.address() as AddressInfo).port;
    this.options.logger.info({ host, port: bound }, "http server listening");
    return bound;
  }

  /** Stop accepting connections and close idle ones. */
  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this._server.close(() => resolve());
      this._server.closeIdleConnections();
    });
  }

  private async _handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const send = (status: number, body: string, type = "application/json") => {
      res.writeHead(status, { "content-type": type, "cache-control": "no-store" });
      res.end(body);
    };
    try {
      for (const handle of this.options.handlers ?? []) if (handle(req, res)) return;
      if (req.method !== "GET") return send(405, JSON.stringify({ error: "method not allowed" }));
      const url = new URL(req.url ?? "/", "http://localhost");
      if (url.pathname === "/") {
        // An index of what this keeper serves, so an operator who opens the port finds the rest.
        const paths = ["/healthz", "/readyz", ...(this.options.metricsEnabled === false ? [] : ["/metrics"])];
        const all = [...paths, ...Object.keys(this.options.routes ?? {})];
        return send(200, JSON.stringify({ paths: all, ...this.options.links }));
      }
      if (url.pathname === "/healthz" || url.pathname === "/readyz") {
        const loops = this.options.loops().map((l) => ({
          name: l.name,
          healthy: l.healthy(),
          iterations: l.iterations,
          lastCompletedAt: new Date(l.lastCompletedAt).toISOString(),
          // Only that the latest iteration failed, when, and a short sanitized summary: /healthz is
          // reachable by whoever can reach the port, and raw errors can carry RPC URLs with keys.
          failing: l.lastErrorAt !== undefined,
          lastErrorAt: l.lastErrorAt !== undefined ? new Date(l.lastErrorAt).toISOString() : null,
          lastError: l.lastError !== undefined ? summarizeError(l.lastError, 120) : null,
        }));
        const conditions = this.options.conditions?.() ?? [];
        const live = loops.every((l) => l.healthy);
        const reasons = conditions.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`);
        const status = !live ? "stalled" : reasons.length ? "degraded" : "ok";
        // /healthz is liveness: 503 when a loop stalled (a restart may help) or a halting condition fails
        // (the keeper does nothing useful: an attestor whose clock is off). A degraded condition (e.g. fewer
        // than quorum attestors answer) is not this process's fault and a restart would only lose time, so it
        // is 200 with status "degraded"; /readyz is 503 for it, for monitors that read only the code.
        const halted = conditions.some((c) => !c.ok && c.halts);
        const code =
          status === "stalled" || halted || (status === "degraded" && url.pathname === "/readyz") ? 503 : 200;
        return send(code, JSON.stringify({ status, reasons, loops, conditions }));
      }
      if (url.pathname === "/metrics" && this.options.metricsEnabled !== false) {
        return send(
          200,
          await this.options.metrics.registry.metrics(),
          this.options.metrics.registry.contentType,
        );
      }
      const route = this.options.routes?.[url.pathname];
      if (!route) return send(404, JSON.stringify({ error: "not found" }));
      const { status, body } = await route(url, req);
      return send(
        status,
        JSON.stringify(body, (_k, v) => (typeof v === "bigint" ? v.toString() : v)),
      );
    } catch (e) {
      this.options.logger.error({ err: e }, "http handler failed");
      return send(500, JSON.stringify({ error: "internal error" }));
    }
  }
}
