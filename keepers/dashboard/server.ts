/**
 * Serving the dashboard: a {@link DashboardView} (one loop that polls the chain and keeps the latest
 * state), {@link dashboardHandler} (the page, its assets and `api/state`, mountable under a prefix on any
 * Node HTTP server), and {@link startDashboardServer} (the standalone server of `vigil dashboard`, with
 * `/healthz` and `/metrics` as every keeper has).
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { AbstractProvider } from "ethers";
import { VigilError } from "../shared/errors";
import { runLoop, type LoopHealth } from "../shared/lifecycle";
import type { Logger } from "../shared/logger";
import type { Metrics } from "../shared/metrics";
import { summarizeError } from "../shared/redact";
import { PAGE_CSS, PAGE_HTML, PAGE_JS } from "./page";
import { ChainReader } from "./reader";
import { buildState, type DashboardState } from "./state";

export interface DashboardViewOptions {
  provider: AbstractProvider;
  chainId: number;
  contracts: { oracle: string; registry: string; guard?: string };
  /** Milliseconds between polls of the chain. Default 2000. */
  pollIntervalMs?: number;
  /** Blocks of history read at start. Default 5000. */
  blockWindow?: number;
  /** Events kept per kind. Default 500. */
  maxEvents?: number;
  /** Most blocks per `eth_getLogs`. Default 1000. */
  maxBlockRange?: number;
  /**
   * Service ids (bytes32) to show, e.g. the responder's `config.services`. Default: the registry's
   * services, at most `maxServices` (the registry is permissionless: anyone adds services). Every market
   * of the guard is shown either way (the guard's owner registers them).
   */
  services?: readonly string[];
  /** Most services read per poll without `services`. Default 200. */
  maxServices?: number;
  /** Most view calls in flight at once during a poll. Default 8. */
  maxConcurrentCalls?: number;
  signal: AbortSignal;
  logger: Logger;
  metrics?: Metrics;
}

/** The latest dashboard state, refreshed by one polling loop. */
export interface DashboardView {
  /** The latest state as JSON text, undefined before the first poll succeeded. */
  json(): string | undefined;
  /** The latest state, undefined before the first poll succeeded. */
  state(): DashboardState | undefined;
  /** Sanitized summary of the latest poll's failure; undefined once a poll succeeds. */
  error(): string | undefined;
  health: LoopHealth;
  /** Settles once the loop stopped (after `signal` aborts). */
  done: Promise<void>;
}

/**
 * Start polling the chain for the dashboard (first poll at once). Any caller may run one per process,
 * e.g. the responder beside its own loops. Never throws: a failed poll is logged, kept for the page
 * ("stale: …") and retried at the next interval.
 */
export function startDashboardView(o: DashboardViewOptions): DashboardView {
  const reader = new ChainReader({
    provider: o.provider,
    chainId: o.chainId,
    contracts: o.contracts,
    blockWindow: o.blockWindow ?? 5000,
    maxEvents: o.maxEvents ?? 500,
    maxBlockRange: o.maxBlockRange ?? 1000,
    services: o.services?.map((id) => id.toLowerCase()),
    maxServices: o.maxServices ?? 200,
    maxConcurrentCalls: o.maxConcurrentCalls ?? 8,
  });
  let state: DashboardState | undefined;
  let json: string | undefined;
  let failure: string | undefined;
  const { health, done } = runLoop(
    {
      name: "dashboard",
      intervalMs: o.pollIntervalMs ?? 2000,
      signal: o.signal,
      logger: o.logger,
      metrics: o.metrics,
    },
    async () => {
      try {
        const snapshot = await reader.poll();
        state = buildState(snapshot, reader.history);
        json = JSON.stringify(state);
        failure = undefined;
      } catch (e) {
        failure = summarizeError(e, 160);
        throw e;
      }
    },
  );
  return { json: () => json, state: () => state, error: () => failure, health, done };
}

const SECURITY_HEADERS = {
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  // Only the dashboard's own script, stylesheet and API: no inline script, no other origin, no framing.
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; " +
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
};

/**
 * A request handler for the dashboard's routes under `basePath` (`""` for the root, or e.g.
 * `"/dashboard"`): `GET <base>/` the page, `<base>/dashboard.js`, `<base>/dashboard.css`, and
 * `<base>/api/state` (200 with {@link DashboardState} JSON; 503 `{error}` before the first successful
 * poll and while the latest poll failed). `<base>` without its slash redirects to `<base>/` (the page's URLs are relative).
 * @returns A function that answers and returns true for a dashboard path, or returns false without
 * touching `res` for any other path, so a keeper's server can try it before its own routes.
 */
export function dashboardHandler(
  view: Pick<DashboardView, "json" | "error">,
  basePath = "",
): (req: http.IncomingMessage, res: http.ServerResponse) => boolean {
  const base = basePath.replace(/\/+$/, "");
  const assets: Record<string, [string, string]> = {
    "/": [PAGE_HTML, "text/html; charset=utf-8"],
    "/dashboard.js": [PAGE_JS, "text/javascript; charset=utf-8"],
    "/dashboard.css": [PAGE_CSS, "text/css; charset=utf-8"],
  };
  return (req, res) => {
    const path = new URL(req.url ?? "/", "http://localhost").pathname;
    if (base && path === base) {
      res.writeHead(308, { location: `${base}/`, ...SECURITY_HEADERS });
      res.end();
      return true;
    }
    if (!path.startsWith(`${base}/`)) return false;
    const sub = path.slice(base.length);
    if (!(sub in assets) && sub !== "/api/state") return false;
    const send = (status: number, body: string, type: string) => {
      res.writeHead(status, { "content-type": type, ...SECURITY_HEADERS });
      res.end(req.method === "HEAD" ? undefined : body);
    };
    if (req.method !== "GET" && req.method !== "HEAD") {
      send(405, JSON.stringify({ error: "method not allowed" }), "application/json");
      return true;
    }
    if (sub === "/api/state") {
      const json = view.json();
      const why = view.error();
      if (json === undefined || why !== undefined) {
        // A failed latest poll is said, not hidden behind the last good state: the page keeps showing
        // that state and marks it stale.
        send(
          503,
          JSON.stringify({ error: why ? `cannot read the chain: ${why}` : "reading the chain…" }),
          "application/json",
        );
      } else {
        send(200, json, "application/json");
      }
      return true;
    }
    const [body, type] = assets[sub];
    send(200, body, type);
    return true;
  };
}

export interface DashboardServerOptions {
  host: string;
  /** TCP port; 0 picks a free one. */
  port: number;
  view: DashboardView;
  logger: Logger;
  /** Serves `GET /metrics` when given. */
  metrics?: Metrics;
}

/**
 * The standalone server of `vigil dashboard`: the dashboard at `/`, `GET /healthz` (200 while the polling
 * loop completes iterations, 503 otherwise; `chain` says whether the last poll read the chain),
 * `GET /metrics` when metrics are given; 404 otherwise.
 * @throws VigilError VIGIL_CONFIG naming `http.port` when the port is taken or the host cannot be bound.
 */
export async function startDashboardServer(
  o: DashboardServerOptions,
): Promise<{ port: number; url: string; close(): Promise<void> }> {
  const dashboard = dashboardHandler(o.view);
  const server = http.createServer((req, res) => {
    void (async () => {
      try {
        if (dashboard(req, res)) return;
        const path = new URL(req.url ?? "/", "http://localhost").pathname;
        const json = (status: number, body: unknown) => {
          res.writeHead(status, { "content-type": "application/json", ...SECURITY_HEADERS });
          res.end(JSON.stringify(body));
        };
        if (req.method !== "GET") return json(405, { error: "method not allowed" });
        if (path === "/healthz") {
          const ok = o.view.health.healthy();
          return json(ok ? 200 : 503, {
            status: ok ? "ok" : "stalled",
            chain: o.view.error() === undefined ? "ok" : "failing",
            lastError: o.view.error() ?? null,
          });
        }
        if (path === "/metrics" && o.metrics) {
          res.writeHead(200, { "content-type": o.metrics.registry.contentType });
          return res.end(await o.metrics.registry.metrics());
        }
        return json(404, { error: "not found" });
      } catch (e) {
        o.logger.error({ err: e }, "http handler failed");
        if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: "internal error" }));
      }
    })();
  });
  server.keepAliveTimeout = 5_000;
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", (e: NodeJS.ErrnoException) =>
      reject(
        new VigilError(
          "VIGIL_CONFIG",
          `http.port: cannot listen on ${o.host}:${o.port} (${e.code ?? e.message})`,
          e.code === "EADDRINUSE"
            ? "another process holds the port: pass --port (0 = any free port) or set http.port"
            : "check http.host (--host)",
        ),
      ),
    );
    server.listen(o.port, o.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = o.host.includes(":") ? `[${o.host}]` : o.host;
  o.logger.info({ host: o.host, port }, "dashboard listening");
  return {
    port,
    url: `http://${host}:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
