// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AggregatorV3Interface} from "@chainlink/contracts/src/v0.8/shared/interfaces/AggregatorV3Interface.sol";

/**
 * @title MockAggregator
 * @notice A Chainlink price feed for tests and local drills: anyone may write rounds. {updateAnswer} appends a
 * round at the current block time (round ids 1, 2, …, as an aggregator); {setRound} writes any round id with
 * any times (a proxy's 80-bit ids, stale or future rounds); {setDecimals} changes the decimals, as an upgraded
 * aggregator behind a proxy could; {setReverting} makes every round read revert. {getRoundData} of a round never written returns zeros (as Chainlink's
 * older aggregators do).
 */
contract MockAggregator is AggregatorV3Interface {
    struct Round {
        int256 answer;
        uint256 startedAt;
        uint256 updatedAt;
    }

    uint8 public override decimals;
    string public override description;
    uint80 public latestRoundId;
    /// @notice When set, every read reverts {MockAggregatorDown} (a feed that was deprecated or broke).
    bool public reverting;
    mapping(uint80 roundId => Round) private _rounds;

    error MockAggregatorDown();

    event AnswerUpdated(int256 indexed current, uint256 indexed roundId, uint256 updatedAt);

    constructor(uint8 decimals_, string memory description_) {
        decimals = decimals_;
        description = description_;
    }

    function version() external pure override returns (uint256) {
        return 0;
    }

    /// @notice Append round `latestRoundId + 1` with `answer`, started and updated now.
    function updateAnswer(int256 answer) external {
        uint80 id = latestRoundId + 1;
        _write(id, answer, block.timestamp, block.timestamp);
    }

    /// @notice Write round `roundId` and make it the latest.
    function setRound(uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt) external {
        _write(roundId, answer, startedAt, updatedAt);
    }

    function setReverting(bool reverting_) external {
        reverting = reverting_;
    }

    function setDecimals(uint8 decimals_) external {
        decimals = decimals_;
    }

    function getRoundData(
        uint80 roundId
    ) external view override returns (uint80, int256, uint256, uint256, uint80) {
        if (reverting) revert MockAggregatorDown();
        Round memory r = _rounds[roundId];
        return (roundId, r.answer, r.startedAt, r.updatedAt, roundId);
    }

    function latestRoundData() external view override returns (uint80, int256, uint256, uint256, uint80) {
        if (reverting) revert MockAggregatorDown();
        uint80 id = latestRoundId;
        Round memory r = _rounds[id];
        return (id, r.answer, r.startedAt, r.updatedAt, id);
    }

    function _write(uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt) private {
        latestRoundId = roundId;
        _rounds[roundId] = Round(answer, startedAt, updatedAt);
        emit AnswerUpdated(answer, roundId, updatedAt);
    }
}
