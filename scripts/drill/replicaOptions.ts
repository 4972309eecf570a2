/** Settings and observable state of a ReplicaSet (scripts/drill/replicas.ts). */

/** Where a forked replica's head stays relative to the honest replicas' head. */
export type ForkPosition = "equal" | "behind" | "ahead";

export interface ReplicaSetOptions {
  /** One name per replica, e.g. `["primary", "backup-1", "backup-2"]`; their count is N. */
  names: string[];
  /** Loopback ports, one per replica; free ports when omitted. */
  ports?: number[];
  chainId: number;
  /** Seconds between blocks: block n has timestamp `genesisTimestamp + n·blockTimeSec`. Integer ≥ 1. */
  blockTimeSec: number;
  /** Genesis timestamp T0, Unix seconds. Default: now (so block times track the wall clock). */
  genesisTimestamp?: number;
  /** Longest a tick waits for one replica, ms. Default 1,000. */
  callTimeoutMs?: number;
  /**
   * `"wall"` (default): {@link ReplicaSet.start} runs a loop that mines block n once the wall clock
   * reaches its timestamp (several at once after a stall), so head ages are real. `"manual"`: no loop;
   * blocks come only from {@link ReplicaSet.tick} (tests).
   */
  clock?: "wall" | "manual";
  /** Called before each tick of the wall-clock loop (e.g. to read fault requests); errors are ignored. */
  beforeTick?: () => void | Promise<void>;
  /** Funded dev accounts at genesis (anvil `--accounts`, default mnemonic). Default anvil's 10. */
  accounts?: number;
  /** Milliseconds between pool collections between ticks (wall clock only). Default 250. */
  gossipMs?: number;
}

/** One replica's state as the driver sees it. */
export interface ReplicaState {
  name: string;
  url: string;
  /** `live`: mined each tick; `halted`: answering, not mined; `dead`: process killed. */
  mode: "live" | "halted" | "dead";
  fork: ForkPosition | null;
  /** Last head the driver knows it mined or read; null when unknown (restarted, or a call failed). */
  head: number | null;
  /** A catch-up job is in flight (e.g. a hung replica that has not answered). */
  busy: boolean;
}
