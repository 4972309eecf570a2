// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IGuardedMarket} from "../interfaces/IGuardedMarket.sol";

/// @title MockMarketFlaky
/// @notice A guarded market whose hooks revert while told to refuse, and behave once told to accept: a market
/// whose pause or unpause fails for a while (a bug fixed by an upgrade, a dependency that comes back).
contract MockMarketFlaky is IGuardedMarket {
    error MockMarketFlakyRefused(bool pause);

    bool public paused;
    bool public refusing = true;
    uint256 public pauseCalls;
    uint256 public unpauseCalls;

    /// @notice Make both hooks revert (`true`, the initial setting) or succeed (`false`).
    function setRefusing(bool refusing_) external {
        refusing = refusing_;
    }

    /// @inheritdoc IGuardedMarket
    function guardPause() external {
        if (refusing) revert MockMarketFlakyRefused(true);
        paused = true;
        ++pauseCalls;
    }

    /// @inheritdoc IGuardedMarket
    function guardUnpause() external {
        if (refusing) revert MockMarketFlakyRefused(false);
        paused = false;
        ++unpauseCalls;
    }
}
