// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IHealthOracle} from "../interfaces/IHealthOracle.sol";
import {EndpointSlot} from "../types/EndpointSlot.sol";
import {PolicyWord} from "../types/PolicyWord.sol";
import {QuorumTally} from "./QuorumTally.sol";

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

    /// @notice Outcomes of {advance}.
    uint256 internal constant SKIP = 0;
    uint256 internal constant UPDATE = 1;
    uint256 internal constant STALE = 2;

    /**
     * @notice One endpoint's step for one accepted round: staleness, transition, and the new slot.
     *
     * The transition, on the signers' votes (see the contract notes):
     * - DOWN when `bad >= quorum`; else HEALTHY when `good >= quorum`;
     * - else DEGRADED from HEALTHY when `notGood >= quorum`, and from UNKNOWN when `notBad >= quorum` (BAD evidence
     *   never reads better than silence);
     * - else unchanged: DOWN stays DOWN and DEGRADED stays DEGRADED until a quorum shows otherwise.
     * The status before the round is the stored one, or UNKNOWN once the heartbeat lapsed ({effective}).
     *
     * Replay and ordering: a round older than the stored one is skipped; the stored round again is applied only
     * when it changes the status (so an honest relayer's complete round lands even after a front-runner relayed a
     * subset of it, and repeats are no-ops). `since` moves to `block.timestamp` on a change; `updatedAt` never
     * moves backwards.
     * @param slot The endpoint's stored slot.
     * @param policy Its policy.
     * @param votes `bad << 192 | good << 128 | notGood << 64 | notBad` ({QuorumTally-tally}).
     * @param values `median | floor << 16 | ceiling << 32` ({QuorumTally-tally}).
     * @return outcome {SKIP}, {STALE} (the round is older than the policy's `maxAge`: the caller reverts), or
     * {UPDATE} `| previous << 8 | current << 16`.
     * @return next The slot to store on {UPDATE}.
     */
    // solhint-disable-next-line function-max-lines
    function advance(
        EndpointSlot slot,
        PolicyWord policy,
        uint256 votes,
        uint256 values,
        QuorumTally.Round memory r
    ) internal view returns (uint256 outcome, EndpointSlot next) {
        // Runs once per endpoint per submission, so it is written out over the {EndpointSlot} and {PolicyWord}
        // layouts (documented there); {transition} and {effective} state the same rules for readers and views.
        assembly ("memory-safe") {
            // One pass that `break`s out early; outcome stays SKIP (0) unless set. Round layout ({QuorumTally}):
            // round, quorum, signers, observedAt, ...
            for {} 1 {} {
                let updatedAt := and(shr(136, slot), 0xffffffffff)
                // `again`: the stored round once more (only a transition counts then).
                let again := 0
                if updatedAt {
                    let storedRound := and(shr(96, slot), 0xffffffffff)
                    if lt(mload(r), storedRound) {
                        break
                    }
                    again := eq(mload(r), storedRound)
                }
                // maxAge: policy bits 80..111 (all terms < 2^64, no overflow).
                if lt(add(mload(add(r, 0x60)), and(shr(80, policy), 0xffffffff)), timestamp()) {
                    outcome := 2 // STALE
                    break
                }
                let previous := and(slot, 0xff)
                let since := and(shr(56, slot), 0xffffffffff)
                // Heartbeat (policy bits 48..79): a stored status other than UNKNOWN lapses to UNKNOWN at
                // updatedAt + heartbeat, since then; a never-reported slot is UNKNOWN.
                switch updatedAt
                case 0 {
                    previous := 0
                }
                default {
                    let staleAt := add(updatedAt, and(shr(48, policy), 0xffffffff))
                    if and(iszero(lt(timestamp(), staleAt)), iszero(iszero(previous))) {
                        previous := 0
                        since := staleAt
                    }
                }
                let current := previous
                switch iszero(lt(shr(192, votes), mload(add(r, 0x20))))
                case 1 {
                    current := 3 // DOWN
                }
                default {
                    switch iszero(lt(and(shr(128, votes), 0xffffffffffffffff), mload(add(r, 0x20))))
                    case 1 {
                        current := 1 // HEALTHY
                    }
                    default {
                        if eq(previous, 1) {
                            if iszero(lt(and(shr(64, votes), 0xffffffffffffffff), mload(add(r, 0x20)))) {
                                current := 2 // DEGRADED from HEALTHY
                            }
                        }
                        if iszero(previous) {
                            if iszero(lt(and(votes, 0xffffffffffffffff), mload(add(r, 0x20)))) {
                                current := 2 // DEGRADED from UNKNOWN
                            }
                        }
                    }
                }
                switch eq(current, previous)
                case 1 {
                    if again {
                        break
                    }
                }
                default {
                    since := timestamp()
                }
                if gt(mload(add(r, 0x60)), updatedAt) {
                    updatedAt := mload(add(r, 0x60))
                }
                outcome := or(1, or(shl(8, previous), shl(16, current))) // UPDATE
                // EndpointSlot: status | values (median, floor, ceiling) << 8 | since << 56 | round << 96 |
                // updatedAt << 136, keeping the own-policy flag (bit 176).
                next := or(
                    or(and(slot, shl(176, 1)), current),
                    or(
                        or(shl(8, and(values, 0xffffffffffff)), shl(56, since)),
                        or(shl(96, mload(r)), shl(136, updatedAt))
                    )
                )
                break
            }
        }
    }

    /// @notice The status after a round with `votes` (packed as {QuorumTally-tally} returns them), from `previous`
    /// (staleness applied): the rule stated at {advance}.
    function transition(uint256 previous, uint256 votes, uint256 quorum) internal pure returns (uint256) {
        if (votes >> 192 >= quorum) return DOWN;
        if (uint64(votes >> 128) >= quorum) return HEALTHY;
        if (previous == HEALTHY && uint64(votes >> 64) >= quorum) return DEGRADED;
        if (previous == UNKNOWN && uint64(votes) >= quorum) return DEGRADED;
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

    /**
     * @notice The health of an endpoint as read at `timestamp` (staleness applied, see {effective}); all zero for an
     * endpoint never reported. `heartbeat` in seconds.
     */
    function health(
        EndpointSlot slot,
        uint256 heartbeat,
        uint256 timestamp
    ) internal pure returns (IHealthOracle.EndpointHealth memory h) {
        (uint256 status, uint256 since, , uint256 updatedAt) = slot.unpack();
        if (updatedAt == 0) return h;
        (status, since) = effective(status, since, updatedAt, heartbeat, timestamp);
        h = IHealthOracle.EndpointHealth({
            status: IHealthOracle.Status(uint8(status)),
            healthBps: slot.healthBps(),
            since: uint64(since),
            round: slot.round(),
            updatedAt: uint64(updatedAt),
            floorBps: slot.floorBps(),
            ceilingBps: slot.ceilingBps()
        });
    }
}
