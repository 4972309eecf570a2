// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AggregatorV3Interface} from "@chainlink/contracts/src/v0.8/shared/interfaces/AggregatorV3Interface.sol";
import {IHealthOracle} from "./IHealthOracle.sol";

/**
 * @title IHealthFeed
 * @notice One endpoint's Vigil health read through Chainlink's `AggregatorV3Interface`, so a protocol that
 * already consumes Chainlink feeds consumes endpoint health the same way.
 *
 * Mapping of {latestRoundData}:
 * - `roundId`: the HealthOracle's last accepted round for the endpoint (a time slot,
 *   `observedAt / roundSeconds`): it only grows, but is NOT consecutive; 0 when the endpoint never reported.
 * - `answer`: health of that round in basis points, `0..10_000`: the median of the quorum's reports (the
 *   oracle's `healthBps`; the oracle itself decides thresholds from `floorBps` / `ceilingBps`, which a relayer
 *   cannot bias, so a consumer that pauses on this answer should prefer the MarketGuard). With {decimals} = 4, `10_000` reads 1.0000
 *   (fully healthy) and `5_000` reads 0.5000. This is a fraction, not the 0/1 flag of Chainlink's sequencer
 *   uptime feed. `0` whenever the effective status is `UNKNOWN` (silent past its heartbeat, never
 *   reported, or kept UNKNOWN by BAD rounds after silence), whatever median was last stored: silence never
 *   reads as health. `roundId`, `startedAt` and `updatedAt` are still reported, so staleness stays visible.
 * - `startedAt`: Unix seconds when the endpoint's current status began (the oracle's `since`), as
 *   Chainlink's L2 sequencer uptime feed reports when the sequencer last came up: count grace periods
 *   from it.
 * - `updatedAt`: Unix seconds at which the attestor quorum observed the last round (the lower median of the
 *   reports' `observedAt`, as OCR2's `observationsTimestamp`), NOT the block that included it: a round relayed
 *   late reads as old as it is. The oracle's own heartbeat counts from it too. 0 when never reported.
 * - `answeredInRound`: equal to `roundId`.
 *
 * Consumers MUST, as Chainlink's docs ask of any feed:
 * 1. reject `updatedAt == 0` and `block.timestamp - updatedAt` above their own staleness bound;
 * 2. read {status} and act on it: `UNKNOWN` means the endpoint has been silent past its heartbeat (or
 *    never reported); `answer` is then 0, but a consumer must not depend on that alone.
 */
interface IHealthFeed is AggregatorV3Interface {
    /// @notice {getRoundData} asked for a round other than the latest: only the latest round is kept on-chain.
    error HealthFeedRoundNotAvailable(uint80 roundId, uint80 latestRoundId);

    /// @notice Constructor: the oracle has no code or the endpoint id is zero.
    error HealthFeedInvalidSetup(address oracle, bytes32 endpointId);

    /// @notice Decimals of `answer`: 4, so `answer` is a fraction of 10_000 (`10_000` = 1.0000).
    function decimals() external view override returns (uint8);

    /// @notice Human-readable name given at deployment, e.g. "Vigil health / base-rpc / alchemy".
    function description() external view override returns (string memory);

    /// @notice Version of this adapter's mapping: 1.
    function version() external view override returns (uint256);

    /**
     * @notice The latest round, as {latestRoundData}, when `roundId` is the latest round id. Only the latest
     * round is kept on-chain (the HealthOracle stores no history); any other id reverts
     * {HealthFeedRoundNotAvailable}, which Chainlink consumers must already handle for unknown rounds.
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
     * @notice The endpoint's latest health as a Chainlink round (see the mapping above). Never reverts while
     * the oracle does not. Check `updatedAt` staleness AND {status} before trusting `answer`.
     * @return roundId Last accepted oracle round (0 when never reported).
     * @return answer Median health in basis points, 0..10_000 (4 decimals); 0 while the status is UNKNOWN.
     * @return startedAt Unix seconds when the current status began.
     * @return updatedAt Unix seconds at which the quorum observed the last round (0 when never reported).
     * @return answeredInRound Equal to `roundId`.
     */
    function latestRoundData()
        external
        view
        override
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound);

    /// @notice The endpoint's effective status now, staleness applied: UNKNOWN when silent past its
    /// heartbeat or never reported, otherwise HEALTHY, DEGRADED or DOWN. Never reverts while the oracle does not.
    function status() external view returns (IHealthOracle.Status);

    /// @notice The endpoint this feed reports (immutable).
    function endpointId() external view returns (bytes32);

    /// @notice The HealthOracle this feed reads (immutable).
    function oracle() external view returns (IHealthOracle);
}
