// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {HealthOracle} from "../../contracts/HealthOracle.sol";
import {IHealthOracle} from "../../contracts/interfaces/IHealthOracle.sol";
import {OracleSetTest} from "./utils/OracleTest.sol";

/**
 * @title OracleSignaturesTest
 * @notice The signature corpus of health model v2 (THREATS #1 cross-chain, #2 cross-contract, #3 rotation, #5
 * malleable and malformed signatures, #7 duplicate and unsorted signers), plus every other rejection of {submit}:
 * each case is rejected with its exact custom error and arguments, and leaves no state behind. A 3-of-4 oracle;
 * signatures are `vm.sign` over `reportDigest`, and that digest is checked against one computed here from the
 * EIP-712 domain fields, as an off-chain attestor computes it.
 */
contract OracleSignaturesTest is OracleSetTest {
    /// @notice One relayable round: every member's report of the current round.
    struct Case {
        bytes32 digest;
        uint64 round;
        bytes[] values;
        uint64[] times;
        IHealthOracle.SignedReport[] reports;
        bytes blob;
    }

    function _size() internal pure override returns (uint256, uint256, uint256) {
        return (4, 1, 0);
    }

    /// @dev 45 s into a round: any time of the round is within `maxSkew` of now.
    function setUp() public override {
        super.setUp();
        vm.warp(T0 + 45);
    }

    // ------------------------------------------------------------------------------------------------
    // THREATS #5: malleable and malformed signatures
    // ------------------------------------------------------------------------------------------------

    /// @notice A signature with a high s (the malleable half) is rejected, whatever its position.
    function testFuzz_rejectsHighS(uint256 seed, uint8 positionSeed) public {
        Case memory c = _case(seed);
        uint256 position = positionSeed % c.reports.length;
        c.reports[position].vs = _highS(c.reports[position].vs);
        _expectRejected(c, abi.encodeWithSelector(IHealthOracle.HealthOracleMalformedSignature.selector, position));
    }

    /// @notice r = 0 or s = 0 recovers to nothing.
    function testFuzz_rejectsZeroROrS(uint256 seed, uint8 positionSeed, bool zeroR) public {
        Case memory c = _case(seed);
        uint256 position = positionSeed % c.reports.length;
        if (zeroR) c.reports[position].r = bytes32(0);
        else c.reports[position].vs = bytes32(uint256(c.reports[position].vs) & (uint256(1) << 255));
        _expectRejected(c, abi.encodeWithSelector(IHealthOracle.HealthOracleMalformedSignature.selector, position));
    }

    /// @notice Any one bit of r, s or the parity flipped: malformed, or a signer that is not the attestor (an
    /// outsider, or one out of order), each with its error.
    function testFuzz_rejectsFlippedSignatureBit(uint256 seed, uint8 positionSeed, uint16 bitSeed) public {
        Case memory c = _case(seed);
        uint256 position = positionSeed % c.reports.length;
        uint256 bit = bitSeed % 512;
        IHealthOracle.SignedReport memory report = c.reports[position];
        if (bit < 256) report.r = bytes32(uint256(report.r) ^ (uint256(1) << bit));
        else report.vs = bytes32(uint256(report.vs) ^ (uint256(1) << (bit - 256)));
        bytes32 hash = oracle.reportDigest(c.digest, c.round, report.observedAt, ids, c.values[position]);
        _expectRejected(c, _signatureError(position, hash, report));
    }

    /// @notice Any one bit of what was signed flipped by the relayer (a report's values or observation time, the
    /// endpoint id, the round): the signature no longer matches, or the time leaves the round.
    function testFuzz_rejectsFlippedPayloadBit(uint256 seed, uint8 positionSeed, uint8 bitSeed, uint8 mode) public {
        Case memory c = _case(seed);
        uint256 position = positionSeed % c.reports.length;
        IHealthOracle.SignedReport memory report = c.reports[position];
        mode %= 4;
        bytes memory expected;
        if (mode == 0) {
            // A bit of the report's 4 value bytes.
            c.values[position] = abi.encodePacked(uint32(bytes4(c.values[position])) ^ uint32(1 << (bitSeed % 32)));
            c.blob = _blob(c.values);
            bytes32 hash = oracle.reportDigest(c.digest, c.round, report.observedAt, ids, c.values[position]);
            expected = _signatureError(position, hash, report);
        } else if (mode == 1) {
            // A bit of the observation time (may leave the round).
            report.observedAt ^= uint64(1) << (bitSeed % 64);
            expected = report.observedAt / ROUND_SECONDS != c.round
                ? abi.encodeWithSelector(
                    IHealthOracle.HealthOracleObservationOutsideRound.selector,
                    position,
                    c.round,
                    report.observedAt
                )
                : _signatureError(
                    position,
                    oracle.reportDigest(c.digest, c.round, report.observedAt, ids, c.values[position]),
                    report
                );
        } else if (mode == 2) {
            // A bit of the endpoint id: every report now recovers to someone else; the first one is rejected.
            bytes32 signedId = ids[0];
            ids[0] = bytes32(uint256(signedId) ^ (uint256(1) << bitSeed));
            expected = _signatureError(
                0,
                oracle.reportDigest(c.digest, c.round, c.reports[0].observedAt, ids, c.values[0]),
                c.reports[0]
            );
        } else {
            // Another round: every report's time lies outside it.
            uint64 other = c.round ^ (uint64(1) << (bitSeed % 32));
            expected = abi.encodeWithSelector(
                IHealthOracle.HealthOracleObservationOutsideRound.selector,
                0,
                other,
                c.reports[0].observedAt
            );
            c.round = other;
        }
        _expectRejected(c, expected);
    }

    // ------------------------------------------------------------------------------------------------
    // THREATS #1, #2, #3: replay across chains, oracles and attestor sets
    // ------------------------------------------------------------------------------------------------

    /// @notice The on-chain digest is the EIP-712 digest of the oracle's ERC-5267 domain, as computed off-chain.
    function testFuzz_reportDigestMatchesTheOffchainDomain(uint256 seed) public view {
        (, string memory name, string memory version, uint256 chainId, address verifying, , ) = oracle.eip712Domain();
        require(keccak256(bytes(name)) == keccak256("Vigil HealthOracle"), "domain name");
        require(keccak256(bytes(version)) == keccak256("2"), "domain version");
        require(chainId == block.chainid && verifying == address(oracle), "domain chain or contract");
        bytes memory values = _uniform(_anyValue(seed, 2, 2), 1);
        uint64 round = uint64(seed >> 128);
        uint64 observedAt = uint64(seed >> 192);
        require(
            oracle.reportDigest(bytes32(seed), round, observedAt, ids, values) ==
                _offchainDigest(address(oracle), block.chainid, bytes32(seed), round, observedAt, ids, values),
            "reportDigest differs from the off-chain EIP-712 digest"
        );
    }

    /// @notice Reports signed on chain A are rejected on chain B (the domain is rebuilt for B), and the same
    /// reports signed under B's domain are accepted.
    function testFuzz_rejectsReportSignedForAnotherChain(uint256 seed, uint64 chainB) public {
        vm.assume(chainB != block.chainid && chainB != 0);
        Case memory c = _case(seed);
        vm.chainId(chainB);
        (, , , uint256 domainChainId, , , ) = oracle.eip712Domain();
        require(domainChainId == chainB, "eip712Domain not rebuilt for the new chain");
        bytes32 hash = oracle.reportDigest(c.digest, c.round, c.reports[0].observedAt, ids, c.values[0]);
        require(
            hash == _offchainDigest(address(oracle), chainB, c.digest, c.round, c.reports[0].observedAt, ids, c.values[0]),
            "digest differs from chain B's domain"
        );
        _expectRejected(c, _signatureError(0, hash, c.reports[0]));
        (bool ok, ) = _submit(c.round, (uint256(1) << n) - 1, c.values, c.times);
        require(ok, "signed under chain B's domain, rejected on chain B");
    }

    /// @notice Two oracles with the same attestors: reports for #1 are rejected by #2, relayed with #1's config
    /// digest (mismatch) or relabelled with #2's (the signatures cover #1's domain and digest).
    function testFuzz_rejectsReportSignedForAnotherOracle(uint256 seed) public {
        Case memory c = _case(seed);
        HealthOracle second = _deployOracle(keys, quorum, 2, 2);
        bytes32 secondDigest = second.configDigest();
        require(secondDigest != c.digest, "config digests collide across oracles");
        vm.expectRevert(
            abi.encodeWithSelector(IHealthOracle.HealthOracleConfigDigestMismatch.selector, secondDigest, c.digest)
        );
        second.submit(c.digest, c.round, ids, c.reports, c.blob);
        bytes32 hash = second.reportDigest(secondDigest, c.round, c.reports[0].observedAt, ids, c.values[0]);
        vm.expectRevert(_signatureError(0, hash, c.reports[0]));
        second.submit(secondDigest, c.round, ids, c.reports, c.blob);
        require(second.statusOf(ids[0]).updatedAt == 0, "state changed");
        oracle.submit(c.digest, c.round, ids, c.reports, c.blob);
    }

    /// @notice After a rotation (even to the same members) reports signed under the old digest are rejected, with
    /// the old digest (mismatch) or relabelled with the new one.
    function testFuzz_rejectsOldDigestAfterRotation(uint256 seed) public {
        Case memory c = _case(seed);
        oracle.setAttestors(members, quorum);
        bytes32 newDigest = oracle.configDigest();
        require(newDigest != c.digest, "rotation kept the digest");
        _expectRejected(
            c,
            abi.encodeWithSelector(IHealthOracle.HealthOracleConfigDigestMismatch.selector, newDigest, c.digest)
        );
        bytes32 hash = oracle.reportDigest(newDigest, c.round, c.reports[0].observedAt, ids, c.values[0]);
        bytes memory expected = _signatureError(0, hash, c.reports[0]);
        c.digest = newDigest;
        _expectRejected(c, expected);
    }

    // ------------------------------------------------------------------------------------------------
    // THREATS #7 and #8: duplicate, unsorted and outsider signers
    // ------------------------------------------------------------------------------------------------

    /// @notice A report repeated right after itself: {HealthOracleDuplicateSigner} at the repeat.
    function testFuzz_rejectsDuplicateSigner(uint256 seed, uint8 positionSeed) public {
        Case memory c = _case(seed);
        uint256 position = 1 + (positionSeed % (c.reports.length - 1));
        c.reports[position] = c.reports[position - 1];
        c.values[position] = c.values[position - 1];
        c.blob = _blob(c.values);
        _expectRejected(
            c,
            abi.encodeWithSelector(IHealthOracle.HealthOracleDuplicateSigner.selector, position, members[position - 1])
        );
    }

    /// @notice Two neighbouring reports swapped: {HealthOracleSignersNotAscending} at the second.
    function testFuzz_rejectsUnsortedSigners(uint256 seed, uint8 positionSeed) public {
        Case memory c = _case(seed);
        uint256 position = 1 + (positionSeed % (c.reports.length - 1));
        (c.reports[position], c.reports[position - 1]) = (c.reports[position - 1], c.reports[position]);
        (c.values[position], c.values[position - 1]) = (c.values[position - 1], c.values[position]);
        c.blob = _blob(c.values);
        _expectRejected(
            c,
            abi.encodeWithSelector(IHealthOracle.HealthOracleSignersNotAscending.selector, position, members[position - 1])
        );
    }

    /// @notice A report signed by a key outside the set, in any position: never counted.
    function testFuzz_rejectsOutsiderKey(uint256 seed, uint8 positionSeed, uint256 outsiderKey) public {
        outsiderKey = _bound(outsiderKey, 1, SECP256K1_N - 1);
        for (uint256 i; i < n; ++i) vm.assume(vm.addr(outsiderKey) != members[i]);
        Case memory c = _case(seed);
        uint256 position = positionSeed % c.reports.length;
        IHealthOracle.SignedReport memory report = c.reports[position];
        c.reports[position] = _signReport(
            oracle,
            outsiderKey,
            c.digest,
            c.round,
            report.observedAt,
            ids,
            c.values[position]
        );
        bytes32 hash = oracle.reportDigest(c.digest, c.round, report.observedAt, ids, c.values[position]);
        _expectRejected(c, _signatureError(position, hash, c.reports[position]));
    }

    /// @notice Fewer reports than the quorum.
    function testFuzz_rejectsFewerReportsThanQuorum(uint256 seed, uint8 countSeed) public {
        Case memory c = _case(seed);
        uint256 count = countSeed % quorum;
        IHealthOracle.SignedReport[] memory reports = c.reports;
        assembly ("memory-safe") {
            mstore(reports, count)
        }
        c.blob = _blobOf(c.values, count);
        _expectRejected(
            c,
            abi.encodeWithSelector(IHealthOracle.HealthOracleInsufficientSignatures.selector, count, quorum)
        );
    }

    // ------------------------------------------------------------------------------------------------
    // Every other rejection of submit
    // ------------------------------------------------------------------------------------------------

    /// @notice Before the first attestor set every submission is rejected.
    function test_rejectsSubmissionBeforeAnyAttestorSet() public {
        Case memory c = _case(1);
        HealthOracle fresh = new HealthOracle(address(this), ROUND_SECONDS, MAX_SKEW, 500_000, _policy(2, 2));
        vm.expectRevert(
            abi.encodeWithSelector(IHealthOracle.HealthOracleConfigDigestMismatch.selector, bytes32(0), c.digest)
        );
        fresh.submit(c.digest, c.round, ids, c.reports, c.blob);
    }

    /// @notice The endpoint list must be non-empty and strictly ascending.
    function test_rejectsEndpointsNotAscending() public {
        Case memory c = _case(2);
        bytes32 id = ids[0];
        bytes32[] memory none = new bytes32[](0);
        vm.expectRevert(
            abi.encodeWithSelector(IHealthOracle.HealthOracleEndpointsNotAscending.selector, 0, bytes32(0))
        );
        oracle.submit(c.digest, c.round, none, c.reports, c.blob);
        bytes32[] memory twice = new bytes32[](2);
        (twice[0], twice[1]) = (id, id);
        vm.expectRevert(abi.encodeWithSelector(IHealthOracle.HealthOracleEndpointsNotAscending.selector, 1, id));
        oracle.submit(c.digest, c.round, twice, c.reports, c.blob);
        bytes32[] memory descending = new bytes32[](2);
        (descending[0], descending[1]) = (bytes32(uint256(id) + 1), id);
        vm.expectRevert(abi.encodeWithSelector(IHealthOracle.HealthOracleEndpointsNotAscending.selector, 1, id));
        oracle.submit(c.digest, c.round, descending, c.reports, c.blob);
    }

    /// @notice The values blob must carry exactly 4 bytes per endpoint per report.
    function testFuzz_rejectsMalformedValuesLength(uint256 seed, uint8 lengthSeed) public {
        Case memory c = _case(seed);
        uint256 expected = 4 * c.reports.length;
        uint256 length = lengthSeed % 64;
        vm.assume(length != expected);
        c.blob = new bytes(length);
        _expectRejected(
            c,
            abi.encodeWithSelector(IHealthOracle.HealthOracleMalformedReport.selector, length, expected)
        );
    }

    /// @notice A validly signed health above 10,000 bps.
    function testFuzz_rejectsHealthOutOfRange(uint256 seed, uint8 positionSeed, uint16 health) public {
        health = uint16(_bound(health, uint256(MAX_BPS) + 1, type(uint16).max));
        Case memory c = _case(seed);
        uint256 position = positionSeed % c.reports.length;
        c.values[position] = _uniform(Value(health, 0, 0), 1);
        c.reports = _resign(c);
        c.blob = _blob(c.values);
        _expectRejected(
            c,
            abi.encodeWithSelector(IHealthOracle.HealthOracleHealthOutOfRange.selector, position, 0, health)
        );
    }

    /// @notice A validly signed report whose observation time lies outside the submitted round.
    function testFuzz_rejectsObservationOutsideRound(uint256 seed, uint8 positionSeed, uint32 offset, bool before) public {
        Case memory c = _case(seed);
        uint256 position = positionSeed % c.reports.length;
        uint64 start = c.round * ROUND_SECONDS;
        uint64 time = before
            ? start - 1 - uint64(_bound(offset, 0, start - 1))
            : start + ROUND_SECONDS + uint64(_bound(offset, 0, MAX_SKEW));
        c.times[position] = time;
        c.reports = _resign(c);
        _expectRejected(
            c,
            abi.encodeWithSelector(IHealthOracle.HealthOracleObservationOutsideRound.selector, position, c.round, time)
        );
    }

    // ------------------------------------------------------------------------------------------------

    /// @dev Every member's report of the current round: random values in range, times inside the round up to now.
    function _case(uint256 seed) internal view returns (Case memory c) {
        c.digest = oracle.configDigest();
        c.round = uint64(block.timestamp / ROUND_SECONDS);
        c.values = new bytes[](n);
        c.times = new uint64[](n);
        for (uint256 i; i < n; ++i) {
            uint256 roll = _rand(seed, i);
            c.values[i] = _uniform(_anyValue(roll, 2, 2), 1);
            c.times[i] = c.round * ROUND_SECONDS + uint64(roll % (block.timestamp - c.round * ROUND_SECONDS + 1));
        }
        c.reports = _resign(c);
        c.blob = _blob(c.values);
    }

    function _resign(Case memory c) internal view returns (IHealthOracle.SignedReport[] memory reports) {
        reports = new IHealthOracle.SignedReport[](n);
        for (uint256 i; i < n; ++i) {
            reports[i] = _signReport(oracle, keys[i], c.digest, c.round, c.times[i], ids, c.values[i]);
        }
    }

    function _blob(bytes[] memory values) internal pure returns (bytes memory) {
        return _blobOf(values, values.length);
    }

    function _blobOf(bytes[] memory values, uint256 count) internal pure returns (bytes memory blob) {
        for (uint256 i; i < count; ++i) blob = abi.encodePacked(blob, values[i]);
    }

    /// @dev Submits `c`, expecting exactly `err`, and checks nothing was stored.
    function _expectRejected(Case memory c, bytes memory err) internal {
        vm.expectRevert(err);
        oracle.submit(c.digest, c.round, ids, c.reports, c.blob);
        require(oracle.statusOf(ids[0]).updatedAt == 0, "a rejected submission changed state");
    }

    /**
     * @dev The error of report `position` (signers before it are members 0..position-1, in order) whose signature
     * is checked against `hash`: malformed when s is high or nothing is recovered; otherwise the recovered address
     * is not the member expected there: a duplicate of the previous signer, below it, or an outsider.
     */
    function _signatureError(
        uint256 position,
        bytes32 hash,
        IHealthOracle.SignedReport memory report
    ) internal view returns (bytes memory) {
        uint256 s = uint256(report.vs) & ((uint256(1) << 255) - 1);
        address signer = s > SECP256K1_N / 2
            ? address(0)
            : ecrecover(hash, uint8(27 + (uint256(report.vs) >> 255)), report.r, bytes32(s));
        if (signer == address(0)) {
            return abi.encodeWithSelector(IHealthOracle.HealthOracleMalformedSignature.selector, position);
        }
        address previous = position == 0 ? address(0) : members[position - 1];
        require(signer != members[position], "the mutation left the signature valid");
        if (signer == previous) {
            return abi.encodeWithSelector(IHealthOracle.HealthOracleDuplicateSigner.selector, position, signer);
        }
        if (signer < previous) {
            return abi.encodeWithSelector(IHealthOracle.HealthOracleSignersNotAscending.selector, position, signer);
        }
        return abi.encodeWithSelector(IHealthOracle.HealthOracleUnknownSigner.selector, position, signer);
    }
}
