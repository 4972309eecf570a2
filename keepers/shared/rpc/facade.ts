/**
 * The ethers `AbstractProvider` over an RPC pool: what contracts, signers, the TxManager and watchers use.
 * ethers normalises arguments and formats results; every request it would send reaches {@link PoolBackend.perform}
 * as a `PerformActionRequest` (`broadcastTransaction`, `getTransactionReceipt`, `call`, `getBlock`, …), the
 * same seam ethers' own `FallbackProvider` uses, and the pool decides which members answer it.
 */
import { AbstractProvider, type Network, type PerformActionRequest } from "ethers";

/** What the facade needs from the pool. */
export interface PoolBackend {
  /** Answer one ethers request from the pool's members (raw JSON-RPC results, as `JsonRpcProvider._perform`). */
  perform(req: PerformActionRequest): Promise<unknown>;
  /** A raw JSON-RPC call (`eth_sendRawTransaction` goes to every member, the rest fail over). */
  send(method: string, params: unknown[]): Promise<unknown>;
  /** Stop the pool's timers and close its members. */
  shutdown(): void;
}

/** The pool as one ethers provider. Its network is fixed (the configured chain id): no network detection. */
export class PoolProvider extends AbstractProvider {
  readonly #backend: PoolBackend;
  readonly #network: Network;
  #closed = false;

  /**
   * @param backend The pool.
   * @param network The configured chain (static: a member serving another chain is a member fault, not a
   *   network change).
   * @param pollingIntervalMs How often ethers polls for new blocks and events on this provider, ms.
   */
  constructor(backend: PoolBackend, network: Network, pollingIntervalMs: number) {
    // cacheTimeout -1: no answer is reused across calls (a stale `pending` nonce right after a send would
    // give "nonce too low").
    super(network, { cacheTimeout: -1, pollingInterval: pollingIntervalMs });
    this.#backend = backend;
    this.#network = network;
  }

  /** The configured network, without asking any member (ethers calls this on every `getNetwork()`). */
  async _detectNetwork(): Promise<Network> {
    return this.#network.clone();
  }

  /** Route one request through the pool (see RpcPool for the rules per method). */
  async _perform<T = unknown>(req: PerformActionRequest): Promise<T> {
    return (await this.#backend.perform(req)) as T;
  }

  /**
   * A raw JSON-RPC call, as `JsonRpcProvider.send`: `eth_sendRawTransaction` goes to every member, anything
   * else to the freshest member with failover on transport errors.
   */
  send(method: string, params: unknown[] = []): Promise<unknown> {
    return this.#backend.send(method, params);
  }

  /** Stop polling, stop the pool and close every member's connection. Idempotent. */
  destroy(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#backend.shutdown();
    super.destroy();
  }
}
