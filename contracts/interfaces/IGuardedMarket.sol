// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/**
 * @title IGuardedMarket
 * @notice Implemented by a market (a perpetuals venue, a lending pool) that the MarketGuard may pause.
 * While paused, a market stops *opening* risk (open a position, borrow, add leverage); it must keep
 * every exit open (close, repay, withdraw), so users are never locked in by a pause.
 */
interface IGuardedMarket {
    /// @notice Stop opening risk. Callable by the guard only; must be idempotent and cheap.
    function guardPause() external;

    /// @notice Allow opening risk again. Callable by the guard only; must be idempotent and cheap.
    function guardUnpause() external;
}
