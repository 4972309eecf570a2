// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IGuardedMarket} from "./IGuardedMarket.sol";
import {IEndpointRegistry} from "./IEndpointRegistry.sol";
import {IHealthOracle} from "./IHealthOracle.sol";

/**
 * @title IMarketGuard
 * @notice The circuit breaker. A market registers its dependencies (services, optionally single
 * endpoints), a pause threshold in bps and a grace period. A service that can still fail over is
 * migrated, not paused; one whose active endpoint is DOWN or UNKNOWN and cannot fail over now is paused,
 * so a market never stays open on a dead endpoint (see {tripStatus}). {resume} succeeds
 * once every dependency has been HEALTHY for the grace period, counted from the status's `since`
 * (Aave `PriceOracleSentinel`, Chainlink sequencer `startedAt`). Both are permissionless and re-check
 * their condition on-chain. A per-market guardian may pause at any time but never resume early.
 *
 * The pause threshold is crossed only on quorum evidence (health model v2, {HealthRules}): downward when at
 * least `quorum` attestors reported health under it (the endpoint's `ceilingBps < pauseThresholdBps`), upward
 * when at least `quorum` reported health at or above it (`floorBps >= pauseThresholdBps`). The median
 * (`healthBps`) is for display and feeds only: whoever relays chooses which signatures reach the chain and can
 * bias the median, but not push `ceilingBps` under, or `floorBps` over, what an honest attestor reported.
 */
interface IMarketGuard {
    /// @notice Why a market is or is not due to trip or resume.
    enum GuardCheck {
        DUE,
        ALREADY_PAUSED,
        NOT_PAUSED,
        DEPENDENCIES_USABLE, // trip: every dependency is usable, or its service can migrate now
        DEPENDENCY_UNHEALTHY, // resume: a dependency (active endpoint, or the endpoint) is not HEALTHY at floorBps >= T
        GRACE_PERIOD, // resume: healthy, but not for long enough yet
        UNKNOWN_MARKET
    }

    /**
     * @notice Whether the market still has to receive the guard's last decision. The guard records a pause or
     * resume before it calls the market; when that call fails (the hook reverts, or needs more than
     * {marketCallGas}), the decision stands in the guard and is owed to the market until {retryDelivery}
     * delivers it, or a later {trip} / {resume} / {guardianPause} supersedes it.
     */
    enum Delivery {
        NONE, // the market received the guard's last decision (or there was none)
        PENDING_PAUSE, // the guard holds the market paused; its `guardPause` call failed
        PENDING_UNPAUSE // the guard holds the market open; its `guardUnpause` call failed
    }

    /**
     * @notice Market settings.
     * @param market The contract to pause (implements {IGuardedMarket}).
     * @param guardian May pause at any time (zero: none).
     * @param pauseThresholdBps Health threshold in bps. An endpoint is usable ({tripStatus}) when HEALTHY or
     * DEGRADED and no quorum reported health under it (`ceilingBps >= pauseThresholdBps`); healthy enough to
     * resume ({resumeStatus}) when HEALTHY and a quorum reported health at or above it
     * (`floorBps >= pauseThresholdBps`).
     * @param gracePeriod Seconds every dependency must have been HEALTHY before {resume}, counted from the
     * later of its `since` and the pause.
     * @param services Services the market depends on (an RPC, a price feed service, a sequencer).
     * @param endpoints Single endpoints the market depends on directly (e.g. one oracle feed).
     */
    struct MarketConfig {
        IGuardedMarket market;
        address guardian;
        uint16 pauseThresholdBps;
        uint32 gracePeriod;
        bytes32[] services;
        bytes32[] endpoints;
    }

    /// @notice A market's state as read by {marketState}.
    struct MarketState {
        bool paused;
        uint64 pausedAt;
        Delivery delivery; // whether the market still has to receive the guard's last decision
        bytes32 cause; // the dependency (service or endpoint id) that tripped it; zero for a guardian pause
    }

    event MarketRegistered(uint256 indexed marketId, address indexed market, MarketConfig config);
    event MarketConfigChanged(uint256 indexed marketId, MarketConfig config);
    /// @notice The market was paused because `cause` (a service or endpoint id; zero for the guardian) failed.
    event MarketPaused(uint256 indexed marketId, bytes32 indexed cause, address indexed caller);
    event MarketResumed(uint256 indexed marketId, address indexed caller);
    /// @notice The guard recorded the pause but the market's {IGuardedMarket.guardPause} call failed.
    event MarketPauseCallFailed(uint256 indexed marketId, bytes reason);
    /// @notice The guard recorded the resume but the market's {IGuardedMarket.guardUnpause} call failed.
    event MarketUnpauseCallFailed(uint256 indexed marketId, bytes reason);
    /// @notice {retryDelivery} delivered a pause whose {IGuardedMarket.guardPause} call had failed.
    event MarketPauseDelivered(uint256 indexed marketId, address indexed caller);
    /// @notice {retryDelivery} delivered a resume whose {IGuardedMarket.guardUnpause} call had failed.
    event MarketUnpauseDelivered(uint256 indexed marketId, address indexed caller);

    /// @notice No market with this id (ids run from 1 to {marketCount}).
    error MarketGuardUnknownMarket(uint256 marketId);
    /// @notice The config is invalid: market without code, threshold over 10_000, no dependency, a zero or
    /// duplicate dependency, or a service / endpoint the registry does not know.
    error MarketGuardInvalidConfig(uint256 marketId);
    /// @notice `market` is already registered as `marketId`: one contract is one market, with one pause state
    /// (register it once and change its dependencies with {setMarketConfig}).
    error MarketGuardMarketAlreadyRegistered(address market, uint256 marketId);
    /// @notice More than {MAX_DEPENDENCIES} services plus endpoints.
    error MarketGuardTooManyDependencies(uint256 count, uint256 max);
    /// @notice `dependency` already has {MAX_MARKETS_PER_DEPENDENCY} markets.
    error MarketGuardTooManyMarkets(bytes32 dependency, uint256 max);
    /// @notice {trip} was called when not due; `check` says why.
    error MarketGuardTripNotDue(uint256 marketId, GuardCheck check);
    /// @notice {resume} was called when not due; `check` says why, `notBefore` when GRACE_PERIOD.
    error MarketGuardResumeNotDue(uint256 marketId, GuardCheck check, uint64 notBefore);
    /// @notice {guardianPause} by someone other than the market's guardian.
    error MarketGuardNotGuardian(uint256 marketId, address caller);
    /// @notice Only the HealthOracle may call {IHealthListener.onStatusChange}.
    error MarketGuardUnauthorizedOracle(address caller);
    /// @notice Constructor: the registry reads another oracle than the one given, or `marketCallGas` is zero.
    error MarketGuardInvalidSetup(address registryOracle, address oracle, uint256 marketCallGas);
    /// @notice Not enough gas left to give the market call its full budget (the 63/64 rule cannot be used to
    /// make the guard record a pause the market never received).
    error MarketGuardInsufficientGas(uint256 gasLeft, uint256 required);
    /// @notice {retryDelivery} was called for a market that has received the guard's last decision.
    error MarketGuardNothingToDeliver(uint256 marketId);
    /// @notice {setMarketConfig} would move `marketId` to another market contract while the guard holds it paused
    /// (`paused`) or still owes its current contract a pause or unpause (`delivery` not NONE): the new contract
    /// would stay open through the outage and the old one paused for good. Move it once {resume} (and, when a call
    /// failed, {retryDelivery}) has left both open; its other settings may change at any time.
    error MarketGuardMarketNotSettled(uint256 marketId, bool paused, Delivery delivery);

    /**
     * @notice Register a market. Owner only (a timelock in production).
     * Reverts {MarketGuardInvalidConfig}, {MarketGuardTooManyDependencies}, {MarketGuardTooManyMarkets}, and
     * {MarketGuardMarketAlreadyRegistered} when `config.market` is already registered under another id.
     * A market starts open whatever its dependencies' health. One registered while a dependency is not usable
     * (e.g. UNKNOWN: never reported yet) is at once due to trip ({tripStatus}): silence counts as failure, so
     * the first keeper (or anyone) pauses it, and it resumes once every dependency has been HEALTHY for the
     * grace period ({resumeStatus}).
     * @return marketId Sequential id starting at 1.
     */
    function registerMarket(MarketConfig calldata config) external returns (uint256 marketId);

    /**
     * @notice Replace a market's settings. Owner only. Does not change the paused state, nor call any market.
     * Its guardian, threshold (bps), grace period (seconds) and dependencies may change at any time, paused or not
     * (a paused market then resumes once its new dependencies are due, see {resumeStatus}). Its market
     * contract may change only while the market is settled: open, and the guard's last decision delivered
     * ({deliveryStatus} NONE). The old contract is then open and free to register again; the new one is assumed
     * open (the guard does not call it).
     * Reverts {MarketGuardUnknownMarket}; {MarketGuardMarketNotSettled} when `config.market` differs from the
     * current contract while the market is paused or a delivery is pending; otherwise as {registerMarket}.
     */
    function setMarketConfig(uint256 marketId, MarketConfig calldata config) external;

    /**
     * @notice Pause the market when a dependency is due (see {tripStatus}). Anyone may call.
     * Reverts {MarketGuardTripNotDue} otherwise. The pause is recorded before the market is called; a market
     * whose `guardPause` reverts emits {MarketPauseCallFailed}, does not revert the trip and leaves the
     * pause PENDING_PAUSE for {retryDelivery}.
     */
    function trip(uint256 marketId) external;

    /// @notice Pause at once, whatever the health. The market's guardian only ({MarketGuardNotGuardian});
    /// a no-op when already paused (a pause the market did not receive is delivered by {retryDelivery}).
    /// Exits stay open. {resume} still waits for the grace period after it.
    function guardianPause(uint256 marketId) external;

    /**
     * @notice Resume the market once every dependency has been HEALTHY for the grace period (see
     * {resumeStatus}). Anyone may call. Reverts {MarketGuardResumeNotDue} otherwise. The resume is recorded
     * before the market is called; a market whose `guardUnpause` reverts emits {MarketUnpauseCallFailed},
     * does not revert the resume and leaves it PENDING_UNPAUSE for {retryDelivery}.
     */
    function resume(uint256 marketId) external;

    /**
     * @notice Deliver to the market the guard's last decision whose market call failed (see {deliveryStatus}):
     * call `guardPause` again when PENDING_PAUSE, `guardUnpause` when PENDING_UNPAUSE, with {marketCallGas}
     * gas. Anyone may call; nothing about health is re-checked, because the guard's state does not change,
     * only the market catches up with it (the pause's `pausedAt` and `cause`, hence the resume grace period,
     * stay as they were).
     * On success the delivery is NONE and it emits {MarketPauseDelivered} / {MarketUnpauseDelivered}. On
     * failure it emits {MarketPauseCallFailed} / {MarketUnpauseCallFailed} (reason capped at 256 bytes),
     * stays pending and does not revert, so it can be retried.
     * Reverts {MarketGuardUnknownMarket}; {MarketGuardNothingToDeliver} when the delivery is NONE;
     * {MarketGuardInsufficientGas} as {trip}; `ReentrancyGuardReentrantCall` from a market hook.
     * @dev A separate entry point rather than letting {trip} / {resume} re-deliver: those re-check health and
     * restart the pause clock, while a retry must neither depend on health nor move the grace period.
     */
    function retryDelivery(uint256 marketId) external;

    /**
     * @notice Whether {trip} would succeed now. Never reverts.
     * @dev Usable ({HealthRules.isUsable}) means HEALTHY or DEGRADED with `ceilingBps >= pauseThresholdBps`:
     * the threshold is crossed downward only when at least `quorum` attestors reported health under it. A median
     * under the threshold with `ceilingBps` at or above it (fewer than `quorum` low reports, e.g. a relayer that
     * picked the lowest signatures) is not a crossing and trips nothing.
     * A direct endpoint dependency is due when it is not usable. A service dependency counts as unusable,
     * and is due, exactly when
     * (a) its ACTIVE endpoint (the one clients follow) is DOWN or UNKNOWN and the registry cannot fail over:
     * {IEndpointRegistry.migrationStatus} is NO_HEALTHY_CANDIDATE (every other endpoint is DEGRADED, DOWN
     * or UNKNOWN: a DEGRADED backup is never a failover target), or
     * (b) no endpoint of the service is usable at all.
     * Hence neither {trip} nor the oracle's listener pauses a market for a service dependency while some
     * endpoint of that service is HEALTHY with `ceilingBps` at or above the market's threshold: a DOWN or
     * UNKNOWN active endpoint with a HEALTHY backup is a failover, and the registry's cooldown never delays a
     * failover (it damps failback only), so the failover happens in the same transaction (the oracle notifies
     * the registry before the guard) or at the next {migrate} call.
     * An active endpoint merely under the threshold, not yet DOWN, is left to hysteresis (the registry
     * fails over once it is DOWN), so one bad round never pauses a market that can fail over.
     * @return check DUE or the reason it is not.
     * @return cause The first failing dependency (zero when none).
     */
    function tripStatus(uint256 marketId) external view returns (GuardCheck check, bytes32 cause);

    /**
     * @notice Whether {resume} would succeed now. Never reverts.
     * A dependency counts as healthy ({HealthRules.isHealthyAt}) when it reads HEALTHY and `floorBps >=
     * pauseThresholdBps` (for a service: its active endpoint): the threshold is crossed upward only when at
     * least `quorum` attestors reported health at or above it, so a HEALTHY endpoint whose median is over the
     * threshold still reads DEPENDENCY_UNHEALTHY while its `floorBps` is under it. Since
     * `floorBps <= ceilingBps`, a resumed market is never immediately due to trip again.
     * @return check DUE or the reason it is not.
     * @return notBefore When GRACE_PERIOD or DUE: the Unix second from which {resume} succeeds if health
     * holds, `max(since, pausedAt) + gracePeriod` over the dependencies; zero otherwise.
     */
    function resumeStatus(uint256 marketId) external view returns (GuardCheck check, uint64 notBefore);

    /**
     * @notice Whether the market still has to receive the guard's last decision: PENDING_PAUSE or
     * PENDING_UNPAUSE means {retryDelivery} is due. Never reverts (NONE for an unknown market).
     */
    function deliveryStatus(uint256 marketId) external view returns (Delivery);

    /// @notice Whether the guard holds the market paused (false for an unknown market).
    function isPaused(uint256 marketId) external view returns (bool);

    /// @notice A market's settings. Reverts {MarketGuardUnknownMarket}.
    function marketConfig(uint256 marketId) external view returns (MarketConfig memory);

    /// @notice A market's pause state and pending delivery. Reverts {MarketGuardUnknownMarket}.
    function marketState(uint256 marketId) external view returns (MarketState memory);

    /// @notice The id under which `market` is registered; zero when it is not.
    function marketIdOf(address market) external view returns (uint256);

    /// @notice Number of registered markets (ids run from 1 to this).
    function marketCount() external view returns (uint256);

    /// @notice Markets that depend on `dependency` (a service or endpoint id).
    function marketsOf(bytes32 dependency) external view returns (uint256[] memory);

    /// @notice The EndpointRegistry the guard reads services from (immutable).
    function registry() external view returns (IEndpointRegistry);

    /// @notice The HealthOracle the guard reads and which alone may notify it (immutable).
    function oracle() external view returns (IHealthOracle);

    /// @notice Gas given to each {IGuardedMarket} call (immutable). {trip}, {resume}, {guardianPause} and
    /// {retryDelivery} revert {MarketGuardInsufficientGas} unless `gasleft() >= marketCallGas * 64 / 63 + margin` at the call.
    function marketCallGas() external view returns (uint256);

    /// @notice Maximum services plus endpoints per market.
    function MAX_DEPENDENCIES() external view returns (uint256);

    /// @notice Maximum markets per dependency (bounds the status listener's work).
    function MAX_MARKETS_PER_DEPENDENCY() external view returns (uint256);
}
