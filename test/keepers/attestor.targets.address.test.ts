/**
 * The SSRF guard by address in the prober and the attestor (keepers/attestor/resolve.ts): a registry target
 * whose name resolves to a private address is refused and never connected to, and a probe's sockets connect
 * only to the address that was checked (no second lookup: DNS rebinding). Names come from a scripted
 * resolver (no DNS records can be added here), except one test that uses this machine's own hostname through
 * the system resolver, as an attacker's name would be. Units: attestor.targets.resolve.test.ts.
 */
import { expect } from "chai";
import { Wallet } from "ethers";
import dns from "node:dns";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import { Attestor } from "../../keepers/attestor/attestor";
import { ClockGuard } from "../../keepers/attestor/clockGuard";
import { attestorConfigSchema } from "../../keepers/attestor/config";
import { reportMetrics } from "../../keepers/attestor/metrics";
import { Prober, type EndpointState } from "../../keepers/attestor/prober";
import type { HostResolver } from "../../keepers/attestor/resolve";
import {
  DEFAULT_POLICY,
  staticEndpointSource,
  staticOracleReader,
  type WatchedEndpoint,
} from "../../keepers/attestor/sources";
import { EndpointKind } from "../../keepers/shared/health";
import { createLogger } from "../../keepers/shared/logger";
import { Metrics } from "../../keepers/shared/metrics";
import { tmpDataDir } from "./attestor-helpers";
import { scripted, v4 } from "./attestor.targets.fixtures";

const SERVICE = "0x" + "5".repeat(64);
const HEAD_HASH = "0x" + "ab".repeat(32);

/** A loopback JSON-RPC and HTTP server that counts TCP connections and records each request's Host header. */
class CountingServer {
  connections = 0;
  readonly hosts: string[] = [];
  private readonly _server = http.createServer((req, res) => {
    this.hosts.push(req.headers.host ?? "");
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (req.method !== "POST") return void res.end("ok");
      const { id, method } = JSON.parse(Buffer.concat(chunks).toString()) as { id: number; method: string };
      const block = {
        number: "0x64",
        hash: HEAD_HASH,
        timestamp: "0x" + Math.floor(Date.now() / 1000).toString(16),
      };
      const result = method === "eth_chainId" ? "0x7a69" : block;
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ jsonrpc: "2.0", id, result }));
    });
  });
  port = 0;

  async start(): Promise<this> {
    this._server.on("connection", () => this.connections++);
    await new Promise<void>((resolve) => this._server.listen(0, "127.0.0.1", resolve));
    this.port = (this._server.address() as AddressInfo).port;
    return this;
  }

  async close(): Promise<void> {
    this._server.closeAllConnections();
    await new Promise<void>((resolve) => this._server.close(() => resolve()));
  }
}

function config(allowPrivateTargets: boolean, timeoutMs = 1_000) {
  return attestorConfigSchema.parse({
    chain: { rpcUrls: ["http://127.0.0.1:1"], chainId: 31337 },
    contracts: { oracle: "0x" + "99".repeat(20), registry: "0x" + "88".repeat(20) },
    services: [SERVICE],
    expectedChainIds: { [SERVICE]: 31337 },
    allowPrivateTargets,
    probeIntervalMs: 5_000,
    timeoutMs,
    dataDir: tmpDataDir(),
  });
}

const endpoint = (i: number, uri: string, kind = EndpointKind.JSON_RPC): WatchedEndpoint => ({
  id: "0x" + i.toString(16).padStart(64, "0"),
  serviceId: SERVICE,
  kind,
  uri,
  priority: i,
});

function proberFor(resolve: HostResolver, allowPrivateTargets: boolean, timeoutMs?: number) {
  const c = config(allowPrivateTargets, timeoutMs);
  const metrics = new Metrics(false);
  const log = createLogger("test", { level: "silent" });
  const clock = new ClockGuard({ config: c, metrics: reportMetrics(metrics), log, now: Date.now });
  const prober = new Prober({ config: c, metrics, log, now: Date.now, clock, resolve });
  const stateOf = (ep: WatchedEndpoint): EndpointState => ({
    endpoint: ep,
    log,
    kindLabel: EndpointKind[ep.kind].toLowerCase(),
    policy: DEFAULT_POLICY,
    window: [],
  });
  return { prober, metrics, stateOf };
}

describe("attestor SSRF guard by address", function () {
  describe("in the prober", function () {
    let server: CountingServer;
    beforeEach(async function () {
      server = await new CountingServer().start();
    });
    afterEach(async function () {
      await server.close();
    });

    it("never connects to a name that resolves to 127.0.0.1, and counts the refusal", async function () {
      const resolve = scripted([v4("127.0.0.1")]);
      const { prober, metrics, stateOf } = proberFor(resolve, false);
      const outcomes = await prober.probeAll([
        stateOf(endpoint(1, `http://rebind.test:${server.port}/rpc`)),
        stateOf(endpoint(2, `http://127.0.0.1.nip.io:${server.port}/web`, EndpointKind.HTTP)),
      ]);
      expect(outcomes, "no outcome: nothing to sign").to.deep.equal([]);
      expect(server.connections, "connections to the loopback server").to.equal(0);
      expect(resolve.calls).to.have.members(["rebind.test", "127.0.0.1.nip.io"]);
      expect(await metrics.registry.metrics()).to.contain(
        'vigil_probes_refused_total{reason="private_target"} 2',
      );
    });

    it("connects to the address it checked, never to a second lookup's answer", async function () {
      // The first answer is checked (allowed: allowPrivateTargets) and pinned; every later answer would send
      // the socket to a documentation address that never answers, and the system resolver knows no such name.
      const resolve = scripted([v4("127.0.0.1")], [v4("192.0.2.1")]);
      const { prober, metrics, stateOf } = proberFor(resolve, true);
      const states = [
        stateOf(endpoint(1, `http://rebind.test:${server.port}/rpc`)),
        stateOf(endpoint(2, `http://rebind.test:${server.port}/web`, EndpointKind.HTTP)),
      ];
      for (let round = 0; round < 2; round++) {
        const outcomes = await prober.probeAll(states);
        expect(
          outcomes.map((o) => o.failure),
          JSON.stringify(outcomes),
        ).to.deep.equal([undefined, undefined]);
      }
      expect(server.connections).to.be.greaterThan(0);
      expect(
        resolve.calls,
        "one resolution for the checks, the sockets and the parity fetches",
      ).to.deep.equal(["rebind.test"]);
      expect(new Set(server.hosts), "the Host header keeps the name").to.deep.equal(
        new Set([`rebind.test:${server.port}`]),
      );
      expect(await metrics.registry.metrics()).to.not.contain("vigil_probes_refused_total{");
    });

    it("scores an unresolvable name unreachable, and a resolver that never answers a timeout", async function () {
      const gone = proberFor(scripted(Object.assign(new Error("ENOTFOUND"), { code: "ENOTFOUND" })), false);
      const [o1] = await gone.prober.probeAll([gone.stateOf(endpoint(1, "http://gone.test/"))]);
      expect(o1).to.include({ failure: "unreachable", healthBps: 0 });
      expect(o1.detail).to.match(/name resolution failed/);
      expect(await gone.metrics.registry.metrics()).to.not.contain("vigil_probes_refused_total{");

      const hung = proberFor(() => new Promise(() => {}), false, 200);
      const [o2] = await hung.prober.probeAll([hung.stateOf(endpoint(1, "http://slow.test/"))]);
      expect(o2).to.include({ failure: "timeout", healthBps: 0 });
    });
  });

  describe("in the attestor, through the system resolver", function () {
    let server: CountingServer;
    beforeEach(async function () {
      server = await new CountingServer().start();
    });
    afterEach(async function () {
      await server.close();
    });

    it("neither probes nor signs this machine's hostname when it resolves to loopback", async function () {
      const name = os.hostname().toLowerCase();
      const answers = await dns.promises.lookup(name, { all: true }).catch(() => []);
      if (name === "localhost" || !answers.length || !answers.every((a) => a.address === "127.0.0.1")) {
        this.skip(); // the finding needs a real name that resolves to 127.0.0.1 (most hosts map their own name)
      }
      const wallet = Wallet.createRandom();
      const metrics = new Metrics(false);
      const attestor = new Attestor({
        config: config(false),
        key: wallet.signingKey,
        endpoints: staticEndpointSource([endpoint(1, `http://${name}:${server.port}/rpc`)]),
        oracle: staticOracleReader({ attestors: [wallet.address] }),
        logger: createLogger("test", { level: "silent" }),
        metrics,
      });
      await attestor.refreshOracle();
      await attestor.refreshEndpoints();
      const { outcomes, report } = await attestor.probeRound();
      expect(server.connections, "connections to the loopback server").to.equal(0);
      expect(outcomes).to.deep.equal([]);
      expect(report).to.equal(undefined);
      expect(attestor.store.size).to.equal(0);
      expect(await metrics.registry.metrics()).to.contain(
        'vigil_probes_refused_total{reason="private_target"} 1',
      );
    });
  });
});
