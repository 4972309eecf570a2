/**
 * A hostile JSON-RPC proxy in front of one node, for the chaos run and the RPC-pool tests: it passes calls
 * through, or plays one of the ways a real RPC provider fails a keeper.
 *
 * - `pass`: every call is forwarded to the node and its answer returned unchanged.
 * - `refuse`: the listener is closed and every open connection destroyed, so new connections get
 *   ECONNREFUSED (a dead node, a provider that went away); another mode listens again on the same port.
 * - `hang`: connections are accepted and requests read, and never answered (a stuck node, a black-holing
 *   load balancer). Leaving `hang` or `close()` destroys the held connections.
 * - `frozen`: the node's head when the mode was set is pinned (a node that stopped syncing). `eth_blockNumber`
 *   answers it; the `latest`/`pending` tags (and higher block numbers) in `eth_getBlockByNumber`, `eth_call`,
 *   `eth_estimateGas`, `eth_getBalance`, `eth_getTransactionCount`, `eth_getCode`, `eth_getStorageAt`,
 *   `eth_feeHistory` and `eth_getLogs` are rewritten to it; blocks, receipts and transactions past it answer
 *   null; `eth_sendRawTransaction` answers the hash and drops the transaction (it never reaches the network).
 * - `lie`: an `eth_call` to `to` whose data starts with the 4-byte `selector` answers `result` (ABI-encoded
 *   return data) without asking the node; every other call passes.
 *
 * It runs in the caller's process (no worker): answers are cheap and a hung request costs only a socket.
 * Batches (a JSON array) are answered call by call.
 */
import http from "node:http";
import type net from "node:net";
import { keccak256 } from "ethers";

/** What the proxy does with calls from now on; see the file comment. */
export type ProxyMode =
  | { kind: "pass" }
  | { kind: "refuse" }
  | { kind: "hang" }
  | { kind: "frozen" }
  | { kind: "lie"; to: string; selector: string; result: string };

interface RpcCall {
  jsonrpc?: string;
  id?: unknown;
  method?: string;
  params?: unknown[];
}

interface RpcAnswer {
  jsonrpc: "2.0";
  id: unknown;
  result?: unknown;
  error?: { code: number; message: string };
}

/** Methods whose parameter at this index is a block tag or number (eth_getLogs is handled apart). */
const TAG_PARAM: Record<string, number> = {
  eth_getBlockByNumber: 0,
  eth_call: 1,
  eth_estimateGas: 1,
  eth_getBalance: 1,
  eth_getTransactionCount: 1,
  eth_getCode: 1,
  eth_getStorageAt: 2,
  eth_feeHistory: 1,
};

/** The proxy. Start with {@link RpcProxy.start}; one proxy per node. */
export class RpcProxy {
  private mode: ProxyMode = { kind: "pass" };
  private server: http.Server;
  private readonly sockets = new Set<net.Socket>();
  private readonly held = new Set<http.ServerResponse>();
  private readonly counts = new Map<string, number>();
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  private frozenAt?: number;
  private closed = false;
  /** The last mode change's listener work (close or reopen), so changes apply in order. */
  private switching: Promise<void> = Promise.resolve();

  private constructor(
    private readonly target: string,
    private port: number,
  ) {
    this.server = this.makeServer();
  }

  /**
   * Listen on 127.0.0.1 (a free port unless `port` is given) in front of `target` (`http://host:port` of a
   * JSON-RPC node), in mode `pass`. Throws when it cannot listen.
   */
  static async start(target: string, port = 0): Promise<RpcProxy> {
    const p = new RpcProxy(target, port);
    await p.listen();
    return p;
  }

  /** `http://127.0.0.1:<port>`: give this to the keeper instead of the node's URL. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The current mode. */
  get current(): ProxyMode {
    return this.mode;
  }

  /**
   * Switch mode. Takes effect at once for calls that arrive from now on; the returned promise resolves when
   * the listener work is done too (closed for `refuse`, listening again after it; `frozen` has read the
   * node's head). Callers that ignore it may see a few milliseconds of the old behaviour.
   * @throws (the promise rejects) when `frozen` cannot read the head or the port cannot be listened on again.
   */
  set(mode: ProxyMode): Promise<void> {
    if (this.closed) return Promise.reject(new Error("RpcProxy is closed"));
    const previous = this.mode;
    this.mode = mode;
    if (previous.kind === "hang" && mode.kind !== "hang") this.releaseHeld();
    const work = this.switching.then(async () => {
      if (mode.kind === "refuse") await this.refuse();
      else if (!this.server.listening && !this.closed) await this.listen();
      if (mode.kind === "frozen") {
        this.frozenAt = undefined;
        const head = await this.upstream({ jsonrpc: "2.0", id: 0, method: "eth_blockNumber", params: [] });
        this.frozenAt = Number(BigInt(head.result as string));
      }
    });
    this.switching = work.catch(() => undefined);
    return work;
  }

  /** The block number `frozen` pins, once read; undefined in other modes. */
  get frozenHead(): number | undefined {
    return this.mode.kind === "frozen" ? this.frozenAt : undefined;
  }

  /** JSON-RPC calls received (in every mode but `refuse`, which receives none), of `method` or of all methods. */
  calls(method?: string): number {
    if (method !== undefined) return this.counts.get(method) ?? 0;
    let n = 0;
    for (const v of this.counts.values()) n += v;
    return n;
  }

  /** Stop listening, destroy every connection (held ones included) and the upstream agent. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.switching;
    this.releaseHeld();
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    if (this.server.listening) await new Promise<void>((r) => this.server.close(() => r()));
    this.agent.destroy();
  }

  private makeServer(): http.Server {
    const server = http.createServer((req, res) => this.onRequest(req, res));
    server.keepAliveTimeout = 5000;
    server.on("connection", (s: net.Socket) => {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
    return server;
  }

  private listen(): Promise<void> {
    // A closed http.Server cannot listen again in every Node version: make a fresh one each time.
    if (this.server.listening) return Promise.resolve();
    this.server = this.makeServer();
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(this.port, "127.0.0.1", () => {
        this.server.off("error", reject);
        this.port = (this.server.address() as net.AddressInfo).port;
        resolve();
      });
    });
  }

  private async refuse(): Promise<void> {
    const server = this.server;
    const done = server.listening ? new Promise<void>((r) => server.close(() => r())) : Promise.resolve();
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    await done;
  }

  private releaseHeld(): void {
    for (const res of this.held) res.destroy();
    this.held.clear();
  }

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      let parsed: RpcCall | RpcCall[];
      try {
        parsed = JSON.parse(body.toString("utf8")) as RpcCall | RpcCall[];
      } catch {
        res.writeHead(400, { "content-type": "application/json" });
        res.end(
          JSON.stringify({ jsonrpc: "2.0", id: null, error: { code: -32700, message: "parse error" } }),
        );
        return;
      }
      const list = Array.isArray(parsed) ? parsed : [parsed];
      for (const c of list) {
        const m = String(c.method);
        this.counts.set(m, (this.counts.get(m) ?? 0) + 1);
      }
      const mode = this.mode;
      if (mode.kind === "hang" || mode.kind === "refuse") {
        // `refuse` can only see a request that raced the listener closing: treat it like a dead node.
        if (mode.kind === "refuse") return void res.destroy();
        this.held.add(res);
        res.on("close", () => this.held.delete(res));
        return;
      }
      Promise.all(list.map((c) => this.answer(c, mode))).then(
        (answers) => {
          if (res.destroyed) return;
          res.writeHead(200, { "content-type": "application/json" });
          res.end(JSON.stringify(Array.isArray(parsed) ? answers : answers[0]));
        },
        // The node refused or reset: drop the client's connection too, so a dead node still looks dead.
        () => res.destroy(),
      );
    });
  }

  /** One call's answer in `mode` (pass, frozen or lie). Rejects on a transport error to the node. */
  private async answer(call: RpcCall, mode: ProxyMode): Promise<RpcAnswer> {
    const reply = (result: unknown): RpcAnswer => ({ jsonrpc: "2.0", id: call.id ?? null, result });
    const params = Array.isArray(call.params) ? call.params : [];
    if (mode.kind === "lie" && call.method === "eth_call") {
      const tx = (params[0] ?? {}) as { to?: string; data?: string; input?: string };
      const data = (tx.data ?? tx.input ?? "").toLowerCase();
      if (tx.to?.toLowerCase() === mode.to.toLowerCase() && data.startsWith(mode.selector.toLowerCase())) {
        return reply(mode.result);
      }
    }
    if (mode.kind !== "frozen" || this.frozenAt === undefined) return this.upstream(call);
    return this.frozen(call, params, this.frozenAt, reply);
  }

  private async frozen(
    call: RpcCall,
    params: unknown[],
    head: number,
    reply: (r: unknown) => RpcAnswer,
  ): Promise<RpcAnswer> {
    const method = String(call.method);
    const hex = "0x" + head.toString(16);
    const pin = (tag: unknown): unknown => {
      if (
        tag === undefined ||
        tag === "latest" ||
        tag === "pending" ||
        tag === "safe" ||
        tag === "finalized"
      ) {
        return hex;
      }
      if (typeof tag === "string" && /^0x[0-9a-f]+$/i.test(tag) && Number(BigInt(tag)) > head) return hex;
      return tag;
    };
    const past = (r: unknown): boolean => {
      const n = (r as { blockNumber?: string } | null)?.blockNumber;
      return typeof n === "string" && Number(BigInt(n)) > head;
    };
    switch (method) {
      case "eth_blockNumber":
        return reply(hex);
      case "eth_sendRawTransaction":
        return reply(keccak256(String(params[0])));
      case "eth_getBlockByNumber": {
        const tag = params[0];
        if (typeof tag === "string" && /^0x/i.test(tag) && Number(BigInt(tag)) > head) return reply(null);
        return this.upstream({ ...call, params: [pin(tag), ...params.slice(1)] });
      }
      case "eth_getBlockByHash":
      case "eth_getTransactionByHash":
      case "eth_getTransactionReceipt": {
        const a = await this.upstream(call);
        const n = (a.result as { number?: string } | null)?.number;
        if (past(a.result) || (typeof n === "string" && Number(BigInt(n)) > head)) return reply(null);
        return a;
      }
      case "eth_getLogs": {
        const f = { ...((params[0] ?? {}) as Record<string, unknown>) };
        if (f.blockHash === undefined) {
          f.fromBlock = pin(f.fromBlock ?? "latest");
          f.toBlock = pin(f.toBlock);
        }
        const a = await this.upstream({ ...call, params: [f] });
        if (Array.isArray(a.result)) a.result = a.result.filter((l) => !past(l));
        return a;
      }
      default: {
        const at = TAG_PARAM[method];
        if (at === undefined) return this.upstream(call);
        const p = [...params];
        while (p.length <= at) p.push(undefined);
        p[at] = pin(p[at]);
        return this.upstream({ ...call, params: p });
      }
    }
  }

  /** Forward one call to the node. Rejects on a transport error (refused, reset, unparsable answer). */
  private upstream(call: RpcCall): Promise<RpcAnswer> {
    const body = Buffer.from(JSON.stringify(call));
    return new Promise((resolve, reject) => {
      const up = http.request(
        this.target,
        {
          method: "POST",
          agent: this.agent,
          headers: { "content-type": "application/json", "content-length": body.length },
        },
        (ur) => {
          const parts: Buffer[] = [];
          ur.on("data", (c: Buffer) => parts.push(c));
          ur.on("end", () => {
            try {
              resolve(JSON.parse(Buffer.concat(parts).toString("utf8")) as RpcAnswer);
            } catch (e) {
              reject(e as Error);
            }
          });
          ur.on("error", reject);
        },
      );
      up.on("error", reject);
      up.end(body);
    });
  }
}
