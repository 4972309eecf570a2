// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IHealthListener} from "../interfaces/IHealthListener.sol";
import {IHealthOracle} from "../interfaces/IHealthOracle.sol";

/// @notice Test listener that records every notification and the oracle's view at that moment.
contract MockListenerRecording is IHealthListener {
    /// @notice Emitted on every notification; `stored` is `statusOf(endpointId).status` read during the call.
    event Notified(
        address indexed oracle,
        bytes32 indexed endpointId,
        IHealthOracle.Status previous,
        IHealthOracle.Status current,
        IHealthOracle.Status stored
    );

    uint256 private _calls;

    /// @inheritdoc IHealthListener
    function onStatusChange(
        bytes32 endpointId,
        IHealthOracle.Status previous,
        IHealthOracle.Status current
    ) external {
        ++_calls;
        IHealthOracle.Status stored = IHealthOracle(msg.sender).statusOf(endpointId).status;
        emit Notified(msg.sender, endpointId, previous, current, stored);
    }

    /// @notice Number of notifications received.
    function calls() external view returns (uint256) {
        return _calls;
    }
}
