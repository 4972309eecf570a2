/**
 * The drill's settings: timing per mode, the dev keys, and the keeper config files it writes.
 */

/**
 * The well-known Hardhat/anvil development accounts (public test keys from the mnemonic
 * "test test … junk"); local drill only, they hold nothing anywhere else.
 */
export const DEV_KEYS = [
  "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80", // #0 deployer / owner
  "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d", // #1 attestor A
  "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a", // #2 attestor B
  "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6", // #3 attestor C
  "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a", // #4 responder
  "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba", // #5 trader
];

/** Chain id of the control chain (Vigil's contracts). */
export const CONTROL_CHAIN = 31337;
/** Chain id of the monitored service's replicas. */
export const MONITORED_CHAIN = 1337;
/** Chain id of the L2-style sequencer. */
export const L2_CHAIN = 4242;
/** Chain id the wrong-chain node (ganache) answers for. */
export const WRONG_CHAIN = 999;

export interface Timing {
  roundSeconds: number;
  probeIntervalMs: number;
  probeTimeoutMs: number;
  pollIntervalMs: number;
  fallRounds: number;
  riseRounds: number;
  heartbeat: number;
  maxAge: number;
  /**
   * The service's cooldown. Longer than fault → DOWN takes even on a busy machine (two rounds plus
   * inclusion), so the fault injected right after a failback always lands inside it: that fault proves a
   * failover is never held back by the cooldown, and the drill fails if it landed outside.
   */
  cooldown: number;
  recoveryPeriod: number;
  gracePeriod: number;
  /** Longest wait for one expected reaction, ms. */
  reactionTimeoutMs: number;
  /** How long a forked replica is held at each position (equal, one ahead, one behind), in rounds. */
  forkHoldRounds: number;
  /**
   * The FailoverFeed's `maxAge`, s: the feeds' 1 s heartbeat, a block to land, and slack. Past it the adapter
   * refuses the active feed (market 1 fails closed) until the service migrates or the feed updates.
   */
  feedMaxAge: number;
}

/** The drill's timing: `quick` for CI (~3-4 min), else the full drill. */
export function timing(quick: boolean): Timing {
  return quick
    ? {
        roundSeconds: 2,
        probeIntervalMs: 1000,
        probeTimeoutMs: 700,
        pollIntervalMs: 500,
        fallRounds: 2,
        riseRounds: 2,
        heartbeat: 30,
        maxAge: 20,
        cooldown: 20,
        recoveryPeriod: 4,
        gracePeriod: 4,
        reactionTimeoutMs: 60_000,
        forkHoldRounds: 3,
        feedMaxAge: 10,
      }
    : {
        roundSeconds: 3,
        probeIntervalMs: 1000,
        probeTimeoutMs: 800,
        pollIntervalMs: 500,
        fallRounds: 2,
        riseRounds: 3,
        heartbeat: 60,
        maxAge: 30,
        cooldown: 30,
        recoveryPeriod: 10,
        gracePeriod: 10,
        reactionTimeoutMs: 90_000,
        forkHoldRounds: 5,
        feedMaxAge: 10,
      };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll `cond` every 250 ms until true or `timeoutMs`; a throwing read counts as false. */
export async function waitUntil(cond: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if (await cond()) return true;
    } catch {
      // transient read error: retry
    }
    await sleep(250);
  }
  return false;
}

interface KeeperSettings {
  rpcUrl: string;
  oracle: string;
  registry: string;
  t: Timing;
}

/**
 * One attestor's config file (the shared keeper shape): watches `serviceIds`, each on the chain id in
 * `expectedChainIds`; feeds on the control chain are read through `rpcUrl`.
 */
export function attestorConfig(
  s: KeeperSettings & {
    port: number;
    serviceIds: string[];
    expectedChainIds: Record<string, number>;
    dataDir: string;
  },
): unknown {
  return {
    chain: { rpcUrls: [s.rpcUrl], chainId: CONTROL_CHAIN },
    // Where the attestor records the last round it signed (never two reports for one round, across restarts).
    dataDir: s.dataDir,
    contracts: { oracle: s.oracle, registry: s.registry },
    services: s.serviceIds,
    // The drill's nodes listen on 127.0.0.1; production attestors refuse private targets.
    allowPrivateTargets: true,
    expectedChainIds: s.expectedChainIds,
    probeIntervalMs: s.t.probeIntervalMs,
    timeoutMs: s.t.probeTimeoutMs,
    // A short error-rate window: a node that comes back is judged on its last few probes, so recovery
    // is measured in seconds (production default: 20 probes).
    errorWindow: 5,
    registryRefreshMs: 5_000,
    oracleRefreshMs: 5_000,
    http: { host: "127.0.0.1", port: s.port },
    // Local nodes mine every second: a head older than 3 s is late, older than 6 s is halted. The drill's
    // price feeds get a round every second (scripts/drill/feeds.ts): older than 3 s is late, 6 s stale.
    thresholds: {
      jsonRpc: { headAgeSec: { ok: 3, max: 6, floor: 0 }, lagBlocks: { ok: 3, max: 10, floor: 0 } },
      oracleFeed: { stalenessSec: { ok: 3, max: 6, floor: 0 } },
    },
    log: { level: "info" },
  };
}

/** The responder's config file: relays for `serviceIds` from `attestorUrls`. */
export function responderConfig(
  s: KeeperSettings & {
    guard: string;
    attestorUrls: string[];
    outbox: string;
    port: number;
    serviceIds: string[];
  },
): unknown {
  return {
    chain: { rpcUrls: [s.rpcUrl], chainId: CONTROL_CHAIN },
    services: s.serviceIds,
    contracts: { oracle: s.oracle, registry: s.registry, guard: s.guard },
    attestorUrls: s.attestorUrls,
    pollIntervalMs: s.t.pollIntervalMs,
    attestorTimeoutMs: 1000,
    confirmations: 1,
    outboxPath: s.outbox,
    http: { host: "127.0.0.1", port: s.port },
    log: { level: "info" },
  };
}
