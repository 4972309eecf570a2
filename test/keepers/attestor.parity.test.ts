import { expect } from "chai";
import fc from "fast-check";
import { Wallet } from "ethers";
import { Attestor } from "../../keepers/attestor/attestor";
import { attestorConfigSchema, type AttestorConfigInput } from "../../keepers/attestor/config";
import { comparedHeight, judgeAtHeight, referenceHead, type ParityHead } from "../../keepers/attestor/parity";
import { DEFAULT_POLICY, type WatchedEndpoint } from "../../keepers/attestor/sources";
import { EndpointKind } from "../../keepers/shared/health";
import { createLogger } from "../../keepers/shared/logger";
import { Metrics } from "../../keepers/shared/metrics";
import { FakeRpcServer, chainHash } from "../../scripts/bench/fakeRpc";
import { oracleOf, tmpDataDir } from "./attestor-helpers";

const SERVICE = "0x" + "5".repeat(64);
const idOf = (i: number) => "0x" + i.toString(16).padStart(64, "0");
const head = (id: string, number: number): ParityHead => ({ id, number, hash: chainHash("main", number) });

describe("attestor state parity", function () {
  describe("rules (parity.ts)", function () {
    it("measures lag against the lower median of the other heads, never the maximum", function () {
      const heads = [head("a", 100), head("b", 100), head("liar", 1_000_000)];
      expect(referenceHead("a", heads)).to.equal(100);
      expect(referenceHead("liar", heads)).to.equal(100);
      expect(referenceHead("a", [head("a", 100)])).to.equal(undefined);
    });

    it("compares at the lowest head within the window below the lower median", function () {
      expect(comparedHeight([head("a", 100), head("b", 101), head("c", 99)], 6)).to.equal(99);
      // A laggard (or a liar claiming a low head) cannot drag the compared height below the window.
      expect(comparedHeight([head("a", 100), head("b", 100), head("low", 1)], 6)).to.equal(100);
      expect(comparedHeight([head("a", 100)], 6)).to.equal(undefined);
    });

    it("calls the minority hash a fork, a tie with no reference no_majority, and lets a reference break the tie", function () {
      const [x, y] = [chainHash("main", 7), chainHash("fork", 7)];
      const three = judgeAtHeight(
        7,
        new Map([
          ["a", x],
          ["b", x],
          ["c", y],
        ]),
      );
      expect([...three.values()].map((v) => v.kind)).to.deep.equal(["agree", "agree", "fork"]);
      const tie = judgeAtHeight(
        7,
        new Map([
          ["a", x],
          ["b", y],
        ]),
      );
      expect([...tie.values()].map((v) => v.kind)).to.deep.equal(["no_majority", "no_majority"]);
      const decided = judgeAtHeight(
        7,
        new Map([
          ["a", x],
          ["b", y],
        ]),
        y,
      );
      expect([...decided.values()].map((v) => v.kind)).to.deep.equal(["fork", "agree"]);
      const missing = judgeAtHeight(
        7,
        new Map<string, string | null | undefined>([
          ["a", x],
          ["b", null],
          ["c", x],
        ]),
      );
      expect(missing.get("b")!.kind).to.equal("unverified_head");
    });

    it("never lets a minority of endpoints outvote a majority on one hash (property)", function () {
      fc.assert(
        fc.property(
          fc.integer({ min: 2, max: 9 }),
          fc.array(fc.constantFrom("f1", "f2", "f3", null, undefined), { maxLength: 9 }),
          (honest, others) => {
            fc.pre(honest > others.length);
            const answers = new Map<string, string | null | undefined>();
            for (let i = 0; i < honest; i++) answers.set(`h${i}`, chainHash("main", 5));
            others.forEach((o, i) => answers.set(`o${i}`, typeof o === "string" ? chainHash(o, 5) : o));
            const v = judgeAtHeight(5, answers);
            for (let i = 0; i < honest; i++) expect(v.get(`h${i}`)!.kind).to.equal("agree");
            others.forEach((_, i) => expect(v.get(`o${i}`)!.kind).to.not.equal("agree"));
          },
        ),
      );
    });
  });

  describe("attestor rounds", function () {
    let server: FakeRpcServer;
    let attestor: Attestor;
    let endpoints: WatchedEndpoint[];
    const riseRounds = 3;

    const rpc = (i: number): WatchedEndpoint => ({
      id: idOf(i),
      serviceId: SERVICE,
      kind: EndpointKind.JSON_RPC,
      uri: server.url(`/rpc/${i}`),
      priority: i,
    });

    async function build(over: Partial<AttestorConfigInput> = {}) {
      const config = attestorConfigSchema.parse({
        chain: { rpcUrls: ["http://127.0.0.1:1"], chainId: 31337 },
        contracts: { oracle: "0x" + "99".repeat(20), registry: "0x" + "88".repeat(20) },
        services: [SERVICE],
        expectedChainIds: { [SERVICE]: 31337 },
        allowPrivateTargets: true,
        probeIntervalMs: 60_000,
        timeoutMs: 1_000,
        dataDir: tmpDataDir(),
        ...over,
      });
      attestor = new Attestor({
        config,
        key: Wallet.createRandom().signingKey,
        endpoints: { listEndpoints: async () => endpoints },
        oracle: oracleOf(
          () => ({
            domain: {
              name: "Vigil HealthOracle",
              version: "2",
              chainId: 31337n,
              verifyingContract: "0x" + "99".repeat(20),
            },
            configDigest: "0x" + "a1".repeat(32),
            roundSeconds: 12,
            version: 1,
            attestors: [],
          }),
          () => ({ ...DEFAULT_POLICY, riseRounds }),
        ),
        logger: createLogger("test", { level: "silent" }),
        metrics: new Metrics(false),
      });
      await attestor.refreshOracle();
      await attestor.refreshEndpoints();
    }
    const round = async () => {
      const { outcomes } = await attestor.probeRound();
      return new Map(outcomes.map((o) => [o.endpointId, o]));
    };

    beforeEach(async function () {
      server = await new FakeRpcServer({ chainId: 31337, blockNumber: 100 }).start();
      endpoints = [rpc(1), rpc(2), rpc(3)];
    });
    afterEach(async function () {
      await server.close();
    });

    // The fork diverged at block 95; its head is one behind, level with, or one ahead of its two honest peers.
    for (const [where, forkHead] of [
      ["one block behind", 99],
      ["at equal height", 100],
      ["one block ahead", 101],
    ] as const) {
      it(`scores a node on a diverged fork ${where} its peers 0 (fork), and them 10000`, async function () {
        server.set("/rpc/3", { blockNumber: forkHead, forkFrom: 95 });
        await build();
        const o = await round();
        expect(o.get(idOf(3))).to.include({ healthBps: 0, failure: "fork", reason: "fork" });
        expect(o.get(idOf(3))!.detail).to.match(/^block \d+ is 0x/);
        expect(o.get(idOf(1))).to.include({ healthBps: 10_000, reason: undefined });
        expect(o.get(idOf(2))).to.include({ healthBps: 10_000 });
      });
    }

    it("holds a fork verdict until the node matched the majority for riseRounds rounds in a row", async function () {
      server.set("/rpc/3", { blockNumber: 100, forkFrom: 95 });
      await build();
      expect((await round()).get(idOf(3))).to.include({ failure: "fork" });
      server.reset("/rpc/3", {}); // back on the majority chain
      for (let k = 1; k < riseRounds; k++) {
        const o = (await round()).get(idOf(3))!;
        expect(o, `held in round ${k}`).to.include({ healthBps: 0, failure: "fork" });
        expect(o.detail).to.contain(`${k} of ${riseRounds} rounds`);
      }
      expect((await round()).get(idOf(3))).to.include({ healthBps: 10_000, failure: undefined });
    });

    it("neither lets a node claiming a far head make its peers lag nor passes it when it cannot serve that head", async function () {
      server.set("/rpc/3", { blockNumber: 1_000_000, unservable: true });
      await build();
      const o = await round();
      expect(o.get(idOf(3))).to.include({ healthBps: 0, failure: "unverified_head" });
      expect(o.get(idOf(1))).to.include({ healthBps: 10_000 });
      expect(o.get(idOf(2))).to.include({ healthBps: 10_000 });
    });

    it("does not let a node claiming a far head it can serve make its two peers lag", async function () {
      server.set("/rpc/3", { blockNumber: 1_000_000 });
      await build();
      const o = await round();
      expect(o.get(idOf(1))).to.include({ healthBps: 10_000 });
      expect(o.get(idOf(2))).to.include({ healthBps: 10_000 });
    });

    it("judges a node 10 blocks behind by lag (reason lag), not by parity", async function () {
      server.set("/rpc/3", { blockNumber: 90 });
      await build();
      expect((await round()).get(idOf(3))).to.include({ healthBps: 0, failure: undefined, reason: "lag" });
    });

    it("calls two endpoints that disagree no_majority, not both healthy", async function () {
      endpoints = [rpc(1), rpc(2)];
      server.set("/rpc/2", { forkFrom: 90 });
      await build();
      const o = await round();
      expect(o.get(idOf(1))).to.include({ healthBps: 0, failure: "no_majority" });
      expect(o.get(idOf(2))).to.include({ healthBps: 0, failure: "no_majority" });
    });

    it("lets a configured reference source decide between two endpoints that disagree", async function () {
      endpoints = [rpc(1), rpc(2)];
      server.set("/rpc/2", { forkFrom: 90 });
      await build({ referenceRpcUrls: { [SERVICE]: ["http://127.0.0.1:1/dead", server.url("/reference")] } });
      const o = await round();
      expect(o.get(idOf(1))).to.include({ healthBps: 10_000 });
      expect(o.get(idOf(2))).to.include({ healthBps: 0, failure: "fork" });
    });

    it("does not let a node under a fork hold turn an honest survivor's round into a tie", async function () {
      server.set("/rpc/3", { blockNumber: 100, forkFrom: 95 });
      await build();
      expect((await round()).get(idOf(3))).to.include({ failure: "fork" });
      server.set("/rpc/2", { hang: true }); // one honest endpoint left, beside the held fork
      const o = await round();
      expect(o.get(idOf(1))).to.include({ healthBps: 10_000 });
      expect(o.get(idOf(3))).to.include({ healthBps: 0, failure: "fork" });
    });

    it("checks a lone endpoint against the reference source, a little below its head", async function () {
      endpoints = [rpc(1)];
      server.set("/rpc/1", { forkFrom: 90 });
      server.set("/reference", { blockNumber: 99 }); // a block behind, as another provider often is
      await build({ referenceRpcUrls: { [SERVICE]: [server.url("/reference")] } });
      expect((await round()).get(idOf(1))).to.include({ healthBps: 0, failure: "fork" });
      server.reset("/rpc/1", {});
      await build({ referenceRpcUrls: { [SERVICE]: [server.url("/reference")] } });
      expect((await round()).get(idOf(1))).to.include({ healthBps: 10_000 });
    });

    it("leaves a lone endpoint unjudged by parity without a reference source", async function () {
      endpoints = [rpc(1)];
      server.set("/rpc/1", { forkFrom: 90 });
      await build();
      expect((await round()).get(idOf(1))).to.include({ healthBps: 10_000 });
    });

    it("never compares a node with a peer on another chain (wrong_chain is judged on its own)", async function () {
      server.set("/rpc/3", { chainId: 5, blockNumber: 1_000_000, forkFrom: 0 });
      await build();
      const o = await round();
      expect(o.get(idOf(3))).to.include({ failure: "wrong_chain" });
      expect(o.get(idOf(1))).to.include({ healthBps: 10_000 });
      expect(o.get(idOf(2))).to.include({ healthBps: 10_000 });
    });

    it("serves the reason and detail in /v1/endpoints (endpointSummaries), never a URL", async function () {
      server.set("/rpc/3", { blockNumber: 100, forkFrom: 95 });
      await build();
      await round();
      const row = attestor.endpointSummaries().find((e) => e.id === idOf(3))!;
      expect(row).to.include({ healthBps: 0, failure: "fork", reason: "fork" });
      expect(row.detail).to.be.a("string").and.not.contain("127.0.0.1");
    });
  });
});
