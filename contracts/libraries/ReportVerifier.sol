// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

import {IHealthOracle} from "../interfaces/IHealthOracle.sol";
import {QuorumTally} from "./QuorumTally.sol";

/**
 * @title ReportVerifier
 * @notice Verifies the report signatures of one submission in one pass: round and time of each report, its EIP-712
 * digest ({ReportHash} layout), ECDSA recovery, signer strictly ascending, member of the set and not jailed.
 *
 * @dev This loop is the per-signer gas budget (the issue's target: at most 5,500 gas per extra signer, of which
 * ~1,100 is calldata and 3,000 the ECRECOVER precompile), so it is one assembly block instead of Solidity calls.
 * The signature checks are those of OpenZeppelin `ECDSA.tryRecover(hash, r, vs)` (EIP-2098): `s` from the low 255
 * bits of `vs` must be at most secp256k1n / 2 (no malleable twin is ever accepted), `v = 27 + (vs >> 255)`, and a
 * zero recovered address (including `r = 0` and a failed precompile call) is rejected. The tests run the OZ
 * malleability corpus against it (high s, r = 0, s = 0, flipped bits).
 */
library ReportVerifier {
    /// @notice Failure codes of {verify}; `OK` is zero.
    uint256 internal constant OK = 0;
    uint256 internal constant OUTSIDE_ROUND = 1;
    uint256 internal constant FROM_FUTURE = 2;
    uint256 internal constant MALFORMED_SIGNATURE = 3;
    uint256 internal constant NOT_MEMBER = 4;
    uint256 internal constant JAILED = 5;

    /// @dev secp256k1n / 2: the largest `s` of a canonical (low-s) signature.
    uint256 private constant _HALF_ORDER = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;
    uint256 private constant _S_MASK = 0x7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff;

    /// @notice What every report of one submission is checked against.
    struct Batch {
        /// Attestor set, ascending.
        address[] members;
        /// Jailed members, bit i = `members[i]`.
        uint256 jailed;
        /// {ReportHash-prepare} buffer.
        uint256 hashBuffer;
        /// Bytes of values per report (4 per endpoint).
        uint256 stride;
        /// `block.timestamp + maxSkew`.
        uint256 latestAllowed;
        uint256 roundSeconds;
        /// Calldata offset of `reports[0]` (static structs of 3 words: r, vs, observedAt).
        uint256 reportsOffset;
        /// Calldata offset of the values of report 0.
        uint256 valuesOffset;
        /// The default policy word, as loaded with the set.
        uint256 defaultPolicy;
    }

    /**
     * @notice Verify `count` reports and record them in `r` (signer bitmap, earliest `observedAt`).
     * @return failure Zero, or `code << 248 | position << 160 | detail` for the first failure: `code` one of the
     * constants above, `position` the failing report, `detail` its `observedAt` (time failures) or signer (signer
     * failures).
     * @return from Members already taken before the failure (to tell a duplicate or unsorted signer from an
     * unknown one).
     */
    // solhint-disable-next-line function-max-lines
    function verify(
        Batch memory b,
        QuorumTally.Round memory r,
        uint256 count
    ) internal view returns (uint256 failure, uint256 from) {
        assembly ("memory-safe") {
            // Batch layout: members, jailed, hashBuffer, stride, latestAllowed, roundSeconds, reportsOffset,
            // valuesOffset. Round layout: round, quorum, signers, observedAt, valuesOffset, stride, sorted.
            let stride := mload(add(b, 0x60))
            let report := mload(add(b, 0xc0))
            let values := mload(add(b, 0xe0))
            for {} count {
                count := sub(count, 1)
                report := add(report, 0x60)
                values := add(values, stride)
            } {
                let observedAt := calldataload(add(report, 0x40))
                // A full word: dirty high bits fail one of these two checks.
                if iszero(eq(div(observedAt, mload(add(b, 0xa0))), mload(r))) {
                    failure := or(shl(248, 1), observedAt) // OUTSIDE_ROUND
                    break
                }
                if gt(observedAt, mload(add(b, 0x80))) {
                    failure := or(shl(248, 2), observedAt) // FROM_FUTURE
                    break
                }
                let signer := 0
                {
                    // EIP-712 digest ({ReportHash} layout): the values are hashed in scratch memory past the free
                    // pointer, which is not moved; the same scratch then holds ECRECOVER's input.
                    let scratch := mload(0x40)
                    let buffer := mload(add(b, 0x40))
                    calldatacopy(scratch, values, stride)
                    mstore(add(buffer, 0x60), observedAt)
                    mstore(add(buffer, 0xa0), keccak256(scratch, stride))
                    mstore(add(buffer, 0xe2), keccak256(buffer, 0xc0))
                    mstore(scratch, keccak256(add(buffer, 0xc0), 0x42))
                    mstore(add(scratch, 0x20), add(27, shr(255, calldataload(add(report, 0x20)))))
                    mstore(add(scratch, 0x40), calldataload(report))
                    mstore(add(scratch, 0x60), and(calldataload(add(report, 0x20)), _S_MASK))
                    if iszero(gt(mload(add(scratch, 0x60)), _HALF_ORDER)) {
                        // Yul evaluates arguments right to left, so the return data size is read after the call.
                        if staticcall(gas(), 0x01, scratch, 0x80, scratch, 0x20) {
                            if eq(returndatasize(), 0x20) {
                                signer := mload(scratch)
                            }
                        }
                    }
                }
                if iszero(signer) {
                    failure := shl(248, 3) // MALFORMED_SIGNATURE
                    break
                }
                // Strictly ascending signers (Safe GS026 / OCR2): search only after the previous one, trying the
                // next member first, as when the whole set signs. `next` is the index after the signer, 0 if absent.
                let next := 0
                {
                    let data := add(mload(b), 0x20)
                    let high := mload(mload(b))
                    if lt(from, high) {
                        if eq(mload(add(data, shl(5, from))), signer) {
                            next := add(from, 1)
                        }
                    }
                    if iszero(next) {
                        let low := from
                        for {} lt(low, high) {} {
                            let mid := shr(1, add(low, high))
                            let member := mload(add(data, shl(5, mid)))
                            if eq(member, signer) {
                                next := add(mid, 1)
                                break
                            }
                            switch lt(member, signer)
                            case 1 {
                                low := add(mid, 1)
                            }
                            default {
                                high := mid
                            }
                        }
                    }
                }
                if iszero(next) {
                    failure := or(shl(248, 4), signer) // NOT_MEMBER
                    break
                }
                if and(mload(add(b, 0x20)), shl(sub(next, 1), 1)) {
                    failure := or(shl(248, 5), signer) // JAILED
                    break
                }
                from := next
                mstore(add(r, 0x40), or(mload(add(r, 0x40)), shl(sub(next, 1), 1)))
                if lt(observedAt, mload(add(r, 0x60))) {
                    mstore(add(r, 0x60), observedAt) // the earliest observation of the round
                }
            }
            // The failing report's position, from how far the loop got.
            if failure {
                failure := or(failure, shl(160, div(sub(report, mload(add(b, 0xc0))), 0x60)))
            }
        }
    }

    /// @notice Raises the custom error of a {verify} failure.
    function revertFailure(
        Batch memory b,
        QuorumTally.Round memory r,
        uint256 failure,
        uint256 from
    ) internal pure {
        uint256 code = failure >> 248;
        uint256 position = uint88(failure >> 160);
        uint256 detail = uint160(failure);
        if (code == OUTSIDE_ROUND) {
            revert IHealthOracle.HealthOracleObservationOutsideRound(
                position,
                uint64(r.round),
                uint64(detail)
            );
        }
        if (code == FROM_FUTURE) {
            revert IHealthOracle.HealthOracleObservationFromFuture(
                position,
                uint64(detail),
                uint64(b.latestAllowed)
            );
        }
        if (code == MALFORMED_SIGNATURE) revert IHealthOracle.HealthOracleMalformedSignature(position);
        address signer = address(uint160(detail));
        if (code == JAILED) revert IHealthOracle.HealthOracleJailedSigner(position, signer);
        address previous = from == 0 ? address(0) : b.members[from - 1];
        if (signer == previous) revert IHealthOracle.HealthOracleDuplicateSigner(position, signer);
        if (signer < previous) revert IHealthOracle.HealthOracleSignersNotAscending(position, signer);
        revert IHealthOracle.HealthOracleUnknownSigner(position, signer);
    }

    /**
     * @notice The signer of `hash` under the EIP-2098 signature `(r, vs)`, with OpenZeppelin `ECDSA.tryRecover`
     * (rejects high s and a zero signer). Reverts {IHealthOracle.HealthOracleMalformedSignature} with `position`.
     */
    function recover(
        bytes32 hash,
        bytes32 r,
        bytes32 vs,
        uint256 position
    ) internal pure returns (address signer) {
        ECDSA.RecoverError err;
        (signer, err, ) = ECDSA.tryRecover(hash, r, vs);
        if (err != ECDSA.RecoverError.NoError) revert IHealthOracle.HealthOracleMalformedSignature(position);
    }
}
