// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {EndpointRegistry} from "../../contracts/EndpointRegistry.sol";
import {HealthOracle} from "../../contracts/HealthOracle.sol";
import {MarketGuard} from "../../contracts/MarketGuard.sol";
import {IEndpointRegistry} from "../../contracts/interfaces/IEndpointRegistry.sol";
import {IGuardedMarket} from "../../contracts/interfaces/IGuardedMarket.sol";
import {IHealthOracle} from "../../contracts/interfaces/IHealthOracle.sol";
import {IMarketGuard} from "../../contracts/interfaces/IMarketGuard.sol";
import {MockMarket} from "../../contracts/test/MockMarket.sol";
import {TestReport, VigilTest} from "./utils/VigilTest.sol";

/**
 * @title GuardHandler
 * @notice The adversary of {GuardInvariantsTest} (health model v2): holds quorum - 1 real attestor keys and any
 * number of outsider keys, relays whatever round it likes (duplicates, any signer order, any values, any subset of
 * endpoints), replays honest rounds alone or padded with its own reports of the same round, pokes the listeners
 * directly, moves the clock, and lets anyone call `migrate`, `trip` and `resume`. Before each trigger it reads the
 * view that says whether it is due; ghost counters record every state change the views did not announce. As the
 * owner, it also moves market ids between a pool of market contracts at any moment, paused or not.
 */
contract GuardHandler is VigilTest {
    HealthOracle internal immutable oracle;
    EndpointRegistry internal immutable registry;
    MarketGuard internal immutable guard;
    bytes32 internal immutable serviceId;

    uint256[] internal minorityKeys;
    bytes32[] internal endpointIds;
    uint256[] internal marketIds;
    MockMarket[] internal pool;
    bytes[] internal replays;

    // Ghost counters: violations (must stay zero) and coverage (how often the due paths ran).
    uint256 public migrationsNotDue;
    uint256 public pausesNotDue;
    uint256 public resumesNotDue;
    uint256 public unexplainedChanges;
    /// @notice Market ids moved to another contract while paused or owed a delivery.
    uint256 public movesNotSettled;
    /// @notice Endpoints that took a round relayed by the handler (a minority, outsiders, or replays).
    uint256 public adversarialUpdates;
    /// @notice Relays the oracle accepted (every endpoint skipped): the replay paths reach the per-endpoint rules.
    uint256 public acceptedRelays;
    uint256 public migrations;
    uint256 public pauses;
    uint256 public resumes;
    uint256 public moves;

    constructor(
        HealthOracle oracle_,
        EndpointRegistry registry_,
        MarketGuard guard_,
        bytes32 serviceId_,
        uint256[] memory minorityKeys_,
        bytes32[] memory endpointIds_,
        uint256[] memory marketIds_,
        MockMarket[] memory pool_
    ) {
        oracle = oracle_;
        registry = registry_;
        guard = guard_;
        serviceId = serviceId_;
        minorityKeys = minorityKeys_;
        endpointIds = endpointIds_;
        marketIds = marketIds_;
        pool = pool_;
    }

    /// @notice A full-quorum round an honest relayer already submitted, `abi.encode(spec, reports)`.
    function addReplay(bytes calldata report) external {
        replays.push(report);
    }

    // ------------------------------------------------------------------------------------------------
    // Actions
    // ------------------------------------------------------------------------------------------------

    /// @notice Relay 1..6 reports mixing the minority's real keys, outsider keys and duplicates, sorted by
    /// signer or not, with any values, for a current round and any non-empty subset of the endpoints.
    function submit(uint256 seed, uint8 endpointMask, uint8 age) external {
        bytes32[] memory ids = _subset(endpointMask);
        uint256 count = _bound(seed, 1, 6);
        uint256[] memory signers = new uint256[](count);
        bytes[] memory values = new bytes[](count);
        for (uint256 i; i < count; ++i) {
            uint256 roll = uint256(keccak256(abi.encode(seed, i)));
            signers[i] =
                roll % 3 == 0
                    ? ((roll >> 8) % (SECP256K1_N - 1)) + 1 // an outsider
                    : minorityKeys[(roll >> 8) % minorityKeys.length]; // a real key, maybe again
            values[i] = _randomValues(roll, ids.length);
        }
        if (seed % 2 == 0) signers = _sortByAddress(signers);
        Spec memory spec = _spec(oracle, ids, uint64(block.timestamp - (age % MAX_AGE)));
        _relay(spec, _reports(spec, signers, values));
    }

    /// @notice Relay an honest full-quorum round again, as it was.
    function replay(uint8 which) external {
        if (replays.length == 0) return;
        (Spec memory spec, TestReport[] memory reports) = abi.decode(
            replays[which % replays.length],
            (Spec, TestReport[])
        );
        _relay(spec, reports);
    }

    /// @notice Pad the honest report of the one quorum signer outside the minority, from an already relayed round,
    /// with the minority's own reports of that round (any values): the quorum's count with quorum - 1 liars,
    /// sorted by signer as the oracle requires.
    function padReplay(uint8 which, uint256 seed) external {
        if (replays.length == 0) return;
        (Spec memory spec, TestReport[] memory honest) = abi.decode(
            replays[which % replays.length],
            (Spec, TestReport[])
        );
        uint256 n = minorityKeys.length;
        uint256[] memory keys = new uint256[](n);
        bytes[] memory values = new bytes[](n);
        for (uint256 i; i < n; ++i) {
            keys[i] = minorityKeys[i];
            values[i] = _randomValues(uint256(keccak256(abi.encode(seed, i))), spec.endpointIds.length);
        }
        TestReport[] memory own = _reports(spec, keys, values);
        TestReport memory one = honest[honest.length - 1]; // signed by the key after the minority
        address oneSigner = _signerOf(spec, one);
        // Merge by signer address (own reports are already ascending: the minority keys are a sorted prefix).
        TestReport[] memory all = new TestReport[](n + 1);
        uint256 k;
        bool placed;
        for (uint256 i; i < n; ++i) {
            if (!placed && oneSigner < vm.addr(keys[i])) {
                all[k++] = one;
                placed = true;
            }
            all[k++] = own[i];
        }
        if (!placed) all[k] = one;
        _relay(spec, all);
    }

    /// @notice Call the listeners directly, pretending to be the oracle.
    function fakeNotify(address caller, uint8 endpointSel, uint8 status) external {
        bytes32 endpointId = endpointIds[endpointSel % endpointIds.length];
        IHealthOracle.Status current = IHealthOracle.Status(status % 4);
        _Snapshot memory s = _snapshot();
        vm.prank(caller);
        try registry.onStatusChange(endpointId, IHealthOracle.Status.HEALTHY, current) {} catch {}
        vm.prank(caller);
        try guard.onStatusChange(endpointId, IHealthOracle.Status.HEALTHY, current) {} catch {}
        _expectUnchanged(s);
    }

    function migrate(address caller) external {
        (IEndpointRegistry.MigrationCheck check, , ) = registry.migrationStatus(serviceId);
        bool due =
            check == IEndpointRegistry.MigrationCheck.DUE_FAILOVER ||
                check == IEndpointRegistry.MigrationCheck.DUE_FAILBACK;
        _Snapshot memory s = _snapshot();
        vm.prank(caller);
        try registry.migrate(serviceId) {
            ++migrations;
            if (!due) ++migrationsNotDue;
            s.active = registry.activeEndpointId(serviceId); // the one change this call may make
        } catch {}
        _expectUnchanged(s);
    }

    function trip(address caller, uint8 marketSel) external {
        uint256 marketId = marketIds[marketSel % marketIds.length];
        (IMarketGuard.GuardCheck check, ) = guard.tripStatus(marketId);
        _Snapshot memory s = _snapshot();
        vm.prank(caller);
        try guard.trip(marketId) {
            ++pauses;
            if (check != IMarketGuard.GuardCheck.DUE) ++pausesNotDue;
            s.paused[marketSel % marketIds.length] = true;
        } catch {}
        _expectUnchanged(s);
    }

    function resume(address caller, uint8 marketSel) external {
        uint256 marketId = marketIds[marketSel % marketIds.length];
        (IMarketGuard.GuardCheck check, ) = guard.resumeStatus(marketId);
        _Snapshot memory s = _snapshot();
        vm.prank(caller);
        try guard.resume(marketId) {
            ++resumes;
            if (check != IMarketGuard.GuardCheck.DUE) ++resumesNotDue;
            s.paused[marketSel % marketIds.length] = false;
        } catch {}
        _expectUnchanged(s);
    }

    /// @notice As the owner, point a market id at a contract of the pool (its own, another id's, or a spare), with
    /// its other settings unchanged. The guard must refuse unless the id is open and its last decision delivered.
    function moveMarket(uint8 marketSel, uint8 poolSel) external {
        uint256 marketId = marketIds[marketSel % marketIds.length];
        IMarketGuard.MarketConfig memory config = guard.marketConfig(marketId);
        address to = address(pool[poolSel % pool.length]);
        if (to == address(config.market)) return;
        bool settled =
            !guard.isPaused(marketId) && guard.deliveryStatus(marketId) == IMarketGuard.Delivery.NONE;
        config.market = IGuardedMarket(to);
        _Snapshot memory s = _snapshot();
        vm.prank(guard.owner());
        try guard.setMarketConfig(marketId, config) {
            ++moves;
            if (!settled) ++movesNotSettled;
        } catch {}
        _expectUnchanged(s);
    }

    function warp(uint16 seconds_) external {
        vm.warp(block.timestamp + (seconds_ % 301));
    }

    // ------------------------------------------------------------------------------------------------
    // Ghost bookkeeping
    // ------------------------------------------------------------------------------------------------

    struct _Snapshot {
        bytes32 active;
        bool[] paused;
    }

    function _snapshot() internal view returns (_Snapshot memory s) {
        s.active = registry.activeEndpointId(serviceId);
        s.paused = new bool[](marketIds.length);
        for (uint256 i; i < marketIds.length; ++i) s.paused[i] = guard.isPaused(marketIds[i]);
    }

    /// @dev Counts every difference between `expected` and the state now.
    function _expectUnchanged(_Snapshot memory expected) internal {
        _Snapshot memory now_ = _snapshot();
        if (now_.active != expected.active) ++unexplainedChanges;
        for (uint256 i; i < marketIds.length; ++i) {
            if (now_.paused[i] != expected.paused[i]) ++unexplainedChanges;
        }
    }

    /// @dev Submit and record how many endpoints took the round; the state must not move either way.
    function _relay(Spec memory spec, TestReport[] memory reports) internal {
        _Snapshot memory s = _snapshot();
        (bool ok, , uint256 updated, ) = _trySubmit(oracle, spec, reports);
        if (ok) ++acceptedRelays;
        adversarialUpdates += updated;
        _expectUnchanged(s);
    }

    /// @dev A non-empty subset of the endpoints, ascending.
    function _subset(uint8 mask) internal view returns (bytes32[] memory ids) {
        uint256 m = (mask % 7) + 1; // 1..7 over three endpoints
        uint256 n;
        for (uint256 i; i < 3; ++i) if (m & (1 << i) != 0) ++n;
        ids = new bytes32[](n);
        uint256 k;
        for (uint256 i; i < 3; ++i) if (m & (1 << i) != 0) ids[k++] = endpointIds[i];
        _sortIds(ids);
    }

    /// @dev Any health 0..10_000 and any streaks, per endpoint.
    function _randomValues(uint256 roll, uint256 n) internal pure returns (bytes memory values) {
        for (uint256 e; e < n; ++e) {
            uint256 r = uint256(keccak256(abi.encode(roll, e)));
            values = abi.encodePacked(values, _value(uint16(r % 10_001), uint8(r >> 16), uint8(r >> 24)));
        }
    }

    function _signerOf(Spec memory spec, TestReport memory report) internal pure returns (address) {
        bytes32 s = report.vs & bytes32(~(uint256(1) << 255));
        uint8 v = uint8(uint256(report.vs) >> 255) + 27;
        return ecrecover(_reportDigest(spec, report.values), v, report.r, s);
    }
}

/**
 * @title GuardInvariantsTest
 * @notice Invariant proofs for THREATS #8 (collusion of up to quorum - 1 attestors plus outsider keys) and
 * #15 (griefing through the permissionless triggers), on the real HealthOracle (3 of 4), EndpointRegistry
 * and MarketGuard wired as in production (both listeners registered). Three endpoints of one service
 * were made HEALTHY by an honest quorum in `setUp`, staggered so that, as the handler moves the clock, a
 * failover becomes due, then a trip; the adversary's calls must never do more than the views announce,
 * and no submission of the minority ever changes an endpoint's health.
 */
contract GuardInvariantsTest is VigilTest {
    uint8 internal constant QUORUM = 3;

    HealthOracle internal oracle;
    EndpointRegistry internal registry;
    MarketGuard internal guard;
    GuardHandler internal handler;
    /// @dev The two markets' first contracts, then two spares the handler may move them to.
    MockMarket[] internal markets;
    bytes32[] internal endpointIds;
    IHealthOracle.EndpointHealth[] internal initial;

    function setUp() public {
        vm.warp(T0);
        uint256[] memory keys = _sortedKeys("attestor", 4);
        oracle = _deployOracle(keys, QUORUM, 2, 2);
        registry = new EndpointRegistry(oracle);
        guard = new MarketGuard(address(this), oracle, registry, 200_000);
        oracle.addStatusListener(address(registry));
        oracle.addStatusListener(address(guard));

        bytes32 serviceId;
        (serviceId, endpointIds) = _threeEndpointService(registry, 300, 600);

        uint256[] memory marketIds = new uint256[](2);
        bytes32[] memory none = new bytes32[](0);
        bytes32[] memory services = new bytes32[](1);
        services[0] = serviceId;
        bytes32[] memory direct = new bytes32[](1);
        direct[0] = endpointIds[2];
        for (uint256 i; i < 4; ++i) markets.push(new MockMarket());
        marketIds[0] = guard.registerMarket(
            IMarketGuard.MarketConfig(
                IGuardedMarket(address(markets[0])),
                address(0),
                6_000,
                300,
                services,
                none
            )
        );
        marketIds[1] = guard.registerMarket(
            IMarketGuard.MarketConfig(
                IGuardedMarket(address(markets[1])),
                address(0),
                9_000,
                300,
                none,
                direct
            )
        );

        handler = new GuardHandler(
            oracle,
            registry,
            guard,
            serviceId,
            _prefix(keys, QUORUM - 1),
            endpointIds,
            marketIds,
            markets
        );

        // Honest history: A HEALTHY first, B and C eight minutes later, so A lapses to UNKNOWN first.
        uint256[] memory quorumKeys = _prefix(keys, QUORUM); // the minority and one more key
        bytes32[] memory first = new bytes32[](1);
        first[0] = endpointIds[0];
        _honestRounds(quorumKeys, first);
        vm.warp(block.timestamp + 360);
        bytes32[] memory later = new bytes32[](2);
        (later[0], later[1]) = (endpointIds[1], endpointIds[2]);
        _honestRounds(quorumKeys, later);
        for (uint256 i; i < endpointIds.length; ++i) initial.push(oracle.statusOf(endpointIds[i]));
        require(initial[0].status == IHealthOracle.Status.HEALTHY, "setup: A not HEALTHY");
    }

    /// @dev Tells forge to call only the handler...
    function targetContracts() public view returns (address[] memory) {
        return _onlyTarget(address(handler));
    }

    /// @dev ...and only its actions (not its setup function {GuardHandler.addReplay}).
    function targetSelectors() public view returns (FuzzSelector[] memory) {
        bytes4[] memory selectors = new bytes4[](9);
        selectors[0] = GuardHandler.submit.selector;
        selectors[1] = GuardHandler.replay.selector;
        selectors[7] = GuardHandler.padReplay.selector;
        selectors[2] = GuardHandler.fakeNotify.selector;
        selectors[3] = GuardHandler.migrate.selector;
        selectors[4] = GuardHandler.trip.selector;
        selectors[5] = GuardHandler.resume.selector;
        selectors[6] = GuardHandler.warp.selector;
        selectors[8] = GuardHandler.moveMarket.selector;
        return _onlySelectors(address(handler), selectors);
    }

    /// @notice The handler's due paths are reachable from `setUp` (the invariants are not vacuous): A
    /// lapses first and the service fails over to B, then everything lapses and both markets trip. A market
    /// moves to a spare contract while open, and not while paused.
    function test_handlerReachesDuePaths() public {
        // B and C's last honest round, replayed as it was and padded with quorum - 1 liars: both accepted,
        // neither taken (the round is stored and the liars cannot make a transition).
        handler.replay(3);
        handler.padReplay(3, 42);
        require(handler.acceptedRelays() == 2, "replays did not reach the oracle's per-endpoint rules");
        invariant_minorityNeverChangesHealth();
        handler.moveMarket(0, 2);
        require(handler.moves() == 1, "move while settled refused");
        handler.warp(200);
        handler.migrate(address(0xBEEF));
        require(handler.migrations() == 1, "failover not reached");
        handler.warp(300);
        handler.warp(300);
        handler.trip(address(0xBEEF), 0);
        handler.trip(address(0xBEEF), 1);
        require(handler.pauses() == 2, "trips not reached");
        handler.moveMarket(0, 3);
        handler.moveMarket(1, 3);
        require(handler.moves() == 1, "moved while paused");
        invariant_noMigrationUnlessDue();
        invariant_noPauseOrResumeUnlessDue();
        invariant_noUnannouncedStateChange();
        invariant_marketsMirrorTheGuard();
        invariant_noMoveUnlessSettled();
    }

    function invariant_noMigrationUnlessDue() public view {
        require(handler.migrationsNotDue() == 0, "migration while the registry said not due");
    }

    function invariant_noPauseOrResumeUnlessDue() public view {
        require(handler.pausesNotDue() == 0, "pause while the guard said not due");
        require(handler.resumesNotDue() == 0, "resume while the guard said not due");
    }

    function invariant_noMoveUnlessSettled() public view {
        require(handler.movesNotSettled() == 0, "market id moved while paused or owed a delivery");
    }

    function invariant_noUnannouncedStateChange() public view {
        require(handler.unexplainedChanges() == 0, "active endpoint or pause changed outside a due trigger");
    }

    /// @notice No endpoint ever takes a round the handler relayed (a minority with outsiders, a replay, or a
    /// replay padded with quorum - 1 liars), and every stored value (median, floor, ceiling, round, time) stays.
    function invariant_minorityNeverChangesHealth() public view {
        require(handler.adversarialUpdates() == 0, "an endpoint took a minority or replayed round");
        for (uint256 i; i < endpointIds.length; ++i) {
            IHealthOracle.EndpointHealth memory h = oracle.statusOf(endpointIds[i]);
            require(
                h.round == initial[i].round &&
                    h.updatedAt == initial[i].updatedAt &&
                    h.healthBps == initial[i].healthBps &&
                    h.floorBps == initial[i].floorBps &&
                    h.ceilingBps == initial[i].ceilingBps,
                "endpoint health changed without a quorum"
            );
        }
    }

    /// @notice Every decision is delivered (well-behaved markets, enough gas: THREATS #17), and then the guard's
    /// record and each id's current contract agree, and no contract the ids moved away from is left paused.
    function invariant_marketsMirrorTheGuard() public view {
        uint256 count = guard.marketCount();
        for (uint256 id = 1; id <= count; ++id) {
            require(guard.deliveryStatus(id) == IMarketGuard.Delivery.NONE, "decision not delivered");
            MockMarket market = MockMarket(address(guard.marketConfig(id).market));
            require(guard.isPaused(id) == market.paused(), "guard and market disagree");
        }
        for (uint256 i; i < markets.length; ++i) {
            if (guard.marketIdOf(address(markets[i])) == 0)
                require(!markets[i].paused(), "a contract no id holds is left paused");
        }
    }

    /// @dev Two adjacent GOOD rounds of `ids`, one minute apart, each one report per quorum key covering all of
    /// them (UNKNOWN -> DEGRADED -> HEALTHY with riseRounds = 2), kept for the handler to replay.
    function _honestRounds(uint256[] memory quorumKeys, bytes32[] memory ids) internal {
        _sortIds(ids);
        for (uint8 goodRounds = 1; goodRounds <= 2; ++goodRounds) {
            if (goodRounds == 2) vm.warp(block.timestamp + ROUND_SECONDS);
            (Spec memory spec, TestReport[] memory reports) = _quorumReport(
                oracle,
                quorumKeys,
                ids,
                uint64(block.timestamp),
                9_500,
                0,
                goodRounds
            );
            (bool ok, , uint256 updated, ) = _trySubmit(oracle, spec, reports);
            require(ok && updated == ids.length, "setup: honest round not taken");
            handler.addReplay(abi.encode(spec, reports));
        }
    }
}
