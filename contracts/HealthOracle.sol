// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {IHealthListener} from "./interfaces/IHealthListener.sol";
import {IHealthOracle} from "./interfaces/IHealthOracle.sol";
import {AttestorSet} from "./libraries/AttestorSet.sol";
import {BoundedCall} from "./libraries/BoundedCall.sol";
import {QuorumTally} from "./libraries/QuorumTally.sol";
import {ReportHash} from "./libraries/ReportHash.sol";
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
 * {PolicyWord} (packed storage), {BoundedCall} (listener calls). Replay protection has three layers: the EIP-712
 * domain (OpenZeppelin {EIP712}: chain id and this address, rebuilt on a chain-id change), the OCR2 `configDigest`
 * inside every signed report (a rotation kills every signature of the old set), and rounds that only move
 * forward per endpoint.
 */
contract HealthOracle is IHealthOracle, EIP712, Ownable2Step, ReentrancyGuardTransient {
    /// @dev keccak256("Report(bytes32 configDigest,uint64 round,uint64 observedAt,bytes32[] endpointIds,bytes values)")
    bytes32 public constant REPORT_TYPEHASH =
        keccak256("Report(bytes32 configDigest,uint64 round,uint64 observedAt,bytes32[] endpointIds,bytes values)");

    /// @inheritdoc IHealthOracle
    uint256 public constant MAX_LISTENERS = 4;

    uint256 private constant _MAX_ATTESTORS = 255;
    uint256 private constant _MAX_LISTENER_GAS = 2_000_000;
    /// @dev Gas spent between the `gasleft()` check and the CALL (argument encoding, a cold account, the CALL).
    uint256 private constant _LISTENER_GAS_MARGIN = 5_000;
    /// @dev Bytes of a failing listener's return data copied into {ListenerFailed}: bounds a return-data bomb.
    uint256 private constant _MAX_REASON_BYTES = 256;

    /// @dev What every report of one submission is checked against.
    struct Check {
        bytes32 digest;
        address[] members;
        uint256 jailed;
        /// EIP-712 buffer of {ReportHash}.
        uint256 hashBuffer;
        /// Bytes of values per report: 4 per endpoint.
        uint256 stride;
        uint256 latestAllowed;
        /// Members before `from` are taken (signers are strictly ascending).
        uint256 from;
    }

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
            _notifyListeners(endpointIds[change >> 16], Status(uint8(change >> 8)), Status(uint8(change)));
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
        uint256 n = attestors.length;
        // PBFT / OCR2 `checkConfigValid`: tolerate f = (n - 1) / 3 faulty signers; a quorum of 2f + 1 that is also a
        // strict majority (THREATS #8) makes any two quorums share an honest attestor.
        if (
            n == 0 ||
            n > _MAX_ATTESTORS ||
            quorum > n ||
            quorum < (2 * ((n - 1) / 3)) + 1 ||
            uint256(quorum) * 2 <= n
        ) {
            revert HealthOracleInvalidQuorum(n, quorum);
        }
        uint160 previous;
        for (uint256 i; i < n; ++i) {
            uint160 attestor = uint160(attestors[i]);
            if (attestor <= previous) revert HealthOracleAttestorsNotAscending(i, attestors[i]);
            previous = attestor;
        }
        uint32 version = AttestorSet.version(_config) + 1;
        // OCR2 configDigest: chain, contract, version and set, so no signature outlives its configuration. A new
        // version also starts with no one jailed.
        bytes32 digest = keccak256(abi.encode(block.chainid, address(this), version, attestors, quorum));
        _config = AttestorSet.store(attestors, quorum, version, digest);
        emit AttestorSetChanged(digest, version, attestors, quorum);
    }

    /// @inheritdoc IHealthOracle
    function setDefaultPolicy(Policy calldata policy) external onlyOwner {
        _defaultPolicy = PolicyWordLibrary.encode(policy);
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
    /// @dev The listener must have code, so a call to it can run its logic.
    function addStatusListener(address listener) external onlyOwner {
        uint256 count = _listeners.length;
        if (count >= MAX_LISTENERS || listener.code.length == 0) revert HealthOracleInvalidListener(listener);
        for (uint256 i; i < count; ++i) {
            if (_listeners[i] == listener) revert HealthOracleInvalidListener(listener);
        }
        _listeners.push(listener);
        emit ListenerChanged(listener, true);
    }

    /// @inheritdoc IHealthOracle
    /// @dev Keeps the order of the remaining listeners (the registry is notified before the guard).
    function removeStatusListener(address listener) external onlyOwner {
        uint256 count = _listeners.length;
        for (uint256 i; i < count; ++i) {
            if (_listeners[i] == listener) {
                for (uint256 j = i + 1; j < count; ++j) {
                    _listeners[j - 1] = _listeners[j];
                }
                _listeners.pop();
                emit ListenerChanged(listener, false);
                return;
            }
        }
        revert HealthOracleInvalidListener(listener);
    }

    // ------------------------------------------------------------------------------------------------
    // Reads
    // ------------------------------------------------------------------------------------------------

    /// @inheritdoc IHealthOracle
    function statusOf(bytes32 endpointId) external view returns (EndpointHealth memory health) {
        EndpointSlot slot = _endpoints[endpointId];
        if (slot.updatedAt() == 0) return health;
        (uint256 status, uint256 since, , uint256 updatedAt) = slot.unpack();
        (status, since) = StatusMachine.effective(
            status,
            since,
            updatedAt,
            _policyOf(endpointId, slot).heartbeat(),
            block.timestamp
        );
        health = EndpointHealth({
            status: Status(uint8(status)),
            healthBps: slot.healthBps(),
            since: uint64(since),
            round: slot.round(),
            updatedAt: slot.updatedAt(),
            floorBps: slot.floorBps(),
            ceilingBps: slot.ceilingBps()
        });
    }

    /// @inheritdoc IHealthOracle
    function policyOf(bytes32 endpointId) external view returns (Policy memory) {
        return _policyOf(endpointId, _endpoints[endpointId]).decode();
    }

    /// @inheritdoc IHealthOracle
    function configDigest() external view returns (bytes32 digest) {
        (digest, ) = AttestorSet.load(_config);
    }

    /// @inheritdoc IHealthOracle
    function attestorSet() external view returns (uint32 version, uint8 quorum, address[] memory attestors) {
        uint256 config = _config;
        (, attestors) = AttestorSet.load(config);
        return (AttestorSet.version(config), AttestorSet.quorum(config), attestors);
    }

    /// @inheritdoc IHealthOracle
    function isJailed(address attestor) external view returns (bool) {
        uint256 config = _config;
        (, address[] memory members) = AttestorSet.load(config);
        uint256 after_ = AttestorSet.next(members, 0, attestor);
        if (after_ == AttestorSet.NOT_FOUND) return false;
        return _jailed[AttestorSet.version(config)] & (uint256(1) << (after_ - 1)) != 0;
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
        uint256 config = _config;
        Check memory c;
        (c.digest, c.members) = AttestorSet.load(config);
        if (c.digest != configDigest_ || c.digest == bytes32(0)) {
            revert HealthOracleConfigDigestMismatch(c.digest, configDigest_);
        }
        uint256 count = reports.length;
        uint256 quorum = AttestorSet.quorum(config);
        if (count < quorum) revert HealthOracleInsufficientSignatures(count, quorum);
        QuorumTally.requireAscending(endpointIds);
        c.stride = endpointIds.length * 4;
        if (values.length != c.stride * count) revert HealthOracleMalformedReport(values.length, c.stride * count);
        c.jailed = AttestorSet.anyJailed(config) ? _jailed[AttestorSet.version(config)] : 0;
        c.hashBuffer = ReportHash.prepare(
            REPORT_TYPEHASH,
            c.digest,
            round,
            QuorumTally.hashIds(endpointIds),
            _domainSeparatorV4()
        );
        c.latestAllowed = block.timestamp + _maxSkew;
        r = QuorumTally.newRound(count, quorum, round);
        uint256 offset;
        assembly ("memory-safe") {
            offset := values.offset
        }
        for (uint256 j; j < count; ++j) {
            _verifyReport(c, r, j, reports[j], offset);
            offset += c.stride;
        }
        QuorumTally.finishReports(r);
    }

    /// @dev Checks report `j` (round, future time, signature, signer ascending, member, not jailed), whose values
    /// start at calldata `offset`, and records it in `r`.
    function _verifyReport(
        Check memory c,
        QuorumTally.Round memory r,
        uint256 j,
        SignedReport calldata report,
        uint256 offset
    ) private view {
        uint256 observedAt = report.observedAt;
        if (observedAt / _roundSeconds != r.round) {
            revert HealthOracleObservationOutsideRound(j, uint64(r.round), uint64(observedAt));
        }
        if (observedAt > c.latestAllowed) {
            revert HealthOracleObservationFromFuture(j, uint64(observedAt), uint64(c.latestAllowed));
        }
        (address signer, ECDSA.RecoverError err, ) = ECDSA.tryRecover(
            ReportHash.digest(c.hashBuffer, observedAt, offset, c.stride),
            report.r,
            report.vs
        );
        if (err != ECDSA.RecoverError.NoError) revert HealthOracleMalformedSignature(j);
        uint256 next = AttestorSet.next(c.members, c.from, signer);
        if (next == AttestorSet.NOT_FOUND) _revertSigner(c.members, c.from, j, signer);
        if (c.jailed & (uint256(1) << (next - 1)) != 0) revert HealthOracleJailedSigner(j, signer);
        c.from = next;
        QuorumTally.addReport(r, j, next - 1, observedAt, offset);
    }

    /// @dev Applies the round to every endpoint; returns how many took it and their status changes as
    /// `index << 16 | previous << 8 | current`.
    function _applyRound(
        QuorumTally.Round memory r,
        bytes32[] calldata endpointIds
    ) private returns (uint256 updated, uint256[] memory changes) {
        changes = new uint256[](endpointIds.length);
        uint256 changeCount;
        PolicyWord defaultPolicy = _defaultPolicy;
        for (uint256 i; i < endpointIds.length; ++i) {
            (bool took, uint256 change) = _apply(r, endpointIds[i], i, defaultPolicy);
            if (!took) continue;
            ++updated;
            if (change != 0) changes[changeCount++] = change;
        }
        assembly ("memory-safe") {
            mstore(changes, changeCount) // shrink to the changes made (memory past it is simply unused)
        }
    }

    /**
     * @dev Applies the round to one endpoint: staleness check, tally, status machine, storage, event.
     * @return took Whether the endpoint took the round (false: skipped).
     * @return change `index << 16 | previous << 8 | current` when the status changed, else 0 (index is the
     * endpoint's position; a change always has `previous != current`, so it is never 0).
     */
    function _apply(
        QuorumTally.Round memory r,
        bytes32 endpointId,
        uint256 index,
        PolicyWord defaultPolicy
    ) private returns (bool took, uint256 change) {
        EndpointSlot slot = _endpoints[endpointId];
        PolicyWord policy = slot.hasOwnPolicy() ? _endpointPolicies[endpointId] : defaultPolicy;
        (uint256 previous, uint256 current, EndpointSlot next) = _transition(r, endpointId, index, slot, policy);
        if (EndpointSlot.unwrap(next) == 0) return (false, 0);
        _endpoints[endpointId] = next;
        if (current != previous) {
            emit StatusChanged(endpointId, Status(uint8(previous)), Status(uint8(current)), uint64(block.timestamp));
            change = (index << 16) | (previous << 8) | current;
        }
        return (true, change);
    }

    /**
     * @dev The status before and after the round for endpoint `index`, and its new slot (zero: skip the endpoint).
     * Older rounds are skipped; the stored round again counts only for a transition, so an honest relayer's
     * complete round still lands after a front-runner relayed a subset of it, and repeats are no-ops. `since`
     * moves to now on a change; `updatedAt` never moves backwards. Reverts {HealthOracleStaleObservation}.
     */
    function _transition(
        QuorumTally.Round memory r,
        bytes32 endpointId,
        uint256 index,
        EndpointSlot slot,
        PolicyWord policy
    ) private view returns (uint256 previous, uint256 current, EndpointSlot next) {
        uint256 since;
        uint256 updatedAt;
        uint256 values;
        {
            uint256 storedRound;
            (previous, since, storedRound, updatedAt) = slot.unpack();
            if (updatedAt != 0 && r.round < storedRound) return (0, 0, EndpointSlot.wrap(0));
            if (r.observedAt + policy.maxAge() < block.timestamp) {
                revert HealthOracleStaleObservation(endpointId, uint64(r.observedAt), policy.maxAge());
            }
            uint256 votes;
            (values, votes) = QuorumTally.tally(r, index, policy);
            (previous, since) = StatusMachine.effective(previous, since, updatedAt, policy.heartbeat(), block.timestamp);
            current = StatusMachine.next(previous, votes, r.quorum);
            if (current == previous) {
                if (updatedAt != 0 && r.round == storedRound) return (previous, current, EndpointSlot.wrap(0));
            } else {
                since = block.timestamp;
            }
        }
        if (r.observedAt > updatedAt) updatedAt = r.observedAt;
        next = slot.record(current, since, values, r.round, updatedAt);
    }

    /**
     * @dev Tells each listener of a status change with a fixed gas budget (BoundedCall): refuses to call with less
     * than the full budget, so the 63/64 rule cannot be used to starve a listener.
     */
    function _notifyListeners(bytes32 endpointId, Status previous, Status current) private {
        uint256 count = _listeners.length;
        if (count == 0) return;
        uint256 required = BoundedCall.requiredGas(_listenerGasLimit, _LISTENER_GAS_MARGIN);
        bytes memory data = abi.encodeCall(IHealthListener.onStatusChange, (endpointId, previous, current));
        for (uint256 i; i < count; ++i) {
            address listener = _listeners[i];
            uint256 gasLeft = gasleft();
            if (gasLeft < required) revert HealthOracleInsufficientGasForListener(gasLeft, required);
            (bool ok, bytes memory reason) = BoundedCall.call(listener, data, _listenerGasLimit, _MAX_REASON_BYTES);
            if (!ok) emit ListenerFailed(listener, endpointId, reason);
        }
    }

    // ------------------------------------------------------------------------------------------------
    // Helpers
    // ------------------------------------------------------------------------------------------------

    /// @dev EIP-712 digest of a report: `keccak256(0x1901 ‖ domainSeparator ‖ keccak256(abi.encode(REPORT_TYPEHASH,
    /// configDigest, round, observedAt, keccak256(endpointIds), keccak256(values))))`, arrays hashed as EIP-712 says.
    function _reportDigest(
        bytes32 digest,
        uint64 round,
        uint64 observedAt,
        bytes32 endpointsHash,
        bytes calldata values
    ) private view returns (bytes32) {
        return
            _hashTypedDataV4(
                keccak256(abi.encode(REPORT_TYPEHASH, digest, round, observedAt, endpointsHash, keccak256(values)))
            );
    }

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
        (digest, members) = AttestorSet.load(config);
        if (digest == bytes32(0)) revert HealthOracleConfigDigestMismatch(digest, digest);
        bytes32 hashA = _evidenceDigest(digest, round, a);
        bytes32 hashB = _evidenceDigest(digest, round, b);
        signer = _recover(hashA, a.report, 0);
        address other = _recover(hashB, b.report, 1);
        uint256 next = AttestorSet.next(members, 0, signer);
        if (signer != other || next == AttestorSet.NOT_FOUND || hashA == hashB) {
            revert HealthOracleNotEquivocation(signer, other);
        }
        bit = uint256(1) << (next - 1);
    }

    /// @dev {_reportDigest} of a report given with its endpoint list and values.
    function _evidenceDigest(bytes32 digest, uint64 round, ReportEvidence calldata e) private view returns (bytes32) {
        return _reportDigest(digest, round, e.report.observedAt, QuorumTally.hashIds(e.endpointIds), e.values);
    }

    /// @dev OpenZeppelin ECDSA over the EIP-2098 form: rejects high s and a zero signer (no malleable twin of a
    /// signature is ever accepted). Reverts {HealthOracleMalformedSignature} with the report's position.
    function _recover(bytes32 hash, SignedReport calldata report, uint256 position) private pure returns (address) {
        (address signer, ECDSA.RecoverError err, ) = ECDSA.tryRecover(hash, report.r, report.vs);
        if (err != ECDSA.RecoverError.NoError) revert HealthOracleMalformedSignature(position);
        return signer;
    }

    /// @dev Why `signer` at `position` is not among `members[from:]`: the previous signer again, a lower address
    /// than it, or not a member at all.
    function _revertSigner(address[] memory members, uint256 from, uint256 position, address signer) private pure {
        address previous = from == 0 ? address(0) : members[from - 1];
        if (signer == previous) revert HealthOracleDuplicateSigner(position, signer);
        if (signer < previous) revert HealthOracleSignersNotAscending(position, signer);
        revert HealthOracleUnknownSigner(position, signer);
    }

    function _policyOf(bytes32 endpointId, EndpointSlot slot) private view returns (PolicyWord) {
        return slot.hasOwnPolicy() ? _endpointPolicies[endpointId] : _defaultPolicy;
    }
}
