/**
 * A pass-through JSON-RPC proxy in front of one node, for the drill's "slow node" fault: every request is
 * forwarded as is to the target and its answer returned, after `latencyMs` (0 by default). A target that
 * refuses or resets the connection makes the proxy drop the client's connection too, so a dead node behind
 * the proxy still looks dead; a hung target keeps the client waiting, as a hung node does. It runs on its
 * own worker thread, so the drill's busy event loop never adds latency of its own.
 */
import { Worker } from "node:worker_threads";

/** The proxy's code (plain JavaScript: a worker thread does not go through ts-node). */
const WORKER = `
const http = require("node:http");
const { parentPort, workerData } = require("node:worker_threads");
let latencyMs = 0;
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
const server = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const body = Buffer.concat(chunks);
    const started = Date.now();
    const up = http.request(workerData.target, {
      method: req.method, agent,
      headers: { "content-type": "application/json", "content-length": body.length },
    }, (ur) => {
      const parts = [];
      ur.on("data", (c) => parts.push(c));
      ur.on("end", () => setTimeout(() => {
        if (res.destroyed) return;
        res.writeHead(ur.statusCode || 502, { "content-type": "application/json" });
        res.end(Buffer.concat(parts));
      }, Math.max(0, latencyMs - (Date.now() - started))));
      ur.on("error", () => res.destroy());
    });
    up.on("error", () => res.destroy());
    res.on("close", () => { if (!res.writableEnded) up.destroy(); });
    up.end(body);
  });
});
server.keepAliveTimeout = 5000;
parentPort.on("message", (m) => {
  if (m.latencyMs !== undefined) latencyMs = m.latencyMs;
  if (m.close) { server.closeAllConnections(); server.close(() => parentPort.postMessage({ closed: true })); agent.destroy(); }
});
server.listen(workerData.port, "127.0.0.1", () => parentPort.postMessage({ port: server.address().port }));
`;

/** The proxy, on a worker thread. */
export class LatencyProxy {
  private _latencyMs = 0;
  private _port = 0;
  private _worker?: Worker;

  /** @param target `http://host:port` of the node. */
  constructor(private readonly target: string) {}

  /** Added delay before each answer, ms. */
  get latencyMs(): number {
    return this._latencyMs;
  }

  set latencyMs(ms: number) {
    this._latencyMs = ms;
    this._worker?.postMessage({ latencyMs: ms });
  }

  /** Listen on `port` (0: a free one) on 127.0.0.1. Throws when the worker cannot listen. */
  async listen(port = 0): Promise<void> {
    const worker = new Worker(WORKER, { eval: true, workerData: { target: this.target, port } });
    this._worker = worker;
    this._port = await new Promise<number>((resolve, reject) => {
      worker.once("error", reject);
      worker.once("message", (m: { port: number }) => resolve(m.port));
    });
    worker.unref();
  }

  get url(): string {
    return `http://127.0.0.1:${this._port}`;
  }

  /** Stop listening, close every connection and end the worker. Idempotent. */
  async close(): Promise<void> {
    const w = this._worker;
    if (!w) return;
    this._worker = undefined;
    const closed = new Promise<void>((r) => w.once("message", () => r()));
    w.postMessage({ close: true });
    await Promise.race([closed, new Promise((r) => setTimeout(r, 2000))]);
    await w.terminate();
  }
}
