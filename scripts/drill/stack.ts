/**
 * The drill's stack on loopback: the control chain with Vigil deployed through Ignition, the monitored
 * service's replicas, the L2 sequencer and its uptime feed, three attestors and a responder started as
 * operators start them. {@link startStack} returns once every endpoint is HEALTHY and both markets are open.
 */
import fs from "node:fs";
import path from "node:path";
import { JsonRpcProvider, NonceManager, Wallet } from "ethers";
import {
  IEndpointRegistry__factory,
  IHealthOracle__factory,
  IMarketGuard__factory,
  IFailoverFeed__factory,
  GuardedPerpMarket__factory,
  MockERC20__factory,
  type GuardedPerpMarket,
  type IEndpointRegistry,
  type IHealthOracle,
  type IMarketGuard,
  type IFailoverFeed,
} from "../../typechain-types";
import { Status } from "../../keepers/shared/health";
import { ManagedNode, freePort } from "./nodes";
import type { ProcessRegistry } from "./processes";
import { ReplicaSet } from "./replicas";
import { FAILOVER_DECIMALS, startFeeds, type FeedStack } from "./feeds";
import { LatencyProxy } from "./proxy";
import { l2DeployParams, startL2, type L2Stack } from "./sequencer";
import {
  CONTROL_CHAIN,
  DEV_KEYS,
  L2_CHAIN,
  MONITORED_CHAIN,
  attestorConfig,
  responderConfig,
  waitUntil,
  type Timing,
} from "./setup";

export interface DrillStack {
  control: ManagedNode;
  provider: JsonRpcProvider;
  replicas: ReplicaSet;
  l2: L2Stack;
  /** The price-feed service's feeds and their feeder. */
  feeds: FeedStack;
  /** The FailoverFeed over `drill-feed` that prices market 1. */
  failoverFeed: IFailoverFeed;
  /** The pass-through proxy in front of backup-2 (the slow-node fault); its URL is backup-2's endpoint. */
  slowProxy: LatencyProxy;
  deployed: { oracle: string; registry: string; guard: string; markets: string[]; failoverFeeds: string[] };
  oracle: IHealthOracle;
  registry: IEndpointRegistry;
  guard: IMarketGuard;
  /** Service ids: the replicated service, `l2-rpc`, `l2-sequencer`, `drill-feed`. */
  serviceIds: [string, string, string, string];
  /** Endpoint ids of `drill-feed` (lower case): the primary feed, the backup feed. */
  feedIds: [string, string];
  /** The replicated service's endpoint URIs as registered (backup-2's is the proxy's). */
  endpointUrls: string[];
  /** The replicated service's endpoint ids (lower case), index i = replica i. */
  ids: string[];
  /** Endpoint ids of `l2-rpc` and `l2-sequencer` (lower case). */
  l2Ids: [string, string];
  /** Guard ids of market 1 (replicated service and price feed) and market 2 (L2). */
  marketIds: [bigint, bigint];
  /** Market 1 (on the replicated service), connected with the trader, who has a deposit. */
  market: GuardedPerpMarket;
  attestorUrls: string[];
  /** Endpoint and service ids → names for the timeline. */
  names: Map<string, string>;
}

/**
 * Start everything (every process registered in `procs`) and wait for the steady state.
 * @throws when a node does not start, the deployment fails, or the steady state is not reached in time.
 */
export async function startStack(
  t: Timing,
  procs: ProcessRegistry,
  workDir: string,
  say: (text: string) => void,
  deploymentId: string,
  clientAccounts = 0,
): Promise<DrillStack> {
  const control = procs.addNode(
    new ManagedNode({
      name: "control",
      impl: "anvil",
      port: await freePort(),
      chainId: CONTROL_CHAIN,
      blockTimeSec: 1,
    }),
  );
  await control.start();
  say(`control chain: anvil on ${control.url} (chain ${CONTROL_CHAIN}, a block every second)`);

  // The monitored service: three replicas of one chain, mined in lockstep (scripts/drill/replicas.ts).
  const replicas = await ReplicaSet.create({
    names: ["primary", "backup-1", "backup-2"],
    chainId: MONITORED_CHAIN,
    blockTimeSec: 1,
    callTimeoutMs: 500,
    // funded genesis accounts: the drill's traders send each transaction from a fresh one (scripts/drill/load.ts)
    accounts: clientAccounts > 10 ? clientAccounts : undefined,
  });
  replicas.nodes.forEach((n) => procs.addNode(n));
  await replicas.start(90_000);
  for (const n of replicas.nodes)
    say(
      `monitored replica ${n.spec.name}: anvil on ${n.url} (chain ${MONITORED_CHAIN}, genesis ${replicas.genesisTimestamp})`,
    );

  const provider = new JsonRpcProvider(control.url, CONTROL_CHAIN, { staticNetwork: true, polling: true });
  provider.pollingInterval = 250;
  const l2 = await startL2(procs, provider);
  const feeds = await startFeeds(provider);
  say(`price feeds: ${feeds.uris.join(", ")} (a new round each second, deterministic walk)`);
  const slowProxy = new LatencyProxy(replicas.url(2));
  await slowProxy.listen();
  const endpointUrls = [replicas.url(0), replicas.url(1), slowProxy.url];
  say(
    `L2 sequencer: anvil on ${l2.sequencer.url} (chain ${L2_CHAIN}); uptime feed ${l2.feedUri} (answer 0 = up)`,
  );

  process.env.VIGIL_DRILL_RPC_URL = control.url;
  process.env.HARDHAT_NETWORK = "drill";
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { deployVigil } = require("../deploy") as typeof import("../deploy");
  const l2p = l2DeployParams(l2, t);
  const params = {
    core: {
      roundSeconds: t.roundSeconds,
      maxSkew: 5,
      listenerGasLimit: 500_000,
      marketCallGas: 200_000,
      defaultPolicy: {
        downBelowBps: 5000,
        upAtBps: 8000,
        fallRounds: t.fallRounds,
        riseRounds: t.riseRounds,
        heartbeat: t.heartbeat,
        maxAge: t.maxAge,
      },
    },
    attestors: DEV_KEYS.slice(1, 4).map((k) => new Wallet(k).address),
    quorum: 2,
    services: [
      {
        name: "drill-rpc",
        cooldown: t.cooldown,
        recoveryPeriod: t.recoveryPeriod,
        endpoints: endpointUrls.map((uri, i) => ({ kind: "JSON_RPC", uri, priority: i })),
      },
      ...l2p.services,
      {
        name: "drill-feed",
        cooldown: t.cooldown,
        recoveryPeriod: t.recoveryPeriod,
        endpoints: feeds.uris.map((uri, i) => ({ kind: "ORACLE_FEED", uri, priority: i })),
      },
    ],
    markets: [
      {
        pauseThresholdBps: 5000,
        gracePeriod: t.gracePeriod,
        services: ["drill-rpc", "drill-feed"],
        priceFeed: 0,
      },
      l2p.market,
    ],
    adapters: {
      failoverFeeds: [
        {
          service: "drill-feed",
          decimals: FAILOVER_DECIMALS,
          maxAge: t.feedMaxAge,
          description: "ETH / USD (drill)",
        },
      ],
    },
  };
  let deployed;
  try {
    deployed = await deployVigil(params, deploymentId, "drill parameters", { requiredConfirmations: 1 });
  } finally {
    fs.rmSync(path.join(__dirname, "..", "..", "ignition", "deployments", deploymentId), {
      recursive: true,
      force: true,
    });
  }
  say(
    `Vigil deployed with Ignition: oracle ${deployed.oracle}, registry ${deployed.registry}, guard ${deployed.guard}`,
  );

  const oracle = IHealthOracle__factory.connect(deployed.oracle, provider);
  const registry = IEndpointRegistry__factory.connect(deployed.registry, provider);
  const guard = IMarketGuard__factory.connect(deployed.guard, provider);
  const serviceIds = (await registry.services()).map((s) => s.toLowerCase()) as [
    string,
    string,
    string,
    string,
  ];
  const failoverFeed = IFailoverFeed__factory.connect(deployed.failoverFeeds[0], provider);
  const marketIds = [
    await guard.marketIdOf(deployed.markets[0]),
    await guard.marketIdOf(deployed.markets[1]),
  ] as [bigint, bigint];
  const endpointsOf = async (s: string) => (await registry.endpointsOf(s)).map((e) => e.id.toLowerCase());
  const ids = await endpointsOf(serviceIds[0]);
  const l2Ids = [(await endpointsOf(serviceIds[1]))[0], (await endpointsOf(serviceIds[2]))[0]] as [
    string,
    string,
  ];
  const feedIds = (await endpointsOf(serviceIds[3])) as [string, string];
  const names = new Map<string, string>(ids.map((id, i) => [id, replicas.nodes[i].spec.name]));
  names.set(feedIds[0], "primary price feed");
  names.set(feedIds[1], "backup price feed");
  names.set(serviceIds[3], "service drill-feed");
  names.set(serviceIds[0], "service drill-rpc");
  names.set(l2Ids[0], "L2 sequencer RPC");
  names.set(l2Ids[1], "L2 uptime feed");
  names.set(serviceIds[1], "service l2-rpc");
  names.set(serviceIds[2], "service l2-sequencer");

  // A trader with a position, so the drill can prove exits stay open while paused.
  const trader = new NonceManager(new Wallet(DEV_KEYS[5], provider));
  const market = GuardedPerpMarket__factory.connect(deployed.markets[0], trader);
  const collateral = MockERC20__factory.connect(await market.collateral(), trader);
  await (await collateral.mint(await trader.getAddress(), 10n ** 24n)).wait();
  await (await collateral.approve(deployed.markets[0], 2n ** 255n)).wait();
  await (await market.deposit(10n ** 23n)).wait();

  // Keepers, as operators run them.
  const attestorPorts = await Promise.all([1, 2, 3].map(() => freePort()));
  const attestorUrls = attestorPorts.map((p) => `http://127.0.0.1:${p}`);
  const base = { rpcUrl: control.url, oracle: deployed.oracle, registry: deployed.registry, t };
  attestorPorts.forEach((port, i) => {
    const file = path.join(workDir, `attestor-${i + 1}.json`);
    const cfg = attestorConfig({
      ...base,
      port,
      serviceIds,
      expectedChainIds: { [serviceIds[0]]: MONITORED_CHAIN, [serviceIds[1]]: L2_CHAIN },
      dataDir: path.join(workDir, `attestor-${i + 1}`),
    });
    fs.writeFileSync(file, JSON.stringify(cfg, null, 2));
    const log = path.join(workDir, `attestor-${i + 1}.log`);
    procs.startKeeper(`attestor-${i + 1}`, "attestor", file, { VIGIL_ATTESTOR_KEY: DEV_KEYS[i + 1] }, log);
  });
  const responderFile = path.join(workDir, "responder.json");
  const rcfg = responderConfig({
    ...base,
    serviceIds,
    guard: deployed.guard,
    attestorUrls,
    outbox: path.join(workDir, "responder.sqlite"),
    port: await freePort(),
  });
  fs.writeFileSync(responderFile, JSON.stringify(rcfg, null, 2));
  procs.startKeeper(
    "responder",
    "responder",
    responderFile,
    { VIGIL_RESPONDER_KEY: DEV_KEYS[4] },
    path.join(workDir, "responder.log"),
  );
  say(`3 attestors (quorum 2) on ${attestorUrls.join(", ")} and 1 responder started (logs in ${workDir})`);

  // Steady state: every endpoint HEALTHY on-chain, both markets open (a market whose dependencies were
  // never attested is tripped at start-up and resumes once they have been HEALTHY for its grace period).
  const all = [...ids, ...l2Ids, ...feedIds];
  const ready = await waitUntil(async () => {
    const s = await Promise.all(all.map((id) => oracle.statusOf(id)));
    return s.every((h) => Number(h.status) === Status.HEALTHY);
  }, t.reactionTimeoutMs * 2);
  if (!ready) throw new Error(`endpoints did not all become HEALTHY; see the keeper logs in ${workDir}`);
  const open = await waitUntil(
    async () => !(await guard.isPaused(1n)) && !(await guard.isPaused(2n)),
    t.reactionTimeoutMs + t.gracePeriod * 1000,
  );
  if (!open) throw new Error(`the markets did not open after start-up; see the keeper logs in ${workDir}`);
  return {
    control,
    provider,
    replicas,
    l2,
    feeds,
    failoverFeed,
    slowProxy,
    deployed,
    oracle,
    registry,
    guard,
    serviceIds,
    ids,
    l2Ids,
    feedIds,
    endpointUrls,
    marketIds,
    market,
    attestorUrls,
    names,
  };
}
