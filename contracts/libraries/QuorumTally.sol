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

    /// @notice Record verified report `j`, signed by attestor-set index `member`, whose values start at calldata
    /// offset `valuesOffset`.
    function addReport(
        Round memory r,
        uint256 j,
        uint256 member,
        uint256 observedAt,
        uint256 valuesOffset
    ) internal pure {
        r.signers |= uint256(1) << member;
        r.valueOffsets[j] = valuesOffset;
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
        uint256 p = PolicyWord.unwrap(policy);
        uint256 failed; // (1 + position) << 16 | health of a value out of range, else 0
        // One pass per signer: read 4 bytes, vote, insertion-sort the health. This loop runs endpoints x signers
        // times per submission, so it is assembly; the rules are exactly those of {StatusMachine}. Policy fields:
        // downBelowBps = p & 0xffff, upAtBps = p >> 16 & 0xffff, fallRounds = p >> 32 & 0xff, riseRounds = p >> 40.
        assembly ("memory-safe") {
            // Round layout: round, quorum, signers, observedAt, valueOffsets, times, sorted.
            let offsetData := add(mload(add(r, 0x80)), 0x20)
            let sortedData := add(mload(add(r, 0xc0)), 0x20)
            let count := mload(sub(offsetData, 0x20))
            index := shl(2, index)
            for {
                let j := 0
            } lt(j, count) {
                j := add(j, 1)
            } {
                let word := shr(224, calldataload(add(mload(add(offsetData, shl(5, j))), index)))
                let health := shr(16, word)
                if gt(health, _MAX_BPS) {
                    failed := or(shl(16, add(j, 1)), health)
                    break
                }
                switch lt(health, and(p, 0xffff))
                case 1 {
                    // notGood; bad when the signer's own BAD streak reached fallRounds.
                    votes := add(votes, or(shl(64, 1), shl(192, iszero(lt(and(shr(8, word), 0xff), and(shr(32, p), 0xff))))))
                }
                default {
                    switch lt(health, and(shr(16, p), 0xffff))
                    case 1 {
                        votes := add(votes, or(shl(64, 1), 1)) // notGood and notBad
                    }
                    default {
                        // notBad; good when the signer's own GOOD streak reached riseRounds.
                        votes := add(votes, or(1, shl(128, iszero(lt(and(word, 0xff), and(shr(40, p), 0xff))))))
                    }
                }
                let k := j
                for {} k {} {
                    let slot := add(sortedData, shl(5, sub(k, 1)))
                    let before := mload(slot)
                    if iszero(gt(before, health)) {
                        break
                    }
                    mstore(add(slot, 0x20), before)
                    k := sub(k, 1)
                }
                mstore(add(sortedData, shl(5, k)), health)
            }
            let quorum := mload(add(r, 0x20))
            values := or(
                mload(add(sortedData, shl(5, shr(1, sub(count, 1))))),
                or(
                    shl(16, mload(add(sortedData, shl(5, sub(count, quorum))))),
                    shl(32, mload(add(sortedData, shl(5, sub(quorum, 1)))))
                )
            )
            index := shr(2, index)
        }
        if (failed != 0) {
            revert IHealthOracle.HealthOracleHealthOutOfRange((failed >> 16) - 1, index, uint16(failed));
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
