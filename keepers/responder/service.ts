/**
 * The responder service: wires the signer, the control chain's RPC pool, the contracts, the outbox, the
 * {@link TxManager}, the engine (keepers/responder/engine.ts), the event watch and the HTTP server, and runs one
 * iteration at a time (`runLoop`), woken early by contract events, polling as the fallback. Every action goes
 * through the outbox, so a crash or restart loses and repeats nothing.
 */
import { type AbstractProvider, type Interface, type Log, type Wallet } from "ethers";
import type { IEndpointRegistry, IHealthOracle, IMarketGuard } from "../../typechain-types";
import { createRpcPool, loadWallet } from "../shared/chain";
import { poolOf } from "../shared/rpcPool";
import { crashHookFromEnv, type CrashHook } from "../shared/crash";
import { watchLogs, type LogWatch, type WatchedEvent } from "../shared/events";
import { runLoop, Shutdown, Wakeup, type LoopHealth } from "../shared/lifecycle";
import { createLogger, type Logger } from "../shared/logger";
import { dashboardHandler, startDashboardView } from "../dashboard/server";
import { Metrics } from "../shared/metrics";
import { preflight, type PreflightOptions } from "../shared/preflight";
import { KeeperServer } from "../shared/server";
import { feeCaps } from "./act";
import type { ResponderConfig } from "./config";
import { Engine } from "./engine";
import { responderMetrics } from "./metrics";
import { Outbox, type OutboxAction } from "./outbox";
import { outboxGapFiller } from "./gaps";
import { ReorgWatch } from "./reorgs";
import { singlePool, type ViewPool } from "./sources";
import { vigilReverts } from "./reverts";
import { TxManager } from "./tx";
import { contractsCache } from "./views";

export interface ResponderDeps {
  logger?: Logger;
  metrics?: Metrics;
  /** The signer; default: loaded from `keyEnvVar` or the keystore. */
  wallet?: Wallet;
  /**
   * One provider for everything (tests over a fake or single chain): the responder then reads through it alone.
   * Default: the RPC pool over `chain.rpcUrls` (`createProvider`).
   */
  provider?: AbstractProvider;
  /** The pool to read views through and send with (tests that inject one); wins over `provider`. */
  pool?: ViewPool;
  /** Install SIGINT/SIGTERM handlers (the CLI does; tests do not). Default false. */
  handleSignals?: boolean;
  /** Environment for the key lookup. Default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /**
   * The start-up checks of keepers/shared/preflight.ts (every RPC on `chain.chainId`, every contract where
   * configured); `false` skips them (tests that inject a provider over a fake chain). Default: run them.
   */
  preflight?: PreflightOptions | false;
  /** How long the action in flight may take to finish once shutdown begins, ms. Default 10000. */
  shutdownGraceMs?: number;
  /** Named crash points (keepers/shared/crash.ts). Default: `crashHookFromEnv(env)` (`VIGIL_FAULT_KILL_AT`). */
  crash?: CrashHook;
  /** Fault injection for tests and the drill. */
  hooks?: {
    /** Called after an action is recorded and before it is signed; throwing here simulates a crash. */
    afterRecord?(action: OutboxAction): void | Promise<void>;
  };
}

/** A running responder. */
export interface ResponderHandle {
  /** Signer address. */
  readonly address: string;
  /** Bound port of /healthz and /metrics. */
  readonly port: number;
  readonly metrics: Metrics;
  readonly outbox: Outbox;
  readonly tx: TxManager;
  readonly health: LoopHealth;
  /** Start the next iteration now. */
  wake(): void;
  /** Resolves after the next complete iteration. */
  nextIteration(): Promise<void>;
  /** Finish or persist the action in flight, stop the loop, close the server and the outbox. */
  stop(): Promise<void>;
  /** Settles when the responder has stopped (after `stop()` or a signal). */
  readonly stopped: Promise<void>;
}

/** Start a responder in-process: the CLI, the tests and the drill all run this. */
export async function startResponder(
  config: ResponderConfig,
  deps: ResponderDeps = {},
): Promise<ResponderHandle> {
  const logger = (deps.logger ?? createLogger("vigil-responder", { level: config.log.level })).child({
    keeper: "responder",
    chainId: config.chain.chainId,
  });
  const metrics = deps.metrics ?? new Metrics();
  // The key first (a local check), then the chain: a configuration mistake stops here, naming the setting.
  const key =
    deps.wallet ??
    (await loadWallet(
      {
        envVar: config.key.envVar,
        keystorePath: config.key.keystorePath,
        passwordEnvVar: config.key.passwordEnvVar,
      },
      deps.env,
    ));
  const checked = deps.preflight === false ? undefined : await preflight(config, deps.preflight);
  const shutdown = new Shutdown(logger, deps.handleSignals ?? false);
  const crash = deps.crash ?? crashHookFromEnv(deps.env ?? process.env);
  const owned = !deps.pool && !deps.provider;
  // No decision rests on one RPC: the views are read through every RPC of the pool (keepers/shared/rpcPool.ts).
  // An injected provider made by createProvider brings its pool; any other provider is a pool of one.
  const pool: ViewPool =
    deps.pool ??
    (deps.provider
      ? (poolOf(deps.provider) ?? singlePool(deps.provider, logger))
      : createRpcPool({
          rpcUrls: config.chain.rpcUrls,
          chainId: config.chain.chainId,
          stallTimeoutMs: config.chain.rpcTimeoutMs,
          pollingIntervalMs: Math.min(1_000, config.pollIntervalMs),
          logger,
          metrics,
        }));
  const provider = pool.provider;
  const wallet = key.connect(provider);
  const contractsOf = contractsCache(config.contracts);
  const { oracle, registry, guard } = contractsOf(provider);
  const outbox = new Outbox(config.outboxPath);
  const caps = feeCaps(config.fees);
  const tx = new TxManager({
    wallet,
    provider,
    chainId: config.chain.chainId,
    logger,
    reverts: vigilReverts,
    crash,
    confirmations: config.confirmations,
    bumpPercent: config.fees.bumpPercent,
    maxFeeCapWei: caps.normal,
    cancelMaxFeeCapWei: caps.safety,
    stuckAfterMs: config.fees.stuckAfterMs,
    actionTimeoutMs: config.actionDeadlineMs,
    pollMs: Math.min(500, config.pollIntervalMs),
    fillGap: outboxGapFiller({ outbox, provider, logger }),
    onNonceGap: (_nonce, how) => responderMetrics(metrics).nonceGaps.inc({ how }),
  });

  // The action in flight gets a grace period after shutdown begins, then is left to the outbox.
  const inflight = new AbortController();
  shutdown.signal.addEventListener(
    "abort",
    () => setTimeout(() => inflight.abort(), deps.shutdownGraceMs ?? 10_000).unref(),
    { once: true },
  );

  const reorgs = new ReorgWatch({
    outbox,
    provider,
    logger,
    metrics: { reorged: responderMetrics(metrics).reorgedActions },
    windowBlocks: config.reorg.windowBlocks,
  });
  const engine = new Engine(config, {
    logger,
    metrics,
    reorgs,
    pool,
    contractsOf,
    outbox,
    tx,
    caps,
    hooks: deps.hooks,
    crash,
  });
  // A reorg while no process watched (a crash, a restart) is found before the start-up reconcile waits on a nonce.
  await reorgs
    .check(inflight.signal)
    .catch((e) => logger.warn({ err: String(e) }, "start-up reorg check failed"));
  await engine.reconcile(inflight.signal);

  const wakeup = new Wakeup();
  let waiters: Array<() => void> = [];
  const loop = runLoop(
    {
      name: "responder",
      intervalMs: config.pollIntervalMs,
      signal: shutdown.signal,
      logger,
      metrics,
      wakeup,
    },
    async () => {
      try {
        await engine.iterate(shutdown.signal, inflight.signal);
      } finally {
        const w = waiters;
        waiters = [];
        w.forEach((f) => f());
      }
    },
  );

  const events = await watchEvents(
    { oracle, registry, guard },
    {
      provider,
      intervalMs: provider.pollingInterval,
      signal: shutdown.signal,
      logger,
      wake: () => wakeup.wake(),
      invalidate: () => engine.invalidate(),
    },
  );

  // The dashboard page beside the responder's routes, only when asked for (config dashboard.enabled).
  const view = config.dashboard.enabled
    ? startDashboardView({
        provider,
        chainId: config.chain.chainId,
        contracts: config.contracts,
        // Only the services this responder watches: the registry is permissionless, and an unbounded page
        // would spend the RPC the responder needs to trip markets.
        services: config.services,
        signal: shutdown.signal,
        logger,
        metrics,
      })
    : undefined;
  const server = new KeeperServer({
    host: config.http.host,
    port: config.http.port,
    logger,
    metrics,
    metricsEnabled: config.metrics.enabled,
    handlers: view ? [dashboardHandler(view, "/dashboard")] : [],
    links: view
      ? { dashboard: "/dashboard/" }
      : {
          dashboard:
            "not served here: run `vigil dashboard --config <this responder's file>`, or set dashboard.enabled",
        },
    // Liveness is the responder's own loop: a slow dashboard poll must never get the responder restarted.
    loops: () => [loop.health],
    conditions: () => [engine.quorum.condition()],
    routes: {
      "/v1/outbox": () => ({ status: 200, body: { signer: wallet.address, actions: outbox.list(100) } }),
    },
  });
  const port = await server.listen();
  logger.info(
    {
      signer: wallet.address,
      oracle: config.contracts.oracle,
      port,
      ...(checked && { quorum: checked.oracle.quorum, attestors: checked.oracle.attestors }),
    },
    "responder started",
  );

  let stopping: Promise<void> | undefined;
  let markStopped!: () => void;
  const stopped = new Promise<void>((resolve) => (markStopped = resolve));
  const stop = () =>
    (stopping ??= (async () => {
      shutdown.abort("stop requested");
      // Both loops first: nothing may be in flight on the provider when it is destroyed.
      await Promise.all([loop.done, events.done, view?.done]);
      await server.close();
      outbox.close();
      shutdown.dispose();
      if (owned) provider.destroy();
      waiters.forEach((f) => f());
      logger.info("responder stopped");
      markStopped();
    })());
  shutdown.signal.addEventListener("abort", () => void stop(), { once: true });

  return {
    address: wallet.address,
    port,
    metrics,
    outbox,
    tx,
    health: loop.health,
    wake: () => wakeup.wake(),
    nextIteration: () =>
      new Promise<void>((resolve) => {
        if (shutdown.signal.aborted) return resolve();
        waiters.push(resolve);
        wakeup.wake();
      }),
    stop,
    stopped,
  };
}

/**
 * Watch the contracts' events (polled, see {@link watchLogs}); each wakes the loop, and the oracle's set, jail
 * and policy events (or a gap in the polled blocks) also forget the cached set, jailed signers and policies.
 */
async function watchEvents(
  c: { oracle: IHealthOracle; registry: IEndpointRegistry; guard?: IMarketGuard },
  o: {
    provider: AbstractProvider;
    intervalMs: number;
    signal: AbortSignal;
    logger: Logger;
    wake(): void;
    invalidate(): void;
  },
): Promise<LogWatch> {
  const of = async (contract: { getAddress(): Promise<string>; interface: Interface }, names: string[]) => {
    const address = await contract.getAddress();
    return names.map((n) => ({ address, topic: contract.interface.getEvent(n)!.topicHash }));
  };
  // Every oracle event but StatusChanged changes what the responder caches (set, jailed signers, policies).
  const oracleEvents = await of(c.oracle, [
    "StatusChanged",
    "AttestorSetChanged",
    "AttestorJailed",
    "DefaultPolicyChanged",
    "EndpointPolicyChanged",
  ]);
  const invalidating = new Set(oracleEvents.slice(1).map((e) => e.topic.toLowerCase()));
  const oracleAddress = oracleEvents[0].address.toLowerCase();
  const events: WatchedEvent[] = [
    ...oracleEvents,
    ...(await of(c.registry, ["EndpointMigrated"])),
    // A market refused a pause or resume: the delivery is now pending (retried once the market accepts).
    ...(c.guard
      ? await of(c.guard, [
          "MarketPaused",
          "MarketResumed",
          "MarketPauseCallFailed",
          "MarketUnpauseCallFailed",
        ])
      : []),
  ];
  const isInvalidating = (l: Log) =>
    l.address.toLowerCase() === oracleAddress && invalidating.has(l.topics[0]?.toLowerCase() ?? "");
  return watchLogs({
    name: "events",
    provider: o.provider,
    events,
    intervalMs: o.intervalMs,
    signal: o.signal,
    logger: o.logger,
    onLogs: (logs) => {
      if (logs.some(isInvalidating)) o.invalidate();
      o.wake();
    },
    onGap: () => {
      o.invalidate();
      o.wake();
    },
  });
}
