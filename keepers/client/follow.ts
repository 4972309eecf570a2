/**
 * The registry follower: what an off-chain client (the `vigil gateway`, the ethers provider, the viem
 * transport) knows about the services it routes for. Per service it reads the on-chain active endpoint
 * (`EndpointRegistry.activeEndpointId`), the service's endpoints (URI, kind, priority) and each endpoint's
 * status in the HealthOracle (`statusOf`). It re-reads when the registry emits `EndpointMigrated` or the
 * oracle `StatusChanged` (logs polled every `eventIntervalMs`, keepers/shared/events.ts) and, as the
 * fallback for a missed log or a status that lapsed to UNKNOWN without an event, every `pollIntervalMs`.
 *
 * Chain ids: each service names the chain id its JSON-RPC endpoints must serve. The follower asks an
 * endpoint `eth_chainId` before routing anything to it: the on-chain active one at start and again on
 * every switch to it, every HEALTHY one before it may be a retry target. An endpoint that answers another
 * chain id is refused (event `refused`, logged as an error): a switch to it is not followed, and it is
 * never a retry target; it is asked again at every poll, so a fixed node comes back. An endpoint that
 * cannot be asked (unreachable) is not routed to either until it answers.
 *
 * URIs are redacted to their origin in every log line and error (keepers/shared/redact.ts): RPC URLs
 * carry API keys.
 */
import { EventEmitter } from "node:events";
import { id as topicOf, type AbstractProvider } from "ethers";
import { IEndpointRegistry__factory, IHealthOracle__factory } from "../../typechain-types";
import type { IEndpointRegistry, IHealthOracle } from "../../typechain-types";
import { VigilError } from "../shared/errors";
import { watchLogs } from "../shared/events";
import { EndpointKind, Status, statusName } from "../shared/health";
import { runLoop, Wakeup, type LoopHealth } from "../shared/lifecycle";
import type { Logger } from "../shared/logger";
import { redactUrls } from "../shared/redact";

/** A service to follow, as the client's config names it. */
export interface FollowedService {
  /** Registry service id, 0x-prefixed bytes32 (any case). */
  id: string;
  /** Name the client uses for it (the gateway's `POST /<name>`); also in logs. */
  name: string;
  /** Chain id every JSON-RPC endpoint of the service must serve (`eth_chainId`). */
  expectedChainId: number;
}

/** One endpoint of a followed service as last read. */
export interface EndpointView {
  /** Endpoint id, lower-case bytes32. */
  id: string;
  /** The URI as registered (may hold an API key: log it only through `redactUrls`). */
  uri: string;
  kind: EndpointKind;
  /** Registry priority, lower preferred (RFC 2782); ties keep the order of addition (`index`). */
  priority: number;
  /** Position in `endpointsOf`, the order of addition. */
  index: number;
  /** On-chain status as read at the last refresh (staleness applied by the oracle at that block). */
  status: Status;
  /** Whether `eth_chainId` answered the service's expected chain id (undefined: not asked, or no answer). */
  chainOk?: boolean;
  /** The chain id the endpoint answered, when it answered. */
  chainId?: number;
}

/** Payload of the `switch` event: the follower now routes `service` to `to`. */
export interface SwitchEvent {
  service: string;
  serviceId: string;
  /** The endpoint routed to before (undefined at start). */
  from?: EndpointView;
  to: EndpointView;
}

/** Payload of the `refused` event: `endpoint` of `service` serves chain `chainId`, not `expected`. */
export interface RefusedEvent {
  service: string;
  serviceId: string;
  endpoint: EndpointView;
  chainId: number;
  expected: number;
  /** True when the registry's active endpoint is the refused one (its switch was not followed). */
  activeOnChain: boolean;
}

/** Settings of a {@link RegistryFollower}; intervals and timeouts in ms. */
export interface FollowerOptions {
  /** Provider of the control chain (the one holding the registry and the oracle). */
  provider: AbstractProvider;
  /** EndpointRegistry address. */
  registry: string;
  /** HealthOracle address. */
  oracle: string;
  services: readonly FollowedService[];
  /** Milliseconds between full re-reads of every service (the fallback for missed logs). */
  pollIntervalMs: number;
  /** Milliseconds between `eth_getLogs` polls for `EndpointMigrated` and `StatusChanged`. */
  eventIntervalMs: number;
  /** Deadline of one `eth_chainId` check of an endpoint, ms. */
  chainIdTimeoutMs: number;
  logger: Logger;
  /** How to ask an endpoint its chain id; default {@link fetchChainId}. Tests inject their own. */
  readChainId?: (uri: string, timeoutMs: number) => Promise<number>;
}

interface ServiceState {
  cfg: FollowedService;
  endpoints: EndpointView[];
  /** Id of the registry's active endpoint as last read. */
  onChainActive?: string;
  /** The endpoint the follower routes to (a verified one; undefined until one is). */
  active?: EndpointView;
  /** Per endpoint id, the chain id it answered (kept across refreshes; re-asked on a switch to it). */
  chainIds: Map<string, number>;
  /** Endpoint ids reported refused (one `refused` event per mismatch, again on a switch to one). */
  refused: Set<string>;
}

/**
 * Ask a JSON-RPC endpoint `eth_chainId` with a deadline.
 * @returns The chain id. @throws on a transport error, a timeout, a non-200 status or a JSON-RPC error;
 * the message has the URL cut to its origin.
 */
export async function fetchChainId(uri: string, timeoutMs: number): Promise<number> {
  try {
    const res = await fetch(uri, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}',
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
    const body = (await res.json()) as { result?: string; error?: { message?: string } };
    if (typeof body.result !== "string") throw new Error(body.error?.message ?? "no result");
    return Number(BigInt(body.result));
  } catch (e) {
    throw new Error(redactUrls(`eth_chainId of ${uri} failed: ${(e as Error).message}`));
  }
}

/**
 * Follows the registry for a set of services. Events: `switch` ({@link SwitchEvent}) when the endpoint it
 * routes a service to changes, `refused` ({@link RefusedEvent}) when an endpoint answers a foreign chain id.
 * Listeners must not throw. Use: `await follower.start(signal)`, then {@link active} and
 * {@link healthyBackups}; stops when `signal` aborts ({@link done}).
 */
export class RegistryFollower extends EventEmitter {
  private readonly _services = new Map<string, ServiceState>();
  private readonly _byId = new Map<string, ServiceState>();
  private readonly _registry: IEndpointRegistry;
  private readonly _oracle: IHealthOracle;
  private readonly _readChainId: (uri: string, timeoutMs: number) => Promise<number>;
  private readonly _wakeup = new Wakeup();
  private _loops: LoopHealth[] = [];
  private _done: Promise<void> = Promise.resolve();

  constructor(private readonly o: FollowerOptions) {
    super();
    this._registry = IEndpointRegistry__factory.connect(o.registry, o.provider);
    this._oracle = IHealthOracle__factory.connect(o.oracle, o.provider);
    this._readChainId = o.readChainId ?? fetchChainId;
    for (const cfg of o.services) {
      const s: ServiceState = { cfg, endpoints: [], chainIds: new Map(), refused: new Set() };
      this._services.set(cfg.name, s);
      this._byId.set(cfg.id.toLowerCase(), s);
    }
  }

  /**
   * Read every service once, check the chain ids, then keep following until `signal` aborts.
   * @throws VigilError VIGIL_CONFIG when a service is unknown to the registry or has no JSON-RPC endpoint;
   * VIGIL_CHAIN when endpoints of a service answered `eth_chainId` and none with its expected chain id
   * (the config's chain id is wrong, or the service is another chain's).
   */
  async start(signal: AbortSignal): Promise<void> {
    for (const s of this._services.values()) {
      await this._refresh(s);
      if (!s.endpoints.some((e) => e.kind === EndpointKind.JSON_RPC)) {
        throw new VigilError(
          "VIGIL_CONFIG",
          `service ${s.cfg.name} (${s.cfg.id}) has no JSON-RPC endpoint in the registry`,
          "check the service id",
        );
      }
      const answered = [...s.chainIds.values()];
      if (answered.length > 0 && !answered.includes(s.cfg.expectedChainId)) {
        throw new VigilError(
          "VIGIL_CHAIN",
          `service ${s.cfg.name}: its endpoints serve chain ${[...new Set(answered)].join(", ")}, config says ${s.cfg.expectedChainId}`,
          "fix the service's chainId in the config",
        );
      }
    }
    const poll = runLoop(
      {
        name: "follow-registry",
        intervalMs: this.o.pollIntervalMs,
        signal,
        logger: this.o.logger,
        // Immediate: runLoop's first wait is a plain sleep that no event can cut short.
        wakeup: this._wakeup,
      },
      () => this.refresh(),
    );
    const events = watchLogs({
      name: "follow-events",
      provider: this.o.provider,
      events: [
        { address: this.o.registry, topic: topicOf("EndpointMigrated(bytes32,bytes32,bytes32,bool)") },
        { address: this.o.oracle, topic: topicOf("StatusChanged(bytes32,uint8,uint8,uint64)") },
      ],
      intervalMs: this.o.eventIntervalMs,
      signal,
      logger: this.o.logger,
      onLogs: () => this._wakeup.wake(),
      onGap: () => this._wakeup.wake(),
    });
    this._loops = [poll.health];
    this._done = Promise.all([poll.done, events.done]).then(() => undefined);
  }

  /** Settles once both loops have stopped (after the start signal aborted). */
  get done(): Promise<void> {
    return this._done;
  }

  /** Liveness of the poll loop, for `/healthz`. */
  loops(): LoopHealth[] {
    return this._loops;
  }

  /** Re-read every service now (what the poll loop runs; tests call it to skip a wait). */
  async refresh(): Promise<void> {
    await Promise.all([...this._services.values()].map((s) => this._refresh(s)));
  }

  /**
   * The endpoint to route `service` to: the registry's active endpoint once it answered the expected chain
   * id; while a switch is refused or not yet checked, the one routed to before. Undefined when none has.
   * @param service The configured name or the service id.
   */
  active(service: string): EndpointView | undefined {
    return this._state(service)?.active;
  }

  /**
   * Retry targets for `service`: its JSON-RPC endpoints that are HEALTHY on-chain (as last read) and
   * answered the expected chain id, except the one {@link active} returns, best first (priority, then
   * order of addition, as the registry picks). Never a DOWN, DEGRADED or UNKNOWN endpoint.
   */
  healthyBackups(service: string): EndpointView[] {
    const s = this._state(service);
    if (!s) return [];
    return s.endpoints
      .filter(
        (e) =>
          e.id !== s.active?.id &&
          e.kind === EndpointKind.JSON_RPC &&
          e.status === Status.HEALTHY &&
          e.chainOk === true,
      )
      .sort((a, b) => a.priority - b.priority || a.index - b.index);
  }

  /** Every endpoint of `service` as last read, in the registry's order of addition. */
  endpoints(service: string): EndpointView[] {
    return [...(this._state(service)?.endpoints ?? [])];
  }

  /** The registry's active endpoint id for `service` as last read (it may be refused: see {@link active}). */
  onChainActive(service: string): string | undefined {
    return this._state(service)?.onChainActive;
  }

  /** The configured service by name or id. */
  service(service: string): FollowedService | undefined {
    return this._state(service)?.cfg;
  }

  private _state(service: string): ServiceState | undefined {
    return this._services.get(service) ?? this._byId.get(service.toLowerCase());
  }

  private async _refresh(s: ServiceState): Promise<void> {
    const log = this.o.logger.child({ service: s.cfg.name });
    let list: IEndpointRegistry.EndpointStructOutput[];
    let activeId: string;
    try {
      [list, activeId] = await Promise.all([
        this._registry.endpointsOf(s.cfg.id),
        this._registry.activeEndpointId(s.cfg.id),
      ]);
    } catch (e) {
      throw new Error(redactUrls(`reading service ${s.cfg.name} failed: ${(e as Error).message}`));
    }
    if (list.length === 0 || /^0x0*$/.test(activeId)) {
      throw new VigilError("VIGIL_CONFIG", `service ${s.cfg.name} (${s.cfg.id}) is unknown to the registry`);
    }
    const health = await Promise.all(list.map((e) => this._oracle.statusOf(e.id)));
    activeId = activeId.toLowerCase();
    const switching = activeId !== s.onChainActive;
    const endpoints: EndpointView[] = list.map((e, index) => ({
      id: e.id.toLowerCase(),
      uri: e.uri,
      kind: Number(e.kind) as EndpointKind,
      priority: Number(e.priority),
      index,
      status: Number(health[index].status) as Status,
    }));
    // Ask the chain id of the active endpoint (again on every switch to it) and of every HEALTHY one not
    // known to serve the expected chain; endpoints that answered a foreign one are asked at every poll.
    const ask = endpoints.filter(
      (e) =>
        e.kind === EndpointKind.JSON_RPC &&
        ((e.id === activeId && switching) ||
          ((e.id === activeId || e.status === Status.HEALTHY) &&
            s.chainIds.get(e.id) !== s.cfg.expectedChainId)),
    );
    await Promise.all(
      ask.map(async (e) => {
        try {
          s.chainIds.set(e.id, await this._readChainId(e.uri, this.o.chainIdTimeoutMs));
        } catch (err) {
          s.chainIds.delete(e.id);
          log.warn(
            { endpointId: e.id, err: (err as Error).message },
            "eth_chainId unanswered; not routed to until it answers",
          );
        }
      }),
    );
    for (const e of endpoints) {
      e.chainId = s.chainIds.get(e.id);
      e.chainOk = e.chainId === undefined ? undefined : e.chainId === s.cfg.expectedChainId;
      if (e.chainOk === true) s.refused.delete(e.id);
      const newly = !s.refused.has(e.id) || (e.id === activeId && switching);
      if (e.chainOk === false && ask.includes(e) && newly) {
        s.refused.add(e.id);
        const refused: RefusedEvent = {
          service: s.cfg.name,
          serviceId: s.cfg.id,
          endpoint: e,
          chainId: e.chainId!,
          expected: s.cfg.expectedChainId,
          activeOnChain: e.id === activeId,
        };
        log.error(
          { endpointId: e.id, uri: redactUrls(e.uri), chainId: e.chainId, expected: s.cfg.expectedChainId },
          e.id === activeId
            ? "switch refused: the registry's active endpoint serves another chain id"
            : "endpoint serves another chain id; never a retry target",
        );
        this.emit("refused", refused);
      }
    }
    s.endpoints = endpoints;
    s.onChainActive = activeId;
    const next = endpoints.find((e) => e.id === activeId);
    const previous = s.active;
    if (next?.chainOk === true) {
      s.active = next;
      if (previous?.id !== next.id) {
        log.info(
          { from: previous?.id, to: next.id, uri: redactUrls(next.uri), status: statusName(next.status) },
          previous ? "following the registry's switch" : "routing to the registry's active endpoint",
        );
        this.emit("switch", { service: s.cfg.name, serviceId: s.cfg.id, from: previous, to: next });
      }
    } else if (previous) {
      // Keep the endpoint routed to before, with its fresh status (a refused or unchecked switch).
      s.active = endpoints.find((e) => e.id === previous.id) ?? previous;
    }
  }
}
