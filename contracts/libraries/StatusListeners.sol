// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IHealthListener} from "../interfaces/IHealthListener.sol";
import {IHealthOracle} from "../interfaces/IHealthOracle.sol";
import {BoundedCall} from "./BoundedCall.sol";

/**
 * @title StatusListeners
 * @notice The oracle's ordered list of status listeners (the registry before the guard) and their notification:
 * each call gets a fixed gas budget through {BoundedCall}, a failure is caught and emitted as
 * {IHealthOracle.ListenerFailed}, and a caller that cannot give the full budget reverts, so the 63/64 rule cannot
 * be used to starve a listener and have its failure recorded.
 */
library StatusListeners {
    /// @notice Most listeners in the list.
    uint256 internal constant MAX = 4;
    /// @dev Gas spent between the `gasleft()` check and the CALL (argument encoding, a cold account, the CALL).
    uint256 private constant _GAS_MARGIN = 5_000;
    /// @dev Bytes of a failing listener's return data copied into the event: bounds a return-data bomb.
    uint256 private constant _MAX_REASON_BYTES = 256;

    /// @notice Append `listener`. Reverts {IHealthOracle.HealthOracleInvalidListener} when the list is full, the
    /// address has no code (a call to it could not run any logic) or it is listed already.
    function add(address[] storage list, address listener) internal {
        uint256 count = list.length;
        if (count >= MAX || listener.code.length == 0)
            revert IHealthOracle.HealthOracleInvalidListener(listener);
        for (uint256 i; i < count; ++i) {
            if (list[i] == listener) revert IHealthOracle.HealthOracleInvalidListener(listener);
        }
        list.push(listener);
        emit IHealthOracle.ListenerChanged(listener, true);
    }

    /// @notice Remove `listener`, keeping the order of the others. Reverts
    /// {IHealthOracle.HealthOracleInvalidListener} when it is not listed.
    function remove(address[] storage list, address listener) internal {
        uint256 count = list.length;
        for (uint256 i; i < count; ++i) {
            if (list[i] == listener) {
                for (uint256 j = i + 1; j < count; ++j) {
                    list[j - 1] = list[j];
                }
                list.pop();
                emit IHealthOracle.ListenerChanged(listener, false);
                return;
            }
        }
        revert IHealthOracle.HealthOracleInvalidListener(listener);
    }

    /**
     * @notice Tell every listener, in order, that `endpointId` moved from `previous` to `current`, each with exactly
     * `callGas` gas. Reverts {IHealthOracle.HealthOracleInsufficientGasForListener} when the full budget cannot be
     * given (send more gas; `eth_estimateGas` accounts for it).
     */
    function notify(
        address[] storage list,
        uint256 callGas,
        bytes32 endpointId,
        IHealthOracle.Status previous,
        IHealthOracle.Status current
    ) internal {
        uint256 count = list.length;
        if (count == 0) return;
        uint256 required = BoundedCall.requiredGas(callGas, _GAS_MARGIN);
        bytes memory data = abi.encodeCall(IHealthListener.onStatusChange, (endpointId, previous, current));
        for (uint256 i; i < count; ++i) {
            address listener = list[i];
            uint256 gasLeft = gasleft();
            if (gasLeft < required)
                revert IHealthOracle.HealthOracleInsufficientGasForListener(gasLeft, required);
            (bool ok, bytes memory reason) = BoundedCall.call(listener, data, callGas, _MAX_REASON_BYTES);
            if (!ok) emit IHealthOracle.ListenerFailed(listener, endpointId, reason);
        }
    }
}
