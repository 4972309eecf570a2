// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IEndpointRegistry} from "../interfaces/IEndpointRegistry.sol";
import {IMarketGuard} from "../interfaces/IMarketGuard.sol";
import {IVigilUpkeep} from "../interfaces/IVigilUpkeep.sol";

/**
 * @title VigilUpkeep
 * @notice Chainlink Automation (or any automation network) front for Vigil's permissionless triggers:
 * {checkUpkeep} finds due migrations, trips and resumes; {performUpkeep} re-checks each one on-chain and
 * performs those still due. See {IVigilUpkeep}.
 * @dev Holds no state and no funds and has no owner: the registry and the guard re-check every condition
 * themselves, and this contract re-checks them again before calling, so a forged `performData` can at most
 * make a caller pay for a reverted transaction (THREATS #15, #26). Loops are bounded by {MAX_ITEMS} and
 * {MAX_ACTIONS} (THREATS #16).
 */
contract VigilUpkeep is IVigilUpkeep {
    /// @inheritdoc IVigilUpkeep
    uint256 public constant MAX_ITEMS = 50;

    /// @inheritdoc IVigilUpkeep
    uint256 public constant MAX_ACTIONS = 10;

    /// @dev Size of one ABI-encoded {Action}: kind and id, one word each.
    uint256 private constant _ACTION_BYTES = 64;

    /// @dev Head of `abi.encode(Action[])`: the offset word (always 0x20) and the length word.
    uint256 private constant _HEAD_BYTES = 64;

    /// @dev Longest `checkData` read: canonical `abi.encode(bytes32[], uint256[])` of {MAX_ITEMS} each (two
    /// offset words, two length words, the items). Checked before decoding, so oversized data costs nothing.
    uint256 private constant _MAX_CHECK_DATA_BYTES = 4 * 32 + 2 * MAX_ITEMS * 32;

    IEndpointRegistry private immutable _registry;
    IMarketGuard private immutable _guard;

    /**
     * @param registry_ The EndpointRegistry to migrate services on; must have code.
     * @param guard_ The MarketGuard to trip and resume markets on; must have code and read `registry_`.
     * Reverts {VigilUpkeepInvalidSetup}.
     */
    constructor(IEndpointRegistry registry_, IMarketGuard guard_) {
        if (
            address(registry_).code.length == 0 ||
            address(guard_).code.length == 0 ||
            address(guard_.registry()) != address(registry_)
        ) revert VigilUpkeepInvalidSetup(address(registry_), address(guard_));
        _registry = registry_;
        _guard = guard_;
    }

    /// @inheritdoc IVigilUpkeep
    function checkUpkeep(
        bytes calldata checkData
    ) external view override returns (bool upkeepNeeded, bytes memory performData) {
        if (checkData.length > _MAX_CHECK_DATA_BYTES) return (false, "");
        (bytes32[] memory serviceIds, uint256[] memory marketIds) = abi.decode(
            checkData,
            (bytes32[], uint256[])
        );
        if (serviceIds.length > MAX_ITEMS || marketIds.length > MAX_ITEMS) return (false, "");

        Action[] memory actions = new Action[](MAX_ACTIONS);
        uint256 count;
        for (uint256 i = 0; i < serviceIds.length && count < MAX_ACTIONS; ++i) {
            if (_migrationDue(serviceIds[i])) actions[count++] = Action(ActionKind.MIGRATE, serviceIds[i]);
        }
        // Trips take the free slots first; resumes wait in their own buffer and fill what is left.
        Action[] memory resumes = new Action[](MAX_ACTIONS);
        uint256 resumeCount;
        for (uint256 i = 0; i < marketIds.length && count < MAX_ACTIONS; ++i) {
            uint256 marketId = marketIds[i];
            (IMarketGuard.GuardCheck check, ) = _guard.tripStatus(marketId);
            if (check == IMarketGuard.GuardCheck.DUE) {
                actions[count++] = Action(ActionKind.TRIP, bytes32(marketId));
            } else if (check == IMarketGuard.GuardCheck.ALREADY_PAUSED && resumeCount + count < MAX_ACTIONS) {
                (check, ) = _guard.resumeStatus(marketId);
                if (check == IMarketGuard.GuardCheck.DUE) {
                    resumes[resumeCount++] = Action(ActionKind.RESUME, bytes32(marketId));
                }
            }
        }
        for (uint256 i = 0; i < resumeCount && count < MAX_ACTIONS; ++i) actions[count++] = resumes[i];

        if (count == 0) return (false, "");
        // Shrink the array in place to the actions found (count <= MAX_ACTIONS, memory already allocated).
        assembly ("memory-safe") {
            mstore(actions, count)
        }
        return (true, abi.encode(actions));
    }

    /// @inheritdoc IVigilUpkeep
    function performUpkeep(bytes calldata performData) external override {
        Action[] memory actions = _decodeActions(performData);
        uint256 performed;
        for (uint256 i = 0; i < actions.length; ++i) {
            if (_perform(actions[i].kind, actions[i].id)) ++performed;
        }
        if (performed == 0) revert VigilUpkeepNoActionPerformed(actions.length);
    }

    /// @inheritdoc IVigilUpkeep
    function registry() external view returns (IEndpointRegistry) {
        return _registry;
    }

    /// @inheritdoc IVigilUpkeep
    function guard() external view returns (IMarketGuard) {
        return _guard;
    }

    // ------------------------------------------------------------------------------------------------
    // Private
    // ------------------------------------------------------------------------------------------------

    /// @dev Re-check one action against its view and call the trigger only when due. Returns whether it was
    /// performed, after emitting {UpkeepActionPerformed} or {UpkeepActionSkipped}. Never reverts: a failed call
    /// is caught; its revert data comes from the immutable registry or guard (their own custom errors; the
    /// guard already bounds what a market returns), so copying it is bounded too.
    function _perform(ActionKind kind, bytes32 id) private returns (bool) {
        (address target, bytes memory callData, bytes memory notDue) = _plan(kind, id);
        if (target == address(0)) {
            emit UpkeepActionSkipped(kind, id, notDue);
            return false;
        }
        (bool ok, bytes memory reason) = target.call(callData);
        if (!ok) {
            emit UpkeepActionSkipped(kind, id, reason);
            return false;
        }
        emit UpkeepActionPerformed(kind, id);
        return true;
    }

    /// @dev The call that performs `kind` on `id` when its view says it is due now; otherwise a zero
    /// `target` and, in `notDue`, the custom error the trigger would revert with.
    function _plan(
        ActionKind kind,
        bytes32 id
    ) private view returns (address target, bytes memory callData, bytes memory notDue) {
        if (kind == ActionKind.MIGRATE) {
            (IEndpointRegistry.MigrationCheck check, , ) = _registry.migrationStatus(id);
            if (_isMigrationDue(check)) {
                return (address(_registry), abi.encodeCall(IEndpointRegistry.migrate, (id)), "");
            }
            notDue = abi.encodeWithSelector(
                IEndpointRegistry.EndpointRegistryMigrationNotDue.selector,
                id,
                check
            );
        } else if (kind == ActionKind.TRIP) {
            uint256 marketId = uint256(id);
            (IMarketGuard.GuardCheck check, ) = _guard.tripStatus(marketId);
            if (check == IMarketGuard.GuardCheck.DUE) {
                return (address(_guard), abi.encodeCall(IMarketGuard.trip, (marketId)), "");
            }
            notDue = abi.encodeWithSelector(IMarketGuard.MarketGuardTripNotDue.selector, marketId, check);
        } else {
            uint256 marketId = uint256(id);
            (IMarketGuard.GuardCheck check, uint64 notBefore) = _guard.resumeStatus(marketId);
            if (check == IMarketGuard.GuardCheck.DUE) {
                return (address(_guard), abi.encodeCall(IMarketGuard.resume, (marketId)), "");
            }
            notDue = abi.encodeWithSelector(
                IMarketGuard.MarketGuardResumeNotDue.selector,
                marketId,
                check,
                notBefore
            );
        }
    }

    /// @dev Decode a canonical `abi.encode(Action[])`: offset word 0x20, a length of at most {MAX_ACTIONS},
    /// exactly that many 64-byte actions, each kind in range. The size is checked before any decoding, so
    /// the work a forged `performData` can cause is bounded. Reverts {VigilUpkeepInvalidPerformData}.
    function _decodeActions(bytes calldata performData) private pure returns (Action[] memory actions) {
        uint256 length = performData.length;
        if (length < _HEAD_BYTES || length > _HEAD_BYTES + MAX_ACTIONS * _ACTION_BYTES) {
            revert VigilUpkeepInvalidPerformData(length);
        }
        (uint256 offset, uint256 count) = abi.decode(performData[:_HEAD_BYTES], (uint256, uint256));
        if (offset != 0x20 || count > MAX_ACTIONS || length != _HEAD_BYTES + count * _ACTION_BYTES) {
            revert VigilUpkeepInvalidPerformData(length);
        }
        actions = new Action[](count);
        for (uint256 i = 0; i < count; ++i) {
            uint256 at = _HEAD_BYTES + i * _ACTION_BYTES;
            (uint256 kind, bytes32 id) = abi.decode(performData[at:at + _ACTION_BYTES], (uint256, bytes32));
            if (kind > uint256(type(ActionKind).max)) revert VigilUpkeepInvalidPerformData(length);
            actions[i] = Action(ActionKind(kind), id);
        }
    }

    function _migrationDue(bytes32 serviceId) private view returns (bool) {
        (IEndpointRegistry.MigrationCheck check, , ) = _registry.migrationStatus(serviceId);
        return _isMigrationDue(check);
    }

    function _isMigrationDue(IEndpointRegistry.MigrationCheck check) private pure returns (bool) {
        return
            check == IEndpointRegistry.MigrationCheck.DUE_FAILOVER ||
            check == IEndpointRegistry.MigrationCheck.DUE_FAILBACK;
    }
}
