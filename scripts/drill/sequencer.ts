/**
 * The "sequencer stops producing blocks" fault (issue 12): an L2-style chain whose sequencer keeps
 * answering JSON-RPC but produces no more blocks, next to a Chainlink-style L2 sequencer uptime feed
 * (`answer` 0 = up, 1 = down) on the control chain, as Chainlink's and Aave's sequencer guidance has it.
 * A second market depends on both services (`l2-rpc`: the sequencer's JSON-RPC; `l2-sequencer`: the
 * uptime feed, a SEQUENCER_FEED endpoint). Expected: market 2 pauses (market 1 does not), and resumes
 * only once blocks flow again, the feed says up, and both have been HEALTHY for the grace period.
 */
import { HDNodeWallet, NonceManager, type JsonRpcProvider } from "ethers";
import { MockAggregator__factory, type MockAggregator } from "../../typechain-types";
import { Status } from "../../keepers/shared/health";
import { pauseFault, resumeAfterPause, type DrillContext } from "./faults";
import { ManagedNode, freePort } from "./nodes";
import type { ProcessRegistry } from "./processes";
import { newFault } from "./report";
import { CONTROL_CHAIN, L2_CHAIN } from "./setup";

/** The L2 side of the drill: the sequencer node and the uptime feed. */
export interface L2Stack {
  sequencer: ManagedNode;
  feed: MockAggregator;
  /** The feed's endpoint URI, `eip155:<control chain>:<feed address>`. */
  feedUri: string;
}

/**
 * Start the sequencer (an anvil on chain {@link L2_CHAIN}, mining every second on its own) and deploy the
 * uptime feed on the control chain, answering 0 (up). The feed's writer is dev account #6, which nothing
 * else in the drill uses (one nonce manager per key).
 */
export async function startL2(procs: ProcessRegistry, provider: JsonRpcProvider): Promise<L2Stack> {
  const sequencer = procs.addNode(
    new ManagedNode({
      name: "sequencer",
      impl: "anvil",
      port: await freePort(),
      chainId: L2_CHAIN,
      blockTimeSec: 1,
    }),
  );
  await sequencer.start();
  const writer = new NonceManager(
    HDNodeWallet.fromPhrase(
      "test test test test test test test test test test test junk",
      undefined,
      "m/44'/60'/0'/0/6",
    ).connect(provider),
  );
  const feed = await new MockAggregator__factory(writer).deploy(0, "L2 sequencer uptime (drill)");
  await feed.waitForDeployment();
  await (await feed.updateAnswer(0)).wait();
  const feedUri = `eip155:${CONTROL_CHAIN}:${await feed.getAddress()}`;
  return { sequencer, feed, feedUri };
}

/** The L2 services and market 2 for the Ignition parameters. */
export function l2DeployParams(
  l2: L2Stack,
  t: { cooldown: number; recoveryPeriod: number; gracePeriod: number },
) {
  return {
    services: [
      {
        name: "l2-rpc",
        cooldown: t.cooldown,
        recoveryPeriod: t.recoveryPeriod,
        endpoints: [{ kind: "JSON_RPC", uri: l2.sequencer.url, priority: 0 }],
      },
      {
        name: "l2-sequencer",
        cooldown: t.cooldown,
        recoveryPeriod: t.recoveryPeriod,
        endpoints: [{ kind: "SEQUENCER_FEED", uri: l2.feedUri, priority: 0 }],
      },
    ],
    market: { pauseThresholdBps: 5000, gracePeriod: t.gracePeriod, services: ["l2-rpc", "l2-sequencer"] },
  };
}

/**
 * Halt the sequencer's block production; once the attestors have the L2 RPC endpoint DOWN on their own
 * (head age), the uptime feed reports the outage too (as Chainlink's feed would). Expect market 2 paused.
 * Recover: blocks again, the feed says up; expect the resume after the grace period.
 * @param l2Ids endpoint ids of `l2-rpc` and `l2-sequencer`; @param l2Services their service ids.
 */
export async function sequencerFault(
  ctx: DrillContext,
  l2: L2Stack,
  l2Ids: [string, string],
  l2Services: [string, string],
  marketId: bigint,
): Promise<void> {
  const [rpcId, feedId] = l2Ids.map((x) => x.toLowerCase());
  const f = newFault("sequencer stops producing blocks (L2)", "pause");
  ctx.faults.push(f);
  ctx.affectedBy.set(f, []);
  ctx.pausedMarket.set(f, marketId);
  f.injectedAtMs = Date.now();
  ctx.say("fault", `FAULT ${ctx.faults.length}: the L2 sequencer stops producing blocks (it still answers)`);
  await l2.sequencer.haltBlocks();
  const reportFeed = (async () => {
    const down = await ctx.watcher.waitFor(
      (e) => e.kind === "status" && e.endpointId.toLowerCase() === rpcId && e.current === Status.DOWN,
      f.injectedAtMs!,
      ctx.t.reactionTimeoutMs,
    );
    if (!down) return;
    ctx.say("info", "the sequencer uptime feed reports the outage (answer 1)");
    await (await l2.feed.updateAnswer(1)).wait();
  })();
  await pauseFault(ctx, f, marketId, rpcId, [rpcId]);
  await reportFeed;
  const feedDown = await ctx.watcher.waitFor(
    (e) => e.kind === "status" && e.endpointId.toLowerCase() === feedId && e.current === Status.DOWN,
    f.injectedAtMs,
    ctx.t.reactionTimeoutMs,
  );
  if (!feedDown) ctx.failures.push(`${f.name}: the uptime feed's "down" was not attested (sequencer_down)`);
  f.recoveredAtMs = Date.now();
  ctx.say("recover", "recover: the sequencer produces blocks again; the uptime feed says up (answer 0)");
  await l2.sequencer.resumeBlocks();
  await (await l2.feed.updateAnswer(0)).wait();
  await resumeAfterPause(ctx, f, marketId, l2Services, [rpcId, feedId], false);
}
