// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {HealthOracle} from "../../contracts/HealthOracle.sol";
import {IHealthOracle} from "../../contracts/interfaces/IHealthOracle.sol";
import {OracleTest} from "./utils/OracleTest.sol";

/**
 * @title OracleAdversary
 * @notice Invariant handler for health model v2 (issue 8, THREATS #10, #14, #29, #30): a real HealthOracle,
 * `n` attestors of which `f` lie, two endpoints, and an adversarial relayer.
 *
 * - Honest attestors probe every round: a ghost truth per endpoint (a regime, BAD / MID / GOOD, that persists),
 *   seen by each attestor with its own deviations (a broken network path) and sometimes missed (offline). Each
 *   keeps its own streaks as the attestor keeper counts them (`nextStreaks`) and signs ONE report per round.
 * - Liars sign anything, per submission: any values and streaks, any time inside the round, conflicting
 *   reports for one round.
 * - The relayer relays any subset of at least `quorum` available reports of any of the last rounds, in any
 *   order, at any delay (older than `maxAge` is rejected and checked to be), front-running the honest relayer;
 *   it proves liars' equivocations and tries to frame honest attestors.
 *
 * Handler functions never revert on a broken property (`fail_on_revert = false` would hide it): they record a
 * violation, which the invariants read. Votes are counted here from the signed bytes, not read from the oracle.
 */
contract OracleAdversary is OracleTest {
    uint256 internal constant ENDPOINTS = 2;
    /// @dev Rounds the relayer picks from: the latest and three before it (older ones are past `maxAge`).
    uint256 internal constant WINDOW = 4;

    enum Property {
        SAFETY,
        BOTH_VERDICTS,
        LIVENESS,
        HEARTBEAT,
        EQUIVOCATION
    }

    /// @notice What one honest attestor observed and signed in one round.
    struct Observation {
        bool signed;
        uint64 observedAt;
        bytes values;
    }

    /// @notice One submission as the handler built it.
    struct Submission {
        uint64 round;
        uint256 included; // bitmap of set indices
        uint256 liars; // liars among them
        IHealthOracle.SignedReport[] reports;
        bytes[] values; // per report
        bytes blob; // concatenated, as submit takes them
        uint64[] times;
        uint64 maxHonestTime;
    }

    HealthOracle public immutable oracle;
    uint256 public immutable n;
    uint256 public immutable f;
    uint8 public immutable quorum;
    uint8 public immutable fallRounds;
    uint8 public immutable riseRounds;

    uint256[] internal keys;
    address[] internal members;
    uint256 internal liarMask;
    bytes32[] internal ids;

    uint64[] internal rounds;
    mapping(uint64 round => mapping(uint256 attestor => Observation)) internal observations;
    mapping(uint256 attestor => mapping(uint256 endpoint => uint8)) internal badStreak;
    mapping(uint256 attestor => mapping(uint256 endpoint => uint8)) internal goodStreak;
    mapping(uint256 attestor => bool) internal missedLast;
    uint256[ENDPOINTS] internal regime;

    // Ghosts.
    uint256[5] public violations;
    string[5] public firstViolation;
    /// bit 0: a DOWN verdict (quorum BAD evidence or a transition to DOWN), bit 1: HEALTHY, per endpoint and round.
    mapping(bytes32 endpointId => mapping(uint64 round => uint256)) internal verdicts;
    /// Latest honest observation time among the reports of any accepted submission the endpoint could take.
    mapping(bytes32 endpointId => uint256) public heartbeatBound;

    // Coverage (the invariants are not vacuous when these are non-zero).
    uint256 public acceptedSubmissions;
    uint256 public staleRejected;
    uint256 public jailedRejected;
    uint256 public transitionsToDown;
    uint256 public transitionsToHealthy;
    uint256 public transitionsToDegraded;
    uint256 public livenessDown;
    uint256 public livenessHealthy;
    uint256 public conflictsProven;
    uint256 public framesRejected;
    uint256 public heartbeatLapses;

    constructor(uint256 n_, uint256 f_, uint8 fallRounds_, uint8 riseRounds_, uint256 liarMask_) {
        vm.warp(T0);
        n = n_;
        f = f_;
        quorum = uint8(2 * f_ + 1);
        fallRounds = fallRounds_;
        riseRounds = riseRounds_;
        keys = _sortedKeys("attestor", n_);
        members = _addresses(keys);
        liarMask = liarMask_;
        ids = _endpointIds(n_, ENDPOINTS);
        oracle = _deployOracle(keys, quorum, fallRounds_, riseRounds_);
        _probe(uint64(T0 / ROUND_SECONDS), uint256(keccak256("first round")));
    }

    // ------------------------------------------------------------------------------------------------
    // Time and truth
    // ------------------------------------------------------------------------------------------------

    /// @notice The next round: every honest attestor probes and signs its report.
    function advance(uint256 seed) external {
        _probe(_latest() + 1, seed);
    }

    /// @notice 2..16 rounds pass (attestors probe each); nobody relays meanwhile.
    function sleep(uint256 seed) external {
        uint256 count = _bound(seed, 2, 16);
        for (uint256 i; i < count; ++i) _probe(_latest() + 1, _rand(seed, i));
    }

    /// @notice Time passes inside the current round.
    function wait(uint256 seed) external {
        uint256 roundEnd = (uint256(_latest()) + 1) * ROUND_SECONDS - 1;
        if (block.timestamp < roundEnd) vm.warp(block.timestamp + _bound(seed, 0, roundEnd - block.timestamp));
        _checkHeartbeatLapse();
    }

    // ------------------------------------------------------------------------------------------------
    // Relayers
    // ------------------------------------------------------------------------------------------------

    /// @notice The adversarial relayer: any of the last rounds, any subset of its reports (honest ones as signed,
    /// liars' made up now, jailed liars included at times), at the current time.
    function relay(uint256 pick, uint256 subset, uint256 lies) external {
        uint256 available = rounds.length < WINDOW ? rounds.length : WINDOW;
        uint64 round = rounds[rounds.length - 1 - (pick % available)];
        uint256 included;
        for (uint256 i; i < n; ++i) {
            if ((subset >> i) & 1 == 0) continue;
            if (_isLiar(i) ? (oracle.isJailed(members[i]) && (lies >> 200) % 4 != 0) : !observations[round][i].signed) {
                continue;
            }
            included |= 1 << i;
        }
        included = _topUp(round, included, subset >> 64);
        if (_popCount(included) < quorum) return;
        _submitAndCheck(_build(round, included, lies), false);
    }

    /// @notice The honest relayer: the full latest round (every honest report and every unjailed liar's, whatever
    /// they say), in one transaction. When a quorum of honest attestors shows BAD for `fallRounds` (GOOD for
    /// `riseRounds`), the endpoint must be DOWN (HEALTHY) after it, whatever was relayed before.
    function honestRelay(uint256 lies) external {
        uint64 round = _latest();
        uint256 included;
        for (uint256 i; i < n; ++i) {
            if (_isLiar(i) ? !oracle.isJailed(members[i]) : observations[round][i].signed) included |= 1 << i;
        }
        if (_popCount(included) < quorum) return;
        _submitAndCheck(_build(round, included, lies), true);
    }

    // ------------------------------------------------------------------------------------------------
    // Equivocation
    // ------------------------------------------------------------------------------------------------

    /// @notice A liar signs two different reports for one round (values, time or endpoint list differ) and
    /// anyone proves it: the pair must always be provable, and the liar jailed.
    function proveConflict(uint256 seed) external {
        uint256 liar = _someLiar(seed);
        address signer = members[liar];
        uint64 round = _latest() - uint64(_bound(seed >> 8, 0, 3));
        (IHealthOracle.ReportEvidence memory a, IHealthOracle.ReportEvidence memory b) = _conflict(liar, round, seed);
        bool wasJailed = oracle.isJailed(signer);
        try oracle.proveEquivocation(round, a, b) {
            if (wasJailed) _violate(Property.EQUIVOCATION, "a jailed attestor was jailed again");
            else if (!oracle.isJailed(signer)) _violate(Property.EQUIVOCATION, "proven equivocator not jailed");
            else ++conflictsProven;
        } catch (bytes memory err) {
            bool expected = wasJailed &&
                keccak256(err) ==
                keccak256(abi.encodeWithSelector(IHealthOracle.HealthOracleAlreadyJailed.selector, signer));
            if (!expected) _violate(Property.EQUIVOCATION, "a conflicting pair was not provable");
        }
    }

    /// @dev Two reports of member `liar` for `round` under the current digest that differ in their values, their
    /// time inside the round, or their endpoint list.
    function _conflict(
        uint256 liar,
        uint64 round,
        uint256 seed
    ) internal view returns (IHealthOracle.ReportEvidence memory a, IHealthOracle.ReportEvidence memory b) {
        uint64 start = round * ROUND_SECONDS;
        a.endpointIds = ids;
        a.values = _liarValues(_rand(seed, 1));
        a.report.observedAt = start + uint64(_bound(seed >> 16, 0, ROUND_SECONDS - 1));
        b.endpointIds = ids;
        b.values = a.values;
        b.report.observedAt = a.report.observedAt;
        uint256 mode = (seed >> 32) % 3;
        if (mode == 0) {
            b.values = _liarValues(_rand(seed, 2));
            if (keccak256(b.values) == keccak256(a.values)) b.values[3] = bytes1(uint8(a.values[3]) ^ 1);
        } else if (mode == 1) {
            uint64 shift = 1 + uint64(_bound(seed >> 40, 0, ROUND_SECONDS - 2));
            b.report.observedAt = start + ((a.report.observedAt - start + shift) % ROUND_SECONDS);
        } else {
            b.endpointIds = new bytes32[](1);
            b.endpointIds[0] = ids[(seed >> 48) % ENDPOINTS];
            b.values = _liarValues(_rand(seed, 3));
            bytes memory one = b.values;
            assembly ("memory-safe") {
                mstore(one, 4)
            }
        }
        bytes32 digest = oracle.configDigest();
        a.report = _signReport(oracle, keys[liar], digest, round, a.report.observedAt, a.endpointIds, a.values);
        b.report = _signReport(oracle, keys[liar], digest, round, b.report.observedAt, b.endpointIds, b.values);
    }

    /// @notice Anyone tries to frame an honest attestor with what it really signed: the same report twice, or its
    /// reports of two different rounds. Never provable.
    function frameHonest(uint256 seed) external {
        uint256 honest = _someHonest(seed);
        uint64 r1 = _latest() - uint64(_bound(seed >> 8, 0, rounds.length - 1 < 8 ? rounds.length - 1 : 8));
        uint64 r2 = _latest() - uint64(_bound(seed >> 16, 0, rounds.length - 1 < 8 ? rounds.length - 1 : 8));
        if (!observations[r1][honest].signed || !observations[r2][honest].signed) return;
        bool sameReport = (seed >> 24) % 2 == 0 || r1 == r2;
        IHealthOracle.ReportEvidence memory a = _honestEvidence(r1, honest);
        IHealthOracle.ReportEvidence memory b = sameReport ? a : _honestEvidence(r2, honest);
        try oracle.proveEquivocation(r1, a, b) {
            _violate(Property.EQUIVOCATION, "an honest attestor was proven to equivocate");
        } catch (bytes memory err) {
            bool expected = _selector(err) == IHealthOracle.HealthOracleNotEquivocation.selector &&
                _firstWord(err) == uint256(uint160(members[honest]));
            if (sameReport) {
                expected =
                    keccak256(err) ==
                    keccak256(
                        abi.encodeWithSelector(
                            IHealthOracle.HealthOracleNotEquivocation.selector,
                            members[honest],
                            members[honest]
                        )
                    );
            }
            if (!expected) _violate(Property.EQUIVOCATION, "framing an honest attestor failed with another error");
            ++framesRejected;
        }
    }

    /// @notice The owner re-installs the set (a rotation): a new digest, every jailed attestor released.
    function rotate() external {
        oracle.setAttestors(members, quorum);
        for (uint256 i; i < n; ++i) {
            if (oracle.isJailed(members[i])) _violate(Property.EQUIVOCATION, "rotation kept an attestor jailed");
        }
    }

    // ------------------------------------------------------------------------------------------------
    // Views for the invariants
    // ------------------------------------------------------------------------------------------------

    function honestJailed() external view returns (bool) {
        for (uint256 i; i < n; ++i) {
            if (!_isLiar(i) && oracle.isJailed(members[i])) return true;
        }
        return false;
    }

    /**
     * @notice Whether the stored order statistics of every endpoint are bounded by the honest values of the stored
     * round: with at most f liars among at least `quorum` signers, `floorBps` (the quorum-th highest) is at most the
     * (quorum - f)-th highest honest value and `ceilingBps` (the quorum-th lowest) at least the (quorum - f)-th
     * lowest, over every honest attestor that signed the round; the median lies between the lowest and the highest.
     */
    function boundsHold() external view returns (bool, string memory) {
        for (uint256 e; e < ENDPOINTS; ++e) {
            IHealthOracle.EndpointHealth memory h = oracle.statusOf(ids[e]);
            if (h.updatedAt == 0) continue;
            uint256[] memory honest = new uint256[](n);
            uint256 count;
            for (uint256 i; i < n; ++i) {
                Observation storage o = observations[h.round][i];
                if (_isLiar(i) || !o.signed) continue;
                honest[count++] = _valueAt(o.values, e).healthBps;
            }
            uint256 k = quorum - f;
            if (count < k) return (false, "stored round has fewer honest reports than quorum - f");
            if (h.floorBps > _kthHighest(honest, count, k)) return (false, "floorBps above the (q-f)-th highest honest");
            if (h.ceilingBps < _kthLowest(honest, count, k)) return (false, "ceilingBps below the (q-f)-th lowest honest");
            if (h.healthBps < honest[0] || h.healthBps > honest[count - 1]) {
                return (false, "median outside the honest values");
            }
        }
        return (true, "");
    }

    /// @notice Whether every endpoint whose latest honest-backed observation is a heartbeat old reads UNKNOWN, and
    /// no stored observation time is later than an honest observation of an accepted round.
    function heartbeatHolds() external view returns (bool, string memory) {
        for (uint256 e; e < ENDPOINTS; ++e) {
            IHealthOracle.EndpointHealth memory h = oracle.statusOf(ids[e]);
            uint256 bound = heartbeatBound[ids[e]];
            if (h.updatedAt > bound) return (false, "updatedAt later than every honest observation");
            if (bound != 0 && block.timestamp >= bound + HEARTBEAT && h.status != IHealthOracle.Status.UNKNOWN) {
                return (false, "not UNKNOWN a heartbeat after the latest honest observation");
            }
        }
        return (true, "");
    }

    // ------------------------------------------------------------------------------------------------
    // Internals: truth
    // ------------------------------------------------------------------------------------------------

    /// @dev Round `round`: regimes move, honest attestors observe (1 in 16 misses the round), update their streaks
    /// and sign at a time inside the round; the clock moves to the last signature.
    function _probe(uint64 round, uint256 seed) internal {
        for (uint256 e; e < ENDPOINTS; ++e) {
            uint256 roll = _rand(seed, 100 + e);
            if (roll % 4 == 0) regime[e] = (roll >> 8) % 3;
        }
        uint64 start = round * ROUND_SECONDS;
        uint64 latest = start;
        for (uint256 i; i < n; ++i) {
            if (_isLiar(i)) continue;
            uint256 roll = _rand(seed, i);
            Observation storage o = observations[round][i];
            if (roll % 16 == 0) {
                missedLast[i] = true;
                continue;
            }
            bytes memory values;
            for (uint256 e; e < ENDPOINTS; ++e) {
                uint256 r = _rand(roll, e);
                uint256 cls = r % 8 == 0 ? (r >> 8) % 3 : regime[e];
                uint16 health = _healthOfClass(cls, r >> 16);
                (uint8 bad, uint8 good) = _nextStreaks(badStreak[i][e], goodStreak[i][e], health, !missedLast[i]);
                badStreak[i][e] = bad;
                goodStreak[i][e] = good;
                values = abi.encodePacked(values, health, bad, good);
            }
            missedLast[i] = false;
            o.signed = true;
            o.observedAt = start + uint64(_bound(roll >> 128, 0, ROUND_SECONDS - 1));
            o.values = values;
            if (o.observedAt > latest) latest = o.observedAt;
        }
        rounds.push(round);
        if (latest > block.timestamp) vm.warp(latest);
        _checkHeartbeatLapse();
    }

    /// @dev Counts endpoints that the heartbeat made UNKNOWN (coverage of the heartbeat invariant).
    function _checkHeartbeatLapse() internal {
        for (uint256 e; e < ENDPOINTS; ++e) {
            uint256 bound = heartbeatBound[ids[e]];
            if (bound != 0 && block.timestamp >= bound + HEARTBEAT) ++heartbeatLapses;
        }
    }

    // ------------------------------------------------------------------------------------------------
    // Internals: submissions
    // ------------------------------------------------------------------------------------------------

    /// @dev Adds honest signers of `round` (in an order drawn from `seed`) until `included` reaches the quorum.
    function _topUp(uint64 round, uint256 included, uint256 seed) internal view returns (uint256) {
        uint256 offset = seed % n;
        for (uint256 k; k < n && _popCount(included) < quorum; ++k) {
            uint256 i = (offset + k) % n;
            if (!_isLiar(i) && observations[round][i].signed) included |= 1 << i;
        }
        return included;
    }

    /// @dev The reports of `included`, sorted by signer: honest ones as signed, liars' made up from `lies`.
    function _build(uint64 round, uint256 included, uint256 lies) internal view returns (Submission memory s) {
        s.round = round;
        s.included = included;
        uint256 count = _popCount(included);
        s.reports = new IHealthOracle.SignedReport[](count);
        s.values = new bytes[](count);
        s.times = new uint64[](count);
        bytes32 digest = oracle.configDigest();
        uint256 j;
        for (uint256 i; i < n; ++i) {
            if ((included >> i) & 1 == 0) continue;
            if (_isLiar(i)) {
                ++s.liars;
                uint256 roll = _rand(lies, i);
                uint64 time = round * ROUND_SECONDS + uint64(_bound(roll, 0, ROUND_SECONDS - 1));
                if (time > block.timestamp + MAX_SKEW) time = uint64(block.timestamp + MAX_SKEW);
                s.values[j] = _liarValues(roll >> 8);
                s.reports[j] = _signReport(oracle, keys[i], digest, round, time, ids, s.values[j]);
            } else {
                s.values[j] = observations[round][i].values;
                s.reports[j] = _honestReport(round, i);
                if (s.reports[j].observedAt > s.maxHonestTime) s.maxHonestTime = s.reports[j].observedAt;
            }
            s.times[j] = s.reports[j].observedAt;
            s.blob = abi.encodePacked(s.blob, s.values[j]);
            ++j;
        }
    }

    function _honestReport(uint64 round, uint256 i) internal view returns (IHealthOracle.SignedReport memory) {
        Observation storage o = observations[round][i];
        return _signReport(oracle, keys[i], oracle.configDigest(), round, o.observedAt, ids, o.values);
    }

    function _honestEvidence(uint64 round, uint256 i) internal view returns (IHealthOracle.ReportEvidence memory) {
        return IHealthOracle.ReportEvidence(ids, observations[round][i].values, _honestReport(round, i));
    }

    /// @dev Submits `s`, checks the outcome against the expected revert, then every property per endpoint.
    function _submitAndCheck(Submission memory s, bool honestRelayer) internal {
        IHealthOracle.EndpointHealth[] memory before = new IHealthOracle.EndpointHealth[](ENDPOINTS);
        for (uint256 e; e < ENDPOINTS; ++e) before[e] = oracle.statusOf(ids[e]);
        bytes memory expected = _expectedRevert(s, before);
        (bool ok, bytes memory err) = _trySubmit(oracle, oracle.configDigest(), s.round, ids, s.reports, s.blob);
        if (!ok) {
            if (keccak256(err) != keccak256(expected) || expected.length == 0) {
                _violate(
                    honestRelayer ? Property.LIVENESS : Property.SAFETY,
                    honestRelayer ? "the honest relayer's transaction reverted" : "unexpected revert"
                );
            }
            if (_selector(err) == IHealthOracle.HealthOracleStaleObservation.selector) ++staleRejected;
            if (_selector(err) == IHealthOracle.HealthOracleJailedSigner.selector) ++jailedRejected;
            return;
        }
        if (expected.length != 0) _violate(Property.SAFETY, "accepted a submission that must revert");
        ++acceptedSubmissions;
        for (uint256 e; e < ENDPOINTS; ++e) _checkEndpoint(s, e, before[e], honestRelayer);
    }

    /// @dev The revert `s` must cause: a jailed signer, or a quorum observation time older than `maxAge` for an
    /// endpoint that would not skip the round as older; empty when it must be accepted.
    function _expectedRevert(
        Submission memory s,
        IHealthOracle.EndpointHealth[] memory before
    ) internal view returns (bytes memory) {
        uint256 j;
        for (uint256 i; i < n; ++i) {
            if ((s.included >> i) & 1 == 0) continue;
            if (oracle.isJailed(members[i])) {
                return abi.encodeWithSelector(IHealthOracle.HealthOracleJailedSigner.selector, j, members[i]);
            }
            ++j;
        }
        uint256[] memory sorted = new uint256[](s.times.length);
        for (uint256 k; k < sorted.length; ++k) sorted[k] = s.times[k];
        uint256 median = _quorumTime(sorted, sorted.length);
        if (median + MAX_AGE >= block.timestamp) return "";
        for (uint256 e; e < ENDPOINTS; ++e) {
            if (before[e].updatedAt != 0 && s.round < before[e].round) continue;
            return
                abi.encodeWithSelector(
                    IHealthOracle.HealthOracleStaleObservation.selector,
                    ids[e],
                    uint64(median),
                    MAX_AGE
                );
        }
        return "";
    }

    /// @dev Safety, verdicts, liveness and the heartbeat ghost for endpoint `e` after an accepted submission.
    function _checkEndpoint(
        Submission memory s,
        uint256 e,
        IHealthOracle.EndpointHealth memory before,
        bool honestRelayer
    ) internal {
        (Votes memory votes, Votes memory honest) = _count(s, e);
        IHealthOracle.EndpointHealth memory afterwards = oracle.statusOf(ids[e]);
        uint256 b = uint256(before.status);
        uint256 a = uint256(afterwards.status);

        // Safety: every transition is backed by what a quorum of this round signed, and the honest part of it.
        string memory why = _unbacked(b, a, votes, quorum);
        if (bytes(why).length != 0) _violate(Property.SAFETY, why);
        if (a != b) {
            if (a == DOWN) ++transitionsToDown;
            if (a == HEALTHY) ++transitionsToHealthy;
            if (a == DEGRADED) ++transitionsToDegraded;
            if (a == DOWN && honest.bad < quorum - f) _violate(Property.SAFETY, "DOWN with fewer than q-f honest BAD");
            if (a == HEALTHY && honest.good < quorum - f) {
                _violate(Property.SAFETY, "HEALTHY with fewer than q-f honest GOOD");
            }
        }

        // No two subsets of one round give both verdicts.
        uint256 mark = (votes.bad >= quorum || (a == DOWN && a != b) ? 1 : 0) |
            (votes.good >= quorum || (a == HEALTHY && a != b) ? 2 : 0);
        uint256 seen = verdicts[ids[e]][s.round] | mark;
        verdicts[ids[e]][s.round] = seen;
        if (seen == 3) _violate(Property.BOTH_VERDICTS, "one round gave both DOWN and HEALTHY");

        // Quorum evidence of a round that is not older than the stored one always lands.
        bool current = before.updatedAt == 0 || s.round >= before.round;
        if (current) {
            if (votes.bad >= quorum && a != DOWN) _violate(Property.LIVENESS, "quorum BAD evidence did not land");
            if (votes.bad < quorum && votes.good >= quorum && a != HEALTHY) {
                _violate(Property.LIVENESS, "quorum GOOD evidence did not land");
            }
            if (s.maxHonestTime > heartbeatBound[ids[e]]) heartbeatBound[ids[e]] = s.maxHonestTime;
        }
        if (honestRelayer) {
            if (honest.bad >= quorum) {
                ++livenessDown;
                if (a != DOWN) _violate(Property.LIVENESS, "honest quorum BAD for fallRounds, not DOWN");
            }
            if (honest.good >= quorum) {
                ++livenessHealthy;
                if (a != HEALTHY) _violate(Property.LIVENESS, "honest quorum GOOD for riseRounds, not HEALTHY");
            }
        }
    }

    /// @dev Votes of endpoint `e` over every report of `s`, and over its honest reports alone.
    function _count(Submission memory s, uint256 e) internal view returns (Votes memory all, Votes memory honest) {
        uint256 j;
        for (uint256 i; i < n; ++i) {
            if ((s.included >> i) & 1 == 0) continue;
            Value memory v = _valueAt(s.values[j++], e);
            _vote(all, v, fallRounds, riseRounds);
            if (!_isLiar(i)) _vote(honest, v, fallRounds, riseRounds);
        }
    }

    // ------------------------------------------------------------------------------------------------
    // Internals: small helpers
    // ------------------------------------------------------------------------------------------------

    function _liarValues(uint256 seed) internal view returns (bytes memory values) {
        for (uint256 e; e < ENDPOINTS; ++e) {
            Value memory v = _anyValue(_rand(seed, e), fallRounds, riseRounds);
            values = abi.encodePacked(values, v.healthBps, v.badRounds, v.goodRounds);
        }
    }

    function _violate(Property p, string memory why) internal {
        if (violations[uint256(p)]++ == 0) firstViolation[uint256(p)] = why;
    }

    function _latest() internal view returns (uint64) {
        return rounds[rounds.length - 1];
    }

    function _isLiar(uint256 i) internal view returns (bool) {
        return (liarMask >> i) & 1 == 1;
    }

    function _someLiar(uint256 seed) internal view returns (uint256) {
        uint256 k = seed % f;
        for (uint256 i; i < n; ++i) {
            if (!_isLiar(i)) continue;
            if (k == 0) return i;
            --k;
        }
        revert("no liar");
    }

    function _someHonest(uint256 seed) internal view returns (uint256) {
        uint256 k = seed % (n - f);
        for (uint256 i; i < n; ++i) {
            if (_isLiar(i)) continue;
            if (k == 0) return i;
            --k;
        }
        revert("no honest attestor");
    }

    function _firstWord(bytes memory err) internal pure returns (uint256 word) {
        if (err.length < 36) return 0;
        assembly ("memory-safe") {
            word := mload(add(err, 0x24))
        }
    }
}

/**
 * @title OracleInvariantsTest
 * @notice The properties of issue 8 as invariants over {OracleAdversary} runs (n = 3f + 1 attestors, f liars,
 * quorum 2f + 1). Each invariant is named after its property; the coverage counters show it is not vacuous.
 */
abstract contract OracleInvariantsTest is OracleTest {
    uint256 internal constant WALK = 600;

    /// @dev forge prints these for a passing test with -vv.
    event log_named_uint(string key, uint256 val);

    OracleAdversary internal world;

    function _world() internal virtual returns (OracleAdversary);

    function setUp() public {
        world = _world();
    }

    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(world);
    }

    function targetSelectors() public view returns (FuzzSelector[] memory targets) {
        bytes4[] memory selectors = new bytes4[](8);
        selectors[0] = OracleAdversary.advance.selector;
        selectors[1] = OracleAdversary.sleep.selector;
        selectors[2] = OracleAdversary.wait.selector;
        selectors[3] = OracleAdversary.relay.selector;
        selectors[4] = OracleAdversary.honestRelay.selector;
        selectors[5] = OracleAdversary.proveConflict.selector;
        selectors[6] = OracleAdversary.frameHonest.selector;
        selectors[7] = OracleAdversary.rotate.selector;
        targets = new FuzzSelector[](1);
        targets[0] = FuzzSelector(address(world), selectors);
    }

    /// @notice Safety: every status change is backed by a quorum of the round's signers (DOWN: quorum BAD with
    /// `badRounds >= fallRounds`, HEALTHY: quorum GOOD with `goodRounds >= riseRounds`, DEGRADED: quorum below
    /// `upAtBps` from HEALTHY or at or above `downBelowBps` from UNKNOWN), of which at least q - f are honest.
    function invariant_safety_everyTransitionBackedByQuorumEvidence() public view {
        _requireNone(OracleAdversary.Property.SAFETY);
    }

    /// @notice Safety: no choice of signers yields both DOWN and HEALTHY evidence for the same round.
    function invariant_safety_noRoundYieldsBothDownAndHealthy() public view {
        _requireNone(OracleAdversary.Property.BOTH_VERDICTS);
    }

    /// @notice Safety: floorBps <= the (q-f)-th highest honest value and ceilingBps >= the (q-f)-th lowest, of the
    /// stored round; the median lies between the honest values.
    function invariant_safety_floorAndCeilingBoundedByHonestValues() public view {
        (bool ok, string memory why) = world.boundsHold();
        require(ok, why);
    }

    /// @notice Liveness: quorum evidence of a current round always lands, and the honest relayer's single
    /// transaction with the full latest round makes an endpoint DOWN (HEALTHY) when a quorum of honest attestors
    /// saw it BAD for fallRounds (GOOD for riseRounds), whatever was relayed before.
    function invariant_liveness_honestRelayerTransactionLands() public view {
        _requireNone(OracleAdversary.Property.LIVENESS);
    }

    /// @notice Heartbeat: no endpoint stays out of UNKNOWN past its latest honest observation plus the heartbeat,
    /// and the stored observation time is never later than an honest observation.
    function invariant_heartbeat_unknownOnceObservationPlusHeartbeatPassed() public view {
        (bool ok, string memory why) = world.heartbeatHolds();
        require(ok, why);
    }

    /// @notice Equivocation: every conflicting pair of a liar was provable, no honest attestor was ever jailed.
    function invariant_equivocation_conflictsProvableHonestNeverJailed() public view {
        _requireNone(OracleAdversary.Property.EQUIVOCATION);
        require(!world.honestJailed(), "an honest attestor is jailed");
    }

    /// @notice Non-vacuity: a fixed walk of handler calls reaches every case the invariants speak about (accepted,
    /// stale and jailed submissions, transitions to each status, both liveness premises, proofs, framings,
    /// heartbeat lapses) and breaks no property on the way.
    function test_adversaryReachesEveryCase() public {
        for (uint256 i; i < WALK; ++i) {
            uint256 seed = uint256(keccak256(abi.encode("walk", i)));
            uint256 action = seed % 16;
            if (action < 3) world.advance(seed >> 8);
            else if (action == 3) world.sleep(seed >> 8);
            else if (action == 4) world.wait(seed >> 8);
            else if (action < 10) world.relay(seed >> 8, seed >> 64, seed >> 128);
            else if (action < 12) world.honestRelay(seed >> 8);
            else if (action == 12) world.proveConflict(seed >> 8);
            else if (action == 13) world.frameHonest(seed >> 8);
            else if (action == 14 && (seed >> 8) % 4 == 0) world.rotate();
        }
        for (uint256 p; p < 5; ++p) _requireNone(OracleAdversary.Property(p));
        string[11] memory names = [
            "acceptedSubmissions",
            "staleRejected",
            "jailedRejected",
            "transitionsToDown",
            "transitionsToHealthy",
            "transitionsToDegraded",
            "livenessDown",
            "livenessHealthy",
            "conflictsProven",
            "framesRejected",
            "heartbeatLapses"
        ];
        uint256[11] memory counts = [
            world.acceptedSubmissions(),
            world.staleRejected(),
            world.jailedRejected(),
            world.transitionsToDown(),
            world.transitionsToHealthy(),
            world.transitionsToDegraded(),
            world.livenessDown(),
            world.livenessHealthy(),
            world.conflictsProven(),
            world.framesRejected(),
            world.heartbeatLapses()
        ];
        for (uint256 k; k < names.length; ++k) {
            emit log_named_uint(names[k], counts[k]);
            require(counts[k] != 0, string.concat("never reached: ", names[k]));
        }
    }

    function _requireNone(OracleAdversary.Property p) internal view {
        uint256 count = world.violations(uint256(p));
        require(count == 0, world.firstViolation(uint256(p)));
    }
}

/// @notice n = 4, f = 1, quorum 3; attestor 1 lies; fallRounds 2, riseRounds 3.
contract OracleInvariantsN4Test is OracleInvariantsTest {
    function _world() internal override returns (OracleAdversary) {
        return new OracleAdversary(4, 1, 2, 3, 1 << 1);
    }
}

/// @notice n = 7, f = 2, quorum 5; attestors 0 and 4 lie; fallRounds 3, riseRounds 2.
contract OracleInvariantsN7Test is OracleInvariantsTest {
    function _world() internal override returns (OracleAdversary) {
        return new OracleAdversary(7, 2, 3, 2, (1 << 0) | (1 << 4));
    }
}
