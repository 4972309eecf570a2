// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IHealthOracle} from "../../contracts/interfaces/IHealthOracle.sol";
import {OracleSetTest} from "./utils/OracleTest.sol";

/**
 * @title OracleSafetyTest
 * @notice Safety of health model v2 (issue 8; THREATS #11, #29, #30): with at most f lying attestors and a
 * relayer that picks any subset of at least `quorum` reports,
 * - no subsets of one round yield both DOWN and HEALTHY (quorums of 2f+1 out of 3f+1 share an honest attestor,
 *   which signs one report per round), and every status change is backed by a quorum of its round;
 * - `floorBps` (the quorum-th highest value) is at most the (q - f)-th highest honest value of the round and
 *   `ceilingBps` (the quorum-th lowest) at least the (q - f)-th lowest: a pause (`ceilingBps < T`) needs
 *   f + 1 honest reports below T, a resume (`floorBps >= T`) f + 1 honest reports at or above T. The bounds are
 *   exact: the relayer plus the liars attain them.
 * The invariant form over whole adversarial histories is in OracleInvariants.t.sol.
 */
abstract contract OracleSafetyTest is OracleSetTest {
    uint256 internal constant SUBMISSIONS = 4;

    /// @notice Several subsets of one round (liars switching between two conflicting reports) relayed one after
    /// another from any prior status: never both a DOWN and a HEALTHY verdict, every change backed by a quorum.
    function testFuzz_noSubsetsOfOneRoundYieldBothDownAndHealthy(uint256 seed) public {
        _setPolicy(uint8(_bound(seed, 1, 4)), uint8(_bound(seed >> 8, 1, 4)));
        uint64 round = uint64(block.timestamp / ROUND_SECONDS) + 1;
        _prior((seed >> 16) % 4, round - 1);
        vm.warp(round * ROUND_SECONDS + ROUND_SECONDS - 1);

        // Honest: one report each. Liars: two conflicting reports each (A and B).
        bytes[] memory honestOrA = new bytes[](n);
        bytes[] memory liarB = new bytes[](n);
        uint64[] memory times = new uint64[](n);
        for (uint256 i; i < n; ++i) {
            uint256 roll = _rand(seed, i);
            times[i] = round * ROUND_SECONDS + uint64(roll % ROUND_SECONDS);
            if (_isLiar(i)) {
                honestOrA[i] = _uniform(_anyValue(roll >> 8, fallRounds, riseRounds), 1);
                liarB[i] = _uniform(_anyValue(roll >> 80, fallRounds, riseRounds), 1);
            } else {
                honestOrA[i] = _uniform(_honestValue((roll >> 8) % 3, roll >> 16), 1);
                liarB[i] = honestOrA[i];
            }
        }

        uint256 verdicts;
        for (uint256 k; k < SUBMISSIONS; ++k) {
            uint256 roll = _rand(seed, 1_000 + k);
            uint256 included = _subset(roll, (uint256(1) << n) - 1, _honestMask());
            verdicts |= _relayAndCheck(round, included, (roll >> 64) % 2 == 0 ? honestOrA : liarB, times);
            require(verdicts != 3, "one round yielded both DOWN and HEALTHY");
        }
    }

    /// @dev Relays `included` of `round`, checks that a status change is backed by a quorum of it (and q - f
    /// honest), and returns its verdicts: bit 0 DOWN, bit 1 HEALTHY (quorum evidence, or the transition).
    function _relayAndCheck(
        uint64 round,
        uint256 included,
        bytes[] memory values,
        uint64[] memory times
    ) internal returns (uint256 verdicts) {
        uint256 before = _status();
        (bool ok, ) = _submit(round, included, values, times);
        require(ok, "a valid subset was rejected");
        uint256 afterwards = _status();
        (Votes memory votes, Votes memory honest) = _countVotes(included, values);
        string memory why = _unbacked(before, afterwards, votes, quorum);
        require(bytes(why).length == 0, why);
        bool toDown = afterwards != before && afterwards == DOWN;
        bool toHealthy = afterwards != before && afterwards == HEALTHY;
        require(!toDown || honest.bad >= quorum - f, "DOWN with fewer than q-f honest BAD");
        require(!toHealthy || honest.good >= quorum - f, "HEALTHY with fewer than q-f honest GOOD");
        if (votes.bad >= quorum || toDown) verdicts |= 1;
        if (votes.good >= quorum || toHealthy) verdicts |= 2;
    }

    /// @notice Any subset, any lies: floorBps <= (q-f)-th highest honest value, ceilingBps >= (q-f)-th lowest,
    /// lower median between the lowest and the highest honest value relayed.
    function testFuzz_floorAndCeilingBoundedByHonestValues(uint256 seed) public {
        uint64 round = uint64(block.timestamp / ROUND_SECONDS);
        bytes[] memory values = new bytes[](n);
        uint64[] memory times = new uint64[](n);
        uint256[] memory honestAll = new uint256[](n);
        uint256 honestCount;
        for (uint256 i; i < n; ++i) {
            uint256 roll = _rand(seed, i);
            times[i] = round * ROUND_SECONDS;
            Value memory v = _isLiar(i) ? _anyValue(roll, 2, 2) : Value(uint16(roll % (MAX_BPS + 1)), 0, 0);
            if ((roll >> 100) % 3 == 0) v.healthBps = uint16((roll >> 120) % (MAX_BPS + 1)); // anything, anyone
            values[i] = _uniform(v, 1);
            if (!_isLiar(i)) honestAll[honestCount++] = v.healthBps;
        }
        uint256 included = _subset(seed >> 128, (uint256(1) << n) - 1, _honestMask());
        (bool ok, ) = _submit(round, included, values, times);
        require(ok, "a valid subset was rejected");

        IHealthOracle.EndpointHealth memory h = oracle.statusOf(ids[0]);
        uint256 k = quorum - f;
        require(h.floorBps <= _kthHighest(honestAll, honestCount, k), "floorBps above the (q-f)-th highest honest");
        require(h.ceilingBps >= _kthLowest(honestAll, honestCount, k), "ceilingBps below the (q-f)-th lowest honest");
        (uint256 lo, uint256 hi) = (MAX_BPS, 0);
        for (uint256 i; i < n; ++i) {
            if (_isLiar(i) || (included >> i) & 1 == 0) continue;
            uint256 x = _valueAt(values[i], 0).healthBps;
            if (x < lo) lo = x;
            if (x > hi) hi = x;
        }
        require(h.healthBps >= lo && h.healthBps <= hi, "median outside the honest values relayed");
    }

    /// @notice The bounds are exact: relaying the q-f highest honest reports with every liar at 10,000 bps makes
    /// floorBps the (q-f)-th highest honest value; the q-f lowest with every liar at 0 makes ceilingBps the
    /// (q-f)-th lowest.
    function testFuzz_floorAndCeilingBoundsAreAttained(uint256 seed) public {
        uint64 round = uint64(block.timestamp / ROUND_SECONDS);
        uint256[] memory honest = new uint256[](n);
        uint256[] memory index = new uint256[](n);
        uint256 count;
        for (uint256 i; i < n; ++i) {
            if (_isLiar(i)) continue;
            honest[count] = _rand(seed, i) % (MAX_BPS + 1);
            index[count++] = i;
        }
        _sortBy(honest, index, count);
        uint256 k = quorum - f;

        // Floor: the k highest honest and every liar at the top.
        (uint256 included, bytes[] memory values, uint64[] memory times) = _attack(round, honest, index, count, true);
        (bool ok, ) = _submit(round, included, values, times);
        require(ok, "floor attack rejected");
        require(oracle.statusOf(ids[0]).floorBps == honest[count - k], "floor bound not attained");

        // Ceiling: the k lowest honest and every liar at the bottom (a newer round).
        (included, values, times) = _attack(round + 1, honest, index, count, false);
        vm.warp((round + 1) * ROUND_SECONDS);
        (ok, ) = _submit(round + 1, included, values, times);
        require(ok, "ceiling attack rejected");
        require(oracle.statusOf(ids[0]).ceilingBps == honest[k - 1], "ceiling bound not attained");
    }

    /// @notice Issue 8, attack 2: the f liars, one honest attestor whose own path is broken (0 bps) and just
    /// enough honest attestors that read 10,000 bps (a quorum in all) never make the endpoint DOWN, and its
    /// ceilingBps stays at 10,000 (no pause threshold is crossed), however many rounds it lasts.
    function testFuzz_attack2_liarsAndOneBrokenHonestCannotForceDown(uint8 fallSeed, uint8 roundsSeed) public {
        _setPolicy(uint8(_bound(fallSeed, 1, 4)), 2);
        uint64 round = uint64(block.timestamp / ROUND_SECONDS) + 1;
        _prior(HEALTHY, round - 1);
        uint256 count = _bound(roundsSeed, 1, 12);
        uint256 broken = _someHonest(0);
        for (uint256 r; r < count; ++r) {
            uint64 current = round + uint64(r);
            vm.warp(current * ROUND_SECONDS + 1);
            bytes[] memory values = new bytes[](n);
            uint64[] memory times = new uint64[](n);
            uint256 included = liarMask | (uint256(1) << broken);
            for (uint256 i; i < n; ++i) {
                times[i] = current * ROUND_SECONDS;
                uint8 streak = uint8(r + 1 > 255 ? 255 : r + 1);
                if (_isLiar(i) || i == broken) {
                    values[i] = _uniform(Value(0, _isLiar(i) ? 255 : streak, 0), 1);
                } else {
                    values[i] = _uniform(Value(MAX_BPS, 0, uint8(r + 256 > 255 ? 255 : r + 256 - 1)), 1);
                    if (_popCount(included) < quorum) included |= uint256(1) << i;
                }
            }
            (bool ok, ) = _submit(current, included, values, times);
            require(ok, "round rejected");
            IHealthOracle.EndpointHealth memory h = oracle.statusOf(ids[0]);
            require(h.status != IHealthOracle.Status.DOWN, "f liars and one broken honest forced DOWN");
            require(h.ceilingBps == MAX_BPS, "ceilingBps pulled down by a minority");
        }
    }

    // ------------------------------------------------------------------------------------------------

    /// @dev Reports for the floor (`top`) or ceiling attack on sorted honest values `honest` (members `index`).
    function _attack(
        uint64 round,
        uint256[] memory honest,
        uint256[] memory index,
        uint256 count,
        bool top
    ) internal view returns (uint256 included, bytes[] memory values, uint64[] memory times) {
        values = new bytes[](n);
        times = new uint64[](n);
        for (uint256 i; i < n; ++i) {
            times[i] = round * ROUND_SECONDS;
            values[i] = _uniform(Value(top ? MAX_BPS : 0, 0, 0), 1);
        }
        included = liarMask;
        uint256 k = quorum - f;
        for (uint256 j; j < k; ++j) {
            uint256 at = top ? count - 1 - j : j;
            included |= uint256(1) << index[at];
            values[index[at]] = _uniform(Value(uint16(honest[at]), 0, 0), 1);
        }
    }

    /// @dev Sorts `xs[0:len]` ascending, moving `tags` along.
    function _sortBy(uint256[] memory xs, uint256[] memory tags, uint256 len) internal pure {
        for (uint256 i = 1; i < len; ++i) {
            (uint256 x, uint256 t) = (xs[i], tags[i]);
            uint256 j = i;
            while (j > 0 && xs[j - 1] > x) {
                (xs[j], tags[j]) = (xs[j - 1], tags[j - 1]);
                --j;
            }
            (xs[j], tags[j]) = (x, t);
        }
    }

    function _someHonest(uint256 k) internal view returns (uint256) {
        for (uint256 i; i < n; ++i) {
            if (_isLiar(i)) continue;
            if (k == 0) return i;
            --k;
        }
        revert("no honest attestor");
    }
}

/// @notice n = 4, f = 1, quorum 3; member 1 lies.
contract OracleSafetyN4Test is OracleSafetyTest {
    function _size() internal pure override returns (uint256, uint256, uint256) {
        return (4, 1, 1 << 1);
    }
}

/// @notice n = 7, f = 2, quorum 5; members 0 and 4 lie.
contract OracleSafetyN7Test is OracleSafetyTest {
    function _size() internal pure override returns (uint256, uint256, uint256) {
        return (7, 2, (1 << 0) | (1 << 4));
    }
}
