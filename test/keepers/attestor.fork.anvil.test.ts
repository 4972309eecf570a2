/**
 * Issue 12's proof on real nodes, at the attestor: a service of three JSON-RPC endpoints, two honest replicas of
 * one chain (ReplicaSet: same genesis, mined in lockstep) and a third that starts as a replica and is then
 * replaced by `anvil --fork-url <honest peer> --chain-id <same>` on its port, diverged by a transaction only it
 * has. Kept one block behind, level with and one block ahead of its peers, it is judged `fork` (score 0) in
 * EVERY probe round, counted, while the honest ones score 10000; once undone (an honest replica again, replayed)
 * it is held at `fork` until it has matched the majority for riseRounds rounds, and only then scores 10000.
 *
 * The chain moves one block per round: each round waits until the next block is due on the replicas' clock
 * (block n at `T0 + n` s, mined by the test), so head ages are real and the positions exact while a round runs.
 */
import { expect } from "chai";
import { Wallet } from "ethers";
import { Attestor, type ProbeOutcome } from "../../keepers/attestor/attestor";
import { attestorConfigSchema } from "../../keepers/attestor/config";
import { DEFAULT_POLICY, staticEndpointSource, staticOracleReader } from "../../keepers/attestor/sources";
import { EndpointKind } from "../../keepers/shared/health";
import { createLogger } from "../../keepers/shared/logger";
import { Metrics } from "../../keepers/shared/metrics";
import { ReplicaSet, type ForkPosition } from "../../scripts/drill/replicas";
import { tmpDataDir } from "./attestor-helpers";
import { ForkedNode, OFFSET } from "./helpers/forkNode";

const CHAIN_ID = 4343;
const SERVICE = "0x" + "f0".repeat(32);
const idOf = (i: number) => "0x" + (i + 1).toString(16).padStart(64, "0");
/** Rounds counted per position; every one must be `fork`. */
const ROUNDS_PER_POSITION = 15;
const RISE_ROUNDS = 3;
const HONEST = [0, 1];
const SLOT = 2;

describe("attestor state parity on real nodes: a diverged fork with the same chain id", function () {
  this.timeout(600_000);
  let set: ReplicaSet;
  let fork: ForkedNode | undefined;
  let attestor: Attestor;

  before(async function () {
    set = await ReplicaSet.create({
      names: ["honest-a", "honest-b", "forked"],
      chainId: CHAIN_ID,
      blockTimeSec: 1,
      clock: "manual",
      callTimeoutMs: 5_000,
    });
    await set.start();
    const config = attestorConfigSchema.parse({
      chain: { rpcUrls: ["http://127.0.0.1:1"], chainId: 31337 },
      contracts: { oracle: "0x" + "99".repeat(20), registry: "0x" + "88".repeat(20) },
      services: [SERVICE],
      expectedChainIds: { [SERVICE]: CHAIN_ID },
      allowPrivateTargets: true, // the nodes are on loopback
      probeIntervalMs: 60_000, // rounds are driven by the test
      timeoutMs: 5_000,
      // Latency is not under test: with both cores busy a loopback anvil may take a second, and the honest
      // replicas must still score exactly 10000.
      thresholds: { jsonRpc: { latencyMs: { ok: 4_000, max: 4_500 } } },
      dataDir: tmpDataDir(),
    });
    attestor = new Attestor({
      config,
      key: Wallet.createRandom().signingKey,
      endpoints: staticEndpointSource(
        set.urls.map((uri, i) => ({
          id: idOf(i),
          serviceId: SERVICE,
          kind: EndpointKind.JSON_RPC,
          uri,
          priority: i,
        })),
      ),
      oracle: staticOracleReader({ attestors: [], policy: { ...DEFAULT_POLICY, riseRounds: RISE_ROUNDS } }),
      logger: createLogger("test", { level: process.env.VIGIL_TEST_LOG ?? "silent" }),
      metrics: new Metrics(false),
    });
    await attestor.refreshOracle();
    await attestor.refreshEndpoints();
  });

  after(async function () {
    await fork?.stop();
    await set?.stop();
  });

  /** Wait until block tip+1 is due on the replicas' clock, mine it on every honest replica, wait until they have it. */
  async function nextBlock(): Promise<void> {
    const dueMs = set.timestampOf(set.tip + 1) * 1000;
    while (Date.now() < dueMs) await new Promise((r) => setTimeout(r, Math.min(100, dueMs - Date.now())));
    await set.tick();
    for (const i of HONEST) await set.waitInSync(i);
  }

  /** One probe round: outcome per endpoint index. */
  async function round(): Promise<ProbeOutcome[]> {
    const { outcomes } = await attestor.probeRound();
    const byId = new Map(outcomes.map((o) => [o.endpointId, o]));
    return set.urls.map((_, i) => byId.get(idOf(i))!);
  }

  const expectHonest = (o: ProbeOutcome[], what: string) => {
    for (const i of HONEST)
      expect(o[i], `${what}: honest replica ${i}`).to.include({ healthBps: 10_000, failure: undefined });
  };

  it("scores all three 10000 while they are replicas of one chain", async function () {
    for (let k = 0; k < 3; k++) {
      await nextBlock();
      const o = await round();
      expectHonest(o, `round ${k}`);
      expect(o[SLOT], `round ${k}: replica ${SLOT}`).to.include({ healthBps: 10_000, failure: undefined });
    }
  });

  it(`judges the fork BAD (fork) in every round, ${ROUNDS_PER_POSITION} rounds at each position, the honest ones 10000`, async function () {
    fork = await ForkedNode.start(set, SLOT, 0);
    // Its own blocks begin at forkBlock + 1; a block its peers do not have yet cannot be compared, so the count
    // begins once the honest chain has that height too.
    while (set.tip < fork.head) await nextBlock();
    expect(await fork.hashAt(fork.forkBlock), "the fork shares its peers' history").to.equal(
      await set.hashAt(0, fork.forkBlock),
    );
    const counts: Record<ForkPosition, { rounds: number; fork: number; healthy: number }> = {
      equal: { rounds: 0, fork: 0, healthy: 0 },
      ahead: { rounds: 0, fork: 0, healthy: 0 },
      behind: { rounds: 0, fork: 0, healthy: 0 },
    };
    for (const position of ["equal", "ahead", "behind"] as ForkPosition[]) {
      fork.position = position;
      while (counts[position].rounds < ROUNDS_PER_POSITION) {
        await nextBlock();
        await fork.follow(set.tip);
        // The position this round is judged at, read from the nodes themselves.
        const heads = await Promise.all([0, 1, SLOT].map((i) => set.headOf(i)));
        expect(heads[0], "honest replicas level").to.equal(heads[1]);
        const at = (Object.keys(OFFSET) as ForkPosition[]).find((p) => heads[2] - heads[0] === OFFSET[p]);
        expect(at, `fork head ${heads[2]} vs honest ${heads[0]}`).to.not.equal(undefined);
        expect(await fork.hashAt(Math.min(...heads)), "diverged at the lowest head").to.not.equal(
          await set.hashAt(0, Math.min(...heads)),
        );
        const o = await round();
        counts[at!].rounds += 1;
        if (o[SLOT].failure === "fork" && o[SLOT].healthBps === 0) counts[at!].fork += 1;
        if (o[SLOT].healthBps > 0) counts[at!].healthy += 1;
        expect(o[SLOT], `${at} round ${counts[at!].rounds}`).to.include({
          healthBps: 0,
          failure: "fork",
          reason: "fork",
        });
        expectHonest(o, `${at} round ${counts[at!].rounds}`);
      }
    }
    // eslint-disable-next-line no-console
    console.log(
      "      fork rounds judged `fork` / probed: " +
        (Object.keys(counts) as ForkPosition[])
          .map((p) => `${p} ${counts[p].fork}/${counts[p].rounds} (healthy ${counts[p].healthy})`)
          .join(", "),
    );
    for (const p of Object.keys(counts) as ForkPosition[]) {
      expect(counts[p].rounds).to.be.at.least(ROUNDS_PER_POSITION);
      expect(counts[p].fork).to.equal(counts[p].rounds);
      expect(counts[p].healthy).to.equal(0);
    }
  });

  it(`once undone, holds it at fork for riseRounds - 1 = ${RISE_ROUNDS - 1} rounds on the majority chain, then 10000`, async function () {
    await fork!.undo();
    fork = undefined;
    for (let k = 1; k <= RISE_ROUNDS; k++) {
      await nextBlock();
      expect(await set.hashAt(SLOT, set.tip), "back on the majority chain").to.equal(
        await set.hashAt(0, set.tip),
      );
      const o = await round();
      expectHonest(o, `round ${k} after the undo`);
      if (k < RISE_ROUNDS) {
        expect(o[SLOT], `held in round ${k}`).to.include({ healthBps: 0, failure: "fork" });
        expect(o[SLOT].detail).to.contain(`${k} of ${RISE_ROUNDS} rounds`);
      } else {
        expect(o[SLOT], `round ${k}`).to.include({ healthBps: 10_000, failure: undefined });
      }
    }
  });
});
