/**
 * The responder proves equivocation on a real node: anvil as the control chain, HealthOracle + EndpointRegistry
 * deployed from the Hardhat artifacts, four in-test attestors (quorum 3) behind a tiny HTTP server, one of which
 * serves two different signed reports for every round. The responder's own `proveEquivocation` jails it, once; the
 * remaining three still make a quorum.
 */
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import type { AddressInfo } from "node:net";
import { expect } from "chai";
import hre from "hardhat";
import { Contract, JsonRpcProvider, Wallet } from "ethers";
import { createLogger } from "../../keepers/shared/logger";
import { Metrics } from "../../keepers/shared/metrics";
import { nextStreaks } from "../../keepers/shared/quorum";
import { domainSeparator, sortEndpointIds, type SignedReport } from "../../keepers/shared/report";
import { Status } from "../../keepers/shared/health";
import { parseResponderConfig } from "../../keepers/responder/config";
import { Outbox } from "../../keepers/responder/outbox";
import { readDomain, startResponder, type ResponderHandle } from "../../keepers/responder/responder";
import { Anvil, ANVIL_KEYS, deployArtifact } from "./helpers/anvil";
import { signReport } from "./helpers/reports";
import { until } from "./helpers/until";

const ROUND = 10;
const POLICY = {
  downBelowBps: 5000,
  upAtBps: 8000,
  fallRounds: 1,
  riseRounds: 1,
  heartbeat: 300,
  maxAge: 60,
};
const NEEDED = ["HealthOracle", "EndpointRegistry"];
const logger = createLogger("test", { level: process.env.VIGIL_TEST_LOG ?? "silent" });

describe("responder equivocation proofs (real contracts on anvil)", function () {
  this.timeout(180_000);
  let anvil: Anvil;
  let provider: JsonRpcProvider;
  let admin: Wallet;
  let oracle: Contract, registry: Contract;
  let serviceId: string;
  let endpoints: string[];
  const attestors = ANVIL_KEYS.slice(5, 9)
    .map((k) => new Wallet(k))
    .sort((a, b) => (a.address.toLowerCase() < b.address.toLowerCase() ? -1 : 1));
  /** The attestor that signs two different reports for every round. */
  const LIAR = 1;
  const liar = attestors[LIAR];
  const health = new Map<string, number>();
  const servers: http.Server[] = [];
  const urls: string[] = [];
  let clock: NodeJS.Timeout | undefined;
  let clockTick: Promise<unknown> = Promise.resolve();
  const responders: ResponderHandle[] = [];

  before(async function () {
    for (const n of NEEDED) {
      if (!(await hre.artifacts.artifactExists(n))) {
        // eslint-disable-next-line no-console
        console.log(`      (skipped: artifact ${n} missing)`);
        this.skip();
      }
    }
    anvil = await Anvil.start();
    provider = anvil.provider(100);
    admin = new Wallet(ANVIL_KEYS[0], provider);
    oracle = await deployArtifact("HealthOracle", [admin.address, ROUND, 15, 500_000, POLICY], admin);
    await (
      await oracle.setAttestors(
        attestors.map((a) => a.address),
        3,
      )
    ).wait();
    registry = await deployArtifact("EndpointRegistry", [await oracle.getAddress()], admin);
    serviceId = await registry.registerService.staticCall("eth-rpc", { cooldown: 0, recoveryPeriod: 0 });
    await (await registry.registerService("eth-rpc", { cooldown: 0, recoveryPeriod: 0 })).wait();
    endpoints = [];
    for (const [i, uri] of ["http://primary.invalid", "http://backup.invalid"].entries()) {
      endpoints.push(await registry.addEndpoint.staticCall(serviceId, 0, uri, i));
      await (await registry.addEndpoint(serviceId, 0, uri, i)).wait();
    }
    for (const e of endpoints) health.set(e.toLowerCase(), 9500);

    // One URL per attestor: once per round (at the first request in it, chain time) it signs one report over
    // every endpoint with its own streaks; the liar also signs a second one with other values for the same round.
    const separator = domainSeparator(await readDomain(oracle as never));
    const digest: string = await oracle.configDigest();
    for (const a of attestors) {
      const signed = new Map<number, SignedReport[]>();
      const streaks = new Map<string, { round: number; badRounds: number; goodRounds: number }>();
      const server = http.createServer((req, res) => {
        void (async () => {
          const now = (await provider.getBlock("latest"))!.timestamp;
          const round = Math.floor(now / ROUND);
          if (!signed.has(round)) {
            const ids = sortEndpointIds([...health.keys()]);
            const values = ids.map((id) => {
              const bps = health.get(id)!;
              const prev = streaks.get(id) ?? { round: -1, badRounds: 0, goodRounds: 0 };
              const next = { round, ...nextStreaks(prev, bps, POLICY, prev.round === round - 1) };
              streaks.set(id, next);
              return { healthBps: bps, badRounds: next.badRounds, goodRounds: next.goodRounds };
            });
            const input = { configDigest: digest, roundSeconds: ROUND, observedAt: now, endpointIds: ids };
            const reports = [signReport(a, separator, { ...input, values })];
            if (a === liar) {
              const other = values.map((v, i) => (i === 0 ? { ...v, healthBps: v.healthBps - 1 } : v));
              reports.push(signReport(a, separator, { ...input, values: other }));
            }
            signed.set(round, reports);
          }
          const since = Number(new URL(req.url!, "http://x").searchParams.get("sinceRound") ?? 0);
          const reports = [...signed.entries()]
            .filter(([r]) => r >= since)
            .slice(-8)
            .flatMap(([, list]) => list);
          res.writeHead(200, { "content-type": "application/json" });
          res.end(
            JSON.stringify({ attestor: a.address, configDigest: digest, chainId: anvil.chainId, reports }),
          );
        })();
      });
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      servers.push(server);
      urls.push(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    }
    // Advance the chain clock one round every 300 ms instead of sleeping through real rounds.
    clock = setInterval(() => {
      clockTick = clockTick.then(() =>
        anvil
          .send("evm_increaseTime", [ROUND])
          .then(() => anvil.mine())
          .catch(() => undefined),
      );
    }, 300);
  });

  after(async function () {
    await Promise.all(responders.splice(0).map((r) => r.stop()));
    if (clock) clearInterval(clock);
    await clockTick;
    for (const server of servers) {
      server.closeAllConnections();
      server.close();
    }
    provider?.destroy();
    await anvil?.stop();
  });

  async function responder(keyIndex: number, outbox?: string) {
    const config = parseResponderConfig({
      chain: { rpcUrls: [anvil.url], chainId: anvil.chainId },
      contracts: { oracle: await oracle.getAddress(), registry: await registry.getAddress() },
      attestorUrls: urls,
      services: [serviceId],
      pollIntervalMs: 300,
      outboxPath:
        outbox ?? path.join(fs.mkdtempSync(path.join(os.tmpdir(), "vigil-equiv-")), "outbox.sqlite"),
      http: { port: 0 },
      fees: { stuckAfterMs: 5_000 },
      confirmations: 1,
    });
    const r = await startResponder(config, {
      logger,
      metrics: new Metrics(false),
      wallet: new Wallet(ANVIL_KEYS[keyIndex]),
    });
    responders.push(r);
    return r;
  }
  const jailings = async () => oracle.queryFilter(oracle.filters.AttestorJailed());
  const actions = async (r: ResponderHandle, action: string, outcome: string) =>
    (await r.metrics.actions.get()).values
      .filter((v) => v.labels.action === action && v.labels.outcome === outcome)
      .reduce((a, v) => a + v.value, 0);
  const proofs = (r: ResponderHandle) => r.outbox.list(1000).filter((a) => a.kind === "prove");

  it("proves an attestor's two reports for one round once: AttestorJailed, isJailed, one confirmed prove action", async function () {
    expect(await oracle.isJailed(liar.address)).to.equal(false);
    const r = await responder(1);
    await until("AttestorJailed", async () => (await jailings()).length > 0);
    const [jailed] = (await jailings()) as unknown as Array<{
      args: { attestor: string; configDigest: string; round: bigint; prover: string };
    }>;
    expect(jailed.args.attestor).to.equal(liar.address);
    expect(jailed.args.prover).to.equal(r.address);
    expect(jailed.args.configDigest).to.equal(await oracle.configDigest());
    expect(await oracle.isJailed(liar.address)).to.equal(true);
    for (const a of attestors) if (a !== liar) expect(await oracle.isJailed(a.address)).to.equal(false);
    await until("the proof to be recorded as confirmed", async () => proofs(r)[0]?.status === "confirmed");

    // Later passes still see the liar's two reports per round, but it is jailed now: nothing more to prove.
    for (let i = 0; i < 3; i++) await r.nextIteration();
    expect(proofs(r)).to.have.length(1);
    expect(proofs(r)[0]).to.include({ target: liar.address.toLowerCase(), to: await oracle.getAddress() });
    expect(proofs(r)[0].txs).to.have.length(1);
    expect(await jailings()).to.have.length(1);
    expect(await actions(r, "prove", "confirmed")).to.equal(1);
    expect(await actions(r, "prove", "failed")).to.equal(0);
    const rejected = (
      (await r.metrics.registry.getSingleMetric("vigil_reports_rejected_total")?.get())?.values ?? []
    ).filter((v) => v.labels.attestor === urls[LIAR] && v.labels.reason === "jailed");
    expect(rejected.reduce((a, v) => a + v.value, 0)).to.be.greaterThan(0);
  });

  it("a later round still lands with the remaining quorum, the jailed attestor not among its signers", async function () {
    const r = responders[0];
    const jailedRound = Number(((await jailings())[0] as unknown as { args: { round: bigint } }).args.round);
    await until("HEALTHY", async () =>
      (await Promise.all(endpoints.map(async (e) => Number((await oracle.statusOf(e)).status)))).every(
        (s) => s === Status.HEALTHY,
      ),
    );
    health.set(endpoints[0].toLowerCase(), 1000);
    await until(
      "the primary to go DOWN",
      async () => Number((await oracle.statusOf(endpoints[0])).status) === Status.DOWN,
    );
    const downs = (await oracle.queryFilter(oracle.filters.StatusChanged(endpoints[0]))).filter(
      (e) => Number((e as unknown as { args: { current: bigint } }).args.current) === Status.DOWN,
    );
    expect(downs).to.have.length(1);
    const [accepted] = (await oracle.queryFilter(
      oracle.filters.ReportAccepted(),
      downs[0].blockNumber,
      downs[0].blockNumber,
    )) as unknown as Array<{ args: { round: bigint; signers: bigint; updated: bigint } }>;
    expect(Number(accepted.args.round)).to.be.greaterThan(jailedRound);
    expect(accepted.args.signers & (1n << BigInt(LIAR))).to.equal(0n);
    expect(accepted.args.signers).to.equal(0b1101n); // the three others
    expect(await actions(r, "submit", "confirmed")).to.be.greaterThan(0);
    expect(proofs(r)).to.have.length(1);
  });

  it("proofs recorded before a crash are dropped unsent at restart when the oracle answers AlreadyJailed or NotEquivocation", async function () {
    const first = proofs(responders[0])[0];
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "vigil-equiv-crash-")), "outbox.sqlite");
    const prior = new Outbox(file);
    const id = prior.record("prove", first.target, first.to, first.data);
    // And a "proof" of one report twice, which the oracle never takes (honest behaviour is not provable).
    const [round, a] = oracle.interface.decodeFunctionData("proveEquivocation", first.data);
    const same = oracle.interface.encodeFunctionData("proveEquivocation", [round, a, a]);
    const idSame = prior.record("prove", "0x" + "00".repeat(20), first.to, same);
    prior.close();
    const r = await responder(2, file);
    const action = r.outbox.get(id)!;
    expect(action.status).to.equal("dropped");
    expect(action.note).to.equal("lost race: HealthOracleAlreadyJailed");
    expect(action.txs).to.deep.equal([]);
    expect(r.outbox.get(idSame)).to.deep.include({
      status: "dropped",
      note: "lost race: HealthOracleNotEquivocation",
      txs: [],
    });
    expect(await actions(r, "prove", "lost_race")).to.equal(2);
    expect(await actions(r, "prove", "failed")).to.equal(0);
    // Its own passes drop the jailed liar's reports (reason "jailed"): no equivocation, no new proof.
    for (let i = 0; i < 2; i++) await r.nextIteration();
    expect(proofs(r).map((p) => p.id)).to.have.members([id, idSame]);
    expect(await jailings()).to.have.length(1);
  });
});
