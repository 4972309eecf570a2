/**
 * Real nodes for the client libraries' tests: the gateway tests' control chain (Vigil contracts on anvil,
 * four attestors signing real reports, health moved only through `HealthOracle.submit`, the active endpoint
 * only through `EndpointRegistry.migrate`; test/keepers/gateway/fixture.ts) and the monitored service's
 * honest endpoints as replicas of ONE chain (scripts/drill/replicas.ts, mined by hand), each endpoint
 * reached through its own fault proxy.
 */
import { Wallet } from "ethers";
import { VigilRouter } from "../../../keepers/client/router";
import { ReplicaSet } from "../../../scripts/drill/replicas";
import type { Anvil } from "../helpers/anvil";
import { ANVIL_KEYS } from "../helpers/anvil";
import { ControlChain, DOWN, HEALTHY, type TestService } from "../gateway/fixture";
import { until } from "../helpers/until";

export { DOWN, HEALTHY };
/** Chain id the replicas serve (not the control chain's). */
export const SERVED_CHAIN = 1337;
/** Recipient of the test transfers. */
export const TO = "0x00000000000000000000000000000000000000bb";

/** The control chain, N replicas and the routers made (all stopped by {@link ClientBed.stop}). */
export class ClientBed {
  private readonly routers: VigilRouter[] = [];

  private constructor(
    readonly chain: ControlChain,
    readonly replicas: ReplicaSet,
  ) {}

  /** Start the control chain and `n` replicas (manual clock), each mined to block 5. */
  static async start(n = 3): Promise<ClientBed> {
    const replicas = await ReplicaSet.create({
      names: Array.from({ length: n }, (_, i) => `replica-${i}`),
      chainId: SERVED_CHAIN,
      blockTimeSec: 1,
      clock: "manual",
    });
    let chain: ControlChain | undefined;
    try {
      [chain] = await Promise.all([ControlChain.start(), replicas.start()]);
      for (let i = 0; i < 5; i++) await replicas.tick();
      return new ClientBed(chain, replicas);
    } catch (e) {
      await Promise.all([chain?.stop(), replicas.stop()]);
      throw e;
    }
  }

  /**
   * Register a service whose endpoints are proxies in front of replicas `which` (priority = position) and
   * give it `health` (bps per endpoint; undefined: never reported, so UNKNOWN) in one round.
   */
  async service(which: number[], health: (number | undefined)[]): Promise<TestService> {
    const nodes = which.map((i) => ({ url: this.replicas.url(i) }) as Anvil);
    const svc = await this.chain.service(nodes);
    this.chain.set(svc.endpoints.map((e, i) => [e, health[i]]));
    await this.chain.round();
    return svc;
  }

  /** A started router for `svc` with test-fast polling (stopped with the bed). */
  async router(svc: TestService, over: { deadlineMs?: number; attemptTimeoutMs?: number } = {}) {
    const r = await VigilRouter.start({
      provider: this.chain.provider,
      registry: await this.chain.registry.getAddress(),
      oracle: await this.chain.oracle.getAddress(),
      services: [{ id: svc.id, name: svc.name, expectedChainId: SERVED_CHAIN }],
      pollIntervalMs: 200,
      eventIntervalMs: 100,
      deadlineMs: over.deadlineMs ?? 3000,
      attemptTimeoutMs: over.attemptTimeoutMs ?? 800,
    });
    this.routers.push(r);
    return r;
  }

  /** Report `health` (bps per endpoint, as {@link service}), one round, and wait until `router` read it. */
  async report(svc: TestService, health: (number | undefined)[], router: VigilRouter): Promise<void> {
    this.chain.set(svc.endpoints.map((e, i) => [e, health[i]]));
    await this.chain.round();
    await router.follower.refresh();
  }

  /**
   * The primary fails on-chain: endpoint 0 DOWN, the others HEALTHY, then `migrate`; resolves once
   * `router` routes to endpoint `to` (it follows the `EndpointMigrated` log).
   */
  async failover(svc: TestService, router: VigilRouter, to = 1): Promise<void> {
    this.chain.set(svc.endpoints.map((e, i) => [e, i === 0 ? DOWN : HEALTHY]));
    await this.chain.round();
    await this.chain.migrate(svc.id);
    await until("the router follows the migration", async () => {
      return router.follower.active(svc.name)?.id === svc.endpoints[to].id;
    });
  }

  /** A signed transfer by anvil account `k` with its next nonce on replica `i`. */
  async signedTransfer(i: number, k = 3): Promise<string> {
    const w = new Wallet(ANVIL_KEYS[k]);
    const nonce = Number(
      BigInt(
        (await fetchRpc(this.replicas.url(i), "eth_getTransactionCount", [w.address, "pending"])) as string,
      ),
    );
    return w.signTransaction({
      type: 2,
      chainId: SERVED_CHAIN,
      to: TO,
      value: 1n,
      nonce,
      gasLimit: 21_000n,
      maxFeePerGas: 10n ** 11n,
      maxPriorityFeePerGas: 10n ** 9n,
    });
  }

  async stop(): Promise<void> {
    await Promise.all(this.routers.map((r) => r.stop()));
    await Promise.all([this.chain.stop(), this.replicas.stop()]);
  }
}

/** One JSON-RPC call straight to a node (not through a client). */
export async function fetchRpc(url: string, method: string, params: unknown[] = []): Promise<unknown> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
  const body = (await res.json()) as { result?: unknown; error?: { message: string } };
  if (body.error) throw new Error(body.error.message);
  return body.result;
}

/**
 * Init code that reverts with one word (0x…01): `PUSH1 1 PUSH1 0 MSTORE PUSH1 32 PUSH1 0 REVERT`. An
 * `eth_call` without `to` runs it, so any node answers a revert without a deployed contract.
 */
export const REVERTING_INITCODE = "0x600160005260206000fd";
