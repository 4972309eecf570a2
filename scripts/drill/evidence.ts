/**
 * What the drill proves from the control chain itself, in block time (Unix seconds), rather than from
 * when it happened to read a log: whether a failover landed inside the cooldown that followed a failback,
 * and whether a resume came at least a grace period after the market's dependency became HEALTHY, as
 * MarketGuard defines it (`max(pausedAt, since) + gracePeriod`).
 */
import type { JsonRpcProvider } from "ethers";
import type { IEndpointRegistry, IHealthOracle, IMarketGuard } from "../../typechain-types";
import { Status } from "../../keepers/shared/health";
import type { ChainEvent } from "./watch";

type Migration = Extract<ChainEvent, { kind: "migration" }>;
type Resume = Extract<ChainEvent, { kind: "resume" }>;

/** A failover right after a failback, in block seconds. */
export interface CooldownEvidence {
  failbackAtS: number;
  failoverAtS: number;
  cooldownS: number;
  /** `failoverAtS < failbackAtS + cooldownS`: the case the registry once turned into a pause. */
  inside: boolean;
}

/** Block time of `block`, Unix seconds. Throws when the node does not have the block. */
export async function blockTime(provider: JsonRpcProvider, block: number): Promise<number> {
  const b = await provider.getBlock(block);
  if (!b) throw new Error(`control chain has no block ${block}`);
  return b.timestamp;
}

/**
 * Compare the block time of a failover with the cooldown started by the failback before it.
 * @param failbackAtS The registry's `lastMigrationAt` read before the fault, while the failback was the
 * service's last migration (block seconds).
 * @param cooldownS The service's `cooldown`, seconds.
 */
export async function cooldownEvidence(
  provider: JsonRpcProvider,
  failbackAtS: number,
  failover: Migration,
  cooldownS: number,
): Promise<CooldownEvidence> {
  const failoverAtS = await blockTime(provider, failover.block);
  return { failbackAtS, failoverAtS, cooldownS, inside: failoverAtS < failbackAtS + cooldownS };
}

/** A resume, with the state MarketGuard judged it by, in block seconds. */
export interface ResumeEvidence {
  /** `pausedAt` of the market just before the resume. */
  pausedAtS: number;
  /** `since` of the service's active endpoint at the resume block (HEALTHY since then). */
  healthySinceS: number;
  /** Status of that endpoint at the resume block (numeric `Status`). */
  activeStatus: number;
  resumedAtS: number;
  gracePeriodS: number;
  /** `activeStatus` is HEALTHY and `resumedAtS >= max(pausedAtS, healthySinceS) + gracePeriodS`. */
  afterGrace: boolean;
}

/**
 * Read what the guard's rule depended on when the resume ran: the market's `pausedAt` (one block earlier,
 * since resume clears it) and the `since` of the service's active endpoint. State is read per block, so
 * the health is read at the end of the previous block, which is what the resume transaction saw unless a
 * status change or migration landed earlier in the same block (then at the end of the resume's block).
 * @param events Every Vigil event the drill saw, to find changes in the resume's block.
 */
export async function resumeEvidence(
  provider: JsonRpcProvider,
  contracts: { oracle: IHealthOracle; registry: IEndpointRegistry; guard: IMarketGuard },
  resume: Resume,
  events: readonly ChainEvent[],
  serviceId: string,
  gracePeriodS: number,
): Promise<ResumeEvidence> {
  const changedFirst = events.some(
    (e) =>
      (e.kind === "status" || e.kind === "migration") &&
      e.block === resume.block &&
      e.logIndex < resume.logIndex,
  );
  const at = { blockTag: changedFirst ? resume.block : resume.block - 1 };
  const [state, active, resumedAtS] = await Promise.all([
    contracts.guard.marketState(resume.marketId, { blockTag: resume.block - 1 }),
    contracts.registry.activeEndpointId(serviceId, at),
    blockTime(provider, resume.block),
  ]);
  const h = await contracts.oracle.statusOf(active, at);
  const pausedAtS = Number(state.pausedAt);
  const healthySinceS = Number(h.since);
  const activeStatus = Number(h.status);
  const afterGrace =
    activeStatus === Status.HEALTHY && resumedAtS >= Math.max(pausedAtS, healthySinceS) + gracePeriodS;
  return { pausedAtS, healthySinceS, activeStatus, resumedAtS, gracePeriodS, afterGrace };
}
