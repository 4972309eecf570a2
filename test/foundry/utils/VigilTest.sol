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
 * HealthOracle with a known policy, and EIP-712 signing computed here from the domain fields (not from the
 * oracle's own `observationDigest`), so a test signs exactly what an off-chain attestor would.
 */
abstract contract VigilTest {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    /// @dev secp256k1 group order.
    uint256 internal constant SECP256K1_N =
        0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;
    bytes32 internal constant DOMAIN_TYPEHASH = keccak256(
        "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
    );
    bytes32 internal constant OBSERVATION_TYPEHASH = keccak256(
        "Observation(bytes32 configDigest,bytes32 endpointId,uint64 round,uint16 healthBps,uint64 observedAt)"
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
    // EIP-712, computed from the domain fields
    // ------------------------------------------------------------------------------------------------

    function _domainSeparator(address oracle, uint256 chainId) internal pure returns (bytes32) {
        return
            keccak256(
                abi.encode(DOMAIN_TYPEHASH, keccak256("Vigil HealthOracle"), keccak256("1"), chainId, oracle)
            );
    }

    function _digest(
        address oracle,
        uint256 chainId,
        bytes32 configDigest,
        bytes32 endpointId,
        uint64 round,
        uint16 healthBps,
        uint64 observedAt
    ) internal pure returns (bytes32) {
        bytes32 structHash = keccak256(
            abi.encode(OBSERVATION_TYPEHASH, configDigest, endpointId, round, healthBps, observedAt)
        );
        return keccak256(abi.encodePacked(hex"1901", _domainSeparator(oracle, chainId), structHash));
    }

    function _sign(uint256 key, bytes32 digest) internal pure returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        return abi.encodePacked(r, s, v);
    }

    /// @notice What a set of observations is signed for: domain (oracle, chain) and the signed struct's fields.
    struct Spec {
        address oracle;
        uint256 chainId;
        bytes32 configDigest;
        bytes32 endpointId;
        uint64 round;
        uint64 observedAt;
    }

    /// @dev The spec an honest attestor of `oracle` uses now: current chain and digest, the round of `observedAt`.
    function _spec(
        HealthOracle oracle,
        bytes32 endpointId,
        uint64 observedAt
    ) internal view returns (Spec memory) {
        return
            Spec({
                oracle: address(oracle),
                chainId: block.chainid,
                configDigest: oracle.configDigest(),
                endpointId: endpointId,
                round: observedAt / ROUND_SECONDS,
                observedAt: observedAt
            });
    }

    /// @dev One observation per key, in the given order, with `healths[i]` signed by `keys[i]` for `spec`.
    function _observations(
        Spec memory spec,
        uint256[] memory keys,
        uint16[] memory healths
    ) internal pure returns (IHealthOracle.SignedObservation[] memory obs) {
        obs = new IHealthOracle.SignedObservation[](keys.length);
        for (uint256 i; i < keys.length; ++i) {
            bytes32 digest = _digest(
                spec.oracle,
                spec.chainId,
                spec.configDigest,
                spec.endpointId,
                spec.round,
                healths[i],
                spec.observedAt
            );
            obs[i] = IHealthOracle.SignedObservation(healths[i], spec.observedAt, _sign(keys[i], digest));
        }
    }

    function _same(uint16 value, uint256 n) internal pure returns (uint16[] memory values) {
        values = new uint16[](n);
        for (uint256 i; i < n; ++i) values[i] = value;
    }

    /// @dev As {_observations} for {_spec}, one health for all.
    function _quorumReport(
        HealthOracle oracle,
        uint256[] memory keys,
        bytes32 endpointId,
        uint16 healthBps,
        uint64 observedAt
    ) internal view returns (IHealthOracle.SignedObservation[] memory) {
        return _observations(_spec(oracle, endpointId, observedAt), keys, _same(healthBps, keys.length));
    }

    function _prefix(uint256[] memory keys, uint256 n) internal pure returns (uint256[] memory out) {
        out = new uint256[](n);
        for (uint256 i; i < n; ++i) out[i] = keys[i];
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

    /// @dev Submits and returns the revert data (empty when accepted).
    function _trySubmit(
        HealthOracle oracle,
        bytes32 configDigest,
        bytes32 endpointId,
        uint64 round,
        IHealthOracle.SignedObservation[] memory obs
    ) internal returns (bool ok, bytes memory err) {
        try oracle.submit(configDigest, endpointId, round, obs) {
            return (true, "");
        } catch (bytes memory reason) {
            return (false, reason);
        }
    }
}
