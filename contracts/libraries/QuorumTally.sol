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
        /// Earliest `observedAt` of the round's signers: the quorum's observation time (staleness counts from the
        /// oldest evidence; a signer can only make it older, and by less than `roundSeconds`).
        uint256 observedAt;
        /// Calldata offset of report 0's values; report j's start `j * stride` later.
        uint256 valuesOffset;
        /// Bytes of values per report (4 per endpoint).
        uint256 stride;
        /// Scratch: one endpoint's values, insertion-sorted.
        uint256[] sorted;
        /// The default policy word, as loaded with the attestor set.
        uint256 defaultPolicy;
    }

    /// @notice A round for `count` reports.
    function newRound(uint256 count, uint256 quorum, uint64 round) internal pure returns (Round memory r) {
        r.round = round;
        r.quorum = quorum;
        r.observedAt = type(uint256).max;
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

    /**
     * @notice Tally endpoint `index` over every report of the round.
     * @return values `median | floor << 16 | ceiling << 32`: lower median, `quorum`-th highest and `quorum`-th
     * lowest health (bps), as {EndpointSlot-record} takes them.
     * @return votes `bad << 192 | good << 128 | notGood << 64 | notBad` (see {StatusMachine}).
     * Reverts {IHealthOracle.HealthOracleHealthOutOfRange} for a value above 10_000 bps.
     */
    // solhint-disable-next-line function-max-lines
    function tally(
        Round memory r,
        uint256 index,
        PolicyWord policy
    ) internal pure returns (uint256 values, uint256 votes) {
        uint256 failed; // (1 + position) << 16 | health of a value out of range, else 0
        // One pass per signer: read 4 bytes, vote, insertion-sort the health. This loop runs endpoints x signers
        // times per submission, so it is assembly; the rules are exactly those of {StatusMachine}. Policy fields:
        // downBelowBps = p & 0xffff, upAtBps = p >> 16 & 0xffff, fallRounds = p >> 32 & 0xff, riseRounds = p >> 40.
        assembly ("memory-safe") {
            // Round layout: round, quorum, signers, observedAt, valuesOffset, stride, sorted, defaultPolicy.
            let sortedData := add(mload(add(r, 0xc0)), 0x20)
            let stride := mload(add(r, 0xa0))
            // Calldata offset of this endpoint's 4 bytes in report 0; report j's are j * stride further.
            index := add(mload(add(r, 0x80)), shl(2, index))
            let end := add(index, mul(mload(sub(sortedData, 0x20)), stride))
            // `top`: where the next value goes in `sorted`, which stays ascending.
            let top := sortedData
            for {
                let at := index
            } lt(at, end) {
                at := add(at, stride)
            } {
                let word := shr(224, calldataload(at))
                if gt(shr(16, word), _MAX_BPS) {
                    failed := or(shl(16, add(div(sub(at, index), stride), 1)), shr(16, word))
                    break
                }
                switch lt(shr(16, word), and(policy, 0xffff))
                case 1 {
                    // notGood; bad when the signer's own BAD streak reached fallRounds.
                    votes := add(
                        votes,
                        or(
                            shl(64, 1),
                            shl(192, iszero(lt(and(shr(8, word), 0xff), and(shr(32, policy), 0xff))))
                        )
                    )
                }
                default {
                    switch lt(shr(16, word), and(shr(16, policy), 0xffff))
                    case 1 {
                        votes := add(votes, or(shl(64, 1), 1)) // notGood and notBad
                    }
                    default {
                        // notBad; good when the signer's own GOOD streak reached riseRounds.
                        votes := add(
                            votes,
                            or(1, shl(128, iszero(lt(and(word, 0xff), and(shr(40, policy), 0xff)))))
                        )
                    }
                }
                word := shr(16, word) // the health, from here on
                let k := top
                for {} gt(k, sortedData) {} {
                    let before := mload(sub(k, 0x20))
                    if iszero(gt(before, word)) {
                        break
                    }
                    mstore(k, before)
                    k := sub(k, 0x20)
                }
                mstore(k, word)
                top := add(top, 0x20)
            }
            let count := mload(sub(sortedData, 0x20))
            let quorum := mload(add(r, 0x20))
            values := or(
                mload(add(sortedData, shl(5, shr(1, sub(count, 1))))),
                or(
                    shl(16, mload(add(sortedData, shl(5, sub(count, quorum))))),
                    shl(32, mload(add(sortedData, shl(5, sub(quorum, 1)))))
                )
            )
            index := shr(2, sub(index, mload(add(r, 0x80))))
        }
        if (failed != 0) {
            revert IHealthOracle.HealthOracleHealthOutOfRange((failed >> 16) - 1, index, uint16(failed));
        }
    }
}
