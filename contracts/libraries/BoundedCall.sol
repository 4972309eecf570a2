// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/**
 * @title BoundedCall
 * @notice A call with an exact gas budget and a capped return-data copy, shared by the oracle (listeners) and
 * the guard (markets). Chainlink's `CallWithExactGas` is the anchor: the caller first proves it can forward the
 * full budget (EIP-150 forwards at most 63/64 of what is left, so a relayer choosing the transaction gas could
 * otherwise starve the callee and have its failure recorded as the callee's), then calls with exactly that gas.
 * A failure's return data is copied only up to `maxReturnBytes`, so a return-data bomb costs the caller nothing.
 */
library BoundedCall {
    /**
     * @notice Gas that must be left before the call so the callee really receives `callGas`:
     * `callGas * 64 / 63 + margin`, where `margin` covers argument encoding, a cold account access and the CALL.
     */
    function requiredGas(uint256 callGas, uint256 margin) internal pure returns (uint256) {
        return (callGas * 64) / 63 + margin;
    }

    /**
     * @notice Call `target` with `data` and exactly `callGas` gas, value 0. Never reverts: a low-level call has
     * no code-size check, and a callee's revert, out-of-gas or bomb comes back as `ok = false`.
     * @dev The caller must have checked `gasleft() >= requiredGas(callGas, margin)` first and reverted otherwise.
     * @return ok Whether the call succeeded.
     * @return reason The first `maxReturnBytes` bytes of the return data of a failed call (empty on success).
     */
    function call(
        address target,
        bytes memory data,
        uint256 callGas,
        uint256 maxReturnBytes
    ) internal returns (bool ok, bytes memory reason) {
        assembly ("memory-safe") {
            ok := call(callGas, target, 0, add(data, 0x20), mload(data), 0, 0)
        }
        if (!ok) reason = returnDataPrefix(maxReturnBytes);
    }

    /// @notice The return data of the last call, truncated to `maxBytes`.
    function returnDataPrefix(uint256 maxBytes) internal pure returns (bytes memory reason) {
        assembly ("memory-safe") {
            let size := returndatasize()
            if gt(size, maxBytes) {
                size := maxBytes
            }
            reason := mload(0x40)
            mstore(reason, size)
            returndatacopy(add(reason, 0x20), 0, size)
            mstore(0x40, add(add(reason, 0x20), and(add(size, 0x1f), not(0x1f))))
        }
    }
}
