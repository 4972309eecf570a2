/**
 * The attestor as a process: load the key, check the chain (preflight), build the {@link Attestor} from the
 * registry and the oracle, run its probe, registry and oracle loops, and serve `/v1/reports`, `/v1/endpoints`,
 * `/healthz` (the clock discipline's condition included) and `/metrics`. The CLI, tests, the benchmarks and the
 * drill all start attestors through {@link startAttestor}.
 */
import type { AbstractProvider, SigningKey } from "ethers";
import { createProvider, loadWallet, readChainClock } from "../shared/chain";
import { VigilError } from "../shared/errors";
import { runLoop, type LoopHealth } from "../shared/lifecycle";
import { createLogger, type Logger } from "../shared/logger";
import { Metrics } from "../shared/metrics";
import { preflight, type PreflightOptions } from "../shared/preflight";
import { redactUrls } from "../shared/redact";
import { KeeperServer } from "../shared/server";
import { Attestor } from "./attestor";
import type { AttestorConfig } from "./config";
import type { FetchFn } from "./probes/transport";
import { attestorRoutes } from "./routes";
import {
  contractOracleReader,
  registryEndpointSource,
  type EndpointSource,
  type OracleReader,
} from "./sources";

/** What {@link startAttestor} may be given instead of building it from the config. */
export interface AttestorDeps {
  logger?: Logger;
  metrics?: Metrics;
  /** Signing key (an ethers `Wallet`); default: loaded from `config.key` (environment variable or keystore). */
  signer?: { readonly signingKey: SigningKey };
  /** Provider of the control chain; default: `createProvider(config)`. */
  provider?: AbstractProvider;
  /** Endpoint list; default: the EndpointRegistry at `config.contracts.registry`. */
  endpoints?: EndpointSource;
  /** Signing context; default: the HealthOracle at `config.contracts.oracle`. */
  oracle?: OracleReader;
  fetch?: FetchFn;
  now?: () => number;
  /** External shutdown (the process's `Shutdown.signal`). */
  signal?: AbortSignal;
  env?: NodeJS.ProcessEnv;
  /**
   * The start-up checks of keepers/shared/preflight.ts (every RPC on `chain.chainId`, the oracle and registry
   * where configured; the guard is not the attestor's); `false` skips them. Default: run them unless both the
   * endpoint list and the oracle are injected (nothing is read from the chain then).
   */
  preflight?: PreflightOptions | false;
}

export interface RunningAttestor {
  /** The HTTP port bound. */
  port: number;
  /** `http://host:port`. */
  url: string;
  /** The attestor's address. */
  address: string;
  attestor: Attestor;
  /** Loop liveness, as /healthz reports it. */
  loops: LoopHealth[];
  /** Finish the round in flight, close the server. Idempotent. */
  stop(): Promise<void>;
  /** Settles once stopped (after `stop()` or the external signal). */
  done: Promise<void>;
}

/**
 * Start an attestor: load the key, read the oracle and the registry once (failing fast with
 * VIGIL_CHAIN when they cannot be read), start the probe, registry and oracle loops and the HTTP server
 * (`/v1/reports`, `/v1/endpoints`, `/healthz`, `/metrics`). The CLI, tests, the benchmark and
 * the drill all run this.
 */
export async function startAttestor(
  config: AttestorConfig,
  deps: AttestorDeps = {},
): Promise<RunningAttestor> {
  const root = deps.logger ?? createLogger("vigil", { level: config.log.level });
  const logger = root.child({ keeper: "attestor", chainId: config.chain.chainId });
  const metrics = deps.metrics ?? new Metrics();
  const signer = deps.signer ?? (await loadWallet(config.key, deps.env));
  // Configuration mistakes (a dead RPC, another chain, a wrong address) stop here, naming the setting.
  if (deps.preflight !== false && (deps.preflight || !deps.endpoints || !deps.oracle))
    await preflight(config, { ...deps.preflight, guard: false });
  let provider: AbstractProvider | undefined = deps.provider;
  const ownsProvider = !provider && (!deps.endpoints || !deps.oracle);
  if (ownsProvider)
    provider = createProvider({
      rpcUrls: config.chain.rpcUrls,
      chainId: config.chain.chainId,
      stallTimeoutMs: config.chain.rpcTimeoutMs,
      logger,
      metrics,
    });
  let attestor: Attestor;
  try {
    attestor = new Attestor({
      config,
      key: signer.signingKey,
      endpoints:
        deps.endpoints ?? registryEndpointSource(config.contracts.registry, provider!, config.services),
      oracle: deps.oracle ?? contractOracleReader(config.contracts.oracle, provider!),
      logger,
      metrics,
      fetch: deps.fetch,
      now: deps.now,
      controlClock: provider ? () => readChainClock(provider!, deps.now) : undefined,
    });
    await attestor.refreshOracle().catch((e) => {
      throw chainError(
        e,
        `cannot read the HealthOracle at ${config.contracts.oracle}`,
        "check oracle, rpcUrls and chainId",
      );
    });
    await attestor.refreshEndpoints().catch((e) => {
      throw chainError(
        e,
        `cannot read the EndpointRegistry at ${config.contracts.registry} or the endpoints' policies on the HealthOracle`,
        "check registry, oracle and rpcUrls",
      );
    });
  } catch (e) {
    if (ownsProvider) provider?.destroy();
    throw e;
  }

  const controller = new AbortController();
  const onExternal = () => controller.abort(deps.signal?.reason);
  if (deps.signal?.aborted) controller.abort();
  deps.signal?.addEventListener("abort", onExternal, { once: true });
  const signal = controller.signal;

  const probe = runLoop(
    { name: "probe", intervalMs: config.probeIntervalMs, signal, logger, metrics },
    async () => {
      await attestor.probeRound();
    },
  );
  const registry = runLoop(
    { name: "registry", intervalMs: config.registryRefreshMs, signal, logger, metrics, immediate: false },
    () => attestor.refreshEndpoints(),
  );
  const oracle = runLoop(
    { name: "oracle", intervalMs: config.oracleRefreshMs, signal, logger, metrics, immediate: false },
    () => attestor.refreshOracle(),
  );
  const loops = [probe.health, registry.health, oracle.health];
  const server = new KeeperServer({
    host: config.http.host,
    port: config.http.port,
    logger,
    metrics,
    metricsEnabled: config.metrics.enabled,
    loops: () => loops,
    conditions: () => [attestor.clock.condition()],
    routes: attestorRoutes(attestor),
  });
  let port: number;
  try {
    port = await server.listen();
  } catch (e) {
    controller.abort();
    await Promise.all([probe.done, registry.done, oracle.done]);
    if (ownsProvider) provider?.destroy();
    throw new VigilError(
      "VIGIL_CONFIG",
      `cannot listen on ${config.http.host}:${config.http.port}: ${(e as Error).message}`,
      "choose another http.port",
    );
  }
  logger.info(
    {
      attestor: attestor.address,
      port,
      endpoints: attestor.endpoints.length,
      configDigest: attestor.oracleState?.configDigest,
    },
    "attestor started",
  );

  const done = (async () => {
    await new Promise<void>((resolve) =>
      signal.aborted ? resolve() : signal.addEventListener("abort", () => resolve(), { once: true }),
    );
    await Promise.all([probe.done, registry.done, oracle.done]);
    await server.close();
    deps.signal?.removeEventListener("abort", onExternal);
    if (ownsProvider) provider?.destroy();
    logger.info("attestor stopped");
  })();

  return {
    port,
    url: `http://${config.http.host.includes(":") ? `[${config.http.host}]` : config.http.host}:${port}`,
    address: attestor.address,
    attestor,
    loops,
    stop: async () => {
      controller.abort();
      await done;
    },
    done,
  };
}

function chainError(e: unknown, what: string, hint: string): VigilError {
  if (e instanceof VigilError) return e;
  const err = e as { shortMessage?: string; message?: string };
  const why = redactUrls(err?.shortMessage ?? err?.message ?? String(e));
  return new VigilError("VIGIL_CHAIN", `${what}: ${why}`, hint, {
    cause: e,
  });
}
