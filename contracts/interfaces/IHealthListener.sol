// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IHealthOracle} from "./IHealthOracle.sol";

/**
 * @title IHealthListener
 * @notice Implemented by contracts the HealthOracle notifies, in the same transaction, when an endpoint's
 * status changes (the EndpointRegistry migrates, the MarketGuard trips). The oracle calls with a bounded
 * gas budget inside try/catch: a listener must be cheap, must not revert for ordinary cases, and must
 * re-check every condition itself (the notification is a hint, not proof).
 */
interface IHealthListener {
    /**
     * @notice `endpointId` moved from `previous` to `current`. Callable by the oracle only.
     */
    function onStatusChange(
        bytes32 endpointId,
        IHealthOracle.Status previous,
        IHealthOracle.Status current
    ) external;
}
