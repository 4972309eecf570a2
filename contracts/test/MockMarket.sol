// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IGuardedMarket} from "../interfaces/IGuardedMarket.sol";

/// @title MockMarket
/// @notice A well-behaved guarded market for tests: records pause state and counts calls. `pauseWork`
/// makes its pause legitimately expensive (a market that settles state on pause), to test the gas floor.
contract MockMarket is IGuardedMarket {
    bool public paused;
    uint256 public pauseCalls;
    uint256 public unpauseCalls;
    uint256 public pauseWork;

    /// @notice Make each {guardPause} spend about `gasAmount` gas before it records the pause.
    function setPauseWork(uint256 gasAmount) external {
        pauseWork = gasAmount;
    }

    /// @inheritdoc IGuardedMarket
    function guardPause() external {
        uint256 work = pauseWork;
        if (work != 0) {
            uint256 until = gasleft() - work;
            while (gasleft() > until) {}
        }
        paused = true;
        ++pauseCalls;
    }

    /// @inheritdoc IGuardedMarket
    function guardUnpause() external {
        paused = false;
        ++unpauseCalls;
    }
}
