// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AggregatorV3Interface} from "@chainlink/contracts/src/v0.8/shared/interfaces/AggregatorV3Interface.sol";

/**
 * @title FeedGasProbe
 * @notice Measures what a consumer contract pays for one `latestRoundData` call (the feed's address cold, as on
 * a consumer's first read in a transaction), for tests' gas bounds and the feed gas benchmark.
 */
contract FeedGasProbe {
    /// @notice Gas of one `feed.latestRoundData()` call, including the call's own overhead; reverts as the feed does.
    function measure(AggregatorV3Interface feed) external view returns (uint256 gasUsed, int256 answer) {
        uint256 before = gasleft();
        (, answer, , , ) = feed.latestRoundData();
        gasUsed = before - gasleft();
    }
}
