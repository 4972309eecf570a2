// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {Errors} from "@openzeppelin/contracts/utils/Errors.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {IHealthListener} from "./interfaces/IHealthListener.sol";
import {IHealthOracle} from "./interfaces/IHealthOracle.sol";

/**
 * @title HealthOracle
 * @notice Quorum-attested endpoint health with hysteresis and a dead-man's switch. See {IHealthOracle}.
 *
 * @dev Design notes, with sources:
 * - Replay protection has three layers. The EIP-712 domain (OpenZeppelin {EIP712}: name, version, chainId,
 *   verifyingContract, rebuilt if the chain id changes, never cached in storage) stops cross-chain and
 *   cross-contract replay. The `configDigest` inside every signed observation is Chainlink OCR2's idea
 *   (`OCR2Abstract.configDigestFromConfigData`): it hashes chain id, this address, a version and the set, so a
 *   rotation kills every signature made for the old set. Rounds strictly increase per endpoint.
 * - Hot-path gas: the attestor set is stored SSTORE2-style (Solady `SSTORE2`) as the runtime code of a data
 *   contract, `0x00 ‖ configDigest ‖ abi.encodePacked(attestors)` (leading STOP so it can never be called,
 *   addresses padded to words as `abi.encodePacked` does for arrays). One EXTCODECOPY loads digest and set;
 *   its address shares one slot with quorum, count and version. Endpoint state is packed into one slot and
 *   the default policy into another, so a warm update costs one SLOAD/SSTORE pair plus one policy SLOAD.
 * - Status: hysteresis as HAProxy `rise`/`fall` (server `check` options); staleness as the Chainlink
 *   heartbeat (`updatedAt` + heartbeat), reading UNKNOWN from the moment it lapses; `since` as `startedAt` of
 *   Chainlink's L2 sequencer uptime feed, so grace periods downstream count from when a status began (Aave
 *   `PriceOracleSentinel`, aave-v3-core issue #926).
 * - Batch errors: validation helpers return an ABI-encoded custom error instead of reverting. {submit}
 *   re-raises it verbatim, {submitBatch} wraps it in {HealthOracleBatchEntryFailed}. That was preferred over
 *   a self-delegatecall per entry, which would re-encode every report, reload the attestor set per entry
 *   and need an extra external entry point that must be guarded against direct calls.
 */
contract HealthOracle is IHealthOracle, EIP712, Ownable2Step, ReentrancyGuardTransient {
    /// @dev keccak256("Observation(bytes32 configDigest,bytes32 endpointId,uint64 round,uint16 healthBps,uint64 observedAt)")
    bytes32 public constant OBSERVATION_TYPEHASH = keccak256(
        "Observation(bytes32 configDigest,bytes32 endpointId,uint64 round,uint16 healthBps,uint64 observedAt)"
    );

    /// @inheritdoc IHealthOracle
    uint256 public constant MAX_LISTENERS = 4;

    uint256 private constant _MAX_ATTESTORS = 255;
    uint256 private constant _MAX_BPS = 10_000;
    uint256 private constant _MAX_LISTENER_GAS = 2_000_000;
    /// @dev Gas spent between the `gasleft()` check and the CALL (argument encoding, EXTCODESIZE of a cold
    /// account, the CALL's own access cost), on top of `listenerGasLimit * 64 / 63`.
    uint256 private constant _LISTENER_GAS_MARGIN = 5_000;
    /// @dev Bytes of a failing listener's return data copied into {ListenerFailed}: bounds a return-data bomb.
    uint256 private constant _MAX_REASON_BYTES = 256;
    uint256 private constant _NOT_FOUND = type(uint256).max;

    // `_config`: data contract address (bits 0..159) | quorum (160..167) | attestor count (168..175) | version.
    uint256 private constant _QUORUM_SHIFT = 160;
    uint256 private constant _COUNT_SHIFT = 168;
    uint256 private constant _VERSION_SHIFT = 176;

    // Endpoint slot: status (bits 0..7) | healthBps (8..23) | since (24..63) | round (64..103) |
    // updatedAt (104..143) | goodStreak (144..151) | badStreak (152..159) | own-policy flag (160).
    // Times are Unix seconds in uint40 (good until the year 36812); rounds fit as well (see the constructor).
    uint256 private constant _HEALTH_SHIFT = 8;
    uint256 private constant _SINCE_SHIFT = 24;
    uint256 private constant _ROUND_SHIFT = 64;
    uint256 private constant _UPDATED_SHIFT = 104;
    uint256 private constant _GOOD_SHIFT = 144;
    uint256 private constant _BAD_SHIFT = 152;
    uint256 private constant _OWN_POLICY_FLAG = 1 << 160;
    uint256 private constant _STREAKS_MASK = 0xffff << _GOOD_SHIFT;
    uint256 private constant _UNKNOWN = uint256(uint8(Status.UNKNOWN));
    uint256 private constant _HEALTHY = uint256(uint8(Status.HEALTHY));
    uint256 private constant _DEGRADED = uint256(uint8(Status.DEGRADED));
    uint256 private constant _DOWN = uint256(uint8(Status.DOWN));

    // Policy word: downBelowBps (bits 0..15) | upAtBps (16..31) | fallRounds (32..39) | riseRounds (40..47) |
    // heartbeat (48..79) | maxAge (80..111).
    uint256 private constant _UP_SHIFT = 16;
    uint256 private constant _FALL_SHIFT = 32;
    uint256 private constant _RISE_SHIFT = 40;
    uint256 private constant _HEARTBEAT_SHIFT = 48;
    uint256 private constant _MAX_AGE_SHIFT = 80;

    /// @dev What every observation of one round is checked against. `hashBuffer` holds the constant part of the
    /// struct hash preimage (typehash, configDigest, endpointId, round) and, 6 words on, `0x1901 ‖ separator`.
    struct Context {
        address[] members;
        uint256 quorum;
        uint256 hashBuffer;
        bytes32 endpointId;
        uint256 round;
        uint256 maxAge;
        uint256 earliest;
        uint256 latest;
    }

    uint64 private immutable _roundSeconds;
    uint64 private immutable _maxSkew;
    uint256 private immutable _listenerGasLimit;
    uint256 private immutable _listenerGasRequired;

    uint256 private _config;
    uint256 private _defaultPolicy;
    mapping(bytes32 endpointId => uint256 packed) private _endpoints;
    mapping(bytes32 endpointId => uint256 policy) private _endpointPolicies;
    address[] private _listeners;

    /**
     * @param initialOwner Configuration owner (a timelock in production).
     * @param roundSeconds_ Seconds per round, 1..2^32-1.
     * @param maxSkew_ Seconds an observation may lie in the future, at most 2^32-1.
     * @param listenerGasLimit_ Gas given to each listener call, 1..2_000_000.
     * @param defaultPolicy_ Policy of every endpoint without its own.
     */
    constructor(
        address initialOwner,
        uint64 roundSeconds_,
        uint64 maxSkew_,
        uint256 listenerGasLimit_,
        Policy memory defaultPolicy_
    ) EIP712("Vigil HealthOracle", "1") Ownable(initialOwner) {
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
        _listenerGasRequired = (listenerGasLimit_ * 64) / 63 + _LISTENER_GAS_MARGIN;
        _defaultPolicy = _encodePolicy(defaultPolicy_);
        emit DefaultPolicyChanged(defaultPolicy_);
    }

    // ------------------------------------------------------------------------------------------------
    // Writes
    // ------------------------------------------------------------------------------------------------

    /// @inheritdoc IHealthOracle
    function submit(
        bytes32 configDigest_,
        bytes32 endpointId,
        uint64 round,
        SignedObservation[] calldata observations
    ) external nonReentrant {
        Context memory ctx = _loadContext(configDigest_);
        bytes memory err = _submitOne(ctx, endpointId, round, observations);
        if (err.length != 0) _revertWith(err);
    }

    /// @inheritdoc IHealthOracle
    function submitBatch(bytes32 configDigest_, Report[] calldata reports) external nonReentrant {
        Context memory ctx = _loadContext(configDigest_);
        uint256 freeMemory = _freeMemoryPointer();
        for (uint256 i; i < reports.length; ++i) {
            Report calldata report = reports[i];
            bytes memory err = _submitOne(ctx, report.endpointId, report.round, report.observations);
            if (err.length != 0) revert HealthOracleBatchEntryFailed(i, report.endpointId, err);
            // Nothing allocated for an accepted entry is used again: reuse the memory for the next one.
            _setFreeMemoryPointer(freeMemory);
        }
    }

    /// @inheritdoc IHealthOracle
    function setAttestors(address[] calldata attestors, uint8 quorum) external onlyOwner {
        uint256 n = attestors.length;
        // PBFT / OCR2 `checkConfigValid`: tolerate f = (n - 1) / 3 faulty signers, so n >= 3f + 1 by
        // construction; a quorum of 2f + 1 guarantees an honest majority among any quorum. It must also be a
        // strict majority of the set (THREATS #8: quorum >= n / 2 + 1), so two disjoint quorums cannot both sign
        // (1 of 2, 1 of 3 and 3 of 6 satisfy 2f + 1 but not this).
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
        uint32 version = uint32(_config >> _VERSION_SHIFT) + 1;
        // OCR2 configDigest: chain, contract, version and set, so no signature outlives its configuration.
        bytes32 digest = keccak256(abi.encode(block.chainid, address(this), version, attestors, quorum));
        address pointer = _deployData(abi.encodePacked(hex"00", digest, attestors));
        _config =
            uint256(uint160(pointer)) |
            (uint256(quorum) << _QUORUM_SHIFT) |
            (n << _COUNT_SHIFT) |
            (uint256(version) << _VERSION_SHIFT);
        emit AttestorSetChanged(digest, version, attestors, quorum);
    }

    /// @inheritdoc IHealthOracle
    function setDefaultPolicy(Policy calldata policy) external onlyOwner {
        _defaultPolicy = _encodePolicy(policy);
        emit DefaultPolicyChanged(policy);
    }

    /// @inheritdoc IHealthOracle
    function setEndpointPolicy(bytes32 endpointId, Policy calldata policy) external onlyOwner {
        _endpointPolicies[endpointId] = _encodePolicy(policy);
        _endpoints[endpointId] |= _OWN_POLICY_FLAG;
        emit EndpointPolicyChanged(endpointId, policy, false);
    }

    /// @inheritdoc IHealthOracle
    function clearEndpointPolicy(bytes32 endpointId) external onlyOwner {
        delete _endpointPolicies[endpointId];
        _endpoints[endpointId] &= ~_OWN_POLICY_FLAG;
        emit EndpointPolicyChanged(endpointId, _decodePolicy(_defaultPolicy), true);
    }

    /// @inheritdoc IHealthOracle
    /// @dev The listener must have code: a call to an address without code would revert outside try/catch.
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
        uint256 packed = _endpoints[endpointId];
        uint256 updatedAt = uint40(packed >> _UPDATED_SHIFT);
        if (updatedAt == 0) return health;
        health = EndpointHealth({
            status: Status(uint8(packed)),
            healthBps: uint16(packed >> _HEALTH_SHIFT),
            since: uint40(packed >> _SINCE_SHIFT),
            round: uint40(packed >> _ROUND_SHIFT),
            updatedAt: uint64(updatedAt)
        });
        // Chainlink heartbeat: no accepted round within the heartbeat reads UNKNOWN from the moment it lapsed,
        // unless the stored status is UNKNOWN already: then it began earlier and `since` stays.
        uint256 staleAt = updatedAt + uint32(_policyWord(endpointId, packed) >> _HEARTBEAT_SHIFT);
        if (block.timestamp >= staleAt && health.status != Status.UNKNOWN) {
            health.status = Status.UNKNOWN;
            health.since = uint64(staleAt);
        }
    }

    /// @inheritdoc IHealthOracle
    function policyOf(bytes32 endpointId) external view returns (Policy memory) {
        return _decodePolicy(_policyWord(endpointId, _endpoints[endpointId]));
    }

    /// @inheritdoc IHealthOracle
    function configDigest() external view returns (bytes32 digest) {
        (digest, ) = _readSet(_config);
    }

    /// @inheritdoc IHealthOracle
    function attestorSet() external view returns (uint32 version, uint8 quorum, address[] memory attestors) {
        uint256 config = _config;
        version = uint32(config >> _VERSION_SHIFT);
        quorum = uint8(config >> _QUORUM_SHIFT);
        (, attestors) = _readSet(config);
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
    function observationDigest(
        bytes32 configDigest_,
        bytes32 endpointId,
        uint64 round,
        uint16 healthBps,
        uint64 observedAt
    ) external view returns (bytes32) {
        return
            _hashTypedDataV4(
                keccak256(
                    abi.encode(OBSERVATION_TYPEHASH, configDigest_, endpointId, round, healthBps, observedAt)
                )
            );
    }

    // ------------------------------------------------------------------------------------------------
    // Submission
    // ------------------------------------------------------------------------------------------------

    /// @dev Loads the attestor set with one EXTCODECOPY, checks the digest the relayer claims and prepares the
    /// hashing buffers shared by every observation of the transaction.
    function _loadContext(bytes32 configDigest_) private view returns (Context memory ctx) {
        uint256 config = _config;
        address pointer = address(uint160(config));
        uint256 count = uint8(config >> _COUNT_SHIFT);
        bytes32 digest;
        address[] memory members;
        assembly ("memory-safe") {
            // As {_readSet}: one EXTCODECOPY brings the digest and the member list (an empty account copies zeros).
            members := mload(0x40)
            let size := shl(5, add(count, 1))
            extcodecopy(pointer, members, 1, size)
            digest := mload(members)
            mstore(members, count)
            mstore(0x40, add(members, size))
        }
        if (digest != configDigest_ || digest == bytes32(0)) {
            revert HealthOracleConfigDigestMismatch(digest, configDigest_);
        }
        ctx.members = members;
        ctx.quorum = uint8(config >> _QUORUM_SHIFT);
        // EIP-712: structHash = keccak256(typeHash ‖ configDigest ‖ endpointId ‖ round ‖ healthBps ‖ observedAt),
        // digest = keccak256(0x1901 ‖ domainSeparator ‖ structHash), as OpenZeppelin `MessageHashUtils`
        // computes it; the constant parts are written once here instead of once per signature.
        uint256 buffer;
        bytes32 typeHash = OBSERVATION_TYPEHASH;
        bytes32 separator = _domainSeparatorV4();
        assembly ("memory-safe") {
            buffer := mload(0x40)
            mstore(0x40, add(buffer, 0x120)) // 9 words
            mstore(buffer, typeHash)
            mstore(add(buffer, 0x20), digest)
            mstore(add(buffer, 0xc0), hex"1901")
            mstore(add(buffer, 0xc2), separator)
        }
        ctx.hashBuffer = buffer;
    }

    /**
     * @dev Validates and records one endpoint round. Returns the ABI-encoded custom error instead of
     * reverting, so {submitBatch} can name the failing entry; an empty result means the round was accepted.
     */
    function _submitOne(
        Context memory ctx,
        bytes32 endpointId,
        uint64 round,
        SignedObservation[] calldata observations
    ) private returns (bytes memory err) {
        if (observations.length < ctx.quorum) {
            return
                abi.encodeWithSelector(
                    HealthOracleInsufficientSignatures.selector,
                    observations.length,
                    ctx.quorum
                );
        }
        uint256 packed = _endpoints[endpointId];
        uint256 policy = packed & _OWN_POLICY_FLAG == 0 ? _defaultPolicy : _endpointPolicies[endpointId];
        _prepareRound(ctx, endpointId, round, uint32(policy >> _MAX_AGE_SHIFT));
        uint256 median;
        (median, err) = _verifyObservations(ctx, observations);
        if (err.length != 0) return err;
        uint256 lastRound = uint40(packed >> _ROUND_SHIFT);
        if (round <= lastRound) {
            return abi.encodeWithSelector(HealthOracleRoundNotNewer.selector, endpointId, round, lastRound);
        }
        // Hysteresis counts consecutive rounds only (THREATS #14): after a skipped round, never relayed or left
        // out of a batch on purpose, both streaks start again, so BAD rounds r and r + 2 are not two in a row.
        unchecked {
            if (round != lastRound + 1) packed &= ~_STREAKS_MASK; // lastRound < 2^40: no overflow
        }
        _record(endpointId, packed, policy, round, median, observations.length);
    }

    /// @dev Fills the per-round part of `ctx`: the accepted time window and the struct-hash preimage.
    function _prepareRound(
        Context memory ctx,
        bytes32 endpointId,
        uint64 round,
        uint256 maxAge
    ) private view {
        ctx.endpointId = endpointId;
        ctx.round = round;
        ctx.maxAge = maxAge;
        uint256 buffer = ctx.hashBuffer;
        uint256 secondsPerRound = _roundSeconds;
        uint256 skew = _maxSkew;
        uint256 earliest;
        uint256 latest;
        assembly ("memory-safe") {
            mstore(add(buffer, 0x40), endpointId)
            mstore(add(buffer, 0x60), round)
            // The round's time slot `[round * roundSeconds, (round + 1) * roundSeconds)` (round < 2^64 and
            // roundSeconds < 2^32: no overflow), clipped to `[now - maxAge, now + maxSkew]` (see _timeWindow).
            earliest := mul(round, secondsPerRound)
            latest := sub(add(earliest, secondsPerRound), 1)
            if gt(timestamp(), maxAge) {
                let oldestAllowed := sub(timestamp(), maxAge)
                if lt(earliest, oldestAllowed) {
                    earliest := oldestAllowed
                }
            }
            let latestAllowed := add(timestamp(), skew)
            if gt(latest, latestAllowed) {
                latest := latestAllowed
            }
        }
        ctx.earliest = earliest;
        ctx.latest = latest;
    }

    /// @dev Accepted observation times regardless of round: `[now - maxAge, now + maxSkew]` (floored at zero).
    function _timeWindow(uint256 maxAge) private view returns (uint256 oldestAllowed, uint256 latestAllowed) {
        unchecked {
            oldestAllowed = block.timestamp > maxAge ? block.timestamp - maxAge : 0;
            latestAllowed = block.timestamp + _maxSkew; // maxSkew < 2^32
        }
    }

    /**
     * @dev Checks every observation (range, skew, age, round, signature, signer ascending and in the set) and
     * returns the lower median of their values (never an average of two: a single liar cannot move it).
     *
     * This loop is the gas budget (<= 6,500 gas per signer, of which ~1,900 is calldata and 3,000 the
     * ECRECOVER precompile), so observations are read from calldata with CALLDATALOAD instead of the ABI
     * decoder's per-field validation. Out-of-range words are still caught: `healthBps` and `observedAt` are read
     * as full words and bounded below, and a bogus signature offset or length yields a malformed signature.
     * The search fast path and the insertion step stay inline for the same reason, hence the length.
     */
    // solhint-disable-next-line function-max-lines
    function _verifyObservations(
        Context memory ctx,
        SignedObservation[] calldata observations
    ) private view returns (uint256 median, bytes memory err) {
        uint256 sorted; // insertion-sorted values, one word each
        assembly ("memory-safe") {
            sorted := mload(0x40)
            mstore(0x40, add(sorted, shl(5, observations.length)))
        }
        // Members before `from` are taken: the previous signer is `members[from - 1]` and, both lists being
        // sorted, the next signer can only be found after it (Safe GS026 / OCR2: strictly ascending signers).
        uint256 from;
        address[] memory members = ctx.members;
        for (uint256 i; i < observations.length;) {
            (address signer, uint256 healthBps, bool valid) = _readObservation(ctx, observations, i);
            if (!valid) return (0, _observationError(ctx, observations, i));
            if (signer == address(0)) {
                return (0, abi.encodeWithSelector(HealthOracleMalformedSignature.selector, i));
            }
            uint256 next = _NOT_FOUND;
            assembly ("memory-safe") {
                // Fast path: the next member in order, as when the whole set signs.
                if lt(from, mload(members)) {
                    if eq(mload(add(members, shl(5, add(from, 1)))), signer) {
                        next := add(from, 1)
                    }
                }
            }
            if (next == _NOT_FOUND) {
                next = _search(members, from, signer);
                if (next == _NOT_FOUND) return (0, _signerError(members, from, i, signer));
            }
            from = next;
            assembly ("memory-safe") {
                // Insertion sort step: words `sorted[0:i]` are ascending; insert `healthBps` keeping them so
                // (quadratic in the worst case, which at the 255-signer maximum stays far below a block).
                let j := i
                for {} j {} {
                    let at := add(sorted, shl(5, sub(j, 1)))
                    let before := mload(at)
                    if iszero(gt(before, healthBps)) {
                        break
                    }
                    mstore(add(at, 0x20), before)
                    j := sub(j, 1)
                }
                mstore(add(sorted, shl(5, j)), healthBps)
                i := add(i, 1)
            }
        }
        assembly ("memory-safe") {
            median := mload(add(sorted, shl(5, shr(1, sub(observations.length, 1)))))
        }
    }

    /**
     * @dev Stores an accepted round, runs the status machine and notifies listeners of a change; events follow
     * the state change, listeners come last (checks-effects-interactions).
     */
    function _record(
        bytes32 endpointId,
        uint256 packed,
        uint256 policy,
        uint256 round,
        uint256 median,
        uint256 signers
    ) private {
        (uint256 previous, uint256 current, uint256 next) = _nextStatus(packed, policy, median);
        _endpoints[endpointId] =
            next |
            (median << _HEALTH_SHIFT) |
            (round << _ROUND_SHIFT) |
            (block.timestamp << _UPDATED_SHIFT);
        emit RoundAccepted(endpointId, uint64(round), uint16(median), uint8(signers));
        if (current != previous) {
            emit StatusChanged(endpointId, Status(previous), Status(current), uint64(block.timestamp));
            _notifyListeners(endpointId, Status(previous), Status(current));
        }
    }

    /**
     * @dev The status machine, as HAProxy `rise`/`fall`. A round is GOOD (median >= upAtBps), BAD
     * (< downBelowBps) or MID. `fallRounds` consecutive BAD rounds make DOWN, `riseRounds` consecutive GOOD rounds
     * make HEALTHY, a MID round resets both streaks (so does a skipped round: {_submitOne} clears the streaks of
     * `packed` unless the round is the one right after the stored one); a HEALTHY endpoint whose round is not GOOD, or an UNKNOWN
     * one whose round is not BAD, reads DEGRADED (a BAD round leaves UNKNOWN as it is: bad evidence never reads
     * better than silence); anything else keeps its status, so DOWN stays DOWN until `riseRounds` GOOD rounds.
     * After silence past the heartbeat (Chainlink) the endpoint reads UNKNOWN and starts from scratch; `since`
     * of UNKNOWN is the first lapse and does not move while the endpoint stays UNKNOWN.
     * @return previous Status code in effect before this round (UNKNOWN if stale).
     * @return current Status code after this round.
     * @return next The new status, `since` (block time on a change), streaks and own-policy flag, in place in
     * the endpoint slot; the caller adds health, round and update time.
     */
    function _nextStatus(
        uint256 packed,
        uint256 policy,
        uint256 median
    ) private view returns (uint256 previous, uint256 current, uint256 next) {
        // Statuses are handled as their uint8 codes here: this runs on every accepted round.
        unchecked {
            previous = uint8(packed);
            uint256 goodStreak = uint8(packed >> _GOOD_SHIFT);
            uint256 badStreak = uint8(packed >> _BAD_SHIFT);
            uint256 updatedAt = uint40(packed >> _UPDATED_SHIFT);
            uint256 since = uint40(packed >> _SINCE_SHIFT);
            // A never-updated slot is not stale, just unknown. (Both terms < 2^41: no overflow.)
            if (updatedAt != 0 && block.timestamp >= updatedAt + uint32(policy >> _HEARTBEAT_SHIFT)) {
                // UNKNOWN began when the heartbeat lapsed, as `statusOf` reports it; if the stored status is
                // UNKNOWN already (BAD rounds after an earlier lapse), it began then and `since` stays.
                if (previous != _UNKNOWN) since = updatedAt + uint32(policy >> _HEARTBEAT_SHIFT);
                previous = _UNKNOWN;
                goodStreak = 0;
                badStreak = 0;
            }
            bool good = median >= uint16(policy >> _UP_SHIFT);
            bool bad = median < uint16(policy);
            // Streaks saturate at 255, enough for any `riseRounds` / `fallRounds`.
            goodStreak = good ? (goodStreak == type(uint8).max ? goodStreak : goodStreak + 1) : 0;
            badStreak = bad ? (badStreak == type(uint8).max ? badStreak : badStreak + 1) : 0;

            current = previous;
            if (badStreak >= uint8(policy >> _FALL_SHIFT)) {
                current = _DOWN;
            } else if (goodStreak >= uint8(policy >> _RISE_SHIFT)) {
                current = _HEALTHY;
            } else if ((previous == _HEALTHY && !good) || (previous == _UNKNOWN && !bad)) {
                // Only a round that is not BAD lifts UNKNOWN: bad evidence never reads better than silence.
                current = _DEGRADED;
            }
            next =
                (packed & _OWN_POLICY_FLAG) |
                current |
                (goodStreak << _GOOD_SHIFT) |
                (badStreak << _BAD_SHIFT);
            // `since` restarts on every change; a BAD round after silence stays UNKNOWN since the lapse.
            next |= (current != previous ? block.timestamp : since) << _SINCE_SHIFT;
        }
    }

    /**
     * @dev Tells each listener of a status change with a fixed gas budget, isolated with try/catch. Refuses to
     * call with less than the full budget (the 63/64 rule would otherwise let a caller starve a listener by
     * choosing the transaction gas). Copies at most `_MAX_REASON_BYTES` of a failure's return data.
     */
    function _notifyListeners(bytes32 endpointId, Status previous, Status current) private {
        uint256 count = _listeners.length;
        for (uint256 i; i < count; ++i) {
            address listener = _listeners[i];
            uint256 gasLeft = gasleft();
            if (gasLeft < _listenerGasRequired) {
                revert HealthOracleInsufficientGasForListener(gasLeft, _listenerGasRequired);
            }
            try
                IHealthListener(listener).onStatusChange{gas: _listenerGasLimit}(
                    endpointId,
                    previous,
                    current
                )
            {
                // Notified.
            } catch {
                emit ListenerFailed(listener, endpointId, _returnDataPrefix());
            }
        }
    }

    // ------------------------------------------------------------------------------------------------
    // Errors of the validation path
    // ------------------------------------------------------------------------------------------------

    /// @dev The custom error for observation `position`, which failed a value or time check (in the order checked).
    function _observationError(
        Context memory ctx,
        SignedObservation[] calldata observations,
        uint256 position
    ) private view returns (bytes memory) {
        (uint256 healthBps, uint256 observedAt, ) = _observationAt(observations, position);
        (uint256 oldestAllowed, uint256 latestAllowed) = _timeWindow(ctx.maxAge);
        if (healthBps > _MAX_BPS) {
            return
                abi.encodeWithSelector(HealthOracleHealthOutOfRange.selector, position, _toUint16(healthBps));
        }
        if (observedAt > latestAllowed) {
            return
                abi.encodeWithSelector(
                    HealthOracleObservationFromFuture.selector,
                    ctx.endpointId,
                    _toUint64(observedAt),
                    latestAllowed
                );
        }
        if (observedAt < oldestAllowed) {
            return
                abi.encodeWithSelector(
                    HealthOracleStaleObservation.selector,
                    ctx.endpointId,
                    observedAt,
                    ctx.maxAge
                );
        }
        return
            abi.encodeWithSelector(
                HealthOracleObservationOutsideRound.selector,
                ctx.endpointId,
                ctx.round,
                observedAt
            );
    }

    /// @dev Why `signer` at `position` is not among `members[from:]`: the previous signer again, a lower
    /// address than it, or not a member at all.
    function _signerError(
        address[] memory members,
        uint256 from,
        uint256 position,
        address signer
    ) private pure returns (bytes memory) {
        address previous = from == 0 ? address(0) : members[from - 1];
        if (signer == previous) {
            return abi.encodeWithSelector(HealthOracleDuplicateSigner.selector, position, signer);
        }
        if (signer < previous) {
            return abi.encodeWithSelector(HealthOracleSignersNotAscending.selector, position, signer);
        }
        return abi.encodeWithSelector(HealthOracleUnknownSigner.selector, position, signer);
    }

    // ------------------------------------------------------------------------------------------------
    // Helpers
    // ------------------------------------------------------------------------------------------------

    /// @dev Fields of `observations[i]`, read straight from calldata (the ABI offsets are relative to the array
    /// data and to the struct, as the ABI specifies). `healthBps` and `observedAt` are full, unchecked words.
    function _observationAt(
        SignedObservation[] calldata observations,
        uint256 i
    ) private pure returns (uint256 healthBps, uint256 observedAt, bytes calldata signature) {
        assembly ("memory-safe") {
            let o := add(observations.offset, calldataload(add(observations.offset, shl(5, i))))
            healthBps := calldataload(o)
            observedAt := calldataload(add(o, 0x20))
            let sig := add(o, calldataload(add(o, 0x40)))
            signature.length := calldataload(sig)
            signature.offset := add(sig, 0x20)
        }
    }

    /**
     * @dev Reads observation `i`, applies the value and time checks (health <= 10_000 bps, not beyond
     * `now + maxSkew`, not older than `maxAge`, inside the round) and recovers the attestor from its signature
     * over the EIP-712 digest, completing the buffer {_loadContext} and {_submitOne} filled.
     * @return signer The attestor, or zero for a malformed signature.
     * @return healthBps The observed health.
     * @return valid False when a value or time check failed (then `signer` is zero).
     */
    function _readObservation(
        Context memory ctx,
        SignedObservation[] calldata observations,
        uint256 i
    ) private pure returns (address signer, uint256 healthBps, bool valid) {
        uint256 earliest = ctx.earliest;
        uint256 latest = ctx.latest;
        uint256 buffer = ctx.hashBuffer;
        bytes calldata signature;
        bytes32 digest;
        assembly ("memory-safe") {
            // ABI offsets are relative to the array data and to the struct. `healthBps` and `observedAt` are
            // read as full words, so dirty high bits fail the bounds below instead of being masked away.
            let o := add(observations.offset, calldataload(add(observations.offset, shl(5, i))))
            healthBps := calldataload(o)
            let observedAt := calldataload(add(o, 0x20))
            let sig := add(o, calldataload(add(o, 0x40)))
            signature.length := calldataload(sig)
            signature.offset := add(sig, 0x20)
            // `[earliest, latest]` is the round's time slot clipped to `[now - maxAge, now + maxSkew]`.
            valid := iszero(or(gt(healthBps, _MAX_BPS), or(lt(observedAt, earliest), gt(observedAt, latest))))
            mstore(add(buffer, 0x80), healthBps)
            mstore(add(buffer, 0xa0), observedAt)
            mstore(add(buffer, 0xe2), keccak256(buffer, 0xc0))
            digest := keccak256(add(buffer, 0xc0), 0x42)
        }
        if (!valid) return (address(0), healthBps, false);
        // OpenZeppelin ECDSA: `parseCalldata` splits 65-byte (r, s, v) and 64-byte EIP-2098 (r, vs) signatures
        // (any other length parses as zeros, which never recover); `tryRecover` rejects high s, v not in
        // {27, 28} and a zero signer: the checks of `tryRecoverCalldata` and `tryRecover(hash, r, vs)` without
        // a second length dispatch on the hot path.
        (uint8 v, bytes32 r, bytes32 s) = ECDSA.parseCalldata(signature);
        // On any error `tryRecover` returns the zero address, which the caller reports as malformed.
        (signer, , ) = ECDSA.tryRecover(digest, v, r, s);
    }

    /// @dev Binary search for `signer` in the ascending `members[from:]`: the index after it, or `_NOT_FOUND`.
    function _search(
        address[] memory members,
        uint256 from,
        address signer
    ) private pure returns (uint256 next) {
        assembly ("memory-safe") {
            next := not(0) // _NOT_FOUND
            let data := add(members, 0x20)
            let low := from
            let high := mload(members)
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

    /// @dev Reads `configDigest ‖ attestors` from the data contract into a fresh `address[]`.
    function _readSet(uint256 config) private view returns (bytes32 digest, address[] memory members) {
        address pointer = address(uint160(config));
        if (pointer == address(0)) return (bytes32(0), members);
        uint256 count = uint8(config >> _COUNT_SHIFT);
        assembly ("memory-safe") {
            members := mload(0x40)
            let size := shl(5, add(count, 1))
            // Skip the STOP byte; the digest lands where the array length goes, then is replaced by it.
            extcodecopy(pointer, members, 1, size)
            digest := mload(members)
            mstore(members, count)
            mstore(0x40, add(members, size))
        }
    }

    /// @dev Deploys `runtime` as the code of a new contract (SSTORE2) and returns its address.
    function _deployData(bytes memory runtime) private returns (address pointer) {
        // Init code: PUSH2 len, DUP1, PUSH1 0x0a, RETURNDATASIZE, CODECOPY, RETURNDATASIZE, RETURN, then runtime.
        bytes memory initCode = abi.encodePacked(
            hex"61",
            uint16(runtime.length),
            hex"80600a3d393df3",
            runtime
        );
        assembly ("memory-safe") {
            pointer := create(0, add(initCode, 0x20), mload(initCode))
        }
        if (pointer == address(0)) revert Errors.FailedDeployment();
    }

    /// @dev The packed policy in force for an endpoint whose slot is `packed`.
    function _policyWord(bytes32 endpointId, uint256 packed) private view returns (uint256) {
        return packed & _OWN_POLICY_FLAG != 0 ? _endpointPolicies[endpointId] : _defaultPolicy;
    }

    /// @dev Validates and packs a policy; reverts {HealthOracleInvalidPolicy}.
    function _encodePolicy(Policy memory policy) private pure returns (uint256) {
        if (
            policy.downBelowBps == 0 ||
            policy.upAtBps <= policy.downBelowBps ||
            policy.upAtBps > _MAX_BPS ||
            policy.fallRounds == 0 ||
            policy.riseRounds == 0 ||
            policy.heartbeat == 0 ||
            policy.maxAge == 0
        ) {
            revert HealthOracleInvalidPolicy(policy);
        }
        return
            uint256(policy.downBelowBps) |
            (uint256(policy.upAtBps) << _UP_SHIFT) |
            (uint256(policy.fallRounds) << _FALL_SHIFT) |
            (uint256(policy.riseRounds) << _RISE_SHIFT) |
            (uint256(policy.heartbeat) << _HEARTBEAT_SHIFT) |
            (uint256(policy.maxAge) << _MAX_AGE_SHIFT);
    }

    function _decodePolicy(uint256 word) private pure returns (Policy memory) {
        return
            Policy({
                downBelowBps: uint16(word),
                upAtBps: uint16(word >> _UP_SHIFT),
                fallRounds: uint8(word >> _FALL_SHIFT),
                riseRounds: uint8(word >> _RISE_SHIFT),
                heartbeat: uint32(word >> _HEARTBEAT_SHIFT),
                maxAge: uint32(word >> _MAX_AGE_SHIFT)
            });
    }

    function _toUint16(uint256 value) private pure returns (uint16) {
        return value > type(uint16).max ? type(uint16).max : uint16(value);
    }

    function _toUint64(uint256 value) private pure returns (uint64) {
        return value > type(uint64).max ? type(uint64).max : uint64(value);
    }

    /// @dev Return data of the last call, truncated to `_MAX_REASON_BYTES` (never copies a return-data bomb).
    function _returnDataPrefix() private pure returns (bytes memory reason) {
        assembly ("memory-safe") {
            let size := returndatasize()
            if gt(size, _MAX_REASON_BYTES) {
                size := _MAX_REASON_BYTES
            }
            reason := mload(0x40)
            mstore(reason, size)
            returndatacopy(add(reason, 0x20), 0, size)
            mstore(0x40, add(add(reason, 0x20), and(add(size, 0x1f), not(0x1f))))
        }
    }

    /// @dev Reverts with an already ABI-encoded custom error.
    function _revertWith(bytes memory err) private pure {
        assembly ("memory-safe") {
            revert(add(err, 0x20), mload(err))
        }
    }

    function _freeMemoryPointer() private pure returns (uint256 pointer) {
        assembly ("memory-safe") {
            pointer := mload(0x40)
        }
    }

    function _setFreeMemoryPointer(uint256 pointer) private pure {
        assembly ("memory-safe") {
            mstore(0x40, pointer)
        }
    }
}
