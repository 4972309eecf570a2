// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IGuardedMarket} from "../interfaces/IGuardedMarket.sol";

/**
 * @title GuardedPerpMarket
 * @notice A small perpetuals venue over one ERC-20 collateral, paused by the Vigil MarketGuard. While
 * paused it stops *opening* risk ({openPosition}, {increasePosition}); every exit ({closePosition},
 * {reducePosition}, {withdraw}) and {deposit} stay open, so a pause never locks a trader in.
 * @dev Deliberately simple economics: one position per account, a mark price set by the owner (the
 * FeedPricedPerpMarket variant reads it from a Chainlink feed, e.g. a Vigil FailoverFeed), 10% initial margin, PnL settled into the account's collateral balance; no funding, no
 * liquidations, no bad-debt socialisation (a loss beyond the balance is written off). Prices are collateral
 * units per 1e18 units of size.
 */
contract GuardedPerpMarket is IGuardedMarket, Ownable, Pausable, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice Fixed-point unit of size and of the mark price.
    uint256 public constant UNIT = 1e18;
    /// @notice Margin required to hold a position: this share of its notional at the mark price, bps.
    uint256 public constant INITIAL_MARGIN_BPS = 1_000;

    /// @notice An account's position. `entryPrice` is the size-weighted average of its opening prices.
    struct Position {
        uint256 size;
        uint256 entryPrice;
        bool isLong;
    }

    IERC20 private immutable _collateral;
    address private immutable _guard;
    uint256 private _markPrice;
    mapping(address account => uint256) private _balances;
    mapping(address account => Position) private _positions;

    event Deposited(address indexed account, uint256 amount);
    event Withdrawn(address indexed account, uint256 amount);
    event PositionOpened(address indexed account, uint256 size, bool isLong, uint256 price);
    event PositionIncreased(address indexed account, uint256 sizeDelta, uint256 size, uint256 entryPrice);
    /// @notice `sizeDelta` of the position was closed at `price`, realising `pnl` (collateral units).
    event PositionReduced(
        address indexed account,
        uint256 sizeDelta,
        uint256 size,
        uint256 price,
        int256 pnl
    );
    event MarkPriceChanged(uint256 price);

    /// @notice Only the guard may call {guardPause} / {guardUnpause}.
    error GuardedPerpMarketNotGuard(address caller);
    error GuardedPerpMarketZeroAmount();
    error GuardedPerpMarketInvalidPrice(uint256 price);
    error GuardedPerpMarketPositionExists(address account);
    error GuardedPerpMarketNoPosition(address account);
    /// @notice Reducing by more than the position's size.
    error GuardedPerpMarketReduceTooLarge(uint256 size, uint256 sizeDelta);
    /// @notice The position would need more margin than the account's equity.
    error GuardedPerpMarketInsufficientMargin(address account, int256 equity, uint256 required);
    /// @notice Withdrawing more than the account's free collateral.
    error GuardedPerpMarketInsufficientFreeCollateral(address account, uint256 requested, uint256 free);

    modifier onlyGuard() {
        _requireGuard();
        _;
    }

    /**
     * @param collateral_ The ERC-20 deposited as margin.
     * @param guard_ The MarketGuard allowed to pause and unpause.
     * @param initialOwner Sets the mark price.
     * @param markPrice_ Initial mark price (collateral units per 1e18 size), non-zero.
     */
    constructor(
        IERC20 collateral_,
        address guard_,
        address initialOwner,
        uint256 markPrice_
    ) Ownable(initialOwner) {
        if (markPrice_ == 0) revert GuardedPerpMarketInvalidPrice(markPrice_);
        _collateral = collateral_;
        _guard = guard_;
        _markPrice = markPrice_;
    }

    // ------------------------------------------------------------------------------------------------
    // Guard hooks
    // ------------------------------------------------------------------------------------------------

    /// @inheritdoc IGuardedMarket
    /// @dev Guard only ({GuardedPerpMarketNotGuard}); a no-op when already paused.
    function guardPause() external onlyGuard {
        if (!paused()) _pause();
    }

    /// @inheritdoc IGuardedMarket
    /// @dev Guard only ({GuardedPerpMarketNotGuard}); a no-op when not paused.
    function guardUnpause() external onlyGuard {
        if (paused()) _unpause();
    }

    // ------------------------------------------------------------------------------------------------
    // Collateral (always open)
    // ------------------------------------------------------------------------------------------------

    /// @notice Deposit `amount` collateral (token units) for the caller. Anyone; open while paused.
    function deposit(uint256 amount) external nonReentrant {
        if (amount == 0) revert GuardedPerpMarketZeroAmount();
        _balances[msg.sender] += amount;
        emit Deposited(msg.sender, amount);
        _collateral.safeTransferFrom(msg.sender, address(this), amount);
    }

    /**
     * @notice Withdraw `amount` of the caller's free collateral (equity minus the margin its position
     * needs). An exit: open while paused. Reverts {GuardedPerpMarketInsufficientFreeCollateral}.
     */
    function withdraw(uint256 amount) external nonReentrant {
        if (amount == 0) revert GuardedPerpMarketZeroAmount();
        uint256 free = freeCollateral(msg.sender);
        if (amount > free) revert GuardedPerpMarketInsufficientFreeCollateral(msg.sender, amount, free);
        _balances[msg.sender] -= amount;
        emit Withdrawn(msg.sender, amount);
        _collateral.safeTransfer(msg.sender, amount);
    }

    // ------------------------------------------------------------------------------------------------
    // Opening risk (blocked while paused)
    // ------------------------------------------------------------------------------------------------

    /// @notice Open a position of `size` (1e18 units) at the mark price. Blocked while paused
    /// (`EnforcedPause`). Reverts {GuardedPerpMarketPositionExists}, {GuardedPerpMarketInsufficientMargin}.
    function openPosition(uint256 size, bool isLong) external whenNotPaused {
        if (size == 0) revert GuardedPerpMarketZeroAmount();
        if (_positions[msg.sender].size != 0) revert GuardedPerpMarketPositionExists(msg.sender);
        uint256 price = _mark();
        _positions[msg.sender] = Position({size: size, entryPrice: price, isLong: isLong});
        _requireMargin(msg.sender, price);
        emit PositionOpened(msg.sender, size, isLong, price);
    }

    /// @notice Add `sizeDelta` to the caller's position at the mark price. Blocked while paused.
    /// Reverts {GuardedPerpMarketNoPosition}, {GuardedPerpMarketInsufficientMargin}.
    function increasePosition(uint256 sizeDelta) external whenNotPaused {
        if (sizeDelta == 0) revert GuardedPerpMarketZeroAmount();
        Position storage p = _positions[msg.sender];
        uint256 size = p.size;
        if (size == 0) revert GuardedPerpMarketNoPosition(msg.sender);
        uint256 newSize = size + sizeDelta;
        uint256 price = _mark();
        p.entryPrice = (size * p.entryPrice + sizeDelta * price) / newSize;
        p.size = newSize;
        _requireMargin(msg.sender, price);
        emit PositionIncreased(msg.sender, sizeDelta, newSize, p.entryPrice);
    }

    // ------------------------------------------------------------------------------------------------
    // Exits (always open)
    // ------------------------------------------------------------------------------------------------

    /// @notice Close the caller's whole position at the mark price, settling PnL. Open while paused.
    function closePosition() external {
        _reduce(msg.sender, _positions[msg.sender].size);
    }

    /// @notice Close `sizeDelta` of the caller's position at the mark price, settling that share of PnL.
    /// Open while paused. Reverts {GuardedPerpMarketNoPosition}, {GuardedPerpMarketReduceTooLarge}.
    function reducePosition(uint256 sizeDelta) external {
        if (sizeDelta == 0) revert GuardedPerpMarketZeroAmount();
        _reduce(msg.sender, sizeDelta);
    }

    // ------------------------------------------------------------------------------------------------
    // Owner
    // ------------------------------------------------------------------------------------------------

    /// @notice Set the mark price (collateral units per 1e18 size). Owner only; non-zero.
    function setMarkPrice(uint256 price) external virtual onlyOwner {
        if (price == 0) revert GuardedPerpMarketInvalidPrice(price);
        _markPrice = price;
        emit MarkPriceChanged(price);
    }

    // ------------------------------------------------------------------------------------------------
    // Views
    // ------------------------------------------------------------------------------------------------

    /// @notice Unrealised PnL of `account`'s position at the mark price, in collateral units.
    function unrealizedPnl(address account) public view returns (int256) {
        // No position: no price needed, so deposit and withdraw never read the price feed.
        if (_positions[account].size == 0) return 0;
        return _pnlAt(account, _mark());
    }

    /// @notice Collateral balance plus unrealised PnL, in collateral units (may be negative).
    function equity(address account) public view returns (int256) {
        return int256(_balances[account]) + unrealizedPnl(account);
    }

    /// @notice Margin `account`'s position needs: INITIAL_MARGIN_BPS of its notional at the mark price.
    function requiredMargin(address account) public view returns (uint256) {
        if (_positions[account].size == 0) return 0;
        return _marginAt(account, _mark());
    }

    /// @notice Collateral `account` may withdraw now: equity minus required margin, floored at 0 and
    /// capped at the balance.
    function freeCollateral(address account) public view returns (uint256) {
        uint256 balance = _balances[account];
        if (_positions[account].size == 0) return balance;
        uint256 price = _mark();
        int256 free = int256(balance) + _pnlAt(account, price) - int256(_marginAt(account, price));
        if (free <= 0) return 0;
        return uint256(free) < balance ? uint256(free) : balance;
    }

    /// @notice Deposited collateral including realised PnL, token units.
    function balanceOf(address account) external view returns (uint256) {
        return _balances[account];
    }

    function positionOf(address account) external view returns (Position memory) {
        return _positions[account];
    }

    /// @notice The mark price now, collateral units per 1e18 size (reverts as the feed does, when there is one).
    function markPrice() external view returns (uint256) {
        return _mark();
    }

    function collateral() external view returns (IERC20) {
        return _collateral;
    }

    function guard() external view returns (address) {
        return _guard;
    }

    // ------------------------------------------------------------------------------------------------
    // Internals
    // ------------------------------------------------------------------------------------------------

    function _reduce(address account, uint256 sizeDelta) private {
        Position storage p = _positions[account];
        uint256 size = p.size;
        if (size == 0) revert GuardedPerpMarketNoPosition(account);
        if (sizeDelta > size) revert GuardedPerpMarketReduceTooLarge(size, sizeDelta);
        uint256 price = _mark();
        int256 pnl = (_pnlAt(account, price) * int256(sizeDelta)) / int256(size);
        int256 balance = int256(_balances[account]) + pnl;
        _balances[account] = balance > 0 ? uint256(balance) : 0;
        uint256 remaining = size - sizeDelta;
        if (remaining == 0) delete _positions[account];
        else p.size = remaining;
        emit PositionReduced(account, sizeDelta, remaining, price, pnl);
    }

    /// @dev The mark price, collateral units per 1e18 size: the owner-set price here; a variant reads a feed.
    function _mark() internal view virtual returns (uint256) {
        return _markPrice;
    }

    /// @dev PnL of `account`'s position at `price`, collateral units.
    function _pnlAt(address account, uint256 price) private view returns (int256) {
        Position storage p = _positions[account];
        int256 move = int256(price) - int256(p.entryPrice);
        int256 pnl = (int256(p.size) * move) / int256(UNIT);
        return p.isLong ? pnl : -pnl;
    }

    /// @dev Margin `account`'s position needs at `price`.
    function _marginAt(address account, uint256 price) private view returns (uint256) {
        return (((_positions[account].size * price) / UNIT) * INITIAL_MARGIN_BPS) / 10_000;
    }

    /// @dev One price for both sides of the check (one feed read per transaction).
    function _requireMargin(address account, uint256 price) private view {
        int256 accountEquity = int256(_balances[account]) + _pnlAt(account, price);
        uint256 required = _marginAt(account, price);
        if (accountEquity < int256(required)) {
            revert GuardedPerpMarketInsufficientMargin(account, accountEquity, required);
        }
    }

    function _requireGuard() private view {
        if (msg.sender != _guard) revert GuardedPerpMarketNotGuard(msg.sender);
    }
}
