/**
 * The client libraries' router (the ethers provider in ./ethers.ts, the viem transport in ./viem.ts): a
 * {@link RegistryFollower} for the services and the rule core of this folder, the same one the
 * `vigil gateway` serves over HTTP, so a library and the gateway answer a call the same way:
 * - the call goes to the service's on-chain active endpoint, switched when the registry's `EndpointMigrated`
 *   lands (the follower re-reads on the event, polling as the fallback; chain id checked on every switch);
 * - an idempotent read gets ONE second attempt, on the best endpoint that is HEALTHY on-chain (never a DOWN,
 *   DEGRADED or UNKNOWN one): a retry after a transport error or timeout, or a hedge when the endpoint is
 *   silent for longer than it usually takes (at most `hedgeAfterMs`; first answer wins); a local circuit breaker sends reads straight to that endpoint
 *   for `breakerOpenMs` after the active one failed (./routing.ts, ./breaker.ts);
 * - a JSON-RPC error answer (a revert) is an answer, passed on as it is;
 * - `eth_sendRawTransaction`: never hedged; the same bytes to the next HEALTHY endpoint after a transport
 *   failure; the answer is `keccak256(raw)` or an error whose `data.mayHaveBeenBroadcast` says whether it
 *   may have been broadcast (./tx.ts);
 * - no time travel: `eth_blockNumber` and `latest` never answer below the highest block this router served
 *   for the service (./head.ts);
 * - every call has a deadline (`deadlineMs`), every attempt at most `attemptTimeoutMs`; URLs are cut to
 *   their origin in every error and log line.
 * Attempts go through an {@link UpstreamSender}: an undici Pool per endpoint by default (./undici.ts); pass
 * a `FetchUpstreams` (./upstream.ts) where there is no Node.
 */
import type { AbstractProvider } from "ethers";
import { VigilError } from "../shared/errors";
import { createLogger, type Logger } from "../shared/logger";
import { Metrics } from "../shared/metrics";
import { Breakers, BREAKER_STATE_VALUE } from "./breaker";
import { answerCall, UPSTREAM_FAILED_CODE } from "./call";
import { RegistryFollower, type FollowedService } from "./follow";
import { HeadTracker } from "./head";
import { LatencyTracker } from "./latency";
import { gatewayMetrics, type GatewayMetrics } from "./metrics";
import type { CallContext, RpcRequest } from "./routing";
import { UndiciUpstreams } from "./undici";
import type { RpcAnswer, UpstreamSender } from "./upstream";

export type { RpcAnswer, RpcRequest };
export { UPSTREAM_FAILED_CODE };

/** Settings of a {@link VigilRouter}. Durations in ms. */
export interface VigilRouterOptions {
  /** Provider of the control chain, the one holding the EndpointRegistry and the HealthOracle. */
  provider: AbstractProvider;
  /** EndpointRegistry address. */
  registry: string;
  /** HealthOracle address. */
  oracle: string;
  /** The services to route for: registry id, a name for logs and lookups, the chain id they serve. */
  services: readonly FollowedService[];
  /** Full re-read of every service (the fallback for a missed event). Default 2,000. */
  pollIntervalMs?: number;
  /** `eth_getLogs` poll for `EndpointMigrated` / `StatusChanged`. Default 500. */
  eventIntervalMs?: number;
  /** Deadline of one `eth_chainId` check. Default 1,000. */
  chainIdTimeoutMs?: number;
  /** Deadline of one call, retries included. Default 3,000 (the gateway's default). */
  deadlineMs?: number;
  /** Longest single attempt on one endpoint. Default 1,000. */
  attemptTimeoutMs?: number;
  /**
   * Longest wait before hedging an idempotent read (below it the delay follows the endpoint's observed
   * latency, ./latency.ts); 0: never. Default 150 (the gateway's).
   */
  hedgeAfterMs?: number;
  /** Shortest hedge delay. Default 30 (the gateway's). */
  hedgeMinMs?: number;
  /** How long a failed endpoint's breaker stays open before a probe. Default 2,000 (the gateway's). */
  breakerOpenMs?: number;
  /** What sends the calls; default an undici Pool per endpoint ({@link UndiciUpstreams}). */
  upstreams?: UpstreamSender;
  /** Keep-alive connections per endpoint. Default 16. */
  maxSocketsPerEndpoint?: number;
  /** pino logger; default a silent one. */
  logger?: Logger;
  /** How to ask an endpoint its chain id (tests inject); default a fetch with a deadline. */
  readChainId?: (uri: string, timeoutMs: number) => Promise<number>;
}

/**
 * Routes JSON-RPC calls for a set of services by the registry. Use {@link VigilRouter.start}; stop with
 * {@link stop}. Listen to `router.follower.on("switch", …)` to see a migration being followed.
 */
export class VigilRouter {
  /** Counters and histograms of the calls (the gateway's `vigil_gateway_*` set, on {@link registry}). */
  readonly metrics: GatewayMetrics;
  /** The prom-client registry holding {@link metrics} (serve it where the application serves its own). */
  readonly registry = new Metrics();
  readonly deadlineMs: number;
  readonly attemptTimeoutMs: number;
  readonly hedgeAfterMs: number;
  /** The endpoints' circuit breakers. */
  readonly breakers: Breakers;
  private readonly _heads = new HeadTracker();
  private readonly _latency: LatencyTracker;
  private readonly _upstreams: UpstreamSender;
  private readonly _logger: Logger;
  private _id = 0;

  private constructor(
    readonly follower: RegistryFollower,
    private readonly _stopping: AbortController,
    o: VigilRouterOptions,
    logger: Logger,
  ) {
    this.metrics = gatewayMetrics(this.registry);
    this.deadlineMs = o.deadlineMs ?? 3_000;
    this.attemptTimeoutMs = o.attemptTimeoutMs ?? 1_000;
    this.hedgeAfterMs = o.hedgeAfterMs ?? 150;
    this._latency = new LatencyTracker({
      minMs: Math.min(o.hedgeMinMs ?? 30, this.hedgeAfterMs),
      maxMs: this.hedgeAfterMs,
    });
    this._upstreams = o.upstreams ?? new UndiciUpstreams(o.maxSocketsPerEndpoint ?? 16);
    this._logger = logger;
    const m = this.metrics;
    this.breakers = new Breakers({
      openMs: o.breakerOpenMs ?? 2_000,
      onChange: (service, endpoint, _from, to) => {
        m.breakerState.set({ service, endpoint }, BREAKER_STATE_VALUE[to]);
        m.breakerTransitions.inc({ service, to });
      },
    });
  }

  /**
   * Read every service from the registry once (chain ids checked), then follow it until {@link stop}.
   * @throws VigilError VIGIL_CONFIG for a service unknown to the registry or without a JSON-RPC endpoint;
   * VIGIL_CHAIN when a service's endpoints all answer another chain id; the control chain's error (URL
   * redacted) when the registry cannot be read. Nothing is left running when it throws.
   */
  static async start(o: VigilRouterOptions): Promise<VigilRouter> {
    for (const [k, v] of Object.entries({ deadlineMs: o.deadlineMs, attemptTimeoutMs: o.attemptTimeoutMs })) {
      if (v !== undefined && !(Number.isInteger(v) && v > 0)) {
        throw new VigilError("VIGIL_CONFIG", `${k} must be a positive integer of ms, got ${v}`);
      }
    }
    for (const [k, v] of Object.entries({
      hedgeAfterMs: o.hedgeAfterMs,
      hedgeMinMs: o.hedgeMinMs,
      breakerOpenMs: o.breakerOpenMs,
    })) {
      if (v !== undefined && !(Number.isInteger(v) && v >= 0)) {
        throw new VigilError("VIGIL_CONFIG", `${k} must be an integer of ms >= 0, got ${v}`);
      }
    }
    const logger = (o.logger ?? createLogger("vigil-client", { level: "silent" })).child({
      keeper: "client",
    });
    const stopping = new AbortController();
    const follower = new RegistryFollower({
      provider: o.provider,
      registry: o.registry,
      oracle: o.oracle,
      services: o.services,
      pollIntervalMs: o.pollIntervalMs ?? 2_000,
      eventIntervalMs: o.eventIntervalMs ?? 500,
      chainIdTimeoutMs: o.chainIdTimeoutMs ?? 1_000,
      logger,
      readChainId: o.readChainId,
    });
    const router = new VigilRouter(follower, stopping, o, logger);
    try {
      await follower.start(stopping.signal);
    } catch (e) {
      await router.stop();
      throw e;
    }
    return router;
  }

  /** The configured service by name or id. @throws VigilError VIGIL_CONFIG for one not configured. */
  service(service: string): FollowedService {
    const s = this.follower.service(service);
    if (!s) throw new VigilError("VIGIL_CONFIG", `service ${service} is not one this router follows`);
    return s;
  }

  /**
   * Route one call of `service` by the rules in the file comment. Never throws for a routing outcome: the
   * answer carries the node's `result` or `error`; a call no endpoint answered in time is an error with
   * code {@link UPSTREAM_FAILED_CODE} (-32603) and `data.reason` (`no_endpoint`, `timeout`, `failed`); a
   * transaction's error carries `data.mayHaveBeenBroadcast` and `data.txHash`.
   * @throws VigilError VIGIL_CONFIG when `service` is not configured.
   */
  async call(service: string, method: string, params: unknown = []): Promise<RpcAnswer> {
    const svc = this.service(service);
    const id = ++this._id;
    const req: RpcRequest = { jsonrpc: "2.0", id, method, params };
    const body = JSON.stringify(req);
    const ctx: CallContext = {
      service: svc,
      follower: this.follower,
      upstreams: this._upstreams,
      deadline: Date.now() + this.deadlineMs,
      attemptTimeoutMs: this.attemptTimeoutMs,
      hedgeAfterMs: this.hedgeAfterMs,
      latency: this._latency,
      breakers: this.breakers,
      metrics: this.metrics,
      logger: this._logger,
    };
    return (await answerCall(ctx, req, body, this._heads)).answer;
  }

  /** The highest block number served for `service` (the no-time-travel floor), if any. */
  highestServed(service: string): bigint | undefined {
    return this._heads.highest(this.service(service).name);
  }

  /** Stop following and close every connection. Idempotent. */
  async stop(): Promise<void> {
    this._stopping.abort();
    await this.follower.done;
    this._upstreams.close?.();
  }
}

/** What a transaction error's `data` says (./tx.ts), or undefined for other errors. */
export function broadcastInfo(
  error: { data?: unknown } | undefined,
): { mayHaveBeenBroadcast: boolean; txHash?: string } | undefined {
  const d = error?.data as { mayHaveBeenBroadcast?: unknown; txHash?: unknown } | undefined;
  if (typeof d !== "object" || d === null || typeof d.mayHaveBeenBroadcast !== "boolean") return undefined;
  return {
    mayHaveBeenBroadcast: d.mayHaveBeenBroadcast,
    txHash: typeof d.txHash === "string" ? d.txHash : undefined,
  };
}
