// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {EndpointRegistry} from "../../../contracts/EndpointRegistry.sol";
import {HealthOracle} from "../../../contracts/HealthOracle.sol";
import {IEndpointRegistry} from "../../../contracts/interfaces/IEndpointRegistry.sol";
import {IHealthOracle} from "../../../contracts/interfaces/IHealthOracle.sol";

/// @notice The forge cheatcodes this suite uses (no forge-std: the suite runs offline from npm packages).
interface Vm {
    struct Log {
        bytes32[] topics;
        bytes data;
        address emitter;
    }

    function warp(uint256 newTimestamp) external;
    function chainId(uint256 newChainId) external;
    function prank(address msgSender) external;
    function sign(uint256 privateKey, bytes32 digest) external pure returns (uint8 v, bytes32 r, bytes32 s);
    function addr(uint256 privateKey) external pure returns (address);
    function assume(bool condition) external pure;
    function recordLogs() external;
    function getRecordedLogs() external returns (Log[] memory logs);
}

/**
 * @title VigilTest
 * @notice Shared fixture for the forge suite: the cheatcode handle, attestor keys sorted by address, a
 * HealthOracle with a known policy, and v2 report signing (EIP-712 `Report`, EIP-2098 compact signatures)
 * computed here from the domain fields (not from the oracle's own `reportDigest`), so a test signs exactly
 * what an off-chain attestor would.
 */
/// @dev A report as the tests build it: the signature fields the oracle takes (`TestReport`) plus
/// the report's own values, which {VigilTest-_trySubmit} concatenates into the `values` blob of `submit`.
struct TestReport {
    bytes32 r;
    bytes32 vs;
    uint64 observedAt;
    bytes values;
}

abstract contract VigilTest {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    /// @dev secp256k1 group order.
    uint256 internal constant SECP256K1_N =
        0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;
    bytes32 internal constant DOMAIN_TYPEHASH = keccak256(
        "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
    );
    /// @dev keccak256("Report(bytes32 configDigest,uint64 round,uint64 observedAt,bytes32[] endpointIds,bytes values)")
    bytes32 internal constant REPORT_TYPEHASH = keccak256(
        "Report(bytes32 configDigest,uint64 round,uint64 observedAt,bytes32[] endpointIds,bytes values)"
    );

    uint64 internal constant ROUND_SECONDS = 60;
    uint64 internal constant MAX_SKEW = 30;
    uint32 internal constant MAX_AGE = 120;
    uint32 internal constant HEARTBEAT = 600;
    uint16 internal constant DOWN_BELOW_BPS = 5_000;
    uint16 internal constant UP_AT_BPS = 8_000;
    uint256 internal constant T0 = 1_700_000_000;

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

    /// @dev Register service "rpc" with `cooldown` and `recoveryPeriod` (seconds) and three JSON-RPC endpoints
    /// a, b, c with priorities 0, 1, 2 (a preferred).
    function _threeEndpointService(
        EndpointRegistry registry,
        uint32 cooldown,
        uint32 recoveryPeriod
    ) internal returns (bytes32 serviceId, bytes32[] memory endpointIds) {
        serviceId = registry.registerService(
            "rpc",
            IEndpointRegistry.ServiceConfig(cooldown, recoveryPeriod)
        );
        endpointIds = new bytes32[](3);
        string[3] memory uris = ["https://a", "https://b", "https://c"];
        for (uint16 i; i < 3; ++i) {
            endpointIds[i] = registry.addEndpoint(
                serviceId,
                IEndpointRegistry.EndpointKind.JSON_RPC,
                uris[i],
                i
            );
        }
    }

    // ------------------------------------------------------------------------------------------------
    // Invariant targets
    // ------------------------------------------------------------------------------------------------

    /// @dev forge-std's `FuzzSelector`: which functions of which contract the invariant fuzzer calls.
    struct FuzzSelector {
        address addr;
        bytes4[] selectors;
    }

    /// @dev For `targetContracts()`: the fuzzer calls `handler` only.
    function _onlyTarget(address handler) internal pure returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = handler;
    }

    /// @dev For `targetSelectors()`: and only these functions of it.
    function _onlySelectors(
        address handler,
        bytes4[] memory selectors
    ) internal pure returns (FuzzSelector[] memory targets) {
        targets = new FuzzSelector[](1);
        targets[0] = FuzzSelector(handler, selectors);
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

    /// @dev A HealthOracle owned by this contract with `keys` as its attestor set.
    function _deployOracle(
        uint256[] memory keys,
        uint8 quorum,
        uint8 fallRounds,
        uint8 riseRounds
    ) internal returns (HealthOracle oracle) {
        oracle = new HealthOracle(
            address(this),
            ROUND_SECONDS,
            MAX_SKEW,
            500_000,
            _policy(fallRounds, riseRounds)
        );
        oracle.setAttestors(_addresses(keys), quorum);
    }

    // ------------------------------------------------------------------------------------------------
    // EIP-712 reports (health model v2), computed from the domain fields
    // ------------------------------------------------------------------------------------------------

    function _domainSeparator(address oracle, uint256 chainId) internal pure returns (bytes32) {
        return
            keccak256(
                abi.encode(DOMAIN_TYPEHASH, keccak256("Vigil HealthOracle"), keccak256("2"), chainId, oracle)
            );
    }

    /// @notice What a round's reports are signed for: domain (oracle, chain) and the signed struct's fields.
    struct Spec {
        address oracle;
        uint256 chainId;
        bytes32 configDigest;
        uint64 round;
        uint64 observedAt;
        bytes32[] endpointIds;
    }

    /// @dev The spec an honest attestor of `oracle` uses now: current chain and digest, the round of `observedAt`.
    /// `endpointIds` must already be sorted strictly ascending ({_sortIds}).
    function _spec(
        HealthOracle oracle,
        bytes32[] memory endpointIds,
        uint64 observedAt
    ) internal view returns (Spec memory) {
        return
            Spec({
                oracle: address(oracle),
                chainId: block.chainid,
                configDigest: oracle.configDigest(),
                round: observedAt / ROUND_SECONDS,
                observedAt: observedAt,
                endpointIds: endpointIds
            });
    }

    /// @dev The EIP-712 digest of one report: `Report(bytes32 configDigest,uint64 round,uint64 observedAt,
    /// bytes32[] endpointIds,bytes values)`, arrays hashed as EIP-712 says.
    function _reportDigest(Spec memory spec, bytes memory values) internal pure returns (bytes32) {
        bytes32 structHash = keccak256(
            abi.encode(
                REPORT_TYPEHASH,
                spec.configDigest,
                spec.round,
                spec.observedAt,
                keccak256(abi.encodePacked(spec.endpointIds)),
                keccak256(values)
            )
        );
        return keccak256(abi.encodePacked(hex"1901", _domainSeparator(spec.oracle, spec.chainId), structHash));
    }

    /// @dev `key`'s report of `values` for `spec`, signature in EIP-2098 compact form (`vs` = s with v's parity
    /// in the top bit; forge signs low-s).
    function _signedReport(
        Spec memory spec,
        uint256 key,
        bytes memory values
    ) internal pure returns (TestReport memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, _reportDigest(spec, values));
        bytes32 vs = bytes32(uint256(s) | (uint256(v - 27) << 255));
        return TestReport(r, vs, spec.observedAt, values);
    }

    /// @dev One report per key, in the given order, `keys[i]` signing `values[i]` for `spec`.
    function _reports(
        Spec memory spec,
        uint256[] memory keys,
        bytes[] memory values
    ) internal pure returns (TestReport[] memory reports) {
        reports = new TestReport[](keys.length);
        for (uint256 i; i < keys.length; ++i) reports[i] = _signedReport(spec, keys[i], values[i]);
    }

    /// @dev The 4-byte value of one endpoint: `healthBps` (uint16 big-endian), `badRounds`, `goodRounds`.
    function _value(uint16 healthBps, uint8 badRounds, uint8 goodRounds) internal pure returns (bytes memory) {
        return abi.encodePacked(healthBps, badRounds, goodRounds);
    }

    /// @dev `values` for `n` endpoints that all read the same.
    function _uniformValues(
        uint256 n,
        uint16 healthBps,
        uint8 badRounds,
        uint8 goodRounds
    ) internal pure returns (bytes memory values) {
        bytes memory one = _value(healthBps, badRounds, goodRounds);
        for (uint256 i; i < n; ++i) values = abi.encodePacked(values, one);
    }

    /// @dev As {_reports} for {_spec}, every key reporting the same value for every endpoint.
    function _quorumReport(
        HealthOracle oracle,
        uint256[] memory keys,
        bytes32[] memory endpointIds,
        uint64 observedAt,
        uint16 healthBps,
        uint8 badRounds,
        uint8 goodRounds
    ) internal view returns (Spec memory spec, TestReport[] memory reports) {
        spec = _spec(oracle, endpointIds, observedAt);
        bytes[] memory values = new bytes[](keys.length);
        bytes memory same = _uniformValues(endpointIds.length, healthBps, badRounds, goodRounds);
        for (uint256 i; i < keys.length; ++i) values[i] = same;
        reports = _reports(spec, keys, values);
    }

    function _prefix(uint256[] memory keys, uint256 n) internal pure returns (uint256[] memory out) {
        out = new uint256[](n);
        for (uint256 i; i < n; ++i) out[i] = keys[i];
    }

    /// @dev Sorts keys by their address, ascending (the order `submit` requires), in place.
    function _sortByAddress(uint256[] memory ks) internal pure returns (uint256[] memory) {
        for (uint256 i = 1; i < ks.length; ++i) {
            uint256 k = ks[i];
            uint256 j = i;
            while (j > 0 && vm.addr(ks[j - 1]) > vm.addr(k)) {
                ks[j] = ks[j - 1];
                --j;
            }
            ks[j] = k;
        }
        return ks;
    }

    /// @dev Sorts endpoint ids ascending (the order `submit` requires), in place.
    function _sortIds(bytes32[] memory ids) internal pure returns (bytes32[] memory) {
        for (uint256 i = 1; i < ids.length; ++i) {
            bytes32 id = ids[i];
            uint256 j = i;
            while (j > 0 && ids[j - 1] > id) {
                ids[j] = ids[j - 1];
                --j;
            }
            ids[j] = id;
        }
        return ids;
    }

    // ------------------------------------------------------------------------------------------------
    // Small helpers
    // ------------------------------------------------------------------------------------------------

    function _bound(uint256 x, uint256 min, uint256 max) internal pure returns (uint256) {
        return min + (x % (max - min + 1));
    }

    function _selector(bytes memory err) internal pure returns (bytes4 sel) {
        if (err.length < 4) return bytes4(0);
        assembly ("memory-safe") {
            sel := mload(add(err, 0x20))
        }
    }

    /// @dev Submits one round and returns the revert data (empty when accepted) and the oracle's counts.
    function _trySubmit(
        HealthOracle oracle,
        Spec memory spec,
        TestReport[] memory reports
    ) internal returns (bool ok, bytes memory err, uint256 updated, uint256 skipped) {
        IHealthOracle.SignedReport[] memory sigs = new IHealthOracle.SignedReport[](reports.length);
        bytes memory blob;
        for (uint256 i; i < reports.length; ++i) {
            sigs[i] = IHealthOracle.SignedReport(reports[i].r, reports[i].vs, reports[i].observedAt);
            blob = abi.encodePacked(blob, reports[i].values);
        }
        try oracle.submit(spec.configDigest, spec.round, spec.endpointIds, sigs, blob) returns (uint256 u, uint256 k) {
            return (true, "", u, k);
        } catch (bytes memory reason) {
            return (false, reason, 0, 0);
        }
    }
}
