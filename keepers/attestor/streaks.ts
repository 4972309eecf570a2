/**
 * The attestor's own hysteresis evidence (health model v2): per endpoint, how many consecutive rounds, this
 * one included, THIS attestor judged BAD (health < `downBelowBps`) or GOOD (>= `upAtBps`). The counts are
 * signed with the value, so a relayer that omits or reorders rounds can neither reset nor fake them.
 *
 * PURE: plain data in, plain data out (keepers/shared/quorum.ts `nextStreaks` does the counting). A round the
 * attestor did not judge — a restart, a round it skipped, an endpoint it could not probe or sign for — breaks
 * the streaks: counting starts again from the next round it judges. A change of the endpoint's thresholds
 * breaks them too (rounds classified under the old thresholds are not evidence under the new ones).
 */
import { nextStreaks, type TallyPolicy } from "../shared/quorum";

/** Streak counts after one round. */
export interface Streaks {
  /** The round they were counted for. */
  round: number;
  /** Consecutive BAD rounds, this one included (0..255). */
  badRounds: number;
  /** Consecutive GOOD rounds, this one included (0..255). */
  goodRounds: number;
}

/** One endpoint's streaks after the last round this attestor signed for it. */
export interface StreakState extends Streaks {
  /** Thresholds the last round was classified with, bps. */
  downBelowBps: number;
  upAtBps: number;
  /**
   * The streaks before `round`, kept so that `round` can be judged again under a new config digest (an
   * attestor-set rotation inside a round) without counting it twice.
   */
  before?: Streaks;
}

/**
 * The streaks of `round` for an endpoint judged at `healthBps` under `policy`.
 * @param prev The state after the last round signed for this endpoint; undefined when never judged (or
 * forgotten: a restart, the endpoint left the watch list).
 * @param round The round being signed.
 * @returns The new state; the caller stores it only once the report that carries it is signed and persisted.
 */
export function judgeRound(
  prev: StreakState | undefined,
  round: number,
  healthBps: number,
  policy: Pick<TallyPolicy, "downBelowBps" | "upAtBps">,
): StreakState {
  // Judging the same round again (a new config digest): count from the streaks that preceded it.
  const base: Streaks | undefined = prev && prev.round === round ? prev.before : prev;
  const samePolicy =
    prev !== undefined && prev.downBelowBps === policy.downBelowBps && prev.upAtBps === policy.upAtBps;
  const consecutive = base !== undefined && samePolicy && base.round === round - 1;
  const next = nextStreaks(base ?? { badRounds: 0, goodRounds: 0 }, healthBps, policy, consecutive);
  return {
    round,
    ...next,
    downBelowBps: policy.downBelowBps,
    upAtBps: policy.upAtBps,
    before: base && { round: base.round, badRounds: base.badRounds, goodRounds: base.goodRounds },
  };
}
