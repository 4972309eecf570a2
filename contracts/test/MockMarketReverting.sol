// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IGuardedMarket} from "../interfaces/IGuardedMarket.sol";

/// @title MockMarketReverting
/// @notice A guarded market whose hooks always revert with a custom error.
contract MockMarketReverting is IGuardedMarket {
    error MockMarketRevertingRefused(uint256 code);

    /// @inheritdoc IGuardedMarket
    function guardPause() external pure {
        revert MockMarketRevertingRefused(1);
    }

    /// @inheritdoc IGuardedMarket
    function guardUnpause() external pure {
        revert MockMarketRevertingRefused(2);
    }
}
