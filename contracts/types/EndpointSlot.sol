// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/**
 * @dev One endpoint's stored health, packed in one storage slot (as Uniswap v4 `types/Slot0.sol`), so a warm
 * update is one SLOAD/SSTORE pair. Layout, from the least significant bit:
 *
 * | bits    | field       | meaning                                                             |
 * |---------|-------------|---------------------------------------------------------------------|
 * | 0..7    | status      | `IHealthOracle.Status` code as stored (staleness is applied on read)  |
 * | 8..23   | healthBps   | median of the last accepted round                                   |
 * | 24..39  | floorBps    | `quorum`-th highest value of that round                             |
 * | 40..55  | ceilingBps  | `quorum`-th lowest value of that round                              |
 * | 56..95  | since       | block time at which `status` began                                  |
 * | 96..135 | round       | last accepted round                                                 |
 * | 136..175| updatedAt   | quorum observation time of that round (0: never reported)           |
 * | 176     | ownPolicy   | the endpoint has its own policy                                     |
 *
 * Times are Unix seconds in 40 bits (good until the year 36812); rounds fit as well (`roundSeconds >= 1`).
 */
type EndpointSlot is uint256;

using EndpointSlotLibrary for EndpointSlot global;

/// @title EndpointSlotLibrary
/// @notice Getters and setters of {EndpointSlot}. Setters take values already in range (callers bound them).
library EndpointSlotLibrary {
    uint256 private constant _MASK_8 = 0xff;
    uint256 private constant _MASK_16 = 0xffff;
    uint256 private constant _MASK_40 = 0xffffffffff;

    uint256 private constant _HEALTH = 8;
    uint256 private constant _FLOOR = 24;
    uint256 private constant _CEILING = 40;
    uint256 private constant _SINCE = 56;
    uint256 private constant _ROUND = 96;
    uint256 private constant _UPDATED = 136;
    uint256 private constant _OWN_POLICY = 176;

    function status(EndpointSlot self) internal pure returns (uint8) {
        return uint8(EndpointSlot.unwrap(self));
    }

    function healthBps(EndpointSlot self) internal pure returns (uint16) {
        return uint16(EndpointSlot.unwrap(self) >> _HEALTH);
    }

    function floorBps(EndpointSlot self) internal pure returns (uint16) {
        return uint16(EndpointSlot.unwrap(self) >> _FLOOR);
    }

    function ceilingBps(EndpointSlot self) internal pure returns (uint16) {
        return uint16(EndpointSlot.unwrap(self) >> _CEILING);
    }

    function since(EndpointSlot self) internal pure returns (uint40) {
        return uint40(EndpointSlot.unwrap(self) >> _SINCE);
    }

    function round(EndpointSlot self) internal pure returns (uint40) {
        return uint40(EndpointSlot.unwrap(self) >> _ROUND);
    }

    function updatedAt(EndpointSlot self) internal pure returns (uint40) {
        return uint40(EndpointSlot.unwrap(self) >> _UPDATED);
    }

    /// @notice The fields the status machine reads, in one call (the submit hot path runs it once per endpoint).
    function unpack(
        EndpointSlot self
    ) internal pure returns (uint256 status_, uint256 since_, uint256 round_, uint256 updatedAt_) {
        uint256 word = EndpointSlot.unwrap(self);
        status_ = word & _MASK_8;
        since_ = (word >> _SINCE) & _MASK_40;
        round_ = (word >> _ROUND) & _MASK_40;
        updatedAt_ = (word >> _UPDATED) & _MASK_40;
    }

    function hasOwnPolicy(EndpointSlot self) internal pure returns (bool) {
        return (EndpointSlot.unwrap(self) >> _OWN_POLICY) & 1 == 1;
    }

    function withOwnPolicy(EndpointSlot self, bool own) internal pure returns (EndpointSlot) {
        uint256 word = EndpointSlot.unwrap(self) & ~(uint256(1) << _OWN_POLICY);
        return EndpointSlot.wrap(own ? word | (uint256(1) << _OWN_POLICY) : word);
    }

    /**
     * @notice A slot recording a new round, keeping the own-policy flag of `self`.
     * @param status_ Status code after the round.
     * @param since_ Block time at which `status_` began.
     * @param values `healthBps | floorBps << 16 | ceilingBps << 32` (as {QuorumTally} packs them).
     * @param round_ The round (< 2^40).
     * @param updatedAt_ Quorum observation time (< 2^40).
     */
    function record(
        EndpointSlot self,
        uint256 status_,
        uint256 since_,
        uint256 values,
        uint256 round_,
        uint256 updatedAt_
    ) internal pure returns (EndpointSlot) {
        return
            EndpointSlot.wrap(
                (EndpointSlot.unwrap(self) & (uint256(1) << _OWN_POLICY)) |
                    (status_ & _MASK_8) |
                    ((values & 0xffffffffffff) << _HEALTH) |
                    ((since_ & _MASK_40) << _SINCE) |
                    ((round_ & _MASK_40) << _ROUND) |
                    ((updatedAt_ & _MASK_40) << _UPDATED)
            );
    }
}
