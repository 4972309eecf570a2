// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IHealthOracle} from "../interfaces/IHealthOracle.sol";

/**
 * @title StatusMachine
 * @notice The endpoint status machine of health model v2, pure: HAProxy `rise`/`fall` hysteresis whose evidence
 * is what a quorum signed, and the Chainlink heartbeat counted from the quorum's observation time.
 *
 * Each signer of a round contributes one vote per class it belongs to:
 * - `bad`: health `< downBelowBps` and its own `badRounds >= fallRounds`;
 * - `good`: health `>= upAtBps` and its own `goodRounds >= riseRounds`;
 * - `notGood`: health `< upAtBps`; `notBad`: health `>= downBelowBps`.
 * One honest signer is never in both `bad` and `notBad`, nor in both `good` and `notGood`. Since `quorum * 2 > n`
 * and quorums of 2f+1 out of 3f+1 share an honest attestor, which signs one report per round, no choice of
 * signers can show a quorum on both sides of a pair for the same round.
 */
library StatusMachine {
    uint256 internal constant UNKNOWN = uint256(uint8(IHealthOracle.Status.UNKNOWN));
    uint256 internal constant HEALTHY = uint256(uint8(IHealthOracle.Status.HEALTHY));
    uint256 internal constant DEGRADED = uint256(uint8(IHealthOracle.Status.DEGRADED));
    uint256 internal constant DOWN = uint256(uint8(IHealthOracle.Status.DOWN));

    /**
     * @notice The status after a round with the given votes.
     * - DOWN when `bad >= quorum`; else HEALTHY when `good >= quorum`;
     * - else DEGRADED from HEALTHY when `notGood >= quorum`, and from UNKNOWN when `notBad >= quorum` (BAD evidence
     *   never reads better than silence);
     * - else unchanged: DOWN stays DOWN and DEGRADED stays DEGRADED until a quorum shows otherwise.
     * @param previous Status code in effect before the round (staleness applied, see {effective}).
     * @param votes `bad << 192 | good << 128 | notGood << 64 | notBad`, as {QuorumTally-tally} returns them.
     * @param quorum Signatures the attestor set requires.
     */
    function next(uint256 previous, uint256 votes, uint256 quorum) internal pure returns (uint256) {
        uint256 bad = votes >> 192;
        uint256 good = uint64(votes >> 128);
        uint256 notGood = uint64(votes >> 64);
        uint256 notBad = uint64(votes);
        if (bad >= quorum) return DOWN;
        if (good >= quorum) return HEALTHY;
        if (previous == HEALTHY && notGood >= quorum) return DEGRADED;
        if (previous == UNKNOWN && notBad >= quorum) return DEGRADED;
        return previous;
    }

    /**
     * @notice The status in effect at `timestamp` and when it began: the stored one, or UNKNOWN once
     * `timestamp >= updatedAt + heartbeat` (a dead-man's switch), since the lapse; a status stored as UNKNOWN
     * keeps its own `since`. A slot never reported (`updatedAt == 0`) is UNKNOWN since 0.
     * @param status Stored status code; `since` when it began; `updatedAt` the quorum observation time of the last
     * accepted round (0: never); `heartbeat` seconds; `timestamp` now (all Unix seconds).
     */
    function effective(
        uint256 status,
        uint256 since,
        uint256 updatedAt,
        uint256 heartbeat,
        uint256 timestamp
    ) internal pure returns (uint256, uint256) {
        if (updatedAt == 0) return (UNKNOWN, since);
        uint256 staleAt = updatedAt + heartbeat;
        if (timestamp >= staleAt && status != UNKNOWN) return (UNKNOWN, staleAt);
        return (status, since);
    }
}
