// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IEndpointRegistry} from "../interfaces/IEndpointRegistry.sol";
import {IGuardedMarket} from "../interfaces/IGuardedMarket.sol";
import {IMarketGuard} from "../interfaces/IMarketGuard.sol";

/// @title MockMarketReentrant
/// @notice A guarded market whose hooks call back into the guard or the registry. The call is not caught,
/// so a blocked re-entry makes the hook revert with the guard's error.
contract MockMarketReentrant is IGuardedMarket {
    enum Mode {
        NONE,
        TRIP,
        RESUME,
        GUARDIAN_PAUSE,
        MIGRATE,
        RETRY_DELIVERY
    }

    IMarketGuard public immutable guard;
    IEndpointRegistry public immutable registry;
    Mode public mode;
    uint256 public targetMarket;
    bytes32 public targetService;
    uint256 public calls;

    constructor(IMarketGuard guard_, IEndpointRegistry registry_) {
        guard = guard_;
        registry = registry_;
    }

    /// @notice Choose what the hooks call back into.
    function configure(Mode mode_, uint256 marketId, bytes32 serviceId) external {
        mode = mode_;
        targetMarket = marketId;
        targetService = serviceId;
    }

    /// @inheritdoc IGuardedMarket
    function guardPause() external {
        _reenter();
    }

    /// @inheritdoc IGuardedMarket
    function guardUnpause() external {
        _reenter();
    }

    function _reenter() private {
        ++calls;
        if (mode == Mode.TRIP) guard.trip(targetMarket);
        else if (mode == Mode.RESUME) guard.resume(targetMarket);
        else if (mode == Mode.GUARDIAN_PAUSE) guard.guardianPause(targetMarket);
        else if (mode == Mode.MIGRATE) registry.migrate(targetService);
        else if (mode == Mode.RETRY_DELIVERY) guard.retryDelivery(targetMarket);
    }
}
