// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AggregatorV3Interface} from "@chainlink/contracts/src/v0.8/shared/interfaces/AggregatorV3Interface.sol";
import {IEndpointRegistry} from "../interfaces/IEndpointRegistry.sol";
import {IFailoverFeed} from "../interfaces/IFailoverFeed.sol";
import {Caip10} from "../libraries/Caip10.sol";
import {FeedRounds} from "../libraries/FeedRounds.sol";

/**
 * @title FailoverFeed
 * @notice One stable Chainlink feed address whose source is the active `ORACLE_FEED` endpoint of a Vigil service:
 * when the EndpointRegistry migrates the service, the next read answers from the new feed, in a new phase
 * (Chainlink `AggregatorProxy` round ids). Refuses (reverts) rather than serve a stale, future or non-positive
 * answer. Read {IFailoverFeed} for the phases, the scaling and why it fails closed.
 * @dev Each endpoint's CAIP-10 URI is parsed once, when its phase is added (constructor or {syncPhases}), and
 * kept as `(feed, decimals, phaseId)` in one storage slot keyed by endpoint id, so a read costs the registry's
 * `activeEndpointId`, one slot, and the source's `latestRoundData` and `decimals`. No owner.
 */
contract FailoverFeed is IFailoverFeed {
    /// @inheritdoc IFailoverFeed
    uint8 public constant MAX_DECIMALS = 36;
    uint256 private constant _VERSION = 1;

    /// @dev One phase: its source and the decimals it had when added; `phaseId` 0 means "no phase".
    struct Phase {
        address feed;
        uint8 feedDecimals;
        uint16 phaseId;
    }

    /// @dev A round as Chainlink's `latestRoundData` returns it.
    struct Round {
        uint80 roundId;
        int256 answer;
        uint256 startedAt;
        uint256 updatedAt;
        uint80 answeredInRound;
    }

    IEndpointRegistry private immutable _registry;
    bytes32 private immutable _serviceId;
    uint8 private immutable _decimals;
    uint256 private immutable _maxAge;
    string private _description;

    mapping(bytes32 endpointId => Phase) private _phases;
    /// @dev Endpoint of phase `i + 1`, in registry order.
    bytes32[] private _phaseEndpoints;

    /**
     * @notice Follow `serviceId_` in `registry_`; every endpoint it has now becomes a phase, in registry order.
     * @param registry_ The EndpointRegistry; must have code.
     * @param serviceId_ A service with at least one endpoint, every one an ORACLE_FEED endpoint
     * `eip155:<this chain>:<feed>` whose feed has code and at most `decimals_` decimals.
     * @param decimals_ Decimals of every answer, at most {MAX_DECIMALS} (8 for a Chainlink USD price).
     * @param maxAge_ Oldest accepted `updatedAt` of the active source, seconds, non-zero: the source's heartbeat
     * plus the time a round may take to land (for a Chainlink feed with a 3600 s heartbeat, e.g. 3900).
     * @param description_ Shown by {description}.
     * Reverts {FailoverFeedInvalidSetup}, {FailoverFeedNoEndpoints}, and any error of {syncPhases}.
     */
    constructor(
        IEndpointRegistry registry_,
        bytes32 serviceId_,
        uint8 decimals_,
        uint256 maxAge_,
        string memory description_
    ) {
        if (address(registry_).code.length == 0 || maxAge_ == 0 || decimals_ > MAX_DECIMALS) {
            revert FailoverFeedInvalidSetup(address(registry_), decimals_, maxAge_);
        }
        _registry = registry_;
        _serviceId = serviceId_;
        _decimals = decimals_;
        _maxAge = maxAge_;
        _description = description_;
        if (_sync() == 0) revert FailoverFeedNoEndpoints(serviceId_);
    }

    // ------------------------------------------------------------------------------------------------
    // AggregatorV3Interface
    // ------------------------------------------------------------------------------------------------

    /// @inheritdoc IFailoverFeed
    function decimals() external view override returns (uint8) {
        return _decimals;
    }

    /// @inheritdoc IFailoverFeed
    function description() external view override returns (string memory) {
        return _description;
    }

    /// @inheritdoc IFailoverFeed
    function version() external pure override returns (uint256) {
        return _VERSION;
    }

    /// @inheritdoc IFailoverFeed
    function latestRoundData()
        external
        view
        override
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        Round memory r = _latest();
        return (r.roundId, r.answer, r.startedAt, r.updatedAt, r.answeredInRound);
    }

    /// @inheritdoc IFailoverFeed
    function getRoundData(
        uint80 roundId
    )
        external
        view
        override
        returns (uint80 roundId_, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        Round memory r = _round(roundId);
        return (r.roundId, r.answer, r.startedAt, r.updatedAt, r.answeredInRound);
    }

    // ------------------------------------------------------------------------------------------------
    // AggregatorInterface (v2): the same checks, one value each
    // ------------------------------------------------------------------------------------------------

    /// @notice The `answer` of {latestRoundData}, with its checks and reverts (never a stale or non-positive value).
    function latestAnswer() external view override returns (int256) {
        return _latest().answer;
    }

    /// @notice The `updatedAt` of {latestRoundData} (Unix seconds), with its checks and reverts.
    function latestTimestamp() external view override returns (uint256) {
        return _latest().updatedAt;
    }

    /// @notice The `roundId` of {latestRoundData}, with its checks and reverts, so `getAnswer(latestRound())`
    /// never reads a round {latestRoundData} would refuse.
    function latestRound() external view override returns (uint256) {
        return _latest().roundId;
    }

    /// @notice The `answer` of {getRoundData}, with its checks and reverts; {FailoverFeedRoundNotAvailable}
    /// above uint80 (where Chainlink's proxy returns 0, which is never a price here).
    function getAnswer(uint256 roundId) external view override returns (int256) {
        return _round(_toRoundId(roundId)).answer;
    }

    /// @notice The `updatedAt` of {getRoundData} (Unix seconds), with its checks and reverts.
    function getTimestamp(uint256 roundId) external view override returns (uint256) {
        return _round(_toRoundId(roundId)).updatedAt;
    }

    // ------------------------------------------------------------------------------------------------
    // Phases
    // ------------------------------------------------------------------------------------------------

    /// @inheritdoc IFailoverFeed
    function syncPhases() external returns (uint256 added) {
        return _sync();
    }

    /// @inheritdoc IFailoverFeed
    function registry() external view returns (IEndpointRegistry) {
        return _registry;
    }

    /// @inheritdoc IFailoverFeed
    function serviceId() external view returns (bytes32) {
        return _serviceId;
    }

    /// @inheritdoc IFailoverFeed
    function maxAge() external view returns (uint256) {
        return _maxAge;
    }

    /// @inheritdoc IFailoverFeed
    function phaseCount() external view returns (uint16) {
        return uint16(_phaseEndpoints.length);
    }

    /// @inheritdoc IFailoverFeed
    function phaseId() external view returns (uint16) {
        return _phases[_registry.activeEndpointId(_serviceId)].phaseId;
    }

    /// @inheritdoc IFailoverFeed
    function aggregator() external view returns (address) {
        return _phases[_registry.activeEndpointId(_serviceId)].feed;
    }

    /// @inheritdoc IFailoverFeed
    function phaseAggregators(uint16 phaseId_) external view returns (address feed) {
        (, feed, ) = phase(phaseId_);
    }

    /// @inheritdoc IFailoverFeed
    function phase(
        uint16 phaseId_
    ) public view returns (bytes32 endpointId, address feed, uint8 feedDecimals) {
        if (phaseId_ == 0 || phaseId_ > _phaseEndpoints.length) return (bytes32(0), address(0), 0);
        endpointId = _phaseEndpoints[phaseId_ - 1];
        Phase memory p = _phases[endpointId];
        return (endpointId, p.feed, p.feedDecimals);
    }

    /// @inheritdoc IFailoverFeed
    function phaseOf(bytes32 endpointId) external view returns (uint16) {
        return _phases[endpointId].phaseId;
    }

    // ------------------------------------------------------------------------------------------------
    // Internals
    // ------------------------------------------------------------------------------------------------

    /// @dev The active source's latest round, refused when stale, from the future or otherwise bad.
    function _latest() private view returns (Round memory round) {
        bytes32 endpointId = _registry.activeEndpointId(_serviceId);
        Phase memory p = _phases[endpointId];
        if (p.phaseId == 0) revert FailoverFeedUnknownEndpoint(endpointId);
        round = _read(p.feed, false, 0);
        uint256 updatedAt = round.updatedAt;
        if (updatedAt > block.timestamp) revert FailoverFeedFutureAnswer(endpointId, updatedAt);
        if (updatedAt == 0 || block.timestamp - updatedAt > _maxAge) {
            revert FailoverFeedStaleAnswer(endpointId, updatedAt, _maxAge);
        }
        _convert(endpointId, p, round);
    }

    /// @dev Round `roundId` of its phase's source (history: no age check).
    function _round(uint80 roundId) private view returns (Round memory round) {
        (uint16 id, uint80 sourceRoundId) = FeedRounds.decode(roundId);
        if (id == 0 || id > _phaseEndpoints.length) revert FailoverFeedUnknownPhase(id);
        bytes32 endpointId = _phaseEndpoints[id - 1];
        Phase memory p = _phases[endpointId];
        round = _read(p.feed, true, sourceRoundId);
        if (round.updatedAt == 0) revert FailoverFeedRoundNotAvailable(roundId);
        _convert(endpointId, p, round);
    }

    /// @dev The source's round as it reports it: the latest, or `sourceRoundId` when `historical`.
    function _read(
        address feed,
        bool historical,
        uint80 sourceRoundId
    ) private view returns (Round memory r) {
        if (historical) {
            (r.roundId, r.answer, r.startedAt, r.updatedAt, r.answeredInRound) = AggregatorV3Interface(feed)
                .getRoundData(sourceRoundId);
        } else {
            (r.roundId, r.answer, r.startedAt, r.updatedAt, r.answeredInRound) = AggregatorV3Interface(feed)
                .latestRoundData();
        }
    }

    /// @dev Turn a source round of phase `p` into this feed's, in place: answer positive and scaled exactly,
    /// round ids in the phase, the source's decimals unchanged.
    function _convert(bytes32 endpointId, Phase memory p, Round memory round) private view {
        int256 answer = round.answer;
        if (answer <= 0) revert FailoverFeedNonPositiveAnswer(endpointId, answer);
        uint8 feedDecimals = AggregatorV3Interface(p.feed).decimals();
        if (feedDecimals != p.feedDecimals) {
            revert FailoverFeedDecimalsChanged(endpointId, feedDecimals, p.feedDecimals);
        }
        int256 factor = int256(10 ** uint256(_decimals - feedDecimals));
        if (answer > type(int256).max / factor) revert FailoverFeedAnswerOverflow(endpointId, answer);
        round.answer = answer * factor;
        round.roundId = _inPhase(endpointId, p.phaseId, round.roundId);
        round.answeredInRound = _inPhase(endpointId, p.phaseId, round.answeredInRound);
    }

    function _inPhase(bytes32 endpointId, uint16 id, uint80 sourceRoundId) private pure returns (uint80) {
        (bool ok, uint80 roundId) = FeedRounds.encode(id, sourceRoundId);
        if (!ok) revert FailoverFeedRoundIdUnsupported(endpointId, sourceRoundId);
        return roundId;
    }

    /// @dev Add a phase for every endpoint of the service not yet copied, in registry order.
    function _sync() private returns (uint256 added) {
        IEndpointRegistry.Endpoint[] memory eps = _registry.endpointsOf(_serviceId);
        for (uint256 i = _phaseEndpoints.length; i < eps.length; ++i) {
            _addPhase(eps[i]);
            ++added;
        }
    }

    function _addPhase(IEndpointRegistry.Endpoint memory e) private {
        if (e.kind != IEndpointRegistry.EndpointKind.ORACLE_FEED)
            revert FailoverFeedNotOracleFeed(e.id, e.kind);
        (bool ok, uint256 chainId, address feed) = Caip10.parseEip155(e.uri);
        if (!ok) revert FailoverFeedInvalidUri(e.id, e.uri);
        if (chainId != block.chainid) revert FailoverFeedWrongChain(e.id, chainId, block.chainid);
        if (feed.code.length == 0 || feed == address(this)) revert FailoverFeedNoCode(e.id, feed);
        uint8 feedDecimals = AggregatorV3Interface(feed).decimals();
        if (feedDecimals > _decimals) revert FailoverFeedLossyDecimals(e.id, feedDecimals, _decimals);
        _phaseEndpoints.push(e.id);
        uint16 id = uint16(_phaseEndpoints.length);
        _phases[e.id] = Phase({feed: feed, feedDecimals: feedDecimals, phaseId: id});
        emit PhaseAdded(id, e.id, feed, feedDecimals);
    }

    function _toRoundId(uint256 roundId) private pure returns (uint80) {
        if (roundId > type(uint80).max) revert FailoverFeedRoundNotAvailable(roundId);
        return uint80(roundId);
    }
}
