/**
 * What `vigil devnet` deploys and runs: the dev keys, the default ports, the timing of the demo
 * service and the Ignition parameters built from them. One place, so the devnet, the example-config
 * generator (scripts/gen-example-configs.ts) and the tests agree on every value.
 */
import { Wallet } from "ethers";

/**
 * The well-known anvil/Hardhat development accounts #0–#4 (mnemonic "test test … junk"). They are
 * public: anything they hold on a real network is taken at once. Local devnet only.
 */
export const DEV_KEYS = {
  admin: "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80", // #0 deployer, owner
  attestors: [
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d", // #1
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a", // #2
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6", // #3
  ],
  responder: "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a", // #4
} as const;

/** Environment variable holding attestor `i`'s key (1-based) in the devnet's files. */
export const attestorKeyVar = (i: number): string => `VIGIL_ATTESTOR_${i}_KEY`;
/** Environment variable of the responder's key (the responder's default). */
export const RESPONDER_KEY_VAR = "VIGIL_RESPONDER_KEY";
/** Environment variable of the admin key (what `vigil register-service` etc. read). */
export const ADMIN_KEY_VAR = "VIGIL_ADMIN_KEY";

/** Chain id of the control chain (anvil's default). */
export const CONTROL_CHAIN_ID = 31337;
/** Chain id the demo service's nodes serve (another chain than the control chain, as in production). */
export const SERVED_CHAIN_ID = 1337;
/** Name of the demo service in the registry (its id is keccak256(abi.encode(owner, name))). */
export const SERVICE_NAME = "demo-rpc";
/** Names of the demo service's nodes, in priority order (the first is active at start). */
export const NODE_NAMES = ["primary", "backup-1", "backup-2"] as const;

/**
 * Quorum 2 of 3: the smallest quorum the oracle accepts for three attestors (a strict majority; with
 * n = 3, f = 0, so 2f+1 = 1 is not the bound). One attestor can be stopped and rounds still land,
 * which a user can try; quorum 3 would stop every round when any attestor is down.
 */
export const QUORUM = 2;

export { DEFAULT_PORTS } from "./constants";
import { DEFAULT_PORTS } from "./constants";

/** Ports of one devnet, every one resolved (no 0). */
export interface DevnetPorts {
  chain: number;
  nodes: number[];
  attestors: number[];
  responder: number;
  dashboard: number;
}

/** The ports `vigil devnet` uses with no port flags. */
export function defaultPorts(): DevnetPorts {
  return {
    chain: DEFAULT_PORTS.chain,
    nodes: [0, 1, 2].map((i) => DEFAULT_PORTS.node + i),
    attestors: [0, 1, 2].map((i) => DEFAULT_PORTS.attestor + i),
    responder: DEFAULT_PORTS.responder,
    dashboard: DEFAULT_PORTS.dashboard,
  };
}

/**
 * Timing of the demo: short rounds so a fault turns into a failover within seconds, on nodes that
 * mine a block every second. Seconds unless the name says ms.
 */
export const DEVNET_TIMING = {
  roundSeconds: 2,
  maxSkew: 5,
  fallRounds: 2,
  riseRounds: 2,
  heartbeat: 30,
  maxAge: 20,
  /** Service cooldown between two migrations. */
  cooldown: 20,
  /** A failback needs the primary HEALTHY this long. */
  recoveryPeriod: 10,
  /** A paused market resumes once its dependencies have been HEALTHY this long. */
  gracePeriod: 10,
  probeIntervalMs: 1000,
  probeTimeoutMs: 700,
  pollIntervalMs: 1000,
} as const;

/** Attestor addresses in key order (attestor-1 … attestor-3). */
export function attestorAddresses(): string[] {
  return DEV_KEYS.attestors.map((k) => new Wallet(k).address);
}

/**
 * The Ignition parameters of the devnet (the `zDeployParams` shape of ignition/modules/Vigil.ts):
 * three attestors, quorum 2, one service `demo-rpc` whose endpoints are `nodeUrls` in priority order,
 * one example GuardedPerpMarket (deployed by the module, with its test collateral token) depending on it.
 * The contract addresses depend only on this shape and the deployer, not on the URLs: a fresh chain
 * always gets the same ones.
 */
export function devnetDeployParams(nodeUrls: readonly string[]) {
  const t = DEVNET_TIMING;
  return {
    core: {
      roundSeconds: t.roundSeconds,
      maxSkew: t.maxSkew,
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
    attestors: attestorAddresses(),
    quorum: QUORUM,
    services: [
      {
        name: SERVICE_NAME,
        cooldown: t.cooldown,
        recoveryPeriod: t.recoveryPeriod,
        endpoints: nodeUrls.map((uri, i) => ({ kind: "JSON_RPC" as const, uri, priority: i })),
      },
    ],
    markets: [{ pauseThresholdBps: 5000, gracePeriod: t.gracePeriod, services: [SERVICE_NAME] }],
  };
}

/** Loopback URL of a port. */
export const loopback = (port: number): string => `http://127.0.0.1:${port}`;
