/**
 * The drill's fault runners: each injects one fault on real nodes, waits for the reaction it expects
 * (a migration, a pause or only a status change), records the timings in its {@link FaultRecord}, undoes
 * the fault and waits for the recovery. A missing or wrong reaction is pushed to `ctx.failures`.
 */
import type { JsonRpcProvider } from "ethers";
import type {
  GuardedPerpMarket,
  IEndpointRegistry,
  IHealthOracle,
  IMarketGuard,
} from "../../typechain-types";
import { Status } from "../../keepers/shared/health";
import { cooldownEvidence, resumeEvidence } from "./evidence";
import type { ReplicaSet } from "./replicas";
import { newFault, type FaultRecord, type TimelineEvent } from "./report";
import { sleep, waitUntil, type Timing } from "./setup";
import type { ChainWatcher, ObservationWatcher } from "./watch";

/** What every fault runner needs: the stack, the watchers and the drill's records. */
export interface DrillContext {
  t: Timing;
  say: (kind: TimelineEvent["kind"], text: string, tx?: string) => void;
  failures: string[];
  faults: FaultRecord[];
  /** Replicated-service endpoints (indices into `ids`) each fault affects: judges every failover. */
  affectedBy: Map<FaultRecord, number[]>;
  /** Price-feed endpoints (ids, lower case) each fault affects: judges the feed service's failovers. */
  affectedFeeds: Map<FaultRecord, string[]>;
  /** The market each pause fault is expected to pause: judges every pause. */
  pausedMarket: Map<FaultRecord, bigint>;
  provider: JsonRpcProvider;
  oracle: IHealthOracle;
  registry: IEndpointRegistry;
  guard: IMarketGuard;
  watcher: ChainWatcher;
  observations: ObservationWatcher;
  attestorUrls: string[];
  /** The replicated service (market 1 depends on it). */
  serviceId: string;
  /** Market 1's id at the guard (Ignition may register the markets in another order than listed). */
  marketId: bigint;
  /** Its endpoint ids, lower case; index i is replica i. */
  ids: string[];
  replicas: ReplicaSet;
}

const isDown = (s: number) => s === Status.DOWN || s === Status.UNKNOWN;

/** Index (into `ctx.ids`) of the replicated service's active endpoint. */
export async function activeIndex(ctx: DrillContext): Promise<number> {
  return ctx.ids.indexOf((await ctx.registry.activeEndpoint(ctx.serviceId)).id.toLowerCase());
}

/**
 * Wait until every endpoint in `endpointIds` is HEALTHY on-chain (sets `f.healthyAtMs` from the status
 * events) and, with `failback`, until the replicated service is back on the primary.
 */
export async function settle(
  ctx: DrillContext,
  f: FaultRecord,
  endpointIds: string[],
  failback: boolean,
): Promise<void> {
  const { t, oracle, watcher, failures } = ctx;
  const ids = endpointIds.map((id) => id.toLowerCase());
  const healthy = await waitUntil(async () => {
    const s = await Promise.all(ids.map((id) => oracle.statusOf(id)));
    return s.every((h) => Number(h.status) === Status.HEALTHY);
  }, t.reactionTimeoutMs);
  if (healthy) {
    f.healthyAtMs = Date.now();
    const ev = watcher.events.filter(
      (e) =>
        e.kind === "status" &&
        e.current === Status.HEALTHY &&
        ids.includes(e.endpointId.toLowerCase()) &&
        e.seenAtMs >= (f.recoveredAtMs ?? 0),
    );
    if (ev.length) f.healthyAtMs = Math.max(...ev.map((e) => e.seenAtMs));
  } else failures.push(`${f.name}: affected endpoints not HEALTHY again within ${t.reactionTimeoutMs} ms`);
  if (!failback) return;
  const back = await waitUntil(async () => (await activeIndex(ctx)) === 0, t.reactionTimeoutMs);
  if (!back) failures.push(`${f.name}: no failback to the primary within ${t.reactionTimeoutMs} ms`);
}

/**
 * Inject a fault on the active replica, measure detection, status change and failover, undo it and wait
 * for failback. With `afterFailback` (the previous fault has just failed back to the primary), the
 * failover's block time must fall inside the cooldown that failback started.
 */
export async function migrateFault(
  ctx: DrillContext,
  name: string,
  inject: (replica: number) => Promise<void> | void,
  recover: (replica: number) => Promise<void> | void,
  afterFailback = false,
): Promise<FaultRecord> {
  const { t, watcher, observations, ids, failures } = ctx;
  const f = newFault(name, "migrate");
  ctx.faults.push(f);
  const from = await activeIndex(ctx);
  ctx.affectedBy.set(f, [from]);
  const node = ctx.replicas.nodes[from];
  // The failback's block time, from the registry itself (its log may reach the watcher a poll later):
  // the service is back on the primary, so its last migration is the failback.
  const failbackAtS = afterFailback
    ? Number((await ctx.registry.serviceInfo(ctx.serviceId)).lastMigrationAt)
    : 0;
  f.injectedAtMs = Date.now();
  ctx.say("fault", `FAULT ${ctx.faults.length}: ${name} — ${node.spec.name} (replica ${from})`);
  await inject(from);
  const [firstBad, status, migration] = await Promise.all([
    observations.firstBelow(ids[from], 5000, f.injectedAtMs, t.reactionTimeoutMs),
    watcher.waitFor(
      (e) => e.kind === "status" && e.endpointId.toLowerCase() === ids[from] && isDown(e.current),
      f.injectedAtMs,
      t.reactionTimeoutMs,
    ),
    watcher.waitFor(
      (e) => e.kind === "migration" && e.from.toLowerCase() === ids[from] && !e.failback,
      f.injectedAtMs,
      t.reactionTimeoutMs,
    ),
  ]);
  f.firstUnhealthyAtMs = firstBad;
  f.statusChangedAtMs = status?.seenAtMs ?? null;
  if (migration && migration.kind === "migration") {
    f.reactionAtMs = migration.seenAtMs;
    f.reactionTx = migration.tx;
    const to = ids.indexOf(migration.to.toLowerCase());
    const h = await ctx.oracle.statusOf(migration.to, { blockTag: migration.block });
    if (Number(h.status) !== Status.HEALTHY)
      failures.push(`${name}: migrated to ${ctx.replicas.nodes[to]?.spec.name} which is not HEALTHY`);
    if (afterFailback) {
      f.cooldown = await cooldownEvidence(ctx.provider, failbackAtS, migration, t.cooldown);
      if (!f.cooldown.inside)
        failures.push(
          `${name}: the failover came ${f.cooldown.failoverAtS - f.cooldown.failbackAtS} s after the failback, ` +
            `outside the ${t.cooldown} s cooldown: the case was not exercised`,
        );
    }
  } else failures.push(`${name}: no migration within ${t.reactionTimeoutMs} ms`);
  f.recoveredAtMs = Date.now();
  ctx.say("recover", `recover: ${node.spec.name}`);
  await recover(from);
  await settle(ctx, f, [ids[from]], true);
  return f;
}

/**
 * Wait for market `marketId` to pause after `sinceMs` (and for a status change of `downIds`); `probeId`
 * is the endpoint whose first unhealthy signed observation is timed.
 */
export async function pauseFault(
  ctx: DrillContext,
  f: FaultRecord,
  marketId: bigint,
  probeId: string,
  downIds: string[],
): Promise<void> {
  const { t, watcher } = ctx;
  const sinceMs = f.injectedAtMs!;
  const down = downIds.map((id) => id.toLowerCase());
  const [firstBad, status, pause] = await Promise.all([
    ctx.observations.firstBelow(probeId, 5000, sinceMs, t.reactionTimeoutMs),
    watcher.waitFor(
      (e) => e.kind === "status" && down.includes(e.endpointId.toLowerCase()) && isDown(e.current),
      sinceMs,
      t.reactionTimeoutMs,
    ),
    watcher.waitFor((e) => e.kind === "pause" && e.marketId === marketId, sinceMs, t.reactionTimeoutMs),
  ]);
  f.firstUnhealthyAtMs = firstBad;
  f.statusChangedAtMs = status?.seenAtMs ?? null;
  if (pause) {
    f.reactionAtMs = pause.seenAtMs;
    f.reactionTx = pause.tx;
  } else ctx.failures.push(`${f.name}: market ${marketId} not paused within ${t.reactionTimeoutMs} ms`);
}

/**
 * Wait for market `marketId` to resume after `f.recoveredAtMs` and prove from chain state that every
 * service in `serviceIds` had been HEALTHY for the grace period (the evidence kept is the binding one:
 * the latest `since`). Then {@link settle} over `settleIds`.
 */
export async function resumeAfterPause(
  ctx: DrillContext,
  f: FaultRecord,
  marketId: bigint,
  serviceIds: string[],
  settleIds: string[],
  failback: boolean,
): Promise<void> {
  const { t, watcher } = ctx;
  const resumed = await watcher.waitFor(
    (e) => e.kind === "resume" && e.marketId === marketId,
    f.recoveredAtMs!,
    t.reactionTimeoutMs + t.gracePeriod * 1000,
  );
  if (resumed && resumed.kind === "resume") {
    f.resumedAtMs = resumed.seenAtMs;
    // The guard's rule, checked from chain state at the resume's block rather than from when the drill
    // read the logs: every dependency HEALTHY for the grace period, counted from `since` and the pause.
    const contracts = { oracle: ctx.oracle, registry: ctx.registry, guard: ctx.guard };
    const ev = await Promise.all(
      serviceIds.map((s) =>
        resumeEvidence(ctx.provider, contracts, resumed, watcher.events, s, t.gracePeriod),
      ),
    );
    f.resume = ev.reduce((a, b) => (b.healthySinceS > a.healthySinceS ? b : a));
    if (!ev.every((e) => e.afterGrace))
      ctx.failures.push(`${f.name}: resumed before every dependency was HEALTHY for the grace period`);
  } else
    ctx.failures.push(
      `${f.name}: market ${marketId} did not resume within the grace period plus ${t.reactionTimeoutMs} ms`,
    );
  // healthyAtMs: every endpoint the fault touched HEALTHY again (the resume needs only the active ones).
  await settle(ctx, f, settleIds, failback);
}

/** While market 1 is paused: opening risk must fail, closing and withdrawing must work. */
export async function checkExitsOpen(
  ctx: DrillContext,
  name: string,
  market: GuardedPerpMarket,
  marketId: bigint,
): Promise<void> {
  if (!(await ctx.guard.isPaused(marketId))) return;
  let openBlocked = false;
  try {
    await market.openPosition.staticCall(10n ** 18n, true);
  } catch {
    openBlocked = true;
  }
  if (!openBlocked) ctx.failures.push(`${name}: opening a position was possible while paused`);
  try {
    await (await market.withdraw(10n ** 18n)).wait();
    ctx.say("info", "while paused: trader withdrew collateral (exits stay open); opening a position reverts");
  } catch (e) {
    ctx.failures.push(`${name}: withdraw failed while paused: ${(e as Error).message}`);
  }
}

/**
 * The `reason` each attestor's `GET /v1/endpoints` gives for `endpointId` now (attestors that do not
 * answer, or rows without a reason, are left out).
 */
export async function attestedReasons(attestorUrls: string[], endpointId: string): Promise<string[]> {
  const id = endpointId.toLowerCase();
  const rows = await Promise.all(
    attestorUrls.map(async (url) => {
      try {
        const res = await fetch(`${url}/v1/endpoints`, { signal: AbortSignal.timeout(1000) });
        const body = (await res.json()) as { endpoints?: { id: string; reason?: string | null }[] };
        return body.endpoints?.find((e) => e.id.toLowerCase() === id)?.reason ?? null;
      } catch {
        return null;
      }
    }),
  );
  return rows.filter((r): r is string => typeof r === "string");
}

/** Hold for `ms`, polling the attestors' reasons for `endpointId`; @returns every reason seen. */
export async function watchReasons(ctx: DrillContext, endpointId: string, ms: number): Promise<Set<string>> {
  const seen = new Set<string>();
  const end = Date.now() + ms;
  while (Date.now() < end) {
    for (const r of await attestedReasons(ctx.attestorUrls, endpointId)) seen.add(r);
    await sleep(500);
  }
  return seen;
}
