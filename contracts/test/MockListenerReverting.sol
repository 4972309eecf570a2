// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IHealthListener} from "../interfaces/IHealthListener.sol";
import {IHealthOracle} from "../interfaces/IHealthOracle.sol";

/// @notice Test listener that always reverts with a custom error.
contract MockListenerReverting is IHealthListener {
    /// @notice The error every notification reverts with.
    error MockListenerRevertingRefused(bytes32 endpointId);

    /// @inheritdoc IHealthListener
    function onStatusChange(bytes32 endpointId, IHealthOracle.Status, IHealthOracle.Status) external pure {
        revert MockListenerRevertingRefused(endpointId);
    }
}
