// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AggregatorV2V3Interface} from "@chainlink/contracts/src/v0.8/shared/interfaces/AggregatorV2V3Interface.sol";
import {IEndpointRegistry} from "./IEndpointRegistry.sol";

/**
 * @title IFailoverFeed
 * @notice A Chainlink price feed with one stable address whose source follows a Vigil service: every read goes to
 * the feed behind the service's active `ORACLE_FEED` endpoint in the EndpointRegistry, so when the registry fails
 * the service over (permissionless `migrate`, driven by the attestor quorum) every contract reading this address
 * follows in the same block, with no call, no vote and no redeploy.
 *
 * Phases, as Chainlink's `AggregatorProxy`: each endpoint of the service is one phase, numbered in the order the
 * endpoints were added to the registry (phase 1 is the first endpoint; the registry never removes or reorders
 * endpoints, so a phase never changes its source). `roundId = phaseId << 64 | aggregatorRoundId`
 * (libraries/FeedRounds.sol, which also packs a source that is itself a proxy), so `roundId >> 64` is the phase
 * and rounds of an older phase stay readable through {getRoundData} after a failover.
 *
 * Answers are scaled to {decimals}: a source with fewer decimals is multiplied by `10^(decimals - source)`,
 * exactly; a source with more decimals would lose precision and is refused when its phase is added.
 *
 * Fail closed. {latestRoundData} (and {latestAnswer}, {latestTimestamp}, {latestRound}) revert rather than answer
 * when the active source's round is older than {maxAge} seconds, from the future, or not positive, when the
 * source's decimals changed, or when the active endpoint has no phase yet. Why revert and not return the stale
 * round: Chainlink's own guidance is that every consumer must check `updatedAt` against its own bound and that
 * a price of zero or below is never valid; consumers that skip those checks are the ones that lose money on a
 * stale price, and a value the feed already knows is bad can only harm a consumer that did not check. A revert
 * makes the consumer fail closed (no trade at a wrong price; a Vigil-guarded market pauses opening risk through
 * the MarketGuard instead) and can never be mistaken for a price. Consumers that need a fallback wrap the call
 * in try/catch, as Chainlink recommends for any feed that may be deprecated or revert.
 *
 * Nothing here is privileged: there is no owner. The sources are whatever the service's owner registered; the
 * only write, {syncPhases}, copies endpoints added to the registry after deployment and anyone may call it.
 */
interface IFailoverFeed is AggregatorV2V3Interface {
    /// @notice Phase `phaseId` now reads the feed at `feed` (with `feedDecimals` decimals), the source named by
    /// the registry endpoint `endpointId`.
    event PhaseAdded(uint16 indexed phaseId, bytes32 indexed endpointId, address feed, uint8 feedDecimals);

    /// @notice Constructor: the registry has no code, `maxAge` is 0, or `decimals` is above {MAX_DECIMALS}.
    error FailoverFeedInvalidSetup(address registry, uint8 decimals, uint256 maxAge);
    /// @notice Constructor: the service has no endpoint (or does not exist).
    error FailoverFeedNoEndpoints(bytes32 serviceId);
    /// @notice An endpoint of the service is not an ORACLE_FEED endpoint (`kind` as `IEndpointRegistry.EndpointKind`).
    error FailoverFeedNotOracleFeed(bytes32 endpointId, IEndpointRegistry.EndpointKind kind);
    /// @notice An endpoint's URI is not a CAIP-10 account id `eip155:<chainId>:0x<40 hex>`.
    error FailoverFeedInvalidUri(bytes32 endpointId, string uri);
    /// @notice An endpoint names a feed on another chain: this contract can only read feeds on its own chain.
    error FailoverFeedWrongChain(bytes32 endpointId, uint256 chainId, uint256 expectedChainId);
    /// @notice An endpoint names an address without code (or this adapter itself).
    error FailoverFeedNoCode(bytes32 endpointId, address feed);
    /// @notice An endpoint's feed has more decimals than this adapter: its answers cannot be scaled exactly.
    error FailoverFeedLossyDecimals(bytes32 endpointId, uint8 feedDecimals, uint8 decimals);
    /// @notice The registry's active endpoint has no phase here: it was added after deployment and
    /// {syncPhases} has not copied it yet.
    error FailoverFeedUnknownEndpoint(bytes32 endpointId);
    /// @notice {getRoundData}: `phaseId` (`roundId >> 64`) is 0 or above {phaseCount}.
    error FailoverFeedUnknownPhase(uint16 phaseId);
    /// @notice {getRoundData}: the source has no such round (its `updatedAt` is 0), or `roundId` exceeds uint80.
    error FailoverFeedRoundNotAvailable(uint256 roundId);
    /// @notice The active source's last round was observed at `updatedAt` (0: never), more than `maxAge`
    /// seconds before the current block.
    error FailoverFeedStaleAnswer(bytes32 endpointId, uint256 updatedAt, uint256 maxAge);
    /// @notice The active source reports an `updatedAt` after the current block's timestamp.
    error FailoverFeedFutureAnswer(bytes32 endpointId, uint256 updatedAt);
    /// @notice The source's answer is zero or negative: never a price.
    error FailoverFeedNonPositiveAnswer(bytes32 endpointId, int256 answer);
    /// @notice The source's answer does not fit int256 once scaled to {decimals}.
    error FailoverFeedAnswerOverflow(bytes32 endpointId, int256 answer);
    /// @notice The source's decimals are no longer those its phase was added with (its answers would be
    /// scaled wrongly).
    error FailoverFeedDecimalsChanged(bytes32 endpointId, uint8 feedDecimals, uint8 expected);
    /// @notice The source's round id cannot be represented in its phase (libraries/FeedRounds.sol).
    error FailoverFeedRoundIdUnsupported(bytes32 endpointId, uint80 sourceRoundId);

    /// @notice Decimals of every answer, fixed at deployment (at most {MAX_DECIMALS}).
    function decimals() external view override returns (uint8);

    /// @notice Human-readable name given at deployment, e.g. "ETH / USD (Vigil failover: eth-usd-feed)".
    function description() external view override returns (string memory);

    /// @notice Version of this adapter's mapping: 1.
    function version() external view override returns (uint256);

    /**
     * @notice The active source's latest round, checked and scaled. Anyone may call. Reverts (fail closed)
     * {FailoverFeedUnknownEndpoint}, {FailoverFeedStaleAnswer} (`updatedAt` 0 or more than {maxAge} seconds
     * old), {FailoverFeedFutureAnswer}, {FailoverFeedNonPositiveAnswer}, {FailoverFeedDecimalsChanged},
     * {FailoverFeedAnswerOverflow}, {FailoverFeedRoundIdUnsupported}; a revert of the source passes through.
     * @return roundId `phaseId << 64 | aggregatorRoundId`, the phase being the active endpoint's.
     * @return answer The source's answer times `10^(decimals - sourceDecimals)`; always > 0.
     * @return startedAt The source's `startedAt` (Unix seconds).
     * @return updatedAt The source's `updatedAt` (Unix seconds), within {maxAge} of `block.timestamp`.
     * @return answeredInRound The source's `answeredInRound` in the same phase (deprecated by Chainlink).
     */
    function latestRoundData()
        external
        view
        override
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound);

    /**
     * @notice Round `roundId` of any phase, including phases that are no longer active, scaled. History is not
     * judged by age (it is old by definition), but a round whose answer is not positive is still refused.
     * Anyone may call. Reverts {FailoverFeedUnknownPhase}, {FailoverFeedRoundNotAvailable},
     * {FailoverFeedNonPositiveAnswer}, {FailoverFeedDecimalsChanged}, {FailoverFeedAnswerOverflow},
     * {FailoverFeedRoundIdUnsupported}; a revert of the source (an unknown round) passes through.
     */
    function getRoundData(
        uint80 roundId
    )
        external
        view
        override
        returns (
            uint80 roundId_,
            int256 answer,
            uint256 startedAt,
            uint256 updatedAt,
            uint80 answeredInRound
        );

    /**
     * @notice Copy endpoints added to the service since the last sync (or deployment) as new phases, in
     * registry order, with the same checks as the constructor. Anyone may call: it only copies what the
     * service owner registered. Reverts on the first endpoint this adapter refuses ({FailoverFeedNotOracleFeed},
     * {FailoverFeedInvalidUri}, {FailoverFeedWrongChain}, {FailoverFeedNoCode}, {FailoverFeedLossyDecimals});
     * phases stay contiguous, so no later endpoint is added either, and while such an endpoint is active the
     * feed reverts {FailoverFeedUnknownEndpoint} (fail closed).
     * @return added Number of phases added (0 when in sync).
     */
    function syncPhases() external returns (uint256 added);

    /// @notice The registry this feed follows (immutable).
    function registry() external view returns (IEndpointRegistry);

    /// @notice The service whose active endpoint this feed reads (immutable).
    function serviceId() external view returns (bytes32);

    /// @notice Oldest accepted age of the active source's `updatedAt`, seconds (immutable).
    function maxAge() external view returns (uint256);

    /// @notice Largest accepted {decimals}: 36.
    function MAX_DECIMALS() external view returns (uint8);

    /// @notice Number of phases (1..phaseCount are valid phase ids). Never reverts.
    function phaseCount() external view returns (uint16);

    /// @notice The phase of the registry's active endpoint now; 0 when that endpoint has no phase yet
    /// (see {syncPhases}). Never reverts (as `AggregatorProxy.phaseId`).
    function phaseId() external view returns (uint16);

    /// @notice The feed read in the current phase; zero when {phaseId} is 0 (as `AggregatorProxy.aggregator`).
    function aggregator() external view returns (address);

    /// @notice The feed read in phase `phaseId`; zero for an unknown phase (as `AggregatorProxy.phaseAggregators`).
    function phaseAggregators(uint16 phaseId) external view returns (address);

    /**
     * @notice Everything about phase `phaseId`. Never reverts; all zero for an unknown phase.
     * @return endpointId The registry endpoint of the phase.
     * @return feed The feed contract it reads.
     * @return feedDecimals The feed's decimals when the phase was added.
     */
    function phase(
        uint16 phaseId
    ) external view returns (bytes32 endpointId, address feed, uint8 feedDecimals);

    /// @notice The phase of `endpointId`; 0 when it has none. Never reverts.
    function phaseOf(bytes32 endpointId) external view returns (uint16);
}
