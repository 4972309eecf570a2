/**
 * Contract events for a keeper, polled in a loop the keeper owns: the head (`eth_blockNumber`), then
 * `eth_getLogs` over the blocks since the last poll. Ethers' own subscriptions (`contract.on`) are not
 * used: removing one leaves work running on the provider (the filter-id subscriber of a
 * `JsonRpcProvider` sends `eth_uninstallFilter` later and never awaits it), so destroying the provider
 * right after a keeper stopped rejected that request with nobody to catch it. Once {@link LogWatch.done}
 * settles, this watcher has no request in flight and will send none.
 */
import type { AbstractProvider, Log } from "ethers";
import { runLoop } from "./lifecycle";
import type { Logger } from "./logger";

/** One event of one contract: its address and its topic 0 (the event's signature hash). */
export interface WatchedEvent {
  address: string;
  topic: string;
}

export interface LogWatchOptions {
  /** Name in logs (`loop` field). */
  name: string;
  provider: AbstractProvider;
  events: readonly WatchedEvent[];
  /** Milliseconds between polls. */
  intervalMs: number;
  /** Stops the watcher after the poll in progress. */
  signal: AbortSignal;
  logger: Logger;
  /** Called with the watched logs of the blocks since the last poll, in chain order. */
  onLogs(logs: readonly Log[]): void;
  /**
   * Called instead of {@link onLogs} when more than `maxBlockRange` blocks passed since the last poll
   * (after an outage): the logs are not read, something may have happened.
   */
  onGap(fromBlock: number, toBlock: number): void;
  /** Most blocks read by one `eth_getLogs`. Default 1000. */
  maxBlockRange?: number;
}

export interface LogWatch {
  /** Settles once the watcher has stopped (after `signal` aborts and the poll in flight ends). */
  done: Promise<void>;
}

/**
 * Watch `events` from the current head on. A failed poll is logged (once per run of failures) and the
 * same blocks are read again at the next poll; the caller's own polling covers the meantime.
 */
export function watchLogs(o: LogWatchOptions): LogWatch {
  const log = o.logger.child({ loop: o.name });
  const addresses = [...new Set(o.events.map((e) => e.address.toLowerCase()))];
  const topics = [...new Set(o.events.map((e) => e.topic.toLowerCase()))];
  const watched = new Set(o.events.map((e) => `${e.address.toLowerCase()}:${e.topic.toLowerCase()}`));
  const maxRange = o.maxBlockRange ?? 1000;
  // The first block not read yet; undefined until the first poll read the head.
  let next: number | undefined;
  let failing = false;
  const { done } = runLoop(
    { name: o.name, intervalMs: o.intervalMs, signal: o.signal, logger: o.logger },
    async () => {
      try {
        const head = await o.provider.getBlockNumber();
        if (next === undefined || head < next) {
          // The first poll starts from the head; a head that went back (a reorg, a node reset) is read
          // again from its next block.
          next = head + 1;
        } else if (head - next + 1 > maxRange) {
          o.onGap(next, head);
          next = head + 1;
        } else {
          const logs = await o.provider.getLogs({
            address: addresses,
            topics: [topics],
            fromBlock: next,
            toBlock: head,
          });
          next = head + 1;
          const mine = logs.filter((l) =>
            watched.has(`${l.address.toLowerCase()}:${l.topics[0]?.toLowerCase()}`),
          );
          if (mine.length > 0) o.onLogs(mine);
        }
        if (failing) log.info("event polling recovered");
        failing = false;
      } catch (e) {
        if (!failing) log.warn({ err: e }, "event polling failed; retried at the next poll");
        failing = true;
      }
    },
  );
  return { done };
}
