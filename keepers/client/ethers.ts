/**
 * An ethers v6 provider that routes by the Vigil registry, for front ends' back ends and bots that do not
 * run a `vigil gateway`. ethers documents `JsonRpcApiProvider` as the base of a custom JSON-RPC transport
 * ("a sub-class MUST override _send"); {@link VigilProvider} does exactly that and hands every call to a
 * {@link VigilRouter} (./router.ts), which applies the gateway's rules: the registry's active endpoint,
 * switched on `EndpointMigrated`; one retry of an idempotent read on a HEALTHY endpoint after a transport
 * failure; reverts passed on; signed transactions resent to the next HEALTHY endpoint; no head going back.
 *
 * ```ts
 * const provider = await VigilProvider.connect({
 *   controlRpcUrl: "https://control.example", registry, oracle,
 *   service: { id: serviceId, name: "eth-mainnet", expectedChainId: 1 },
 * });
 * await provider.getBlockNumber(); // from the service's active endpoint
 * ```
 */
import {
  JsonRpcApiProvider,
  JsonRpcProvider,
  Network,
  makeError,
  Transaction,
  type ErrorCode,
  type JsonRpcApiProviderOptions,
  type JsonRpcError,
  type JsonRpcPayload,
  type JsonRpcResult,
  type TransactionResponse,
} from "ethers";
import type { FollowedService } from "./follow";
import { broadcastInfo, VigilRouter, type VigilRouterOptions } from "./router";

/** What {@link VigilProvider.connect} takes: the router's settings for one service, by the control chain's URL. */
export interface VigilProviderConnect extends Omit<VigilRouterOptions, "provider" | "services"> {
  /** JSON-RPC URL of the control chain (where the registry and the oracle are). */
  controlRpcUrl: string;
  /** Chain id of the control chain; default: asked once. */
  controlChainId?: number;
  /** The service this provider serves. */
  service: FollowedService;
  /** ethers options (polling, cache); `staticNetwork` is always the service's chain. */
  ethers?: JsonRpcApiProviderOptions;
}

/**
 * A provider for ONE service of a {@link VigilRouter}; `batchMaxCount` defaults to 1 (see the constructor). Its network is the service's expected chain id
 * (static: never asked, the router checks chain ids on every switch). JSON-RPC errors become ethers errors
 * as usual (`isError(e, "CALL_EXCEPTION")` for a revert); a signed transaction's error also carries
 * `mayHaveBeenBroadcast` (boolean) and `txHash`, and its message starts with what the client must do.
 */
export class VigilProvider extends JsonRpcApiProvider {
  /** The service's configured name. */
  readonly serviceName: string;
  private _owned?: { router: VigilRouter; control: JsonRpcProvider };

  /**
   * @param router A started router following `service` (several providers may share one).
   * @param service The service's configured name or id.
   * @throws VigilError VIGIL_CONFIG when the router does not follow `service`.
   */
  constructor(
    readonly router: VigilRouter,
    service: string,
    options: JsonRpcApiProviderOptions = {},
  ) {
    const cfg = router.service(service);
    const network = Network.from(cfg.expectedChainId);
    // One call per _send unless asked otherwise: a batch resolves its calls together in request order, so
    // two head calls decided in one order by the router (never backwards) could reach the caller in the
    // other; and the router routes each call on its own anyway (no HTTP batch to save).
    super(network, { batchMaxCount: 1, ...options, staticNetwork: network });
    this.serviceName = cfg.name;
  }

  /**
   * Start a router for one service on its own control-chain connection and return its provider;
   * `destroy()` stops both. Throws what {@link VigilRouter.start} throws.
   */
  static async connect(o: VigilProviderConnect): Promise<VigilProvider> {
    const chainId = o.controlChainId;
    const control = new JsonRpcProvider(o.controlRpcUrl, chainId, {
      staticNetwork: chainId === undefined ? undefined : Network.from(chainId),
    });
    let router: VigilRouter;
    try {
      router = await VigilRouter.start({ ...o, provider: control, services: [o.service] });
    } catch (e) {
      control.destroy();
      throw e;
    }
    const p = new VigilProvider(router, o.service.name, o.ethers);
    p._owned = { router, control };
    return p;
  }

  /** ethers' transport hook: each payload routed on its own by the router, answers in order. */
  async _send(payload: JsonRpcPayload | JsonRpcPayload[]): Promise<(JsonRpcResult | JsonRpcError)[]> {
    const calls = Array.isArray(payload) ? payload : [payload];
    return Promise.all(
      calls.map(async (p): Promise<JsonRpcResult | JsonRpcError> => {
        const a = await this.router.call(this.serviceName, p.method, p.params);
        return a.error ? { id: p.id, error: a.error } : { id: p.id, result: a.result };
      }),
    );
  }

  /**
   * ethers' error mapping, plus, for `eth_sendRawTransaction`, whether it may have been broadcast: the
   * message says it, and `mayHaveBeenBroadcast` / `txHash` are properties of the error.
   */
  getRpcError(payload: JsonRpcPayload, error: JsonRpcError): Error {
    const base = super.getRpcError(payload, error);
    const info = payload.method === "eth_sendRawTransaction" ? broadcastInfo(error.error) : undefined;
    if (!info) return base;
    const what = info.mayHaveBeenBroadcast
      ? `transaction may have been broadcast: watch for ${info.txHash} before signing a replacement`
      : "transaction not broadcast";
    const code = ((base as { code?: ErrorCode }).code ?? "UNKNOWN_ERROR") as "UNKNOWN_ERROR";
    return makeError(`${what} (${error.error.message})`, code, {
      mayHaveBeenBroadcast: info.mayHaveBeenBroadcast,
      txHash: info.txHash,
      info: { payload, error },
    } as never);
  }

  /**
   * Send a signed transaction and answer its response. Unlike ethers' default, which reads the block
   * number in parallel and may reject with THAT read's failure while the transaction went out, the
   * transaction's own outcome decides: the hash (`keccak256(raw)`) or its error, which says whether it may
   * have been broadcast. The block number (for replacement detection) is read afterwards, best effort.
   */
  async broadcastTransaction(signedTx: string): Promise<TransactionResponse> {
    const tx = Transaction.from(signedTx);
    const hash = (await this.send("eth_sendRawTransaction", [signedTx])) as string;
    if (hash.toLowerCase() !== tx.hash?.toLowerCase()) {
      throw makeError("the node answered another hash than the transaction's", "UNKNOWN_ERROR", {
        info: { hash, expected: tx.hash },
      });
    }
    const network = await this.getNetwork();
    const blockNumber = await this.getBlockNumber().catch(() => undefined);
    const response = this._wrapTransactionResponse(tx as never, network);
    return blockNumber === undefined ? response : response.replaceableTransaction(blockNumber);
  }

  /** Stop the provider; if {@link connect} made the router, stop it and its control connection too. */
  destroy(): void {
    super.destroy();
    const owned = this._owned;
    this._owned = undefined;
    if (owned) void owned.router.stop().finally(() => owned.control.destroy());
  }
}
