/**
 * Starting the gateway: check the control chain, follow the registry for the configured services (chain
 * ids checked), then serve `POST /<service>` beside `/healthz`, `/readyz` and `/metrics`. Kept apart from
 * command.ts so that `vigil --help` loads neither ethers nor the contract bindings.
 */
import type { AbstractProvider } from "ethers";
import { Breakers, BREAKER_STATE_VALUE } from "../client/breaker";
import { RegistryFollower, type FollowedService } from "../client/follow";
import { HeadTracker } from "../client/head";
import { LatencyTracker } from "../client/latency";
import { gatewayMetrics, type GatewayMetrics } from "../client/metrics";
import { UndiciUpstreams } from "../client/undici";
import { HttpUpstreams } from "../client/upstream";
import { assertChain, createProvider } from "../shared/chain";
import { VigilError } from "../shared/errors";
import type { Logger } from "../shared/logger";
import { Metrics } from "../shared/metrics";
import { redactUrls } from "../shared/redact";
import { KeeperServer } from "../shared/server";
import type { GatewayConfig } from "./config";
import { gatewayHandler } from "./server";

/** A running gateway. */
export interface GatewayHandle {
  /** `http://host:port` of the server; clients POST to `${url}/<service>`. */
  url: string;
  port: number;
  follower: RegistryFollower;
  /** The endpoints' circuit breakers (keepers/client/breaker.ts). */
  breakers: Breakers;
  metrics: Metrics;
  gatewayMetrics: GatewayMetrics;
  /** Stop serving, stop following, close every connection. Idempotent. */
  stop(): Promise<void>;
}

export interface GatewayDeps {
  logger: Logger;
  /** Stops the gateway when aborted (SIGINT/SIGTERM in the command). */
  signal?: AbortSignal;
  /** Control-chain provider; default one from `config.chain`. */
  provider?: AbstractProvider;
  /** `eth_chainId` of an endpoint (tests inject); default a fetch with a deadline. */
  readChainId?: (uri: string, timeoutMs: number) => Promise<number>;
}

/**
 * Start the gateway with `config`.
 * @throws VigilError VIGIL_CHAIN when the control chain is unreachable or serves another chain id, or when a
 * service's endpoints all answer another chain id than its `chainId`; VIGIL_CONFIG when a service is unknown
 * to the registry or has no JSON-RPC endpoint. Nothing is left running when it throws.
 */
export async function startGateway(config: GatewayConfig, deps: GatewayDeps): Promise<GatewayHandle> {
  const logger = deps.logger.child({ keeper: "gateway" });
  const metrics = new Metrics();
  const provider =
    deps.provider ??
    createProvider({
      rpcUrls: config.chain.rpcUrls,
      chainId: config.chain.chainId,
      stallTimeoutMs: config.chain.rpcTimeoutMs,
      logger,
      metrics,
    });
  const ownsProvider = deps.provider === undefined;
  const stopping = new AbortController();
  const onAbort = () => stopping.abort();
  deps.signal?.addEventListener("abort", onAbort, { once: true });
  const m = gatewayMetrics(metrics);
  const upstreams =
    config.upstreamClient === "http"
      ? new HttpUpstreams(config.maxSocketsPerEndpoint)
      : new UndiciUpstreams(config.maxSocketsPerEndpoint);
  const breakers = new Breakers({
    openMs: config.breakerOpenMs,
    onChange: (service, endpoint, from, to) => {
      m.breakerState.set({ service, endpoint }, BREAKER_STATE_VALUE[to]);
      m.breakerTransitions.inc({ service, to });
      logger[to === "open" ? "warn" : "info"]({ service, endpointId: endpoint, from, to }, "circuit breaker");
    },
  });
  const services: FollowedService[] = config.services.map((s) => ({
    id: s.id,
    name: s.name,
    expectedChainId: s.chainId,
  }));
  const follower = new RegistryFollower({
    provider,
    registry: config.contracts.registry,
    oracle: config.contracts.oracle,
    services,
    pollIntervalMs: config.pollIntervalMs,
    eventIntervalMs: config.eventIntervalMs,
    chainIdTimeoutMs: config.chainIdTimeoutMs,
    logger,
    readChainId: deps.readChainId,
  });
  follower.on("switch", (e) => m.switches.inc({ service: e.service, outcome: "followed" }));
  follower.on("refused", (e) => {
    if (e.activeOnChain) m.switches.inc({ service: e.service, outcome: "refused" });
  });
  let server: KeeperServer | undefined;
  const cleanup = async () => {
    stopping.abort();
    deps.signal?.removeEventListener("abort", onAbort);
    await server?.close();
    await follower.done;
    upstreams.close();
    if (ownsProvider) provider.destroy();
  };
  try {
    try {
      await assertChain(provider, config.chain.chainId);
    } catch (e) {
      if (e instanceof VigilError) throw e;
      throw new VigilError(
        "VIGIL_CHAIN",
        redactUrls(`chain.rpcUrls: cannot reach ${config.chain.rpcUrls.join(", ")}: ${(e as Error).message}`),
        "check --rpc-url (or VIGIL_RPC_URL) and that the node is running",
      );
    }
    await follower.start(stopping.signal);
    server = new KeeperServer({
      host: config.http.host,
      port: config.http.port,
      logger,
      metrics,
      metricsEnabled: config.metrics.enabled,
      loops: () => follower.loops(),
      conditions: () =>
        services.map((s) => {
          const active = follower.active(s.name);
          const backups = follower.healthyBackups(s.name).length;
          return {
            name: `routable_${s.name}`,
            ok: active !== undefined || backups > 0,
            detail: active
              ? `routing to ${active.id}, ${backups} HEALTHY backup(s)`
              : `no endpoint answered chain id ${s.expectedChainId}`,
          };
        }),
      links: { rpc: "POST /<service>", services: services.map((s) => s.name).join(", ") },
      handlers: [
        gatewayHandler({
          services,
          follower,
          upstreams,
          heads: new HeadTracker(),
          breakers,
          metrics: m,
          logger,
          deadlineMs: config.deadlineMs,
          attemptTimeoutMs: config.attemptTimeoutMs,
          hedgeAfterMs: config.hedgeAfterMs,
          latency: new LatencyTracker({
            minMs: Math.min(config.hedgeMinMs, config.hedgeAfterMs),
            maxMs: config.hedgeAfterMs,
          }),
          maxBodyBytes: config.maxBodyBytes,
          maxBatch: config.maxBatch,
        }),
      ],
    });
    const port = await server.listen();
    const url = `http://${config.http.host.includes(":") ? `[${config.http.host}]` : config.http.host}:${port}`;
    for (const s of services) {
      logger.info({ service: s.name, endpointId: follower.active(s.name)?.id }, "gateway routing");
    }
    let stopped: Promise<void> | undefined;
    const stop = () => (stopped ??= cleanup());
    stopping.signal.addEventListener("abort", () => void stop(), { once: true });
    return { url, port, follower, breakers, metrics, gatewayMetrics: m, stop };
  } catch (e) {
    await cleanup();
    throw e;
  }
}
