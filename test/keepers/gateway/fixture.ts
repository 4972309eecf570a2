/**
 * Real nodes for the gateway's tests: a control chain (anvil) with the Vigil contracts deployed from the
 * Hardhat artifacts and four attestors (quorum 3) signing real EIP-712 reports, and service nodes (anvils)
 * each reached through a {@link FaultProxy}, a pass-through JSON-RPC proxy that counts what it forwards and
 * can refuse connections, hang, or swallow answers (forward the request, never answer). Health moves only
 * through `HealthOracle.submit` and the active endpoint only through `EndpointRegistry.migrate`.
 */
import http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { Contract, Wallet, type JsonRpcProvider } from "ethers";
import { gatewayConfigSchema } from "../../../keepers/gateway/config";
import { startGateway, type GatewayHandle } from "../../../keepers/gateway/run";
import { parseConfig } from "../../../keepers/shared/config";
import { createLogger } from "../../../keepers/shared/logger";
import { AttestorPanel, submitArgs } from "../../helpers/attest";
import { Anvil, ANVIL_KEYS, deployArtifact } from "../helpers/anvil";

export const ROUND_SECONDS = 10;
export const POLICY = {
  downBelowBps: 5000,
  upAtBps: 8000,
  fallRounds: 1,
  riseRounds: 1,
  heartbeat: 3600,
  maxAge: 600,
};
export const HEALTHY = 9800;
export const DOWN = 0;
export const DEGRADED = 6000;

/** What a {@link FaultProxy} does with a request. */
export type ProxyMode = "pass" | "refuse" | "hang" | "swallow";

/**
 * A loopback JSON-RPC proxy in front of a node. `pass` forwards; `refuse` closes the listener (connection
 * refused) and every open connection; `hang` reads requests and never answers; `swallow` forwards the
 * request to the node and never answers (the node acted on it, the client cannot know).
 */
export class FaultProxy {
  /** Methods received (any mode), in order. */
  readonly methods: string[] = [];
  /** Requests received per request path with query (clients may tag their URL, e.g. `?client=viem`). */
  readonly byPath = new Map<string, number>();
  private mode: ProxyMode = "pass";
  private readonly sockets = new Set<Socket>();
  private readonly server: http.Server;
  private port = 0;

  private constructor(private readonly target: string) {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    this.server.on("connection", (s) => {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
  }

  static async start(target: string): Promise<FaultProxy> {
    const p = new FaultProxy(target);
    await p.listen();
    return p;
  }

  /** URL clients use; the path carries a fake API key that must never reach a log. */
  get url(): string {
    return `http://127.0.0.1:${this.port}/v2/SECRETKEY${this.port}`;
  }

  /** How many requests of `method` arrived. */
  count(method?: string): number {
    return method ? this.methods.filter((m) => m === method).length : this.methods.length;
  }

  async setMode(mode: ProxyMode): Promise<void> {
    if (mode === this.mode) return;
    if (this.mode === "refuse") await this.listen();
    this.mode = mode;
    if (mode === "refuse") {
      await new Promise<void>((resolve) => {
        this.server.close(() => resolve());
        for (const s of this.sockets) s.destroy();
        // Also every connection the server knows that had not reached the 'connection' handler's set:
        // close() resolves only once none is left open.
        this.server.closeAllConnections();
      });
    }
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    if (this.server.listening) await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(this.port, "127.0.0.1", () => resolve()));
    this.port = (this.server.address() as AddressInfo).port;
  }

  /** Requests received whose path ends with `suffix` (a client's tag, e.g. `?client=viem`). */
  countPath(suffix: string): number {
    let n = 0;
    for (const [p, c] of this.byPath) if (p.endsWith(suffix)) n += c;
    return n;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = req.url ?? "/";
    this.byPath.set(path, (this.byPath.get(path) ?? 0) + 1);
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString("utf8");
    try {
      const parsed = JSON.parse(body) as { method?: string } | { method?: string }[];
      for (const call of Array.isArray(parsed) ? parsed : [parsed]) this.methods.push(String(call.method));
    } catch {
      this.methods.push("(unparsable)");
    }
    if (this.mode === "hang") return;
    const answer = await fetch(this.target, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });
    const text = await answer.text();
    if (this.mode === "swallow") return;
    res.writeHead(answer.status, { "content-type": "application/json" });
    res.end(text);
  }
}

/** One endpoint of a test service: its proxy and id. */
export interface TestEndpoint {
  id: string;
  proxy: FaultProxy;
  priority: number;
}

/** A registered service with its endpoints (in order of addition). */
export interface TestService {
  id: string;
  name: string;
  endpoints: TestEndpoint[];
}

/** The control chain with the Vigil contracts, and helpers to move health and migrate. */
export class ControlChain {
  /** Health every attestor reports per endpoint id this round; endpoints not in it are not reported. */
  readonly health = new Map<string, number>();
  private chainTime = 0;
  private proxies: FaultProxy[] = [];
  private serial = 0;

  private constructor(
    readonly anvil: Anvil,
    readonly provider: JsonRpcProvider,
    readonly oracle: Contract,
    readonly registry: Contract,
    private readonly panel: AttestorPanel,
    readonly admin: Wallet,
    readonly keeper: Wallet,
  ) {}

  static async start(): Promise<ControlChain> {
    const anvil = await Anvil.start();
    try {
      const provider = anvil.provider(100);
      const admin = new Wallet(ANVIL_KEYS[0], provider);
      const keeper = new Wallet(ANVIL_KEYS[1], provider);
      const attestors = ANVIL_KEYS.slice(5, 9).map((k) => new Wallet(k));
      const sorted = [...attestors].sort((a, b) => (BigInt(a.address) < BigInt(b.address) ? -1 : 1));
      const oracle = await deployArtifact(
        "HealthOracle",
        [admin.address, ROUND_SECONDS, 15, 500_000, POLICY],
        admin,
      );
      await (
        await oracle.setAttestors(
          sorted.map((a) => a.address),
          3,
        )
      ).wait();
      const registry = await deployArtifact("EndpointRegistry", [await oracle.getAddress()], admin);
      const panel = new AttestorPanel(attestors, () => POLICY);
      const c = new ControlChain(anvil, provider, oracle, registry, panel, admin, keeper);
      c.chainTime = (await provider.getBlock("latest"))!.timestamp;
      return c;
    } catch (e) {
      await anvil.stop();
      throw e;
    }
  }

  /**
   * Register a service whose endpoints are proxies in front of `nodes` (one per entry; a node may be
   * repeated: two endpoints of one chain), with priorities `priorities` (default 0, 1, 2, …).
   */
  async service(nodes: readonly Anvil[], priorities?: readonly number[]): Promise<TestService> {
    const name = `svc-${++this.serial}`;
    const config = { cooldown: 0, recoveryPeriod: 0 };
    const id = ((await this.registry.registerService.staticCall(name, config)) as string).toLowerCase();
    await (await this.registry.registerService(name, config)).wait();
    const endpoints: TestEndpoint[] = [];
    for (const [i, node] of nodes.entries()) {
      const proxy = await FaultProxy.start(node.url);
      this.proxies.push(proxy);
      const priority = priorities?.[i] ?? i;
      const epId = (
        (await this.registry.addEndpoint.staticCall(id, 0, proxy.url, priority)) as string
      ).toLowerCase();
      await (await this.registry.addEndpoint(id, 0, proxy.url, priority)).wait();
      endpoints.push({ id: epId, proxy, priority });
    }
    return { id, name, endpoints };
  }

  /** Set what every attestor reports for these endpoints (bps; undefined: stop reporting it). */
  set(values: [TestEndpoint, number | undefined][]): void {
    for (const [e, v] of values) {
      if (v === undefined) this.health.delete(e.id);
      else this.health.set(e.id, v);
    }
  }

  /** One report round on chain time over {@link health}, relayed with `submit`. */
  async round(): Promise<void> {
    // A test may have moved chain time itself (evm_increaseTime): never stamp a block before the latest.
    this.chainTime = Math.max(this.chainTime, (await this.provider.getBlock("latest"))!.timestamp);
    this.chainTime = (Math.floor(this.chainTime / ROUND_SECONDS) + 1) * ROUND_SECONDS;
    const endpointIds = [...this.health.keys()];
    const signed = await this.panel.sign(this.oracle as never, {
      endpointIds,
      observedAt: this.chainTime,
      health: (_s, e) => this.health.get(endpointIds[e])!,
    });
    await this.anvil.send("evm_setNextBlockTimestamp", [this.chainTime + 1]);
    await (await (this.oracle.connect(this.keeper) as Contract).submit(...submitArgs(signed))).wait();
    this.chainTime += 1;
  }

  /** `registry.migrate(service)` by a keeper with no role. */
  async migrate(serviceId: string): Promise<void> {
    await (await (this.registry.connect(this.keeper) as Contract).migrate(serviceId)).wait();
  }

  /** Stop every proxy made and the node. */
  async stop(): Promise<void> {
    await Promise.all(this.proxies.map((p) => p.stop()));
    this.provider.destroy();
    await this.anvil.stop();
  }
}

/** POST one JSON-RPC body (object or array) to `url`; returns the HTTP status and the parsed body. */
export async function post(url: string, body: unknown, raw?: string): Promise<{ status: number; body: any }> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: raw ?? JSON.stringify(body),
  });
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) };
  } catch {
    return { status: res.status, body: text };
  }
}

/** One JSON-RPC call through `url`. */
export function call(url: string, method: string, params: unknown[] = [], id: unknown = 1) {
  return post(url, { jsonrpc: "2.0", id, method, params });
}

/** Log lines written by a test gateway (JSON), for the redaction checks. */
export class LogSink {
  readonly lines: string[] = [];
  readonly stream = { write: (s: string) => void this.lines.push(s) };
  get text(): string {
    return this.lines.join("");
  }
}

/**
 * Start a gateway on a free port for `services` of `chain`, with fast polling; `over` overrides config keys.
 * Logs at debug into `sink` (or nowhere).
 */
export async function startTestGateway(
  chain: ControlChain,
  services: { name: string; id: string; chainId: number }[],
  over: Record<string, unknown> = {},
  sink?: LogSink,
): Promise<GatewayHandle> {
  const config = parseConfig(gatewayConfigSchema, {
    chain: { rpcUrls: [chain.anvil.url], chainId: chain.anvil.chainId },
    contracts: { oracle: await chain.oracle.getAddress(), registry: await chain.registry.getAddress() },
    http: { host: "127.0.0.1", port: 0 },
    log: { level: "debug" },
    services,
    pollIntervalMs: 200,
    eventIntervalMs: 100,
    deadlineMs: 3000,
    attemptTimeoutMs: 1000,
    ...over,
  });
  const logger = createLogger("gateway-test", {
    level: sink ? "debug" : (process.env.VIGIL_TEST_LOG ?? "silent"),
    destination: sink?.stream,
  });
  return startGateway(config, { logger });
}

/** The value of a prom-client counter or gauge for exactly `labels` (0 when never set). */
export async function metricValue(
  metric: { get(): Promise<{ values: { labels: Record<string, unknown>; value: number }[] }> },
  labels: Record<string, string>,
): Promise<number> {
  const { values } = await metric.get();
  const hit = values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x));
  return hit?.value ?? 0;
}
