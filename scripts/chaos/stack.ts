/**
 * The chaos run's stack on loopback, built from the drill's pieces (scripts/drill/*): a control chain (anvil,
 * a block every second) with Vigil deployed through Ignition, one monitored service `chaos-rpc` of three
 * lockstep anvil replicas (scripts/drill/replicas.ts), one example market depending on it, three attestors
 * (quorum 2) and N responders started as operators start them (`node bin/vigil.js responder --config <file>`),
 * each with its own key, its own outbox file and two control-chain RPC URLs: a hostile {@link RpcProxy} in
 * front of the control chain first, the control chain's own URL second.
 *
 * By default the oracle's status listeners (the registry and the guard) are removed after deployment, so every
 * failover, failback, pause and resume is a transaction some responder must send, not a side effect of the
 * report submission: that is what the chaos run is measuring.
 */
import fs from "node:fs";
import path from "node:path";
import { HDNodeWallet, JsonRpcProvider, Mnemonic, Wallet } from "ethers";
import {
  IEndpointRegistry__factory,
  IHealthOracle__factory,
  IMarketGuard__factory,
  type IEndpointRegistry,
  type IHealthOracle,
  type IMarketGuard,
} from "../../typechain-types";
import { Status } from "../../keepers/shared/health";
import { ManagedNode, freePort } from "../drill/nodes";
import type { ProcessRegistry } from "../drill/processes";
import { ReplicaSet } from "../drill/replicas";
import {
  CONTROL_CHAIN,
  DEV_KEYS,
  MONITORED_CHAIN,
  attestorConfig,
  responderConfig,
  waitUntil,
  type Timing,
} from "../drill/setup";
import type { KeeperProcs } from "./keepers";
import { RpcProxy } from "./rpcProxy";

/** anvil's default mnemonic ("test test … junk"): the dev accounts, local chains only. */
const DEV_MNEMONIC = "test test test test test test test test test test test junk";
/** Dev account indices of the responders' keys (0 deployer, 1-3 attestors, 5 the drill's trader). */
const RESPONDER_ACCOUNTS = [4, 6, 7];

/** One responder as the chaos run drives it. */
export interface ResponderSpec {
  name: string;
  /** Its signing key (dev account) and address. */
  key: string;
  address: string;
  configFile: string;
  logFile: string;
  /** The hostile proxy in front of the control chain: the responder's first RPC URL. */
  proxy: RpcProxy;
}

export interface ChaosStack {
  control: ManagedNode;
  provider: JsonRpcProvider;
  replicas: ReplicaSet;
  deployed: { oracle: string; registry: string; guard: string; markets: string[] };
  oracle: IHealthOracle;
  registry: IEndpointRegistry;
  guard: IMarketGuard;
  serviceId: string;
  /** Endpoint ids of the service (lower case), index i = replica i. */
  ids: string[];
  marketId: bigint;
  attestorUrls: string[];
  responders: ResponderSpec[];
  /** Whether the oracle still calls the registry and the guard on a status change. */
  listeners: boolean;
  /** Block number of the control chain when the stack was ready. */
  readyBlock: number;
}

/**
 * Send an owner transaction and wait for it; retried (up to 5 times, 1 s apart) on "nonce too low", which the
 * deployer's last Ignition transaction can cause right after the deployment.
 */
async function ownerSend(send: () => Promise<{ wait(): Promise<unknown> }>): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      await (await send()).wait();
      return;
    } catch (e) {
      if (i >= 4 || (e as { code?: string }).code !== "NONCE_EXPIRED") throw e;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

/** Private key of dev account `i` of the default mnemonic. */
export function devKey(i: number): string {
  if (i < DEV_KEYS.length) return DEV_KEYS[i];
  return HDNodeWallet.fromMnemonic(Mnemonic.fromPhrase(DEV_MNEMONIC), `m/44'/60'/0'/0/${i}`).privateKey;
}

/**
 * Start everything (every process in `procs`) and wait for the steady state: every endpoint HEALTHY and the
 * market open. Responders are written to config files here but started by the caller (they are restarted
 * after every kill). @throws when a node does not start, the deployment fails or the steady state is not reached.
 */
export async function startChaosStack(o: {
  t: Timing;
  procs: ProcessRegistry;
  keepers: KeeperProcs;
  /** Checkout whose bin/vigil.js runs the attestors. */
  attestorRoot: string;
  workDir: string;
  say: (text: string) => void;
  responders: number;
  keepListeners: boolean;
  startResponders: (specs: ResponderSpec[]) => void;
}): Promise<ChaosStack> {
  const { t, procs, workDir, say } = o;
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
  const replicas = await ReplicaSet.create({
    names: ["primary", "backup-1", "backup-2"],
    chainId: MONITORED_CHAIN,
    blockTimeSec: 1,
    callTimeoutMs: 500,
  });
  replicas.nodes.forEach((n) => procs.addNode(n));
  await replicas.start(90_000);
  say(`monitored service: 3 lockstep anvil replicas on ${replicas.urls.join(", ")}`);

  const provider = new JsonRpcProvider(control.url, CONTROL_CHAIN, { staticNetwork: true, polling: true });
  provider.pollingInterval = 250;
  process.env.VIGIL_DRILL_RPC_URL = control.url;
  process.env.HARDHAT_NETWORK = "drill";
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { deployVigil } = require("../deploy") as typeof import("../deploy");
  const deploymentId = `chaos-${Date.now()}`;
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
        name: "chaos-rpc",
        cooldown: t.cooldown,
        recoveryPeriod: t.recoveryPeriod,
        endpoints: replicas.urls.map((uri, i) => ({ kind: "JSON_RPC", uri, priority: i })),
      },
    ],
    markets: [{ pauseThresholdBps: 5000, gracePeriod: t.gracePeriod, services: ["chaos-rpc"] }],
  };
  let deployed;
  try {
    deployed = await deployVigil(params, deploymentId, "chaos parameters", { requiredConfirmations: 1 });
  } finally {
    fs.rmSync(path.join(__dirname, "..", "..", "ignition", "deployments", deploymentId), {
      recursive: true,
      force: true,
    });
  }
  say(`Vigil deployed: oracle ${deployed.oracle}, registry ${deployed.registry}, guard ${deployed.guard}`);
  const owner = new Wallet(DEV_KEYS[0], provider);
  const oracle = IHealthOracle__factory.connect(deployed.oracle, owner);
  const registry = IEndpointRegistry__factory.connect(deployed.registry, provider);
  const guard = IMarketGuard__factory.connect(deployed.guard, provider);
  if (!o.keepListeners) {
    for (const listener of [deployed.guard, deployed.registry])
      await ownerSend(() => oracle.removeStatusListener(listener));
    say("status listeners removed: every migration, pause and resume is a responder's transaction");
  }
  const serviceId = (await registry.services())[0].toLowerCase();
  const ids = (await registry.endpointsOf(serviceId)).map((e) => e.id.toLowerCase());
  const marketId = await guard.marketIdOf(deployed.markets[0]);

  const attestorPorts = await Promise.all([1, 2, 3].map(() => freePort()));
  const attestorUrls = attestorPorts.map((p) => `http://127.0.0.1:${p}`);
  const base = { rpcUrl: control.url, oracle: deployed.oracle, registry: deployed.registry, t };
  attestorPorts.forEach((port, i) => {
    const file = path.join(workDir, `attestor-${i + 1}.json`);
    const cfg = attestorConfig({
      ...base,
      port,
      serviceIds: [serviceId],
      expectedChainIds: { [serviceId]: MONITORED_CHAIN },
      dataDir: path.join(workDir, `attestor-${i + 1}`),
    });
    fs.writeFileSync(file, JSON.stringify(cfg, null, 2));
    const log = path.join(workDir, `attestor-${i + 1}.log`);
    o.keepers.start(o.attestorRoot, "attestor", file, { VIGIL_ATTESTOR_KEY: DEV_KEYS[i + 1] }, log);
  });

  const responders: ResponderSpec[] = [];
  for (let i = 0; i < o.responders; i++) {
    const key = devKey(RESPONDER_ACCOUNTS[i]);
    const proxy = await RpcProxy.start(control.url);
    const name = `responder-${i + 1}`;
    const cfg = responderConfig({
      ...base,
      serviceIds: [serviceId],
      guard: deployed.guard,
      attestorUrls,
      outbox: path.join(workDir, `${name}.sqlite`),
      // any free port, chosen at each start: a port picked once can be taken by another process between restarts
      port: 0,
    }) as { chain: { rpcUrls: string[] } };
    // The hostile proxy first (what a quorum-1 fallback provider would believe), the honest node second.
    cfg.chain.rpcUrls = [proxy.url, control.url];
    const configFile = path.join(workDir, `${name}.json`);
    fs.writeFileSync(configFile, JSON.stringify(cfg, null, 2));
    responders.push({
      name,
      key,
      address: new Wallet(key).address.toLowerCase(),
      configFile,
      logFile: path.join(workDir, `${name}.log`),
      proxy,
    });
  }
  o.startResponders(responders);
  say(
    `3 attestors (quorum 2) and ${responders.length} racing responders started (logs in ${workDir}); ` +
      `each responder: RPC proxy first, the control chain second`,
  );

  const ready = await waitUntil(async () => {
    const s = await Promise.all(ids.map((id) => oracle.statusOf(id)));
    return s.every((h) => Number(h.status) === Status.HEALTHY);
  }, t.reactionTimeoutMs * 2);
  if (!ready) throw new Error(`endpoints did not all become HEALTHY; see the keeper logs in ${workDir}`);
  const open = await waitUntil(
    async () => !(await guard.isPaused(marketId)),
    t.reactionTimeoutMs + t.gracePeriod * 1000,
  );
  if (!open) throw new Error(`the market did not open after start-up; see the keeper logs in ${workDir}`);
  return {
    control,
    provider,
    replicas,
    deployed,
    oracle: oracle.connect(provider) as IHealthOracle,
    registry,
    guard,
    serviceId,
    ids,
    marketId,
    attestorUrls,
    responders,
    listeners: o.keepListeners,
    readyBlock: await provider.getBlockNumber(),
  };
}
