// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IHealthOracle} from "../../contracts/interfaces/IHealthOracle.sol";
import {OracleSetTest} from "./utils/OracleTest.sol";

/**
 * @title OracleLivenessTest
 * @notice Liveness of health model v2 (issue 8; THREATS #29): when at least `quorum` honest attestors see an
 * endpoint BAD for `fallRounds` consecutive rounds, ONE honest relayer transaction with the full latest round makes
 * it DOWN, whatever the adversary relayed before: any subsets of any earlier rounds in any order and at any delay
 * within `maxAge`, liars' reports of anything (GOOD with long streaks), and a front-run of the same round with a
 * subset. The same for HEALTHY after `riseRounds` GOOD rounds.
 *
 * Honest attestors probe every round and count their own streaks as the attestor keeper does (`nextStreaks`);
 * the ones outside the designated quorum see anything (broken paths, a split).
 */
abstract contract OracleLivenessTest is OracleSetTest {
    uint256 internal constant MAX_LEAD_ROUNDS = 4;
    uint256 internal constant ADVERSARY_TRIES = 3;

    struct Run {
        uint256 target; // 0 BAD (expect DOWN), 2 GOOD (expect HEALTHY)
        uint256 designated; // bitmap of >= quorum honest members that see `target`
        uint64 first;
        uint64 last;
    }

    /// @dev Per round: each member's signed values and times (liars' are made up per submission).
    mapping(uint64 round => mapping(uint256 member => bytes)) internal honestValues;
    mapping(uint64 round => mapping(uint256 member => uint64)) internal honestTimes;
    mapping(uint256 member => uint8) internal bad;
    mapping(uint256 member => uint8) internal good;

    function testFuzz_honestQuorumBadForFallRoundsGoesDownInOneTransaction(uint256 seed) public {
        _liveness(seed, 0);
    }

    function testFuzz_honestQuorumGoodForRiseRoundsGoesHealthyInOneTransaction(uint256 seed) public {
        _liveness(seed, 2);
    }

    /// @notice Issue 8, attack 1: a front-runner relays only every other round (825, 827, 830, 832, ... in the
    /// report) while the endpoint is dead: it still goes DOWN as soon as a relayed round carries the attestors'
    /// own streaks of `fallRounds`, and the heartbeat never holds it at DEGRADED.
    function testFuzz_attack1_relayingEveryOtherRoundStillGoesDown(uint8 fallSeed, uint8 gapSeed) public {
        _setPolicy(uint8(_bound(fallSeed, 2, 6)), 2);
        uint64 round = uint64(block.timestamp / ROUND_SECONDS) + 1;
        _prior(HEALTHY, round - 1);
        uint256 gap = _bound(gapSeed, 2, 3);
        bool down;
        for (uint256 r = 1; r <= uint256(fallRounds) + gap; ++r) {
            uint64 current = round + uint64(r) - 1;
            vm.warp(current * ROUND_SECONDS + 1);
            if (r % gap != 0 && r != uint256(fallRounds) + gap) continue; // withheld
            bytes[] memory values = new bytes[](n);
            uint64[] memory times = new uint64[](n);
            for (uint256 i; i < n; ++i) {
                values[i] = _uniform(Value(0, uint8(r), 0), 1);
                times[i] = current * ROUND_SECONDS;
            }
            (bool ok, ) = _submit(current, _subset(0, _honestMask(), _honestMask()), values, times);
            require(ok, "relayed round rejected");
            if (r >= fallRounds) down = true;
            require((_status() == DOWN) == down, down ? "not DOWN once streaks reached fallRounds" : "DOWN early");
        }
        require(down && _status() == DOWN, "never DOWN");
    }

    // ------------------------------------------------------------------------------------------------

    function _liveness(uint256 seed, uint256 target) internal {
        Run memory run;
        run.target = target;
        _setPolicy(uint8(_bound(seed, 1, 5)), uint8(_bound(seed >> 8, 1, 5)));
        run.designated = _designated(seed >> 16);
        uint256 window = target == 0 ? fallRounds : riseRounds;
        run.first = uint64(block.timestamp / ROUND_SECONDS) + 1;
        run.last = run.first + uint64(_bound(seed >> 24, 0, MAX_LEAD_ROUNDS) + window) - 1;

        for (uint64 round = run.first; round <= run.last; ++round) {
            uint64 latest = _probe(run, round, _rand(seed, round), round + window > run.last);
            vm.warp(latest + _bound(_rand(seed, round + 1_000), 0, (round + 1) * ROUND_SECONDS - 1 - latest));
            // The adversary relays whatever it likes of the rounds still within maxAge (reverts cost it only).
            uint256 tries = _rand(seed, round + 2_000) % (ADVERSARY_TRIES + 1);
            for (uint256 t; t < tries; ++t) _adversary(run, _rand(seed, round * 10 + t), round);
        }
        // Front-run of the latest round with a subset, then the honest relayer's full round.
        _adversaryOn(run, _rand(seed, 3_000), run.last);
        (IHealthOracle.SignedReport[] memory all, bytes memory blob) = _fullRound(run, _rand(seed, 4_000));
        oracle.submit(oracle.configDigest(), run.last, ids, all, blob);
        IHealthOracle.Status expected = target == 0 ? IHealthOracle.Status.DOWN : IHealthOracle.Status.HEALTHY;
        require(oracle.statusOf(ids[0]).status == expected, "one honest transaction did not make the verdict");
    }

    /// @dev A random set of at least `quorum` honest members.
    function _designated(uint256 seed) internal view returns (uint256 s) {
        s = _subset(seed, _honestMask(), _honestMask());
    }

    /// @dev Round `round`: honest members observe (designated ones: the target class from `inWindow` on, anything
    /// before; the others anything) and count their streaks; returns the latest signature time.
    function _probe(Run memory run, uint64 round, uint256 seed, bool inWindow) internal returns (uint64 latest) {
        latest = round * ROUND_SECONDS;
        for (uint256 i; i < n; ++i) {
            if (_isLiar(i)) continue;
            uint256 roll = _rand(seed, i);
            bool designated = (run.designated >> i) & 1 == 1;
            uint256 cls = designated && inWindow ? run.target : roll % 3;
            uint16 health = _healthOfClass(cls, roll >> 8);
            (bad[i], good[i]) = _nextStreaks(bad[i], good[i], health, true);
            honestValues[round][i] = abi.encodePacked(health, bad[i], good[i]);
            uint64 time = round * ROUND_SECONDS + uint64((roll >> 64) % ROUND_SECONDS);
            honestTimes[round][i] = time;
            if (time > latest) latest = time;
        }
        if (latest > block.timestamp) vm.warp(latest);
    }

    /// @dev One adversarial submission of one of the last three rounds up to `latest`.
    function _adversary(Run memory run, uint256 seed, uint64 latest) internal {
        uint64 back = uint64(seed % 3);
        if (latest < run.first + back) return;
        _adversaryOn(run, seed >> 8, latest - back);
    }

    /// @dev Any subset of `round`'s honest reports plus liars' reports of anything (often the opposite verdict
    /// with long streaks), at any time inside the round; a rejection (stale, ...) is the adversary's loss.
    function _adversaryOn(Run memory run, uint256 seed, uint64 round) internal {
        (bytes[] memory values, uint64[] memory times) = _roundData(run, round, seed);
        uint256 included = _subset(seed >> 128, (uint256(1) << n) - 1, _honestMask());
        _submit(round, included, values, times);
    }

    /// @dev Every member's report of `round` as the honest relayer collects it: honest as signed, liars anything
    /// in range (a relayer drops what does not verify; nothing else is filtered).
    function _fullRound(
        Run memory run,
        uint256 seed
    ) internal view returns (IHealthOracle.SignedReport[] memory, bytes memory) {
        (bytes[] memory values, uint64[] memory times) = _roundData(run, run.last, seed);
        return _reports(run.last, (uint256(1) << n) - 1, values, times);
    }

    function _roundData(
        Run memory run,
        uint64 round,
        uint256 seed
    ) internal view returns (bytes[] memory values, uint64[] memory times) {
        values = new bytes[](n);
        times = new uint64[](n);
        for (uint256 i; i < n; ++i) {
            if (_isLiar(i)) {
                uint256 roll = _rand(seed, i);
                Value memory v = _anyValue(roll, fallRounds, riseRounds);
                if (roll % 2 == 0) v = run.target == 0 ? Value(MAX_BPS, 0, 255) : Value(0, 255, 0);
                values[i] = _uniform(v, 1);
                uint64 time = round * ROUND_SECONDS + uint64((roll >> 128) % ROUND_SECONDS);
                times[i] = time > block.timestamp + MAX_SKEW ? uint64(block.timestamp + MAX_SKEW) : time;
            } else {
                values[i] = honestValues[round][i];
                times[i] = honestTimes[round][i];
            }
        }
    }
}

/// @notice n = 4, f = 1, quorum 3; member 1 lies.
contract OracleLivenessN4Test is OracleLivenessTest {
    function _size() internal pure override returns (uint256, uint256, uint256) {
        return (4, 1, 1 << 1);
    }
}

/// @notice n = 7, f = 2, quorum 5; members 0 and 4 lie.
contract OracleLivenessN7Test is OracleLivenessTest {
    function _size() internal pure override returns (uint256, uint256, uint256) {
        return (7, 2, (1 << 0) | (1 << 4));
    }
}
