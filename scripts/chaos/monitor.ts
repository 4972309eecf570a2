/**
 * Reads the contracts' views at every block of the control chain while the chaos run goes (the state after
 * that block, `blockTag` = its number), so the accounting can say from which block each action was due. A block
 * whose hash changed (a reorg) is read again. Its latest record is also what the incident runner waits on.
 */
import type { JsonRpcProvider } from "ethers";
import type { IEndpointRegistry, IMarketGuard } from "../../typechain-types";
import type { BlockView } from "./accounting";

/** One block's views plus what the runner waits on. */
export interface BlockRecord extends BlockView {
  hash: string;
  baseFeePerGas: bigint;
  paused: boolean;
  /** The service's active endpoint id (lower case). */
  active: string;
}

export class ViewMonitor {
  readonly records = new Map<number, BlockRecord>();
  private _timer?: NodeJS.Timeout;
  private _busy = false;
  private _next = 0;
  private _latest?: BlockRecord;
  private _errors = 0;

  constructor(
    private readonly provider: JsonRpcProvider,
    private readonly registry: IEndpointRegistry,
    private readonly guard: IMarketGuard,
    private readonly serviceId: string,
    private readonly marketId: bigint,
    private readonly intervalMs = 200,
  ) {}

  /** Start reading from block `from`. */
  start(from: number): void {
    this._next = from;
    this._timer = setInterval(() => void this._poll(), this.intervalMs);
  }

  stop(): void {
    if (this._timer) clearInterval(this._timer);
  }

  /** The newest block read. */
  get latest(): BlockRecord | undefined {
    return this._latest;
  }

  /** Failed reads so far (retried). */
  get errors(): number {
    return this._errors;
  }

  /** Forget blocks from `block` on (a reorg replaced them) and read them again. */
  invalidateFrom(block: number): void {
    for (const b of [...this.records.keys()]) if (b >= block) this.records.delete(b);
    this._next = Math.min(this._next, block);
    // nothing counts as the latest until the head has been read again
    this._latest = undefined;
  }

  /**
   * Resolve with the latest record (the head's, as read from now on) for which `pred` holds, at block `minBlock`
   * or later; null after `timeoutMs`.
   */
  async waitFor(
    pred: (r: BlockRecord) => boolean,
    timeoutMs: number,
    minBlock = 0,
  ): Promise<BlockRecord | null> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const r = this._latest;
      if (r && r.block >= minBlock && pred(r)) return r;
      await new Promise((res) => setTimeout(res, 100));
    }
    return null;
  }

  private async _poll(): Promise<void> {
    if (this._busy) return;
    this._busy = true;
    try {
      const head = await this.provider.getBlock("latest");
      if (!head) return;
      // a reorg: the stored block at the head (or just below) has another hash now
      const known = this.records.get(head.number);
      if ((known && known.hash !== head.hash) || head.number < this._next - 1) {
        this.invalidateFrom(Math.max(0, head.number - 16));
      }
      // blocks missed or replaced are read too, but only the head's record becomes the latest
      for (let b = this._next; b <= head.number; b++) {
        const rec = await this._read(b);
        this.records.set(b, rec);
        this._next = b + 1;
        if (b === head.number) this._latest = rec;
      }
    } catch {
      this._errors++;
    } finally {
      this._busy = false;
    }
  }

  private async _read(b: number): Promise<BlockRecord> {
    const tag = { blockTag: b };
    const [block, mig, trip, resume, paused, active] = await Promise.all([
      this.provider.getBlock(b),
      this.registry.migrationStatus(this.serviceId, tag),
      this.guard.tripStatus(this.marketId, tag),
      this.guard.resumeStatus(this.marketId, tag),
      this.guard.isPaused(this.marketId, tag),
      this.registry.activeEndpointId(this.serviceId, tag),
    ]);
    if (!block) throw new Error(`block ${b} not found`);
    return {
      block: b,
      hash: block.hash!,
      timestamp: block.timestamp,
      baseFeePerGas: block.baseFeePerGas ?? 0n,
      migration: Number(mig.check),
      trip: Number(trip.check),
      resume: Number(resume.check),
      paused,
      active: active.toLowerCase(),
    };
  }
}
