// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IHealthListener} from "../interfaces/IHealthListener.sol";
import {IHealthOracle} from "../interfaces/IHealthOracle.sol";

/**
 * @title MockHealthOracle
 * @notice Test double for the HealthOracle: tests write an endpoint's effective health directly and call
 * listeners as the oracle would. Implements only the reads the registry and the guard use.
 */
contract MockHealthOracle {
    mapping(bytes32 endpointId => IHealthOracle.EndpointHealth) private _health;

    /// @notice Emitted by {notifyBounded} when the listener call failed (as the real oracle's ListenerFailed).
    event ListenerFailed(address indexed listener, bytes32 indexed endpointId, bytes reason);

    /// @notice Store `health` as the effective health of `endpointId`.
    function setHealth(bytes32 endpointId, IHealthOracle.EndpointHealth calldata health) external {
        _health[endpointId] = health;
    }

    /// @notice Set status and health with `since = updatedAt = block.timestamp`.
    function setStatus(bytes32 endpointId, IHealthOracle.Status status, uint16 healthBps) external {
        IHealthOracle.EndpointHealth storage h = _health[endpointId];
        h.status = status;
        h.healthBps = healthBps;
        h.since = uint64(block.timestamp);
        h.round += 1;
        h.updatedAt = uint64(block.timestamp);
    }

    /// @notice Set status and health with an explicit `since` (Unix seconds).
    function setStatusSince(
        bytes32 endpointId,
        IHealthOracle.Status status,
        uint16 healthBps,
        uint64 since
    ) external {
        IHealthOracle.EndpointHealth storage h = _health[endpointId];
        h.status = status;
        h.healthBps = healthBps;
        h.since = since;
        h.round += 1;
        h.updatedAt = uint64(block.timestamp);
    }

    /// @notice Set the status and tell `listener`, as the oracle does on a status change. Reverts bubble up.
    function setStatusAndNotify(
        address listener,
        bytes32 endpointId,
        IHealthOracle.Status status,
        uint16 healthBps
    ) external {
        IHealthOracle.Status previous = _health[endpointId].status;
        this.setStatus(endpointId, status, healthBps);
        IHealthListener(listener).onStatusChange(endpointId, previous, status);
    }

    /// @notice Call `listener.onStatusChange` as the oracle. Reverts bubble up.
    function notify(
        address listener,
        bytes32 endpointId,
        IHealthOracle.Status previous,
        IHealthOracle.Status current
    ) external {
        IHealthListener(listener).onStatusChange(endpointId, previous, current);
    }

    /// @notice Call `listener.onStatusChange` with a gas budget inside try/catch, as the real oracle does.
    function notifyBounded(
        address listener,
        uint256 gasLimit,
        bytes32 endpointId,
        IHealthOracle.Status previous,
        IHealthOracle.Status current
    ) external returns (bool ok) {
        try IHealthListener(listener).onStatusChange{gas: gasLimit}(endpointId, previous, current) {
            return true;
        } catch (bytes memory reason) {
            emit ListenerFailed(listener, endpointId, reason);
            return false;
        }
    }

    /// @notice Effective health of `endpointId` as last set (UNKNOWN when never set).
    function statusOf(bytes32 endpointId) external view returns (IHealthOracle.EndpointHealth memory) {
        return _health[endpointId];
    }
}
