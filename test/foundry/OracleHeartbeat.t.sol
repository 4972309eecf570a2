// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IHealthOracle} from "../../contracts/interfaces/IHealthOracle.sol";
import {OracleSetTest} from "./utils/OracleTest.sol";

/**
 * @title OracleHeartbeatTest
 * @notice Heartbeat and freshness of health model v2 (issue 8; THREATS #6, #29): staleness counts from the
 * quorum's observation time (`updatedAt`, see `_quorumTime` in utils/OracleTest.sol), never from inclusion. A
 * withheld report relayed late (within `maxAge`) never keeps an endpoint out of UNKNOWN past its observation time
 * plus the heartbeat, unless a newer round was accepted; `maxAge` and `maxSkew` hold to the second.
 */
abstract contract OracleHeartbeatTest is OracleSetTest {
    /// @notice Honest attestors observe round r; the relayer withholds their reports and relays any subset (liars
    /// at any time inside the round) as late as `maxAge` allows. The stored observation time is the quorum time of
    /// the relayed times, never later than the latest honest one; the status holds until exactly that time plus the
    /// heartbeat, then reads UNKNOWN, and relaying the round again cannot revive it.
    function testFuzz_withheldReportNeverOutlivesObservationPlusHeartbeat(uint256 seed) public {
        uint64 round = uint64(block.timestamp / ROUND_SECONDS) + 1;
        _prior((seed >> 8) % 4, round - 1);
        bytes[] memory values = new bytes[](n);
        uint64[] memory times = new uint64[](n);
        uint16 health = _healthOfClass((seed >> 16) % 3, seed >> 24);
        for (uint256 i; i < n; ++i) {
            uint256 roll = _rand(seed, i);
            values[i] = _uniform(Value(_isLiar(i) ? uint16(roll % (MAX_BPS + 1)) : health, 255, 255), 1);
            times[i] = round * ROUND_SECONDS + uint64((roll >> 64) % ROUND_SECONDS);
        }
        uint256 included = _subset(seed >> 128, (uint256(1) << n) - 1, _honestMask());
        (uint64 quorumTime, uint64 latestHonest) = _quorumTimeAndLatestHonest(included, times);
        // Withheld: relayed at any time up to quorumTime + maxAge (and not before every report was signed).
        uint64 signedBy = _latestTime(included, times);
        vm.warp(_bound(seed >> 200, signedBy, quorumTime + MAX_AGE));
        (bool ok, ) = _submit(round, included, values, times);
        require(ok, "a report within maxAge was rejected");

        IHealthOracle.EndpointHealth memory h = oracle.statusOf(ids[0]);
        require(h.updatedAt == quorumTime, "updatedAt is not the quorum observation time of the relayed reports");
        require(h.updatedAt <= latestHonest, "updatedAt later than every honest observation");
        IHealthOracle.Status status = h.status;
        vm.warp(uint256(quorumTime) + HEARTBEAT - 1);
        require(oracle.statusOf(ids[0]).status == status, "status lapsed before observation + heartbeat");
        vm.warp(uint256(quorumTime) + HEARTBEAT);
        require(oracle.statusOf(ids[0]).status == IHealthOracle.Status.UNKNOWN, "not UNKNOWN at observation + heartbeat");

        // The same round again, any subset: too old to count.
        _expectStale(round, _subset(seed >> 160, (uint256(1) << n) - 1, _honestMask()), values, times);
        require(oracle.statusOf(ids[0]).status == IHealthOracle.Status.UNKNOWN, "revived by an old round");
    }

    /// @notice Issue 8, attack 3: relaying a withheld round observed 59 s ago does not reset the heartbeat: the
    /// endpoint reads UNKNOWN at that round's observation time plus the heartbeat, not at inclusion plus it.
    function test_attack3_relayingAWithheldRoundDoesNotExtendLiveness() public {
        uint64 round = uint64(block.timestamp / ROUND_SECONDS) + 1;
        uint64 observedAt = round * ROUND_SECONDS;
        bytes[] memory values = new bytes[](n);
        uint64[] memory times = new uint64[](n);
        for (uint256 i; i < n; ++i) {
            values[i] = _uniform(Value(MAX_BPS, 0, 255), 1);
            times[i] = observedAt;
        }
        vm.warp(observedAt + 59);
        (bool ok, ) = _submit(round, _honestMask(), values, times);
        require(ok, "withheld round rejected");
        require(_status() == HEALTHY, "not HEALTHY");
        vm.warp(observedAt + HEARTBEAT);
        require(_status() == UNKNOWN, "the withheld round extended liveness");
    }

    /// @notice maxAge to the second: a quorum observation time exactly `maxAge` old is accepted, one second older is
    /// rejected with {HealthOracleStaleObservation}.
    function testFuzz_maxAgeBoundary(uint8 offsetSeed, bool older) public {
        uint64 round = uint64(block.timestamp / ROUND_SECONDS) + 1;
        uint64 observedAt = round * ROUND_SECONDS + uint64(_bound(offsetSeed, 0, ROUND_SECONDS - 1));
        (bytes[] memory values, uint64[] memory times) = _same(observedAt);
        vm.warp(uint256(observedAt) + MAX_AGE + (older ? 1 : 0));
        bytes32 digest = oracle.configDigest();
        (IHealthOracle.SignedReport[] memory reports, bytes memory blob) = _reports(round, _honestMask(), values, times);
        if (older) {
            vm.expectRevert(
                abi.encodeWithSelector(IHealthOracle.HealthOracleStaleObservation.selector, ids[0], observedAt, MAX_AGE)
            );
        }
        oracle.submit(digest, round, ids, reports, blob);
        if (!older) require(oracle.statusOf(ids[0]).updatedAt == observedAt, "not stored");
    }

    /// @notice maxSkew to the second: a report at `block.timestamp + maxSkew` is accepted, one second later is
    /// rejected with {HealthOracleObservationFromFuture} naming its position.
    function testFuzz_maxSkewBoundary(uint8 positionSeed, bool later) public {
        uint64 round = uint64(block.timestamp / ROUND_SECONDS) + 1;
        uint64 observedAt = round * ROUND_SECONDS + ROUND_SECONDS - 1;
        vm.warp(observedAt - MAX_SKEW - (later ? 1 : 0));
        (bytes[] memory values, uint64[] memory times) = _same(observedAt - 1);
        uint256 included = _honestMask();
        uint256 position = _bound(positionSeed, 0, _popCount(included) - 1);
        uint256 member = _nth(included, position);
        times[member] = observedAt;
        bytes32 digest = oracle.configDigest();
        (IHealthOracle.SignedReport[] memory reports, bytes memory blob) = _reports(round, included, values, times);
        if (later) {
            vm.expectRevert(
                abi.encodeWithSelector(
                    IHealthOracle.HealthOracleObservationFromFuture.selector,
                    position,
                    observedAt,
                    uint64(block.timestamp + MAX_SKEW)
                )
            );
        }
        oracle.submit(digest, round, ids, reports, blob);
    }

    // ------------------------------------------------------------------------------------------------

    /// @dev Relaying `included` of `round` now fails {HealthOracleStaleObservation} with their quorumTime time.
    function _expectStale(uint64 round, uint256 included, bytes[] memory values, uint64[] memory times) internal {
        (uint64 quorumTime, ) = _quorumTimeAndLatestHonest(included, times);
        bytes32 digest = oracle.configDigest();
        (IHealthOracle.SignedReport[] memory reports, bytes memory blob) = _reports(round, included, values, times);
        vm.expectRevert(
            abi.encodeWithSelector(IHealthOracle.HealthOracleStaleObservation.selector, ids[0], quorumTime, MAX_AGE)
        );
        oracle.submit(digest, round, ids, reports, blob);
    }

    function _same(uint64 observedAt) internal view returns (bytes[] memory values, uint64[] memory times) {
        values = new bytes[](n);
        times = new uint64[](n);
        for (uint256 i; i < n; ++i) {
            values[i] = _uniform(Value(MAX_BPS, 0, 255), 1);
            times[i] = observedAt;
        }
    }

    function _nth(uint256 mask, uint256 k) internal view returns (uint256) {
        for (uint256 i; i < n; ++i) {
            if ((mask >> i) & 1 == 0) continue;
            if (k == 0) return i;
            --k;
        }
        revert("not enough members");
    }

    /// @dev The quorum observation time of the relayed reports and the latest honest time among them.
    function _quorumTimeAndLatestHonest(
        uint256 included,
        uint64[] memory times
    ) internal view returns (uint64 quorumTime, uint64 latestHonest) {
        uint256[] memory xs = new uint256[](n);
        uint256 count;
        for (uint256 i; i < n; ++i) {
            if ((included >> i) & 1 == 0) continue;
            xs[count++] = times[i];
            if (!_isLiar(i) && times[i] > latestHonest) latestHonest = times[i];
        }
        quorumTime = uint64(_quorumTime(xs, count));
    }

    function _latestTime(uint256 included, uint64[] memory times) internal view returns (uint64 latest) {
        for (uint256 i; i < n; ++i) {
            if ((included >> i) & 1 == 1 && times[i] > latest) latest = times[i];
        }
    }
}

/// @notice n = 4, f = 1, quorum 3; member 1 lies.
contract OracleHeartbeatN4Test is OracleHeartbeatTest {
    function _size() internal pure override returns (uint256, uint256, uint256) {
        return (4, 1, 1 << 1);
    }
}

/// @notice n = 7, f = 2, quorum 5; members 0 and 4 lie.
contract OracleHeartbeatN7Test is OracleHeartbeatTest {
    function _size() internal pure override returns (uint256, uint256, uint256) {
        return (7, 2, (1 << 0) | (1 << 4));
    }
}
