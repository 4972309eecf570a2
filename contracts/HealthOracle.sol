// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {IHealthOracle} from "./interfaces/IHealthOracle.sol";
import {AttestorSet} from "./libraries/AttestorSet.sol";
import {QuorumTally} from "./libraries/QuorumTally.sol";
import {ReportHash} from "./libraries/ReportHash.sol";
import {ReportVerifier} from "./libraries/ReportVerifier.sol";
import {StatusListeners} from "./libraries/StatusListeners.sol";
import {StatusMachine} from "./libraries/StatusMachine.sol";
import {EndpointSlot} from "./types/EndpointSlot.sol";
import {PolicyWord, PolicyWordLibrary} from "./types/PolicyWord.sol";

/**
 * @title HealthOracle
 * @notice Quorum-attested endpoint health, model v2: one signed report per attestor per round, transitions on
 * quorum agreement, staleness from observation time, provable equivocation. See {IHealthOracle}.
 *
 * @dev This contract orchestrates; the rules live in libraries: {AttestorSet} (SSTORE2 set, signer search),
 * {QuorumTally} (values, order statistics, votes), {StatusMachine} (transitions, heartbeat), {EndpointSlot} and
 * {PolicyWord} (packed storage), {ReportHash} and {ReportVerifier} (signatures), {StatusListeners} (bounded listener
 * calls). Replay protection has three layers: the EIP-712
 * domain (OpenZeppelin {EIP712}: chain id and this address, rebuilt on a chain-id change), the OCR2 `configDigest`
 * inside every signed report (a rotation kills every signature of the old set), and rounds that only move
 * forward per endpoint.
 */
contract HealthOracle is IHealthOracle, EIP712, Ownable2Step, ReentrancyGuardTransient {
    using StatusListeners for address[];

    /// @dev keccak256("Report(bytes32 configDigest,uint64 round,uint64 observedAt,bytes32[] endpointIds,bytes values)")
    bytes32 public constant REPORT_TYPEHASH = keccak256(
        "Report(bytes32 configDigest,uint64 round,uint64 observedAt,bytes32[] endpointIds,bytes values)"
    );

    /// @inheritdoc IHealthOracle
    uint256 public constant MAX_LISTENERS = StatusListeners.MAX;

    uint256 private constant _MAX_LISTENER_GAS = 2_000_000;

    uint64 private immutable _roundSeconds;
    uint64 private immutable _maxSkew;
    uint256 private immutable _listenerGasLimit;

    uint256 private _config;
    PolicyWord private _defaultPolicy;
    mapping(bytes32 endpointId => EndpointSlot) private _endpoints;
    mapping(bytes32 endpointId => PolicyWord) private _endpointPolicies;
    mapping(uint32 version => uint256 bitmap) private _jailed;
    address[] private _listeners;

    /**
     * @param initialOwner Configuration owner (a timelock in production).
     * @param roundSeconds_ Seconds per round, 1..2^32-1.
     * @param maxSkew_ Seconds a report may lie in the future, at most 2^32-1.
     * @param listenerGasLimit_ Gas given to each listener call, 1..2_000_000.
     * @param defaultPolicy_ Policy of every endpoint without its own.
     */
    constructor(
        address initialOwner,
        uint64 roundSeconds_,
        uint64 maxSkew_,
        uint256 listenerGasLimit_,
        Policy memory defaultPolicy_
    ) EIP712("Vigil HealthOracle", "2") Ownable(initialOwner) {
        // Bounded so that `block.timestamp + maxSkew` and every accepted round fit the 40-bit fields.
        if (
            roundSeconds_ == 0 ||
            roundSeconds_ > type(uint32).max ||
            maxSkew_ > type(uint32).max ||
            listenerGasLimit_ == 0 ||
            listenerGasLimit_ > _MAX_LISTENER_GAS
        ) {
            revert HealthOracleInvalidParameters(roundSeconds_, maxSkew_, listenerGasLimit_);
        }
        _roundSeconds = roundSeconds_;
        _maxSkew = maxSkew_;
        _listenerGasLimit = listenerGasLimit_;
        _defaultPolicy = PolicyWordLibrary.encode(defaultPolicy_);
        emit DefaultPolicyChanged(defaultPolicy_);
    }

    // ------------------------------------------------------------------------------------------------
    // Writes
    // ------------------------------------------------------------------------------------------------

    /// @inheritdoc IHealthOracle
    function submit(
        bytes32 configDigest_,
        uint64 round,
        bytes32[] calldata endpointIds,
        SignedReport[] calldata reports,
        bytes calldata values
    ) external nonReentrant returns (uint256 updated, uint256 skipped) {
        QuorumTally.Round memory r = _verifyReports(configDigest_, round, endpointIds, reports, values);
        uint256[] memory changes;
        (updated, changes) = _applyRound(r, endpointIds);
        skipped = endpointIds.length - updated;
        emit ReportAccepted(round, uint64(r.observedAt), r.signers, updated, skipped);
        // Interactions last: every endpoint of the round is stored before any listener reads the oracle, so a
        // failover sees the backup that turned HEALTHY in the same round.
        for (uint256 k; k < changes.length; ++k) {
            uint256 change = changes[k];
            _listeners.notify(
                _listenerGasLimit,
                endpointIds[change >> 16],
                Status(uint8(change >> 8)),
                Status(uint8(change))
            );
        }
    }

    /// @inheritdoc IHealthOracle
    function proveEquivocation(uint64 round, ReportEvidence calldata a, ReportEvidence calldata b) external {
        (address signer, uint256 bit, bytes32 digest, uint256 config) = _equivocator(round, a, b);
        uint32 version = AttestorSet.version(config);
        uint256 jailed = _jailed[version];
        if (jailed & bit != 0) revert HealthOracleAlreadyJailed(signer);
        _jailed[version] = jailed | bit;
        _config = AttestorSet.withAnyJailed(config);
        emit AttestorJailed(signer, digest, round, msg.sender);
    }

    /// @inheritdoc IHealthOracle
    function setAttestors(address[] calldata attestors, uint8 quorum) external onlyOwner {
        AttestorSet.validate(attestors, quorum);
        uint32 version = AttestorSet.version(_config) + 1;
        // OCR2 configDigest: chain, contract, version and set, so no signature outlives its configuration. A new
        // version also starts with no one jailed.
        bytes32 digest = keccak256(abi.encode(block.chainid, address(this), version, attestors, quorum));
        _config = AttestorSet.store(attestors, quorum, version, digest, PolicyWord.unwrap(_defaultPolicy));
        emit AttestorSetChanged(digest, version, attestors, quorum);
    }

    /// @inheritdoc IHealthOracle
    function setDefaultPolicy(Policy calldata policy) external onlyOwner {
        PolicyWord word = PolicyWordLibrary.encode(policy);
        _defaultPolicy = word;
        // The data contract carries a copy for the submit path: store the set again with the new policy.
        if (_config != 0) _config = AttestorSet.restore(_config, PolicyWord.unwrap(word));
        emit DefaultPolicyChanged(policy);
    }

    /// @inheritdoc IHealthOracle
    function setEndpointPolicy(bytes32 endpointId, Policy calldata policy) external onlyOwner {
        _endpointPolicies[endpointId] = PolicyWordLibrary.encode(policy);
        _endpoints[endpointId] = _endpoints[endpointId].withOwnPolicy(true);
        emit EndpointPolicyChanged(endpointId, policy, false);
    }

    /// @inheritdoc IHealthOracle
    function clearEndpointPolicy(bytes32 endpointId) external onlyOwner {
        _endpointPolicies[endpointId] = PolicyWord.wrap(0);
        _endpoints[endpointId] = _endpoints[endpointId].withOwnPolicy(false);
        emit EndpointPolicyChanged(endpointId, _defaultPolicy.decode(), true);
    }

    /// @inheritdoc IHealthOracle
    function addStatusListener(address listener) external onlyOwner {
        _listeners.add(listener);
    }

    /// @inheritdoc IHealthOracle
    /// @dev Keeps the order of the remaining listeners (the registry is notified before the guard).
    function removeStatusListener(address listener) external onlyOwner {
        _listeners.remove(listener);
    }

    // ------------------------------------------------------------------------------------------------
    // Reads
    // ------------------------------------------------------------------------------------------------

    /// @inheritdoc IHealthOracle
    function statusOf(bytes32 endpointId) external view returns (EndpointHealth memory) {
        EndpointSlot slot = _endpoints[endpointId];
        return StatusMachine.health(slot, _policyOf(endpointId, slot).heartbeat(), block.timestamp);
    }

    /// @inheritdoc IHealthOracle
    function policyOf(bytes32 endpointId) external view returns (Policy memory) {
        return _policyOf(endpointId, _endpoints[endpointId]).decode();
    }

    /// @inheritdoc IHealthOracle
    function configDigest() external view returns (bytes32 digest) {
        (digest, , ) = AttestorSet.load(_config);
    }

    /// @inheritdoc IHealthOracle
    function attestorSet() external view returns (uint32 version, uint8 quorum, address[] memory attestors) {
        uint256 config = _config;
        (, , attestors) = AttestorSet.load(config);
        return (AttestorSet.version(config), AttestorSet.quorum(config), attestors);
    }

    /// @inheritdoc IHealthOracle
    function isJailed(address attestor) external view returns (bool) {
        uint256 config = _config;
        (, , address[] memory members) = AttestorSet.load(config);
        uint256 index = AttestorSet.indexOf(members, attestor);
        if (index == AttestorSet.NOT_FOUND) return false;
        return _jailed[AttestorSet.version(config)] & (uint256(1) << index) != 0;
    }

    /// @inheritdoc IHealthOracle
    function statusListeners() external view returns (address[] memory) {
        return _listeners;
    }

    /// @inheritdoc IHealthOracle
    function roundSeconds() external view returns (uint64) {
        return _roundSeconds;
    }

    /// @inheritdoc IHealthOracle
    function maxSkew() external view returns (uint64) {
        return _maxSkew;
    }

    /// @inheritdoc IHealthOracle
    function listenerGasLimit() external view returns (uint256) {
        return _listenerGasLimit;
    }

    /// @inheritdoc IHealthOracle
    function reportDigest(
        bytes32 configDigest_,
        uint64 round,
        uint64 observedAt,
        bytes32[] calldata endpointIds,
        bytes calldata values
    ) external view returns (bytes32) {
        return _reportDigest(configDigest_, round, observedAt, QuorumTally.hashIds(endpointIds), values);
    }

    // ------------------------------------------------------------------------------------------------
    // Submission
    // ------------------------------------------------------------------------------------------------

    /**
     * @dev Checks everything that concerns the whole round (digest, endpoint order, report count, and per report:
     * round, time, length, signature, signer) and returns what the per-endpoint pass needs.
     */
    function _verifyReports(
        bytes32 configDigest_,
        uint64 round,
        bytes32[] calldata endpointIds,
        SignedReport[] calldata reports,
        bytes calldata values
    ) private view returns (QuorumTally.Round memory r) {
        (ReportVerifier.Batch memory b, uint256 quorum) = _batch(
            configDigest_,
            round,
            endpointIds,
            reports.length,
            values.length
        );
        assembly ("memory-safe") {
            mstore(add(b, 0xc0), reports.offset)
            mstore(add(b, 0xe0), values.offset)
        }
        r = QuorumTally.newRound(reports.length, quorum, round);
        r.defaultPolicy = b.defaultPolicy;
        r.valuesOffset = b.valuesOffset;
        r.stride = b.stride;
        (uint256 failure, uint256 from) = ReportVerifier.verify(b, r, reports.length);
        if (failure != 0) ReportVerifier.revertFailure(b, r, failure, from);
    }

    /// @dev The checks that concern the whole submission (digest, report count, endpoint order, values length) and
    /// the {ReportVerifier.Batch} for its reports (calldata offsets are filled in by the caller).
    function _batch(
        bytes32 configDigest_,
        uint64 round,
        bytes32[] calldata endpointIds,
        uint256 count,
        uint256 valuesLength
    ) private view returns (ReportVerifier.Batch memory b, uint256 quorum) {
        uint256 config = _config;
        bytes32 digest;
        (digest, b.defaultPolicy, b.members) = AttestorSet.load(config);
        if (digest != configDigest_ || digest == bytes32(0)) {
            revert HealthOracleConfigDigestMismatch(digest, configDigest_);
        }
        quorum = AttestorSet.quorum(config);
        if (count < quorum) revert HealthOracleInsufficientSignatures(count, quorum);
        QuorumTally.requireAscending(endpointIds);
        b.stride = endpointIds.length * 4;
        if (valuesLength != b.stride * count)
            revert HealthOracleMalformedReport(valuesLength, b.stride * count);
        b.jailed = AttestorSet.anyJailed(config) ? _jailed[AttestorSet.version(config)] : 0;
        b.hashBuffer = ReportHash.prepare(
            REPORT_TYPEHASH,
            digest,
            round,
            QuorumTally.hashIds(endpointIds),
            _domainSeparatorV4()
        );
        b.latestAllowed = block.timestamp + _maxSkew;
        b.roundSeconds = _roundSeconds;
    }

    /**
     * @dev Applies the round to every endpoint (tally, {StatusMachine-advance}, store, event); returns how many took
     * it and their status changes as `index << 16 | previous << 8 | current`.
     */
    function _applyRound(
        QuorumTally.Round memory r,
        bytes32[] calldata endpointIds
    ) private returns (uint256 updated, uint256[] memory changes) {
        changes = new uint256[](endpointIds.length);
        uint256 changeCount;
        for (uint256 i; i < endpointIds.length; ++i) {
            uint256 outcome = _step(r, i, endpointIds);
            if (outcome == StatusMachine.SKIP) continue;
            if (outcome == StatusMachine.STALE) _revertStale(endpointIds[i], r);
            unchecked {
                ++updated; // at most endpointIds.length
            }
            uint256 previous = uint8(outcome >> 8);
            uint256 current = uint8(outcome >> 16);
            if (current != previous) {
                emit StatusChanged(
                    endpointIds[i],
                    Status(previous),
                    Status(current),
                    uint64(block.timestamp)
                );
                changes[changeCount++] = (i << 16) | (previous << 8) | current;
            }
        }
        assembly ("memory-safe") {
            mstore(changes, changeCount) // shrink to the changes made (memory past it is simply unused)
        }
    }

    /**
     * @dev One endpoint's step: load its slot and policy, tally the round, {StatusMachine-advance}, and store the new
     * slot on UPDATE. Returns the outcome of `advance`.
     */
    function _step(
        QuorumTally.Round memory r,
        uint256 i,
        bytes32[] calldata endpointIds
    ) private returns (uint256 outcome) {
        uint256 storageSlot;
        EndpointSlot slot;
        PolicyWord policy;
        assembly ("memory-safe") {
            // endpointIds[i] (the caller keeps i < length), its `_endpoints` slot, and the policy in force: its own
            // when the slot's own-policy flag (bit 176) is set, else the default loaded with the attestor set.
            mstore(0x00, calldataload(add(endpointIds.offset, shl(5, i))))
            mstore(0x20, _endpoints.slot)
            storageSlot := keccak256(0x00, 0x40)
            slot := sload(storageSlot)
            policy := mload(add(r, 0xe0))
            if and(shr(176, slot), 1) {
                mstore(0x20, _endpointPolicies.slot)
                policy := sload(keccak256(0x00, 0x40))
            }
        }
        (uint256 values, uint256 votes) = QuorumTally.tally(r, i, policy);
        EndpointSlot next;
        (outcome, next) = StatusMachine.advance(slot, policy, votes, values, r);
        if (outcome & 0xff == StatusMachine.UPDATE) {
            assembly ("memory-safe") {
                sstore(storageSlot, next)
            }
        }
    }

    /// @dev Reverts {HealthOracleStaleObservation} for `endpointId` under its policy.
    function _revertStale(bytes32 endpointId, QuorumTally.Round memory r) private view {
        EndpointSlot slot = _endpoints[endpointId];
        revert HealthOracleStaleObservation(
            endpointId,
            uint64(r.observedAt),
            _policyOf(endpointId, slot).maxAge()
        );
    }

    // ------------------------------------------------------------------------------------------------
    // Helpers
    // ------------------------------------------------------------------------------------------------

    /**
     * @dev The member that signed both reports for `round` under the current set, its bit in the jail bitmap, the
     * digest and the config word. Reverts {HealthOracleNotEquivocation} unless one member signed two different
     * payloads: the same payload relayed twice (whatever its signature encoding) is not equivocation, and reports
     * of different rounds cannot be paired because `round` is part of both digests.
     */
    function _equivocator(
        uint64 round,
        ReportEvidence calldata a,
        ReportEvidence calldata b
    ) private view returns (address signer, uint256 bit, bytes32 digest, uint256 config) {
        config = _config;
        address[] memory members;
        (digest, , members) = AttestorSet.load(config);
        if (digest == bytes32(0)) revert HealthOracleConfigDigestMismatch(digest, digest);
        bytes32 hashA = _evidenceDigest(digest, round, a);
        bytes32 hashB = _evidenceDigest(digest, round, b);
        signer = ReportVerifier.recover(hashA, a.report.r, a.report.vs, 0);
        address other = ReportVerifier.recover(hashB, b.report.r, b.report.vs, 1);
        uint256 index = AttestorSet.indexOf(members, signer);
        if (signer != other || index == AttestorSet.NOT_FOUND || hashA == hashB) {
            revert HealthOracleNotEquivocation(signer, other);
        }
        bit = uint256(1) << index;
    }

    /// @dev The EIP-712 digest of a report given with its endpoint list and values.
    function _evidenceDigest(
        bytes32 digest,
        uint64 round,
        ReportEvidence calldata e
    ) private view returns (bytes32) {
        return
            _reportDigest(digest, round, e.report.observedAt, QuorumTally.hashIds(e.endpointIds), e.values);
    }

    /// @dev The EIP-712 digest of a report ({ReportHash-structHash} under this contract's domain).
    function _reportDigest(
        bytes32 digest,
        uint64 round,
        uint64 observedAt,
        bytes32 endpointsHash,
        bytes calldata values
    ) private view returns (bytes32) {
        return
            _hashTypedDataV4(
                ReportHash.structHash(REPORT_TYPEHASH, digest, round, observedAt, endpointsHash, values)
            );
    }

    function _policyOf(bytes32 endpointId, EndpointSlot slot) private view returns (PolicyWord) {
        return slot.hasOwnPolicy() ? _endpointPolicies[endpointId] : _defaultPolicy;
    }
}
