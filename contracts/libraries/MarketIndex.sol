// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IEndpointRegistry} from "../interfaces/IEndpointRegistry.sol";
import {IMarketGuard} from "../interfaces/IMarketGuard.sol";

/**
 * @title MarketIndex
 * @notice The guard's market configuration rules and its reverse index, dependency (service or endpoint id) →
 * markets that depend on it, which the oracle's listener walks when a status changes. Bounded on both sides
 * (THREATS #16): a market has at most `maxDependencies` dependencies and a dependency at most `maxMarkets` markets.
 */
library MarketIndex {
    uint256 private constant _MAX_BPS = 10_000;

    /**
     * @notice Reverts unless `config` is a valid configuration for `marketId`: 1..`maxDependencies` dependencies
     * ({IMarketGuard.MarketGuardTooManyDependencies}), a market with code and a threshold of at most 10,000 bps,
     * every service registered with an endpoint and every endpoint registered, no dependency twice
     * ({IMarketGuard.MarketGuardInvalidConfig}).
     */
    function validate(
        IEndpointRegistry registry,
        uint256 marketId,
        IMarketGuard.MarketConfig calldata config,
        uint256 maxDependencies
    ) internal view {
        uint256 serviceCount = config.services.length;
        uint256 total = serviceCount + config.endpoints.length;
        if (total > maxDependencies)
            revert IMarketGuard.MarketGuardTooManyDependencies(total, maxDependencies);
        if (total == 0 || address(config.market).code.length == 0 || config.pauseThresholdBps > _MAX_BPS)
            revert IMarketGuard.MarketGuardInvalidConfig(marketId);
        for (uint256 i = 0; i < total; ++i) {
            bytes32 dependency = i < serviceCount ? config.services[i] : config.endpoints[i - serviceCount];
            bool known =
                i < serviceCount
                    ? registry.activeEndpointId(dependency) != bytes32(0)
                    : registry.serviceOf(dependency) != bytes32(0);
            if (!known) revert IMarketGuard.MarketGuardInvalidConfig(marketId);
            for (uint256 j = 0; j < i; ++j) {
                bytes32 other = j < serviceCount ? config.services[j] : config.endpoints[j - serviceCount];
                if (other == dependency) revert IMarketGuard.MarketGuardInvalidConfig(marketId);
            }
        }
    }

    /// @notice Index `marketId` under each of its dependencies. Reverts {IMarketGuard.MarketGuardTooManyMarkets}
    /// when a dependency already has `maxMarkets` markets.
    function add(
        mapping(bytes32 => uint256[]) storage index,
        uint256 marketId,
        IMarketGuard.MarketConfig calldata config,
        uint256 maxMarkets
    ) internal {
        for (uint256 i = 0; i < config.services.length; ++i)
            _add(index[config.services[i]], config.services[i], marketId, maxMarkets);
        for (uint256 i = 0; i < config.endpoints.length; ++i)
            _add(index[config.endpoints[i]], config.endpoints[i], marketId, maxMarkets);
    }

    /// @notice Remove `marketId` from the lists of the dependencies of its stored `config` (swap-and-pop; it is in
    /// each list, indexed with that config).
    function remove(
        mapping(bytes32 => uint256[]) storage index,
        uint256 marketId,
        IMarketGuard.MarketConfig storage config
    ) internal {
        for (uint256 i = 0; i < config.services.length; ++i) _remove(index[config.services[i]], marketId);
        for (uint256 i = 0; i < config.endpoints.length; ++i) _remove(index[config.endpoints[i]], marketId);
    }

    /**
     * @notice Record that `market` is configured as `marketId`, replacing `previous` (zero when registering): one
     * market contract belongs to one market id, so the guard never holds two pause states for one contract.
     * Reverts {IMarketGuard.MarketGuardMarketAlreadyRegistered} when another id already holds `market`.
     */
    function bindMarket(
        mapping(address => uint256) storage idOf,
        uint256 marketId,
        address previous,
        address market
    ) internal {
        if (previous == market) return;
        uint256 existing = idOf[market];
        if (existing != 0) revert IMarketGuard.MarketGuardMarketAlreadyRegistered(market, existing);
        if (previous != address(0)) delete idOf[previous];
        idOf[market] = marketId;
    }

    function _add(uint256[] storage ids, bytes32 dependency, uint256 marketId, uint256 maxMarkets) private {
        if (ids.length >= maxMarkets) revert IMarketGuard.MarketGuardTooManyMarkets(dependency, maxMarkets);
        ids.push(marketId);
    }

    function _remove(uint256[] storage ids, uint256 marketId) private {
        uint256 last = ids.length - 1;
        for (uint256 i = 0; i < last; ++i) {
            if (ids[i] == marketId) {
                ids[i] = ids[last];
                break;
            }
        }
        ids.pop();
    }
}
