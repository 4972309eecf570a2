// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {HealthOracle} from "../../contracts/HealthOracle.sol";
import {IHealthOracle} from "../../contracts/interfaces/IHealthOracle.sol";
import {VigilTest} from "./utils/VigilTest.sol";

/**
 * @title OracleFreshnessTest
 * @notice THREATS #6 (stale or future attestation): an observation is accepted exactly when
 * `now - maxAge <= observedAt <= now + maxSkew`, for any clock and any per-endpoint `maxAge`, with the
 * boundaries and their ±1 s neighbours swept explicitly.
 */
contract OracleFreshnessTest is VigilTest {
    uint8 internal constant QUORUM = 3;

    HealthOracle internal oracle;
    uint256[] internal keys;

    function setUp() public {
        vm.warp(T0);
        keys = _sortedKeys("attestor", 4);
        oracle = _deployOracle(keys, QUORUM, 3, 2);
    }

    /// @notice Fuzzed clock, per-endpoint `maxAge` and offset (half the runs on an edge or next to it).
    function testFuzz_acceptsExactlyInsideTheWindow(
        uint32 clock,
        uint32 maxAgeSeed,
        uint256 offsetSeed,
        bytes32 endpointId
    ) public {
        uint256 maxAge = _bound(maxAgeSeed, 1, 3_600);
        IHealthOracle.Policy memory policy = _policy(3, 2);
        policy.maxAge = uint32(maxAge);
        oracle.setEndpointPolicy(endpointId, policy);
        vm.warp(T0 + clock);

        int256 offset;
        if (offsetSeed % 2 == 0) {
            // -maxAge - 1, -maxAge, -maxAge + 1, maxSkew - 1, maxSkew, maxSkew + 1
            uint256 pick = (offsetSeed >> 1) % 6;
            int256 edge = pick < 3 ? -int256(maxAge) : int256(uint256(MAX_SKEW));
            offset = edge + int256(pick % 3) - 1;
        } else {
            uint256 span = 2 * maxAge + 2 * MAX_SKEW;
            offset = int256((offsetSeed >> 1) % (span + 1)) - int256(2 * maxAge);
        }
        _checkOne(endpointId, offset, maxAge);
    }

    /// @notice Every offset from `-maxAge - 3` to `maxSkew + 3` seconds, one endpoint each.
    function test_sweepsBothEdgesSecondBySecond() public {
        vm.warp(T0 + 7_777);
        for (
            int256 offset = -int256(uint256(MAX_AGE)) - 3;
            offset <= int256(uint256(MAX_SKEW)) + 3;
            ++offset
        ) {
            _checkOne(keccak256(abi.encode("sweep", offset)), offset, MAX_AGE);
        }
    }

    function _checkOne(bytes32 endpointId, int256 offset, uint256 maxAge) internal {
        uint64 observedAt = uint64(uint256(int256(block.timestamp) + offset));
        bool inside = offset >= -int256(maxAge) && offset <= int256(uint256(MAX_SKEW));
        IHealthOracle.SignedObservation[] memory obs = _quorumReport(
            oracle,
            _prefix(keys, QUORUM),
            endpointId,
            9_000,
            observedAt
        );
        (bool ok, bytes memory err) = _trySubmit(
            oracle,
            oracle.configDigest(),
            endpointId,
            observedAt / ROUND_SECONDS,
            obs
        );
        require(ok == inside, ok ? "observation outside the window accepted" : "fresh observation rejected");
        if (!ok) {
            bytes4 expected =
                offset > 0
                    ? IHealthOracle.HealthOracleObservationFromFuture.selector
                    : IHealthOracle.HealthOracleStaleObservation.selector;
            require(_selector(err) == expected, "unexpected error");
            require(oracle.statusOf(endpointId).round == 0, "state changed");
        } else {
            require(oracle.statusOf(endpointId).round == observedAt / ROUND_SECONDS, "round not stored");
        }
    }
}
