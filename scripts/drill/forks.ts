/**
 * The "diverged fork, same chain id" faults (issue 12): a replica of the monitored service leaves the
 * chain its peers agree on while keeping the chain id, the timestamps and a head level with (or one block
 * off) theirs — the Infura 2020 case. Expected: the attestors call it BAD (reason `fork`) for as long as it
 * is forked, the service never migrates onto it, an active node that forks is failed over off, and after
 * the fork is undone it is HEALTHY again only through the rise hysteresis.
 */
import { Status } from "../../keepers/shared/health";
import { migrateFault, settle, watchReasons, type DrillContext } from "./faults";
import type { ForkPosition } from "./replicas";
import { newFault } from "./report";

/** Fork backup replica `i` (equal height, then one ahead, then one behind); expected: DOWN, nothing else. */
export async function backupForkFault(ctx: DrillContext, i: number): Promise<void> {
  const { t, ids, replicas, watcher, failures } = ctx;
  const f = newFault("diverged fork, same chain id, on a backup", "none");
  ctx.faults.push(f);
  ctx.affectedBy.set(f, [i]);
  const name = replicas.nodes[i].spec.name;
  f.injectedAtMs = Date.now();
  ctx.say("fault", `FAULT ${ctx.faults.length}: ${name} forks off its peers (same chain id, equal height)`);
  replicas.fork(i, "equal");
  const [firstBad, down] = await Promise.all([
    ctx.observations.firstBelow(ids[i], 5000, f.injectedAtMs, t.reactionTimeoutMs),
    watcher.waitFor(
      (e) => e.kind === "status" && e.endpointId.toLowerCase() === ids[i] && e.current === Status.DOWN,
      f.injectedAtMs,
      t.reactionTimeoutMs,
    ),
  ]);
  f.firstUnhealthyAtMs = firstBad;
  f.statusChangedAtMs = down?.seenAtMs ?? null;
  if (!down) failures.push(`${f.name}: the forked node was not marked DOWN`);
  const reasons = new Set<string>();
  const holdMs = t.forkHoldRounds * t.roundSeconds * 1000;
  for (const position of ["equal", "ahead", "behind"] as ForkPosition[]) {
    replicas.fork(i, position);
    ctx.say(
      "info",
      `${name} stays forked, ${position === "equal" ? "at equal height" : `one block ${position}`}`,
    );
    for (const r of await watchReasons(ctx, ids[i], holdMs)) reasons.add(r);
  }
  if (!reasons.has("fork"))
    failures.push(
      `${f.name}: no attestor gave the reason "fork" (seen: ${[...reasons].join(", ") || "none"})`,
    );
  f.recoveredAtMs = Date.now();
  ctx.say("recover", `recover: ${name} restarted as a replica and replayed`);
  checkNeverChosenWhileForked(ctx, f.name, i, f.injectedAtMs, f.recoveredAtMs);
  await replicas.unfork(i);
  await settle(ctx, f, [ids[i]], true);
  checkRiseAfterUnfork(ctx, f.name, i, f.recoveredAtMs);
}

/** Fork the active replica; expected: failover off it, never back onto it while forked, failback after. */
export async function activeForkFault(ctx: DrillContext): Promise<void> {
  let window: [number, number] = [0, 0];
  let forked = -1;
  const f = await migrateFault(
    ctx,
    "diverged fork, same chain id, on the active node",
    (i) => {
      forked = i;
      window = [Date.now(), 0];
      ctx.replicas.fork(i, "equal");
    },
    async (i) => {
      window[1] = Date.now();
      checkNeverChosenWhileForked(ctx, "diverged fork on the active node", i, window[0], window[1]);
      await ctx.replicas.unfork(i);
    },
  );
  checkRiseAfterUnfork(ctx, f.name, forked, f.recoveredAtMs!);
}

/** A failure for any HEALTHY status or migration onto replica `i` between `fromMs` and `toMs`. */
function checkNeverChosenWhileForked(
  ctx: DrillContext,
  name: string,
  i: number,
  fromMs: number,
  toMs: number,
): void {
  const id = ctx.ids[i];
  const inside = (ms: number) => ms >= fromMs && ms <= toMs;
  const onto = ctx.watcher.events.filter(
    (e) => e.kind === "migration" && e.to.toLowerCase() === id && inside(e.seenAtMs),
  );
  if (onto.length) ctx.failures.push(`${name}: migrated onto the forked node ${onto.length} time(s)`);
  // The first rounds after injection may still carry the last honest verdicts; after the status went
  // DOWN, any HEALTHY is a failback onto a minority chain.
  const downAt = ctx.watcher.events.find(
    (e) =>
      e.kind === "status" &&
      e.endpointId.toLowerCase() === id &&
      e.current === Status.DOWN &&
      inside(e.seenAtMs),
  )?.seenAtMs;
  if (downAt === undefined) return;
  const healthy = ctx.watcher.events.filter(
    (e) =>
      e.kind === "status" &&
      e.endpointId.toLowerCase() === id &&
      e.current === Status.HEALTHY &&
      e.seenAtMs > downAt &&
      e.seenAtMs <= toMs,
  );
  if (healthy.length) ctx.failures.push(`${name}: the forked node was attested HEALTHY while still forked`);
}

/**
 * After unfork, replica `i` may be HEALTHY on-chain only once `riseRounds` rounds at or above the
 * threshold have passed: the first HEALTHY status after `recoveredAtMs` must come at least
 * `(riseRounds − 1)` rounds later (block time of the status change vs. the recovery's wall-clock second).
 */
function checkRiseAfterUnfork(ctx: DrillContext, name: string, i: number, recoveredAtMs: number): void {
  const ev = ctx.watcher.events.find(
    (e) =>
      e.kind === "status" &&
      e.endpointId.toLowerCase() === ctx.ids[i] &&
      e.current === Status.HEALTHY &&
      e.seenAtMs >= recoveredAtMs,
  );
  if (!ev) return; // settle() already reported it
  const minMs = (ctx.t.riseRounds - 1) * ctx.t.roundSeconds * 1000;
  if (ev.seenAtMs - recoveredAtMs < minMs)
    ctx.failures.push(
      `${name}: HEALTHY ${ev.seenAtMs - recoveredAtMs} ms after the fork was undone, sooner than ` +
        `${ctx.t.riseRounds} rounds allow`,
    );
}
