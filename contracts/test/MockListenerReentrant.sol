// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IHealthListener} from "../interfaces/IHealthListener.sol";
import {IHealthOracle} from "../interfaces/IHealthOracle.sol";

/// @notice Test listener that calls back into the oracle with a prepared payload (for example a valid
/// `submit`) and bubbles up whatever the oracle answers.
contract MockListenerReentrant is IHealthListener {
    bytes private _payload;

    /// @notice Set the calldata sent back to the oracle on the next notification.
    function setPayload(bytes calldata payload) external {
        _payload = payload;
    }

    /// @inheritdoc IHealthListener
    function onStatusChange(bytes32, IHealthOracle.Status, IHealthOracle.Status) external {
        (bool ok, bytes memory result) = msg.sender.call(_payload);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(result, 0x20), mload(result))
            }
        }
    }
}
