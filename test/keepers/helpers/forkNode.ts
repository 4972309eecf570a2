/**
 * A real diverged fork with the right chain id, for the state-parity tests (issue 12): an anvil started as
 * `anvil --fork-url <peer> --chain-id <same>` on the port of one replica of a {@link ReplicaSet}, so the
 * endpoint the registry and the attestors know keeps its URL, then diverged with a transaction only it has.
 * It is mined by this helper with the replicas' own timestamps (`T0 + n·blockTimeSec`), at a chosen position
 * relative to the honest tip: one block behind, level, or one block ahead. Same chain id, same times, other
 * hashes from the divergence on: the Infura 2020 case.
 *
 * Undo ({@link ForkedNode.undo}): the fork process is stopped and the replica is restarted from genesis and
 * replayed by the ReplicaSet, an honest replica again on the same port.
 */
import { ManagedNode, rpc } from "../../../scripts/drill/nodes";
import type { ForkPosition, ReplicaSet } from "../../../scripts/drill/replicas";

/** anvil's dev account #9 (mnemonic "test test … junk"): sends the transaction that diverges the fork. */
const DIVERGER = "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720";

/** Offset of a position from the honest tip, blocks. */
export const OFFSET: Record<ForkPosition, number> = { behind: -1, equal: 0, ahead: 1 };

export class ForkedNode {
  /** Head of the fork process, as mined by this helper (blocks). */
  head = 0;
  /** Height of the peer's block the fork started from; its own blocks begin at `forkBlock + 1`. */
  forkBlock = 0;
  position: ForkPosition = "equal";
  private _mining: Promise<void> = Promise.resolve();
  /** Set by {@link undo}/{@link stop}: never mine again (the port then serves an honest replica). */
  private _done = false;

  private constructor(
    readonly set: ReplicaSet,
    /** The replica slot whose port the fork took. */
    readonly slot: number,
    readonly node: ManagedNode,
  ) {}

  get url(): string {
    return this.node.url;
  }

  /**
   * Kill replica `slot` (the ReplicaSet stops mining it) and start `anvil --fork-url <replica peer>` with the
   * same chain id on its port; then send a transaction only the fork has and mine it into the fork's next
   * block (`diverged`). Throws when anvil does not start.
   * @param peer The replica the fork is taken from; it must stay up while the fork runs (anvil reads state
   *   from it lazily).
   */
  static async start(set: ReplicaSet, slot: number, peer: number): Promise<ForkedNode> {
    const spec = set.nodes[slot].spec;
    await set.kill(slot);
    const node = new ManagedNode({
      name: `${spec.name}-fork`,
      impl: "anvil",
      port: spec.port,
      chainId: spec.chainId,
      blockTimeSec: 0, // --no-mining: blocks come from this helper, with the replicas' timestamps
      extraArgs: ["--fork-url", set.url(peer)],
    });
    await node.start(60_000);
    const f = new ForkedNode(set, slot, node);
    f.forkBlock = f.head = Number(BigInt(await rpc<string>(node.url, "eth_blockNumber", [], 10_000)));
    await rpc(node.url, "eth_sendTransaction", [{ from: DIVERGER, to: DIVERGER, value: "0x1" }], 10_000);
    await f._mineTo(f.head + 1);
    return f;
  }

  /** Hash of the fork's block n (null when it has none). */
  async hashAt(n: number): Promise<string | null> {
    const b = await rpc<{ hash: string } | null>(
      this.url,
      "eth_getBlockByNumber",
      [`0x${n.toString(16)}`, false],
      10_000,
    );
    return b?.hash ?? null;
  }

  /**
   * Mine the fork up to `tip + OFFSET[position]` (never backwards: a fork ahead of its target waits for the
   * tip). Calls are serialised, so a hook and a test may both call it; after {@link undo} or {@link stop} it mines
   * nothing (the port may already serve an honest replica). @returns the fork's head.
   */
  follow(tip: number): Promise<number> {
    if (this._done) return Promise.resolve(this.head);
    const job = this._mining.then(() => this._mineTo(tip + OFFSET[this.position]));
    this._mining = job.catch(() => undefined);
    return job.then(() => this.head);
  }

  /** Stop the fork and restart the slot as an honest replica, replayed to the tip; resolves once in sync. */
  async undo(timeoutMs = 60_000): Promise<void> {
    this._done = true;
    await this._mining;
    await this.node.stop();
    await this.set.restart(this.slot, timeoutMs);
  }

  /** Stop the fork process (idempotent). */
  stop(): Promise<void> {
    this._done = true;
    return this.node.stop();
  }

  private async _mineTo(target: number): Promise<void> {
    while (this.head < target) {
      const next = this.head + 1;
      await rpc(this.url, "evm_mine", [this.set.timestampOf(next)], 10_000);
      this.head = next;
    }
  }
}
