/**
 * A fast fake JSON-RPC and HTTP server on loopback, for the attestor's tests and benchmark: many
 * endpoints on one server (`/rpc/<name>`), each with a scriptable behaviour — chain id, head, latency,
 * a socket that never answers, malformed JSON, a JSON-RPC error object, hostile values, an oracle feed.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { AbiCoder, keccak256, toUtf8Bytes } from "ethers";

export interface FakeFeed {
  roundId: bigint;
  answer: bigint;
  startedAt: bigint;
  updatedAt: bigint;
  answeredInRound: bigint;
}

export interface FakeBehaviour {
  chainId?: number;
  blockNumber?: number;
  /** Block timestamp, Unix seconds; default now. */
  blockTimestamp?: number;
  /** Hash of the head block (latest and by its number); other blocks get {@link chainHash}. */
  blockHash?: string;
  /**
   * Blocks at or above this height are on a fork named `forkTag` (hashes differ from every other path's);
   * below it the path shares the common chain. Default: no fork.
   */
  forkFrom?: number;
  /** Name of the fork (paths with one tag and one `forkFrom` agree with each other). Default "fork". */
  forkTag?: string;
  /** Answer `null` for every block asked for by number (a head it cannot serve). */
  unservable?: boolean;
  /** Wait this long before answering, ms. */
  delayMs?: number;
  /** Accept the request and never answer. */
  hang?: boolean;
  /** HTTP status to answer with (default 200). */
  status?: number;
  /** Raw body to answer every request with (malformed JSON, hostile values). */
  rawBody?: string;
  /** Override the `result` of a method (hostile values: huge numbers, non-hex). */
  results?: Record<string, unknown>;
  /** Answer every JSON-RPC call with an error object. */
  rpcError?: boolean;
  /** `latestRoundData()` answer for eth_call. */
  feed?: FakeFeed;
}

const hex = (n: number | bigint) => "0x" + n.toString(16);

/** The hash of block `n` on the chain named `tag` ("main": the chain every path shares by default). */
export function chainHash(tag: string, n: number): string {
  return keccak256(toUtf8Bytes(`${tag}:${n}`));
}

export class FakeRpcServer {
  private readonly _server: http.Server;
  private readonly _behaviours = new Map<string, FakeBehaviour>();
  /** Requests served, by path. */
  readonly hits = new Map<string, number>();
  port = 0;

  /** @param defaults Behaviour of a path without its own. */
  constructor(private readonly defaults: FakeBehaviour = {}) {
    this._server = http.createServer((req, res) => this._handle(req, res));
    this._server.keepAliveTimeout = 30_000;
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this._server.listen(0, "127.0.0.1", resolve));
    this.port = (this._server.address() as AddressInfo).port;
    return this;
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path.startsWith("/") ? path : `/${path}`}`;
  }

  /** Set (merge) the behaviour of a path. */
  set(path: string, b: FakeBehaviour): void {
    this._behaviours.set(path, { ...(this._behaviours.get(path) ?? {}), ...b });
  }

  /** Replace the behaviour of a path. */
  reset(path: string, b: FakeBehaviour = {}): void {
    this._behaviours.set(path, b);
  }

  async close(): Promise<void> {
    this._server.closeAllConnections();
    await new Promise<void>((resolve) => this._server.close(() => resolve()));
  }

  private _handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const path = (req.url ?? "/").split("?")[0];
    this.hits.set(path, (this.hits.get(path) ?? 0) + 1);
    const b = { ...this.defaults, ...(this._behaviours.get(path) ?? {}) };
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (b.hang) return; // keep the socket open, never answer
      const answer = () => {
        if (res.destroyed) return;
        const status = b.status ?? 200;
        if (b.rawBody !== undefined) {
          res.writeHead(status, { "content-type": "application/json" });
          return res.end(b.rawBody);
        }
        if (req.method !== "POST") {
          res.writeHead(status, { "content-type": "text/plain" });
          return res.end("ok");
        }
        let call: { id?: unknown; method?: string; params?: unknown[] };
        try {
          call = JSON.parse(Buffer.concat(chunks).toString("utf8"));
        } catch {
          res.writeHead(400);
          return res.end();
        }
        res.writeHead(status, { "content-type": "application/json" });
        if (b.rpcError) {
          return res.end(
            JSON.stringify({ jsonrpc: "2.0", id: call.id, error: { code: -32000, message: "boom" } }),
          );
        }
        res.end(
          JSON.stringify({
            jsonrpc: "2.0",
            id: call.id,
            result: this._result(call.method ?? "", b, call.params ?? []),
          }),
        );
      };
      if (b.delayMs) setTimeout(answer, b.delayMs);
      else answer();
    });
  }

  private _result(method: string, b: FakeBehaviour, params: unknown[]): unknown {
    if (b.results && method in b.results) return b.results[method];
    const head = b.blockNumber ?? 100;
    const asked = params[0];
    const byNumber = typeof asked === "string" && asked.startsWith("0x");
    const number = byNumber ? Number(BigInt(asked)) : head;
    switch (method) {
      case "eth_chainId":
        return hex(b.chainId ?? 31337);
      case "eth_blockNumber":
        return hex(head);
      case "eth_getBlockByNumber":
        if (byNumber && (b.unservable || number > head)) return null;
        return {
          number: hex(number),
          hash:
            b.blockHash && number === head
              ? b.blockHash
              : chainHash(
                  b.forkFrom !== undefined && number >= b.forkFrom ? (b.forkTag ?? "fork") : "main",
                  number,
                ),
          timestamp: hex(b.blockTimestamp ?? Math.floor(Date.now() / 1000)),
        };
      case "eth_call": {
        const f = b.feed ?? { roundId: 1n, answer: 1n, startedAt: 1n, updatedAt: 1n, answeredInRound: 1n };
        return AbiCoder.defaultAbiCoder().encode(
          ["uint80", "int256", "uint256", "uint256", "uint80"],
          [f.roundId, f.answer, f.startedAt, f.updatedAt, f.answeredInRound],
        );
      }
      default:
        return null;
    }
  }
}
