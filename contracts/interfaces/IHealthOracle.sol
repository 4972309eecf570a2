// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/**
 * @title IHealthOracle
 * @notice Quorum-attested health of infrastructure endpoints (JSON-RPC nodes, oracle feeds, sequencers,
 * front ends), health model v2: **the attestor quorum decides, never whoever relays.**
 *
 * Each attestor signs, once per round, one EIP-712 `Report` covering every endpoint it watches: per endpoint
 * its health in bps and its own counts of consecutive BAD and GOOD rounds (it probes every round, so a relayer
 * that omits, reorders or delays rounds can neither reset nor fake them). Anyone relays the reports of one
 * round from at least `quorum` attestors with {submit}. A status transition needs `quorum` signers that agree:
 * DOWN needs `quorum` signers whose own BAD count reached `fallRounds`, HEALTHY `quorum` whose GOOD count
 * reached `riseRounds`. With quorums of 2f+1 out of 3f+1 any two quorums share an honest attestor, and an
 * honest attestor signs one report per round, so no choice of signers yields both verdicts for one round.
 * Signing two different reports for one round is equivocation, provable by anyone ({proveEquivocation}).
 *
 * Units: health in basis points (0..10_000), times in Unix seconds, rounds in `roundSeconds` slots
 * (`round = observedAt / roundSeconds`, so attestors agree on a round without coordination).
 *
 * Anchors: Chainlink OCR2 (one signed report per round, `configDigest`, `transmit`), HAProxy `rise`/`fall`
 * (hysteresis), the Chainlink heartbeat (staleness from the report's observation time, as OCR2's `updatedAt`),
 * Byzantine quorum intersection (PBFT: 2f+1 of 3f+1).
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
     * @notice Per-endpoint policy. All fields must be non-zero; `downBelowBps < upAtBps <= 10_000`. Attestors
     * read it ({policyOf}) to classify their own probes and count their streaks.
     * @param downBelowBps An attestor's round below this is BAD.
     * @param upAtBps An attestor's round at or above this is GOOD.
     * @param fallRounds DOWN needs `quorum` signers each with at least this many consecutive BAD rounds (HAProxy `fall`).
     * @param riseRounds HEALTHY needs `quorum` signers each with at least this many consecutive GOOD rounds (`rise`).
     * @param heartbeat Seconds after the quorum's observation time at which the status reads UNKNOWN.
     * @param maxAge Oldest accepted report, in seconds before `block.timestamp`.
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
     * @notice One attestor's signature over its report of one round, as relayed in {submit}. A static struct, so
     * an array of them is encoded inline without per-element offsets; the values of every report travel in one
     * `values` blob and the endpoint list once per submission (calldata is most of the per-signer cost).
     * @param r Signature `r`.
     * @param vs Signature `s` with the parity of `v` in its top bit (EIP-2098 compact form). Low-s only.
     * @param observedAt Unix seconds at which the attestor signed; must fall inside the submitted round.
     * The signature is EIP-712 over `Report(bytes32 configDigest,uint64 round,uint64 observedAt,
     * bytes32[] endpointIds,bytes values)` under this contract's domain ({eip712Domain}), where `values` holds
     * 4 bytes per endpoint, in the order of `endpointIds`: `healthBps` (uint16, big-endian, 0..10_000), then
     * `badRounds` and `goodRounds` (uint8 each), the attestor's own consecutive rounds, this one included, below
     * `downBelowBps` / at or above `upAtBps` (saturating at 255).
     */
    struct SignedReport {
        bytes32 r;
        bytes32 vs;
        uint64 observedAt;
    }

    /// @notice One signed report with everything it covers, for {proveEquivocation}.
    struct ReportEvidence {
        bytes32[] endpointIds;
        bytes values;
        SignedReport report;
    }

    /**
     * @notice The health state of an endpoint as read now (staleness applied).
     * @param status Effective status (UNKNOWN once `block.timestamp >= updatedAt + heartbeat`).
     * @param healthBps Median (lower median for an even count) of the last accepted round, 0..10_000 bps: for
     * feeds and display. Thresholds read `floorBps` and `ceilingBps` instead.
     * @param since Unix seconds (block time) when `status` began. For UNKNOWN: when the heartbeat first lapsed
     * (`updatedAt + heartbeat`), kept while it stays UNKNOWN; zero for an endpoint UNKNOWN since its first round.
     * @param round Last accepted round.
     * @param updatedAt The quorum's observation time of the last accepted round: the earliest `observedAt` among
     * its signers (Unix seconds), never the block that included it (as OCR2's `observationsTimestamp`). The oldest
     * evidence counts, so a signer can only make the round look older, and by less than `roundSeconds`.
     * @param floorBps The `quorum`-th highest value of the round: at least `quorum` signers reported health at or
     * above it. An upward threshold (resume) is crossed only when `floorBps` reaches it.
     * @param ceilingBps The `quorum`-th lowest value: at least `quorum` signers reported health at or below it. A
     * downward threshold (pause) is crossed only when `ceilingBps` falls under it.
     */
    struct EndpointHealth {
        Status status;
        uint16 healthBps;
        uint64 since;
        uint64 round;
        uint64 updatedAt;
        uint16 floorBps;
        uint16 ceilingBps;
    }

    // ------------------------------------------------------------------------------------------------
    // Events
    // ------------------------------------------------------------------------------------------------

    /// @notice The attestor set or quorum changed; signatures made under earlier digests stop counting and
    /// every jailed attestor is released.
    event AttestorSetChanged(bytes32 indexed configDigest, uint32 version, address[] attestors, uint8 quorum);

    /**
     * @notice One {submit} was accepted: `signers` is a bitmap of attestor-set indices (bit i = `attestors[i]`),
     * `updated` endpoints took the round, `skipped` did not (round already stored or older, or the same round
     * again without a transition). One event per report round, as OCR2's `NewTransmission`; per-endpoint values
     * are in the transaction's calldata and in {statusOf}.
     */
    event ReportAccepted(
        uint64 indexed round,
        uint64 observedAt,
        uint256 signers,
        uint256 updated,
        uint256 skipped
    );

    /// @notice The stored status of `endpointId` changed at `since` (block time).
    event StatusChanged(bytes32 indexed endpointId, Status previous, Status current, uint64 since);

    /// @notice `attestor` signed two different reports for `round` under `configDigest`; its signatures stop
    /// counting until the owner replaces the set. `prover` submitted the proof.
    event AttestorJailed(
        address indexed attestor,
        bytes32 indexed configDigest,
        uint64 round,
        address prover
    );

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

    /// @notice The attestor list is empty, longer than 255, or `quorum` is outside `max(2f+1, n/2+1)..n` with
    /// `f = (n - 1) / 3` (PBFT / OCR2 `checkConfigValid`, and a strict majority so two quorums always intersect).
    error HealthOracleInvalidQuorum(uint256 attestors, uint256 quorum);
    /// @notice Attestors must be given sorted strictly ascending (which also rules out duplicates and zero).
    error HealthOracleAttestorsNotAscending(uint256 index, address attestor);
    /// @notice A policy violates `0 < downBelowBps < upAtBps <= 10_000` or has a zero round count or time.
    error HealthOracleInvalidPolicy(Policy policy);
    /// @notice The submission was made for another attestor-set configuration. `expected` is zero before the
    /// first {setAttestors}: until then every submission is rejected.
    error HealthOracleConfigDigestMismatch(bytes32 expected, bytes32 received);
    /// @notice Fewer reports than the quorum.
    error HealthOracleInsufficientSignatures(uint256 received, uint256 quorum);
    /// @notice The endpoint list is empty or not sorted strictly ascending (which rules out duplicates).
    error HealthOracleEndpointsNotAscending(uint256 index, bytes32 endpointId);
    /// @notice The `values` blob is `length` bytes instead of 4 per endpoint per report (`expected`).
    error HealthOracleMalformedReport(uint256 length, uint256 expected);
    /// @notice The signature of report `position` has high s or recovers to nothing.
    error HealthOracleMalformedSignature(uint256 position);
    /// @notice A signature recovers to an address outside the current attestor set (an outsider key, or a
    /// signature over another domain: chain, contract, digest or payload).
    error HealthOracleUnknownSigner(uint256 position, address signer);
    /// @notice The same attestor signed twice (reports must be sorted by signer, strictly ascending).
    error HealthOracleDuplicateSigner(uint256 position, address signer);
    /// @notice Reports are not sorted by signer address, strictly ascending.
    error HealthOracleSignersNotAscending(uint256 position, address signer);
    /// @notice The signer of report `position` was proven to equivocate under the current set.
    error HealthOracleJailedSigner(uint256 position, address signer);
    /// @notice A value above 10_000 bps for endpoint `index` in report `position`.
    error HealthOracleHealthOutOfRange(uint256 position, uint256 index, uint16 healthBps);
    /// @notice Report `position` lies beyond `block.timestamp + maxSkew`.
    error HealthOracleObservationFromFuture(uint256 position, uint64 observedAt, uint64 latestAllowed);
    /// @notice The quorum's observation time `observedAt` is older than the `maxAge` of `endpointId`.
    error HealthOracleStaleObservation(bytes32 endpointId, uint64 observedAt, uint64 maxAge);
    /// @notice Report `position`: `observedAt / roundSeconds != round`.
    error HealthOracleObservationOutsideRound(uint256 position, uint64 round, uint64 observedAt);
    /// @notice The two reports of a {proveEquivocation} are not a conflicting pair of one attestor and round
    /// (identical reports, different signers, or a signer outside the current set).
    error HealthOracleNotEquivocation(address signerA, address signerB);
    /// @notice The attestor is already jailed under the current set.
    error HealthOracleAlreadyJailed(address attestor);
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
     * @notice Accept one round of reports for a list of endpoints. Anyone may call; only a quorum of valid,
     * unjailed attestor signatures makes it count. Relaying is idempotent: an endpoint whose stored round is
     * newer, or the same round when it would not change status, is skipped (counted in {ReportAccepted} and
     * the return value), never a revert, so racing relayers waste at most their own transaction.
     * @dev Checks the digest, the endpoint list (non-empty, strictly ascending), at least `quorum` reports, the
     * values length, and per report in order: round and future time, signature (low-s, non-zero signer), signer
     * ascending, in the set and not jailed. Then per endpoint: values in range, the quorum's observation time
     * (the earliest `observedAt` of the signers) within the endpoint's `maxAge`, and the status machine:
     * - DOWN when at least `quorum` signers report health `< downBelowBps` with `badRounds >= fallRounds`;
     * - else HEALTHY when at least `quorum` report health `>= upAtBps` with `goodRounds >= riseRounds`;
     * - else a HEALTHY endpoint with at least `quorum` reports `< upAtBps` becomes DEGRADED, and an UNKNOWN one
     *   with at least `quorum` reports `>= downBelowBps` becomes DEGRADED (BAD evidence never reads better than
     *   silence);
     * - else the status stays (DOWN stays DOWN until HEALTHY evidence).
     * A round newer than the stored one is stored (median, floor, ceiling, observation time); the stored round
     * again is applied only when it changes the status (so an honest relayer's complete round always lands,
     * whatever subset a front-runner relayed first). Status changes notify the listeners in the same
     * transaction (each bounded in gas, failures caught and emitted as {ListenerFailed}).
     * @param configDigest The {configDigest} the attestors signed under.
     * @param round Time slot of the reports, `observedAt / roundSeconds`.
     * @param endpointIds The endpoints the reports cover, strictly ascending (as the registry assigns ids).
     * @param reports At least `quorum` report signatures of `round`, sorted by signer address strictly ascending.
     * @param values The reports' values concatenated: report `j` covers bytes `[j * 4n, (j + 1) * 4n)` for
     * `n = endpointIds.length` (4 bytes per endpoint, see {SignedReport}).
     * @return updated Endpoints that took the round.
     * @return skipped Endpoints left as they were.
     */
    function submit(
        bytes32 configDigest,
        uint64 round,
        bytes32[] calldata endpointIds,
        SignedReport[] calldata reports,
        bytes calldata values
    ) external returns (uint256 updated, uint256 skipped);

    /**
     * @notice Prove that one attestor signed two different reports for the same round under the current set
     * (equivocation, as Ethereum's proposer slashing). Anyone may call. The attestor is jailed: its signatures
     * stop counting ({HealthOracleJailedSigner}) until the owner replaces the set.
     * @dev Honest behaviour is never provable: the same report twice (same struct hash) and reports of different
     * rounds are rejected. Reverts {HealthOracleNotEquivocation}, {HealthOracleMalformedSignature},
     * {HealthOracleAlreadyJailed}, {HealthOracleConfigDigestMismatch} (no set yet).
     * @param round The round both reports claim.
     * @param a First report, with its endpoint list and values.
     * @param b Second report, with its endpoint list and values.
     */
    function proveEquivocation(uint64 round, ReportEvidence calldata a, ReportEvidence calldata b) external;

    /**
     * @notice Replace the attestor set. Owner only (a timelock in production).
     * @dev Bumps the version and the config digest; signatures under the old digest stop counting and jailed
     * attestors are released (the new set is the owner's decision).
     * @param attestors Signer addresses sorted strictly ascending, 1..255 of them.
     * @param quorum Signatures required; must satisfy `quorum >= 2f+1` with `f = (n-1)/3`, be a strict majority
     * (`quorum * 2 > n`) and `quorum <= n`. Reverts {HealthOracleInvalidQuorum}.
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
    /// `removeListener` and `listeners` (event subscriptions).
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

    /// @notice Digest every report signature covers: `keccak256(abi.encode(chainid, this, version, attestors,
    /// quorum))`, the OCR2 `configDigest` idea. Zero before the first {setAttestors}.
    function configDigest() external view returns (bytes32);

    /// @notice Attestor set version (1 after the first {setAttestors}), quorum and members.
    function attestorSet() external view returns (uint32 version, uint8 quorum, address[] memory attestors);

    /// @notice Whether `attestor` is jailed under the current set.
    function isJailed(address attestor) external view returns (bool);

    /// @notice Registered listeners, in notification order.
    function statusListeners() external view returns (address[] memory);

    /// @notice Most listeners that can be registered (4).
    function MAX_LISTENERS() external view returns (uint256);

    /// @notice Seconds per round (immutable).
    function roundSeconds() external view returns (uint64);

    /// @notice Seconds a report may lie in the future, for clock skew (immutable).
    function maxSkew() external view returns (uint64);

    /// @notice Gas given to each listener call (immutable).
    function listenerGasLimit() external view returns (uint256);

    /// @notice The EIP-712 digest (`\x19\x01 ‖ domainSeparator ‖ structHash`) an attestor signs for one report,
    /// so off-chain code can check its signer against the contract's own hashing.
    function reportDigest(
        bytes32 configDigest,
        uint64 round,
        uint64 observedAt,
        bytes32[] calldata endpointIds,
        bytes calldata values
    ) external view returns (bytes32);
}
