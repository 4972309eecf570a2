/**
 * The SSRF guard by address (keepers/attestor/resolve.ts, targets.ts `isPrivateAddress`): a registry target
 * whose name resolves to a private address is refused and never connected to, and a probe's sockets
 * connect only to the address that was checked (no second lookup: DNS rebinding). Names come from an
 * injected resolver (no DNS records can be added here), except one test that uses this machine's own
 * hostname through the system resolver, as an attacker's name would be.
 */
import { expect } from "chai";
import { Wallet } from "ethers";
import dns from "node:dns";
import http from "node:http";
import type { AddressInfo, LookupFunction } from "node:net";
import os from "node:os";
import tls from "node:tls";
import { Attestor } from "../../keepers/attestor/attestor";
import { ClockGuard } from "../../keepers/attestor/clockGuard";
import { attestorConfigSchema } from "../../keepers/attestor/config";
import { reportMetrics } from "../../keepers/attestor/metrics";
import { Prober, type EndpointState } from "../../keepers/attestor/prober";
import { probeHttp } from "../../keepers/attestor/probes/http";
import { ProbeFailure } from "../../keepers/attestor/probes/transport";
import {
  TargetRefused,
  TargetResolver,
  type HostResolver,
  type ResolvedAddress,
} from "../../keepers/attestor/resolve";
import {
  DEFAULT_POLICY,
  staticEndpointSource,
  staticOracleReader,
  type WatchedEndpoint,
} from "../../keepers/attestor/sources";
import { isPrivateAddress } from "../../keepers/attestor/targets";
import { EndpointKind } from "../../keepers/shared/health";
import { createLogger } from "../../keepers/shared/logger";
import { Metrics } from "../../keepers/shared/metrics";
import { tmpDataDir } from "./attestor-helpers";

const SERVICE = "0x" + "5".repeat(64);
const HEAD_HASH = "0x" + "ab".repeat(32);
const PUBLIC = "93.184.216.34";
/** A self-signed test certificate for `rebind.test` (P-256; the client refuses it: only its SNI is read). */
const TLS_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg3SG2zXiz5DPW+IpG
c1MGWowqUYPpUl3s17V5up7fFV6hRANCAAQroEV4DQ7jq0brhC4N+5EYHiDZpZt8
s2XWvlJdHtwrG7zbFICfieiOZDQPrhwpB+f0ZbId+OjVpDVIt1KspWet
-----END PRIVATE KEY-----`;
const TLS_CERT = `-----BEGIN CERTIFICATE-----
MIIBnDCCAUGgAwIBAgIUTuY403hGMmApibtdU0RFrJSJnuEwCgYIKoZIzj0EAwIw
FjEUMBIGA1UEAwwLcmViaW5kLnRlc3QwIBcNMjYxMjAyMDg0MDQ3WhgPMjEyNjEx
MDgwODQwNDdaMBYxFDASBgNVBAMMC3JlYmluZC50ZXN0MFkwEwYHKoZIzj0CAQYI
KoZIzj0DAQcDQgAEK6BFeA0O46tG64QuDfuRGB4g2aWbfLNl1r5SXR7cKxu82xSA
n4nojmQ0D64cKQfn9GWyHfjo1aQ1SLdSrKVnraNrMGkwHQYDVR0OBBYEFFZx7som
JLMVlYCggRKPpNURHV3iMB8GA1UdIwQYMBaAFFZx7somJLMVlYCggRKPpNURHV3i
MA8GA1UdEwEB/wQFMAMBAf8wFgYDVR0RBA8wDYILcmViaW5kLnRlc3QwCgYIKoZI
zj0EAwIDSQAwRgIhAJmMZ1mDwsslI2YwsxQo6ah0efptFlY9mHysX9KiRd37AiEA
5gKck0QXqFECIztMSkLP3AksHXQd0m4AXQQPVcfT+Es=
-----END CERTIFICATE-----`;

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

/** A resolver over a script: call n answers `answers[min(n, last)]` (or rejects with its Error); counts calls. */
function scripted(...answers: Array<readonly ResolvedAddress[] | Error>): HostResolver & { calls: string[] } {
  const calls: string[] = [];
  const f = async (hostname: string) => {
    const a = answers[Math.min(calls.length, answers.length - 1)];
    calls.push(hostname);
    if (a instanceof Error) throw a;
    return a;
  };
  return Object.assign(f, { calls });
}
const v4 = (address: string, ttl?: number): ResolvedAddress => ({ address, family: 4, ttl });
const v6 = (address: string): ResolvedAddress => ({ address, family: 6 });

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

/** Call `net`'s lookup hook the way a socket does. */
function lookupWith(
  lookup: LookupFunction,
  host: string,
  options: dns.LookupOptions,
): Promise<string | dns.LookupAddress[]> {
  return new Promise((resolve, reject) =>
    lookup(host, options, (e, address) => (e ? reject(e) : resolve(address))),
  );
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error("expected a rejection");
}

describe("attestor SSRF guard by address", function () {
  describe("isPrivateAddress", function () {
    for (const a of [
      "127.0.0.1",
      "127.255.0.9",
      "10.1.2.3",
      "172.16.0.1",
      "192.168.1.1",
      "169.254.169.254",
      "100.64.0.1",
      "0.0.0.0",
      "224.0.0.1",
      "255.255.255.255",
      "192.0.2.1",
      "::",
      "::1",
      "[::1]",
      "::127.0.0.1", // IPv4-compatible (deprecated)
      "fe80::1%eth0",
      "fd12:3456::1",
      "ff02::1",
      "2001:db8::1",
      "::ffff:127.0.0.1", // IPv4-mapped
      "::ffff:7f00:1",
      "::ffff:a9fe:a9fe", // 169.254.169.254, IPv4-mapped
      "64:ff9b::7f00:1", // NAT64 of 127.0.0.1
      "64:ff9b::169.254.169.254", // NAT64 of the metadata service
      "2002:7f00:1::1", // 6to4 of 127.0.0.1
      "2002:a00:1::", // 6to4 of 10.0.0.1
      "not-an-address",
    ]) {
      it(`refuses ${a}`, function () {
        expect(isPrivateAddress(a)).to.equal(true);
      });
    }
    for (const a of [
      PUBLIC,
      "8.8.8.8",
      "172.32.0.1",
      "2606:4700::1111",
      "::ffff:8.8.8.8",
      "64:ff9b::808:808",
    ]) {
      it(`allows the public address ${a}`, function () {
        expect(isPrivateAddress(a)).to.equal(false);
      });
    }
  });

  describe("TargetResolver", function () {
    it("refuses a name that resolves to loopback, at the check and at connect time", async function () {
      const r = new TargetResolver({
        allowPrivate: false,
        timeoutMs: 1_000,
        resolve: scripted([v4("127.0.0.1")]),
      });
      const e = await rejection(r.check("http://rebind.test:8545/", 1_000));
      expect(e).to.be.instanceOf(TargetRefused);
      expect(e).to.include({ refusal: "private_target", address: "127.0.0.1" });
      expect(await rejection(lookupWith(r.lookup, "rebind.test", { all: true }))).to.be.instanceOf(
        TargetRefused,
      );
    });

    for (const [what, answer] of [
      ["any of its addresses", [v4(PUBLIC), v4("10.0.0.7")]],
      ["an IPv4-mapped address", [v6("::ffff:127.0.0.1")]],
      ["a NAT64 address of the metadata service", [v6("64:ff9b::a9fe:a9fe")]],
      ["a unique-local IPv6 address", [v4(PUBLIC), v6("fd00::1")]],
    ] as const) {
      it(`refuses a name when ${what} is private`, async function () {
        const r = new TargetResolver({ allowPrivate: false, timeoutMs: 1_000, resolve: scripted(answer) });
        expect(await rejection(r.check("https://rebind.test/", 1_000))).to.be.instanceOf(TargetRefused);
      });
    }

    it("answers a socket only with the checked address: a rebinding answer is never asked for", async function () {
      const resolve = scripted([v4(PUBLIC)], [v4("127.0.0.1")]);
      const r = new TargetResolver({ allowPrivate: false, timeoutMs: 1_000, resolve });
      await r.check("http://rebind.test/", 1_000);
      expect(await lookupWith(r.lookup, "rebind.test", {})).to.equal(PUBLIC);
      expect(await lookupWith(r.lookup, "REBIND.test", { all: true })).to.deep.equal([
        { address: PUBLIC, family: 4 },
      ]);
      expect(resolve.calls).to.deep.equal(["rebind.test"]);
    });

    it("re-checks after cacheMs or the answer's TTL, and then refuses a rebound name", async function () {
      let now = 0;
      const resolve = scripted([v4(PUBLIC, 5)], [v4("127.0.0.1")]);
      const r = new TargetResolver({
        allowPrivate: false,
        timeoutMs: 1_000,
        resolve,
        cacheMs: 30_000,
        now: () => now,
      });
      await r.check("http://rebind.test/", 1_000);
      now = 4_999;
      expect(await lookupWith(r.lookup, "rebind.test", {})).to.equal(PUBLIC);
      expect(resolve.calls.length).to.equal(1);
      now = 5_000; // the TTL (5 s), shorter than cacheMs
      expect(await rejection(lookupWith(r.lookup, "rebind.test", {}))).to.be.instanceOf(TargetRefused);
      expect(await rejection(r.check("http://rebind.test/", 1_000))).to.be.instanceOf(TargetRefused);
      expect(resolve.calls.length).to.equal(2);
    });

    it("shares one resolution among concurrent checks", async function () {
      const resolve = scripted([v4(PUBLIC)]);
      const r = new TargetResolver({ allowPrivate: false, timeoutMs: 1_000, resolve });
      await Promise.all([1, 2, 3].map(() => r.check("http://a.test/", 1_000)));
      expect(resolve.calls.length).to.equal(1);
    });

    it("fails an unresolvable name as unreachable (not a refusal) and asks again next time", async function () {
      const resolve = scripted(Object.assign(new Error("getaddrinfo ENOTFOUND"), { code: "ENOTFOUND" }), [
        v4(PUBLIC),
      ]);
      const r = new TargetResolver({ allowPrivate: false, timeoutMs: 1_000, resolve });
      const e = await rejection(r.check("http://gone.test/", 1_000));
      expect(e).to.be.instanceOf(ProbeFailure).and.not.instanceOf(TargetRefused);
      expect(e).to.include({ failure: "unreachable" });
      await r.check("http://gone.test/", 1_000);
      expect(resolve.calls.length).to.equal(2);
    });

    it("fails a resolution that does not answer within the timeout as a timeout", async function () {
      const r = new TargetResolver({
        allowPrivate: false,
        timeoutMs: 1_000,
        resolve: () => new Promise(() => {}),
      });
      const e = await rejection(r.check("http://slow.test/", 50));
      expect(e).to.be.instanceOf(ProbeFailure).and.include({ failure: "timeout" });
    });

    it("fails an empty answer and an answer that is not an address", async function () {
      for (const answer of [[], [{ address: "evil.test", family: 4 as const }]]) {
        const r = new TargetResolver({ allowPrivate: true, timeoutMs: 1_000, resolve: scripted(answer) });
        const e = await rejection(r.check("http://odd.test/", 1_000));
        expect(e).to.be.instanceOf(ProbeFailure).and.include({ failure: "unreachable" });
      }
    });

    it("judges an address written in the URI as written, without resolving it", async function () {
      const resolve = scripted([v4(PUBLIC)]);
      const r = new TargetResolver({ allowPrivate: false, timeoutMs: 1_000, resolve });
      expect(await rejection(r.check("http://[::ffff:a9fe:a9fe]/", 1_000))).to.be.instanceOf(TargetRefused);
      expect(await r.check("http://8.8.8.8/", 1_000)).to.be.greaterThan(0);
      expect(resolve.calls).to.deep.equal([]);
    });

    it("keeps the name for TLS (SNI) while the socket goes to the checked address", async function () {
      const names: string[] = [];
      const ctx = tls.createSecureContext({ key: TLS_KEY, cert: TLS_CERT });
      const server = tls.createServer({
        key: TLS_KEY,
        cert: TLS_CERT,
        SNICallback: (name, cb) => (names.push(name), cb(null, ctx)),
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      const { port } = server.address() as AddressInfo;
      const resolve = scripted([v4("127.0.0.1")], [v4("192.0.2.1")]);
      const r = new TargetResolver({ allowPrivate: true, timeoutMs: 2_000, resolve });
      try {
        // The client refuses the self-signed certificate: what matters is where it connected and what it sent.
        const e = await rejection(
          probeHttp(`https://rebind.test:${port}/`, { timeoutMs: 2_000, agents: r.agents }),
        );
        expect(e).to.include({ failure: "unreachable" });
        expect(names).to.deep.equal(["rebind.test"]);
        expect(resolve.calls).to.deep.equal(["rebind.test"]);
      } finally {
        r.destroy();
        await new Promise<void>((done) => server.close(() => done()));
      }
    });

    it("gives a socket only addresses of the family it asks for", async function () {
      const r = new TargetResolver({
        allowPrivate: false,
        timeoutMs: 1_000,
        resolve: scripted([v4(PUBLIC)]),
      });
      expect(await rejection(lookupWith(r.lookup, "a.test", { family: 6 }))).to.include({
        code: "ENOTFOUND",
      });
    });
  });

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
