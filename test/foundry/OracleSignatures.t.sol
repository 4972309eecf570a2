// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {HealthOracle} from "../../contracts/HealthOracle.sol";
import {IHealthOracle} from "../../contracts/interfaces/IHealthOracle.sol";
import {Vm, VigilTest} from "./utils/VigilTest.sol";

/**
 * @title OracleSignaturesTest
 * @notice Fuzz proofs for the signature rows of THREATS.md: #1 cross-chain replay, #2 cross-contract
 * replay, #3 attestor-set rotation replay, #4 report replay, #5 malleable and malformed signatures,
 * #7 duplicate and unsorted signers. A 3-of-4 HealthOracle; every signature is made with `vm.sign` over a
 * digest computed here from the EIP-712 domain fields.
 */
contract OracleSignaturesTest is VigilTest {
    uint8 internal constant QUORUM = 3;

    HealthOracle internal oracle;
    uint256[] internal keys;

    function setUp() public {
        vm.warp(T0);
        keys = _sortedKeys("attestor", 4);
        oracle = _deployOracle(keys, QUORUM, 3, 2);
    }

    // ------------------------------------------------------------------------------------------------
    // THREATS #1: cross-chain replay
    // ------------------------------------------------------------------------------------------------

    /// @notice A report signed on chain A is rejected once the chain id is B, and the same report signed
    /// under B's domain is accepted (the rejection comes from the domain, nothing else).
    function testFuzz_rejectsReportSignedForAnotherChain(
        uint64 chainB,
        bytes32 endpointId,
        uint16 healthBps
    ) public {
        uint256 chainA = block.chainid;
        vm.assume(chainB != chainA && chainB != 0);
        healthBps = uint16(_bound(healthBps, 0, 10_000));
        Spec memory spec = _spec(oracle, endpointId, uint64(block.timestamp));
        uint16[] memory healths = _same(healthBps, QUORUM);
        uint256[] memory signers = _prefix(keys, QUORUM);
        IHealthOracle.SignedObservation[] memory onA = _observations(spec, signers, healths);

        vm.chainId(chainB);
        (, , , uint256 domainChainId, address verifyingContract, , ) = oracle.eip712Domain();
        require(domainChainId == chainB && verifyingContract == address(oracle), "eip712Domain not rebuilt");
        require(
            oracle.observationDigest(spec.configDigest, endpointId, spec.round, healthBps, spec.observedAt) ==
                _digest(
                    address(oracle),
                    chainB,
                    spec.configDigest,
                    endpointId,
                    spec.round,
                    healthBps,
                    spec.observedAt
                ),
            "on-chain digest differs from the off-chain domain"
        );
        (bool ok, bytes memory err) = _trySubmit(oracle, spec.configDigest, endpointId, spec.round, onA);
        require(!ok, "chain A report accepted on chain B");
        require(_selector(err) == IHealthOracle.HealthOracleUnknownSigner.selector, "unexpected error");
        require(oracle.statusOf(endpointId).round == 0, "state changed");

        spec.chainId = chainB;
        (ok, ) = _trySubmit(
            oracle,
            spec.configDigest,
            endpointId,
            spec.round,
            _observations(spec, signers, healths)
        );
        require(ok, "chain B report rejected on chain B");
    }

    // ------------------------------------------------------------------------------------------------
    // THREATS #2: cross-contract replay
    // ------------------------------------------------------------------------------------------------

    /// @notice Two oracles with the same attestors: a report for #1 is rejected by #2 whether relayed with
    /// #1's config digest (mismatch) or relabelled with #2's (the signatures cover #1's domain and digest).
    function testFuzz_rejectsReportSignedForAnotherOracle(bytes32 endpointId, uint16 healthBps) public {
        healthBps = uint16(_bound(healthBps, 0, 10_000));
        HealthOracle second = _deployOracle(keys, QUORUM, 3, 2);
        bytes32 cfg1 = oracle.configDigest();
        bytes32 cfg2 = second.configDigest();
        require(cfg1 != cfg2, "config digests collide across oracles");
        uint64 observedAt = uint64(block.timestamp);
        uint64 round = observedAt / ROUND_SECONDS;
        IHealthOracle.SignedObservation[] memory forFirst = _quorumReport(
            oracle,
            _prefix(keys, QUORUM),
            endpointId,
            healthBps,
            observedAt
        );

        (bool ok, bytes memory err) = _trySubmit(second, cfg1, endpointId, round, forFirst);
        require(
            !ok && _selector(err) == IHealthOracle.HealthOracleConfigDigestMismatch.selector,
            "digest #1 on #2"
        );
        (ok, err) = _trySubmit(second, cfg2, endpointId, round, forFirst);
        require(
            !ok && _selector(err) == IHealthOracle.HealthOracleUnknownSigner.selector,
            "relabelled on #2"
        );

        // Signed with #2's digest but under #1's domain: still not #2's.
        _expectCrossedDomainRejected(second, endpointId, healthBps, observedAt);
        require(second.statusOf(endpointId).round == 0, "state changed");

        (ok, ) = _trySubmit(oracle, cfg1, endpointId, round, forFirst);
        require(ok, "report rejected by its own oracle");
    }

    // ------------------------------------------------------------------------------------------------
    // THREATS #3: attestor-set rotation
    // ------------------------------------------------------------------------------------------------

    /// @notice After a rotation (to the same members, or with `replaced` members swapped for new keys),
    /// no signature made under the old digest counts, relayed with either digest.
    function testFuzz_rotationKillsOldSetSignatures(
        bytes32 endpointId,
        uint8 replaced,
        uint16 healthBps
    ) public {
        healthBps = uint16(_bound(healthBps, 0, 10_000));
        uint256[] memory signers = _prefix(keys, QUORUM);
        uint64 observedAt = uint64(block.timestamp);
        uint64 round = observedAt / ROUND_SECONDS;
        bytes32 oldCfg = oracle.configDigest();
        IHealthOracle.SignedObservation[] memory old = _quorumReport(
            oracle,
            signers,
            endpointId,
            healthBps,
            observedAt
        );

        // Rotate: keep the set, or replace up to all four members with fresh keys.
        uint256 swaps = _bound(replaced, 0, 4);
        uint256[] memory next = _sortedKeys("rotated", 4);
        for (uint256 i = swaps; i < 4; ++i) next[i] = keys[i];
        next = _sortByAddress(next);
        oracle.setAttestors(_addresses(next), QUORUM);
        bytes32 newCfg = oracle.configDigest();
        require(newCfg != oldCfg, "rotation kept the digest");

        (bool ok, bytes memory err) = _trySubmit(oracle, oldCfg, endpointId, round, old);
        require(
            !ok && _selector(err) == IHealthOracle.HealthOracleConfigDigestMismatch.selector,
            "old digest"
        );
        (ok, err) = _trySubmit(oracle, newCfg, endpointId, round, old);
        bytes4 sel = _selector(err);
        require(
            !ok &&
                (sel == IHealthOracle.HealthOracleUnknownSigner.selector ||
                    sel == IHealthOracle.HealthOracleSignersNotAscending.selector ||
                    sel == IHealthOracle.HealthOracleDuplicateSigner.selector),
            "old-set signatures counted under the new digest"
        );
        require(oracle.statusOf(endpointId).round == 0, "state changed");
    }

    // ------------------------------------------------------------------------------------------------
    // THREATS #4: report replay
    // ------------------------------------------------------------------------------------------------

    /// @notice An accepted report relayed again, or any older round, is rejected and changes nothing.
    function testFuzz_replayedReportRejected(bytes32 endpointId, uint16 healthBps, uint8 back) public {
        healthBps = uint16(_bound(healthBps, 0, 10_000));
        uint64 observedAt = uint64(block.timestamp);
        uint64 round = observedAt / ROUND_SECONDS;
        bytes32 cfg = oracle.configDigest();
        IHealthOracle.SignedObservation[] memory report = _quorumReport(
            oracle,
            _prefix(keys, QUORUM),
            endpointId,
            healthBps,
            observedAt
        );
        (bool ok, ) = _trySubmit(oracle, cfg, endpointId, round, report);
        require(ok, "first submission rejected");
        IHealthOracle.EndpointHealth memory before = oracle.statusOf(endpointId);

        vm.warp(block.timestamp + _bound(back, 0, 60));
        bytes memory err;
        (ok, err) = _trySubmit(oracle, cfg, endpointId, round, report);
        require(!ok, "replay accepted");
        bytes4 sel = _selector(err);
        require(
            sel == IHealthOracle.HealthOracleRoundNotNewer.selector ||
                sel == IHealthOracle.HealthOracleStaleObservation.selector,
            "unexpected error"
        );
        IHealthOracle.EndpointHealth memory afterReplay = oracle.statusOf(endpointId);
        require(
            afterReplay.round == before.round && afterReplay.updatedAt == before.updatedAt,
            "replay changed state"
        );
    }

    // ------------------------------------------------------------------------------------------------
    // THREATS #5: malleable and malformed signatures
    // ------------------------------------------------------------------------------------------------

    /// @notice Every variant of one valid signature in the §5.1 corpus (high s, v in {0, 1, 29, 255}, lengths
    /// 0 / 63 / 66, 64-byte compact with the wrong parity or a high s, r = 0, s = 0, one flipped bit) is
    /// rejected wherever it sits in a quorum; the canonical 65-byte and EIP-2098 64-byte forms are accepted.
    function testFuzz_rejectsMalformedSignatures(
        bytes32 endpointId,
        uint8 variant,
        uint8 position,
        uint16 bit
    ) public {
        uint256 pos = _bound(position, 0, QUORUM - 1);
        Spec memory spec = _spec(oracle, endpointId, uint64(block.timestamp));
        IHealthOracle.SignedObservation[] memory obs = _observations(
            spec,
            _prefix(keys, QUORUM),
            _same(9_000, QUORUM)
        );
        bool shouldPass;
        (obs[pos].signature, shouldPass) = _variant(obs[pos].signature, _bound(variant, 0, 13), bit);

        (bool ok, bytes memory err) = _trySubmit(oracle, spec.configDigest, endpointId, spec.round, obs);
        if (shouldPass) {
            require(ok, "valid signature rejected");
            return;
        }
        require(!ok, "malformed signature accepted");
        bytes4 sel = _selector(err);
        require(
            sel == IHealthOracle.HealthOracleMalformedSignature.selector ||
                sel == IHealthOracle.HealthOracleUnknownSigner.selector ||
                sel == IHealthOracle.HealthOracleSignersNotAscending.selector ||
                sel == IHealthOracle.HealthOracleDuplicateSigner.selector,
            "unexpected error"
        );
        require(oracle.statusOf(endpointId).round == 0, "state changed");
    }

    // ------------------------------------------------------------------------------------------------
    // THREATS #7: duplicate and unsorted signers
    // ------------------------------------------------------------------------------------------------

    /// @notice Any sequence of 1..8 attestor signatures (repeats and any order allowed) is accepted exactly
    /// when it is strictly ascending by signer with at least a quorum, and then counts each signer once.
    function testFuzz_duplicatesAndDisorderNeverCount(bytes32 endpointId, uint256 seed) public {
        uint256 length = _bound(seed, 1, 8);
        uint256[] memory picked = new uint256[](length);
        bool ascending = true;
        for (uint256 i; i < length; ++i) {
            // Mostly ascending picks with some repeats and inversions, so both outcomes are explored.
            uint256 roll = uint256(keccak256(abi.encode(seed, i)));
            uint256 index = i == 0 ? roll % 4 : (roll % 5 == 0 ? roll % 4 : _indexAfter(picked[i - 1], roll));
            picked[i] = index;
            if (i > 0 && index <= picked[i - 1]) ascending = false;
        }
        uint256[] memory signers = new uint256[](length);
        for (uint256 i; i < length; ++i) signers[i] = keys[picked[i]];
        uint64 observedAt = uint64(block.timestamp);
        uint64 round = observedAt / ROUND_SECONDS;
        IHealthOracle.SignedObservation[] memory obs = _quorumReport(
            oracle,
            signers,
            endpointId,
            9_000,
            observedAt
        );

        vm.recordLogs();
        (bool ok, bytes memory err) = _trySubmit(oracle, oracle.configDigest(), endpointId, round, obs);
        bool expected = ascending && length >= QUORUM;
        require(ok == expected, ok ? "duplicate or unsorted signers accepted" : "valid sequence rejected");
        if (!ok) {
            bytes4 sel = _selector(err);
            require(
                sel == IHealthOracle.HealthOracleDuplicateSigner.selector ||
                    sel == IHealthOracle.HealthOracleSignersNotAscending.selector ||
                    sel == IHealthOracle.HealthOracleInsufficientSignatures.selector,
                "unexpected error"
            );
            require(oracle.statusOf(endpointId).round == 0, "state changed");
            return;
        }
        require(_acceptedSigners() == length, "signer count differs from distinct signers");
    }

    // ------------------------------------------------------------------------------------------------
    // Helpers
    // ------------------------------------------------------------------------------------------------

    function _expectCrossedDomainRejected(
        HealthOracle second,
        bytes32 endpointId,
        uint16 healthBps,
        uint64 observedAt
    ) internal {
        Spec memory spec = _spec(oracle, endpointId, observedAt);
        spec.configDigest = second.configDigest();
        IHealthOracle.SignedObservation[] memory crossed = _observations(
            spec,
            _prefix(keys, QUORUM),
            _same(healthBps, QUORUM)
        );
        (bool ok, bytes memory err) = _trySubmit(second, spec.configDigest, endpointId, spec.round, crossed);
        require(!ok && _selector(err) == IHealthOracle.HealthOracleUnknownSigner.selector, "domain #1 on #2");
    }

    /// @dev Variant `kind` of the valid 65-byte `sig` from the §5.1 corpus; kind 13 is a valid form.
    function _variant(
        bytes memory sig,
        uint256 kind,
        uint16 bit
    ) internal pure returns (bytes memory bad, bool valid) {
        (bytes32 r, bytes32 s, uint8 v) = _split(sig);
        bytes32 highS = bytes32(SECP256K1_N - uint256(s));
        uint8 otherV = v == 27 ? 28 : 27;
        if (kind == 0) bad = abi.encodePacked(r, highS, otherV);
        else if (kind == 1) bad = abi.encodePacked(r, s, uint8(0));
        else if (kind == 2) bad = abi.encodePacked(r, s, uint8(1));
        else if (kind == 3) bad = abi.encodePacked(r, s, uint8(29));
        else if (kind == 4) bad = abi.encodePacked(r, s, uint8(255));
        else if (kind == 5) bad = "";
        else if (kind == 6) bad = _slice(sig, 63);
        else if (kind == 7) bad = abi.encodePacked(sig, uint8(0));
        else if (kind == 8)
            bad = abi.encodePacked(r, _vs(s, otherV)); // compact, wrong parity
        else if (kind == 9)
            bad = abi.encodePacked(r, highS); // compact, high s
        else if (kind == 10) bad = abi.encodePacked(bytes32(0), s, v);
        else if (kind == 11) bad = abi.encodePacked(r, bytes32(0), v);
        else if (kind == 12) {
            bad = abi.encodePacked(sig);
            uint256 b = _bound(bit, 0, 519);
            bad[b / 8] = bytes1(uint8(bad[b / 8]) ^ uint8(1 << (b % 8)));
        } else {
            // Positive controls: the canonical form, or its EIP-2098 compact form.
            bad = bit % 2 == 0 ? abi.encodePacked(sig) : abi.encodePacked(r, _vs(s, v));
            valid = true;
        }
    }

    function _indexAfter(uint256 previous, uint256 roll) internal pure returns (uint256) {
        return previous >= 3 ? 3 : previous + 1 + (roll % (3 - previous));
    }

    function _split(bytes memory sig) internal pure returns (bytes32 r, bytes32 s, uint8 v) {
        assembly ("memory-safe") {
            r := mload(add(sig, 0x20))
            s := mload(add(sig, 0x40))
            v := byte(0, mload(add(sig, 0x60)))
        }
    }

    /// @dev EIP-2098 `vs`: the parity bit (v - 27) on top of s.
    function _vs(bytes32 s, uint8 v) internal pure returns (bytes32) {
        return bytes32(uint256(s) | (uint256(v - 27) << 255));
    }

    function _slice(bytes memory data, uint256 length) internal pure returns (bytes memory out) {
        out = new bytes(length);
        for (uint256 i; i < length; ++i) out[i] = data[i];
    }

    function _sortByAddress(uint256[] memory ks) internal pure returns (uint256[] memory) {
        for (uint256 i = 1; i < ks.length; ++i) {
            uint256 k = ks[i];
            uint256 j = i;
            while (j > 0 && vm.addr(ks[j - 1]) > vm.addr(k)) {
                ks[j] = ks[j - 1];
                --j;
            }
            ks[j] = k;
        }
        return ks;
    }

    /// @dev `signers` of the RoundAccepted event in the recorded logs.
    function _acceptedSigners() internal returns (uint256) {
        bytes32 topic = IHealthOracle.RoundAccepted.selector;
        Vm.Log[] memory logs = vm.getRecordedLogs();
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].topics.length > 0 && logs[i].topics[0] == topic) {
                (, , uint8 signers) = abi.decode(logs[i].data, (uint64, uint16, uint8));
                return signers;
            }
        }
        revert("no RoundAccepted event");
    }
}
