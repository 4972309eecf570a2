// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/**
 * @title FeedRounds
 * @notice Round ids of a feed that changes its source, in Chainlink's `AggregatorProxy` convention:
 * `roundId = phaseId << 64 | aggregatorRoundId`, one phase per source, so a consumer's round arithmetic
 * (`roundId - 1` within a phase, `roundId >> 64` for the phase) keeps working across a change of source.
 *
 * The source of a phase may itself be an `AggregatorProxy`, whose round ids already take 80 bits
 * (`innerPhase << 64 | innerRound`). Its id is packed into the 64-bit `aggregatorRoundId` as
 * `innerPhase << 48 | innerRound`, which is exact while `innerRound < 2^48` (Chainlink's aggregators count
 * rounds in 32 bits). A source round id below 2^48 (a plain aggregator) is kept as it is. So:
 * - source id `r < 2^48`                                   → `aggregatorRoundId = r`
 * - source id `r >= 2^64` with `uint64(r) < 2^48`          → `aggregatorRoundId = (r >> 64) << 48 | uint64(r)`
 * - any other source id (`2^48 <= r < 2^64`, or an inner round of 48 bits or more) cannot be represented.
 * The two forms never collide (the second is always `>= 2^48`), so {decode} inverts {encode} exactly, and
 * every uint80 decodes to a phase and a source id that encodes back to it.
 */
library FeedRounds {
    /// @notice Bits of a round id below the phase (Chainlink `AggregatorProxy.PHASE_OFFSET`).
    uint256 internal constant PHASE_OFFSET = 64;
    /// @notice Bits of an inner proxy's round kept in the packed form.
    uint256 internal constant INNER_ROUND_BITS = 48;

    uint256 private constant _INNER_ROUND_MASK = (1 << INNER_ROUND_BITS) - 1;
    uint256 private constant _ROUND_MASK = (1 << PHASE_OFFSET) - 1;

    /**
     * @notice The round id of source round `sourceRoundId` in phase `phaseId`.
     * @return ok False when `sourceRoundId` cannot be represented (see above); `roundId` is then 0.
     * @return roundId `phaseId << 64 | aggregatorRoundId`.
     */
    function encode(uint16 phaseId, uint80 sourceRoundId) internal pure returns (bool ok, uint80 roundId) {
        uint256 r = sourceRoundId;
        uint256 inner;
        if (r <= _INNER_ROUND_MASK) {
            inner = r;
        } else if (r > _ROUND_MASK && (r & _ROUND_MASK) <= _INNER_ROUND_MASK) {
            inner = ((r >> PHASE_OFFSET) << INNER_ROUND_BITS) | (r & _ROUND_MASK);
        } else {
            return (false, 0);
        }
        return (true, uint80((uint256(phaseId) << PHASE_OFFSET) | inner));
    }

    /// @notice The phase of `roundId` and the source's own round id (inverse of {encode}; never reverts).
    function decode(uint80 roundId) internal pure returns (uint16 phaseId, uint80 sourceRoundId) {
        phaseId = uint16(roundId >> PHASE_OFFSET);
        uint256 inner = uint256(roundId) & _ROUND_MASK;
        if (inner <= _INNER_ROUND_MASK) return (phaseId, uint80(inner));
        sourceRoundId = uint80(((inner >> INNER_ROUND_BITS) << PHASE_OFFSET) | (inner & _INNER_ROUND_MASK));
    }
}
