// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IGuardedMarket} from "../interfaces/IGuardedMarket.sol";

/// @title MockMarketGasBurner
/// @notice A guarded market whose hooks burn every unit of gas they are given.
contract MockMarketGasBurner is IGuardedMarket {
    uint256 public sink;

    /// @inheritdoc IGuardedMarket
    function guardPause() external {
        _burn();
    }

    /// @inheritdoc IGuardedMarket
    function guardUnpause() external {
        _burn();
    }

    function _burn() private {
        for (;;) {
            ++sink;
        }
    }
}
