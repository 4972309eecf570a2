// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IGuardedMarket} from "../interfaces/IGuardedMarket.sol";

/// @title MockMarketOriginCheck
/// @notice A hostile guarded market: its hooks refuse whenever `tx.origin != msg.sender`, which is every real call
/// (an externally owned account sends `retryDelivery`, the guard calls the hook) while an `eth_call` from the
/// guard's own address (`from == guard`, so `tx.origin == msg.sender`) accepts. A keeper that trusts the `eth_call`
/// pre-check pays for a `retryDelivery` that leaves the delivery pending, forever; only the outcome tells.
contract MockMarketOriginCheck is IGuardedMarket {
    error MockMarketOriginCheckRefused(address origin, address sender);

    bool public paused;
    uint256 public pauseCalls;
    uint256 public unpauseCalls;

    /// @inheritdoc IGuardedMarket
    function guardPause() external {
        _requireSameOrigin();
        paused = true;
        ++pauseCalls;
    }

    /// @inheritdoc IGuardedMarket
    function guardUnpause() external {
        _requireSameOrigin();
        paused = false;
        ++unpauseCalls;
    }

    function _requireSameOrigin() private view {
        // solhint-disable-next-line avoid-tx-origin
        if (tx.origin != msg.sender) revert MockMarketOriginCheckRefused(tx.origin, msg.sender);
    }
}
