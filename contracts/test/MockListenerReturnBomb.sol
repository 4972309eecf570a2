// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IHealthListener} from "../interfaces/IHealthListener.sol";
import {IHealthOracle} from "../interfaces/IHealthOracle.sol";

/// @notice Test listener that reverts with a huge return-data blob (a return-data bomb).
contract MockListenerReturnBomb is IHealthListener {
    /// @notice First word of the blob, so the truncated reason can be recognised.
    bytes32 public constant MARKER = keccak256("MockListenerReturnBomb");

    uint256 private immutable _size;

    /// @param size Bytes of revert data to return.
    constructor(uint256 size) {
        _size = size;
    }

    /// @inheritdoc IHealthListener
    function onStatusChange(bytes32, IHealthOracle.Status, IHealthOracle.Status) external view {
        uint256 size = _size;
        bytes32 marker = MARKER;
        assembly ("memory-safe") {
            mstore(0, marker)
            revert(0, size)
        }
    }
}
