/**
 * The gateway's JSON-RPC endpoint: `POST /<service>` (the configured name or the service id) with one
 * JSON-RPC request or a batch (an array; each call routed on its own, answers in request order). Plugged
 * into the keeper's {@link KeeperServer} as a raw handler, beside `/healthz`, `/readyz` and `/metrics`.
 *
 * Refused before routing, each counted in `vigil_gateway_rejections_total{reason}`:
 * - a body over `maxBodyBytes`: HTTP 413 (`body_too_large`), the connection closed;
 * - a body that is not JSON: JSON-RPC -32700 (`parse_error`);
 * - an empty batch: -32600 (`empty_batch`); a batch longer than `maxBatch`: -32600 (`batch_too_long`);
 * - a call that is not a JSON-RPC 2.0 request object: -32600 for that call (`invalid_request`);
 * - a path that is no configured service: HTTP 404 with -32601 (`unknown_service`);
 * - another method than POST (or OPTIONS, the CORS preflight) on a service path: HTTP 405.
 * JSON-RPC level answers use HTTP 200, as nodes do, so clients read the error object.
 */
import type http from "node:http";
import type { Breakers } from "../client/breaker";
import { answerCall, UPSTREAM_FAILED_CODE } from "../client/call";
import type { RegistryFollower, FollowedService } from "../client/follow";
import type { HeadTracker } from "../client/head";
import type { LatencyTracker } from "../client/latency";
import type { GatewayMetrics } from "../client/metrics";
import type { CallContext, RpcRequest } from "../client/routing";
import type { RpcAnswer, UpstreamSender } from "../client/upstream";
import type { Logger } from "../shared/logger";

export { UPSTREAM_FAILED_CODE };

/**
 * What the handler routes with: the services and follower, the sender, head tracker, breakers, metrics and
 * limits (ms, bytes). The rules themselves are keepers/client/ (routing, head, tx, call).
 */
export interface GatewayHandlerOptions {
  services: readonly FollowedService[];
  follower: RegistryFollower;
  upstreams: UpstreamSender;
  heads: HeadTracker;
  breakers?: Breakers;
  metrics: GatewayMetrics;
  logger: Logger;
  deadlineMs: number;
  attemptTimeoutMs: number;
  /** Longest wait before hedging an idempotent read, ms (0: never). */
  hedgeAfterMs?: number;
  /** Observed latencies, from which the hedge delay follows (at most `hedgeAfterMs`). */
  latency?: LatencyTracker;
  maxBodyBytes: number;
  maxBatch: number;
}

const HEADERS = {
  "content-type": "application/json",
  "cache-control": "no-store",
  "access-control-allow-origin": "*",
};

/**
 * A raw handler for {@link KeeperServer}: takes every POST and OPTIONS, and any request to a service path;
 * leaves the rest (GET /healthz, /metrics, …) to the server.
 */
export function gatewayHandler(
  o: GatewayHandlerOptions,
): (req: http.IncomingMessage, res: http.ServerResponse) => boolean {
  const byPath = new Map<string, FollowedService>();
  for (const s of o.services) {
    byPath.set(`/${s.name}`, s);
    byPath.set(`/${s.id.toLowerCase()}`, s);
  }
  return (req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    const service = byPath.get(path) ?? byPath.get(path.toLowerCase());
    if (req.method === "OPTIONS" && service) {
      res.writeHead(204, {
        ...HEADERS,
        "access-control-allow-methods": "POST, OPTIONS",
        "access-control-allow-headers": "content-type",
        "access-control-max-age": "600",
      });
      res.end();
      return true;
    }
    if (req.method !== "POST") {
      if (!service) return false;
      o.metrics.rejections.inc({ reason: "method_not_allowed" });
      res.writeHead(405, { ...HEADERS, allow: "POST, OPTIONS" });
      res.end(errorBody(null, -32600, "POST a JSON-RPC request"));
      return true;
    }
    if (!service) {
      o.metrics.rejections.inc({ reason: "unknown_service" });
      res.writeHead(404, HEADERS);
      res.end(errorBody(null, -32601, "no such service: POST to /<service name> or /<service id>"));
      req.resume();
      return true;
    }
    void handlePost(o, service, req, res).catch((e) => {
      o.logger.error({ err: e }, "gateway handler failed");
      if (!res.headersSent) res.writeHead(500, HEADERS);
      res.end(errorBody(null, -32603, "internal error"));
    });
    return true;
  };
}

async function handlePost(
  o: GatewayHandlerOptions,
  service: FollowedService,
  req: http.IncomingMessage,
  res: http.ServerResponse,
): Promise<void> {
  const body = await readBody(req, o.maxBodyBytes);
  if (body === undefined) {
    o.metrics.rejections.inc({ reason: "body_too_large" });
    res.writeHead(413, { ...HEADERS, connection: "close" });
    res.end(errorBody(null, -32600, `request body over maxBodyBytes (${o.maxBodyBytes} bytes)`), () =>
      req.destroy(),
    );
    return;
  }
  const started = Date.now();
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString("utf8"));
  } catch {
    o.metrics.rejections.inc({ reason: "parse_error" });
    res.writeHead(200, HEADERS);
    res.end(errorBody(null, -32700, "parse error: the body is not JSON"));
    return;
  }
  const ctx = (): CallContext => ({
    service,
    follower: o.follower,
    upstreams: o.upstreams,
    deadline: started + o.deadlineMs,
    attemptTimeoutMs: o.attemptTimeoutMs,
    hedgeAfterMs: o.hedgeAfterMs,
    latency: o.latency,
    breakers: o.breakers,
    metrics: o.metrics,
    logger: o.logger,
  });
  let out: unknown;
  if (Array.isArray(parsed)) {
    if (parsed.length === 0 || parsed.length > o.maxBatch) {
      o.metrics.rejections.inc({ reason: parsed.length === 0 ? "empty_batch" : "batch_too_long" });
      res.writeHead(200, HEADERS);
      const msg =
        parsed.length === 0
          ? "empty batch"
          : `batch of ${parsed.length} calls is over maxBatch (${o.maxBatch})`;
      res.end(errorBody(null, -32600, msg));
      return;
    }
    out = await Promise.all(parsed.map((call) => handleCall(o, ctx(), call, JSON.stringify(call), started)));
  } else {
    out = await handleCall(o, ctx(), parsed, body, started);
  }
  res.writeHead(200, HEADERS);
  res.end(JSON.stringify(out));
}

/** Route one call and answer it (keepers/client/call.ts `answerCall`, which counts it). Never throws. */
async function handleCall(
  o: GatewayHandlerOptions,
  ctx: CallContext,
  call: unknown,
  body: Buffer | string,
  started: number,
): Promise<RpcAnswer> {
  if (!isRequest(call)) {
    o.metrics.rejections.inc({ reason: "invalid_request" });
    const id = typeof call === "object" && call !== null ? (call as { id?: unknown }).id : null;
    return {
      jsonrpc: "2.0",
      id: id ?? null,
      error: { code: -32600, message: "invalid request: a JSON-RPC 2.0 request object with a method" },
    };
  }
  return (await answerCall(ctx, call, body, o.heads, started)).answer;
}

function isRequest(v: unknown): v is RpcRequest {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const r = v as Record<string, unknown>;
  return (
    r.jsonrpc === "2.0" &&
    typeof r.method === "string" &&
    r.method.length > 0 &&
    r.method.length <= 128 &&
    (r.params === undefined || typeof r.params === "object")
  );
}

/** The request body, or undefined once it passes `max` bytes (the rest is not read). */
function readBody(req: http.IncomingMessage, max: number): Promise<Buffer | undefined> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > max) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > max) {
        req.off("data", onData);
        req.pause();
        resolve(undefined);
        return;
      }
      chunks.push(c);
    };
    req.on("data", onData);
    req.on("end", () => resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function errorBody(id: unknown, code: number, message: string): string {
  return JSON.stringify({ jsonrpc: "2.0", id, error: { code, message } });
}
