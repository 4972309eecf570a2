/**
 * The SSRF guard by address, unit by unit: which addresses are refused (targets.ts `isPrivateAddress`), and
 * the TargetResolver (resolve.ts) that resolves a name, judges every address, and answers a socket's lookup
 * only with checked addresses (no second lookup: DNS rebinding). Names come from a scripted resolver.
 */
import { expect } from "chai";
import type dns from "node:dns";
import type { AddressInfo, LookupFunction } from "node:net";
import tls from "node:tls";
import { probeHttp } from "../../keepers/attestor/probes/http";
import { ProbeFailure } from "../../keepers/attestor/probes/transport";
import { TargetRefused, TargetResolver } from "../../keepers/attestor/resolve";
import { isPrivateAddress } from "../../keepers/attestor/targets";
import { PUBLIC, rejection, scripted, v4, v6 } from "./attestor.targets.fixtures";

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

describe("attestor SSRF guard by address: units", function () {
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
});
