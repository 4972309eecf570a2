// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {HealthOracle} from "../../../contracts/HealthOracle.sol";
import {IHealthOracle} from "../../../contracts/interfaces/IHealthOracle.sol";

/// @notice The forge cheatcodes the oracle suites use (no forge-std: the suite runs offline from npm packages).
interface OracleVm {
    function warp(uint256 newTimestamp) external;
    function chainId(uint256 newChainId) external;
    function prank(address msgSender) external;
    function sign(uint256 privateKey, bytes32 digest) external pure returns (uint8 v, bytes32 r, bytes32 s);
    function addr(uint256 privateKey) external pure returns (address);
    function assume(bool condition) external pure;
    function expectRevert(bytes calldata revertData) external;
}

/**
 * @title OracleTest
 * @notice Fixture of the health model v2 property suites: attestor keys sorted by address, a real HealthOracle
 * with a known policy, reports built and signed as an attestor does (one EIP-712 `Report` per attestor per round,
 * `vm.sign` over `oracle.reportDigest(...)`, EIP-2098 compact signatures), the attestor keeper's streak counting
 * (keepers/shared/quorum.ts `nextStreaks`), and vote counting done here from the signed values, independently of
 * the contract's own tally.
 *
 * Units: health in bps, times in Unix seconds, rounds of `ROUND_SECONDS`.
 */
abstract contract OracleTest {
    OracleVm internal constant vm = OracleVm(address(uint160(uint256(keccak256("hevm cheat code")))));

    /// @dev secp256k1 group order.
    uint256 internal constant SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;
    bytes32 internal constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 internal constant REPORT_TYPEHASH =
        keccak256("Report(bytes32 configDigest,uint64 round,uint64 observedAt,bytes32[] endpointIds,bytes values)");

    uint64 internal constant ROUND_SECONDS = 60;
    uint64 internal constant MAX_SKEW = 30;
    uint32 internal constant MAX_AGE = 120;
    uint32 internal constant HEARTBEAT = 600;
    uint16 internal constant DOWN_BELOW_BPS = 5_000;
    uint16 internal constant UP_AT_BPS = 8_000;
    uint16 internal constant MAX_BPS = 10_000;
    /// @dev A round boundary: `T0 % ROUND_SECONDS == 0`.
    uint256 internal constant T0 = 1_700_000_040;

    uint256 internal constant UNKNOWN = 0;
    uint256 internal constant HEALTHY = 1;
    uint256 internal constant DEGRADED = 2;
    uint256 internal constant DOWN = 3;

    /// @notice One attestor's verdict on one endpoint in one round, as the 4 bytes of `values` carry it.
    struct Value {
        uint16 healthBps;
        uint8 badRounds;
        uint8 goodRounds;
    }

    /// @notice The votes of one endpoint in one submission, counted here (see `StatusMachine`).
    struct Votes {
        uint256 bad;
        uint256 good;
        uint256 notGood;
        uint256 notBad;
    }

    // ------------------------------------------------------------------------------------------------
    // Fixture
    // ------------------------------------------------------------------------------------------------

    function _policy(uint8 fallRounds, uint8 riseRounds) internal pure returns (IHealthOracle.Policy memory) {
        return
            IHealthOracle.Policy({
                downBelowBps: DOWN_BELOW_BPS,
                upAtBps: UP_AT_BPS,
                fallRounds: fallRounds,
                riseRounds: riseRounds,
                heartbeat: HEARTBEAT,
                maxAge: MAX_AGE
            });
    }

    /// @dev `n` private keys derived from `salt`, sorted by their address (the order the oracle requires).
    function _sortedKeys(string memory salt, uint256 n) internal pure returns (uint256[] memory keys) {
        keys = new uint256[](n);
        for (uint256 i; i < n; ++i) {
            keys[i] = (uint256(keccak256(abi.encode(salt, i))) % (SECP256K1_N - 1)) + 1;
        }
        for (uint256 i = 1; i < n; ++i) {
            uint256 k = keys[i];
            uint256 j = i;
            while (j > 0 && vm.addr(keys[j - 1]) > vm.addr(k)) {
                keys[j] = keys[j - 1];
                --j;
            }
            keys[j] = k;
        }
    }

    function _addresses(uint256[] memory keys) internal pure returns (address[] memory addrs) {
        addrs = new address[](keys.length);
        for (uint256 i; i < keys.length; ++i) addrs[i] = vm.addr(keys[i]);
    }

    /// @dev A HealthOracle owned by this contract with `keys` as its attestor set and the test policy.
    function _deployOracle(
        uint256[] memory keys,
        uint8 quorum,
        uint8 fallRounds,
        uint8 riseRounds
    ) internal returns (HealthOracle oracle) {
        oracle = new HealthOracle(address(this), ROUND_SECONDS, MAX_SKEW, 500_000, _policy(fallRounds, riseRounds));
        oracle.setAttestors(_addresses(keys), quorum);
    }

    /// @dev `count` endpoint ids derived from `salt`, strictly ascending.
    function _endpointIds(uint256 salt, uint256 count) internal pure returns (bytes32[] memory ids) {
        ids = new bytes32[](count);
        uint256 base = uint256(keccak256(abi.encode("endpoint", salt))) >> 8;
        for (uint256 i; i < count; ++i) ids[i] = bytes32(base + i);
    }

    // ------------------------------------------------------------------------------------------------
    // Reports
    // ------------------------------------------------------------------------------------------------

    /// @dev `values` of a report: 4 bytes per endpoint, healthBps (uint16 BE), badRounds, goodRounds.
    function _encode(Value[] memory vals) internal pure returns (bytes memory out) {
        for (uint256 i; i < vals.length; ++i) {
            out = abi.encodePacked(out, vals[i].healthBps, vals[i].badRounds, vals[i].goodRounds);
        }
    }

    /// @dev Endpoint `index` of an encoded `values`.
    function _valueAt(bytes memory values, uint256 index) internal pure returns (Value memory v) {
        uint256 o = index * 4;
        v.healthBps = (uint16(uint8(values[o])) << 8) | uint16(uint8(values[o + 1]));
        v.badRounds = uint8(values[o + 2]);
        v.goodRounds = uint8(values[o + 3]);
    }

    /// @dev One value for every endpoint.
    function _uniform(Value memory v, uint256 count) internal pure returns (bytes memory out) {
        Value[] memory vals = new Value[](count);
        for (uint256 i; i < count; ++i) vals[i] = v;
        return _encode(vals);
    }

    /// @dev An attestor's signature over its report (the values travel beside it): `vm.sign` over the oracle's own `reportDigest`, EIP-2098 compact.
    function _signReport(
        HealthOracle oracle,
        uint256 key,
        bytes32 configDigest,
        uint64 round,
        uint64 observedAt,
        bytes32[] memory ids,
        bytes memory values
    ) internal view returns (IHealthOracle.SignedReport memory report) {
        bytes32 digest = oracle.reportDigest(configDigest, round, observedAt, ids, values);
        (bytes32 r, bytes32 vs) = _signCompact(key, digest);
        report = IHealthOracle.SignedReport({r: r, vs: vs, observedAt: observedAt});
    }

    function _signCompact(uint256 key, bytes32 digest) internal pure returns (bytes32 r, bytes32 vs) {
        (uint8 v, bytes32 r_, bytes32 s) = vm.sign(key, digest);
        r = r_;
        vs = bytes32(uint256(s) | (uint256(v - 27) << 255));
    }

    /// @dev `vs` with a high s: some s' in (N/2, 2^255), derived from s, with the other parity. (The exact twin
    /// N - s is at least 2^255, so EIP-2098 cannot carry it, for all but a 2^-127 share of signatures; every high s
    /// that the compact form can carry is covered.)
    function _highS(bytes32 vs) internal pure returns (bytes32) {
        uint256 s = uint256(vs) & ((uint256(1) << 255) - 1);
        uint256 span = (uint256(1) << 255) - SECP256K1_N / 2 - 1;
        return bytes32((SECP256K1_N / 2 + 1 + (s % span)) | (((uint256(vs) >> 255) ^ 1) << 255));
    }

    /// @dev The EIP-712 digest computed here from the domain fields, as an off-chain attestor does (THREATS #1/#2).
    function _offchainDigest(
        address oracle,
        uint256 chainId,
        bytes32 configDigest,
        uint64 round,
        uint64 observedAt,
        bytes32[] memory ids,
        bytes memory values
    ) internal pure returns (bytes32) {
        bytes32 domain = keccak256(
            abi.encode(DOMAIN_TYPEHASH, keccak256("Vigil HealthOracle"), keccak256("2"), chainId, oracle)
        );
        bytes32 structHash = keccak256(
            abi.encode(
                REPORT_TYPEHASH,
                configDigest,
                round,
                observedAt,
                keccak256(abi.encodePacked(ids)),
                keccak256(values)
            )
        );
        return keccak256(abi.encodePacked(hex"1901", domain, structHash));
    }

    /// @dev Submits and returns the revert data (empty when accepted).
    function _trySubmit(
        HealthOracle oracle,
        bytes32 configDigest,
        uint64 round,
        bytes32[] memory ids,
        IHealthOracle.SignedReport[] memory reports,
        bytes memory values
    ) internal returns (bool ok, bytes memory err) {
        try oracle.submit(configDigest, round, ids, reports, values) {
            return (true, "");
        } catch (bytes memory reason) {
            return (false, reason);
        }
    }

    // ------------------------------------------------------------------------------------------------
    // The attestor keeper's rules, mirrored (keepers/shared/quorum.ts)
    // ------------------------------------------------------------------------------------------------

    /// @dev `nextStreaks`: an attestor's streaks after one more round it judged, saturating at 255; `consecutive`
    /// false when it did not judge the previous round.
    function _nextStreaks(
        uint8 badRounds,
        uint8 goodRounds,
        uint16 healthBps,
        bool consecutive
    ) internal pure returns (uint8 bad, uint8 good) {
        uint256 b = consecutive ? badRounds : 0;
        uint256 g = consecutive ? goodRounds : 0;
        if (healthBps < DOWN_BELOW_BPS) bad = uint8(b == 255 ? 255 : b + 1);
        if (healthBps >= UP_AT_BPS) good = uint8(g == 255 ? 255 : g + 1);
    }

    function _isBadEvidence(Value memory v, uint8 fallRounds) internal pure returns (bool) {
        return v.healthBps < DOWN_BELOW_BPS && v.badRounds >= fallRounds;
    }

    function _isGoodEvidence(Value memory v, uint8 riseRounds) internal pure returns (bool) {
        return v.healthBps >= UP_AT_BPS && v.goodRounds >= riseRounds;
    }

    /// @dev Adds one signer's value to `votes` (`StatusMachine` classes, counted from the signed bytes).
    function _vote(Votes memory votes, Value memory v, uint8 fallRounds, uint8 riseRounds) internal pure {
        if (_isBadEvidence(v, fallRounds)) ++votes.bad;
        if (_isGoodEvidence(v, riseRounds)) ++votes.good;
        if (v.healthBps < UP_AT_BPS) ++votes.notGood;
        if (v.healthBps >= DOWN_BELOW_BPS) ++votes.notBad;
    }

    /// @dev Why the status change `before -> afterwards` made by one accepted submission with `votes` is not backed
    /// by a quorum of its signers, or "" when it is (or when nothing changed). `StatusMachine`'s rules, restated.
    function _unbacked(
        uint256 before,
        uint256 afterwards,
        Votes memory votes,
        uint256 q
    ) internal pure returns (string memory) {
        if (before == afterwards) return "";
        if (afterwards == DOWN) return votes.bad >= q ? "" : "DOWN without a quorum BAD for fallRounds";
        if (afterwards == HEALTHY) {
            return votes.good >= q && votes.bad < q ? "" : "HEALTHY without a quorum GOOD for riseRounds";
        }
        if (afterwards == DEGRADED) {
            if (votes.bad >= q || votes.good >= q) return "DEGRADED against a quorum verdict";
            if (before == HEALTHY) return votes.notGood >= q ? "" : "HEALTHY->DEGRADED without a quorum below upAtBps";
            if (before == UNKNOWN) return votes.notBad >= q ? "" : "UNKNOWN->DEGRADED without a quorum above downBelowBps";
            return "DOWN left without a quorum GOOD for riseRounds";
        }
        return "a submission made the endpoint UNKNOWN";
    }

    function _popCount(uint256 x) internal pure returns (uint256 c) {
        for (; x != 0; x &= x - 1) ++c;
    }

    // ------------------------------------------------------------------------------------------------
    // Order statistics
    // ------------------------------------------------------------------------------------------------

    /// @dev The quorum's observation time of a submission whose reports carry `times[0:len]` (sorted in place): the
    /// earliest, as `IHealthOracle.EndpointHealth.updatedAt` defines it (the oldest evidence of the round counts). The
    /// one place the tests define it.
    function _quorumTime(uint256[] memory times, uint256 len) internal pure returns (uint256) {
        return _kthLowest(times, len, 1);
    }

    /// @dev The `k`-th lowest (1-based) of `xs[0:len]`; `xs` is sorted in place.
    function _kthLowest(uint256[] memory xs, uint256 len, uint256 k) internal pure returns (uint256) {
        _sort(xs, len);
        return xs[k - 1];
    }

    /// @dev The `k`-th highest (1-based) of `xs[0:len]`; `xs` is sorted in place.
    function _kthHighest(uint256[] memory xs, uint256 len, uint256 k) internal pure returns (uint256) {
        _sort(xs, len);
        return xs[len - k];
    }

    function _sort(uint256[] memory xs, uint256 len) internal pure {
        for (uint256 i = 1; i < len; ++i) {
            uint256 x = xs[i];
            uint256 j = i;
            while (j > 0 && xs[j - 1] > x) {
                xs[j] = xs[j - 1];
                --j;
            }
            xs[j] = x;
        }
    }

    // ------------------------------------------------------------------------------------------------
    // Small helpers
    // ------------------------------------------------------------------------------------------------

    function _bound(uint256 x, uint256 min, uint256 max) internal pure returns (uint256) {
        return min + (x % (max - min + 1));
    }

    function _rand(uint256 seed, uint256 salt) internal pure returns (uint256) {
        return uint256(keccak256(abi.encode(seed, salt)));
    }

    /// @dev A health of class 0 (BAD, below `DOWN_BELOW_BPS`), 1 (MID) or 2 (GOOD, at or above `UP_AT_BPS`),
    /// often at the class edges.
    function _healthOfClass(uint256 cls, uint256 seed) internal pure returns (uint16) {
        (uint256 lo, uint256 hi) = cls == 0
            ? (0, uint256(DOWN_BELOW_BPS) - 1)
            : (cls == 1 ? (uint256(DOWN_BELOW_BPS), uint256(UP_AT_BPS) - 1) : (uint256(UP_AT_BPS), uint256(MAX_BPS)));
        uint256 pick = seed % 4;
        if (pick == 0) return uint16(lo);
        if (pick == 1) return uint16(hi);
        return uint16(_bound(seed >> 8, lo, hi));
    }

    /// @dev Any value a lying attestor may sign (in range): health and streaks at or around every threshold.
    function _anyValue(uint256 seed, uint8 fallRounds, uint8 riseRounds) internal pure returns (Value memory v) {
        v.healthBps = _healthOfClass(seed % 3, seed >> 2);
        uint256[5] memory streaks = [uint256(0), 1, 255, 0, 0];
        streaks[3] = fallRounds;
        streaks[4] = riseRounds;
        v.badRounds = uint8(streaks[(seed >> 40) % 5]);
        v.goodRounds = uint8(streaks[(seed >> 48) % 5]);
    }

    function _selector(bytes memory err) internal pure returns (bytes4 sel) {
        if (err.length < 4) return bytes4(0);
        assembly ("memory-safe") {
            sel := mload(add(err, 0x20))
        }
    }

    /// @dev forge-std's `FuzzSelector`: which functions of which contract the invariant fuzzer calls.
    struct FuzzSelector {
        address addr;
        bytes4[] selectors;
    }
}

/**
 * @title OracleSetTest
 * @notice Fixture of the fuzz suites: one real HealthOracle with `n` attestors, the `f` of `liarMask` lying,
 * quorum `2f + 1`, one endpoint; reports of any subset of members for any round, signed as attestors sign.
 * Concrete suites pick the size with {_size}: n = 4 (f = 1) and n = 7 (f = 2).
 */
abstract contract OracleSetTest is OracleTest {
    HealthOracle internal oracle;
    uint256[] internal keys;
    address[] internal members;
    uint256 internal n;
    uint256 internal f;
    uint8 internal quorum;
    uint256 internal liarMask;
    bytes32[] internal ids;
    /// @dev The policy's round counts in force (see {_setPolicy}).
    uint8 internal fallRounds = 2;
    uint8 internal riseRounds = 2;

    /// @dev Set size, faults tolerated and which members lie (bit i = member i).
    function _size() internal pure virtual returns (uint256 n_, uint256 f_, uint256 liarMask_);

    function setUp() public virtual {
        vm.warp(T0);
        (n, f, liarMask) = _size();
        quorum = uint8(2 * f + 1);
        keys = _sortedKeys("attestor", n);
        members = _addresses(keys);
        oracle = _deployOracle(keys, quorum, 2, 2);
        ids = _endpointIds(n, 1);
    }

    function _isLiar(uint256 i) internal view returns (bool) {
        return (liarMask >> i) & 1 == 1;
    }

    function _honestMask() internal view returns (uint256) {
        return ((uint256(1) << n) - 1) & ~liarMask;
    }

    function _setPolicy(uint8 fall, uint8 rise) internal {
        oracle.setDefaultPolicy(_policy(fall, rise));
        (fallRounds, riseRounds) = (fall, rise);
    }

    /// @dev The reports of the members in `included`, ascending by signer: member i signs `values[i]` at `times[i]`
    /// for `round` under the current digest; `blob` is their values concatenated, as {submit} takes them.
    function _reports(
        uint64 round,
        uint256 included,
        bytes[] memory values,
        uint64[] memory times
    ) internal view returns (IHealthOracle.SignedReport[] memory reports, bytes memory blob) {
        reports = new IHealthOracle.SignedReport[](_popCount(included));
        bytes32 digest = oracle.configDigest();
        uint256 j;
        for (uint256 i; i < n; ++i) {
            if ((included >> i) & 1 == 0) continue;
            reports[j++] = _signReport(oracle, keys[i], digest, round, times[i], ids, values[i]);
            blob = abi.encodePacked(blob, values[i]);
        }
    }

    function _submit(
        uint64 round,
        uint256 included,
        bytes[] memory values,
        uint64[] memory times
    ) internal returns (bool ok, bytes memory err) {
        (IHealthOracle.SignedReport[] memory reports, bytes memory blob) = _reports(round, included, values, times);
        return _trySubmit(oracle, oracle.configDigest(), round, ids, reports, blob);
    }

    /// @dev A random subset of `available` (bits) of at least `quorum` members, topped up from `fill` (bits, in
    /// index order) when short.
    function _subset(uint256 seed, uint256 available, uint256 fill) internal view returns (uint256 s) {
        s = seed & available;
        for (uint256 i; i < n && _popCount(s) < quorum; ++i) {
            if ((fill >> i) & 1 == 1) s |= 1 << i;
        }
    }

    /// @dev Votes of endpoint 0 over the members of `included`, and over the honest ones alone.
    function _countVotes(
        uint256 included,
        bytes[] memory values
    ) internal view returns (Votes memory all, Votes memory honest) {
        for (uint256 i; i < n; ++i) {
            if ((included >> i) & 1 == 0) continue;
            Value memory v = _valueAt(values[i], 0);
            _vote(all, v, fallRounds, riseRounds);
            if (!_isLiar(i)) _vote(honest, v, fallRounds, riseRounds);
        }
    }

    /// @dev A whole round where every member signs `v` at the round's start + 1 s (to set up a prior status).
    function _unanimous(uint64 round, Value memory v) internal returns (bool ok, bytes memory err) {
        bytes[] memory values = new bytes[](n);
        uint64[] memory times = new uint64[](n);
        for (uint256 i; i < n; ++i) {
            values[i] = _uniform(v, 1);
            times[i] = round * ROUND_SECONDS + 1;
        }
        return _submit(round, (uint256(1) << n) - 1, values, times);
    }

    function _status() internal view returns (uint256) {
        return uint256(oracle.statusOf(ids[0]).status);
    }

    /// @dev Puts the endpoint in status `prior` (0 UNKNOWN: untouched, 1 HEALTHY, 2 DEGRADED, 3 DOWN) with a whole
    /// round `round`, every member agreeing with streaks of 255.
    function _prior(uint256 prior, uint64 round) internal {
        if (prior == UNKNOWN) return;
        uint16 health = prior == HEALTHY ? MAX_BPS : (prior == DOWN ? 0 : DOWN_BELOW_BPS);
        uint8 bad = prior == DOWN ? 255 : 0;
        uint8 good = prior == HEALTHY ? 255 : 0;
        (bool ok, ) = _unanimous(round, Value(health, bad, good));
        require(ok && _status() == prior, "prior status not set");
    }

    /// @dev A value an honest attestor may sign: a health of class `cls` with streaks consistent with it (the
    /// streak of its class is at least 1, the other one 0).
    function _honestValue(uint256 cls, uint256 seed) internal view returns (Value memory v) {
        v.healthBps = _healthOfClass(cls, seed);
        uint256[4] memory streaks = [uint256(1), 255, fallRounds, fallRounds > 1 ? fallRounds - 1 : 1];
        if (cls == 0) v.badRounds = uint8(streaks[(seed >> 200) % 4]);
        streaks[2] = riseRounds;
        streaks[3] = riseRounds > 1 ? riseRounds - 1 : 1;
        if (cls == 2) v.goodRounds = uint8(streaks[(seed >> 200) % 4]);
    }
}
