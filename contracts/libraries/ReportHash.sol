// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/**
 * @title ReportHash
 * @notice The EIP-712 digest of a v2 report on the submit hot path, and raw calldata reads of a report.
 *
 * digest = keccak256(0x1901 ‖ domainSeparator ‖ keccak256(abi.encode(REPORT_TYPEHASH, configDigest, round,
 * observedAt, keccak256(endpointIds), keccak256(values)))), as OpenZeppelin `MessageHashUtils.toTypedDataHash`
 * computes it. Every report of one submission shares all but `observedAt` and `values`, so the constant parts are
 * written once into a buffer and each report costs two small keccaks plus the hash of its values. The oracle's
 * `reportDigest` view computes the same digest with plain Solidity; the tests check they agree.
 */
library ReportHash {
    /**
     * @notice A buffer holding the constant parts: words `typeHash, configDigest, round, observedAt, endpointsHash,
     * valuesHash` at 0x00..0xc0, then `0x1901 ‖ separator ‖ structHash` at 0xc0..0x102.
     */
    function prepare(
        bytes32 typeHash,
        bytes32 configDigest,
        uint256 round,
        bytes32 endpointsHash,
        bytes32 separator
    ) internal pure returns (uint256 buffer) {
        assembly ("memory-safe") {
            buffer := mload(0x40)
            mstore(0x40, add(buffer, 0x120))
            mstore(buffer, typeHash)
            mstore(add(buffer, 0x20), configDigest)
            mstore(add(buffer, 0x40), round)
            mstore(add(buffer, 0x80), endpointsHash)
            mstore(add(buffer, 0xc0), hex"1901")
            mstore(add(buffer, 0xc2), separator)
        }
    }

    /**
     * @notice The EIP-712 struct hash of a report: `keccak256(abi.encode(typeHash, configDigest, round, observedAt,
     * endpointsHash, keccak256(values)))`, `endpointsHash` being the keccak of the packed id list (EIP-712 arrays).
     */
    function structHash(
        bytes32 typeHash,
        bytes32 configDigest,
        uint64 round,
        uint64 observedAt,
        bytes32 endpointsHash,
        bytes calldata values
    ) internal pure returns (bytes32) {
        return
            keccak256(
                abi.encode(typeHash, configDigest, round, observedAt, endpointsHash, keccak256(values))
            );
    }
}
