/**
 * State parity: which of a service's JSON-RPC endpoints serve the chain the others see. PURE — no clock, no
 * I/O — so every rule is tested without a network; keepers/attestor/rpcService.ts fetches the blocks.
 *
 * Honest endpoints of one service are replicas of one chain: at every height they all return the same block
 * hash. Comparing only cached heads when two happen to be at the same height (the first version) let a node
 * on a diverged fork one block ahead or behind pass as healthy most rounds: the Infura 2020 incident (a
 * minority chain served under the right chain id). So, each probe round:
 *
 * 1. **Claimed head verified.** Each endpoint's `latest` block must come back by number with the same hash
 *    (a load-balanced provider answering from two backends, or a head the endpoint cannot serve — erpc#1154 —
 *    fails here: `unverified_head`). Only verified heads count below.
 * 2. **Reference head, corroborated.** An endpoint's lag is measured against the LOWER median of its same-chain
 *    peers' verified heads ({@link referenceHead}), never the maximum: one peer claiming a far head neither makes
 *    its honest peers look lagging nor defines the reference.
 * 3. **Compared height.** `h` = the lowest verified head among those within `window` blocks of the lower median
 *    of all verified heads ({@link comparedHeight}). A laggard further behind cannot drag `h` down to a height
 *    where a recent fork is invisible; it is judged by lag (and lag ≥ `window` scores 0 by the default
 *    thresholds). Every endpoint whose head is at or above `h` returns block `h` by number.
 * 4. **Majority.** A hash held by a strict majority (> half) of the endpoints compared at `h` is the service's
 *    chain; an endpoint with another hash is on a `fork`. With no strict majority (two endpoints that disagree,
 *    two against two), a configured reference source's block `h` decides; without one, every compared endpoint
 *    is `no_majority` (score 0): the attestor does not know which chain is right and will not vouch for either
 *    ({@link judgeAtHeight}).
 *
 * The comparison at the lowest head in the window sees every fork that diverged at or below it, whatever the
 * heights: a fork one block ahead, one behind or level with its peers differs at `h`. A fork that diverged above
 * `h` has not yet reached a height its peers have: it is compared the next round.
 */

import { lowerMedian } from "../shared/quorum";

/** An endpoint's latest head as probed this round. */
export interface ParityHead {
  id: string;
  /** Block number of `latest`. */
  number: number;
  /** Lower-case 0x hash of `latest`. */
  hash: string;
}

/** What an endpoint returned for a block by number: its hash, `null` (no such block), or `undefined` (no answer). */
export type BlockAnswer = string | null | undefined;

/** The parity verdict on one endpoint for one round. */
export type ParityVerdict =
  | { kind: "agree" }
  | { kind: "not_compared" }
  | { kind: "fork"; detail: string }
  | { kind: "no_majority"; detail: string }
  | { kind: "unverified_head"; detail: string };

/**
 * The head `self` is measured against: the lower median of the OTHER verified heads; undefined without
 * peers (no lag is measured then). With one peer it is that peer's head.
 */
export function referenceHead(selfId: string, verified: readonly ParityHead[]): number | undefined {
  const others = verified.filter((h) => h.id !== selfId).map((h) => h.number);
  return others.length ? lowerMedian(others) : undefined;
}

/**
 * The height every endpoint is compared at: the lowest verified head within `window` blocks below the lower
 * median of all verified heads. Undefined with fewer than two verified heads (nothing to compare).
 * @param window Blocks, ≥ 0 (the lag at which the lag factor reaches its floor).
 */
export function comparedHeight(verified: readonly ParityHead[], window: number): number | undefined {
  if (verified.length < 2) return undefined;
  const floor = lowerMedian(verified.map((h) => h.number)) - window;
  return Math.min(...verified.map((h) => h.number).filter((n) => n >= floor));
}

/**
 * Judge every endpoint compared at one height.
 * @param answers Endpoint id → its answer for block `height` (only endpoints whose head is at or above it).
 * @param reference The reference source's hash of block `height`, when one is configured and answered.
 * @returns Endpoint id → verdict. An endpoint that gave no hash is `unverified_head` (it claimed a head at or
 *   above `height`, so it must serve it); the rest are judged by strict majority, then by the reference.
 */
export function judgeAtHeight(
  height: number,
  answers: ReadonlyMap<string, BlockAnswer>,
  reference?: string | null,
): Map<string, ParityVerdict> {
  const out = new Map<string, ParityVerdict>();
  const counts = new Map<string, number>();
  let voters = 0;
  for (const [id, hash] of answers) {
    if (typeof hash !== "string") {
      out.set(id, {
        kind: "unverified_head",
        detail: `claims a head at or above block ${height} but ${hash === null ? "has no block" : "gave no answer for block"} ${height}`,
      });
      continue;
    }
    voters += 1;
    counts.set(hash, (counts.get(hash) ?? 0) + 1);
  }
  let majority: string | undefined;
  for (const [hash, n] of counts) if (2 * n > voters) majority = hash;
  const summary = [...counts.entries()].map(([h, n]) => `${n}× ${h.slice(0, 10)}`).join(", ");
  if (majority === undefined && typeof reference === "string") majority = reference;
  for (const [id, hash] of answers) {
    if (typeof hash !== "string") continue;
    if (majority === undefined) {
      out.set(id, {
        kind: "no_majority",
        detail: `no majority at block ${height} (${summary}) and no reference source answered`,
      });
    } else if (hash === majority) {
      out.set(id, { kind: "agree" });
    } else {
      out.set(id, {
        kind: "fork",
        detail: `block ${height} is ${hash.slice(0, 10)}…, the ${counts.get(majority) ? "majority" : "reference"} has ${majority.slice(0, 10)}… (${summary})`,
      });
    }
  }
  return out;
}
