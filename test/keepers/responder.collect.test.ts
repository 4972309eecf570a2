import http from "node:http";
import type { AddressInfo } from "node:net";
import { expect } from "chai";
import { Wallet, Signature, type TypedDataDomain } from "ethers";
import { Metrics } from "../../keepers/shared/metrics";
import { signObservation, type SignedObservation } from "../../keepers/shared/observation";
import {
  assembleBundles,
  collect,
  observationCap,
  ObservationVerifier,
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
          attestor: a3.address,
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
    const { bundles, reports } = await collect(urls, ctx, settings, { metrics });
    // The attestor that never answers was cut off by the per-attestor deadline (collect returned without it).
    expect(reports[6].error).to.match(/time|abort/i);
    expect(bundles).to.have.length(1);
    expect(bundles[0].observations.map((o) => o.signer).sort()).to.deep.equal(
      [a0, a1, a2].map((a) => a.address).sort(),
    );
    // the other-domain signature (EP2) is in no quorum group, so it is never worth recovering; an
    // endpoint this responder does not watch is not invalid, only ignored
    expect(reports[3].rejected).to.deep.equal({
      signature: 1,
      outsider: 1,
      digest: 1,
      stale: 1,
      future: 1,
      round: 1,
      schema: 1,
    });
    expect(reports[3].ignored).to.equal(1);
    expect(reports.slice(4).map((r) => r.outcome)).to.deep.equal(["error", "error", "error", "error"]);
    expect(reports[5].error).to.match(/exceeds/);
    const invalid = await metrics.attestorFetches.get();
    const inv = invalid.values.find((v) => v.labels.attestor === urls[3] && v.labels.outcome === "invalid");
    expect(inv?.value).to.equal(7);
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
    expect(r.bundles).to.have.length(0); // a2 served 9000 and 1000 for one round: not counted
    expect(r.reports[3].rejected).to.deep.equal({ conflict: 2 });
    // the same two values from two URLs that both speak for a2: both signatures valid, equivocation
    r = await collect([...urls, await honest(a2), await honest(a2, [], 1000)], ctx, settings);
    expect(r.bundles).to.have.length(0);
    expect(r.reports[3].rejected).to.deep.equal({ equivocation: 1 });
    r = await collect([...urls, await honest(attestors[3])], ctx, settings);
    expect(r.bundles).to.have.length(1);
  });

  it("takes from one URL only the attestor it speaks for, so a hostile URL cannot suppress a real BAD round", async function () {
    const [a0, a1, a2, a3] = attestors;
    // a3's URL serves forged "GOOD" observations in the name of a0, a1, a2 (validly signed by a3, and
    // with a3's own address swapped in), plus its own GOOD vote; a second URL pretends to be a0.
    const forged = await Promise.all(
      [a0, a1, a2].map(async (a) => ({ ...(await sign(a3, { healthBps: 9500 })), attestor: a.address })),
    );
    const impostor = { ...(await sign(a3, { healthBps: 9500 })), attestor: a0.address };
    const hostile = await attestorServer(
      json({ attestor: a3.address, observations: [...forged, await sign(a3, { healthBps: 9500 })] }),
    );
    const pretender = await attestorServer(json({ attestor: a0.address, observations: [impostor] }));
    const urls = [hostile, pretender, ...(await Promise.all([a0, a1, a2].map((a) => honest(a, [], 1000))))];
    const { bundles, reports } = await collect(urls, ctx, settings);
    expect(bundles).to.have.length(1);
    expect(bundles[0].medianBps).to.equal(1000);
    // a3's own vote is the only GOOD one that counts
    for (const o of bundles[0].observations)
      expect(o.healthBps === 1000 || o.signer === a3.address).to.equal(true);
    expect(reports[0].rejected).to.deep.equal({ identity: 3 });
    expect(reports[0].accepted).to.equal(1);
    expect(reports[1].rejected).to.deep.equal({ signature: 1 });
  });

  it("takes nothing from a response that names no attestor", async function () {
    const o = await sign(attestors[0]);
    const urls = [
      await attestorServer(json({ observations: [o] })),
      await honest(attestors[1]),
      await honest(attestors[2]),
    ];
    const { bundles, reports } = await collect(urls, ctx, settings);
    expect(bundles).to.deep.equal([]);
    expect(reports[0].rejected).to.deep.equal({ identity: 1 });
  });

  it("bounds the signature work a flood of forged claims can cause", async function () {
    const [a0, a1, a2, a3] = attestors;
    const junk = "0x" + "11".repeat(32) + "22".repeat(32) + "1b";
    const flood: unknown[] = [];
    for (let i = 0; i < 5000; i++) {
      const claimed = attestors[i % 4].address;
      const observedAt = NOW - (i % 50);
      flood.push({
        configDigest: DIGEST,
        endpointId: i % 2 ? EP : EP2,
        round: Math.floor(observedAt / ROUND_S),
        healthBps: i % 10_001,
        observedAt,
        attestor: claimed,
        signature: junk,
      });
    }
    let recoveries = 0;
    class Counting extends ObservationVerifier {
      override recover(obs: Parameters<ObservationVerifier["recover"]>[0]) {
        recoveries++;
        return super.recover(obs);
      }
    }
    const hostile = await attestorServer(json({ attestor: a3.address, observations: flood }));
    const urls = [hostile, ...(await Promise.all([a0, a1, a2].map((a) => honest(a, [], 1000))))];
    const big = { ...settings, maxBytes: 4 * 1024 * 1024 };
    const { bundles, reports } = await collect(
      urls,
      { ...ctx, maxObservationsPerResponse: observationCap(2, 60, ROUND_S, 5) },
      big,
      { verifier: new Counting(DOMAIN) },
    );
    expect(bundles).to.have.length(1);
    expect(bundles[0].medianBps).to.equal(1000);
    // three of every four claims name another attestor; a3's own differ within each endpoint and
    // round, so a3 loses its vote for those rounds without a single signature being recovered
    const r = reports[0];
    expect(r.rejected).to.deep.equal({ identity: 3750, conflict: 1250 });
    expect(r.accepted).to.equal(0);
    expect(recoveries).to.equal(3);
    // one claim per endpoint and round over the freshness window, capped per response
    const spread: unknown[] = [];
    for (const endpointId of [EP, EP2])
      for (let k = 0; k < 5; k++) {
        const observedAt = NOW - 2 - k * ROUND_S;
        spread.push({
          configDigest: DIGEST,
          endpointId,
          round: Math.floor(observedAt / ROUND_S),
          healthBps: 9500,
          observedAt,
          attestor: a3.address,
          signature: junk,
        });
      }
    const spreader = await attestorServer(json({ attestor: a3.address, observations: spread }));
    recoveries = 0;
    const capped = await collect(
      [spreader, ...urls.slice(1)],
      { ...ctx, maxObservationsPerResponse: 3 },
      settings,
      { verifier: new Counting(DOMAIN) },
    );
    expect(capped.reports[0]).to.deep.include({ accepted: 3, rejected: { excess: 7, signature: 1 } });
    expect(recoveries).to.be.at.most(4);
    expect(capped.bundles[0].medianBps).to.equal(1000);
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
      await attestorServer(json({ attestor: o.attestor, observations: [{ ...o, signature: flipped }] })),
      await honest(attestors[1]),
      await honest(attestors[2]),
    ];
    const { bundles, reports } = await collect(urls, ctx, settings);
    expect(bundles).to.deep.equal([]);
    expect(reports[0].rejected).to.deep.equal({ signature: 1 });
  });

  it("verifies each served observation once (cached) before using it, and skips rounds already stored", async function () {
    const urls = await Promise.all(attestors.map((a) => honest(a)));
    let recoveries = 0;
    const verifier = new (class extends ObservationVerifier {
      override recover(obs: Parameters<ObservationVerifier["recover"]>[0]) {
        recoveries++;
        return super.recover(obs);
      }
    })(DOMAIN);
    let r = await collect(urls, { ...ctx, storedRoundOf: () => ROUND }, settings, { verifier });
    expect(r.bundles).to.deep.equal([]);
    expect(recoveries).to.equal(0);
    r = await collect(urls, { ...ctx, storedRoundOf: () => ROUND - 1 }, settings, { verifier });
    expect(r.bundles).to.have.length(1);
    expect(recoveries).to.equal(4);
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
