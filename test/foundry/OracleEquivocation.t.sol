// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {HealthOracle} from "../../contracts/HealthOracle.sol";
import {IHealthOracle} from "../../contracts/interfaces/IHealthOracle.sol";
import {OracleSetTest} from "./utils/OracleTest.sol";

/**
 * @title OracleEquivocationTest
 * @notice Equivocation of health model v2 (issue 8; THREATS #10): every conflicting pair (one signer, one round,
 * the current digest, different payloads: values, observation time or endpoint list) is provable by anyone, and
 * the signer's reports stop counting until a rotation; honest behaviour (the same report relayed twice, reports of
 * different rounds, reports under an older digest, two signers) is never provable. Errors are checked with their
 * arguments.
 */
abstract contract OracleEquivocationTest is OracleSetTest {
    struct Pair {
        uint256 member;
        uint64 round;
        IHealthOracle.ReportEvidence a;
        IHealthOracle.ReportEvidence b;
    }

    /// @notice Any member, any round, any difference: provable by anyone, the member is jailed (its report then
    /// fails {HealthOracleJailedSigner} at its position), a second proof fails {HealthOracleAlreadyJailed}, and a
    /// rotation releases it.
    function testFuzz_everyConflictingPairIsProvable(uint256 seed, address prover) public {
        Pair memory p = _conflict(seed, oracle.configDigest());
        vm.prank(prover);
        oracle.proveEquivocation(p.round, p.a, p.b);
        address signer = members[p.member];
        require(oracle.isJailed(signer), "proven equivocator not jailed");
        for (uint256 i; i < n; ++i) require(i == p.member || !oracle.isJailed(members[i]), "someone else jailed");

        // Its signatures stop counting.
        uint64 round = uint64(block.timestamp / ROUND_SECONDS);
        (bytes[] memory values, uint64[] memory times) = _healthyRound(round);
        uint256 included = (uint256(1) << n) - 1;
        bytes32 digest = oracle.configDigest();
        (IHealthOracle.SignedReport[] memory reports, bytes memory blob) = _reports(round, included, values, times);
        vm.expectRevert(
            abi.encodeWithSelector(IHealthOracle.HealthOracleJailedSigner.selector, _position(included, p.member), signer)
        );
        oracle.submit(digest, round, ids, reports, blob);
        vm.expectRevert(abi.encodeWithSelector(IHealthOracle.HealthOracleAlreadyJailed.selector, signer));
        oracle.proveEquivocation(p.round, p.b, p.a);

        // A rotation releases it and its reports count again.
        oracle.setAttestors(members, quorum);
        require(!oracle.isJailed(signer), "rotation kept the attestor jailed");
        (bool ok, ) = _submit(round, included, values, times);
        require(ok, "released attestor's report rejected");
    }

    /// @notice The same report twice (as relayers and responders repeat it) is never provable.
    function testFuzz_sameReportTwiceIsNeverProvable(uint256 seed) public {
        Pair memory p = _conflict(seed, oracle.configDigest());
        address signer = members[p.member];
        vm.expectRevert(abi.encodeWithSelector(IHealthOracle.HealthOracleNotEquivocation.selector, signer, signer));
        oracle.proveEquivocation(p.round, p.a, p.a);
        require(!oracle.isJailed(signer), "jailed for a repeat");
    }

    /// @notice An attestor's reports of two different rounds are never provable, whichever round the proof claims:
    /// the other report recovers to another address under the claimed round.
    function testFuzz_reportsOfDifferentRoundsAreNeverProvable(uint256 seed, uint64 otherRound) public {
        Pair memory p = _conflict(seed, oracle.configDigest());
        vm.assume(otherRound != p.round);
        bytes32 digest = oracle.configDigest();
        IHealthOracle.ReportEvidence memory other = IHealthOracle.ReportEvidence(
            p.b.endpointIds,
            p.b.values,
            _signReport(oracle, keys[p.member], digest, otherRound, p.b.report.observedAt, p.b.endpointIds, p.b.values)
        );
        address signer = members[p.member];
        address recovered = _recover(digest, p.round, other);
        vm.expectRevert(abi.encodeWithSelector(IHealthOracle.HealthOracleNotEquivocation.selector, signer, recovered));
        oracle.proveEquivocation(p.round, p.a, other);
        require(!oracle.isJailed(signer), "jailed for two rounds");
    }

    /// @notice A conflicting pair signed under an older digest (before a rotation) proves nothing now: both reports
    /// recover to other addresses under the current digest.
    function testFuzz_conflictUnderAnOlderDigestIsNotProvable(uint256 seed) public {
        Pair memory p = _conflict(seed, oracle.configDigest());
        oracle.setAttestors(members, quorum);
        bytes32 digest = oracle.configDigest();
        address a = _recover(digest, p.round, p.a);
        address b = _recover(digest, p.round, p.b);
        vm.expectRevert(abi.encodeWithSelector(IHealthOracle.HealthOracleNotEquivocation.selector, a, b));
        oracle.proveEquivocation(p.round, p.a, p.b);
        require(!oracle.isJailed(members[p.member]), "jailed under an older digest");
    }

    /// @notice Reports of two different members for one round are not equivocation.
    function testFuzz_twoSignersAreNotEquivocation(uint256 seed) public {
        Pair memory p = _conflict(seed, oracle.configDigest());
        uint256 otherMember = (p.member + 1 + (seed >> 240) % (n - 1)) % n;
        p.b.report = _signReport(
            oracle,
            keys[otherMember],
            oracle.configDigest(),
            p.round,
            p.b.report.observedAt,
            p.b.endpointIds,
            p.b.values
        );
        vm.expectRevert(
            abi.encodeWithSelector(
                IHealthOracle.HealthOracleNotEquivocation.selector,
                members[p.member],
                members[otherMember]
            )
        );
        oracle.proveEquivocation(p.round, p.a, p.b);
    }

    /// @notice A conflicting pair of a key outside the set is not provable (nobody to jail).
    function testFuzz_outsiderConflictIsNotEquivocation(uint256 seed, uint256 outsiderKey) public {
        outsiderKey = _bound(outsiderKey, 1, SECP256K1_N - 1);
        address outsider = vm.addr(outsiderKey);
        for (uint256 i; i < n; ++i) vm.assume(outsider != members[i]);
        Pair memory p = _conflict(seed, oracle.configDigest());
        bytes32 digest = oracle.configDigest();
        p.a.report = _signReport(oracle, outsiderKey, digest, p.round, p.a.report.observedAt, p.a.endpointIds, p.a.values);
        p.b.report = _signReport(oracle, outsiderKey, digest, p.round, p.b.report.observedAt, p.b.endpointIds, p.b.values);
        vm.expectRevert(abi.encodeWithSelector(IHealthOracle.HealthOracleNotEquivocation.selector, outsider, outsider));
        oracle.proveEquivocation(p.round, p.a, p.b);
    }

    /// @notice A proof with a malformed signature (high s) is rejected with the report's position.
    function testFuzz_proofWithMalformedSignatureIsRejected(uint256 seed, bool second) public {
        Pair memory p = _conflict(seed, oracle.configDigest());
        if (second) p.b.report.vs = _highS(p.b.report.vs);
        else p.a.report.vs = _highS(p.a.report.vs);
        vm.expectRevert(abi.encodeWithSelector(IHealthOracle.HealthOracleMalformedSignature.selector, second ? 1 : 0));
        oracle.proveEquivocation(p.round, p.a, p.b);
    }

    /// @notice Before the first attestor set nothing is provable.
    function test_proofBeforeAnySetIsRejected() public {
        HealthOracle fresh = new HealthOracle(address(this), ROUND_SECONDS, MAX_SKEW, 500_000, _policy(2, 2));
        Pair memory p = _conflict(1, bytes32(0));
        vm.expectRevert(
            abi.encodeWithSelector(IHealthOracle.HealthOracleConfigDigestMismatch.selector, bytes32(0), bytes32(0))
        );
        fresh.proveEquivocation(p.round, p.a, p.b);
    }

    // ------------------------------------------------------------------------------------------------

    /// @dev Two different reports of one member for one round under `digest`: different values, a different time
    /// inside the round, or a different endpoint list (two endpoints, one of them alone).
    function _conflict(uint256 seed, bytes32 digest) internal view returns (Pair memory p) {
        p.member = seed % n;
        p.round = uint64(_bound(seed >> 8, 1, type(uint32).max));
        uint64 start = p.round * ROUND_SECONDS;
        bytes32[] memory idsA = _endpointIds(seed, 2);
        bytes32[] memory idsB = idsA;
        bytes memory valuesA = abi.encodePacked(_encodeAny(_rand(seed, 1)), _encodeAny(_rand(seed, 2)));
        bytes memory valuesB = valuesA;
        uint64 timeA = start + uint64((seed >> 64) % ROUND_SECONDS);
        uint64 timeB = timeA;
        uint256 mode = (seed >> 128) % 3;
        if (mode == 0) {
            valuesB = abi.encodePacked(_encodeAny(_rand(seed, 3)), _encodeAny(_rand(seed, 4)));
            if (keccak256(valuesB) == keccak256(valuesA)) valuesB[1] = bytes1(uint8(valuesA[1]) ^ 1);
        } else if (mode == 1) {
            timeB = start + ((timeA - start + 1 + uint64((seed >> 136) % (ROUND_SECONDS - 1))) % ROUND_SECONDS);
        } else {
            idsB = new bytes32[](1);
            idsB[0] = idsA[(seed >> 144) % 2];
            valuesB = _encodeAny(_rand(seed, 5));
        }
        p.a = IHealthOracle.ReportEvidence(
            idsA,
            valuesA,
            _signReport(oracle, keys[p.member], digest, p.round, timeA, idsA, valuesA)
        );
        p.b = IHealthOracle.ReportEvidence(
            idsB,
            valuesB,
            _signReport(oracle, keys[p.member], digest, p.round, timeB, idsB, valuesB)
        );
        if ((seed >> 160) % 2 == 1) (p.a, p.b) = (p.b, p.a);
    }

    function _encodeAny(uint256 seed) internal pure returns (bytes memory) {
        Value[] memory one = new Value[](1);
        one[0] = _anyValue(seed, 2, 2);
        return _encode(one);
    }

    function _healthyRound(uint64 round) internal view returns (bytes[] memory values, uint64[] memory times) {
        values = new bytes[](n);
        times = new uint64[](n);
        for (uint256 i; i < n; ++i) {
            values[i] = _uniform(Value(MAX_BPS, 0, 255), 1);
            times[i] = round * ROUND_SECONDS;
        }
    }

    function _position(uint256 included, uint256 member) internal pure returns (uint256) {
        return _popCount(included & ((uint256(1) << member) - 1));
    }

    /// @dev Whom evidence `e` recovers to when hashed for `round` under `digest`.
    function _recover(
        bytes32 digest,
        uint64 round,
        IHealthOracle.ReportEvidence memory e
    ) internal view returns (address) {
        bytes32 hash = oracle.reportDigest(digest, round, e.report.observedAt, e.endpointIds, e.values);
        uint256 vs = uint256(e.report.vs);
        return ecrecover(hash, uint8(27 + (vs >> 255)), e.report.r, bytes32(vs & ((uint256(1) << 255) - 1)));
    }
}

/// @notice n = 4, quorum 3.
contract OracleEquivocationN4Test is OracleEquivocationTest {
    function _size() internal pure override returns (uint256, uint256, uint256) {
        return (4, 1, 1 << 1);
    }
}

/// @notice n = 7, quorum 5.
contract OracleEquivocationN7Test is OracleEquivocationTest {
    function _size() internal pure override returns (uint256, uint256, uint256) {
        return (7, 2, (1 << 0) | (1 << 4));
    }
}
