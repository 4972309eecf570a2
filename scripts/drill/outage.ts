/**
 * The last two faults of the drill, which share a node: a foreign node (ganache) on the wrong chain takes
 * backup-2's port (expected: DOWN, nothing else), then primary and backup-1 are killed while it still answers
 * (expected: market 1 paused, never migrated onto the wrong-chain node, exits open; after every replica is
 * restarted and replayed, resume after the grace period and failback to the primary).
 */
import type { GuardedPerpMarket } from "../../typechain-types";
import { Status } from "../../keepers/shared/health";
import { checkExitsOpen, pauseFault, resumeAfterPause, type DrillContext } from "./faults";
import { ManagedNode } from "./nodes";
import type { ProcessRegistry } from "./processes";
import { newFault } from "./report";
import { WRONG_CHAIN } from "./setup";

/** Run the wrong-chain fault, then the every-node-down fault (see the file comment). */
export async function wrongChainThenOutage(
  ctx: DrillContext,
  procs: ProcessRegistry,
  market: GuardedPerpMarket,
): Promise<void> {
  const { t, faults, failures, watcher, replicas, ids, say } = ctx;
  // 8. wrong chain: a foreign node (ganache) answering for another chain id takes backup-2's address.
  //    It answers quickly and looks alive, but attestors check the chain id: DOWN, and nothing else.
  const wrong = newFault("a node answers for the wrong chain", "none");
  faults.push(wrong);
  ctx.affectedBy.set(wrong, [2]);
  const foreign = procs.addNode(
    new ManagedNode({
      name: "backup-2 (ganache, wrong chain)",
      impl: "ganache",
      port: replicas.nodes[2].spec.port,
      chainId: WRONG_CHAIN,
      blockTimeSec: 1,
    }),
  );
  wrong.injectedAtMs = Date.now();
  say("fault", `FAULT ${faults.length}: backup-2 replaced by a ganache node on chain id ${WRONG_CHAIN}`);
  await replicas.kill(2);
  await foreign.start(90_000);
  const [firstBad, down] = await Promise.all([
    ctx.observations.firstBelow(ids[2], 5000, wrong.injectedAtMs, t.reactionTimeoutMs),
    watcher.waitFor(
      (e) => e.kind === "status" && e.endpointId.toLowerCase() === ids[2] && e.current === Status.DOWN,
      wrong.injectedAtMs,
      t.reactionTimeoutMs,
    ),
  ]);
  wrong.firstUnhealthyAtMs = firstBad;
  wrong.statusChangedAtMs = down?.seenAtMs ?? null;
  if (!down) failures.push(`${wrong.name}: the wrong-chain node was not marked DOWN`);

  // 9. every node of the service down at once: primary and backup-1 killed while the wrong-chain node
  //    still answers at backup-2 — the only node answering must never be chosen: pause instead, and
  //    the market's exits stay open.
  const f = newFault("every node of the service down", "pause");
  faults.push(f);
  ctx.affectedBy.set(f, [0, 1, 2]);
  ctx.pausedMarket.set(f, ctx.marketId);
  f.injectedAtMs = Date.now();
  say("fault", `FAULT ${faults.length}: primary and backup-1 killed; only the wrong-chain node answers`);
  const active =
    ids[await ctx.registry.activeEndpoint(ctx.serviceId).then((e) => ids.indexOf(e.id.toLowerCase()))];
  await Promise.all([replicas.kill(0), replicas.kill(1)]);
  await pauseFault(ctx, f, ctx.marketId, active, [ids[0], ids[1]]);
  if (
    watcher.events.some(
      (e) => e.kind === "migration" && e.to.toLowerCase() === ids[2] && e.seenAtMs >= wrong.injectedAtMs!,
    )
  )
    failures.push(`${f.name}: migrated to the wrong-chain node`);
  await checkExitsOpen(ctx, f.name, market, ctx.marketId);
  f.recoveredAtMs = Date.now();
  wrong.recoveredAtMs = f.recoveredAtMs;
  say("recover", "recover: the ganache node stopped; every replica restarted and replayed from genesis");
  await foreign.stop();
  await Promise.all([0, 1, 2].map((i) => replicas.restart(i, 90_000)));
  await resumeAfterPause(ctx, f, ctx.marketId, [ctx.serviceId], ids, true);
  const b2 = watcher.events.find(
    (e) =>
      e.kind === "status" &&
      e.endpointId.toLowerCase() === ids[2] &&
      e.current === Status.HEALTHY &&
      e.seenAtMs >= f.recoveredAtMs!,
  );
  wrong.healthyAtMs = b2?.seenAtMs ?? null;
}
