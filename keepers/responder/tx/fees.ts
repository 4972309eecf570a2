/** EIP-1559 fee arithmetic of replacements and cancels (geth's 12.5% price bump), no policy. */

export interface Fees {
  maxFeePerGas: bigint;
  maxPriorityFeePerGas: bigint;
}

/**
 * The next fees for a replacement: both raised by `bumpPercent` (rounded up, and at least +1 wei),
 * the max fee capped at `capWei` and the tip never above the max fee. @returns undefined when the cap
 * leaves no room for a valid replacement (both fees must rise by at least 12.5%).
 */
export function bumpFees(fees: Fees, bumpPercent: number, capWei: bigint): Fees | undefined {
  const scale = BigInt(Math.round(bumpPercent * 1000));
  const up = (v: bigint) => {
    const next = (v * (100_000n + scale) + 99_999n) / 100_000n;
    return next > v ? next : v + 1n;
  };
  const minUp = (v: bigint) => (v * 1125n + 999n) / 1000n;
  const maxFee = up(fees.maxFeePerGas) > capWei ? capWei : up(fees.maxFeePerGas);
  let tip = up(fees.maxPriorityFeePerGas);
  if (tip > maxFee) tip = maxFee;
  if (maxFee < minUp(fees.maxFeePerGas) || tip < minUp(fees.maxPriorityFeePerGas)) return undefined;
  return { maxFeePerGas: maxFee, maxPriorityFeePerGas: tip };
}

/**
 * Fees of a cancel that replaces `fees` at the same nonce: a bump within `capWei` when there is room,
 * else the smallest valid replacement (both fees +12.5%) even above the cap: a cancel costs 21,000 gas
 * and frees the nonce every later action waits behind, so it must be accepted.
 */
export function cancelFees(fees: Fees, bumpPercent: number, capWei: bigint): Fees {
  const bumped = bumpFees(fees, bumpPercent, capWei);
  if (bumped) return bumped;
  const minUp = (v: bigint) => {
    const n = (v * 1125n + 999n) / 1000n;
    return n > v ? n : v + 1n;
  };
  return { maxFeePerGas: minUp(fees.maxFeePerGas), maxPriorityFeePerGas: minUp(fees.maxPriorityFeePerGas) };
}
