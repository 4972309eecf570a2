// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/**
 * @title IHealthOracle
 * @notice Quorum-attested health of infrastructure endpoints (JSON-RPC nodes, oracle feeds, sequencers,
 * front ends). Attestors sign EIP-712 `Observation`s off-chain; anyone relays a quorum of them with
 * {submit}. The oracle stores the median health per endpoint and derives a status with hysteresis
 * (HAProxy `rise`/`fall`) and staleness: silence beyond the heartbeat reads `UNKNOWN`, never healthy.
 *
 * Units: health in basis points (0..10_000), times in Unix seconds, rounds in `roundSeconds` slots
 * (`round = observedAt / roundSeconds`, so attestors agree on a round without coordination).
 */
interface IHealthOracle {
    /// @notice Endpoint status. `UNKNOWN` is the zero value: an endpoint never reported, or silent for
    /// longer than its heartbeat, is `UNKNOWN` (a dead-man's switch).
    enum Status {
        UNKNOWN,
        HEALTHY,
        DEGRADED,
        DOWN
    }

    /**
     * @notice Per-endpoint policy. All fields must be non-zero; `downBelowBps < upAtBps <= 10_000`.
     * @param downBelowBps A round whose median is below this counts toward DOWN.
     * @param upAtBps A round whose median is at or above this counts toward HEALTHY.
     * @param fallRounds Consecutive rounds under `downBelowBps` before DOWN (HAProxy `fall`). Consecutive means
     * adjacent round numbers: a round that was never accepted breaks the streak.
     * @param riseRounds Consecutive (adjacent) rounds at or above `upAtBps` before HEALTHY (HAProxy `rise`).
     * @param heartbeat Seconds after the last accepted round at which the status reads UNKNOWN.
     * @param maxAge Oldest accepted observation, in seconds before `block.timestamp`.
     */
    struct Policy {
        uint16 downBelowBps;
        uint16 upAtBps;
        uint8 fallRounds;
        uint8 riseRounds;
        uint32 heartbeat;
        uint32 maxAge;
    }

    /**
     * @notice One attestor's signed observation of an endpoint, as relayed in {submit}.
     * @param healthBps Health score 0..10_000 bps computed by the attestor (formula in keepers/attestor).
     * @param observedAt Unix seconds at which the attestor probed; must fall inside the submitted round.
     * @param signature EIP-712 signature over `Observation(configDigest, endpointId, round, healthBps,
     * observedAt)`, 65 bytes (r, s, v) or 64 bytes (EIP-2098 r, vs). Low-s only.
     */
    struct SignedObservation {
        uint16 healthBps;
        uint64 observedAt;
        bytes signature;
    }

    /// @notice One endpoint's round in a {submitBatch}.
    struct Report {
        bytes32 endpointId;
        uint64 round;
        SignedObservation[] observations;
    }

    /**
     * @notice The health state of an endpoint as read now (staleness applied).
     * @param status Effective status (UNKNOWN once `block.timestamp >= updatedAt + heartbeat`).
     * @param healthBps Median health of the last accepted round, 0..10_000 bps.
     * @param since Unix seconds when `status` began. For UNKNOWN: when the heartbeat first lapsed
     * (`updatedAt + heartbeat`), kept through later BAD rounds and lapses while it stays UNKNOWN; zero for an
     * endpoint that has been UNKNOWN since its first round (never known), as for one never seen.
     * @param round Last accepted round.
     * @param updatedAt Unix seconds (block time) when the last round was accepted.
     */
    struct EndpointHealth {
        Status status;
        uint16 healthBps;
        uint64 since;
        uint64 round;
        uint64 updatedAt;
    }

    // ------------------------------------------------------------------------------------------------
    // Events
    // ------------------------------------------------------------------------------------------------

    /// @notice The attestor set or quorum changed; signatures made under earlier digests stop counting.
    event AttestorSetChanged(bytes32 indexed configDigest, uint32 version, address[] attestors, uint8 quorum);

    /// @notice A quorum round was accepted for `endpointId`; `healthBps` is the median of `signers` values.
    /// @dev `round` is not indexed: one topic less keeps a routine update within the gas budget; filter by
    /// endpoint and read the round from the data.
    event RoundAccepted(bytes32 indexed endpointId, uint64 round, uint16 healthBps, uint8 signers);

    /// @notice The stored status of `endpointId` changed at `since` (block time).
    event StatusChanged(bytes32 indexed endpointId, Status previous, Status current, uint64 since);

    /// @notice The default policy, used by endpoints without their own, changed.
    event DefaultPolicyChanged(Policy policy);

    /// @notice `endpointId` got its own policy, or went back to the default when `isDefault`.
    event EndpointPolicyChanged(bytes32 indexed endpointId, Policy policy, bool isDefault);

    /// @notice A status listener was added or removed.
    event ListenerChanged(address indexed listener, bool added);

    /// @notice A listener reverted or ran out of its gas budget while being told of a status change;
    /// the submission still succeeded and keepers remain the backup path.
    event ListenerFailed(address indexed listener, bytes32 indexed endpointId, bytes reason);

    // ------------------------------------------------------------------------------------------------
    // Errors
    // ------------------------------------------------------------------------------------------------

    /// @notice The attestor list is empty, longer than 255, or `quorum` is outside `max(2f+1, n/2+1)..n`: it
    /// must satisfy `quorum >= 2f+1` for `f = (n - 1) / 3` (PBFT / OCR2 `checkConfigValid`) and be a strict
    /// majority, `quorum * 2 > n` (so 1 of 2, 1 of 3 and 3 of 6 are rejected), and `quorum <= n`.
    error HealthOracleInvalidQuorum(uint256 attestors, uint256 quorum);
    /// @notice Attestors must be given sorted strictly ascending (which also rules out duplicates and zero).
    error HealthOracleAttestorsNotAscending(uint256 index, address attestor);
    /// @notice A policy violates `0 < downBelowBps < upAtBps <= 10_000` or has a zero round count or time.
    error HealthOracleInvalidPolicy(Policy policy);
    /// @notice The submission was made for another attestor-set configuration. `expected` is zero before the
    /// first {setAttestors}: until then every submission is rejected.
    error HealthOracleConfigDigestMismatch(bytes32 expected, bytes32 received);
    /// @notice Fewer observations than the quorum.
    error HealthOracleInsufficientSignatures(uint256 received, uint256 quorum);
    /// @notice A signature is not 64 or 65 bytes, has high-s or a bad `v`, or recovers to nothing.
    error HealthOracleMalformedSignature(uint256 position);
    /// @notice A signature recovers to an address outside the current attestor set (an outsider key, or a
    /// signature over another domain: chain, contract, digest or payload).
    error HealthOracleUnknownSigner(uint256 position, address signer);
    /// @notice The same attestor signed twice (observations must be sorted by signer, strictly ascending).
    error HealthOracleDuplicateSigner(uint256 position, address signer);
    /// @notice Observations are not sorted by signer address, strictly ascending.
    error HealthOracleSignersNotAscending(uint256 position, address signer);
    /// @notice `healthBps` above 10_000.
    error HealthOracleHealthOutOfRange(uint256 position, uint16 healthBps);
    /// @notice `observedAt` lies beyond `block.timestamp + maxSkew`.
    error HealthOracleObservationFromFuture(bytes32 endpointId, uint64 observedAt, uint64 latestAllowed);
    /// @notice `observedAt` is older than the endpoint's `maxAge`.
    error HealthOracleStaleObservation(bytes32 endpointId, uint64 observedAt, uint64 maxAge);
    /// @notice `observedAt / roundSeconds != round`.
    error HealthOracleObservationOutsideRound(bytes32 endpointId, uint64 round, uint64 observedAt);
    /// @notice The round is not newer than the last accepted one for this endpoint (replay protection).
    error HealthOracleRoundNotNewer(bytes32 endpointId, uint64 round, uint64 lastRound);
    /// @notice Entry `index` of a {submitBatch} failed with `reason` (the inner custom error).
    error HealthOracleBatchEntryFailed(uint256 index, bytes32 endpointId, bytes reason);
    /// @notice Too many listeners, the zero address or an address without code, or the listener is already
    /// registered (add) / not registered (remove).
    error HealthOracleInvalidListener(address listener);
    /// @notice Not enough gas left to give a listener its full budget (so the 63/64 rule cannot be used to
    /// starve it). Send more gas; `eth_estimateGas` accounts for it.
    error HealthOracleInsufficientGasForListener(uint256 gasLeft, uint256 required);
    /// @notice Constructor arguments out of range: `roundSeconds` must be 1..2^32-1, `maxSkew` at most 2^32-1
    /// seconds, `listenerGasLimit` 1..2_000_000 gas.
    error HealthOracleInvalidParameters(uint64 roundSeconds, uint64 maxSkew, uint256 listenerGasLimit);

    // ------------------------------------------------------------------------------------------------
    // Writes
    // ------------------------------------------------------------------------------------------------

    /**
     * @notice Accept one round for one endpoint. Anyone may call; only a quorum of valid attestor
     * signatures makes it count.
     * @dev Checks, in order: digest, count, per observation (range, skew, age, round, signature, signer
     * ascending and in the set), round newer than stored. Stores the median (lower median for an even
     * count), updates the status with hysteresis and, when it changes, notifies the listeners in the same
     * transaction (each bounded in gas, failures caught and emitted as {ListenerFailed}).
     * @param configDigest The {configDigest} the attestors signed under.
     * @param endpointId Endpoint identifier (as assigned by the EndpointRegistry).
     * @param round Time slot of the observations, `observedAt / roundSeconds`.
     * @param observations At least `quorum` observations, sorted by signer address strictly ascending.
     * Reverts with the errors above.
     */
    function submit(
        bytes32 configDigest,
        bytes32 endpointId,
        uint64 round,
        SignedObservation[] calldata observations
    ) external;

    /**
     * @notice Accept many endpoints' rounds in one transaction. Anyone may call.
     * @dev All or nothing: a bad entry reverts the whole batch with {HealthOracleBatchEntryFailed} naming it
     * and carrying the error {submit} would have raised for it. Errors that concern the whole transaction
     * are not wrapped: {HealthOracleConfigDigestMismatch} (one digest for the batch) and
     * {HealthOracleInsufficientGasForListener}. Keepers simulate first and drop the entries that would fail.
     * @param configDigest The {configDigest} the attestors signed under (one for every entry).
     * @param reports One entry per endpoint round; each follows the rules of {submit}.
     */
    function submitBatch(bytes32 configDigest, Report[] calldata reports) external;

    /**
     * @notice Replace the attestor set. Owner only (a timelock in production).
     * @dev Bumps the version and the config digest; signatures under the old digest stop counting.
     * @param attestors Signer addresses sorted strictly ascending, 1..255 of them.
     * @param quorum Signatures required; must satisfy `quorum >= 2f+1` with `f = (n-1)/3`, be a strict majority
     * (`quorum * 2 > n`, i.e. `quorum >= n/2 + 1`) and `quorum <= n`. Reverts {HealthOracleInvalidQuorum}.
     */
    function setAttestors(address[] calldata attestors, uint8 quorum) external;

    /// @notice Set the default policy. Owner only. Reverts {HealthOracleInvalidPolicy}.
    function setDefaultPolicy(Policy calldata policy) external;

    /// @notice Give `endpointId` its own policy. Owner only. Reverts {HealthOracleInvalidPolicy}.
    function setEndpointPolicy(bytes32 endpointId, Policy calldata policy) external;

    /// @notice Make `endpointId` use the default policy again. Owner only.
    function clearEndpointPolicy(bytes32 endpointId) external;

    /// @notice Add a status listener (at most {MAX_LISTENERS}), notified after those already registered.
    /// Owner only. Reverts {HealthOracleInvalidListener}.
    /// @dev Named `…StatusListener(s)` because ethers' `BaseContract` already owns `addListener`,
    /// `removeListener` and `listeners` (event subscriptions): same-named contract functions are unreachable
    /// through an ethers `Contract` and break TypeChain's generated types.
    function addStatusListener(address listener) external;

    /// @notice Remove a status listener, keeping the order of the others. Owner only.
    /// Reverts {HealthOracleInvalidListener}.
    function removeStatusListener(address listener) external;

    // ------------------------------------------------------------------------------------------------
    // Reads
    // ------------------------------------------------------------------------------------------------

    /// @notice Effective health of `endpointId` now (staleness applied). Never reverts.
    function statusOf(bytes32 endpointId) external view returns (EndpointHealth memory);

    /// @notice Policy in force for `endpointId` (its own, or the default).
    function policyOf(bytes32 endpointId) external view returns (Policy memory);

    /// @notice Digest every observation signature covers: `keccak256(abi.encode(chainid, this, version,
    /// attestors, quorum))`, the OCR2 `configDigest` idea.
    function configDigest() external view returns (bytes32);

    /// @notice Attestor set version (1 after the first {setAttestors}), quorum and members.
    function attestorSet() external view returns (uint32 version, uint8 quorum, address[] memory attestors);

    /// @notice Registered listeners, in notification order.
    function statusListeners() external view returns (address[] memory);

    /// @notice Most listeners that can be registered (4).
    function MAX_LISTENERS() external view returns (uint256);

    /// @notice Seconds per round (immutable).
    function roundSeconds() external view returns (uint64);

    /// @notice Seconds an observation may lie in the future, for clock skew (immutable).
    function maxSkew() external view returns (uint64);

    /// @notice Gas given to each listener call (immutable).
    function listenerGasLimit() external view returns (uint256);

    /// @notice The EIP-712 digest (`\x19\x01 ‖ domainSeparator ‖ structHash`) an attestor signs for one
    /// observation, so off-chain code can check its signer against the contract's own hashing.
    function observationDigest(
        bytes32 configDigest,
        bytes32 endpointId,
        uint64 round,
        uint16 healthBps,
        uint64 observedAt
    ) external view returns (bytes32);
}
