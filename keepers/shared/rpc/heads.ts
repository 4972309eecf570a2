/**
 * What the RPC pool knows about each member: its last head, whether it is down (and when to probe it again),
 * and from that its status. Plain data and a clock, no network, so the rules are tested without a node.
 *
 * - `down`: its last request failed on transport (refused, reset, timed out). Not asked again until a probe,
 *   scheduled with exponential backoff from `backoffBaseMs` to `backoffCapMs`, answers.
 * - `lagging`: more than `lagBlocks` behind the highest head among members that are not down.
 * - `frozen`: behind the highest head, and its own head has not moved for `frozenAfterMs` since it fell
 *   behind: another member's head advanced while its did not (a node that stopped syncing). An idle chain,
 *   where no head moves, freezes nobody.
 * - `lying`: its last head block was timestamped beyond the wall clock (see {@link HeadTable.setLying}); its head
 *   counts toward nobody's lag and is never the highest.
 * - `fresh`: none of these (a member whose head is not known yet counts as fresh).
 */

export type MemberStatus = "fresh" | "down" | "frozen" | "lagging" | "lying";

export interface HeadRules {
  /** Blocks behind the highest head beyond which a member is lagging. */
  lagBlocks: number;
  /** How long a member may sit behind the highest head without its own head advancing, ms. */
  frozenAfterMs: number;
  /** First re-probe delay of a down member, ms; doubles per failed probe. */
  backoffBaseMs: number;
  /** Longest re-probe delay, ms. */
  backoffCapMs: number;
}

interface Track {
  head: number;
  down: boolean;
  backoffMs: number;
  nextProbeAt: number;
  /** When the member was first seen behind the highest head at its current head; undefined when level. */
  behindSince?: number;
  behindAt?: number;
  /** Its last head block was timestamped in the future: its head is a lie. */
  lying: boolean;
  status: MemberStatus;
}

/** A change of a member's status, as {@link HeadTable.evaluate} reports it. */
export interface StatusChange {
  index: number;
  from: MemberStatus;
  to: MemberStatus;
  head: number;
  maxHead: number;
}

/** The members' heads and statuses. Indexes are the pool's member indexes. */
export class HeadTable {
  private readonly tracks: Track[];

  constructor(
    size: number,
    private readonly rules: HeadRules,
    private readonly now: () => number = Date.now,
  ) {
    this.tracks = Array.from({ length: size }, () => ({
      head: -1,
      down: false,
      backoffMs: rules.backoffBaseMs,
      nextProbeAt: 0,
      lying: false,
      status: "fresh" as MemberStatus,
    }));
  }

  /** The member's last seen head; -1 before any. */
  head(i: number): number {
    return this.tracks[i].head;
  }

  /** The member's status as of the last {@link evaluate}. */
  status(i: number): MemberStatus {
    return this.tracks[i].status;
  }

  /** True while the member is down (its last request failed on transport). */
  isDown(i: number): boolean {
    return this.tracks[i].down;
  }

  /** True while the member's last judged head block was timestamped beyond the wall clock. */
  isLying(i: number): boolean {
    return this.tracks[i].lying;
  }

  /**
   * Record whether the member's head block, as it last served it, is timestamped beyond the wall clock (the
   * pool judges it from the block's timestamp). A lying member's head is left out of {@link maxHead}.
   */
  setLying(i: number, lying: boolean): void {
    this.tracks[i].lying = lying;
  }

  /** The highest head among members that are neither down nor lying; -1 when none is known. */
  maxHead(): number {
    let max = -1;
    for (const t of this.tracks) if (!t.down && !t.lying && t.head > max) max = t.head;
    return max;
  }

  /** Blocks the member is behind {@link maxHead}; 0 when either is unknown. */
  lag(i: number): number {
    const t = this.tracks[i];
    const max = this.maxHead();
    return t.head < 0 || max < 0 ? 0 : Math.max(0, max - t.head);
  }

  /** The member answered; `head` when the answer carried one. Returns true when it was down (it is back). */
  answered(i: number, head?: number): boolean {
    const t = this.tracks[i];
    const wasDown = t.down;
    t.down = false;
    t.backoffMs = this.rules.backoffBaseMs;
    // The latest answer is the member's head, lower ones included (a rollback, a resync after a restart).
    if (head !== undefined && Number.isSafeInteger(head) && head >= 0) t.head = head;
    return wasDown;
  }

  /**
   * The member failed on transport. Returns true when it was up (it just went down); a down member's next
   * probe moves out by the doubled backoff.
   */
  failed(i: number): boolean {
    const t = this.tracks[i];
    const wasUp = !t.down;
    if (wasUp) t.backoffMs = this.rules.backoffBaseMs;
    else t.backoffMs = Math.min(t.backoffMs * 2, this.rules.backoffCapMs);
    t.down = true;
    t.nextProbeAt = this.now() + t.backoffMs;
    return wasUp;
  }

  /** True when the member should be probed now: it is up, or down and its backoff has passed. */
  dueForProbe(i: number): boolean {
    const t = this.tracks[i];
    return !t.down || this.now() >= t.nextProbeAt;
  }

  /** Recompute every status from heads and the clock; returns the members whose status changed. */
  evaluate(): StatusChange[] {
    const now = this.now();
    const maxHead = this.maxHead();
    const changes: StatusChange[] = [];
    this.tracks.forEach((t, index) => {
      let status: MemberStatus = "fresh";
      if (t.down) {
        status = "down";
      } else if (t.lying) {
        status = "lying";
        t.behindSince = undefined;
        t.behindAt = undefined;
      } else if (t.head >= 0 && maxHead > t.head) {
        if (t.behindSince === undefined || t.behindAt !== t.head) {
          t.behindSince = now;
          t.behindAt = t.head;
        }
        if (now - t.behindSince >= this.rules.frozenAfterMs) status = "frozen";
        else if (maxHead - t.head > this.rules.lagBlocks) status = "lagging";
      } else {
        t.behindSince = undefined;
        t.behindAt = undefined;
      }
      if (status !== t.status) {
        changes.push({ index, from: t.status, to: status, head: t.head, maxHead });
        t.status = status;
      }
    });
    return changes;
  }
}
