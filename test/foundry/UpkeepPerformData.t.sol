// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {EndpointRegistry} from "../../contracts/EndpointRegistry.sol";
import {MarketGuard} from "../../contracts/MarketGuard.sol";
import {VigilUpkeep} from "../../contracts/adapters/VigilUpkeep.sol";
import {IEndpointRegistry} from "../../contracts/interfaces/IEndpointRegistry.sol";
import {IGuardedMarket} from "../../contracts/interfaces/IGuardedMarket.sol";
import {IHealthOracle} from "../../contracts/interfaces/IHealthOracle.sol";
import {IMarketGuard} from "../../contracts/interfaces/IMarketGuard.sol";
import {IVigilUpkeep} from "../../contracts/interfaces/IVigilUpkeep.sol";
import {MockHealthOracle} from "../../contracts/test/MockHealthOracle.sol";
import {MockMarket} from "../../contracts/test/MockMarket.sol";
import {VigilTest} from "./utils/VigilTest.sol";

/**
 * @title UpkeepPerformDataTest
 * @notice THREATS #26 (`performUpkeep` fed forged data): for fuzzed endpoint health (a MockHealthOracle
 * under the real EndpointRegistry, MarketGuard and VigilUpkeep) and fuzzed `performData` (raw bytes, and
 * canonical or mutated `abi.encode(Action[])` with real, unknown and repeated ids), the upkeep changes the
 * active endpoint or a market's pause only when the registry's or guard's own view said it was due, and
 * reverts without any change when nothing was due.
 */
contract UpkeepPerformDataTest is VigilTest {
    MockHealthOracle internal oracle;
    EndpointRegistry internal registry;
    MarketGuard internal guard;
    VigilUpkeep internal upkeep;
    bytes32 internal serviceId;
    bytes32[] internal endpointIds;
    MockMarket[] internal markets;

    struct Due {
        bool migrate;
        bool[] trip;
        bool[] resume;
    }

    function setUp() public {
        vm.warp(T0);
        oracle = new MockHealthOracle();
        registry = new EndpointRegistry(IHealthOracle(address(oracle)));
        guard = new MarketGuard(address(this), IHealthOracle(address(oracle)), registry, 200_000);
        upkeep = new VigilUpkeep(registry, guard);
        (serviceId, endpointIds) = _threeEndpointService(registry, 300, 600);
        bytes32[] memory none = new bytes32[](0);
        bytes32[] memory services = new bytes32[](1);
        services[0] = serviceId;
        bytes32[] memory direct = new bytes32[](1);
        direct[0] = endpointIds[2];
        markets.push(new MockMarket());
        markets.push(new MockMarket());
        guard.registerMarket(
            IMarketGuard.MarketConfig(
                IGuardedMarket(address(markets[0])),
                address(0),
                6_000,
                300,
                services,
                none
            )
        );
        guard.registerMarket(
            IMarketGuard.MarketConfig(
                IGuardedMarket(address(markets[1])),
                address(0),
                9_000,
                300,
                none,
                direct
            )
        );
    }

    /// @notice Arbitrary bytes as `performData`.
    function testFuzz_rawPerformDataChangesNothingUnlessDue(
        uint256 healthSeed,
        bytes calldata performData
    ) public {
        _randomHealth(healthSeed);
        _performAndCheck(performData);
    }

    /// @notice Canonical `abi.encode(Action[])` of 0..12 actions over real, unknown and repeated ids, sometimes
    /// with one byte flipped, truncated or extended.
    function testFuzz_structuredPerformDataChangesNothingUnlessDue(
        uint256 healthSeed,
        uint256 actionSeed
    ) public {
        _randomHealth(healthSeed);
        uint256 count = _bound(actionSeed, 0, 12);
        IVigilUpkeep.Action[] memory actions = new IVigilUpkeep.Action[](count);
        for (uint256 i; i < count; ++i) {
            uint256 roll = uint256(keccak256(abi.encode(actionSeed, i)));
            IVigilUpkeep.ActionKind kind = IVigilUpkeep.ActionKind(roll % 3);
            uint256 pick = (roll >> 8) % 6;
            bytes32 id =
                pick == 0
                    ? serviceId
                    : pick == 5
                        ? bytes32(roll >> 16)
                        : bytes32(pick - 1); // 0..3: markets 1, 2 and unknown ids
            actions[i] = IVigilUpkeep.Action(kind, id);
        }
        bytes memory data = abi.encode(actions);
        uint256 mutation = (actionSeed >> 128) % 8;
        if (mutation == 0 && data.length > 0) {
            uint256 at = (actionSeed >> 136) % data.length;
            data[at] = bytes1(uint8(data[at]) ^ uint8(1 << ((actionSeed >> 200) % 8)));
        } else if (mutation == 1 && data.length > 0) {
            assembly ("memory-safe") {
                mstore(data, sub(mload(data), 1))
            }
        } else if (mutation == 2) {
            data = abi.encodePacked(data, bytes32(actionSeed));
        }
        _performAndCheck(data);
    }

    // ------------------------------------------------------------------------------------------------
    // Helpers
    // ------------------------------------------------------------------------------------------------

    /// @dev Random status, median, quorum floor (at most the median) and ceiling (at least the median), and
    /// `since` per endpoint; sometimes a prior pause of a market (via a trip when due), so resumes can be due
    /// too; then time moves on.
    function _randomHealth(uint256 seed) internal {
        for (uint256 i; i < endpointIds.length; ++i) {
            uint256 roll = uint256(keccak256(abi.encode(seed, i)));
            uint16 median = uint16((roll >> 8) % 10_001);
            uint16 floor = uint16((roll >> 80) % (uint256(median) + 1));
            uint16 ceiling = uint16(median + ((roll >> 96) % (10_001 - uint256(median))));
            oracle.setHealth(
                endpointIds[i],
                IHealthOracle.EndpointHealth({
                    status: IHealthOracle.Status(roll % 4),
                    healthBps: median,
                    since: uint64(block.timestamp - ((roll >> 32) % 2_000)),
                    round: uint64(block.timestamp / 60),
                    updatedAt: uint64(block.timestamp),
                    floorBps: floor,
                    ceilingBps: ceiling
                })
            );
        }
        if (seed % 3 == 0) {
            for (uint256 m = 1; m <= 2; ++m) {
                (IMarketGuard.GuardCheck check, ) = guard.tripStatus(m);
                if (check == IMarketGuard.GuardCheck.DUE) guard.trip(m);
            }
            // Then the endpoints recover, or not.
            for (uint256 i; i < endpointIds.length; ++i) {
                uint256 roll = uint256(keccak256(abi.encode(seed, "after", i)));
                if (roll % 2 == 0)
                    oracle.setStatusSince(
                        endpointIds[i],
                        IHealthOracle.Status.HEALTHY,
                        9_500,
                        uint64(block.timestamp)
                    );
            }
        }
        vm.warp(block.timestamp + ((seed >> 64) % 1_000));
    }

    function _due() internal view returns (Due memory due) {
        (IEndpointRegistry.MigrationCheck check, , ) = registry.migrationStatus(serviceId);
        due.migrate =
            check == IEndpointRegistry.MigrationCheck.DUE_FAILOVER ||
            check == IEndpointRegistry.MigrationCheck.DUE_FAILBACK;
        due.trip = new bool[](2);
        due.resume = new bool[](2);
        for (uint256 m = 1; m <= 2; ++m) {
            (IMarketGuard.GuardCheck trip, ) = guard.tripStatus(m);
            (IMarketGuard.GuardCheck resume, ) = guard.resumeStatus(m);
            due.trip[m - 1] = trip == IMarketGuard.GuardCheck.DUE;
            due.resume[m - 1] = resume == IMarketGuard.GuardCheck.DUE;
        }
    }

    function _performAndCheck(bytes memory data) internal {
        Due memory due = _due();
        bytes32 activeBefore = registry.activeEndpointId(serviceId);
        bool[2] memory pausedBefore = [guard.isPaused(1), guard.isPaused(2)];
        bool ok;
        try upkeep.performUpkeep(data) {
            ok = true;
        } catch {}
        bool anythingDue = due.migrate || due.trip[0] || due.trip[1] || due.resume[0] || due.resume[1];
        if (!anythingDue) require(!ok, "performUpkeep succeeded with nothing due");
        if (registry.activeEndpointId(serviceId) != activeBefore)
            require(due.migrate, "migrated while not due");
        for (uint256 m; m < 2; ++m) {
            bool paused = guard.isPaused(m + 1);
            if (paused && !pausedBefore[m]) require(due.trip[m], "tripped while not due");
            if (!paused && pausedBefore[m]) require(due.resume[m], "resumed while not due");
            require(paused == markets[m].paused(), "guard and market disagree");
        }
    }
}
