// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IEndpointRegistry} from "./interfaces/IEndpointRegistry.sol";
import {IHealthListener} from "./interfaces/IHealthListener.sol";
import {IHealthOracle} from "./interfaces/IHealthOracle.sol";
import {HealthRules} from "./libraries/HealthRules.sol";

/**
 * @title EndpointRegistry
 * @notice Services and their prioritised endpoints, with permissionless failover and failback driven by the
 * HealthOracle. There is no global admin: anyone registers a service under their own namespace and
 * manages its endpoints; nobody can move a service's active endpoint except through {migrate}, whose
 * condition is re-read from the oracle on every call.
 * @dev Every loop runs over one service's endpoints and is bounded by {MAX_ENDPOINTS}. The oracle is only
 * ever read through `statusOf` (a view, so a STATICCALL): the registry makes no state-changing external call.
 * What "dead" and "usable" mean is {HealthRules}, shared with the MarketGuard, so the two never disagree.
 */
contract EndpointRegistry is IEndpointRegistry, IHealthListener, ReentrancyGuardTransient {
    /// @inheritdoc IEndpointRegistry
    uint256 public constant MAX_ENDPOINTS = 16;

    /// @notice Longest accepted endpoint URI, in bytes.
    uint256 public constant MAX_URI_LENGTH = 256;

    /// @dev `priorities` packs the priority of endpoint `i` at bits [16i, 16i + 16): one storage read gives
    /// every priority of the service, so a migration check costs one cold read per endpoint it looks at.
    struct ServiceRecord {
        address owner;
        uint8 activeIndex;
        uint64 lastMigrationAt;
        ServiceConfig config;
        uint256 priorities;
        string name;
        bytes32[] endpointIds;
    }

    struct EndpointRecord {
        bytes32 serviceId;
        EndpointKind kind;
        uint8 index;
        string uri;
    }

    /// @dev What {_check} found: the verdict, and the index of the endpoint to move to.
    struct Verdict {
        MigrationCheck check;
        uint8 toIndex;
        bytes32 to;
        uint64 notBefore;
    }

    IHealthOracle private immutable _oracle;

    mapping(bytes32 serviceId => ServiceRecord) private _services;
    mapping(bytes32 endpointId => EndpointRecord) private _endpoints;
    bytes32[] private _serviceIds;

    modifier onlyServiceOwner(bytes32 serviceId) {
        _requireServiceOwner(serviceId);
        _;
    }

    modifier onlyOracle() {
        _requireOracle();
        _;
    }

    /// @param oracle_ The HealthOracle whose `statusOf` drives migrations and which alone may notify this registry.
    constructor(IHealthOracle oracle_) {
        _oracle = oracle_;
    }

    // ------------------------------------------------------------------------------------------------
    // Service management (service owner)
    // ------------------------------------------------------------------------------------------------

    /// @inheritdoc IEndpointRegistry
    function registerService(
        string calldata name,
        ServiceConfig calldata config
    ) external returns (bytes32 serviceId) {
        serviceId = keccak256(abi.encode(msg.sender, name));
        ServiceRecord storage s = _services[serviceId];
        if (s.owner != address(0)) revert EndpointRegistryServiceExists(serviceId);
        s.owner = msg.sender;
        s.name = name;
        s.config = config;
        _serviceIds.push(serviceId);
        emit ServiceRegistered(serviceId, msg.sender, name, config);
    }

    /// @inheritdoc IEndpointRegistry
    function addEndpoint(
        bytes32 serviceId,
        EndpointKind kind,
        string calldata uri,
        uint16 priority
    ) external onlyServiceOwner(serviceId) returns (bytes32 endpointId) {
        uint256 length = bytes(uri).length;
        if (length == 0 || length > MAX_URI_LENGTH) revert EndpointRegistryInvalidEndpoint(uri);
        ServiceRecord storage s = _services[serviceId];
        if (s.endpointIds.length >= MAX_ENDPOINTS) {
            revert EndpointRegistryTooManyEndpoints(serviceId, MAX_ENDPOINTS);
        }
        endpointId = keccak256(abi.encode(serviceId, kind, uri));
        EndpointRecord storage e = _endpoints[endpointId];
        if (e.serviceId != bytes32(0)) revert EndpointRegistryEndpointExists(endpointId);
        uint256 index = s.endpointIds.length;
        e.serviceId = serviceId;
        e.kind = kind;
        e.index = uint8(index);
        e.uri = uri;
        s.priorities = _withPriority(s.priorities, index, priority);
        // The first endpoint becomes active: activeIndex is already 0.
        s.endpointIds.push(endpointId);
        emit EndpointAdded(serviceId, endpointId, kind, priority, uri);
    }

    /// @inheritdoc IEndpointRegistry
    function setEndpointPriority(bytes32 endpointId, uint16 priority) external {
        bytes32 serviceId = _endpoints[endpointId].serviceId;
        if (serviceId == bytes32(0)) revert EndpointRegistryUnknownEndpoint(endpointId);
        _requireServiceOwner(serviceId);
        ServiceRecord storage s = _services[serviceId];
        s.priorities = _withPriority(s.priorities, _endpoints[endpointId].index, priority);
        emit EndpointPriorityChanged(serviceId, endpointId, priority);
    }

    /// @inheritdoc IEndpointRegistry
    function setServiceConfig(
        bytes32 serviceId,
        ServiceConfig calldata config
    ) external onlyServiceOwner(serviceId) {
        _services[serviceId].config = config;
        emit ServiceConfigChanged(serviceId, config);
    }

    /// @inheritdoc IEndpointRegistry
    function transferServiceOwnership(
        bytes32 serviceId,
        address newOwner
    ) external onlyServiceOwner(serviceId) {
        if (newOwner == address(0)) revert EndpointRegistryInvalidOwner(newOwner);
        _services[serviceId].owner = newOwner;
        emit ServiceOwnershipTransferred(serviceId, msg.sender, newOwner);
    }

    // ------------------------------------------------------------------------------------------------
    // Migration (anyone; the oracle in the same transaction)
    // ------------------------------------------------------------------------------------------------

    /// @inheritdoc IEndpointRegistry
    function migrate(bytes32 serviceId) external nonReentrant returns (bytes32 to) {
        Verdict memory v = _check(serviceId);
        if (v.check != MigrationCheck.DUE_FAILOVER && v.check != MigrationCheck.DUE_FAILBACK) {
            revert EndpointRegistryMigrationNotDue(serviceId, v.check);
        }
        _migrate(serviceId, v);
        return v.to;
    }

    /**
     * @notice Told by the oracle that `endpointId` changed status: fail its service over in the same
     * transaction when that is now due. Callable by the oracle only ({EndpointRegistryUnauthorizedOracle}).
     * @dev Never reverts for "not due". Cheap exits first: an endpoint that is neither the active one nor
     * newly HEALTHY cannot make a failover due. At most {MAX_ENDPOINTS} + 1 oracle reads otherwise.
     * Failback is left to keepers: it needs a recovery period, so it is never due at the moment of a change.
     */
    function onStatusChange(
        bytes32 endpointId,
        IHealthOracle.Status /* previous */,
        IHealthOracle.Status current
    ) external onlyOracle nonReentrant {
        bytes32 serviceId = _endpoints[endpointId].serviceId;
        if (serviceId == bytes32(0)) return;
        ServiceRecord storage s = _services[serviceId];
        if (current != IHealthOracle.Status.HEALTHY && s.endpointIds[s.activeIndex] != endpointId) return;
        Verdict memory v = _check(serviceId);
        if (v.check == MigrationCheck.DUE_FAILOVER) _migrate(serviceId, v);
    }

    // ------------------------------------------------------------------------------------------------
    // Views
    // ------------------------------------------------------------------------------------------------

    /// @inheritdoc IEndpointRegistry
    function migrationStatus(
        bytes32 serviceId
    ) external view returns (MigrationCheck check, bytes32 to, uint64 notBefore) {
        Verdict memory v = _check(serviceId);
        return (v.check, v.to, v.notBefore);
    }

    /// @inheritdoc IEndpointRegistry
    function hasUsableEndpoint(bytes32 serviceId, uint16 thresholdBps) external view returns (bool) {
        bytes32[] storage ids = _services[serviceId].endpointIds;
        uint256 count = ids.length;
        for (uint256 i = 0; i < count; ++i) {
            if (HealthRules.isUsable(_oracle.statusOf(ids[i]), thresholdBps)) return true;
        }
        return false;
    }

    /// @inheritdoc IEndpointRegistry
    function activeEndpoint(bytes32 serviceId) external view returns (Endpoint memory) {
        ServiceRecord storage s = _requireService(serviceId);
        if (s.endpointIds.length == 0) revert EndpointRegistryUnknownService(serviceId);
        return _endpointView(s.endpointIds[s.activeIndex]);
    }

    /// @inheritdoc IEndpointRegistry
    function activeEndpointId(bytes32 serviceId) external view returns (bytes32) {
        ServiceRecord storage s = _services[serviceId];
        if (s.endpointIds.length == 0) return bytes32(0);
        return s.endpointIds[s.activeIndex];
    }

    /// @inheritdoc IEndpointRegistry
    function endpointsOf(bytes32 serviceId) external view returns (Endpoint[] memory list) {
        bytes32[] storage ids = _services[serviceId].endpointIds;
        uint256 count = ids.length;
        list = new Endpoint[](count);
        for (uint256 i = 0; i < count; ++i) {
            list[i] = _endpointView(ids[i]);
        }
    }

    /// @inheritdoc IEndpointRegistry
    function serviceInfo(bytes32 serviceId) external view returns (ServiceInfo memory) {
        ServiceRecord storage s = _requireService(serviceId);
        return
            ServiceInfo({
                owner: s.owner,
                name: s.name,
                config: s.config,
                activeIndex: s.activeIndex,
                lastMigrationAt: s.lastMigrationAt,
                endpointCount: s.endpointIds.length
            });
    }

    /// @inheritdoc IEndpointRegistry
    function endpoint(bytes32 endpointId) external view returns (bytes32 serviceId, Endpoint memory) {
        serviceId = _endpoints[endpointId].serviceId;
        if (serviceId == bytes32(0)) revert EndpointRegistryUnknownEndpoint(endpointId);
        return (serviceId, _endpointView(endpointId));
    }

    /// @inheritdoc IEndpointRegistry
    function serviceOf(bytes32 endpointId) external view returns (bytes32) {
        return _endpoints[endpointId].serviceId;
    }

    /// @inheritdoc IEndpointRegistry
    function services() external view returns (bytes32[] memory) {
        return _serviceIds;
    }

    /// @inheritdoc IEndpointRegistry
    function oracle() external view returns (IHealthOracle) {
        return _oracle;
    }

    // ------------------------------------------------------------------------------------------------
    // Internals
    // ------------------------------------------------------------------------------------------------

    /// @dev Apply a due verdict: state first, then the event.
    function _migrate(bytes32 serviceId, Verdict memory v) private {
        ServiceRecord storage s = _services[serviceId];
        bytes32 from = s.endpointIds[s.activeIndex];
        s.activeIndex = v.toIndex;
        s.lastMigrationAt = uint64(block.timestamp);
        emit EndpointMigrated(serviceId, from, v.to, v.check == MigrationCheck.DUE_FAILBACK);
    }

    /**
     * @dev The migration rule, in one place for {migrate}, {migrationStatus} and the listener.
     * Failover: active dead ({HealthRules.isDead}: DOWN or UNKNOWN) → best-priority HEALTHY other endpoint (ties:
     * order of addition). A candidate's status alone decides: HEALTHY already needs `quorum` attestors agreeing.
     * Failback (recoveryPeriod > 0, active HEALTHY or DEGRADED): best-priority endpoint with priority strictly
     * better than the active one's that has been HEALTHY since at least `recoveryPeriod` seconds.
     * The cooldown damps failback only (the move off a usable endpoint): a due failback inside it reads COOLDOWN
     * with `notBefore = lastMigrationAt + cooldown`. A failover is due at once, whenever the last migration
     * was, as Route 53 and HAProxy fail over at once and damp only the way back.
     * Candidates are visited in preference order and the first that qualifies wins, so a typical check reads
     * the oracle twice (active, best backup); the worst case is {MAX_ENDPOINTS} reads.
     */
    function _check(bytes32 serviceId) private view returns (Verdict memory v) {
        ServiceRecord storage s = _services[serviceId];
        bytes32[] storage ids = s.endpointIds;
        uint256 count = ids.length;
        if (count == 0) {
            v.check = MigrationCheck.UNKNOWN_SERVICE;
            return v;
        }
        uint256 active = s.activeIndex;
        bool failover = HealthRules.isDead(_oracle.statusOf(ids[active]).status);
        uint32 recoveryPeriod = s.config.recoveryPeriod;
        if (!failover && recoveryPeriod == 0) {
            v.check = MigrationCheck.ACTIVE_USABLE;
            return v;
        }

        uint256 priorities = s.priorities;
        uint256 activePriority = _priorityAt(priorities, active);
        uint256[] memory order = _preferenceOrder(priorities, count);
        bool found;
        for (uint256 k = 0; k < count; ++k) {
            uint256 i = order[k] & 0xff;
            if (i == active) continue;
            // Failback only ever moves to a strictly better priority; the rest of the order is worse.
            if (!failover && (order[k] >> 8) >= activePriority) break;
            IHealthOracle.EndpointHealth memory h = _oracle.statusOf(ids[i]);
            if (h.status != IHealthOracle.Status.HEALTHY) continue;
            if (!failover && uint256(h.since) + recoveryPeriod > block.timestamp) continue;
            v.toIndex = uint8(i);
            found = true;
            break;
        }
        if (!found) {
            v.check = failover ? MigrationCheck.NO_HEALTHY_CANDIDATE : MigrationCheck.ACTIVE_USABLE;
            return v;
        }
        v.to = ids[v.toIndex];
        if (failover) {
            // Never damped: a failover held back by a cooldown leaves clients on a dead endpoint and turns a
            // migration into a market pause (THREATS #34). Failover flapping is bounded, in rounds, by the
            // oracle's hysteresis instead: the active endpoint must be DOWN (fallRounds BAD rounds) or
            // UNKNOWN (silent for a heartbeat), and the target HEALTHY (riseRounds GOOD rounds).
            v.check = MigrationCheck.DUE_FAILOVER;
            return v;
        }
        uint256 notBefore = uint256(s.lastMigrationAt) + s.config.cooldown;
        if (s.lastMigrationAt != 0 && block.timestamp < notBefore) {
            v.check = MigrationCheck.COOLDOWN;
            v.notBefore = uint64(notBefore);
        } else {
            v.check = MigrationCheck.DUE_FAILBACK;
        }
    }

    /// @dev Endpoint indices sorted by (priority, index) ascending, each as `priority << 8 | index`
    /// (insertion sort over at most {MAX_ENDPOINTS} words in memory).
    function _preferenceOrder(
        uint256 priorities,
        uint256 count
    ) private pure returns (uint256[] memory order) {
        order = new uint256[](count);
        for (uint256 i = 0; i < count; ++i) {
            uint256 key = (_priorityAt(priorities, i) << 8) | i;
            uint256 j = i;
            while (j > 0 && order[j - 1] > key) {
                order[j] = order[j - 1];
                --j;
            }
            order[j] = key;
        }
    }

    function _priorityAt(uint256 priorities, uint256 index) private pure returns (uint256) {
        return (priorities >> (index * 16)) & 0xffff;
    }

    function _withPriority(
        uint256 priorities,
        uint256 index,
        uint16 priority
    ) private pure returns (uint256) {
        uint256 shift = index * 16;
        return (priorities & ~(uint256(0xffff) << shift)) | (uint256(priority) << shift);
    }

    function _endpointView(bytes32 endpointId) private view returns (Endpoint memory) {
        EndpointRecord storage e = _endpoints[endpointId];
        uint16 priority = uint16(_priorityAt(_services[e.serviceId].priorities, e.index));
        return Endpoint({id: endpointId, kind: e.kind, priority: priority, uri: e.uri});
    }

    function _requireService(bytes32 serviceId) private view returns (ServiceRecord storage s) {
        s = _services[serviceId];
        if (s.owner == address(0)) revert EndpointRegistryUnknownService(serviceId);
    }

    function _requireServiceOwner(bytes32 serviceId) private view {
        address owner = _requireService(serviceId).owner;
        if (owner != msg.sender) revert EndpointRegistryNotServiceOwner(serviceId, msg.sender);
    }

    function _requireOracle() private view {
        if (msg.sender != address(_oracle)) revert EndpointRegistryUnauthorizedOracle(msg.sender);
    }
}
