// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IGuardedMarket} from "../interfaces/IGuardedMarket.sol";

/// @title MockMarket
/// @notice A well-behaved guarded market for tests: records pause state and counts calls.
contract MockMarket is IGuardedMarket {
    bool public paused;
    uint256 public pauseCalls;
    uint256 public unpauseCalls;

    /// @inheritdoc IGuardedMarket
    function guardPause() external {
        paused = true;
        ++pauseCalls;
    }

    /// @inheritdoc IGuardedMarket
    function guardUnpause() external {
        paused = false;
        ++unpauseCalls;
    }
}
