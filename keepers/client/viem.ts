/**
 * A viem transport that routes by the Vigil registry, built with viem's `createTransport` as viem documents
 * custom transports. Every request goes to a {@link VigilRouter} (./router.ts), which applies the gateway's
 * rules (the registry's active endpoint switched on `EndpointMigrated`, one retry of an idempotent read on
 * a HEALTHY endpoint, reverts passed on, signed transactions resent to the next HEALTHY endpoint, no head
 * going back, a deadline per call). viem's own retries are off (`retryCount: 0`): they would retry
 * `-32603` answers on the same route and break "never retried on a DOWN or UNKNOWN endpoint".
 *
 * ```ts
 * const router = await VigilRouter.start({ provider: control, registry, oracle, services });
 * const client = createPublicClient({ chain: mainnet, transport: vigilTransport({ router, service: "eth-mainnet" }) });
 * ```
 */
import { createTransport, RpcRequestError, type Transport } from "viem";
import { broadcastInfo, type VigilRouter } from "./router";

/** Settings of {@link vigilTransport}. */
export interface VigilTransportConfig {
  /** A started router that follows `service` (transports and providers may share one). */
  router: VigilRouter;
  /** The service's configured name or id. */
  service: string;
  /** viem's transport key and name. Default `vigil` / `Vigil <service>`. */
  key?: string;
  name?: string;
}

/** What the transport exposes as `client.transport` besides viem's config. */
export interface VigilTransportValue {
  router: VigilRouter;
  service: string;
}

/**
 * A viem transport for one service of `router`. A JSON-RPC error answer is thrown as viem's
 * `RpcRequestError` with the node's code, message and data (viem maps the code, e.g. a revert, as it
 * does for its `http` transport); a call no endpoint answered is code -32603 with `data.reason`. A signed
 * transaction's error message starts with whether it may have been broadcast, and its `data` holds
 * `mayHaveBeenBroadcast` and `txHash` (reach it with `err.walk()`).
 * @throws VigilError VIGIL_CONFIG (when the client is made) for a service the router does not follow.
 */
export function vigilTransport(config: VigilTransportConfig): Transport<"vigil", VigilTransportValue> {
  const { router } = config;
  const service = router.service(config.service).name;
  const url = `vigil:${service}`;
  return () =>
    createTransport(
      {
        key: config.key ?? "vigil",
        name: config.name ?? `Vigil ${service}`,
        type: "vigil",
        retryCount: 0,
        timeout: router.deadlineMs,
        async request({ method, params }) {
          const a = await router.call(service, method, params ?? []);
          if (!a.error) return a.result as never;
          let message = a.error.message;
          const info = method === "eth_sendRawTransaction" ? broadcastInfo(a.error) : undefined;
          if (info) {
            message = info.mayHaveBeenBroadcast
              ? `transaction may have been broadcast: watch for ${info.txHash} before signing a replacement (${message})`
              : `transaction not broadcast (${message})`;
          }
          throw new RpcRequestError({
            body: { method, params },
            error: { code: a.error.code, message, data: a.error.data },
            url,
          });
        },
      },
      { router, service },
    );
}
