/**
 * One row's world for `npm run bench:clients`: three anvil replicas of one chain mined every second
 * (scripts/drill/replicas.ts), each behind a pass-through JSON-RPC fault proxy (the gateway tests'
 * `FaultProxy`), and a real Vigil: a control chain (anvil) with the HealthOracle and EndpointRegistry, the
 * service registered with the proxies' URLs, three attestors probing them (quorum 2) and a responder that
 * relays rounds and migrates, all in this process (`startAttestor`, `startResponder`), plus the Vigil
 * gateway and two routers for the client libraries. Nothing moves the service but the attested verdict.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { JsonRpcProvider, Network, NonceManager, Wallet } from "ethers";
import { EndpointRegistry__factory, HealthOracle__factory } from "../../typechain-types";
import { startAttestor, type RunningAttestor } from "../../keepers/attestor/service";
import { attestorConfigSchema } from "../../keepers/attestor/config";
import { VigilRouter } from "../../keepers/client/router";
import { gatewayConfigSchema } from "../../keepers/gateway/config";
import { startGateway, type GatewayHandle } from "../../keepers/gateway/run";
import { parseResponderConfig } from "../../keepers/responder/config";
import { startResponder, type ResponderHandle } from "../../keepers/responder/responder";
import { parseConfig } from "../../keepers/shared/config";
import { Status } from "../../keepers/shared/health";
import { createLogger } from "../../keepers/shared/logger";
import { FaultProxy } from "../../test/keepers/gateway/fixture";
import { DEV_KEYS } from "../../keepers/devnet/params";
import { ManagedNode, freePort } from "../drill/nodes";
import { ReplicaSet } from "../drill/replicas";

export const CONTROL_CHAIN = 31337;
export const SERVED_CHAIN = 1337;
export const SERVICE = "bench-rpc";
/** Rounds of 2 s, DOWN after 2 bad rounds, HEALTHY after 2 good ones (the devnet's timing). */
const ROUND_SECONDS = 2;
const POLICY = {
  downBelowBps: 5000,
  upAtBps: 8000,
  fallRounds: 2,
  riseRounds: 2,
  heartbeat: 30,
  maxAge: 20,
};

/** Everything one row runs; {@link stop} ends it all. */
export interface ClientsStack {
  replicas: ReplicaSet;
  proxies: FaultProxy[];
  serviceId: string;
  endpointIds: string[];
  gateway: GatewayHandle;
  /** One router per Vigil library row (each keeps its own highest-served head). */
  routers: [VigilRouter, VigilRouter];
  /** Index of the registry's active endpoint, read from the chain. */
  activeIndex(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * Start a row's world and wait until every endpoint is HEALTHY on-chain.
 * @throws when a node or keeper does not start, or the steady state is not reached within `timeoutMs`.
 */
export async function startClientsStack(timeoutMs = 90_000): Promise<ClientsStack> {
  const stops: (() => Promise<unknown> | unknown)[] = [];
  const stop = async () => {
    for (const s of stops.reverse()) await Promise.resolve(s()).catch(() => undefined);
  };
  try {
    const logger = createLogger("bench-clients", { level: process.env.VIGIL_BENCH_LOG ?? "silent" });
    const control = new ManagedNode({
      name: "control",
      impl: "anvil",
      port: await freePort(),
      chainId: CONTROL_CHAIN,
      blockTimeSec: 1,
    });
    stops.push(() => control.stop());
    const replicas = await ReplicaSet.create({
      names: ["primary", "backup-1", "backup-2"],
      chainId: SERVED_CHAIN,
      blockTimeSec: 1,
      callTimeoutMs: 500,
    });
    stops.push(() => replicas.stop());
    await Promise.all([control.start(), replicas.start()]);
    const proxies = await Promise.all(replicas.urls.map((u) => FaultProxy.start(u)));
    stops.push(() => Promise.all(proxies.map((p) => p.stop())));

    const network = Network.from(CONTROL_CHAIN);
    const provider = new JsonRpcProvider(control.url, network, { staticNetwork: network });
    provider.pollingInterval = 250;
    stops.push(() => provider.destroy());
    const admin = new NonceManager(new Wallet(DEV_KEYS.admin, provider));
    const attestorKeys = [...DEV_KEYS.attestors];
    const attestorAddrs = attestorKeys
      .map((k) => new Wallet(k).address)
      .sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1));
    const oracle = await new HealthOracle__factory(admin).deploy(
      await admin.getAddress(),
      ROUND_SECONDS,
      5,
      500_000,
      POLICY,
    );
    await oracle.waitForDeployment();
    await (await oracle.setAttestors(attestorAddrs, 2)).wait();
    const registry = await new EndpointRegistry__factory(admin).deploy(await oracle.getAddress());
    await registry.waitForDeployment();
    const config = { cooldown: 0, recoveryPeriod: 0 };
    const serviceId = (await registry.registerService.staticCall(SERVICE, config)).toLowerCase();
    await (await registry.registerService(SERVICE, config)).wait();
    const endpointIds: string[] = [];
    for (const [i, p] of proxies.entries()) {
      endpointIds.push((await registry.addEndpoint.staticCall(serviceId, 0, p.url, i)).toLowerCase());
      await (await registry.addEndpoint(serviceId, 0, p.url, i)).wait();
    }
    const addresses = { oracle: await oracle.getAddress(), registry: await registry.getAddress() };
    const chain = { rpcUrls: [control.url], chainId: CONTROL_CHAIN };

    const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "vigil-bench-clients-"));
    stops.push(() => fs.rmSync(workDir, { recursive: true, force: true }));
    const attestors: RunningAttestor[] = [];
    for (const [i, key] of attestorKeys.entries()) {
      const cfg = parseConfig(attestorConfigSchema, {
        chain,
        contracts: addresses,
        key: { envVar: "VIGIL_BENCH_UNUSED_KEY" },
        dataDir: path.join(workDir, `attestor-${i + 1}`),
        services: [serviceId],
        expectedChainIds: { [serviceId]: SERVED_CHAIN },
        allowPrivateTargets: true,
        probeIntervalMs: 500,
        timeoutMs: 400,
        errorWindow: 5,
        registryRefreshMs: 5_000,
        oracleRefreshMs: 5_000,
        http: { host: "127.0.0.1", port: 0 },
        // Nodes mine every second: a head older than 3 s is late, older than 6 s is halted.
        thresholds: {
          jsonRpc: { headAgeSec: { ok: 3, max: 6, floor: 0 }, lagBlocks: { ok: 3, max: 10, floor: 0 } },
        },
      });
      const a = await startAttestor(cfg, { signer: new Wallet(key), logger, provider });
      attestors.push(a);
      stops.push(() => a.stop());
    }
    const responder: ResponderHandle = await startResponder(
      parseResponderConfig({
        chain,
        contracts: addresses,
        services: [serviceId],
        attestorUrls: attestors.map((a) => a.url),
        pollIntervalMs: 500,
        attestorTimeoutMs: 1000,
        confirmations: 1,
        outboxPath: path.join(workDir, "responder.sqlite"),
        http: { host: "127.0.0.1", port: 0 },
      }),
      { wallet: new Wallet(DEV_KEYS.responder), logger, provider },
    );
    stops.push(() => responder.stop());

    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const st = await Promise.all(endpointIds.map((id) => oracle.statusOf(id)));
      if (st.every((s) => Number(s.status) === Status.HEALTHY)) break;
      if (Date.now() > deadline) throw new Error("endpoints not HEALTHY on-chain in time");
      await new Promise((r) => setTimeout(r, 250));
    }

    const services = [{ name: SERVICE, id: serviceId, chainId: SERVED_CHAIN }];
    const gateway = await startGateway(
      parseConfig(gatewayConfigSchema, {
        chain,
        contracts: addresses,
        http: { host: "127.0.0.1", port: 0 },
        services,
        pollIntervalMs: 1000,
        eventIntervalMs: 250,
        deadlineMs: 2000,
        attemptTimeoutMs: 500,
      }),
      { logger, provider },
    );
    stops.push(() => gateway.stop());
    const routers: VigilRouter[] = [];
    for (let i = 0; i < 2; i++) {
      const r = await VigilRouter.start({
        provider,
        ...addresses,
        services: [{ name: SERVICE, id: serviceId, expectedChainId: SERVED_CHAIN }],
        pollIntervalMs: 1000,
        eventIntervalMs: 250,
        deadlineMs: 2000,
        attemptTimeoutMs: 500,
        logger,
      });
      routers.push(r);
      stops.push(() => r.stop());
    }
    return {
      replicas,
      proxies,
      serviceId,
      endpointIds,
      gateway,
      routers: routers as [VigilRouter, VigilRouter],
      activeIndex: async () =>
        endpointIds.indexOf((await registry.activeEndpointId(serviceId)).toLowerCase()),
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
