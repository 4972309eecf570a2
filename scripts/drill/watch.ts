import { Interface, JsonRpcProvider, type Log } from "ethers";
import {
  IEndpointRegistry__factory,
  IHealthOracle__factory,
  IMarketGuard__factory,
} from "../../typechain-types";
import { statusName } from "../../keepers/shared/health";
import { decodeValues } from "../../keepers/shared/report";

/**
 * A decoded Vigil event as the drill saw it. `seenAtMs` is the drill's wall clock when it read the log;
 * `block` and `logIndex` place it on the chain.
 */
export type ChainEvent =
  | {
      kind: "status";
      endpointId: string;
      previous: number;
      current: number;
      seenAtMs: number;
      tx: string;
      block: number;
      logIndex: number;
    }
  | {
      kind: "migration";
      serviceId: string;
      from: string;
      to: string;
      failback: boolean;
      seenAtMs: number;
      tx: string;
      block: number;
      logIndex: number;
    }
  | {
      kind: "pause";
      marketId: bigint;
      cause: string;
      seenAtMs: number;
      tx: string;
      block: number;
      logIndex: number;
    }
  | { kind: "resume"; marketId: bigint; seenAtMs: number; tx: string; block: number; logIndex: number };

/**
 * Polls the control chain for HealthOracle, EndpointRegistry and MarketGuard events (every
 * `intervalMs`, from the last block read), decodes them and keeps them in order of arrival.
 * Polling rather than subscriptions: the drill measures what a keeper could see, and it must not
 * miss an event when a filter is dropped.
 */
export class ChainWatcher {
  readonly events: ChainEvent[] = [];
  private _from = 0;
  private _timer?: NodeJS.Timeout;
  private _busy = false;
  private readonly _oracle: Interface = IHealthOracle__factory.createInterface() as unknown as Interface;
  private readonly _registry: Interface =
    IEndpointRegistry__factory.createInterface() as unknown as Interface;
  private readonly _guard: Interface = IMarketGuard__factory.createInterface() as unknown as Interface;
  private readonly _listeners: ((e: ChainEvent) => void)[] = [];

  constructor(
    private readonly provider: JsonRpcProvider,
    private readonly addresses: { oracle: string; registry: string; guard: string },
    private readonly intervalMs = 250,
  ) {}

  /** Start polling from the current block. */
  async start(): Promise<void> {
    this._from = (await this.provider.getBlockNumber()) + 1;
    this._timer = setInterval(() => void this._poll(), this.intervalMs);
  }

  stop(): void {
    if (this._timer) clearInterval(this._timer);
  }

  /** Call `fn` for every new event. */
  onEvent(fn: (e: ChainEvent) => void): void {
    this._listeners.push(fn);
  }

  /** Resolve with the first event (already seen at or after `sinceMs`, or future) matching `pred`; null on timeout. */
  waitFor<E extends ChainEvent>(
    pred: (e: ChainEvent) => e is E,
    sinceMs: number,
    timeoutMs: number,
  ): Promise<E | null>;
  waitFor(pred: (e: ChainEvent) => boolean, sinceMs: number, timeoutMs: number): Promise<ChainEvent | null>;
  waitFor(pred: (e: ChainEvent) => boolean, sinceMs: number, timeoutMs: number): Promise<ChainEvent | null> {
    const hit = this.events.find((e) => e.seenAtMs >= sinceMs && pred(e));
    if (hit) return Promise.resolve(hit);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        done = true;
        resolve(null);
      }, timeoutMs);
      let done = false;
      this._listeners.push((e) => {
        if (!done && pred(e)) {
          done = true;
          clearTimeout(timer);
          resolve(e);
        }
      });
    });
  }

  private async _poll(): Promise<void> {
    if (this._busy) return; // never overlap two polls
    this._busy = true;
    try {
      const head = await this.provider.getBlockNumber();
      if (head < this._from) return;
      const logs = await this.provider.getLogs({
        fromBlock: this._from,
        toBlock: head,
        address: [this.addresses.oracle, this.addresses.registry, this.addresses.guard],
      });
      this._from = head + 1;
      const now = Date.now();
      for (const log of logs) {
        const e = this._decode(log, now);
        if (!e) continue;
        this.events.push(e);
        for (const l of this._listeners) l(e);
      }
    } catch {
      // the control chain is local; a failed poll is retried on the next tick
    } finally {
      this._busy = false;
    }
  }

  private _decode(log: Log, seenAtMs: number): ChainEvent | null {
    const addr = log.address.toLowerCase();
    const base = { seenAtMs, tx: log.transactionHash, block: log.blockNumber, logIndex: log.index };
    try {
      if (addr === this.addresses.oracle.toLowerCase()) {
        const p = this._oracle.parseLog(log);
        if (p?.name === "StatusChanged") {
          return {
            kind: "status",
            endpointId: p.args[0],
            previous: Number(p.args[1]),
            current: Number(p.args[2]),
            ...base,
          };
        }
      } else if (addr === this.addresses.registry.toLowerCase()) {
        const p = this._registry.parseLog(log);
        if (p?.name === "EndpointMigrated") {
          return {
            kind: "migration",
            serviceId: p.args[0],
            from: p.args[1],
            to: p.args[2],
            failback: p.args[3],
            ...base,
          };
        }
      } else if (addr === this.addresses.guard.toLowerCase()) {
        const p = this._guard.parseLog(log);
        if (p?.name === "MarketPaused")
          return { kind: "pause", marketId: p.args[0], cause: p.args[1], ...base };
        if (p?.name === "MarketResumed") return { kind: "resume", marketId: p.args[0], ...base };
      }
    } catch {
      return null;
    }
    return null;
  }
}

/** One line describing an event, with endpoint names from `names` (id → name). */
export function describeEvent(e: ChainEvent, names: Map<string, string>): string {
  const n = (id: string) => names.get(id.toLowerCase()) ?? `${id.slice(0, 10)}…`;
  switch (e.kind) {
    case "status":
      return `on-chain: ${n(e.endpointId)} ${statusName(e.previous)} → ${statusName(e.current)} (block ${e.block})`;
    case "migration":
      return `on-chain: service migrated ${n(e.from)} → ${n(e.to)}${e.failback ? " (failback)" : ""} (block ${e.block})`;
    case "pause":
      return `on-chain: market #${e.marketId} PAUSED, cause ${n(e.cause)} (block ${e.block})`;
    case "resume":
      return `on-chain: market #${e.marketId} RESUMED (block ${e.block})`;
  }
}

/**
 * Polls the attestors' `GET /v1/reports?sinceRound=…` and reports, per endpoint, the first time a signed
 * report (made at or after a given time) served by any attestor put the endpoint under `belowBps`.
 * Reports are only read here, not verified: the drill measures detection, the oracle judges.
 */
export class ObservationWatcher {
  constructor(
    private readonly attestorUrls: string[],
    private readonly roundSeconds: number,
    private readonly intervalMs = 250,
  ) {}

  /**
   * Resolve with the wall-clock ms at which a report with `observedAt ≥ sinceMs/1000 - 1` giving `endpointId`
   * a health `< belowBps` was first seen; null after `timeoutMs`.
   */
  async firstBelow(
    endpointId: string,
    belowBps: number,
    sinceMs: number,
    timeoutMs: number,
  ): Promise<number | null> {
    const deadline = Date.now() + timeoutMs;
    const sinceSec = Math.floor(sinceMs / 1000) - 1;
    const sinceRound = Math.floor(sinceSec / this.roundSeconds);
    const id = endpointId.toLowerCase();
    while (Date.now() < deadline) {
      for (const url of this.attestorUrls) {
        try {
          const res = await fetch(`${url}/v1/reports?sinceRound=${sinceRound}`, {
            signal: AbortSignal.timeout(1000),
          });
          if (!res.ok) continue;
          const body = (await res.json()) as {
            reports?: { observedAt: number; endpointIds: string[]; values: string }[];
          };
          const seen = body.reports?.some((r) => {
            if (r.observedAt < sinceSec) return false;
            const i = r.endpointIds.findIndex((e) => e.toLowerCase() === id);
            return i >= 0 && decodeValues(r.values)[i].healthBps < belowBps;
          });
          if (seen) return Date.now();
        } catch {
          // attestor busy or restarting, or a malformed body: try the next one
        }
      }
      await new Promise((r) => setTimeout(r, this.intervalMs));
    }
    return null;
  }
}
