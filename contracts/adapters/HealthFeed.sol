// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IHealthFeed} from "../interfaces/IHealthFeed.sol";
import {IHealthOracle} from "../interfaces/IHealthOracle.sol";

/**
 * @title HealthFeed
 * @notice A Chainlink `AggregatorV3Interface` view of one endpoint's Vigil health: `answer` = the median health of
 * the last round in bps (4 decimals; 0 while UNKNOWN), `startedAt` = when the current status began, `updatedAt` =
 * the quorum's observation time of the last round (not the block that included it).
 * Read {IHealthFeed} for the full mapping and for what consumers must check (staleness AND {status}).
 * @dev Stateless apart from its immutable wiring and description: every read goes to
 * {IHealthOracle.statusOf}, so the feed can never disagree with the oracle. No owner, nothing to configure.
 */
contract HealthFeed is IHealthFeed {
    uint8 private constant _DECIMALS = 4;
    uint256 private constant _VERSION = 1;

    IHealthOracle private immutable _oracle;
    bytes32 private immutable _endpointId;
    string private _description;

    /**
     * @param oracle_ The HealthOracle to read; must have code.
     * @param endpointId_ The endpoint to report (as assigned by the EndpointRegistry); non-zero.
     * @param description_ Name shown by {description}, e.g. "Vigil health / base-rpc / alchemy".
     * Reverts {HealthFeedInvalidSetup}.
     */
    constructor(IHealthOracle oracle_, bytes32 endpointId_, string memory description_) {
        if (address(oracle_).code.length == 0 || endpointId_ == bytes32(0)) {
            revert HealthFeedInvalidSetup(address(oracle_), endpointId_);
        }
        _oracle = oracle_;
        _endpointId = endpointId_;
        _description = description_;
    }

    /// @inheritdoc IHealthFeed
    function decimals() external pure override returns (uint8) {
        return _DECIMALS;
    }

    /// @inheritdoc IHealthFeed
    function description() external view override returns (string memory) {
        return _description;
    }

    /// @inheritdoc IHealthFeed
    function version() external pure override returns (uint256) {
        return _VERSION;
    }

    /// @inheritdoc IHealthFeed
    function getRoundData(
        uint80 roundId
    )
        external
        view
        override
        returns (uint80 roundId_, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        IHealthOracle.EndpointHealth memory h = _oracle.statusOf(_endpointId);
        if (roundId != h.round) revert HealthFeedRoundNotAvailable(roundId, h.round);
        return _toRound(h);
    }

    /// @inheritdoc IHealthFeed
    function latestRoundData()
        external
        view
        override
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        return _toRound(_oracle.statusOf(_endpointId));
    }

    /// @inheritdoc IHealthFeed
    function status() external view returns (IHealthOracle.Status) {
        return _oracle.statusOf(_endpointId).status;
    }

    /// @inheritdoc IHealthFeed
    function endpointId() external view returns (bytes32) {
        return _endpointId;
    }

    /// @inheritdoc IHealthFeed
    function oracle() external view returns (IHealthOracle) {
        return _oracle;
    }

    /// @dev The Chainlink round for `h`: the oracle's round (uint64, so it fits uint80) answered in itself;
    /// `answer` the median (`healthBps`), `startedAt` its `since`, `updatedAt` its `updatedAt` (the quorum's
    /// observation time, from which the oracle counts its own heartbeat). An UNKNOWN endpoint answers 0: its stored median is no evidence of health (a silent endpoint would
    /// otherwise keep reading its last value, up to 10_000); round and times stay, so staleness shows.
    function _toRound(
        IHealthOracle.EndpointHealth memory h
    ) private pure returns (uint80, int256, uint256, uint256, uint80) {
        int256 answer = h.status == IHealthOracle.Status.UNKNOWN ? int256(0) : int256(uint256(h.healthBps));
        return (h.round, answer, h.since, h.updatedAt, h.round);
    }
}
