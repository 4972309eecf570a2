// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IGuardedMarket} from "../interfaces/IGuardedMarket.sol";

/// @title MockMarketReturnBomb
/// @notice A guarded market whose hooks revert with `size` bytes of return data (a return-data bomb).
contract MockMarketReturnBomb is IGuardedMarket {
    uint256 private immutable _size;

    /// @param size Bytes of revert data to return.
    constructor(uint256 size) {
        _size = size;
    }

    /// @inheritdoc IGuardedMarket
    function guardPause() external view {
        _bomb();
    }

    /// @inheritdoc IGuardedMarket
    function guardUnpause() external view {
        _bomb();
    }

    function _bomb() private view {
        uint256 size = _size;
        assembly ("memory-safe") {
            mstore(0, 0xb0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0)
            revert(0, size)
        }
    }
}
