/**
 * The few ethers-backed helpers the admin commands call while checking their input, loaded on first
 * call instead of at start-up: ethers alone costs `vigil --help` about 0.15 s on an idle 2-core
 * machine, and --help never calls these. Same signatures, results and errors as the originals.
 */
import type { FeedAddress } from "../attestor/probes/oracleFeed";

/** ethers' `ZeroAddress`: the 20-byte zero address, lowercase hex. */
export const ZeroAddress = `0x${"0".repeat(40)}`;

/** ethers' `getAddress`: the checksummed form of a 20-byte hex address; throws on a bad one. */
export function getAddress(address: string): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require("ethers") as typeof import("ethers")).getAddress(address);
}

/** keepers/attestor/probes/oracleFeed's `parseCaip10` (`eip155:<chainId>:<address>`), loaded on first call. */
export function parseCaip10(uri: string): FeedAddress | undefined {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const feed = require("../attestor/probes/oracleFeed") as typeof import("../attestor/probes/oracleFeed");
  return feed.parseCaip10(uri);
}
