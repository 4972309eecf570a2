// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AutomationCompatibleInterface} from "@chainlink/contracts/src/v0.8/automation/interfaces/AutomationCompatibleInterface.sol";
import {IEndpointRegistry} from "./IEndpointRegistry.sol";
import {IMarketGuard} from "./IMarketGuard.sol";

/**
 * @title IVigilUpkeep
 * @notice Vigil's permissionless triggers ({IEndpointRegistry.migrate}, {IMarketGuard.trip},
 * {IMarketGuard.resume}) behind Chainlink's `AutomationCompatibleInterface`, for anyone who triggers through
 * an automation network rather than running Vigil's own keepers.
 *
 * `checkData` (fixed at upkeep registration) is `abi.encode(bytes32[] serviceIds, uint256[] marketIds)`:
 * the services to migrate and the markets to trip or resume. {checkUpkeep} returns the due actions as
 * `abi.encode(Action[])`. {performUpkeep} treats that `performData` as an untrusted hint (it may be forged,
 * stale or raced, THREATS #26): it re-checks every action on-chain and performs only the due ones.
 */
interface IVigilUpkeep is AutomationCompatibleInterface {
    /// @notice What an action triggers.
    enum ActionKind {
        MIGRATE, // IEndpointRegistry.migrate(serviceId)
        TRIP, // IMarketGuard.trip(marketId)
        RESUME // IMarketGuard.resume(marketId)
    }

    /**
     * @notice One trigger.
     * @param kind MIGRATE, TRIP or RESUME.
     * @param id The service id for MIGRATE; the market id as `bytes32(marketId)` for TRIP and RESUME.
     */
    struct Action {
        ActionKind kind;
        bytes32 id;
    }

    /// @notice {performUpkeep} performed `kind` on `id` (the registry or guard emitted its own event too).
    event UpkeepActionPerformed(ActionKind indexed kind, bytes32 indexed id);

    /**
     * @notice {performUpkeep} skipped `kind` on `id`. `reason` is ABI-encoded custom-error data: when the
     * view said the action is not due, the error the target would have reverted with
     * ({IEndpointRegistry.EndpointRegistryMigrationNotDue}, {IMarketGuard.MarketGuardTripNotDue},
     * {IMarketGuard.MarketGuardResumeNotDue}); when the call itself failed, its revert data (e.g.
     * {IMarketGuard.MarketGuardInsufficientGas}). Decode it with the registry's and the guard's ABIs.
     */
    event UpkeepActionSkipped(ActionKind indexed kind, bytes32 indexed id, bytes reason);

    /// @notice `performData` is not the canonical `abi.encode(Action[])` of at most {MAX_ACTIONS} actions with
    /// valid kinds (`length` in bytes).
    error VigilUpkeepInvalidPerformData(uint256 length);

    /// @notice Every action in `performData` was skipped (none was due any more, or each call failed), so
    /// the whole upkeep reverts: an automation node simulating it then does not send a transaction.
    error VigilUpkeepNoActionPerformed(uint256 actionCount);

    /// @notice Constructor: the registry or the guard has no code, or the guard reads another registry.
    error VigilUpkeepInvalidSetup(address registry, address guard);

    /**
     * @notice Find the due actions among the services and markets in `checkData`. Simulated off-chain by
     * automation nodes; a view, anyone may call.
     * @dev Reads {IEndpointRegistry.migrationStatus} per service (DUE_FAILOVER or DUE_FAILBACK is due) and
     * {IMarketGuard.tripStatus} per market, then {IMarketGuard.resumeStatus} for a market that is already
     * paused. Collects at most {MAX_ACTIONS}: migrations first, then trips, then resumes, each in `checkData`
     * order (protection before recovery when more are due than fit). Duplicates in `checkData` are not
     * removed. Gas (`scripts/bench/upkeep-gas.ts`): about 0.85M for a full scan of {MAX_ITEMS} healthy
     * services and markets, but up to about 20.4M when every item is at the registry's and the guard's
     * bounds (16 endpoints per service, 8 services per market), above Chainlink Automation's usual 10M check
     * gas limit: size each upkeep's `checkData` to its network's limit, splitting heavy sets across upkeeps.
     * @param checkData `abi.encode(bytes32[] serviceIds, uint256[] marketIds)`. Reverts (ABI decoding) when
     * malformed, so a bad registration shows at once.
     * @return upkeepNeeded True when at least one action is due; false too when either list is longer than
     * {MAX_ITEMS} or `checkData` is longer than their canonical encoding at {MAX_ITEMS} each (checked before
     * decoding).
     * @return performData `abi.encode(Action[])` of the due actions; empty when `upkeepNeeded` is false.
     */
    function checkUpkeep(
        bytes calldata checkData
    ) external view override returns (bool upkeepNeeded, bytes memory performData);

    /**
     * @notice Perform the due actions among those in `performData`. Anyone may call (automation registry,
     * keeper, user): nothing in `performData` is trusted.
     * @dev For each action, re-reads the view ({IEndpointRegistry.migrationStatus},
     * {IMarketGuard.tripStatus} or {IMarketGuard.resumeStatus}) and calls the trigger only when due; a
     * not-due or failing action emits {UpkeepActionSkipped} and the loop goes on, so one action lost to a
     * racing keeper never undoes the others. Each performed action emits {UpkeepActionPerformed}.
     * Reverts {VigilUpkeepInvalidPerformData} when `performData` is not canonical `abi.encode(Action[])` with
     * at most {MAX_ACTIONS} actions and kinds in range; {VigilUpkeepNoActionPerformed} when no action was
     * performed (Chainlink's advice: revert when the re-validated conditions no longer hold).
     * Gas: about 72k for one failover, 0.47M for ten, 0.8M for ten mixed actions (trips and resumes include
     * the guard's market call), within Automation's perform gas limits.
     * @param performData `abi.encode(Action[])`, as returned by {checkUpkeep}; at most
     * `64 + 64 * MAX_ACTIONS` bytes.
     */
    function performUpkeep(bytes calldata performData) external override;

    /// @notice Most services, and most markets, {checkUpkeep} reads from one `checkData` (50 each).
    function MAX_ITEMS() external view returns (uint256);

    /// @notice Most actions {checkUpkeep} returns and {performUpkeep} accepts (10).
    function MAX_ACTIONS() external view returns (uint256);

    /// @notice The EndpointRegistry migrated (immutable).
    function registry() external view returns (IEndpointRegistry);

    /// @notice The MarketGuard tripped and resumed (immutable); reads the same registry.
    function guard() external view returns (IMarketGuard);
}
