// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IHealthOracle} from "./IHealthOracle.sol";

/**
 * @title IEndpointRegistry
 * @notice Services (an RPC, an oracle feed, a sequencer, a front end), each with an owner and up to
 * {MAX_ENDPOINTS} endpoints ordered by priority (lower value preferred, as DNS SRV records, RFC 2782).
 * Clients and routers follow {activeEndpoint}. {migrate} is permissionless: it moves a service off an
 * active endpoint that is DOWN or UNKNOWN to the best HEALTHY one at once (failover: never delayed by the
 * cooldown), and back to a better-priority endpoint once that one has been HEALTHY for the service's
 * recovery period and the cooldown since the last migration has passed (failback). Every condition is
 * re-checked on-chain from the HealthOracle, so no key and no vote is needed.
 */
interface IEndpointRegistry {
    /// @notice How to reach an endpoint. `uri` is a URL for JSON_RPC, WEBSOCKET and HTTP, and a CAIP-10
    /// account id (`eip155:<chainId>:<address>`) for ORACLE_FEED and SEQUENCER_FEED.
    enum EndpointKind {
        JSON_RPC,
        WEBSOCKET,
        ORACLE_FEED,
        SEQUENCER_FEED,
        HTTP
    }

    /// @notice Why a migration is or is not due (see {migrationStatus}).
    enum MigrationCheck {
        DUE_FAILOVER, // active is DOWN or UNKNOWN and a HEALTHY candidate exists
        DUE_FAILBACK, // a better-priority endpoint has been HEALTHY for the recovery period
        ACTIVE_USABLE, // active endpoint is HEALTHY or DEGRADED and no failback is due
        NO_HEALTHY_CANDIDATE, // active is DOWN or UNKNOWN but no other endpoint is HEALTHY
        COOLDOWN, // a failback is due but the cooldown since the last migration has not elapsed (never a failover)
        UNKNOWN_SERVICE // no such service, or it has no endpoint
    }

    /// @notice An endpoint as stored.
    struct Endpoint {
        bytes32 id;
        EndpointKind kind;
        uint16 priority;
        string uri;
    }

    /**
     * @notice Service settings.
     * @param cooldown Minimum seconds from any migration of the service to the next failback (anti-flapping).
     * It never delays a failover: a move off a DOWN or UNKNOWN active endpoint to a HEALTHY one is due at
     * once, so that a failover never becomes a market pause (THREATS #34). Failbacks are therefore at least
     * `cooldown` seconds apart: at most floor(T / cooldown) + 1 of them in any T seconds with this cooldown.
     * @param recoveryPeriod Seconds a better-priority endpoint must have been HEALTHY (from its `since`)
     * before failback to it; 0 disables failback.
     */
    struct ServiceConfig {
        uint32 cooldown;
        uint32 recoveryPeriod;
    }

    /// @notice A service as read by {serviceInfo}.
    struct ServiceInfo {
        address owner;
        string name;
        ServiceConfig config;
        uint8 activeIndex;
        uint64 lastMigrationAt;
        uint256 endpointCount;
    }

    event ServiceRegistered(
        bytes32 indexed serviceId,
        address indexed owner,
        string name,
        ServiceConfig config
    );
    event ServiceConfigChanged(bytes32 indexed serviceId, ServiceConfig config);
    event ServiceOwnershipTransferred(
        bytes32 indexed serviceId,
        address indexed previousOwner,
        address indexed newOwner
    );
    event EndpointAdded(
        bytes32 indexed serviceId,
        bytes32 indexed endpointId,
        EndpointKind kind,
        uint16 priority,
        string uri
    );
    event EndpointPriorityChanged(bytes32 indexed serviceId, bytes32 indexed endpointId, uint16 priority);
    /// @notice The active endpoint of `serviceId` moved from `from` to `to`; `failback` when moving back to a
    /// better-priority endpoint that recovered.
    event EndpointMigrated(
        bytes32 indexed serviceId,
        bytes32 indexed from,
        bytes32 indexed to,
        bool failback
    );

    error EndpointRegistryUnknownService(bytes32 serviceId);
    error EndpointRegistryServiceExists(bytes32 serviceId);
    error EndpointRegistryUnknownEndpoint(bytes32 endpointId);
    error EndpointRegistryEndpointExists(bytes32 endpointId);
    error EndpointRegistryNotServiceOwner(bytes32 serviceId, address caller);
    error EndpointRegistryTooManyEndpoints(bytes32 serviceId, uint256 max);
    error EndpointRegistryInvalidEndpoint(string uri);
    error EndpointRegistryInvalidOwner(address owner);
    /// @notice {migrate} was called when no migration is due; `check` says why.
    error EndpointRegistryMigrationNotDue(bytes32 serviceId, MigrationCheck check);
    /// @notice Only the HealthOracle may call {IHealthListener.onStatusChange}.
    error EndpointRegistryUnauthorizedOracle(address caller);

    /**
     * @notice Register a service. Anyone may call; the caller becomes its owner. The id is namespaced by the
     * caller, `keccak256(abi.encode(msg.sender, name))`, so names cannot be squatted.
     * @return serviceId The new service's id. Reverts {EndpointRegistryServiceExists}.
     */
    function registerService(
        string calldata name,
        ServiceConfig calldata config
    ) external returns (bytes32 serviceId);

    /**
     * @notice Add an endpoint to a service. Service owner only ({EndpointRegistryNotServiceOwner},
     * {EndpointRegistryUnknownService}). The first endpoint added becomes active.
     * @param priority Lower is preferred (RFC 2782); ties keep the order of addition.
     * @return endpointId `keccak256(abi.encode(serviceId, kind, uri))`, the id attestors sign for.
     * Reverts {EndpointRegistryTooManyEndpoints}, {EndpointRegistryEndpointExists},
     * {EndpointRegistryInvalidEndpoint} (empty or over 256 bytes).
     */
    function addEndpoint(
        bytes32 serviceId,
        EndpointKind kind,
        string calldata uri,
        uint16 priority
    ) external returns (bytes32 endpointId);

    /// @notice Change an endpoint's priority (lower preferred). Service owner only. Does not move the active
    /// endpoint by itself; {migrate} follows the new order. Reverts {EndpointRegistryUnknownEndpoint},
    /// {EndpointRegistryNotServiceOwner}.
    function setEndpointPriority(bytes32 endpointId, uint16 priority) external;

    /// @notice Change cooldown and recovery period (seconds). Service owner only. Reverts
    /// {EndpointRegistryUnknownService}, {EndpointRegistryNotServiceOwner}.
    function setServiceConfig(bytes32 serviceId, ServiceConfig calldata config) external;

    /// @notice Hand a service to a new owner, in one step. Service owner only; reverts
    /// {EndpointRegistryInvalidOwner} for the zero address.
    function transferServiceOwnership(bytes32 serviceId, address newOwner) external;

    /**
     * @notice Move the service to its best HEALTHY endpoint when due (see {migrationStatus}). Anyone may
     * call. Reverts {EndpointRegistryMigrationNotDue} otherwise, so racing keepers lose cheaply.
     * @return to The new active endpoint id.
     */
    function migrate(bytes32 serviceId) external returns (bytes32 to);

    /**
     * @notice Whether {migrate} would succeed now, and to which endpoint. Never reverts.
     * @return check DUE_FAILOVER or DUE_FAILBACK when due, otherwise the reason it is not.
     * @return to The endpoint a migration would pick (zero when none).
     * @return notBefore When COOLDOWN (a failback only), the Unix second from which it is allowed.
     */
    function migrationStatus(
        bytes32 serviceId
    ) external view returns (MigrationCheck check, bytes32 to, uint64 notBefore);

    /// @notice The endpoint clients should use now. Reverts {EndpointRegistryUnknownService}.
    function activeEndpoint(bytes32 serviceId) external view returns (Endpoint memory);

    /// @notice All endpoints of a service, in order of addition.
    function endpointsOf(bytes32 serviceId) external view returns (Endpoint[] memory);

    /// @notice Service settings and state. Reverts {EndpointRegistryUnknownService}.
    function serviceInfo(bytes32 serviceId) external view returns (ServiceInfo memory);

    /// @notice The service an endpoint belongs to, and the endpoint. Reverts {EndpointRegistryUnknownEndpoint}.
    function endpoint(bytes32 endpointId) external view returns (bytes32 serviceId, Endpoint memory);

    /// @notice Every service id, in order of registration (for attestors and dashboards).
    function services() external view returns (bytes32[] memory);

    /**
     * @notice Whether some endpoint of the service is usable at `thresholdBps` ({HealthRules.isUsable}): it reads
     * HEALTHY or DEGRADED and no quorum of attestors reported health under the threshold (its `ceilingBps`, the
     * `quorum`-th lowest value of its last round, is at or above `thresholdBps`). The median (`healthBps`) is not
     * read: a relayer choosing which signatures reach the chain can bias the median, but not push `ceilingBps`
     * below what an honest attestor reported. Used by the MarketGuard: a service with a usable endpoint is not
     * paused for being unusable. False for an unknown service. Never reverts.
     * @param thresholdBps The market's pause threshold in basis points, 0..10_000.
     */
    function hasUsableEndpoint(bytes32 serviceId, uint16 thresholdBps) external view returns (bool);

    /// @notice The HealthOracle this registry reads.
    function oracle() external view returns (IHealthOracle);

    /// @notice The service `endpointId` belongs to; zero when unknown. Never reverts (for the MarketGuard's
    /// status listener, which must not revert).
    function serviceOf(bytes32 endpointId) external view returns (bytes32 serviceId);

    /// @notice Id of the endpoint clients should use now; zero when the service is unknown or has no
    /// endpoint. Never reverts (the cheap form of {activeEndpoint}, used by the MarketGuard's {resume}).
    function activeEndpointId(bytes32 serviceId) external view returns (bytes32 endpointId);

    /// @notice Maximum number of endpoints per service (bounds every loop over a service's endpoints).
    function MAX_ENDPOINTS() external view returns (uint256);
}
