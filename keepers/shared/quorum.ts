/**
 * The on-chain status machine of health model v2 (`QuorumTally` and `StatusMachine` in contracts/libraries),
 * mirrored for keepers so they can predict what a round will do before paying for it. Kept in step with the
 * contracts by test/keepers/shared.quorum.test.ts, which runs both on the same random rounds.
 */
import { Status } from "./health";
import type { EndpointValue } from "./report";

/** The thresholds of `IHealthOracle.Policy` the tally reads. */
export interface TallyPolicy {
  downBelowBps: number;
  upAtBps: number;
  fallRounds: number;
  riseRounds: number;
}

/** Votes of one round for one endpoint (see `StatusMachine`). */
export interface Votes {
  /** Signers with health < downBelowBps and badRounds >= fallRounds. */
  bad: number;
  /** Signers with health >= upAtBps and goodRounds >= riseRounds. */
  good: number;
  /** Signers with health < upAtBps. */
  notGood: number;
  /** Signers with health >= downBelowBps. */
  notBad: number;
}

/** What one round stores for one endpoint, and its votes. */
export interface Tally {
  /** Lower median, bps. */
  healthBps: number;
  /** `quorum`-th highest value: a quorum reported at least this, bps. */
  floorBps: number;
  /** `quorum`-th lowest value: a quorum reported at most this, bps. */
  ceilingBps: number;
  votes: Votes;
}

/**
 * Tally one endpoint over the signers of a round, as `QuorumTally.tally`.
 * @throws RangeError when there are fewer values than `quorum` or `quorum < 1`.
 */
export function tally(values: readonly EndpointValue[], policy: TallyPolicy, quorum: number): Tally {
  const m = values.length;
  if (quorum < 1 || m < quorum) throw new RangeError(`${m} values for a quorum of ${quorum}`);
  const votes: Votes = { bad: 0, good: 0, notGood: 0, notBad: 0 };
  for (const v of values) {
    if (v.healthBps < policy.downBelowBps) {
      votes.notGood++;
      if (v.badRounds >= policy.fallRounds) votes.bad++;
    } else if (v.healthBps < policy.upAtBps) {
      votes.notGood++;
      votes.notBad++;
    } else {
      votes.notBad++;
      if (v.goodRounds >= policy.riseRounds) votes.good++;
    }
  }
  const sorted = values.map((v) => v.healthBps).sort((a, b) => a - b);
  return {
    healthBps: sorted[Math.floor((m - 1) / 2)],
    floorBps: sorted[m - quorum],
    ceilingBps: sorted[quorum - 1],
    votes,
  };
}

/**
 * The status after a round, as `StatusMachine.next`: DOWN on `quorum` bad votes, else HEALTHY on `quorum` good
 * votes, else DEGRADED from HEALTHY on `quorum` notGood and from UNKNOWN on `quorum` notBad, else unchanged.
 * @param previous The status in effect before the round (UNKNOWN once the heartbeat lapsed).
 */
export function nextStatus(previous: Status, votes: Votes, quorum: number): Status {
  if (votes.bad >= quorum) return Status.DOWN;
  if (votes.good >= quorum) return Status.HEALTHY;
  if (previous === Status.HEALTHY && votes.notGood >= quorum) return Status.DEGRADED;
  if (previous === Status.UNKNOWN && votes.notBad >= quorum) return Status.DEGRADED;
  return previous;
}

/** Per-attestor streak counting, as an attestor does it: the class of one of its own rounds. */
export function classify(
  healthBps: number,
  policy: Pick<TallyPolicy, "downBelowBps" | "upAtBps">,
): "BAD" | "MID" | "GOOD" {
  if (healthBps < policy.downBelowBps) return "BAD";
  if (healthBps < policy.upAtBps) return "MID";
  return "GOOD";
}

/**
 * An attestor's streaks after one more round it judged, saturating at 255. `consecutive` is false when the
 * attestor did not judge the previous round (restart, missed round): the streaks start again from this round.
 */
export function nextStreaks(
  previous: { badRounds: number; goodRounds: number },
  healthBps: number,
  policy: Pick<TallyPolicy, "downBelowBps" | "upAtBps">,
  consecutive: boolean,
): { badRounds: number; goodRounds: number } {
  const cls = classify(healthBps, policy);
  const bad = consecutive ? previous.badRounds : 0;
  const good = consecutive ? previous.goodRounds : 0;
  return {
    badRounds: cls === "BAD" ? Math.min(255, bad + 1) : 0,
    goodRounds: cls === "GOOD" ? Math.min(255, good + 1) : 0,
  };
}

/**
 * The quorum's observation time of a round, as the oracle stores it in `updatedAt`: the earliest `observedAt` of
 * the reports relayed (the oldest evidence counts; a signer can only make a round look older). Unix seconds.
 * @throws RangeError on an empty list.
 */
export function quorumObservedAt(observedAt: readonly number[]): number {
  if (observedAt.length === 0) throw new RangeError("observation time of no reports");
  return Math.min(...observedAt);
}

/**
 * Lower median of `values`: the middle value, or the lower of the two middle values (the oracle's rule for a
 * round's health, {@link tally}; the attestor's reference head in keepers/attestor/parity.ts).
 * @throws RangeError on an empty list.
 */
export function lowerMedian(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError("lower median of no values");
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[(sorted.length - 1) >> 1];
}
