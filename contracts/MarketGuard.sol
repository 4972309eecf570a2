// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IEndpointRegistry} from "./interfaces/IEndpointRegistry.sol";
import {IGuardedMarket} from "./interfaces/IGuardedMarket.sol";
import {IHealthListener} from "./interfaces/IHealthListener.sol";
import {IHealthOracle} from "./interfaces/IHealthOracle.sol";
import {IMarketGuard} from "./interfaces/IMarketGuard.sol";
import {BoundedCall} from "./libraries/BoundedCall.sol";
import {HealthRules} from "./libraries/HealthRules.sol";
import {MarketIndex} from "./libraries/MarketIndex.sol";

/**
 * @title MarketGuard
 * @notice The circuit breaker between endpoint health and the markets that depend on it. Configuration
 * belongs to the owner (a timelock in production); {trip} and {resume} belong to everyone and re-check
 * their condition on-chain; each market's guardian may pause but never resume early.
 * @dev Thresholds are read through {HealthRules}, shared with the registry: a market pauses for an endpoint only
 * when a quorum of attestors reported health under its threshold (`ceilingBps`), and resumes only when a quorum
 * reported health at or above it (`floorBps`), never on the median a relayer can bias.
 * Pause and resume record the guard's state first, then call the market with exactly {marketCallGas}
 * gas through {BoundedCall}: a market that reverts, burns its gas, returns a huge revert reason or
 * re-enters never blocks the guard or other markets (THREATS #17, #18). The call only happens with enough
 * gas left that the market really receives its full budget, so a caller cannot use the 63/64 rule to make
 * the guard record a pause the market never received. A failed call leaves the decision pending
 * ({deliveryStatus}) until anyone delivers it with {retryDelivery} or a later decision supersedes it.
 */
contract MarketGuard is IMarketGuard, IHealthListener, Ownable2Step, ReentrancyGuardTransient {
    /// @inheritdoc IMarketGuard
    uint256 public constant MAX_DEPENDENCIES = 8;

    /// @inheritdoc IMarketGuard
    uint256 public constant MAX_MARKETS_PER_DEPENDENCY = 16;

    /// @notice Gas kept on top of `marketCallGas * 64 / 63` at the market call: covers the CALL itself
    /// (cold account access) and the few operations between the check and the call.
    uint256 public constant MARKET_CALL_GAS_MARGIN = 5_000;

    /// @notice Gas the status listener keeps in hand before it starts pausing one more market: the state
    /// writes and the event come before the market call. Below it the listener stops; keepers finish.
    uint256 public constant LISTENER_PAUSE_RESERVE = 60_000;

    /// @notice Longest market revert reason kept in {MarketPauseCallFailed} / {MarketUnpauseCallFailed}, bytes.
    uint256 public constant MAX_REASON_BYTES = 256;

    IHealthOracle private immutable _oracle;
    IEndpointRegistry private immutable _registry;
    uint256 private immutable _marketCallGas;

    uint256 private _marketCount;
    mapping(uint256 marketId => MarketConfig) private _configs;
    mapping(uint256 marketId => MarketState) private _states;
    mapping(address market => uint256 marketId) private _marketIds;
    mapping(bytes32 dependency => uint256[] marketIds) private _marketsOf;

    /// @dev What one decision has read about a service, so markets with other thresholds reuse it: the active
    /// endpoint's health, whether the registry can migrate now (0 not read, 1 yes, 2 no), and
    /// `hasUsableEndpoint(service, t)`, which is monotone in `t`: thresholds below `usableBelow` are known
    /// usable, thresholds from `unusableFrom` on are known unusable.
    struct ServiceMemo {
        bool activeRead;
        IHealthOracle.EndpointHealth active;
        uint8 migration;
        uint256 usableBelow;
        uint256 unusableFrom;
    }

    uint8 private constant _MIGRATION_POSSIBLE = 1;
    uint8 private constant _MIGRATION_IMPOSSIBLE = 2;

    modifier onlyOracle() {
        _requireOracle();
        _;
    }

    modifier onlyGuardian(uint256 marketId) {
        _requireGuardian(marketId);
        _;
    }

    /**
     * @param initialOwner Configures markets (a timelock in production).
     * @param oracle_ The HealthOracle read for endpoint health; the only caller of {onStatusChange}.
     * @param registry_ The EndpointRegistry holding the services; must read the same oracle.
     * @param marketCallGas_ Gas given to each `guardPause` / `guardUnpause` call; non-zero.
     */
    constructor(
        address initialOwner,
        IHealthOracle oracle_,
        IEndpointRegistry registry_,
        uint256 marketCallGas_
    ) Ownable(initialOwner) {
        address registryOracle = address(registry_.oracle());
        if (registryOracle != address(oracle_) || marketCallGas_ == 0) {
            revert MarketGuardInvalidSetup(registryOracle, address(oracle_), marketCallGas_);
        }
        _oracle = oracle_;
        _registry = registry_;
        _marketCallGas = marketCallGas_;
    }

    // ------------------------------------------------------------------------------------------------
    // Configuration (owner)
    // ------------------------------------------------------------------------------------------------

    /// @inheritdoc IMarketGuard
    function registerMarket(MarketConfig calldata config) external onlyOwner returns (uint256 marketId) {
        marketId = _marketCount + 1;
        MarketIndex.validate(_registry, marketId, config, MAX_DEPENDENCIES);
        MarketIndex.bindMarket(_marketIds, marketId, address(0), address(config.market));
        _marketCount = marketId;
        _configs[marketId] = config;
        MarketIndex.add(_marketsOf, marketId, config, MAX_MARKETS_PER_DEPENDENCY);
        emit MarketRegistered(marketId, address(config.market), config);
    }

    /// @inheritdoc IMarketGuard
    function setMarketConfig(uint256 marketId, MarketConfig calldata config) external onlyOwner {
        _requireMarket(marketId);
        MarketIndex.validate(_registry, marketId, config, MAX_DEPENDENCIES);
        address previous = address(_configs[marketId].market);
        if (address(config.market) != previous) _requireSettled(marketId);
        MarketIndex.bindMarket(_marketIds, marketId, previous, address(config.market));
        MarketIndex.remove(_marketsOf, marketId, _configs[marketId]);
        _configs[marketId] = config;
        MarketIndex.add(_marketsOf, marketId, config, MAX_MARKETS_PER_DEPENDENCY);
        emit MarketConfigChanged(marketId, config);
    }

    // ------------------------------------------------------------------------------------------------
    // Triggers (anyone; guardian; oracle)
    // ------------------------------------------------------------------------------------------------

    /// @inheritdoc IMarketGuard
    function trip(uint256 marketId) external nonReentrant {
        (GuardCheck check, bytes32 cause) = _tripStatus(marketId);
        if (check != GuardCheck.DUE) revert MarketGuardTripNotDue(marketId, check);
        _pause(marketId, cause);
    }

    /// @inheritdoc IMarketGuard
    function guardianPause(uint256 marketId) external nonReentrant onlyGuardian(marketId) {
        if (_states[marketId].paused) return;
        _pause(marketId, bytes32(0));
    }

    /// @inheritdoc IMarketGuard
    function resume(uint256 marketId) external nonReentrant {
        (GuardCheck check, uint64 notBefore) = _resumeStatus(marketId);
        if (check != GuardCheck.DUE) revert MarketGuardResumeNotDue(marketId, check, notBefore);
        delete _states[marketId];
        emit MarketResumed(marketId, msg.sender);
        _deliver(marketId, Delivery.PENDING_UNPAUSE);
    }

    /// @inheritdoc IMarketGuard
    function retryDelivery(uint256 marketId) external nonReentrant {
        _requireMarket(marketId);
        MarketState storage state = _states[marketId];
        Delivery pending = state.delivery;
        if (pending == Delivery.NONE) revert MarketGuardNothingToDeliver(marketId);
        // Same order as trip and resume: record the decision as delivered, call, mark it pending again on failure.
        state.delivery = Delivery.NONE;
        if (!_deliver(marketId, pending)) return;
        if (pending == Delivery.PENDING_PAUSE) emit MarketPauseDelivered(marketId, msg.sender);
        else emit MarketUnpauseDelivered(marketId, msg.sender);
    }

    /**
     * @notice Told by the oracle that `endpointId` changed status: pause, in the same transaction, every
     * unpaused market for which that endpoint (a direct dependency) or its service is now due (see
     * {IMarketGuard.tripStatus}).
     * Callable by the oracle only ({MarketGuardUnauthorizedOracle}).
     * @dev Never reverts for "not due". Checks only the dependency the change concerns (a market due for
     * another dependency was due at that dependency's change, and keepers are the backup path). Bounded by
     * 2 x {MAX_MARKETS_PER_DEPENDENCY} markets; a service's usability is memoised across markets. Stops,
     * leaving the rest to keepers, when less than {LISTENER_PAUSE_RESERVE} plus a market call remains.
     * The oracle notifies the registry first, so a service that could fail over has already migrated.
     */
    function onStatusChange(
        bytes32 endpointId,
        IHealthOracle.Status /* previous */,
        IHealthOracle.Status /* current */
    ) external onlyOracle nonReentrant {
        if (!_tripDependents(endpointId, false)) return;
        bytes32 serviceId = _registry.serviceOf(endpointId);
        if (serviceId != bytes32(0)) _tripDependents(serviceId, true);
    }

    // ------------------------------------------------------------------------------------------------
    // Views
    // ------------------------------------------------------------------------------------------------

    /// @inheritdoc IMarketGuard
    function tripStatus(uint256 marketId) external view returns (GuardCheck check, bytes32 cause) {
        return _tripStatus(marketId);
    }

    /// @inheritdoc IMarketGuard
    function resumeStatus(uint256 marketId) external view returns (GuardCheck check, uint64 notBefore) {
        return _resumeStatus(marketId);
    }

    /// @inheritdoc IMarketGuard
    function deliveryStatus(uint256 marketId) external view returns (Delivery) {
        return _states[marketId].delivery;
    }

    /// @inheritdoc IMarketGuard
    function isPaused(uint256 marketId) external view returns (bool) {
        return _states[marketId].paused;
    }

    /// @inheritdoc IMarketGuard
    function marketConfig(uint256 marketId) external view returns (MarketConfig memory) {
        _requireMarket(marketId);
        return _configs[marketId];
    }

    /// @inheritdoc IMarketGuard
    function marketState(uint256 marketId) external view returns (MarketState memory) {
        _requireMarket(marketId);
        return _states[marketId];
    }

    /// @inheritdoc IMarketGuard
    function marketIdOf(address market) external view returns (uint256) {
        return _marketIds[market];
    }

    /// @inheritdoc IMarketGuard
    function marketCount() external view returns (uint256) {
        return _marketCount;
    }

    /// @inheritdoc IMarketGuard
    function marketsOf(bytes32 dependency) external view returns (uint256[] memory) {
        return _marketsOf[dependency];
    }

    /// @inheritdoc IMarketGuard
    function registry() external view returns (IEndpointRegistry) {
        return _registry;
    }

    /// @inheritdoc IMarketGuard
    function oracle() external view returns (IHealthOracle) {
        return _oracle;
    }

    /// @inheritdoc IMarketGuard
    function marketCallGas() external view returns (uint256) {
        return _marketCallGas;
    }

    // ------------------------------------------------------------------------------------------------
    // Internals: decisions
    // ------------------------------------------------------------------------------------------------

    function _tripStatus(uint256 marketId) private view returns (GuardCheck, bytes32) {
        if (!_exists(marketId)) return (GuardCheck.UNKNOWN_MARKET, bytes32(0));
        if (_states[marketId].paused) return (GuardCheck.ALREADY_PAUSED, bytes32(0));
        MarketConfig storage c = _configs[marketId];
        uint16 threshold = c.pauseThresholdBps;
        uint256 count = c.services.length;
        for (uint256 i = 0; i < count; ++i) {
            bytes32 serviceId = c.services[i];
            if (_serviceDue(serviceId, threshold, _newMemo())) return (GuardCheck.DUE, serviceId);
        }
        count = c.endpoints.length;
        for (uint256 i = 0; i < count; ++i) {
            bytes32 endpointId = c.endpoints[i];
            if (!HealthRules.isUsable(_oracle.statusOf(endpointId), threshold))
                return (GuardCheck.DUE, endpointId);
        }
        return (GuardCheck.DEPENDENCIES_USABLE, bytes32(0));
    }

    function _resumeStatus(uint256 marketId) private view returns (GuardCheck, uint64) {
        if (!_exists(marketId)) return (GuardCheck.UNKNOWN_MARKET, 0);
        MarketState storage state = _states[marketId];
        if (!state.paused) return (GuardCheck.NOT_PAUSED, 0);
        MarketConfig storage c = _configs[marketId];
        uint16 threshold = c.pauseThresholdBps;
        // Grace counts from the later of the pause and each dependency's `since`, never from its last update.
        uint256 healthyFrom = state.pausedAt;
        uint256 count = c.services.length;
        for (uint256 i = 0; i < count; ++i) {
            IHealthOracle.EndpointHealth memory h = _oracle.statusOf(
                _registry.activeEndpointId(c.services[i])
            );
            if (!HealthRules.isHealthyAt(h, threshold)) return (GuardCheck.DEPENDENCY_UNHEALTHY, 0);
            if (h.since > healthyFrom) healthyFrom = h.since;
        }
        count = c.endpoints.length;
        for (uint256 i = 0; i < count; ++i) {
            IHealthOracle.EndpointHealth memory h = _oracle.statusOf(c.endpoints[i]);
            if (!HealthRules.isHealthyAt(h, threshold)) return (GuardCheck.DEPENDENCY_UNHEALTHY, 0);
            if (h.since > healthyFrom) healthyFrom = h.since;
        }
        uint64 notBefore = uint64(healthyFrom + c.gracePeriod);
        if (block.timestamp < notBefore) return (GuardCheck.GRACE_PERIOD, notBefore);
        return (GuardCheck.DUE, notBefore);
    }

    /// @dev Listener path: pause the unpaused markets of `dependency` for which it is now unusable.
    /// Returns false when it stopped for lack of gas.
    function _tripDependents(bytes32 dependency, bool isService) private returns (bool) {
        uint256[] storage ids = _marketsOf[dependency];
        uint256 count = ids.length;
        IHealthOracle.EndpointHealth memory h;
        if (!isService && count != 0) h = _oracle.statusOf(dependency);
        ServiceMemo memory memo = _newMemo();
        for (uint256 i = 0; i < count; ++i) {
            uint256 marketId = ids[i];
            if (_states[marketId].paused) continue;
            uint16 threshold = _configs[marketId].pauseThresholdBps;
            bool due =
                isService ? _serviceDue(dependency, threshold, memo) : !HealthRules.isUsable(h, threshold);
            if (!due) continue;
            if (gasleft() < _requiredMarketCallGas() + LISTENER_PAUSE_RESERVE) return false;
            _pause(marketId, dependency);
        }
        return true;
    }

    /**
     * @dev Whether a market with `threshold` must pause for `serviceId` (the rule of {IMarketGuard.tripStatus}):
     * its ACTIVE endpoint, the one clients follow, is DOWN or UNKNOWN and the registry has no HEALTHY
     * candidate to fail over to (a failover that cannot happen must not leave the market on a dead
     * endpoint), or no endpoint of the service is usable at all. An active endpoint merely under the
     * threshold is left to hysteresis. A service whose failover is due is migrated instead: the registry
     * never delays a failover, and the oracle notifies it first, so in the listener it has already happened.
     */
    function _serviceDue(
        bytes32 serviceId,
        uint16 threshold,
        ServiceMemo memory memo
    ) private view returns (bool) {
        if (!memo.activeRead) {
            memo.active = _oracle.statusOf(_registry.activeEndpointId(serviceId));
            memo.activeRead = true;
        }
        // A usable active endpoint is a usable endpoint of the service: neither rule applies.
        if (HealthRules.isUsable(memo.active, threshold)) return false;
        // An active endpoint that is only under the threshold (HEALTHY or DEGRADED, not yet confirmed DOWN)
        // is left to hysteresis: the registry fails over once it is DOWN. Only a DOWN or UNKNOWN active
        // endpoint that cannot be migrated away from trips by the first rule.
        bool activeDead = HealthRules.isDead(memo.active.status);
        if (activeDead && memo.migration == 0) {
            (IEndpointRegistry.MigrationCheck check, , ) = _registry.migrationStatus(serviceId);
            memo.migration =
                check == IEndpointRegistry.MigrationCheck.DUE_FAILOVER ||
                check == IEndpointRegistry.MigrationCheck.DUE_FAILBACK
                    ? _MIGRATION_POSSIBLE
                    : _MIGRATION_IMPOSSIBLE;
        }
        if (activeDead && memo.migration == _MIGRATION_IMPOSSIBLE) return true;
        if (threshold < memo.usableBelow) return false;
        if (threshold >= memo.unusableFrom) return true;
        bool usable = _registry.hasUsableEndpoint(serviceId, threshold);
        if (usable) memo.usableBelow = uint256(threshold) + 1;
        else memo.unusableFrom = threshold;
        return !usable;
    }

    function _newMemo() private pure returns (ServiceMemo memory memo) {
        memo.unusableFrom = type(uint256).max;
    }

    // ------------------------------------------------------------------------------------------------
    // Internals: effects and the market call
    // ------------------------------------------------------------------------------------------------

    /// @dev Record the pause (checks-effects-interactions), emit, then tell the market. Supersedes any pending
    /// delivery: an unpause the market never received no longer matters once it must pause.
    function _pause(uint256 marketId, bytes32 cause) private {
        _states[marketId] = MarketState({
            paused: true,
            pausedAt: uint64(block.timestamp),
            delivery: Delivery.NONE,
            cause: cause
        });
        emit MarketPaused(marketId, cause, msg.sender);
        _deliver(marketId, Delivery.PENDING_PAUSE);
    }

    /**
     * @dev Tell the market the guard's current decision (`guardPause` for PENDING_PAUSE, `guardUnpause` for
     * PENDING_UNPAUSE), which the caller has recorded as delivered, with exactly {marketCallGas} gas through
     * {BoundedCall} (no code-size check that could revert the guard; of a failure's return data only the first
     * {MAX_REASON_BYTES} bytes are copied). Reverts {MarketGuardInsufficientGas} unless the market can really
     * receive its full budget (EIP-150 forwards at most 63/64 of what is left). On failure, record the decision
     * as `pending` and emit the call failure.
     */
    function _deliver(uint256 marketId, Delivery pending) private returns (bool ok) {
        bool pause = pending == Delivery.PENDING_PAUSE;
        address market = address(_configs[marketId].market);
        bytes memory data =
            pause
                ? abi.encodeCall(IGuardedMarket.guardPause, ())
                : abi.encodeCall(IGuardedMarket.guardUnpause, ());
        uint256 required = _requiredMarketCallGas();
        uint256 left = gasleft();
        if (left < required) revert MarketGuardInsufficientGas(left, required);
        bytes memory reason;
        (ok, reason) = BoundedCall.call(market, data, _marketCallGas, MAX_REASON_BYTES);
        if (ok) return true;
        _states[marketId].delivery = pending;
        if (pause) emit MarketPauseCallFailed(marketId, reason);
        else emit MarketUnpauseCallFailed(marketId, reason);
    }

    function _requiredMarketCallGas() private view returns (uint256) {
        return BoundedCall.requiredGas(_marketCallGas, MARKET_CALL_GAS_MARGIN);
    }

    // ------------------------------------------------------------------------------------------------
    // Internals: access
    // ------------------------------------------------------------------------------------------------

    function _exists(uint256 marketId) private view returns (bool) {
        return marketId != 0 && marketId <= _marketCount;
    }

    function _requireMarket(uint256 marketId) private view {
        if (!_exists(marketId)) revert MarketGuardUnknownMarket(marketId);
    }

    /// @dev The market contract holds exactly the guard's state (open, every decision delivered), so the id can
    /// move to another contract without leaving one paused behind or one open through an outage.
    function _requireSettled(uint256 marketId) private view {
        MarketState storage state = _states[marketId];
        if (state.paused || state.delivery != Delivery.NONE)
            revert MarketGuardMarketNotSettled(marketId, state.paused, state.delivery);
    }

    function _requireGuardian(uint256 marketId) private view {
        _requireMarket(marketId);
        address guardian = _configs[marketId].guardian;
        if (guardian == address(0) || msg.sender != guardian)
            revert MarketGuardNotGuardian(marketId, msg.sender);
    }

    function _requireOracle() private view {
        if (msg.sender != address(_oracle)) revert MarketGuardUnauthorizedOracle(msg.sender);
    }
}
