// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AggregatorV3Interface} from "@chainlink/contracts/src/v0.8/shared/interfaces/AggregatorV3Interface.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {GuardedPerpMarket} from "./GuardedPerpMarket.sol";

/**
 * @title FeedPricedPerpMarket
 * @notice The example GuardedPerpMarket with its mark price read from a Chainlink `AggregatorV3Interface` on every
 * trade instead of set by the owner: give it a Vigil FailoverFeed and the market's price source fails over with
 * the EndpointRegistry, at the same address, with no call and no owner action. Its MarketGuard dependencies are
 * then the RPC service and the price-feed service the FailoverFeed follows: a feed that can fail over is
 * migrated, and only when no feed of the service is usable does the guard pause opening risk.
 * @dev Fails closed: a feed that reverts (a FailoverFeed does when its active feed is stale or not positive)
 * makes every call that needs a price revert, so nothing opens, closes or moves margin at a price the feed
 * refused. Deposits, and withdrawals by an account without a position, need no price and stay open. Closing
 * a position needs a price: during an outage of every feed of the service it waits for a fresh one, because
 * closing at a stale price is exactly the trade a stale price lets an informed trader win.
 */
contract FeedPricedPerpMarket is GuardedPerpMarket {
    AggregatorV3Interface private immutable _priceFeed;
    /// @dev `10^(collateral decimals - feed decimals)`: feed answers times this are collateral units per 1e18 size.
    uint256 private immutable _scale;

    /// @notice The mark price comes from the feed: the owner cannot set it.
    error FeedPricedPerpMarketPriceFromFeed();
    /// @notice Constructor: the feed has no code, or more decimals than the collateral (lossy conversion).
    error FeedPricedPerpMarketInvalidFeed(address feed, uint8 feedDecimals, uint8 collateralDecimals);
    /// @notice The feed answered zero or a negative price (a feed that does not check what a FailoverFeed checks).
    error FeedPricedPerpMarketInvalidAnswer(int256 answer);

    /**
     * @param collateral_ The ERC-20 deposited as margin (with `decimals()`).
     * @param guard_ The MarketGuard allowed to pause and unpause.
     * @param initialOwner Owner (no price role here; kept for `Ownable`).
     * @param priceFeed_ The feed of the mark price, in collateral units per 1 unit of size with the feed's
     * decimals, at most the collateral's decimals (a FailoverFeed with 8 or 18 decimals). Reverts
     * {FeedPricedPerpMarketInvalidFeed}.
     */
    constructor(
        IERC20 collateral_,
        address guard_,
        address initialOwner,
        AggregatorV3Interface priceFeed_
    ) GuardedPerpMarket(collateral_, guard_, initialOwner, 1) {
        uint8 collateralDecimals = IERC20Metadata(address(collateral_)).decimals();
        uint8 feedDecimals = address(priceFeed_).code.length == 0 ? type(uint8).max : priceFeed_.decimals();
        if (feedDecimals > collateralDecimals) {
            revert FeedPricedPerpMarketInvalidFeed(address(priceFeed_), feedDecimals, collateralDecimals);
        }
        _priceFeed = priceFeed_;
        _scale = 10 ** (collateralDecimals - feedDecimals);
    }

    /// @notice Always reverts {FeedPricedPerpMarketPriceFromFeed}: the price is the feed's.
    function setMarkPrice(uint256) external view override onlyOwner {
        revert FeedPricedPerpMarketPriceFromFeed();
    }

    /// @notice The feed this market prices from (immutable).
    function priceFeed() external view returns (AggregatorV3Interface) {
        return _priceFeed;
    }

    /// @dev The feed's latest answer in collateral units per 1e18 size; reverts as the feed does, and on an
    /// answer <= 0. Staleness is the feed's to refuse (a FailoverFeed reverts past its `maxAge`).
    function _mark() internal view override returns (uint256) {
        (, int256 answer, , , ) = _priceFeed.latestRoundData();
        if (answer <= 0) revert FeedPricedPerpMarketInvalidAnswer(answer);
        return uint256(answer) * _scale;
    }
}
