// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IHealthOracle} from "../interfaces/IHealthOracle.sol";
import {PolicyWord} from "../types/PolicyWord.sol";

/**
 * @title QuorumTally
 * @notice Reads one round of reports and tallies it per endpoint: the order statistics stored for feeds and
 * thresholds, and the votes the status machine counts. Values are read straight from calldata (4 bytes per
 * endpoint per report, see {IHealthOracle.SignedReport}); nothing here trusts the relayer's choice of signers:
 * the statistics are the ones a quorum of the signers supports.
 */
library QuorumTally {
    uint256 private constant _MAX_BPS = 10_000;

    /// @notice What the per-endpoint pass needs from the verified reports of one round.
    struct Round {
        uint256 round;
        uint256 quorum;
        /// Bitmap of attestor-set indices that signed.
        uint256 signers;
        /// Lower median of the reports' `observedAt`: the quorum's observation time.
        uint256 observedAt;
        /// Calldata offset of each report's `values` bytes.
        uint256[] valueOffsets;
        /// The reports' `observedAt`, insertion-sorted.
        uint256[] times;
        /// Scratch: one endpoint's values, insertion-sorted.
        uint256[] sorted;
    }

    /// @notice A round for `count` reports.
    function newRound(uint256 count, uint256 quorum, uint64 round) internal pure returns (Round memory r) {
        r.round = round;
        r.quorum = quorum;
        r.valueOffsets = new uint256[](count);
        r.times = new uint256[](count);
        r.sorted = new uint256[](count);
    }

    /// @notice Reverts {IHealthOracle.HealthOracleEndpointsNotAscending} unless `ids` is non-empty and strictly
    /// ascending (which rules out duplicates: each endpoint is tallied once per round).
    function requireAscending(bytes32[] calldata ids) internal pure {
        if (ids.length == 0) revert IHealthOracle.HealthOracleEndpointsNotAscending(0, bytes32(0));
        for (uint256 i = 1; i < ids.length; ++i) {
            if (ids[i] <= ids[i - 1]) revert IHealthOracle.HealthOracleEndpointsNotAscending(i, ids[i]);
        }
    }

    /// @notice EIP-712 hash of a `bytes32[]`: keccak256 of the concatenated elements.
    function hashIds(bytes32[] calldata ids) internal pure returns (bytes32 hash) {
        assembly ("memory-safe") {
            let buffer := mload(0x40)
            let size := shl(5, ids.length)
            calldatacopy(buffer, ids.offset, size)
            hash := keccak256(buffer, size)
        }
    }

    /// @notice Record verified report `j`, signed by attestor-set index `member`.
    function addReport(
        Round memory r,
        uint256 j,
        uint256 member,
        uint64 observedAt,
        bytes calldata values
    ) internal pure {
        r.signers |= uint256(1) << member;
        uint256 offset;
        assembly ("memory-safe") {
            offset := values.offset
        }
        r.valueOffsets[j] = offset;
        _insert(r.times, j, observedAt);
    }

    /// @notice After the last report: the quorum's observation time (lower median, so no single signer moves it
    /// past the honest ones).
    function finishReports(Round memory r) internal pure {
        r.observedAt = r.times[(r.times.length - 1) / 2];
    }

    /**
     * @notice Tally endpoint `index` over every report of the round.
     * @return values `median | floor << 16 | ceiling << 32`: lower median, `quorum`-th highest and `quorum`-th
     * lowest health (bps), as {EndpointSlot-record} takes them.
     * @return votes `bad << 192 | good << 128 | notGood << 64 | notBad` (see {StatusMachine}).
     * Reverts {IHealthOracle.HealthOracleHealthOutOfRange} for a value above 10_000 bps.
     */
    function tally(
        Round memory r,
        uint256 index,
        PolicyWord policy
    ) internal pure returns (uint256 values, uint256 votes) {
        uint256[] memory offsets = r.valueOffsets;
        uint256[] memory sorted = r.sorted;
        uint256 count = offsets.length;
        // Thresholds as one word: downBelowBps | upAtBps << 16 | fallRounds << 32 | riseRounds << 40.
        uint256 p = PolicyWord.unwrap(policy);
        for (uint256 j; j < count; ++j) {
            uint256 word;
            assembly ("memory-safe") {
                word := shr(224, calldataload(add(mload(add(add(offsets, 0x20), shl(5, j))), shl(2, index))))
            }
            uint256 health = word >> 16;
            if (health > _MAX_BPS) revert IHealthOracle.HealthOracleHealthOutOfRange(j, index, uint16(health));
            unchecked {
                if (health < uint16(p)) {
                    // notGood, and bad when the signer's own BAD streak reached fallRounds.
                    votes += (uint256(1) << 64) | ((word >> 8) & 0xff >= uint8(p >> 32) ? uint256(1) << 192 : 0);
                } else if (health < uint16(p >> 16)) {
                    votes += (uint256(1) << 64) | 1; // notGood and notBad
                } else {
                    // notBad, and good when the signer's own GOOD streak reached riseRounds.
                    votes += 1 | (word & 0xff >= uint8(p >> 40) ? uint256(1) << 128 : 0);
                }
            }
            _insert(sorted, j, health);
        }
        uint256 quorum = r.quorum;
        unchecked {
            values = sorted[(count - 1) / 2] | (sorted[count - quorum] << 16) | (sorted[quorum - 1] << 32);
        }
    }

    /// @dev Insertion-sort step: `list[0:n]` is ascending; insert `value` keeping it so.
    function _insert(uint256[] memory list, uint256 n, uint256 value) private pure {
        assembly ("memory-safe") {
            let data := add(list, 0x20)
            let j := n
            for {} j {} {
                let at := add(data, shl(5, sub(j, 1)))
                let before := mload(at)
                if iszero(gt(before, value)) {
                    break
                }
                mstore(add(at, 0x20), before)
                j := sub(j, 1)
            }
            mstore(add(data, shl(5, j)), value)
        }
    }
}
