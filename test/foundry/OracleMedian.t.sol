// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {HealthOracle} from "../../contracts/HealthOracle.sol";
import {IHealthOracle} from "../../contracts/interfaces/IHealthOracle.sol";
import {VigilTest} from "./utils/VigilTest.sol";

/**
 * @title OracleMedianTest
 * @notice THREATS #11 (aggregation manipulation): 7 attestors, quorum 5 = 2f + 1 with f = 2. With at most f
 * adversarial values among 5..7 signed observations, the stored median lies within
 * [min honest, max honest]; fewer observations than the quorum are never accepted.
 */
contract OracleMedianTest is VigilTest {
    uint8 internal constant QUORUM = 5;
    uint256 internal constant F = 2;

    HealthOracle internal oracle;
    uint256[] internal keys;

    function setUp() public {
        vm.warp(T0);
        keys = _sortedKeys("attestor", 7);
        oracle = _deployOracle(keys, QUORUM, 3, 2);
    }

    function testFuzz_medianWithinHonestRange(uint256 seed, bytes32 endpointId) public {
        uint256 count = _bound(seed, QUORUM, keys.length);
        (uint16[] memory healths, uint256 minHonest, uint256 maxHonest) = _values(
            seed,
            count,
            _bound(seed >> 8, 0, F)
        );
        Spec memory spec = _spec(oracle, endpointId, uint64(block.timestamp));
        (bool ok, ) = _trySubmit(
            oracle,
            spec.configDigest,
            endpointId,
            spec.round,
            _observations(spec, _prefix(keys, count), healths)
        );
        require(ok, "quorum report rejected");
        uint256 median = oracle.statusOf(endpointId).healthBps;
        require(median >= minHonest && median <= maxHonest, "median left the honest range");
    }

    function testFuzz_fewerThanQuorumNeverAccepted(uint256 seed, bytes32 endpointId) public {
        uint256 count = _bound(seed, 0, QUORUM - 1);
        Spec memory spec = _spec(oracle, endpointId, uint64(block.timestamp));
        uint16[] memory healths = new uint16[](count);
        for (uint256 i; i < count; ++i) healths[i] = uint16(uint256(keccak256(abi.encode(seed, i))) % 10_001);
        (bool ok, bytes memory err) = _trySubmit(
            oracle,
            spec.configDigest,
            endpointId,
            spec.round,
            _observations(spec, _prefix(keys, count), healths)
        );
        require(!ok, "report below quorum accepted");
        require(
            _selector(err) == IHealthOracle.HealthOracleInsufficientSignatures.selector,
            "unexpected error"
        );
        require(oracle.statusOf(endpointId).updatedAt == 0, "state changed");
    }

    /// @dev `count` values, `adversaries` of them at random positions extreme or arbitrary, the rest honest.
    function _values(
        uint256 seed,
        uint256 count,
        uint256 adversaries
    ) internal pure returns (uint16[] memory healths, uint256 minHonest, uint256 maxHonest) {
        healths = new uint16[](count);
        bool[] memory lying = new bool[](count);
        uint256 placed;
        for (uint256 attempt; placed < adversaries; ++attempt) {
            uint256 at = uint256(keccak256(abi.encode(seed, "at", attempt))) % count;
            if (!lying[at]) {
                lying[at] = true;
                ++placed;
            }
        }
        minHonest = type(uint256).max;
        for (uint256 i; i < count; ++i) {
            uint256 roll = uint256(keccak256(abi.encode(seed, "value", i)));
            uint256 arbitrary = (roll >> 8) % 10_001;
            if (lying[i]) {
                healths[i] = uint16(
                    roll % 3 == 0
                        ? 0
                        : roll % 3 == 1
                            ? 10_000
                            : arbitrary
                );
                continue;
            }
            healths[i] = uint16(arbitrary);
            if (arbitrary < minHonest) minHonest = arbitrary;
            if (arbitrary > maxHonest) maxHonest = arbitrary;
        }
    }
}
