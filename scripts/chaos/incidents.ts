/**
 * One incident of the chaos run: a fault on the monitored service (its active node SIGKILLed, or all three),
 * the transitions it makes due (failover then failback; pause then resume), and the chaos laid over it: a burst
 * of responder kills at crash points, a reorg of the control chain right after one of the transitions landed, a
 * ×50 base fee while the pause is due, or one hostile RPC in front of every responder. Waits on the chain
 * (the {@link ViewMonitor}'s per-block views), records the incident's blocks and what was done; the accounting
 * judges it later from the canonical chain.
 */
import { AbiCoder } from "ethers";
import { rpc } from "../drill/nodes";
import { sleep } from "../drill/setup";
import type { Timing } from "../drill/setup";
import type { TransitionKind } from "./accounting";
import type { BlockRecord, ViewMonitor } from "./monitor";
import type { ResponderFleet } from "./responders";
import type { ProxyMode } from "./rpcProxy";
import type { ChaosStack } from "./stack";

/** Blocks in a row the stack must be steady in before an incident ends. */
const STEADY_BLOCKS = 5;
/** `MigrationCheck.ACTIVE_USABLE`, `GuardCheck.DEPENDENCIES_USABLE`. */
const ACTIVE_USABLE = 2;
const DEPENDENCIES_USABLE = 3;

/** Wait between arming the responders and injecting the fault, ms (a responder starts in a few seconds). */
const ARM_LEAD_MS = 6000;

export type RpcFault = "honest" | "refuse" | "hang" | "frozen" | "lie";

/** What one incident does. */
export interface IncidentPlan {
  kind: "migrate" | "outage";
  /** Responder kills during the incident. */
  kills: number;
  /** Reorganise the control chain at this depth right after transition `reorgOn` (0 first, 1 second) landed. */
  reorg?: { depth: number; on: 0 | 1 };
  /** Raise the base fee ×50 from the fault until the pause lands. */
  feeSpike?: boolean;
  /** The mode of every responder's first RPC (its proxy) during the incident; timed against `honest`. */
  rpc?: RpcFault;
}

export interface ReorgRecord {
  incident: number;
  depth: number;
  /** The block whose transition was reorganised away, the head when the reorg ran. */
  effectBlock: number;
  headBlock: number;
  /** The transition landed again after the reorg. */
  reapplied: boolean;
  /** Seconds from the reorg to the transition landing again. */
  reappliedAfterS: number | null;
  skipped?: string;
}

export interface FeeSpikeRecord {
  incident: number;
  spikeBlock: number;
  baseFeeBeforeWei: string;
  baseFeeSpikeWei: string;
}

export interface IncidentRecord {
  id: number;
  name: string;
  plan: IncidentPlan;
  startBlock: number;
  endBlock: number;
  transitions: TransitionKind[];
  /** Effect kinds tolerated beyond the transitions (see IncidentSpec). */
  tolerated: ("migrated" | "paused" | "resumed")[];
  /** Wall-clock ms when the fault was injected and when each transition was first seen. */
  injectedAtMs: number;
  seenAtMs: (number | null)[];
  notes: string[];
}

export interface IncidentContext {
  t: Timing;
  stack: ChaosStack;
  monitor: ViewMonitor;
  fleet: ResponderFleet;
  say: (text: string) => void;
  failures: string[];
  reorgs: ReorgRecord[];
  feeSpikes: FeeSpikeRecord[];
}

/** A `tripStatus` answer saying "not due" (DEPENDENCIES_USABLE, no cause): what the lying RPC serves. */
export function notDueTripStatus(): string {
  return AbiCoder.defaultAbiCoder().encode(["uint8", "bytes32"], [3, "0x" + "00".repeat(32)]);
}

function proxyMode(fault: RpcFault, stack: ChaosStack): ProxyMode {
  if (fault === "lie")
    return {
      kind: "lie",
      to: stack.deployed.guard,
      selector: stack.guard.interface.getFunction("tripStatus").selector,
      result: notDueTripStatus(),
    };
  if (fault === "honest") return { kind: "pass" };
  return { kind: fault };
}

function describe(p: IncidentPlan): string {
  const parts = [p.kind === "migrate" ? "active node SIGKILLed" : "every node SIGKILLed"];
  if (p.kills) parts.push(`${p.kills} responder kills`);
  if (p.reorg) parts.push(`reorg depth ${p.reorg.depth}`);
  if (p.feeSpike) parts.push("base fee ×50");
  if (p.rpc) parts.push(`first RPC ${p.rpc}`);
  return parts.join(", ");
}

/** Run one incident; @returns its record (also pushes failures for missing transitions). */
export async function runIncident(
  ctx: IncidentContext,
  id: number,
  plan: IncidentPlan,
): Promise<IncidentRecord> {
  const { t, stack, monitor, fleet, say } = ctx;
  const { replicas, ids } = stack;
  const head = monitor.latest ?? (await monitor.waitFor(() => true, 10_000));
  if (!head) throw new Error("the view monitor reads no block");
  const transitions: TransitionKind[] =
    plan.kind === "migrate" ? ["failover", "failback"] : ["pause", "resume"];
  const rec: IncidentRecord = {
    id,
    name: describe(plan),
    plan,
    startBlock: head.block,
    endBlock: head.block,
    transitions,
    // all nodes come back at once, but the attestors may see a backup HEALTHY first: a failover and a failback
    tolerated: plan.kind === "outage" ? ["migrated"] : [],
    injectedAtMs: Date.now(),
    seenAtMs: [null, null],
    notes: [],
  };
  say(`INCIDENT ${id}: ${rec.name} (block ${head.block})`);
  if (plan.rpc && plan.rpc !== "honest")
    await Promise.all(stack.responders.map((r) => r.proxy.set(proxyMode(plan.rpc!, stack))));
  const burst = plan.kills ? fleet.burst(plan.kills, t.reactionTimeoutMs * 3) : Promise.resolve();
  // the armed responders restart first: give them time to be up and racing when the fault's actions come
  if (plan.kills) await sleep(ARM_LEAD_MS);

  let spiking = false;
  let spiker: Promise<void> = Promise.resolve();
  if (plan.feeSpike) {
    const before = head.baseFeePerGas;
    const floor = 10n ** 9n;
    const spike = 50n * (before > floor ? before : floor);
    spiking = true;
    spiker = (async () => {
      while (spiking) {
        await rpc(stack.control.url, "anvil_setNextBlockBaseFeePerGas", ["0x" + spike.toString(16)]).catch(
          () => undefined,
        );
        await sleep(150);
      }
    })();
    const first = await monitor.waitFor((r) => r.baseFeePerGas >= spike, 10_000);
    ctx.feeSpikes.push({
      incident: id,
      spikeBlock: first?.block ?? head.block + 1,
      baseFeeBeforeWei: before.toString(),
      baseFeeSpikeWei: spike.toString(),
    });
    say(`  base fee ${before} → ${spike} wei (×50 of max(base fee, 1 gwei)) from block ${first?.block}`);
  }

  const killed = plan.kind === "migrate" ? [ids.indexOf(head.active)] : [0, 1, 2];
  rec.injectedAtMs = Date.now();
  await Promise.all(killed.map((i) => replicas.kill(i)));
  const firstDone =
    plan.kind === "migrate" ? (r: BlockRecord) => r.active !== head.active : (r: BlockRecord) => r.paused;
  const wait0 = t.reactionTimeoutMs * 2;
  const first = await waitTransition(ctx, rec, 0, firstDone, wait0, head.block + 1);
  rec.seenAtMs[0] = first?.atMs ?? null;
  spiking = false;
  await spiker;

  await Promise.all(killed.map((i) => replicas.restart(i)));
  say(`  recovered: ${killed.map((i) => replicas.nodes[i].spec.name).join(", ")}`);
  const secondDone =
    plan.kind === "migrate" ? (r: BlockRecord) => r.active === ids[0] : (r: BlockRecord) => !r.paused;
  const wait1 = t.reactionTimeoutMs * 2 + (t.cooldown + t.recoveryPeriod + t.gracePeriod) * 1000;
  const second = await waitTransition(ctx, rec, 1, secondDone, wait1, (first?.block ?? head.block) + 1);
  rec.seenAtMs[1] = second?.atMs ?? null;

  await burst;
  fleet.disarm();
  if (plan.rpc && plan.rpc !== "honest")
    await Promise.all(stack.responders.map((r) => r.proxy.set({ kind: "pass" })));
  // settle: back on the primary, open, nothing due, for STEADY_BLOCKS blocks in a row (a kill burst can starve
  // the heartbeat relays long enough for the statuses to lapse and the market to pause and resume again)
  const steady = (r: BlockRecord) =>
    r.active === ids[0] && !r.paused && r.migration === ACTIVE_USABLE && r.trip === DEPENDENCIES_USABLE;
  const settled = await monitor.waitFor(
    (r) =>
      Array.from({ length: STEADY_BLOCKS }, (_, k) => monitor.records.get(r.block - k)).every(
        (x) => x && steady(x),
      ),
    t.reactionTimeoutMs * 2 + t.gracePeriod * 1000,
    second?.block ?? 0,
  );
  if (!settled) {
    rec.notes.push("did not settle (primary active, market open, nothing due) before the next incident");
    ctx.failures.push(`incident ${id} (${rec.name}): the stack did not settle afterwards`);
  }
  const endAt = (monitor.latest?.block ?? rec.startBlock) + 2;
  const end = await monitor.waitFor((r) => r.block >= endAt, 10_000);
  rec.endBlock = end?.block ?? monitor.latest?.block ?? rec.startBlock;
  return rec;
}

/** Wait for transition `i` on the chain; with a planned reorg on it, reorganise it away and wait again. */
async function waitTransition(
  ctx: IncidentContext,
  rec: IncidentRecord,
  i: 0 | 1,
  done: (r: BlockRecord) => boolean,
  timeoutMs: number,
  minBlock: number,
): Promise<{ atMs: number; block: number } | null> {
  const kind = rec.transitions[i];
  const hit = await ctx.monitor.waitFor(done, timeoutMs, minBlock);
  if (!hit) {
    ctx.failures.push(`incident ${rec.id} (${rec.name}): no ${kind} within ${timeoutMs} ms`);
    ctx.say(`  no ${kind} within ${timeoutMs} ms`);
    return null;
  }
  const seen = Date.now();
  ctx.say(
    `  ${kind} on-chain at block ${hit.block} (${((seen - rec.injectedAtMs) / 1000).toFixed(1)} s after the fault)`,
  );
  const reorg = rec.plan.reorg;
  if (!reorg || reorg.on !== i) return { atMs: seen, block: hit.block };
  // the first block the transition showed in
  let effectBlock = hit.block;
  while (ctx.monitor.records.get(effectBlock - 1) && done(ctx.monitor.records.get(effectBlock - 1)!))
    effectBlock--;
  const r = await reorgAt(ctx, rec.id, reorg.depth, effectBlock);
  ctx.reorgs.push(r);
  if (r.skipped) {
    ctx.say(`  reorg depth ${reorg.depth} skipped: ${r.skipped}`);
    return { atMs: seen, block: hit.block };
  }
  ctx.say(`  REORG depth ${reorg.depth} at head ${r.headBlock}: the ${kind} of block ${effectBlock} is gone`);
  const at = Date.now();
  // the transition again, in a block after the replaced ones
  const again = await ctx.monitor.waitFor(done, timeoutMs, r.headBlock + 1);
  r.reapplied = !!again;
  r.reappliedAfterS = again ? (Date.now() - at) / 1000 : null;
  if (again)
    ctx.say(
      `  ${kind} re-applied at block ${again.block}, ${r.reappliedAfterS!.toFixed(1)} s after the reorg`,
    );
  else
    ctx.failures.push(
      `incident ${rec.id}: the ${kind} removed by a depth-${reorg.depth} reorg was not re-applied`,
    );
  return { atMs: seen, block: again?.block ?? hit.block };
}

/**
 * Reorganise the control chain so that exactly `depth` blocks are replaced and `effectBlock` is the oldest of
 * them: once the head reaches `effectBlock + depth - 1`, interval mining is stopped, `anvil_reorg(depth)` replaces
 * the blocks with empty ones (their transactions are dropped, not returned to the pool), and mining resumes.
 * Skipped when the head is already past that block when mining stops.
 */
async function reorgAt(
  ctx: IncidentContext,
  incident: number,
  depth: number,
  effectBlock: number,
): Promise<ReorgRecord> {
  const { control } = ctx.stack;
  const rec: ReorgRecord = {
    incident,
    depth,
    effectBlock,
    headBlock: 0,
    reapplied: false,
    reappliedAfterS: null,
  };
  const target = effectBlock + depth - 1;
  const headNow = async () => Number(BigInt(await rpc<string>(control.url, "eth_blockNumber")));
  // blocks come at their own pace (no instant mining: the chain's clock stays with the wall clock the
  // attestors check); the reorg runs as soon as the head reaches the target
  const until = Date.now() + depth * 2000 + 10_000;
  while ((await headNow()) < target && Date.now() < until) await sleep(50);
  await control.haltBlocks();
  try {
    const head = await headNow();
    rec.headBlock = head;
    if (head !== target) {
      rec.skipped = `head ${head}, not block ${target}, when mining stopped (the transition landed at ${effectBlock})`;
      return rec;
    }
    await rpc(control.url, "anvil_reorg", [depth, []]);
    ctx.monitor.invalidateFrom(head - depth + 1);
    return rec;
  } finally {
    // interval mining stamps each block one interval after the last: the halt (and the replaced blocks) would
    // leave the chain's clock behind the wall clock for good, and the attestors stop signing past 2.5 s of skew
    const next = Math.floor(Date.now() / 1000) + 1;
    await rpc(control.url, "evm_setNextBlockTimestamp", [next]).catch(() => undefined);
    await control.resumeBlocks();
  }
}
