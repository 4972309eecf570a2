/**
 * Starting the dashboard: check the chain and the contracts, then poll and serve. Kept apart from
 * command.ts so that `vigil --help` never loads ethers or the contract bindings.
 */
import type { AbstractProvider } from "ethers";
import {
  IEndpointRegistry__factory,
  IHealthOracle__factory,
  IMarketGuard__factory,
} from "../../typechain-types";
import { assertChain, createProvider } from "../shared/chain";
import { VigilError } from "../shared/errors";
import type { Logger } from "../shared/logger";
import { Metrics } from "../shared/metrics";
import { redactUrls } from "../shared/redact";
import type { DashboardConfig } from "./config";
import { startDashboardServer, startDashboardView } from "./server";

/**
 * Check, before serving, that every RPC answers with `chain.chainId` and that each configured address
 * holds the expected contract (code present and its interface answers).
 * @throws VigilError VIGIL_CHAIN naming `chain.rpcUrls` / `chain.chainId`, or VIGIL_CONFIG naming the
 * `contracts.*` setting that points at the wrong thing.
 */
export async function checkDashboardChain(
  config: DashboardConfig,
  provider: AbstractProvider,
): Promise<void> {
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
  const probes: [string, string | undefined, () => Promise<unknown>][] = [
    [
      "oracle",
      config.contracts.oracle,
      () => IHealthOracle__factory.connect(config.contracts.oracle, provider).roundSeconds(),
    ],
    [
      "registry",
      config.contracts.registry,
      () => IEndpointRegistry__factory.connect(config.contracts.registry, provider).MAX_ENDPOINTS(),
    ],
    [
      "guard",
      config.contracts.guard,
      () => IMarketGuard__factory.connect(config.contracts.guard!, provider).marketCount(),
    ],
  ];
  const names = { oracle: "HealthOracle", registry: "EndpointRegistry", guard: "MarketGuard" } as Record<
    string,
    string
  >;
  for (const [key, address, call] of probes) {
    if (!address) continue;
    const code = await provider.getCode(address);
    const answers =
      code !== "0x" &&
      (await call().then(
        () => true,
        () => false,
      ));
    if (!answers) {
      throw new VigilError(
        "VIGIL_CONFIG",
        `contracts.${key}: ${address} ${code === "0x" ? "has no code" : `does not answer as a ${names[key]}`} on chain ${config.chain.chainId}`,
        `pass the ${names[key]} address of this deployment with --${key} (or VIGIL_${key.toUpperCase()})`,
      );
    }
  }
}

/** A running dashboard: its URL and how to stop it. */
export interface RunningDashboard {
  url: string;
  port: number;
  /** Stop polling, close the server and release the provider. */
  stop(): Promise<void>;
}

/**
 * Start the dashboard for `config` (the same as `vigil dashboard`): check the chain and contracts, then
 * poll and serve. Used by the command, the tests and scripts/dashboard-screenshot.ts.
 * @throws VigilError as {@link checkDashboardChain}, or VIGIL_CONFIG naming `http.port` when it is taken.
 */
export async function runDashboard(config: DashboardConfig, logger: Logger): Promise<RunningDashboard> {
  const provider = createProvider({
    rpcUrls: config.chain.rpcUrls,
    chainId: config.chain.chainId,
    stallTimeoutMs: config.chain.rpcTimeoutMs,
    logger,
  });
  const abort = new AbortController();
  try {
    await checkDashboardChain(config, provider);
    const metrics = config.metrics.enabled ? new Metrics() : undefined;
    const view = startDashboardView({
      provider,
      chainId: config.chain.chainId,
      contracts: config.contracts,
      pollIntervalMs: config.pollIntervalMs,
      blockWindow: config.blockWindow,
      maxEvents: config.maxEvents,
      maxBlockRange: config.maxBlockRange,
      services: config.services,
      maxServices: config.maxServices,
      maxConcurrentCalls: config.maxConcurrentCalls,
      signal: abort.signal,
      logger,
      metrics,
    });
    const server = await startDashboardServer({
      host: config.http.host,
      port: config.http.port,
      view,
      logger,
      metrics,
    }).catch(async (e) => {
      abort.abort();
      await view.done;
      throw e;
    });
    return {
      url: server.url,
      port: server.port,
      stop: async () => {
        abort.abort();
        await view.done;
        await server.close();
        provider.destroy();
      },
    };
  } catch (e) {
    provider.destroy();
    throw e;
  }
}
