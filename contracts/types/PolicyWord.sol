// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IHealthOracle} from "../interfaces/IHealthOracle.sol";

/**
 * @dev An `IHealthOracle.Policy` packed in one word, so the hot path reads a policy with one SLOAD. Layout,
 * from the least significant bit: downBelowBps (0..15) | upAtBps (16..31) | fallRounds (32..39) |
 * riseRounds (40..47) | heartbeat (48..79) | maxAge (80..111).
 */
type PolicyWord is uint256;

using PolicyWordLibrary for PolicyWord global;

/// @title PolicyWordLibrary
/// @notice Validation, packing and getters of {PolicyWord}.
library PolicyWordLibrary {
    uint256 private constant _MAX_BPS = 10_000;

    /// @notice Validate and pack. Reverts {IHealthOracle.HealthOracleInvalidPolicy}.
    function encode(IHealthOracle.Policy memory policy) internal pure returns (PolicyWord) {
        if (
            policy.downBelowBps == 0 ||
            policy.upAtBps <= policy.downBelowBps ||
            policy.upAtBps > _MAX_BPS ||
            policy.fallRounds == 0 ||
            policy.riseRounds == 0 ||
            policy.heartbeat == 0 ||
            policy.maxAge == 0
        ) {
            revert IHealthOracle.HealthOracleInvalidPolicy(policy);
        }
        return
            PolicyWord.wrap(
                uint256(policy.downBelowBps) |
                    (uint256(policy.upAtBps) << 16) |
                    (uint256(policy.fallRounds) << 32) |
                    (uint256(policy.riseRounds) << 40) |
                    (uint256(policy.heartbeat) << 48) |
                    (uint256(policy.maxAge) << 80)
            );
    }

    function decode(PolicyWord self) internal pure returns (IHealthOracle.Policy memory) {
        return
            IHealthOracle.Policy({
                downBelowBps: downBelowBps(self),
                upAtBps: upAtBps(self),
                fallRounds: fallRounds(self),
                riseRounds: riseRounds(self),
                heartbeat: heartbeat(self),
                maxAge: maxAge(self)
            });
    }

    function downBelowBps(PolicyWord self) internal pure returns (uint16) {
        return uint16(PolicyWord.unwrap(self));
    }

    function upAtBps(PolicyWord self) internal pure returns (uint16) {
        return uint16(PolicyWord.unwrap(self) >> 16);
    }

    function fallRounds(PolicyWord self) internal pure returns (uint8) {
        return uint8(PolicyWord.unwrap(self) >> 32);
    }

    function riseRounds(PolicyWord self) internal pure returns (uint8) {
        return uint8(PolicyWord.unwrap(self) >> 40);
    }

    function heartbeat(PolicyWord self) internal pure returns (uint32) {
        return uint32(PolicyWord.unwrap(self) >> 48);
    }

    function maxAge(PolicyWord self) internal pure returns (uint32) {
        return uint32(PolicyWord.unwrap(self) >> 80);
    }
}
