import http from "node:http";
import type { AddressInfo } from "node:net";
import { expect } from "chai";
import { Wallet, type TypedDataDomain } from "ethers";
import { Metrics } from "../../keepers/shared/metrics";
import { decodeValues, domainSeparator, toCalldata } from "../../keepers/shared/report";
import {
  assembleBundles,
  collect,
  evaluateResponses,
  MAX_REPORTS_PER_RESPONSE,
  ReportVerifier,
  sinceRound,
  type ChainContext,
  type FetchedResponse,
} from "../../keepers/responder/collect";
import { endpointId, highS, signReport, sortedWallets } from "./helpers/reports";

const DIGEST = "0x" + "ab".repeat(32);
const ROUND_S = 10;
const NOW = 1_700_000_005;
const ROUND = Math.floor(NOW / ROUND_S);
const IDS = [endpointId(1), endpointId(2), endpointId(3)];
const DOMAIN: TypedDataDomain = {
  name: "Vigil HealthOracle",
  version: "2",
  chainId: 31337n,
  verifyingContract: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
};
const SEP = domainSeparator(DOMAIN);
const good = { healthBps: 9000, badRounds: 0, goodRounds: 9 };

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

describe("responder collect", function () {
  const attestors = sortedWallets(4);
  const outsider = new Wallet(Wallet.createRandom().privateKey);
  let ctx: ChainContext;
  const servers: http.Server[] = [];

  beforeEach(function () {
    ctx = {
      domain: DOMAIN,
      chainId: 31337,
      configDigest: DIGEST,
      attestors: attestors.map((a) => a.address),
      jailed: [],
      quorum: 3,
      roundSeconds: ROUND_S,
      maxSkew: 5,
      now: NOW,
      maxAge: 60,
    };
  });
  afterEach(async function () {
    await Promise.all(
      servers.splice(0).map(
        (s) =>
          new Promise<void>((r) => {
            s.closeAllConnections();
            s.close(() => r());
          }),
      ),
    );
  });
  async function serve(handler: Handler): Promise<string> {
    const server = http.createServer(handler);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    servers.push(server);
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }
  const json =
    (body: unknown): Handler =>
    (_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
  const sign = (w: Wallet, over: Partial<Parameters<typeof signReport>[2]> = {}) =>
    signReport(w, SEP, {
      configDigest: DIGEST,
      roundSeconds: ROUND_S,
      observedAt: NOW - 3,
      endpointIds: IDS,
      values: IDS.map(() => good),
      ...over,
    });
  const envelope = (w: Wallet, reports: unknown[]) => ({
    attestor: w.address,
    configDigest: DIGEST,
    chainId: 31337,
    reports,
  });
  const response = (w: Wallet, reports: unknown[], url = w.address): FetchedResponse => ({
    url,
    attestor: w.address.toLowerCase(),
    configDigest: DIGEST,
    chainId: 31337,
    reports,
  });
  const settings = { timeoutMs: 500, maxBytes: 64 * 1024 };

  it("asks each attestor for the rounds the oracle could still accept and builds one bundle sorted by signer", async function () {
    const queries: string[] = [];
    const urls = await Promise.all(
      [...attestors].reverse().map((w, i) =>
        serve((req, res) => {
          queries.push(req.url!);
          json(envelope(w, [sign(w, { observedAt: NOW - 3 - (i % 2) })]))(req, res);
        }),
      ),
    );
    const { bundles, attestors: outcomes } = await collect(urls, ctx, settings);
    expect(queries).to.deep.equal(Array(4).fill(`/v1/reports?sinceRound=${sinceRound(ctx)}`));
    expect(sinceRound(ctx)).to.equal(Math.floor((NOW - 60) / ROUND_S));
    expect(outcomes.every((o) => o.outcome === "ok" && o.accepted === 1)).to.equal(true);
    expect(bundles).to.have.length(1);
    const b = bundles[0];
    expect(b.round).to.equal(ROUND);
    expect(b.endpointIds).to.deep.equal(IDS);
    expect(b.reports.map((r) => r.signer)).to.deep.equal(attestors.map((a) => a.address));
    expect(b.values).to.deep.equal(b.reports.map((r) => decodeValues(r.values)));
    expect(b.observedAt).to.deep.equal(b.reports.map((r) => r.observedAt));
    for (const r of b.reports) expect(toCalldata(r).vs).to.match(/^0x[0-9a-f]{64}$/);
  });

  it("ignores and counts by reason every invalid report, and still uses the valid ones", async function () {
    const [a, b, c, d] = attestors;
    const jailedCtx = { ...ctx, jailed: [d.address] };
    const unsorted = [IDS[1], IDS[0], IDS[2]];
    const overRange = { ...sign(a), values: "0x" + "2711" + "0009".repeat(1) + "23280009".repeat(2) };
    const cases: Array<[string, unknown]> = [
      ["schema", { ...sign(a), signature: "0x1234" }],
      ["digest", sign(a, { configDigest: "0x" + "cd".repeat(32) })],
      ["round", sign(a, { round: ROUND - 1 })],
      ["future", sign(a, { observedAt: NOW + 6 })],
      ["stale", sign(a, { observedAt: NOW - 61 })],
      ["endpoints", { ...sign(a), endpointIds: unsorted }],
      ["endpoints", sign(a, { endpointIds: [IDS[0], IDS[0]], values: [good, good] })],
      ["values", { ...sign(a), values: "0x23280009" }],
      ["values", overRange],
      ["signature", { ...sign(a), signature: highS(sign(a).signature) }],
      ["signature", { ...sign(a), signature: "0x" + "00".repeat(64) + "1b" }],
      ["identity", { ...sign(b), attestor: a.address }], // served by a's URL, signed by b
      ["identity", sign(b)], // claims b on a's URL
      ["identity", { ...sign(a), values: "0x" + "23280000".repeat(3) }], // payload changed after signing
    ];
    const fetched = [
      response(a, [...cases.map(([, r]) => r), sign(a)]),
      response(b, [sign(b)]),
      response(c, [sign(c)]),
      response(d, [sign(d)]),
      response(outsider, [sign(outsider)]),
    ];
    const metrics = new Metrics(false);
    const res = evaluateResponses(fetched, jailedCtx, { metrics });
    const want: Record<string, number> = {};
    for (const [reason] of cases) want[reason] = (want[reason] ?? 0) + 1;
    expect(res.attestors[0].rejected).to.deep.equal(want);
    expect(res.attestors[0].accepted).to.equal(1);
    expect(res.attestors[3].rejected).to.deep.equal({ jailed: 1 });
    expect(res.attestors[4].rejected).to.deep.equal({ outsider: 1 });
    expect(res.bundles).to.have.length(1);
    expect(res.bundles[0].reports.map((r) => r.signer)).to.deep.equal([a.address, b.address, c.address]);
    const counted = (await metrics.registry.getSingleMetric("vigil_reports_rejected_total")!.get()).values;
    const total = (reason: string) =>
      counted.filter((v) => v.labels.reason === reason).reduce((s, v) => s + v.value, 0);
    for (const [reason, n] of Object.entries(want)) expect(total(reason), reason).to.equal(n);
    expect(total("jailed")).to.equal(1);
    expect(total("outsider")).to.equal(1);
  });

  it("rejects a response for another chain or config digest as a whole", function () {
    const [a, b, c] = attestors;
    const res = evaluateResponses(
      [
        { ...response(a, [sign(a)]), chainId: 1 },
        { ...response(b, [sign(b)]), configDigest: "0x" + "cd".repeat(32) },
        response(c, [sign(c)]),
      ],
      ctx,
    );
    expect(res.attestors.map((o) => o.rejected)).to.deep.equal([{ envelope: 1 }, { envelope: 1 }, {}]);
    expect(res.bundles).to.deep.equal([]);
  });

  it("drops an attestor that signed two different reports for one round, and keeps it as proof", function () {
    const [a, b, c, d] = attestors;
    const other = sign(a, { values: IDS.map(() => ({ healthBps: 0, badRounds: 9, goodRounds: 0 })) });
    const res = evaluateResponses(
      [
        response(a, [sign(a), other], "u1"),
        response(b, [sign(b)]),
        response(c, [sign(c)]),
        response(d, [sign(d)]),
      ],
      ctx,
    );
    expect(res.attestors[0]).to.deep.include({ accepted: 0, rejected: { equivocation: 2 } });
    expect(res.equivocations).to.have.length(1);
    expect(res.equivocations[0]).to.deep.include({ signer: a.address, round: ROUND });
    expect(res.bundles[0].reports.map((r) => r.signer)).to.deep.equal([b.address, c.address, d.address]);
  });

  it("counts the same report served twice, or by two URLs, as one vote and never as equivocation", function () {
    const [a, b, c] = attestors;
    const r = sign(a);
    const res = evaluateResponses(
      [response(a, [r, r], "u1"), response(a, [r], "u2"), response(b, [sign(b)]), response(c, [sign(c)])],
      ctx,
    );
    expect(res.equivocations).to.deep.equal([]);
    expect(res.bundles[0].reports.map((x) => x.signer)).to.deep.equal([a.address, b.address, c.address]);
  });

  it("takes at most MAX_REPORTS_PER_RESPONSE reports from one response, the newest (last served)", function () {
    const [a, b, c] = attestors;
    const flood = Array.from({ length: MAX_REPORTS_PER_RESPONSE + 5 }, () => ({ junk: true }));
    const res = evaluateResponses(
      [
        response(a, [...flood.slice(0, 5), ...flood.slice(5, -1), sign(a)]),
        response(b, [sign(b)]),
        response(c, [sign(c)]),
      ],
      ctx,
    );
    expect(res.attestors[0].rejected).to.deep.equal({ excess: 5, schema: MAX_REPORTS_PER_RESPONSE - 1 });
    expect(res.bundles).to.have.length(1);
  });

  it("chooses the newest round with a quorum, never the newest round alone nor the first answer", function () {
    const [a, b, c, d] = attestors;
    const older = (w: Wallet) => sign(w, { observedAt: NOW - 13 });
    const newer = (w: Wallet) => sign(w, { observedAt: NOW - 3 });
    // Round ROUND has only two signers: the newest round WITH a quorum is ROUND - 1.
    const res = evaluateResponses(
      [
        response(a, [older(a), newer(a)]),
        response(b, [older(b), newer(b)]),
        response(c, [older(c)]),
        response(d, [older(d)]),
      ],
      ctx,
    );
    expect(res.bundles.map((x) => [x.round, x.reports.length])).to.deep.equal([[ROUND - 1, 4]]);
    // A third signer of the newer round makes it the choice, whoever answered first.
    const res2 = evaluateResponses(
      [
        response(d, [older(d)]),
        response(a, [older(a), newer(a)]),
        response(b, [older(b), newer(b)]),
        response(c, [older(c), newer(c)]),
      ],
      ctx,
    );
    expect(res2.bundles.map((x) => [x.round, x.reports.length])).to.deep.equal([
      [ROUND, 3],
      [ROUND - 1, 4],
    ]);
  });

  it("groups by identical endpoint list: with different lists in one round, the largest quorum group wins", function () {
    const [a, b, c, d] = attestors;
    const longer = [...IDS, endpointId(4)];
    const res = evaluateResponses(
      [a, b, c, d].map((w, i) =>
        response(w, [i < 3 ? sign(w) : sign(w, { endpointIds: longer, values: longer.map(() => good) })]),
      ),
      ctx,
    );
    expect(res.bundles).to.have.length(1);
    expect(res.bundles[0].endpointIds).to.deep.equal(IDS);
    // Ranking: newest round first, then the most signers (an attestor signs one list per round, so two
    // quorum groups of one round only exist with more attestors than 4).
    const reports = res.bundles[0].reports;
    const ranked = assembleBundles(
      [...reports, ...reports.slice(0, 2).map((r) => ({ ...r, idsHash: "0x01" }))],
      2,
    );
    expect(ranked.map((x) => x.reports.length)).to.deep.equal([3, 2]);
  });

  it("hashes each distinct endpoint list once and recovers each report once, across loops", function () {
    const verifier = new ReportVerifier(DOMAIN);
    const fetched = attestors.map((w) => response(w, [sign(w)]));
    evaluateResponses(fetched, ctx, { verifier });
    expect(verifier.stats).to.deep.equal({ listHashes: 1, recoveries: 4 });
    evaluateResponses(fetched, ctx, { verifier });
    expect(verifier.stats).to.deep.equal({ listHashes: 1, recoveries: 4 });
  });

  it("survives hostile and broken attestors: hung, oversized, HTTP 500, bad JSON, no envelope", async function () {
    const [a, b, c] = attestors;
    const honest = await Promise.all([a, b, c].map((w) => serve(json(envelope(w, [sign(w)])))));
    const hostile = await Promise.all([
      serve(() => undefined), // never answers
      serve(json({ ...envelope(attestors[3], [sign(attestors[3])]), pad: "x".repeat(settings.maxBytes) })),
      serve((_req, res) => {
        res.writeHead(500);
        res.end();
      }),
      serve((_req, res) => {
        res.writeHead(200);
        res.end("{not json");
      }),
      serve(json({ observations: [] })),
    ]);
    const { bundles, attestors: outcomes } = await collect([...hostile, ...honest], ctx, settings);
    expect(outcomes.slice(0, 5).map((o) => o.outcome)).to.deep.equal(Array(5).fill("error"));
    expect(outcomes.slice(5).map((o) => o.outcome)).to.deep.equal(["ok", "ok", "ok"]);
    expect(bundles).to.have.length(1);
    expect(bundles[0].reports).to.have.length(3);
  });

  it("takes nothing from a response that names no attestor", function () {
    const [a, b, c] = attestors;
    const res = evaluateResponses(
      [{ ...response(a, [sign(a)]), attestor: undefined }, response(b, [sign(b)]), response(c, [sign(c)])],
      ctx,
    );
    expect(res.attestors[0].rejected).to.deep.equal({ identity: 1 });
    expect(res.bundles).to.deep.equal([]);
  });
});
