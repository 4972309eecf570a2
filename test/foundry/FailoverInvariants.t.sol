// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {EndpointRegistry} from "../../contracts/EndpointRegistry.sol";
import {MarketGuard} from "../../contracts/MarketGuard.sol";
import {IEndpointRegistry} from "../../contracts/interfaces/IEndpointRegistry.sol";
import {IGuardedMarket} from "../../contracts/interfaces/IGuardedMarket.sol";
import {IHealthOracle} from "../../contracts/interfaces/IHealthOracle.sol";
import {IMarketGuard} from "../../contracts/interfaces/IMarketGuard.sol";
import {MockHealthOracle} from "../../contracts/test/MockHealthOracle.sol";
import {MockMarket} from "../../contracts/test/MockMarket.sol";
import {HealthRules} from "../../contracts/libraries/HealthRules.sol";
import {VigilTest} from "./utils/VigilTest.sol";

/**
 * @title FailoverHandler
 * @notice Drives {FailoverInvariantsTest}: random health sequences for the three endpoints of one service
 * (any status, any median with any quorum floor under it and ceiling over it, so medians are often biased
 * away from what a quorum supports, with or without the oracle's same-transaction notifications to the registry and
 * then the guard, as production wires them), random clock steps, and permissionless `migrate`, `trip` and
 * `resume` from anyone. After every action it checks the rules of THREATS #14 and #34 and counts each
 * violation in a ghost counter that must stay zero.
 */
contract FailoverHandler is VigilTest {
    MockHealthOracle internal immutable oracle;
    EndpointRegistry internal immutable registry;
    MarketGuard internal immutable guard;
    bytes32 internal immutable serviceId;
    uint32 internal immutable cooldown;
    uint256 internal immutable startedAt;

    /// @notice Gas the production HealthOracle gives each listener call (Ignition's default).
    uint256 public constant LISTENER_GAS = 500_000;

    bytes32[] internal endpointIds;
    /// @dev Markets on the service, with different thresholds, so the guard's per-service memo is shared.
    uint256[] internal marketIds;

    // Violations (must stay zero).
    /// @notice A pause (by `trip` or by the listener) while some endpoint was HEALTHY and usable at the
    /// threshold: no quorum had reported it under the threshold (`ceilingBps >= T`), whatever its median.
    uint256 public pausesWithHealthyEndpoint;
    /// @notice `tripStatus` said DUE while some endpoint was HEALTHY and usable at the threshold.
    uint256 public tripDueWithHealthyEndpoint;
    /// @notice A resume while the service's active endpoint was not HEALTHY with `floorBps >= T` (no quorum had
    /// reported it at or above the threshold), whatever its median.
    uint256 public resumesWithoutQuorumFloor;
    /// @notice The active endpoint was DOWN or UNKNOWN, another HEALTHY, and `migrationStatus` was not DUE_FAILOVER.
    uint256 public failoversHeld;
    /// @notice The oracle told the listeners that the active endpoint died (or a candidate became HEALTHY
    /// behind a dead active), and the transaction ended with the service still on a dead endpoint.
    uint256 public failoversMissedByListener;
    /// @notice A failback less than `cooldown` seconds after the migration before it.
    uint256 public failbacksInsideCooldown;
    /// @notice A listener call that reverted or ran out of its production gas budget.
    uint256 public listenerFailures;

    // Coverage (the invariants are not vacuous when these are non-zero).
    uint256 public failovers;
    uint256 public failoversInsideCooldown;
    uint256 public failbacks;
    uint256 public pauses;
    uint256 public resumes;

    constructor(
        MockHealthOracle oracle_,
        EndpointRegistry registry_,
        MarketGuard guard_,
        bytes32 serviceId_,
        bytes32[] memory endpointIds_,
        uint256[] memory marketIds_
    ) {
        oracle = oracle_;
        registry = registry_;
        guard = guard_;
        serviceId = serviceId_;
        endpointIds = endpointIds_;
        marketIds = marketIds_;
        cooldown = registry_.serviceInfo(serviceId_).config.cooldown;
        startedAt = block.timestamp;
    }

    // ------------------------------------------------------------------------------------------------
    // Actions
    // ------------------------------------------------------------------------------------------------

    /// @notice Set one endpoint's status, median, and a quorum floor `floorGap` under it and ceiling
    /// `ceilingGap` over it (bps, clamped to 0..10_000); with `notify`, tell the registry then the guard in the
    /// same transaction, each with the production gas budget inside try/catch, as the HealthOracle does.
    function setHealth(
        uint8 endpointSel,
        uint8 statusSel,
        uint16 healthBps,
        uint16 floorGap,
        uint16 ceilingGap,
        bool notify
    ) external {
        bytes32 endpointId = endpointIds[endpointSel % endpointIds.length];
        IHealthOracle.Status previous = oracle.statusOf(endpointId).status;
        // 0 UNKNOWN, 1 HEALTHY, 2 DEGRADED, 3 DOWN; 4 and 5 HEALTHY too, so HEALTHY backups and failbacks are common.
        uint8 sel = statusSel % 6;
        IHealthOracle.Status current = sel >= 4 ? IHealthOracle.Status.HEALTHY : IHealthOracle.Status(sel);
        bool[] memory wasPaused = _paused();
        uint64 lastBefore = _lastMigrationAt();
        bytes32 activeBefore = registry.activeEndpointId(serviceId);
        uint256 median = healthBps % 10_001;
        // Half the time the reports agree (floor = median = ceiling), otherwise any spread around the median.
        uint256 down = floorGap % 2 == 0 ? 0 : floorGap % 10_001;
        uint256 up = ceilingGap % 2 == 0 ? 0 : ceilingGap % 10_001;
        uint256 floor = down > median ? 0 : median - down;
        uint256 ceiling = median + up > 10_000 ? 10_000 : median + up;
        oracle.setStatusRange(endpointId, current, uint16(median), uint16(floor), uint16(ceiling));
        if (notify) {
            if (!oracle.notifyBounded(address(registry), LISTENER_GAS, endpointId, previous, current))
                ++listenerFailures;
            if (!oracle.notifyBounded(address(guard), LISTENER_GAS, endpointId, previous, current))
                ++listenerFailures;
            bool concernsFailover = endpointId == activeBefore || current == IHealthOracle.Status.HEALTHY;
            if (concernsFailover && _activeDead() && _healthyCandidateExists()) ++failoversMissedByListener;
        }
        _countMigration(activeBefore, lastBefore, false);
        _afterAction(wasPaused);
    }

    function migrate(address caller) external {
        bool[] memory wasPaused = _paused();
        uint64 lastBefore = _lastMigrationAt();
        bytes32 activeBefore = registry.activeEndpointId(serviceId);
        vm.prank(caller);
        try registry.migrate(serviceId) {} catch {}
        _countMigration(activeBefore, lastBefore, true);
        _afterAction(wasPaused);
    }

    function trip(address caller, uint8 marketSel) external {
        bool[] memory wasPaused = _paused();
        vm.prank(caller);
        try guard.trip(marketIds[marketSel % marketIds.length]) {} catch {}
        _afterAction(wasPaused);
    }

    function resume(address caller, uint8 marketSel) external {
        bool[] memory wasPaused = _paused();
        uint256 marketId = marketIds[marketSel % marketIds.length];
        uint16 threshold = guard.marketConfig(marketId).pauseThresholdBps;
        vm.prank(caller);
        try guard.resume(marketId) {
            ++resumes;
            IHealthOracle.EndpointHealth memory h = oracle.statusOf(registry.activeEndpointId(serviceId));
            if (!HealthRules.isHealthyAt(h, threshold)) ++resumesWithoutQuorumFloor;
        } catch {}
        _afterAction(wasPaused);
    }

    function warp(uint16 seconds_) external {
        bool[] memory wasPaused = _paused();
        vm.warp(block.timestamp + (seconds_ % 181));
        _afterAction(wasPaused);
    }

    /// @notice Seconds of simulated time since the campaign began (the T of the flapping bound).
    function elapsed() external view returns (uint256) {
        return block.timestamp - startedAt;
    }

    // ------------------------------------------------------------------------------------------------
    // Checks after every action
    // ------------------------------------------------------------------------------------------------

    function _afterAction(bool[] memory wasPaused) internal {
        for (uint256 i; i < marketIds.length; ++i) {
            uint256 marketId = marketIds[i];
            bool healthyLeft = _healthyEndpointAt(guard.marketConfig(marketId).pauseThresholdBps);
            if (!wasPaused[i] && guard.isPaused(marketId)) {
                ++pauses;
                if (healthyLeft) ++pausesWithHealthyEndpoint;
            }
            (IMarketGuard.GuardCheck check, ) = guard.tripStatus(marketId);
            if (healthyLeft && check == IMarketGuard.GuardCheck.DUE) ++tripDueWithHealthyEndpoint;
        }
        (IEndpointRegistry.MigrationCheck m, , ) = registry.migrationStatus(serviceId);
        if (_activeDead() && _healthyCandidateExists() && m != IEndpointRegistry.MigrationCheck.DUE_FAILOVER)
            ++failoversHeld;
    }

    /// @dev Classify a move of the active endpoint made by the last action (failback only through `migrate`).
    function _countMigration(bytes32 activeBefore, uint64 lastBefore, bool maybeFailback) internal {
        if (registry.activeEndpointId(serviceId) == activeBefore) return;
        bool insideCooldown = lastBefore != 0 && block.timestamp < uint256(lastBefore) + cooldown;
        IHealthOracle.Status was = oracle.statusOf(activeBefore).status;
        bool failback =
            maybeFailback && was != IHealthOracle.Status.DOWN && was != IHealthOracle.Status.UNKNOWN;
        if (failback) {
            ++failbacks;
            if (insideCooldown) ++failbacksInsideCooldown;
        } else {
            ++failovers;
            if (insideCooldown) ++failoversInsideCooldown;
        }
    }

    function _paused() internal view returns (bool[] memory paused) {
        paused = new bool[](marketIds.length);
        for (uint256 i; i < marketIds.length; ++i) paused[i] = guard.isPaused(marketIds[i]);
    }

    function _lastMigrationAt() internal view returns (uint64) {
        return registry.serviceInfo(serviceId).lastMigrationAt;
    }

    function _activeDead() internal view returns (bool) {
        return HealthRules.isDead(oracle.statusOf(registry.activeEndpointId(serviceId)).status);
    }

    function _healthyCandidateExists() internal view returns (bool) {
        bytes32 active = registry.activeEndpointId(serviceId);
        for (uint256 i; i < endpointIds.length; ++i) {
            if (endpointIds[i] == active) continue;
            if (oracle.statusOf(endpointIds[i]).status == IHealthOracle.Status.HEALTHY) return true;
        }
        return false;
    }

    /// @dev Some endpoint is HEALTHY and usable at `threshold` ({HealthRules.isUsable}: `ceilingBps >= T`). This
    /// covers every endpoint {HealthRules.isHealthyAt} accepts (`floorBps <= ceilingBps`), and more.
    function _healthyEndpointAt(uint16 threshold) internal view returns (bool) {
        for (uint256 i; i < endpointIds.length; ++i) {
            IHealthOracle.EndpointHealth memory h = oracle.statusOf(endpointIds[i]);
            if (h.status == IHealthOracle.Status.HEALTHY && HealthRules.isUsable(h, threshold)) return true;
        }
        return false;
    }
}

/**
 * @title FailoverInvariantsTest
 * @notice THREATS #14 and #34 on the real EndpointRegistry and MarketGuard, over random health sequences
 * of a three-endpoint service (cooldown 120 s, recovery period 60 s) and two markets on it with 5,000 and
 * 9,000 bps thresholds: a failover is never held back by the cooldown, neither `trip` nor the listeners
 * pause a market while some endpoint of its service is HEALTHY with no quorum under its threshold
 * (`ceilingBps >= T`, however low the median), a resume needs the active endpoint HEALTHY with a quorum at
 * or above the threshold (`floorBps >= T`, however high the median), and failbacks
 * (the moves off a usable endpoint) are at least a cooldown apart, so at most floor(T / cooldown) + 1 in T
 * seconds. Failovers are not bounded here: the mock has no hysteresis; the HealthOracle's fallRounds /
 * riseRounds and heartbeat are what space them.
 */
contract FailoverInvariantsTest is VigilTest {
    uint32 internal constant COOLDOWN = 120;
    uint32 internal constant RECOVERY = 60;
    uint16 internal constant THRESHOLD = 5_000;

    MockHealthOracle internal oracle;
    EndpointRegistry internal registry;
    MarketGuard internal guard;
    FailoverHandler internal handler;
    bytes32 internal serviceId;
    bytes32[] internal endpointIds;

    function setUp() public {
        vm.warp(T0);
        oracle = new MockHealthOracle();
        registry = new EndpointRegistry(IHealthOracle(address(oracle)));
        guard = new MarketGuard(address(this), IHealthOracle(address(oracle)), registry, 200_000);
        (serviceId, endpointIds) = _threeEndpointService(registry, COOLDOWN, RECOVERY);
        for (uint256 i; i < endpointIds.length; ++i) {
            oracle.setStatus(endpointIds[i], IHealthOracle.Status.HEALTHY, 10_000);
        }
        bytes32[] memory services = new bytes32[](1);
        services[0] = serviceId;
        uint256[] memory marketIds = new uint256[](2);
        uint16[2] memory thresholds = [THRESHOLD, 9_000];
        for (uint256 i; i < 2; ++i) {
            marketIds[i] = guard.registerMarket(
                IMarketGuard.MarketConfig(
                    IGuardedMarket(address(new MockMarket())),
                    address(0),
                    thresholds[i],
                    60,
                    services,
                    new bytes32[](0)
                )
            );
        }
        handler = new FailoverHandler(oracle, registry, guard, serviceId, endpointIds, marketIds);
    }

    function targetContracts() public view returns (address[] memory) {
        return _onlyTarget(address(handler));
    }

    function targetSelectors() public view returns (FuzzSelector[] memory) {
        bytes4[] memory selectors = new bytes4[](5);
        selectors[0] = FailoverHandler.setHealth.selector;
        selectors[1] = FailoverHandler.migrate.selector;
        selectors[2] = FailoverHandler.trip.selector;
        selectors[3] = FailoverHandler.resume.selector;
        selectors[4] = FailoverHandler.warp.selector;
        return _onlySelectors(address(handler), selectors);
    }

    /// @notice The drill's case, deterministic: the primary dies one second after a failback, deep inside the
    /// cooldown. The oracle's notification fails the service over in the same transaction and the market
    /// never pauses. Also shows that the handler reaches failovers, failbacks and pauses.
    function test_faultInsideCooldownAfterFailbackFailsOverWithoutPause() public {
        handler.setHealth(0, 3, 0, 0, 0, true); // A DOWN -> failover to B
        require(handler.failovers() == 1, "failover not reached");
        handler.setHealth(0, 1, 10_000, 0, 0, true); // A HEALTHY again
        handler.warp(180); // past the recovery period and the cooldown
        handler.migrate(address(0xBEEF)); // failback to A
        require(handler.failbacks() == 1, "failback not reached");
        handler.warp(1);
        handler.setHealth(0, 3, 0, 0, 0, true); // A DOWN one second after the failback
        require(registry.activeEndpointId(serviceId) == endpointIds[1], "failover held by the cooldown");
        require(handler.failoversInsideCooldown() == 1, "the fault did not land inside the cooldown");
        require(handler.pauses() == 0, "paused although B was HEALTHY");
        handler.setHealth(1, 3, 0, 0, 0, true); // B DOWN too: fail over to C at once
        require(registry.activeEndpointId(serviceId) == endpointIds[2], "second failover held");
        handler.setHealth(2, 0, 0, 0, 0, true); // C UNKNOWN, nothing usable: both markets pause
        require(handler.pauses() == 2, "no pause with nothing usable");
        _checkAll();
    }

    /// @notice The v2 threshold rule, deterministic: a median under the thresholds with a quorum ceiling over them
    /// pauses nothing; the ceiling under them pauses both markets; a HEALTHY median of 10_000 with its quorum
    /// floor under 5,000 resumes nothing; the floor at 10_000 resumes after the grace period.
    function test_biasedMedianNeitherPausesNorResumes() public {
        handler.setHealth(1, 3, 0, 0, 0, true); // B DOWN
        handler.setHealth(2, 3, 0, 0, 0, true); // C DOWN
        handler.setHealth(0, 2, 1_000, 1_001, 8_001, true); // A DEGRADED: median 1000, floor 0, ceiling 9001
        require(handler.pauses() == 0, "paused on a median under T with a ceiling over it");
        handler.setHealth(0, 2, 1_000, 0, 0, true); // a quorum now under both thresholds
        require(handler.pauses() == 2, "no pause once the ceiling is under T");
        handler.setHealth(0, 1, 10_000, 6_001, 0, true); // A HEALTHY: median 10_000, floor 3999
        handler.warp(120);
        handler.resume(address(0xBEEF), 0);
        require(handler.resumes() == 0, "resumed on a median over T with the floor under it");
        handler.setHealth(0, 1, 10_000, 0, 0, true); // the floor at 10_000 (HEALTHY again since now)
        handler.warp(120);
        handler.resume(address(0xBEEF), 0);
        handler.resume(address(0xBEEF), 1);
        require(handler.resumes() == 2, "no resume with the quorum floor at T after the grace period");
        _checkAll();
    }

    function invariant_failoverNeverHeldByCooldown() public view {
        require(handler.failoversHeld() == 0, "a failover to a HEALTHY endpoint was not due");
        require(handler.failoversMissedByListener() == 0, "the listener left the service on a dead endpoint");
        require(handler.listenerFailures() == 0, "a listener reverted or ran out of its gas budget");
    }

    function invariant_noPauseWhileAHealthyEndpointExists() public view {
        require(handler.pausesWithHealthyEndpoint() == 0, "paused while an endpoint was HEALTHY");
        require(handler.tripDueWithHealthyEndpoint() == 0, "trip due while an endpoint was HEALTHY");
    }

    function invariant_noResumeWithoutQuorumFloor() public view {
        require(handler.resumesWithoutQuorumFloor() == 0, "resumed without a quorum at the threshold");
    }

    /// @notice Migrations off usable endpoints (failbacks) <= floor(T / cooldown) + 1 over T seconds.
    function invariant_flappingBounded() public view {
        require(handler.failbacksInsideCooldown() == 0, "a failback inside the cooldown");
        require(handler.failbacks() <= handler.elapsed() / COOLDOWN + 1, "more failbacks than T / cooldown");
    }

    function _checkAll() internal view {
        invariant_failoverNeverHeldByCooldown();
        invariant_noPauseWhileAHealthyEndpointExists();
        invariant_noResumeWithoutQuorumFloor();
        invariant_flappingBounded();
    }
}
