// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {HealthOracle} from "../../contracts/HealthOracle.sol";
import {IHealthOracle} from "../../contracts/interfaces/IHealthOracle.sol";
import {VigilTest} from "./utils/VigilTest.sol";

/**
 * @title OracleHysteresisTest
 * @notice THREATS #14 (flapping): for random health series with random round gaps and random
 * `fallRounds` / `riseRounds`, an endpoint becomes DOWN exactly when the last `fallRounds` accepted rounds
 * were BAD and ADJACENT (each `lastRound + 1`): a skipped round breaks the streak, so alternating and gappy
 * series never reach DOWN early.
 */
contract OracleHysteresisTest is VigilTest {
    uint8 internal constant QUORUM = 3;
    uint256 internal constant MAX_STEPS = 24;

    HealthOracle internal oracle;
    uint256[] internal keys;

    function setUp() public {
        vm.warp(T0);
        keys = _sortedKeys("attestor", 4);
        oracle = _deployOracle(keys, QUORUM, 3, 2);
    }

    function testFuzz_downOnlyAfterFallRoundsAdjacentBadRounds(uint256 seed, bytes32 endpointId) public {
        uint8 fallRounds = uint8(_bound(seed, 1, 5));
        oracle.setDefaultPolicy(_policy(fallRounds, uint8(_bound(seed >> 8, 1, 5))));
        uint256 steps = _bound(seed >> 16, 1, MAX_STEPS);
        uint64 round = uint64(T0 / ROUND_SECONDS);
        uint64 lastRound;
        uint256 streak; // adjacent BAD rounds ending at the last accepted round (the model)
        for (uint256 i; i < steps; ++i) {
            uint256 roll = uint256(keccak256(abi.encode(seed, i)));
            if (i > 0) round += _gap(roll);
            uint16 health = _health(roll >> 8);
            (IHealthOracle.Status before, IHealthOracle.Status current) = _submitRound(
                endpointId,
                round,
                health,
                ROUND_SECONDS / 2
            );
            bool bad = health < DOWN_BELOW_BPS;
            streak = bad ? (i > 0 && round == lastRound + 1 ? streak + 1 : 1) : 0;
            lastRound = round;
            if (current == IHealthOracle.Status.DOWN && before != IHealthOracle.Status.DOWN) {
                require(streak >= fallRounds, "DOWN without fallRounds adjacent BAD rounds");
            }
            if (streak >= fallRounds)
                require(current == IHealthOracle.Status.DOWN, "not DOWN after the streak");
        }
    }

    /// @notice BAD rounds two apart (r, r + 2, r + 4, ...) never make DOWN when fallRounds > 1.
    function testFuzz_badRoundsWithGapsNeverDown(uint8 fallSeed, uint8 stepsSeed, bytes32 endpointId) public {
        oracle.setDefaultPolicy(_policy(uint8(_bound(fallSeed, 2, 5)), 2));
        uint256 steps = _bound(stepsSeed, 1, MAX_STEPS);
        uint64 round = uint64(T0 / ROUND_SECONDS);
        for (uint256 i; i < steps; ++i) {
            (, IHealthOracle.Status current) = _submitRound(endpointId, round, 0, 1);
            require(current != IHealthOracle.Status.DOWN, "DOWN from non-adjacent rounds");
            round += 2;
        }
    }

    /// @dev Relays a full-quorum report of `health` for `round`, `second` seconds into it; returns the status
    /// read just before and just after.
    function _submitRound(
        bytes32 endpointId,
        uint64 round,
        uint16 health,
        uint64 second
    ) internal returns (IHealthOracle.Status before, IHealthOracle.Status current) {
        vm.warp(round * ROUND_SECONDS + second);
        before = oracle.statusOf(endpointId).status;
        IHealthOracle.SignedObservation[] memory obs = _quorumReport(
            oracle,
            _prefix(keys, QUORUM),
            endpointId,
            health,
            uint64(block.timestamp)
        );
        (bool ok, ) = _trySubmit(oracle, oracle.configDigest(), endpointId, round, obs);
        require(ok, "round rejected");
        current = oracle.statusOf(endpointId).status;
    }

    /// @dev Mostly adjacent rounds (gap 1), sometimes a gap of 2..4, rarely one past the heartbeat (12 rounds).
    function _gap(uint256 roll) internal pure returns (uint64) {
        uint256 r = roll % 16;
        if (r < 11) return 1;
        if (r < 15) return uint64(2 + ((roll >> 4) % 3));
        return 12;
    }

    /// @dev BAD, MID or GOOD with equal odds, edges included.
    function _health(uint256 roll) internal pure returns (uint16) {
        uint256 band = roll % 3;
        uint256 r = roll >> 2;
        if (band == 0) return uint16(r % DOWN_BELOW_BPS); // BAD: < downBelowBps
        if (band == 1) return uint16(DOWN_BELOW_BPS + (r % (UP_AT_BPS - DOWN_BELOW_BPS))); // MID
        return uint16(UP_AT_BPS + (r % (10_001 - UP_AT_BPS))); // GOOD: >= upAtBps
    }
}
