// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Strings} from "@openzeppelin/contracts/utils/Strings.sol";
import {FailoverFeed} from "../../contracts/adapters/FailoverFeed.sol";
import {EndpointRegistry} from "../../contracts/EndpointRegistry.sol";
import {IEndpointRegistry} from "../../contracts/interfaces/IEndpointRegistry.sol";
import {IFailoverFeed} from "../../contracts/interfaces/IFailoverFeed.sol";
import {IHealthOracle} from "../../contracts/interfaces/IHealthOracle.sol";
import {Caip10} from "../../contracts/libraries/Caip10.sol";
import {FeedRounds} from "../../contracts/libraries/FeedRounds.sol";
import {MockAggregator} from "../../contracts/test/MockAggregator.sol";
import {MockHealthOracle} from "../../contracts/test/MockHealthOracle.sol";
import {VigilTest} from "./utils/VigilTest.sol";

/// @dev A service of `count` feeds with the given decimals, fresh at answer 1, and helpers to build it.
abstract contract FeedFixture is VigilTest {
    uint256 internal constant MAX_AGE_S = 3_600;

    function _caip(address feed) internal view returns (string memory) {
        return string.concat("eip155:", Strings.toString(block.chainid), ":", Strings.toHexString(feed));
    }

    function _service(
        EndpointRegistry registry,
        string memory name,
        uint8[] memory feedDecimals
    ) internal returns (bytes32 serviceId, bytes32[] memory ids, MockAggregator[] memory feeds) {
        serviceId = registry.registerService(name, IEndpointRegistry.ServiceConfig(0, 0));
        ids = new bytes32[](feedDecimals.length);
        feeds = new MockAggregator[](feedDecimals.length);
        for (uint256 i; i < feedDecimals.length; ++i) {
            feeds[i] = new MockAggregator(feedDecimals[i], "feed");
            feeds[i].updateAnswer(1);
            ids[i] = registry.addEndpoint(
                serviceId,
                IEndpointRegistry.EndpointKind.ORACLE_FEED,
                _caip(address(feeds[i])),
                uint16(i)
            );
        }
    }
}

/**
 * @title FailoverFeedHandler
 * @notice Drives {FailoverFeedInvariantsTest}: a service of four feeds with fuzzed decimals, prices written with any
 * value and any age (including zero, negative, stale and future rounds), failovers to any endpoint, clock steps.
 * After every action it reads the adapter and counts in ghost counters what must never happen.
 */
contract FailoverFeedHandler is FeedFixture {
    MockHealthOracle internal immutable oracle;
    EndpointRegistry internal immutable registry;
    FailoverFeed internal immutable feed;
    bytes32 internal immutable serviceId;
    bytes32[] internal ids;
    MockAggregator[] internal feeds;
    uint8 internal immutable adapterDecimals;

    // Violations (must stay zero).
    /// @notice latestRoundData answered a non-positive value.
    uint256 public nonPositiveServed;
    /// @notice latestRoundData answered a round older than maxAge or from the future.
    uint256 public staleServed;
    /// @notice The answer was not the active source's answer times 10^(decimals - source decimals).
    uint256 public inexactScaling;
    /// @notice The round id's phase was not the active endpoint's, or did not decode to the source's round.
    uint256 public wrongPhase;
    /// @notice getRoundData of an earlier served round id answered something else than when it was served.
    uint256 public historyChanged;

    // Coverage.
    uint256 public served;
    uint256 public refused;
    uint256 public failovers;
    uint256 public historyChecks;

    uint80[] internal servedIds;
    mapping(uint80 roundId => int256) internal servedAnswer;

    constructor(
        MockHealthOracle oracle_,
        EndpointRegistry registry_,
        uint8 adapterDecimals_,
        uint8[] memory dec
    ) {
        oracle = oracle_;
        registry = registry_;
        adapterDecimals = adapterDecimals_;
        MockAggregator[] memory f;
        bytes32 sid;
        bytes32[] memory list;
        (sid, list, f) = _service(registry_, "fuzzed", dec);
        serviceId = sid;
        for (uint256 i; i < f.length; ++i) {
            ids.push(list[i]);
            feeds.push(f[i]);
            oracle_.setStatus(list[i], IHealthOracle.Status.HEALTHY, 10_000);
        }
        feed = new FailoverFeed(registry_, sid, adapterDecimals_, MAX_AGE_S, "fuzzed");
    }

    /// @notice Write a round to feed `i`: any answer, `age` seconds old (or `age - 2^31` in the future when flagged).
    function write(uint256 i, int256 answer, uint32 age, bool future) external {
        MockAggregator f = feeds[i % feeds.length];
        uint256 at =
            future ? block.timestamp + (uint256(age) % 1_000) + 1 : block.timestamp - (uint256(age) % 10_000);
        f.setRound(f.latestRoundId() + 1, answer, at, at);
        _check();
    }

    /// @notice Fail the service over to endpoint `i`: every other endpoint DOWN, `i` HEALTHY.
    function failover(uint256 i) external {
        i %= ids.length;
        if (registry.activeEndpointId(serviceId) == ids[i]) return;
        for (uint256 j; j < ids.length; ++j) {
            oracle.setStatus(ids[j], j == i ? IHealthOracle.Status.HEALTHY : IHealthOracle.Status.DOWN, 0);
        }
        registry.migrate(serviceId);
        ++failovers;
        _check();
    }

    function warp(uint16 seconds_) external {
        vm.warp(block.timestamp + seconds_);
        _check();
    }

    function _check() internal {
        try feed.latestRoundData() returns (
            uint80 roundId,
            int256 answer,
            uint256,
            uint256 updatedAt,
            uint80
        ) {
            ++served;
            if (answer <= 0) ++nonPositiveServed;
            if (updatedAt == 0 || updatedAt > block.timestamp || block.timestamp - updatedAt > MAX_AGE_S)
                ++staleServed;
            bytes32 active = registry.activeEndpointId(serviceId);
            uint16 p = feed.phaseOf(active);
            (uint16 phaseId, uint80 sourceRound) = FeedRounds.decode(roundId);
            MockAggregator source = feeds[p - 1];
            (uint80 latestId, int256 raw, , , ) = source.latestRoundData();
            if (phaseId != p || sourceRound != latestId) ++wrongPhase;
            if (answer != raw * int256(10 ** (adapterDecimals - source.decimals()))) ++inexactScaling;
            if (servedIds.length < 256 && servedAnswer[roundId] == 0) {
                servedIds.push(roundId);
                servedAnswer[roundId] = answer;
            }
        } catch {
            ++refused;
        }
        // Rounds served earlier, in any phase, still answer the same through getRoundData.
        if (servedIds.length != 0) {
            uint80 old = servedIds[
                uint256(keccak256(abi.encode(block.timestamp, served))) % servedIds.length
            ];
            (, int256 again, , , ) = feed.getRoundData(old);
            ++historyChecks;
            if (again != servedAnswer[old]) ++historyChanged;
        }
    }
}

/**
 * @title FailoverFeedInvariantsTest
 * @notice The FailoverFeed's rules for all inputs: round ids round-trip through phases, scaling is exact or refused,
 * and no stale, future or non-positive answer is ever served, across failovers between feeds of fuzzed decimals.
 */
contract FailoverFeedInvariantsTest is FeedFixture {
    MockHealthOracle internal oracle;
    EndpointRegistry internal registry;
    FailoverFeedHandler internal handler;

    function setUp() public {
        vm.warp(T0);
        oracle = new MockHealthOracle();
        registry = new EndpointRegistry(IHealthOracle(address(oracle)));
        uint8[] memory dec = new uint8[](4);
        (dec[0], dec[1], dec[2], dec[3]) = (8, 18, 0, 6);
        handler = new FailoverFeedHandler(oracle, registry, 18, dec);
    }

    function targetContracts() public view returns (address[] memory) {
        return _onlyTarget(address(handler));
    }

    function targetSelectors() public view returns (FuzzSelector[] memory) {
        bytes4[] memory selectors = new bytes4[](3);
        selectors[0] = FailoverFeedHandler.write.selector;
        selectors[1] = FailoverFeedHandler.failover.selector;
        selectors[2] = FailoverFeedHandler.warp.selector;
        return _onlySelectors(address(handler), selectors);
    }

    function invariant_neverServesABadAnswer() public view {
        require(handler.nonPositiveServed() == 0, "served a non-positive answer");
        require(handler.staleServed() == 0, "served a stale or future answer");
    }

    function invariant_scalingExactAndPhasesRight() public view {
        require(handler.inexactScaling() == 0, "answer not scaled exactly");
        require(handler.wrongPhase() == 0, "round id not in the active endpoint's phase");
        require(handler.historyChanged() == 0, "an earlier round answered differently");
    }

    /// @notice The handler reaches what the invariants are about: served and refused reads, failovers, history.
    function test_handlerCoversServedRefusedFailoverAndHistory() public {
        handler.write(0, 1e8, 0, false); // phase 1 fresh
        handler.failover(1);
        handler.write(1, 2e18, 10, false); // phase 2 fresh
        handler.write(1, -1, 0, false); // refused: negative
        handler.write(1, 3e18, 5_000, false); // refused: stale
        handler.failover(2);
        handler.write(2, 7, 0, false); // phase 3, 0 decimals, scaled by 1e18
        handler.warp(4_000); // everything stale now
        require(handler.served() >= 3 && handler.refused() >= 3, "served and refused not reached");
        require(handler.failovers() == 2 && handler.historyChecks() > 0, "failover or history not reached");
        invariant_neverServesABadAnswer();
        invariant_scalingExactAndPhasesRight();
    }

    /// @notice Three feeds of fuzzed decimals: after a failover to any of them the answer is its own, scaled
    /// exactly, in its phase, and the first phase's round still answers as before.
    function testFuzz_failoverAcrossFuzzedDecimals(
        uint8[3] memory dec,
        uint64[3] memory answers,
        uint8 to
    ) public {
        uint8 adapterDecimals = 24;
        uint8[] memory d = new uint8[](3);
        for (uint256 i; i < 3; ++i) d[i] = dec[i] % (adapterDecimals + 1);
        (bytes32 sid, bytes32[] memory ids, MockAggregator[] memory feeds) = _service(registry, "three", d);
        FailoverFeed feed = new FailoverFeed(registry, sid, adapterDecimals, MAX_AGE_S, "x");
        for (uint256 i; i < 3; ++i) feeds[i].updateAnswer(int256(uint256(answers[i])) + 1);
        (uint80 firstRound, int256 firstAnswer, , , ) = feed.latestRoundData();
        uint256 t = uint256(to) % 3;
        if (t != 0) {
            for (uint256 j; j < 3; ++j) {
                oracle.setStatus(
                    ids[j],
                    j == t ? IHealthOracle.Status.HEALTHY : IHealthOracle.Status.DOWN,
                    0
                );
            }
            registry.migrate(sid);
        }
        (uint80 roundId, int256 answer, , , ) = feed.latestRoundData();
        require(roundId == (uint80(t + 1) << 64) | 2, "phase of the active endpoint");
        require(
            answer == (int256(uint256(answers[t])) + 1) * int256(10 ** (adapterDecimals - d[t])),
            "inexact"
        );
        require(feed.phaseId() == t + 1 && feed.aggregator() == address(feeds[t]), "phase views");
        (, int256 again, , , ) = feed.getRoundData(firstRound);
        require(firstRound >> 64 == 1 && again == firstAnswer, "older phase changed");
    }

    // ------------------------------------------------------------------------------------------------
    // Round ids
    // ------------------------------------------------------------------------------------------------

    /// @notice Any representable source round id comes back from its phase's round id unchanged.
    function testFuzz_roundIdRoundTrips(uint16 phaseId, uint80 sourceRoundId) public pure {
        (bool ok, uint80 roundId) = FeedRounds.encode(phaseId, sourceRoundId);
        uint256 r = sourceRoundId;
        bool representable = r < (1 << 48) || (r >= (1 << 64) && uint64(r) < (1 << 48));
        require(ok == representable, "representability");
        if (!ok) return;
        require(roundId >> 64 == phaseId, "phase is roundId >> 64");
        (uint16 p, uint80 back) = FeedRounds.decode(roundId);
        require(p == phaseId && back == sourceRoundId, "decode(encode(x)) != x");
        if (r < (1 << 48)) require(uint64(roundId) == r, "an aggregator's round id kept as it is");
    }

    /// @notice Every uint80 decodes to a phase and a source id that encode back to it (a bijection).
    function testFuzz_everyRoundIdDecodesAndEncodesBack(uint80 roundId) public pure {
        (uint16 p, uint80 sourceRoundId) = FeedRounds.decode(roundId);
        (bool ok, uint80 again) = FeedRounds.encode(p, sourceRoundId);
        require(ok && again == roundId, "encode(decode(x)) != x");
    }

    /// @notice Within a phase, `roundId - 1` is the source's previous round (consumers' round arithmetic).
    function testFuzz_previousRoundIsOneLess(uint16 phaseId, uint48 sourceRoundId) public pure {
        vm.assume(sourceRoundId > 0);
        (, uint80 roundId) = FeedRounds.encode(phaseId, sourceRoundId);
        (, uint80 previous) = FeedRounds.encode(phaseId, sourceRoundId - 1);
        require(previous == roundId - 1, "roundId - 1");
    }

    // ------------------------------------------------------------------------------------------------
    // Decimals and freshness through the adapter
    // ------------------------------------------------------------------------------------------------

    /// @notice Any source decimals at most the adapter's scale exactly; more are refused at construction.
    function testFuzz_scalingExactOrRefused(uint8 adapterDecimals, uint8 feedDecimals, int256 answer) public {
        adapterDecimals = adapterDecimals % 37;
        feedDecimals = feedDecimals % 40;
        uint8[] memory dec = new uint8[](1);
        dec[0] = feedDecimals;
        (bytes32 sid, bytes32[] memory ids, MockAggregator[] memory feeds) = _service(registry, "one", dec);
        if (feedDecimals > adapterDecimals) {
            try new FailoverFeed(registry, sid, adapterDecimals, MAX_AGE_S, "x") {
                revert("lossy decimals accepted");
            } catch (bytes memory reason) {
                require(
                    keccak256(reason) ==
                        keccak256(
                            abi.encodeWithSelector(
                                IFailoverFeed.FailoverFeedLossyDecimals.selector,
                                ids[0],
                                feedDecimals,
                                adapterDecimals
                            )
                        ),
                    "wrong error"
                );
            }
            return;
        }
        FailoverFeed feed = new FailoverFeed(registry, sid, adapterDecimals, MAX_AGE_S, "x");
        feeds[0].updateAnswer(answer);
        int256 factor = int256(10 ** uint256(adapterDecimals - feedDecimals));
        try feed.latestRoundData() returns (uint80, int256 scaled, uint256, uint256, uint80) {
            require(answer > 0 && answer <= type(int256).max / factor, "served what it should refuse");
            require(scaled == answer * factor && scaled / factor == answer, "inexact");
        } catch {
            require(answer <= 0 || answer > type(int256).max / factor, "refused a good answer");
        }
    }

    /// @notice Whatever the source's age, the adapter answers exactly when the round is 0..maxAge seconds old.
    function testFuzz_freshnessBoundary(uint32 age, bool future) public {
        uint8[] memory dec = new uint8[](1);
        dec[0] = 8;
        (bytes32 sid, , MockAggregator[] memory feeds) = _service(registry, "age", dec);
        FailoverFeed feed = new FailoverFeed(registry, sid, 8, MAX_AGE_S, "x");
        uint256 at = future ? block.timestamp + 1 + (age % 1_000) : block.timestamp - (age % 100_000);
        feeds[0].setRound(2, 5, at, at);
        bool fresh = !future && block.timestamp - at <= MAX_AGE_S;
        try feed.latestRoundData() returns (uint80, int256, uint256, uint256 updatedAt, uint80) {
            require(fresh && updatedAt == at, "served a stale or future round");
        } catch {
            require(!fresh, "refused a fresh round");
        }
    }

    /// @notice The CAIP-10 parser reads back what it is given for any chain id and address.
    function testFuzz_caip10RoundTrips(uint64 chainId, address account) public pure {
        chainId = uint64(bound(chainId, 1, 9_999_999_999_999_999));
        string memory uri = string.concat(
            "eip155:",
            Strings.toString(chainId),
            ":",
            Strings.toHexString(account)
        );
        (bool ok, uint256 c, address a) = Caip10.parseEip155(uri);
        require(ok && c == chainId && a == account, "caip-10 round trip");
    }

    function bound(uint64 x, uint64 lo, uint64 hi) internal pure returns (uint64) {
        return lo + (x % (hi - lo + 1));
    }
}
