// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IHealthListener} from "../interfaces/IHealthListener.sol";
import {IHealthOracle} from "../interfaces/IHealthOracle.sol";

/**
 * @title MockHealthOracle
 * @notice Test double for the HealthOracle: tests write an endpoint's effective health directly and call
 * listeners as the oracle would. Implements only the reads the registry and the guard use.
 * Setters that take one `healthBps` store it as median, floor and ceiling alike (every attestor agreed);
 * {setStatusRange} sets them apart, as a round whose reports disagree (`floorBps <= healthBps <= ceilingBps`).
 */
contract MockHealthOracle {
    mapping(bytes32 endpointId => IHealthOracle.EndpointHealth) private _health;

    /// @notice Emitted by {notifyBounded} when the listener call failed (as the real oracle's ListenerFailed).
    event ListenerFailed(address indexed listener, bytes32 indexed endpointId, bytes reason);

    /// @notice Store `health` as the effective health of `endpointId`.
    function setHealth(bytes32 endpointId, IHealthOracle.EndpointHealth calldata health) external {
        _health[endpointId] = health;
    }

    /// @notice Set status and health (median = floor = ceiling = `healthBps`) with `since = updatedAt = now`.
    function setStatus(bytes32 endpointId, IHealthOracle.Status status, uint16 healthBps) public {
        _set(endpointId, status, healthBps, healthBps, healthBps, uint64(block.timestamp));
    }

    /// @notice Set status and health (median = floor = ceiling = `healthBps`) with an explicit `since` (Unix s).
    function setStatusSince(
        bytes32 endpointId,
        IHealthOracle.Status status,
        uint16 healthBps,
        uint64 since
    ) external {
        _set(endpointId, status, healthBps, healthBps, healthBps, since);
    }

    /// @notice Set status, median, `floorBps` (a quorum reported at least it) and `ceilingBps` (a quorum reported
    /// at most it), all in bps, with `since = updatedAt = now`. Not checked: tests may store any triple.
    function setStatusRange(
        bytes32 endpointId,
        IHealthOracle.Status status,
        uint16 healthBps,
        uint16 floorBps,
        uint16 ceilingBps
    ) external {
        _set(endpointId, status, healthBps, floorBps, ceilingBps, uint64(block.timestamp));
    }

    /// @notice Set the status and tell `listener`, as the oracle does on a status change. Reverts bubble up.
    function setStatusAndNotify(
        address listener,
        bytes32 endpointId,
        IHealthOracle.Status status,
        uint16 healthBps
    ) external {
        IHealthOracle.Status previous = _health[endpointId].status;
        setStatus(endpointId, status, healthBps);
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

    /// @dev A new round: the given values, the next round number, `updatedAt = now`.
    function _set(
        bytes32 endpointId,
        IHealthOracle.Status status,
        uint16 healthBps,
        uint16 floorBps,
        uint16 ceilingBps,
        uint64 since
    ) private {
        IHealthOracle.EndpointHealth storage h = _health[endpointId];
        h.status = status;
        h.healthBps = healthBps;
        h.floorBps = floorBps;
        h.ceilingBps = ceilingBps;
        h.since = since;
        h.round += 1;
        h.updatedAt = uint64(block.timestamp);
    }
}
