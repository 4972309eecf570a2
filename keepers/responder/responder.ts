/**
 * The responder service: each iteration reads the chain, collects the attestors' signed reports (one per
 * attestor per round), submits the whole quorum round when it is worth a transaction, re-reads the views and
 * calls `migrate`, `trip`, `resume` when they are due, and proves an attestor's equivocation (two different reports
 * for one round) with `proveEquivocation` once. One iteration at a time (`runLoop`), woken early by contract events,
 * polling as the fallback. Every action goes through the outbox, so a crash or restart loses and repeats nothing.
 */
import {
  concat,
  Contract,
  isError,
  parseUnits,
  type AbstractProvider,
  type Interface,
  type Log,
  type TypedDataDomain,
  type Wallet,
} from "ethers";
import {
  IEndpointRegistry__factory,
  IGuardedMarket__factory,
  IHealthOracle__factory,
  IMarketGuard__factory,
  type IEndpointRegistry,
  type IHealthOracle,
  type IMarketGuard,
} from "../../typechain-types";
import { createProvider, loadWallet, readChainClock } from "../shared/chain";
import { watchLogs, type LogWatch, type WatchedEvent } from "../shared/events";
import { Status, toPolicy } from "../shared/health";
import { runLoop, Shutdown, Wakeup, type LoopHealth } from "../shared/lifecycle";
import { createLogger, type Logger } from "../shared/logger";
import { dashboardHandler, startDashboardView } from "../dashboard/server";
import { Metrics } from "../shared/metrics";
import { toCalldata } from "../shared/report";
import { preflight, type PreflightOptions } from "../shared/preflight";
import { KeeperServer } from "../shared/server";
import {
  collect,
  ReportVerifier,
  type Bundle,
  type ChainContext,
  type Equivocation,
  type VerifiedReport,
} from "./collect";
import type { ResponderConfig } from "./config";
import {
  decideProofs,
  decideRecovery,
  decideRound,
  Delivery,
  isPauseAction,
  watchedMarkets,
  type EndpointView,
  type Policy,
  type RoundDecision,
  type MarketView,
  type ProveAction,
  type RecoveryAction,
  type ServiceView,
} from "./decide";
import { responderMetrics } from "./metrics";
import { Outbox, type ActionKind, type OutboxAction } from "./outbox";
import { decodeRevert, TxManager, type ExecuteHooks, type ExecuteOutcome, type TxRequest } from "./tx";
import { AttestorLog, QuorumWatch } from "./visibility";

const ERC5267_ABI = [
  "function eip712Domain() view returns (bytes1 fields, string name, string version, uint256 chainId, address verifyingContract, bytes32 salt, uint256[] extensions)",
];

/**
 * The oracle's EIP-712 domain, read from the contract itself (ERC-5267), never hard-coded: a report is checked
 * under the chain and contract that will verify it.
 */
export async function readDomain(oracle: { eip712Domain(): Promise<unknown> }): Promise<TypedDataDomain> {
  const d = (await oracle.eip712Domain()) as unknown as [string, string, string, bigint, string];
  return { name: d[1], version: d[2], chainId: d[3], verifyingContract: d[4] };
}

export interface ResponderDeps {
  logger?: Logger;
  metrics?: Metrics;
  /** The signer; default: loaded from `keyEnvVar` or the keystore. */
  wallet?: Wallet;
  /** Default: `createProvider` over `rpcUrls`. */
  provider?: AbstractProvider;
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
  const provider =
    deps.provider ?? createProvider({ rpcUrls: config.chain.rpcUrls, chainId: config.chain.chainId });
  const ownsProvider = !deps.provider;
  const wallet = key.connect(provider);

  const oracle = IHealthOracle__factory.connect(config.contracts.oracle, provider);
  const registry = IEndpointRegistry__factory.connect(config.contracts.registry, provider);
  const guard = config.contracts.guard
    ? IMarketGuard__factory.connect(config.contracts.guard, provider)
    : undefined;
  const outbox = new Outbox(config.outboxPath);
  const tx = new TxManager({
    wallet,
    provider,
    chainId: config.chain.chainId,
    logger,
    confirmations: config.confirmations,
    bumpPercent: config.fees.bumpPercent,
    maxFeeCapWei: parseUnits(String(config.fees.maxFeeCapGwei), "gwei"),
    cancelMaxFeeCapWei: parseUnits(String(config.fees.safetyMaxFeeCapGwei), "gwei"),
    stuckAfterMs: config.fees.stuckAfterMs,
    actionTimeoutMs: config.actionDeadlineMs,
    pollMs: Math.min(500, config.pollIntervalMs),
  });

  // The action in flight gets a grace period after shutdown begins, then is left to the outbox.
  const inflight = new AbortController();
  shutdown.signal.addEventListener(
    "abort",
    () => setTimeout(() => inflight.abort(), deps.shutdownGraceMs ?? 10_000).unref(),
    { once: true },
  );

  const engine = new Engine(config, {
    logger,
    metrics,
    oracle,
    registry,
    guard,
    provider,
    outbox,
    tx,
    hooks: deps.hooks,
  });
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
      if (ownsProvider) provider.destroy();
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

/** Run `fn` over `items`, at most `limit` at a time. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  });
  await Promise.all(workers);
  return out;
}

interface EngineDeps {
  logger: Logger;
  metrics: Metrics;
  oracle: IHealthOracle;
  registry: IEndpointRegistry;
  guard?: IMarketGuard;
  provider: AbstractProvider;
  outbox: Outbox;
  tx: TxManager;
  hooks?: ResponderDeps["hooks"];
}

/** Chain reads that do not change (immutables, the domain) and the attestor set, cached until invalidated. */
interface StaticContext {
  domain: TypedDataDomain;
  chainId: number;
  roundSeconds: number;
  maxSkew: number;
  configDigest: string;
  attestors: string[];
  /** Members jailed for equivocation under the current set. */
  jailed: string[];
  quorum: number;
}

/** A market that refused a pending delivery: when to check it again. */
interface DeliveryBackoff {
  delivery: Delivery;
  /** Why the market refused (the decoded revert), to log once per change. */
  reason: string;
  /** Consecutive refusals. */
  refusals: number;
  /** The first iteration at which the market is checked again. */
  retryAt: number;
}

/** Iterations skipped after the n-th consecutive refusal of a delivery: 1, 2, 4, … up to this. */
export const DELIVERY_BACKOFF_MAX_LOOPS = 64;

const GUARDED_MARKET = IGuardedMarket__factory.createInterface();

/** The outbox target of a round: its number, size and endpoint-list hash (the list itself is in the calldata). */
export function submitTarget(bundle: Pick<Bundle, "round" | "endpointIds" | "idsHash">): string {
  return `round ${bundle.round} (${bundle.endpointIds.length} endpoints, list ${bundle.idsHash})`;
}

/**
 * One report as `IHealthOracle.ReportEvidence` for `proveEquivocation`: its endpoint list and values as signed, and
 * its signature in EIP-2098 form ({@link toCalldata}).
 */
export function reportEvidence(
  r: Pick<VerifiedReport, "endpointIds" | "values" | "signature" | "observedAt">,
): {
  endpointIds: string[];
  values: string;
  report: ReturnType<typeof toCalldata>;
} {
  return { endpointIds: [...r.endpointIds], values: r.values, report: toCalldata(r) };
}

/** Most `HealthOracleNotEquivocation` answers remembered (pairs never simulated again). */
const MAX_NOT_EQUIVOCATIONS = 1_024;

/** The key of an equivocating pair under one config digest, independent of the pair's order. */
function pairKey(configDigest: string, e: Pick<Equivocation, "a" | "b">): string {
  const [x, y] = [e.a.digest.toLowerCase(), e.b.digest.toLowerCase()].sort();
  return `${configDigest.toLowerCase()}|${x}|${y}`;
}

/** One responder's state between iterations. */
class Engine {
  private _static?: StaticContext;
  private _iteration = 0;
  private _marketCallGas?: bigint;
  private readonly _backoff = new Map<number, DeliveryBackoff>();
  private _verifier?: ReportVerifier;
  /** `policyOf` per endpoint (lower-case id), cached until a policy event. */
  private readonly _policies = new Map<string, Policy>();
  private _watched?: string;
  /** Whether the local clock was last seen off the node's by more than maxSkew (logged once per change). */
  private _clockOff = false;
  /**
   * Pairs the oracle answered `HealthOracleNotEquivocation` for (config digest and both report digests): an
   * answer, never asked again. Bounded: the oldest is forgotten first.
   */
  private readonly _notEquivocations = new Set<string>();
  private readonly _log: Logger;
  private readonly _attestorLog = new AttestorLog();
  /** Whether at least quorum attestors answer: a `/healthz` condition, gauges, a log line per change. */
  readonly quorum: QuorumWatch;

  constructor(
    private readonly config: ResponderConfig,
    private readonly d: EngineDeps,
  ) {
    this._log = d.logger.child({ component: "engine" });
    this.quorum = new QuorumWatch(this._log, d.metrics);
  }

  /** Forget the cached attestor set, jailed signers and policies (on the oracle's set, jail and policy events). */
  invalidate(): void {
    this._static = undefined;
    this._policies.clear();
  }

  private async _context(): Promise<StaticContext> {
    if (this._static) {
      // The digest is cheap to re-read and catches a missed AttestorSetChanged.
      const digest = await this.d.oracle.configDigest();
      if (digest === this._static.configDigest) return this._static;
    }
    const erc5267 = new Contract(await this.d.oracle.getAddress(), ERC5267_ABI, this.d.provider);
    const [domain, roundSeconds, maxSkew, configDigest, set] = await Promise.all([
      readDomain(erc5267 as never),
      this.d.oracle.roundSeconds(),
      this.d.oracle.maxSkew(),
      this.d.oracle.configDigest(),
      this.d.oracle.attestorSet(),
    ]);
    const jailedFlags = await mapLimit([...set.attestors], 16, (a) => this.d.oracle.isJailed(a));
    this._static = {
      domain,
      chainId: Number(domain.chainId),
      roundSeconds: Number(roundSeconds),
      maxSkew: Number(maxSkew),
      configDigest,
      attestors: [...set.attestors],
      jailed: set.attestors.filter((_, i) => jailedFlags[i]),
      quorum: Number(set.quorum),
    };
    this._log.info(
      {
        configDigest,
        quorum: this._static.quorum,
        attestors: set.attestors.length,
        jailed: this._static.jailed,
      },
      "attestor set loaded",
    );
    return this._static;
  }

  /**
   * Finish every open outbox action, exactly once: at start-up (what a crash left) and at the start of
   * every iteration (what a transport error while confirming left). A recorded transaction with a
   * receipt is finished; one still pending is watched (at its nonce, with its deadline); otherwise the
   * action is simulated again and sent only if the contracts still say it is due. A transport error
   * leaves the action open for the next call.
   */
  async reconcile(signal: AbortSignal): Promise<void> {
    for (const a of this.d.outbox.unfinished()) {
      if (signal.aborted) return;
      const log = this._log.child({ actionId: a.id, action: a.kind, target: a.target });
      log.info({ status: a.status, nonce: a.nonce, txs: a.txs.length }, "reconciling an unfinished action");
      let safety = a.kind === "trip" || a.kind === "migrate";
      if (a.kind === "submit" && a.txs.length === 0) {
        // `submit` never reverts for a stored round: it succeeds and skips. Never broadcast, it is sent only if
        // the oracle would still store something (a stale round reverts and is dropped by the simulation).
        const sim = await this.d.tx.simulate({ to: a.to, data: a.data }, signal);
        if (sim.ok && this._simulated(sim.returnData).updated === 0) {
          this.d.outbox.finish(a.id, "dropped", "not sent: the round is already stored");
          this.d.metrics.actions.inc({ action: "submit", outcome: "lost_race" });
          log.info("round already stored; dropped");
          continue;
        }
      }
      if (a.kind === "deliver") {
        // retryDelivery succeeds (and spends gas) even when the market refuses again: an action never
        // broadcast is sent only if the market would accept it now; otherwise the iteration decides anew.
        const marketId = Number(a.target);
        const delivery = Number(await this.d.guard!.deliveryStatus(marketId)) as Delivery;
        safety = delivery === Delivery.PENDING_PAUSE;
        if (a.txs.length === 0) {
          const refusal =
            delivery === Delivery.NONE ? "nothing to deliver" : await this._marketRefuses(marketId, delivery);
          if (refusal !== undefined) {
            this.d.outbox.finish(a.id, "dropped", `not sent: ${refusal}`);
            log.info({ reason: refusal }, "delivery no longer sendable; dropped");
            continue;
          }
        }
      }
      const outcome = await this._execute(
        a.kind,
        { to: a.to, data: a.data },
        { resumeHashes: a.txs.map((t) => t.hash), onSigned: this._onSigned(a.id, a.kind) },
        signal,
        log,
        safety,
      );
      if (!outcome) continue;
      const status = this._finish(a.id, a.kind, outcome, log, true);
      if (a.kind === "submit" && status === "confirmed" && outcome.outcome === "confirmed")
        this._countAccepted(outcome.receipt, log);
    }
  }

  /**
   * `tx.execute` with the action's fee cap; a transport error is logged and leaves the action open in
   * the outbox (reconciled on the next iteration) instead of failing the iteration. @returns undefined then.
   */
  private async _execute(
    kind: ActionKind,
    req: TxRequest,
    hooks: ExecuteHooks,
    signal: AbortSignal,
    log: Logger,
    safety = kind === "trip" || kind === "migrate",
  ): Promise<ExecuteOutcome | undefined> {
    const cap = parseUnits(
      String(safety ? this.config.fees.safetyMaxFeeCapGwei : this.config.fees.maxFeeCapGwei),
      "gwei",
    );
    try {
      return await this.d.tx.execute(req, { maxFeeCapWei: cap, ...hooks }, signal);
    } catch (e) {
      this.d.metrics.actions.inc({ action: kind, outcome: "unconfirmed" });
      log.warn(
        { err: e instanceof Error ? e.message.split("\n")[0] : String(e) },
        "transport failed while acting; the outbox keeps the action and the next iteration reconciles it",
      );
      return undefined;
    }
  }

  /**
   * One iteration, safety first: trips already due; then the rounds that may change a status; then,
   * on fresh views, trips, migrations and resumes; then equivocation proofs; heartbeat refreshes last. Only the configured
   * services, their endpoints and the markets that depend on nothing else are read or acted on.
   */
  async iterate(signal: AbortSignal, inflight: AbortSignal): Promise<void> {
    this._iteration++;
    await this.reconcile(inflight);
    if (signal.aborted) return;
    const ctx = await this._context();
    // Judge reports and due-ness by the time the next block will have, not the latest block's: on a chain with
    // sparse blocks (an idle automining dev chain, 12 s on Ethereum) the latter lags the wall clock.
    const clock = await readChainClock(this.d.provider);
    const now = clock.next;
    const off = clock.skewSec !== undefined && Math.abs(clock.skewSec) > ctx.maxSkew;
    if (off !== this._clockOff) {
      this._clockOff = off;
      if (off)
        this._log.warn(
          { skewSec: clock.skewSec, maxSkew: ctx.maxSkew },
          "the local clock differs from the control-chain node's by more than maxSkew: judging by the node's clock; fix NTP",
        );
      else this._log.info({ skewSec: clock.skewSec }, "the local clock agrees with the node's again");
    }

    // What this responder watches: the configured services, their endpoints, their markets.
    const serviceIds = this.config.services;
    const endpointLists = await mapLimit(serviceIds, 16, (s) => this.d.registry.endpointsOf(s));
    const endpointIds = [...new Set(endpointLists.flat().map((e) => e.id.toLowerCase()))];
    const marketIds = await this._markets(new Set(serviceIds), new Set(endpointIds));
    const watched = `${endpointIds.length} endpoints, markets ${marketIds.join(",") || "none"}`;
    if (watched !== this._watched) {
      this._watched = watched;
      this._log.info({ services: serviceIds, endpoints: endpointIds.length, markets: marketIds }, "watching");
    }

    // 1. A trip (or a pause the market has yet to receive) that is already due goes out before anything else.
    for (const action of decideRecovery([], await this._marketViews(marketIds), now)) {
      if (signal.aborted) return;
      if (isPauseAction(action)) await this._recover(action, inflight);
    }

    // 2. Collect and verify the attestors' reports; submit the newest quorum round now if it changes a status.
    const { round, equivocations } = await this._round(ctx, now, new Set(endpointIds), signal);
    if (round && round.decision.reason !== "heartbeat")
      await this._submit(ctx.configDigest, round.bundle, round.decision, inflight, now);

    // 3. Re-read the views, then act on what is due: trips, migrations, resumes.
    if (signal.aborted) return;
    const services: ServiceView[] = await mapLimit(serviceIds, 16, async (serviceId) => {
      const m = await this.d.registry.migrationStatus(serviceId);
      return { serviceId, check: Number(m.check), notBefore: Number(m.notBefore) };
    });
    for (const action of decideRecovery(services, await this._marketViews(marketIds), now)) {
      if (signal.aborted) return;
      await this._recover(action, inflight);
    }

    // 4. Jail the attestors caught signing two different reports for one round (their reports of that round
    //    already count for nothing; jailed, none of theirs counts).
    if (signal.aborted) return;
    await this._proveAll(ctx.configDigest, equivocations, signal, inflight);

    // 5. Heartbeat refreshes of steady endpoints.
    if (signal.aborted) return;
    if (round && round.decision.reason === "heartbeat")
      await this._submit(ctx.configDigest, round.bundle, round.decision, inflight, now);
  }

  /**
   * Collect the reports, take the best quorum bundle (newest round, most signers), read the stored state of
   * every endpoint it covers, and decide. @returns the bundle and its decision when it is worth a transaction
   * (`round`), and every equivocation the collection found.
   */
  private async _round(
    ctx: StaticContext,
    now: number,
    watched: ReadonlySet<string>,
    signal: AbortSignal,
  ): Promise<{ round?: { bundle: Bundle; decision: RoundDecision }; equivocations: Equivocation[] }> {
    if (watched.size === 0) return { equivocations: [] };
    // The oldest report worth verifying: the largest maxAge among the watched endpoints.
    const watchedPolicies = await this._policiesOf([...watched]);
    const chainCtx: ChainContext = {
      ...ctx,
      now,
      maxAge: Math.max(...watchedPolicies.map((p) => p.maxAge)),
    };
    if (this._verifier?.domain !== ctx.domain) this._verifier = new ReportVerifier(ctx.domain);
    const { bundles, equivocations, answering } = await collect(
      this.config.attestorUrls,
      chainCtx,
      { timeoutMs: this.config.attestorTimeoutMs, maxBytes: this.config.attestorMaxBytes, signal },
      {
        logger: this._log,
        metrics: this.d.metrics,
        verifier: this._verifier,
        attestorLog: this._attestorLog,
      },
    );
    this.quorum.update(answering, ctx.quorum, ctx.attestors.length - ctx.jailed.length);
    const bundle = bundles[0];
    if (!bundle || !bundle.endpointIds.some((id) => watched.has(id))) return { equivocations };
    const ids = bundle.endpointIds;
    const [policies, health] = await Promise.all([
      this._policiesOf(ids),
      mapLimit(ids, 32, (id) => this.d.oracle.statusOf(id)),
    ]);
    const views = new Map<string, EndpointView>();
    ids.forEach((id, i) => {
      const h = health[i];
      views.set(id, {
        endpointId: id,
        status: Number(h.status) as Status,
        round: Number(h.round),
        updatedAt: Number(h.updatedAt),
        policy: policies[i],
      });
    });
    const decision = decideRound(
      bundle,
      views,
      now,
      ctx.quorum,
      { refreshFraction: this.config.heartbeatRefreshFraction },
      watched,
    );
    const summary = {
      round: bundle.round,
      endpoints: ids.length,
      signers: bundle.reports.length,
      reasons: decision.reasons,
      changes: decision.changes.length,
    };
    if (decision.stale && decision.reason)
      this._log.warn(
        { ...summary, expiresAt: decision.expiresAt },
        "newest quorum round is too old to submit",
      );
    else if (decision.submit) this._log.debug(summary, "round due");
    return { round: decision.submit ? { bundle, decision } : undefined, equivocations };
  }

  /** `policyOf` of each id (lower-case), from the cache or the chain. */
  private async _policiesOf(ids: readonly string[]): Promise<Policy[]> {
    return mapLimit(ids, 32, async (id) => {
      const hit = this._policies.get(id);
      if (hit) return hit;
      const policy: Policy = toPolicy(await this.d.oracle.policyOf(id));
      this._policies.set(id, policy);
      return policy;
    });
  }

  /**
   * The guard markets to trip and resume: `markets` when configured, else those whose dependencies
   * (found through the guard's per-dependency index, never by walking every market) are all watched.
   */
  private async _markets(services: ReadonlySet<string>, endpoints: ReadonlySet<string>): Promise<number[]> {
    const guard = this.d.guard;
    if (!guard) return [];
    if (this.config.markets) return this.config.markets;
    const lists = await mapLimit([...services, ...endpoints], 16, (dep) => guard.marketsOf(dep));
    const candidates = [...new Set(lists.flat().map(Number))];
    const deps = await mapLimit(candidates, 16, async (marketId) => {
      const c = await guard.marketConfig(marketId);
      return { marketId, services: [...c.services], endpoints: [...c.endpoints] };
    });
    return watchedMarkets(deps, services, endpoints);
  }

  private async _marketViews(marketIds: readonly number[]): Promise<MarketView[]> {
    const guard = this.d.guard;
    if (!guard) return [];
    return mapLimit(marketIds, 16, async (marketId) => {
      const [t, r, d] = await Promise.all([
        guard.tripStatus(marketId),
        guard.resumeStatus(marketId),
        guard.deliveryStatus(marketId),
      ]);
      const delivery = Number(d) as Delivery;
      const b = this._backoff.get(marketId);
      if (b && b.delivery !== delivery) this._backoff.delete(marketId);
      return {
        marketId,
        trip: Number(t.check),
        resume: Number(r.check),
        resumeNotBefore: Number(r.notBefore),
        delivery,
      };
    });
  }

  /**
   * Whether the market would refuse the delivery now: its hook called as the guard calls it (from the
   * guard, with the guard's `marketCallGas` for the hook). @returns the refusal's reason, or undefined
   * when the market accepts.
   */
  private async _marketRefuses(marketId: number, delivery: Delivery): Promise<string | undefined> {
    const guard = this.d.guard!;
    const [cfg, gas] = await Promise.all([
      guard.marketConfig(marketId),
      (async () => (this._marketCallGas ??= await guard.marketCallGas()))(),
    ]);
    const data =
      delivery === Delivery.PENDING_PAUSE
        ? GUARDED_MARKET.encodeFunctionData("guardPause")
        : GUARDED_MARKET.encodeFunctionData("guardUnpause");
    try {
      // eth_call's gas limit includes the intrinsic cost (21000 + 16 per non-zero calldata byte); add it
      // so the hook runs with exactly the `marketCallGas` the guard gives it.
      await this.d.provider.call({
        from: await guard.getAddress(),
        to: cfg.market,
        data,
        gasLimit: gas + 21_000n + 16n * 4n,
      });
      return undefined;
    } catch (e) {
      if (!isError(e, "CALL_EXCEPTION")) throw e;
      const r = decodeRevert(e);
      return r.name ?? (r.data && r.data !== "0x" ? r.data.slice(0, 74) : r.message);
    }
  }

  /**
   * Gate a `retryDelivery`: never spend gas on a delivery the market would refuse (the transaction
   * succeeds and the delivery stays pending). A refusal is counted (`refused`), logged at info once per
   * change, and the market is not checked again for 1, 2, 4, … up to {@link DELIVERY_BACKOFF_MAX_LOOPS}
   * iterations. @returns true when the delivery should be sent now.
   */
  private async _deliveryDue(marketId: number, delivery: Delivery, log: Logger): Promise<boolean> {
    const prev = this._backoff.get(marketId);
    if (prev && prev.delivery === delivery && this._iteration < prev.retryAt) return false;
    const reason = await this._marketRefuses(marketId, delivery);
    if (reason === undefined) {
      if (prev) {
        this._backoff.delete(marketId);
        log.info({ refusals: prev.refusals }, "the market accepts the pending delivery now");
      }
      return true;
    }
    const refusals = prev && prev.delivery === delivery ? prev.refusals + 1 : 1;
    const wait = Math.min(DELIVERY_BACKOFF_MAX_LOOPS, 2 ** (refusals - 1));
    this._backoff.set(marketId, { delivery, reason, refusals, retryAt: this._iteration + wait });
    this.d.metrics.actions.inc({ action: "deliver", outcome: "refused" });
    if (!prev || prev.delivery !== delivery || prev.reason !== reason)
      log.info(
        { delivery: Delivery[delivery], reason },
        "the market refuses the pending delivery; not sent, checked again with backoff",
      );
    return false;
  }

  private _onSigned(id: number, kind: ActionKind) {
    return (nonce: number, t: { hash: string; maxFeePerGas: bigint; maxPriorityFeePerGas: bigint }) => {
      this.d.outbox.recordBroadcast(id, nonce, {
        hash: t.hash,
        maxFeePerGas: t.maxFeePerGas.toString(),
        maxPriorityFeePerGas: t.maxPriorityFeePerGas.toString(),
      });
      this.d.metrics.actions.inc({ action: kind, outcome: "sent" });
    };
  }

  /**
   * Encode a bundle as `IHealthOracle.submit(configDigest, round, endpointIds, reports, values)`: EIP-2098
   * signatures in signer order, every report's values concatenated in the same order.
   */
  private _encode(digest: string, bundle: Bundle): string {
    return this.d.oracle.interface.encodeFunctionData("submit", [
      digest,
      bundle.round,
      [...bundle.endpointIds],
      bundle.reports.map((r) => toCalldata(r)),
      concat(bundle.reports.map((r) => r.values)),
    ]);
  }

  /** `submit`'s `(updated, skipped)` from the simulation's return data. */
  private _simulated(returnData: string): { updated: number; skipped: number } {
    const [updated, skipped] = this.d.oracle.interface.decodeFunctionResult("submit", returnData);
    return { updated: Number(updated), skipped: Number(skipped) };
  }

  /** `(updated, skipped)` of the oracle's `ReportAccepted` in a receipt, if there is one. */
  private _accepted(receipt: { logs: readonly Log[] }): { updated: number; skipped: number } | undefined {
    const iface = this.d.oracle.interface;
    const topic = iface.getEvent("ReportAccepted")!.topicHash;
    for (const l of receipt.logs) {
      if (l.topics[0] !== topic) continue;
      const e = iface.parseLog({ topics: [...l.topics], data: l.data });
      if (e) return { updated: Number(e.args.updated), skipped: Number(e.args.skipped) };
    }
    return undefined;
  }

  /**
   * Simulate the whole round; send it only when the oracle would store something (a round another relayer
   * already stored simulates as all skipped: a lost race, counted, never retried). The transaction's deadline
   * is the round's expiry (`observedAt + maxAge`): past it the oracle would revert it as stale.
   */
  private async _submit(
    digest: string,
    bundle: Bundle,
    decision: RoundDecision,
    inflight: AbortSignal,
    chainNow: number,
  ): Promise<void> {
    const to = await this.d.oracle.getAddress();
    const data = this._encode(digest, bundle);
    const base = { round: bundle.round, endpoints: bundle.endpointIds.length, reason: decision.reason };
    const sim = await this.d.tx.simulate({ to, data });
    if (!sim.ok) {
      this.d.metrics.bundlesSubmitted.inc({ outcome: "skipped" });
      this.d.metrics.actions.inc({ action: "submit", outcome: sim.lostRace ? "lost_race" : "failed" });
      this._log[sim.lostRace ? "info" : "warn"](
        { ...base, reason: sim.revert.name ?? sim.revert.message },
        "round not sent",
      );
      return;
    }
    const simulated = this._simulated(sim.returnData);
    if (simulated.updated === 0) {
      this.d.metrics.bundlesSubmitted.inc({ outcome: "skipped" });
      this.d.metrics.actions.inc({ action: "submit", outcome: "lost_race" });
      this._log.info(base, "round already stored by another relayer; not sent");
      return;
    }
    const id = this.d.outbox.record("submit", submitTarget(bundle), to, data);
    await this.d.hooks?.afterRecord?.(this.d.outbox.get(id)!);
    const log = this._log.child({ actionId: id });
    const outcome = await this._execute(
      "submit",
      { to, data },
      {
        gasLimit: sim.gasLimit,
        onSigned: this._onSigned(id, "submit"),
        deadlineMs: Date.now() + Math.max(0, decision.expiresAt - chainNow) * 1000,
      },
      inflight,
      log,
    );
    if (!outcome) return;
    const status = this._finish(id, "submit", outcome, log, false);
    if (status === "confirmed" && outcome.outcome === "confirmed") this._countAccepted(outcome.receipt, log);
    else if (status === "failed") this.d.metrics.bundlesSubmitted.inc({ outcome: "failed" });
  }

  /** Count a confirmed round's `ReportAccepted`: updated and skipped endpoints; all skipped is a lost race. */
  private _countAccepted(receipt: { logs: readonly Log[] }, log: Logger): void {
    const accepted = this._accepted(receipt);
    this.d.metrics.bundlesSubmitted.inc({ outcome: "confirmed" });
    if (!accepted) return;
    const m = responderMetrics(this.d.metrics);
    m.roundEndpoints.inc({ outcome: "updated" }, accepted.updated);
    m.roundEndpoints.inc({ outcome: "skipped" }, accepted.skipped);
    this.d.metrics.bundleSize.observe(accepted.updated + accepted.skipped);
    if (accepted.updated === 0) {
      this.d.metrics.actions.inc({ action: "submit", outcome: "lost_race" });
      log.info(accepted, "another relayer stored the round first; every endpoint skipped (not retried)");
    } else if (accepted.skipped > 0) log.info(accepted, "round partly stored by another relayer first");
  }

  private async _recover(action: RecoveryAction, inflight: AbortSignal): Promise<void> {
    if (this.d.outbox.hasOpen(action.kind, action.target)) return;
    let to: string;
    let data: string;
    const log = this._log.child({ action: action.kind, target: action.target });
    if (action.kind === "migrate") {
      to = await this.d.registry.getAddress();
      data = this.d.registry.interface.encodeFunctionData("migrate", [action.target]);
    } else {
      to = await this.d.guard!.getAddress();
      const iface = this.d.guard!.interface;
      const id = BigInt(action.target);
      if (action.kind === "deliver") {
        if (!(await this._deliveryDue(Number(id), action.delivery, log))) return;
        data = iface.encodeFunctionData("retryDelivery", [id]);
      } else
        data =
          action.kind === "trip"
            ? iface.encodeFunctionData("trip", [id])
            : iface.encodeFunctionData("resume", [id]);
    }
    const sim = await this.d.tx.simulate({ to, data });
    if (!sim.ok) {
      this.d.metrics.actions.inc({ action: action.kind, outcome: sim.lostRace ? "lost_race" : "failed" });
      log[sim.lostRace ? "info" : "warn"]({ reason: sim.revert.name ?? sim.revert.message }, "not sent");
      return;
    }
    const id = this.d.outbox.record(action.kind, action.target, to, data);
    await this.d.hooks?.afterRecord?.(this.d.outbox.get(id)!);
    const actionLog = log.child({ actionId: id });
    const outcome = await this._execute(
      action.kind,
      { to, data },
      { gasLimit: sim.gasLimit, onSigned: this._onSigned(id, action.kind) },
      inflight,
      actionLog,
      isPauseAction(action) || action.kind === "migrate",
    );
    if (outcome) this._finish(id, action.kind, outcome, actionLog, false);
  }

  /**
   * Prove the equivocations a collection found: the signers are read fresh from the oracle (`isJailed`; the cached
   * set may lag an `AttestorJailed`), and {@link decideProofs} picks one proof per signer not jailed yet. Pairs the
   * oracle already answered `HealthOracleNotEquivocation` for are not tried again.
   */
  private async _proveAll(
    configDigest: string,
    equivocations: readonly Equivocation[],
    signal: AbortSignal,
    inflight: AbortSignal,
  ): Promise<void> {
    const fresh = equivocations.filter((e) => !this._notEquivocations.has(pairKey(configDigest, e)));
    if (fresh.length === 0) return;
    const signers = [...new Set(fresh.map((e) => e.signer.toLowerCase()))];
    const flags = await mapLimit(signers, 16, (a) => this.d.oracle.isJailed(a));
    const jailed = new Set(signers.filter((_, i) => flags[i]));
    if (jailed.size > 0) {
      // Jailed by someone else since the set was read: reload it so the next collection drops their reports.
      this._static = undefined;
      this._log.debug({ jailed: [...jailed] }, "equivocating signers already jailed; nothing to prove");
    }
    for (const action of decideProofs(fresh, jailed)) {
      if (signal.aborted) return;
      await this._prove(configDigest, action, inflight);
    }
  }

  /**
   * Send `proveEquivocation(round, a, b)` for one signer, through the outbox like any other action: simulated
   * first, where `HealthOracleAlreadyJailed` (another prover was first) and `HealthOracleNotEquivocation` (the
   * oracle does not take the pair, e.g. the set was replaced since) are answers: counted, logged, not sent and not
   * retried. A confirmed proof reloads the attestor set (the signer is jailed now).
   */
  private async _prove(
    configDigest: string,
    action: ProveAction<Equivocation>,
    inflight: AbortSignal,
  ): Promise<void> {
    if (this.d.outbox.hasOpen("prove", action.target)) return;
    const e = action.equivocation;
    const log = this._log.child({ action: "prove", target: action.target, round: e.round });
    const to = await this.d.oracle.getAddress();
    const data = this.d.oracle.interface.encodeFunctionData("proveEquivocation", [
      e.round,
      reportEvidence(e.a),
      reportEvidence(e.b),
    ]);
    const sim = await this.d.tx.simulate({ to, data });
    if (!sim.ok) {
      const reason = sim.revert.name ?? sim.revert.message;
      const rejected = sim.revert.name === "HealthOracleNotEquivocation";
      if (rejected) {
        if (this._notEquivocations.size >= MAX_NOT_EQUIVOCATIONS)
          this._notEquivocations.delete(this._notEquivocations.values().next().value as string);
        this._notEquivocations.add(pairKey(configDigest, e));
      }
      this.d.metrics.actions.inc({
        action: "prove",
        outcome: rejected ? "rejected" : sim.lostRace ? "lost_race" : "failed",
      });
      log[sim.lostRace && !rejected ? "info" : "warn"]({ reason }, "equivocation proof not sent");
      return;
    }
    const id = this.d.outbox.record("prove", action.target, to, data);
    await this.d.hooks?.afterRecord?.(this.d.outbox.get(id)!);
    const actionLog = log.child({ actionId: id });
    actionLog.warn(
      { signer: e.signer, digests: [e.a.digest, e.b.digest] },
      "attestor signed two different reports for one round; proving it",
    );
    const outcome = await this._execute(
      "prove",
      { to, data },
      { gasLimit: sim.gasLimit, onSigned: this._onSigned(id, "prove") },
      inflight,
      actionLog,
    );
    if (!outcome) return;
    if (this._finish(id, "prove", outcome, actionLog, false) === "confirmed") {
      this._static = undefined;
      actionLog.warn({ signer: e.signer }, "attestor jailed for equivocation");
    }
  }

  /** Write an outcome to the outbox and the metrics. @returns the outbox status. */
  private _finish(
    id: number,
    kind: ActionKind,
    outcome: ExecuteOutcome,
    log: Logger,
    reconciling: boolean,
  ): "confirmed" | "dropped" | "failed" | "sent" {
    switch (outcome.outcome) {
      case "confirmed":
        this.d.outbox.finish(id, "confirmed", outcome.receipt.hash);
        this.d.metrics.actions.inc({ action: kind, outcome: "confirmed" });
        if (outcome.replacements > 0)
          this.d.metrics.actions.inc({ action: kind, outcome: "replaced" }, outcome.replacements);
        log.info(
          {
            hash: outcome.receipt.hash,
            block: outcome.receipt.blockNumber,
            gasUsed: String(outcome.receipt.gasUsed),
          },
          "confirmed",
        );
        return "confirmed";
      case "lost_race":
        this.d.outbox.finish(id, "dropped", `lost race: ${outcome.revert.name ?? outcome.revert.message}`);
        this.d.metrics.actions.inc({ action: kind, outcome: "lost_race" });
        log.info({ reason: outcome.revert.name, stage: outcome.stage }, "another keeper acted first");
        return "dropped";
      case "failed": {
        // On reconcile, a simulation failure means the action no longer applies (e.g. a stale bundle).
        const status = reconciling && !outcome.error.includes("reverted") ? "dropped" : "failed";
        this.d.outbox.finish(id, status, outcome.error);
        this.d.metrics.actions.inc({ action: kind, outcome: "failed" });
        log.warn({ err: outcome.error, reason: outcome.revert?.name }, "action failed");
        return status;
      }
      case "persisted":
        log.info({ nonce: outcome.nonce }, "shutting down with the transaction pending; the outbox keeps it");
        return "sent";
      case "cancelled":
        this.d.outbox.finish(
          id,
          "dropped",
          `deadline passed: cancelled at nonce ${outcome.nonce} by ${outcome.hash}` +
            (outcome.mined ? "" : " (cancel still pending)"),
        );
        this.d.metrics.actions.inc({ action: kind, outcome: "cancelled" });
        log.warn(
          { nonce: outcome.nonce, hash: outcome.hash, mined: outcome.mined },
          "cancelled at the deadline",
        );
        return "dropped";
    }
  }
}
