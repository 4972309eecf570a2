// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IHealthListener} from "../interfaces/IHealthListener.sol";
import {IHealthOracle} from "../interfaces/IHealthOracle.sol";

/// @notice Test listener that burns all the gas it is given.
contract MockListenerGasBurning is IHealthListener {
    uint256 private _sink;

    /// @inheritdoc IHealthListener
    function onStatusChange(bytes32, IHealthOracle.Status, IHealthOracle.Status) external {
        while (true) {
            ++_sink;
        }
    }
}
