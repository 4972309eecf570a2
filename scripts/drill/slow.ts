/**
 * The "slow node" fault (issue 9): a backup replica answers every request 3 s late (a pass-through proxy in
 * front of it, scripts/drill/proxy.ts). The drill's probe timeout is below 3 s, so under the latency policy
 * (keepers/attestor/score.ts) every probe is a `timeout` failure: the endpoint goes DOWN once and stays DOWN
 * while the fault lasts, is never a failover target, and nothing migrates or pauses. Flapping (more than one
 * verdict change of the slow endpoint during the fault: usable ↔ DOWN) is a storm, and fails the drill.
 */
import { Status } from "../../keepers/shared/health";
import { settle, watchReasons, type DrillContext } from "./faults";
import type { LatencyProxy } from "./proxy";
import { newFault } from "./report";

/** Latency the slow node adds, ms. */
export const SLOW_LATENCY_MS = 3000;

/** Run the slow-node fault on replica `i`, reached through `proxy`. */
export async function slowNodeFault(ctx: DrillContext, proxy: LatencyProxy, i: number): Promise<void> {
  const { t, ids, watcher, failures } = ctx;
  const id = ids[i];
  const name = ctx.replicas.nodes[i].spec.name;
  const f = newFault(`a backup answers ${SLOW_LATENCY_MS / 1000} s late (slow node)`, "none");
  ctx.faults.push(f);
  ctx.affectedBy.set(f, [i]);
  if (t.probeTimeoutMs >= SLOW_LATENCY_MS)
    failures.push(`${f.name}: probe timeout ${t.probeTimeoutMs} ms is not below the latency`);
  f.injectedAtMs = Date.now();
  ctx.say("fault", `FAULT ${ctx.faults.length}: ${name} answers every request ${SLOW_LATENCY_MS} ms late`);
  proxy.latencyMs = SLOW_LATENCY_MS;
  const [firstBad, down] = await Promise.all([
    ctx.observations.firstBelow(id, 5000, f.injectedAtMs, t.reactionTimeoutMs),
    watcher.waitFor(
      (e) => e.kind === "status" && e.endpointId.toLowerCase() === id && e.current === Status.DOWN,
      f.injectedAtMs,
      t.reactionTimeoutMs,
    ),
  ]);
  f.firstUnhealthyAtMs = firstBad;
  f.statusChangedAtMs = down?.seenAtMs ?? null;
  if (!down)
    failures.push(`${f.name}: the slow node was not marked DOWN (probe timeout ${t.probeTimeoutMs} ms)`);
  // Hold the fault for a few rounds: the verdict must stay put (no storm).
  const reasons = await watchReasons(ctx, id, t.forkHoldRounds * t.roundSeconds * 1000);
  if (!reasons.has("timeout"))
    failures.push(
      `${f.name}: no attestor gave the reason "timeout" (seen: ${[...reasons].join(", ") || "none"})`,
    );
  f.recoveredAtMs = Date.now();
  const during = watcher.events.filter(
    (e) => e.seenAtMs >= f.injectedAtMs! && e.seenAtMs <= f.recoveredAtMs!,
  );
  // A verdict change is a move between usable (HEALTHY, DEGRADED) and not (DOWN, UNKNOWN): the way down
  // through DEGRADED is one change; any move back up while the node is still slow makes two or more.
  const usable = (s: number) => s === Status.HEALTHY || s === Status.DEGRADED;
  const changes = during.filter(
    (e) =>
      e.kind === "status" && e.endpointId.toLowerCase() === id && usable(e.previous) !== usable(e.current),
  ).length;
  f.statusChanges = changes;
  if (changes > 1)
    failures.push(`${f.name}: the slow node's verdict changed ${changes} times while slow (storm)`);
  const reactions = during.filter((e) => e.kind === "migration" || e.kind === "pause").length;
  if (reactions) failures.push(`${f.name}: ${reactions} migration(s) or pause(s) while a backup was slow`);
  ctx.say("recover", `recover: ${name} answers at once again`);
  proxy.latencyMs = 0;
  await settle(ctx, f, [id], false);
}
