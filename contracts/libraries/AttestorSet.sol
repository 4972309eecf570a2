// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Errors} from "@openzeppelin/contracts/utils/Errors.sol";

import {IHealthOracle} from "../interfaces/IHealthOracle.sol";

/**
 * @title AttestorSet
 * @notice Storage of the attestor set for the hot path, SSTORE2-style (Solady `SSTORE2`): the set lives as the
 * runtime code of a data contract, `0x00 ‖ configDigest ‖ defaultPolicy ‖ abi.encodePacked(attestors)` (a leading
 * STOP so it can never be called, addresses padded to words), so one EXTCODECOPY loads digest, the default policy
 * word and the members: a submission reads no storage slot for them but this one. The default policy is a copy
 * (the oracle's storage stays the source of truth and re-stores the data when it changes). The data contract's
 * address shares one word with quorum, count, version and a "someone is jailed" flag:
 *
 * pointer (bits 0..159) | quorum (160..167) | count (168..175) | version (176..207) | anyJailed (208).
 */
library AttestorSet {
    uint256 internal constant NOT_FOUND = type(uint256).max;

    uint256 private constant _QUORUM = 160;
    uint256 private constant _COUNT = 168;
    uint256 private constant _VERSION = 176;
    uint256 private constant _ANY_JAILED = 208;

    /// @notice Most attestors in a set (a signer bitmap is one word).
    uint256 internal constant MAX_ATTESTORS = 255;

    /**
     * @notice Reverts unless `attestors` and `quorum` make a valid set: 1..255 signers sorted strictly ascending
     * ({IHealthOracle.HealthOracleAttestorsNotAscending}, which also rules out duplicates and zero), and
     * `quorum >= 2f + 1` for `f = (n - 1) / 3` (PBFT / OCR2 `checkConfigValid`), a strict majority
     * (`quorum * 2 > n`, THREATS #8: two quorums always share an honest attestor) and `quorum <= n`
     * ({IHealthOracle.HealthOracleInvalidQuorum}).
     */
    function validate(address[] calldata attestors, uint8 quorum_) internal pure {
        uint256 n = attestors.length;
        if (
            n == 0 ||
            n > MAX_ATTESTORS ||
            quorum_ > n ||
            quorum_ < (2 * ((n - 1) / 3)) + 1 ||
            uint256(quorum_) * 2 <= n
        ) {
            revert IHealthOracle.HealthOracleInvalidQuorum(n, quorum_);
        }
        uint160 previous;
        for (uint256 i; i < n; ++i) {
            uint160 attestor = uint160(attestors[i]);
            if (attestor <= previous) revert IHealthOracle.HealthOracleAttestorsNotAscending(i, attestors[i]);
            previous = attestor;
        }
    }

    /// @notice Deploy the set's data contract and return the new config word (no one jailed).
    function store(
        address[] memory attestors,
        uint8 quorum_,
        uint32 version_,
        bytes32 digest,
        uint256 defaultPolicy
    ) internal returns (uint256 config) {
        bytes memory runtime = abi.encodePacked(hex"00", digest, defaultPolicy, attestors);
        // Init code: PUSH2 len, DUP1, PUSH1 0x0a, RETURNDATASIZE, CODECOPY, RETURNDATASIZE, RETURN, then runtime.
        bytes memory initCode = abi.encodePacked(
            hex"61",
            uint16(runtime.length),
            hex"80600a3d393df3",
            runtime
        );
        address pointer;
        assembly ("memory-safe") {
            pointer := create(0, add(initCode, 0x20), mload(initCode))
        }
        if (pointer == address(0)) revert Errors.FailedDeployment();
        config =
            uint256(uint160(pointer)) |
            (uint256(quorum_) << _QUORUM) |
            (attestors.length << _COUNT) |
            (uint256(version_) << _VERSION);
    }

    /// @notice The config word of the same set (digest, version, quorum, members, jailed flag) stored again with
    /// another default policy word, in a new data contract.
    function restore(uint256 config, uint256 defaultPolicy) internal returns (uint256) {
        (bytes32 digest, , address[] memory members) = load(config);
        uint256 stored = store(members, quorum(config), version(config), digest, defaultPolicy);
        return (config & ~uint256(type(uint160).max)) | uint160(stored);
    }

    /// @notice `configDigest`, the default policy word and the members, read from the data contract into a fresh
    /// `address[]` (zero and empty before the first set).
    function load(
        uint256 config
    ) internal view returns (bytes32 digest, uint256 defaultPolicy, address[] memory members) {
        address pointer = address(uint160(config));
        uint256 count = uint8(config >> _COUNT);
        assembly ("memory-safe") {
            // Skip the STOP byte; the policy lands where the array length goes, then is replaced by it. An empty
            // account copies zeros.
            let start := mload(0x40)
            extcodecopy(pointer, start, 1, shl(5, add(count, 2)))
            digest := mload(start)
            members := add(start, 0x20)
            defaultPolicy := mload(members)
            mstore(members, count)
            mstore(0x40, add(members, shl(5, add(count, 1))))
        }
    }

    function quorum(uint256 config) internal pure returns (uint8) {
        return uint8(config >> _QUORUM);
    }

    function version(uint256 config) internal pure returns (uint32) {
        return uint32(config >> _VERSION);
    }

    function anyJailed(uint256 config) internal pure returns (bool) {
        return (config >> _ANY_JAILED) & 1 == 1;
    }

    function withAnyJailed(uint256 config) internal pure returns (uint256) {
        return config | (uint256(1) << _ANY_JAILED);
    }

    /**
     * @notice Position of `attestor` in `members`, or {NOT_FOUND}. A plain scan for the rare paths (views, equivocation
     * proofs); the submit path searches the ascending set inside {ReportVerifier-verify}.
     */
    function indexOf(address[] memory members, address attestor) internal pure returns (uint256) {
        for (uint256 i; i < members.length; ++i) {
            if (members[i] == attestor) return i;
        }
        return NOT_FOUND;
    }
}
