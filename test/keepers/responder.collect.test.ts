import http from "node:http";
import type { AddressInfo } from "node:net";
import { expect } from "chai";
import { Wallet, Signature, type TypedDataDomain } from "ethers";
import { Metrics } from "../../keepers/shared/metrics";
import { signObservation, type SignedObservation } from "../../keepers/shared/observation";
import {
  assembleBundles,
  collect,
  verifyObservation,
  type ChainContext,
} from "../../keepers/responder/collect";

const DIGEST = "0x" + "ab".repeat(32);
const EP = "0x" + "11".repeat(32);
const EP2 = "0x" + "22".repeat(32);
const ROUND_S = 12;
const NOW = 1_700_000_010;
const ROUND = Math.floor(NOW / ROUND_S);
const DOMAIN: TypedDataDomain = {
  name: "Vigil HealthOracle",
  version: "1",
  chainId: 31337n,
  verifyingContract: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
};

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

async function serve(handler: Handler): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
const json =
  (body: unknown): Handler =>
  (_req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  };

async function sign(
  w: Wallet,
  over: Partial<SignedObservation> = {},
  domain = DOMAIN,
): Promise<SignedObservation> {
  const obs = {
    configDigest: DIGEST,
    endpointId: EP,
    round: ROUND,
    healthBps: 9000,
    observedAt: NOW - 2,
    ...over,
  };
  if (over.observedAt !== undefined && over.round === undefined)
    obs.round = Math.floor(obs.observedAt / ROUND_S);
  return {
    ...obs,
    attestor: w.address,
    signature: over.signature ?? (await signObservation(w, domain, obs)),
  };
}

describe("responder collect", function () {
  const attestors = Array.from({ length: 4 }, () => new Wallet(Wallet.createRandom().privateKey));
  const outsider = new Wallet(Wallet.createRandom().privateKey);
  let ctx: ChainContext;
  const servers: Array<{ close: () => Promise<void> }> = [];

  beforeEach(function () {
    ctx = {
      domain: DOMAIN,
      configDigest: DIGEST,
      attestors: attestors.map((a) => a.address),
      quorum: 3,
      roundSeconds: ROUND_S,
      maxSkew: 5,
      now: NOW,
      maxAgeOf: (id) => ([EP, EP2].includes(id) ? 60 : undefined),
    };
  });
  afterEach(async function () {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });
  async function attestorServer(handler: Handler): Promise<string> {
    const s = await serve(handler);
    servers.push(s);
    return s.url;
  }
  async function honest(w: Wallet, extra: SignedObservation[] = [], bps = 9000): Promise<string> {
    const obs = [await sign(w, { healthBps: bps }), ...extra];
    return attestorServer(
      json({ attestor: w.address, configDigest: DIGEST, chainId: 31337, observations: obs }),
    );
  }
  const settings = { timeoutMs: 500, maxBytes: 64 * 1024 };

  it("builds a quorum bundle sorted by signer with EIP-2098 signatures and the oracle's median", async function () {
    const urls = await Promise.all(attestors.map((a, i) => honest(a, [], [9000, 8000, 10000, 7000][i])));
    const { bundles, reports } = await collect(urls, ctx, settings);
    expect(reports.every((r) => r.outcome === "ok" && r.accepted === 1)).to.equal(true);
    expect(bundles).to.have.length(1);
    const b = bundles[0];
    expect(b.round).to.equal(ROUND);
    expect(b.observations).to.have.length(3);
    const signers = b.observations.map((o) => BigInt(o.signer));
    expect([...signers].sort((x, y) => (x < y ? -1 : 1))).to.deep.equal(signers);
    expect(new Set(signers).size).to.equal(3);
    for (const o of b.observations) expect(o.signature).to.match(/^0x[0-9a-f]{128}$/);
    const byAddr = new Map(attestors.map((a, i) => [a.address, [9000, 8000, 10000, 7000][i]]));
    const values = b.observations.map((o) => byAddr.get(o.signer)!).sort((x, y) => x - y);
    expect(b.medianBps).to.equal(values[1]);
  });

  it("excludes hostile attestors and still uses the others", async function () {
    const metrics = new Metrics(false);
    const [a0, a1, a2, a3] = attestors;
    const other = new Wallet(Wallet.createRandom().privateKey);
    const badSig = await sign(a3);
    badSig.signature = (await sign(other)).signature; // valid signature by someone else
    const urls = [
      await honest(a0),
      await honest(a1),
      await honest(a2),
      // bad signature, outsider, wrong digest, stale, future, wrong round, other domain
      await attestorServer(
        json({
          observations: [
            badSig,
            await sign(outsider),
            await sign(a3, { configDigest: "0x" + "cd".repeat(32) }),
            await sign(a3, { endpointId: EP2, observedAt: NOW - 61 }),
            await sign(a3, { endpointId: EP2, observedAt: NOW + 6 }),
            await sign(a3, { endpointId: EP2, round: ROUND + 1 }),
            await sign(a3, { endpointId: EP2 }, { ...DOMAIN, chainId: 1n }),
            await sign(a3, { endpointId: "0x" + "33".repeat(32) }),
            { nonsense: true },
          ],
        }),
      ),
      // malformed JSON
      await attestorServer((_q, res) => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end("{ not json");
      }),
      // huge response
      await attestorServer((_q, res) => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ observations: [], pad: "x".repeat(200 * 1024) }));
      }),
      // never answers
      await attestorServer(() => undefined),
      // HTTP error
      await attestorServer((_q, res) => {
        res.writeHead(500);
        res.end();
      }),
    ];
    const started = Date.now();
    const { bundles, reports } = await collect(urls, ctx, settings, { metrics });
    expect(Date.now() - started).to.be.below(2_000);
    expect(bundles).to.have.length(1);
    expect(bundles[0].observations.map((o) => o.signer).sort()).to.deep.equal(
      [a0, a1, a2].map((a) => a.address).sort(),
    );
    // the other-domain signature (EP2) is in no quorum group, so it is never worth recovering
    expect(reports[3].rejected).to.deep.equal({
      signature: 1,
      outsider: 1,
      digest: 1,
      stale: 1,
      future: 1,
      round: 1,
      unknown_endpoint: 1,
      schema: 1,
    });
    expect(reports.slice(4).map((r) => r.outcome)).to.deep.equal(["error", "error", "error", "error"]);
    expect(reports[5].error).to.match(/exceeds/);
    const invalid = await metrics.attestorFetches.get();
    const inv = invalid.values.find((v) => v.labels.attestor === urls[3] && v.labels.outcome === "invalid");
    expect(inv?.value).to.equal(8);
  });

  it("counts an attestor once however often it is served, and drops one that equivocates", async function () {
    const [a0, a1, a2] = attestors;
    const dup = await sign(a0);
    const urls = [
      await honest(a0, [dup, dup]),
      await honest(a0), // a second server claiming the same attestor
      await honest(a1),
    ];
    let r = await collect(urls, ctx, settings);
    expect(r.bundles).to.have.length(0); // two distinct signers < quorum 3
    const conflicting = await sign(a2, { healthBps: 1000 });
    r = await collect([...urls, await honest(a2, [conflicting])], ctx, settings);
    expect(r.bundles).to.have.length(0); // a2 signed 9000 and 1000 for one round: not counted
    r = await collect([...urls, await honest(attestors[3])], ctx, settings);
    expect(r.bundles).to.have.length(1);
  });

  it("rejects high-s (malleable) signatures", async function () {
    const o = await sign(attestors[0]);
    const sig = Signature.from(o.signature);
    const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
    const highS = "0x" + (n - BigInt(sig.s)).toString(16).padStart(64, "0");
    const flipped = sig.r + highS.slice(2) + (sig.v === 27 ? "1c" : "1b");
    expect(
      verifyObservation(
        { ...o, signature: flipped },
        ctx,
        new Set(ctx.attestors.map((a) => a.toLowerCase())),
      ),
    ).to.deep.equal({ ok: false, reason: "signature" });
    const urls = [
      await attestorServer(json({ observations: [{ ...o, signature: flipped }] })),
      await honest(attestors[1]),
      await honest(attestors[2]),
    ];
    const { bundles, reports } = await collect(urls, ctx, settings);
    expect(bundles).to.deep.equal([]);
    expect(reports[0].rejected).to.deep.equal({ signature: 1 });
  });

  it("recovers signatures only for rounds the decide rule wants, and skips rounds already stored", async function () {
    const urls = await Promise.all(attestors.map((a) => honest(a)));
    const asked: number[] = [];
    let r = await collect(
      urls,
      { ...ctx, wanted: (_id, round, median) => (asked.push(median), false) },
      settings,
    );
    expect(r.bundles).to.deep.equal([]);
    expect(asked).to.deep.equal([9000]);
    r = await collect(urls, { ...ctx, storedRoundOf: () => ROUND }, settings);
    expect(r.bundles).to.deep.equal([]);
    r = await collect(urls, { ...ctx, storedRoundOf: () => ROUND - 1, wanted: () => true }, settings);
    expect(r.bundles).to.have.length(1);
  });

  describe("assembleBundles", function () {
    it("takes the newest complete round per endpoint", async function () {
      const [a0, a1, a2] = attestors;
      const older = await Promise.all([a0, a1, a2].map((a) => sign(a, { observedAt: NOW - 14 })));
      const newerPartial = await Promise.all([a0, a1].map((a) => sign(a)));
      const verified = [...older, ...newerPartial].map((obs) => ({ obs, signer: obs.attestor }));
      const { bundles } = assembleBundles(verified, 3);
      expect(bundles).to.have.length(1);
      expect(bundles[0].round).to.equal(Math.floor((NOW - 14) / ROUND_S));
    });
  });
});
