/**
 * Read-only chain views of the responder: the oracle's immutables and attestor set, the watched scope (services,
 * their endpoints, their markets), endpoint statuses and policies, market views and migration statuses, and
 * whether a market would accept a pending delivery. Nothing here writes or decides; every read goes through the
 * provider the contracts are connected to, so the engine can read the same views through each RPC of a pool and
 * compare them.
 */
import { Contract, isError, type AbstractProvider, type ContractRunner, type TypedDataDomain } from "ethers";
import {
  IEndpointRegistry__factory,
  IGuardedMarket__factory,
  IHealthOracle__factory,
  IMarketGuard__factory,
  type IEndpointRegistry,
  type IHealthOracle,
  type IMarketGuard,
} from "../../typechain-types";
import { Status, toPolicy } from "../shared/health";
import type { ResponderConfig } from "./config";
import {
  watchedMarkets,
  Delivery,
  type EndpointView,
  type MarketView,
  type Policy,
  type ServiceView,
} from "./decide";
import { vigilReverts } from "./reverts";

const ERC5267_ABI = [
  "function eip712Domain() view returns (bytes1 fields, string name, string version, uint256 chainId, address verifyingContract, bytes32 salt, uint256[] extensions)",
];

const GUARDED_MARKET = IGuardedMarket__factory.createInterface();

/**
 * The oracle's EIP-712 domain, read from the contract itself (ERC-5267), never hard-coded: a report is checked
 * under the chain and contract that will verify it.
 */
export async function readDomain(oracle: { eip712Domain(): Promise<unknown> }): Promise<TypedDataDomain> {
  const d = (await oracle.eip712Domain()) as unknown as [string, string, string, bigint, string];
  return { name: d[1], version: d[2], chainId: d[3], verifyingContract: d[4] };
}

/** Run `fn` over `items`, at most `limit` at a time. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (t: T) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  });
  await Promise.all(workers);
  return out;
}

/** The Vigil contracts as one provider sees them. */
export interface Contracts {
  oracle: IHealthOracle;
  registry: IEndpointRegistry;
  /** Absent when no guard is configured (the responder then never trips or resumes markets). */
  guard?: IMarketGuard;
}

/** Connect the configured contracts to `runner` (a provider: one RPC of a pool, or the pool's facade). */
export function connectContracts(addresses: ResponderConfig["contracts"], runner: ContractRunner): Contracts {
  return {
    oracle: IHealthOracle__factory.connect(addresses.oracle, runner),
    registry: IEndpointRegistry__factory.connect(addresses.registry, runner),
    guard: addresses.guard ? IMarketGuard__factory.connect(addresses.guard, runner) : undefined,
  };
}

/** The contracts connected to each provider, connected once per provider. */
export function contractsCache(addresses: ResponderConfig["contracts"]): (p: AbstractProvider) => Contracts {
  const byProvider = new Map<AbstractProvider, Contracts>();
  return (p) => {
    let c = byProvider.get(p);
    if (!c) byProvider.set(p, (c = connectContracts(addresses, p)));
    return c;
  };
}

/** Chain reads that do not change (immutables, the domain) and the attestor set, cached until invalidated. */
export interface StaticContext {
  domain: TypedDataDomain;
  chainId: number;
  roundSeconds: number;
  maxSkew: number;
  configDigest: string;
  attestors: string[];
  /** Members jailed for equivocation under the current set. */
  jailed: string[];
  quorum: number;
}

/** Read the oracle's domain, immutables, config digest, attestor set and jailed members. */
export async function readContext(oracle: IHealthOracle, provider: AbstractProvider): Promise<StaticContext> {
  const erc5267 = new Contract(await oracle.getAddress(), ERC5267_ABI, provider);
  const [domain, roundSeconds, maxSkew, configDigest, set] = await Promise.all([
    readDomain(erc5267 as never),
    oracle.roundSeconds(),
    oracle.maxSkew(),
    oracle.configDigest(),
    oracle.attestorSet(),
  ]);
  const jailedFlags = await mapLimit([...set.attestors], 16, (a) => oracle.isJailed(a));
  return {
    domain,
    chainId: Number(domain.chainId),
    roundSeconds: Number(roundSeconds),
    maxSkew: Number(maxSkew),
    configDigest,
    attestors: [...set.attestors],
    jailed: set.attestors.filter((_, i) => jailedFlags[i]),
    quorum: Number(set.quorum),
  };
}

/** What a responder watches: its configured services, their endpoints (lower-case), the markets it acts on. */
export interface Scope {
  serviceIds: readonly string[];
  endpointIds: string[];
  marketIds: number[];
}

/**
 * The watched scope: the endpoints of `config.services`, and the guard markets to trip and resume: `config.markets`
 * when configured, else those whose dependencies (found through the guard's per-dependency index, never by walking
 * every market) are all watched.
 */
export async function readScope(
  c: Contracts,
  config: Pick<ResponderConfig, "services" | "markets">,
): Promise<Scope> {
  const serviceIds = config.services;
  const lists = await mapLimit(serviceIds, 16, (s) => c.registry.endpointsOf(s));
  const endpointIds = [...new Set(lists.flat().map((e) => e.id.toLowerCase()))];
  const guard = c.guard;
  let marketIds: number[] = [];
  if (guard && config.markets) marketIds = config.markets;
  else if (guard) {
    const services = new Set(serviceIds);
    const endpoints = new Set(endpointIds);
    const byDep = await mapLimit([...services, ...endpoints], 16, (dep) => guard.marketsOf(dep));
    const candidates = [...new Set(byDep.flat().map(Number))];
    const deps = await mapLimit(candidates, 16, async (marketId) => {
      const m = await guard.marketConfig(marketId);
      return { marketId, services: [...m.services], endpoints: [...m.endpoints] };
    });
    marketIds = watchedMarkets(deps, services, endpoints);
  }
  return { serviceIds, endpointIds, marketIds };
}

/** `tripStatus`, `resumeStatus` and `deliveryStatus` of each market (none without a guard). */
export async function readMarketViews(
  guard: IMarketGuard | undefined,
  marketIds: readonly number[],
): Promise<MarketView[]> {
  if (!guard) return [];
  return mapLimit(marketIds, 16, async (marketId) => {
    const [t, r, d] = await Promise.all([
      guard.tripStatus(marketId),
      guard.resumeStatus(marketId),
      guard.deliveryStatus(marketId),
    ]);
    return {
      marketId,
      trip: Number(t.check),
      resume: Number(r.check),
      resumeNotBefore: Number(r.notBefore),
      delivery: Number(d) as Delivery,
    };
  });
}

/** `migrationStatus` of each service. */
export async function readServiceViews(
  registry: IEndpointRegistry,
  serviceIds: readonly string[],
): Promise<ServiceView[]> {
  return mapLimit(serviceIds, 16, async (serviceId) => {
    const m = await registry.migrationStatus(serviceId);
    return { serviceId, check: Number(m.check), notBefore: Number(m.notBefore) };
  });
}

/** `policyOf` per endpoint (lower-case id), cached until {@link PolicyCache.clear} (a policy event). */
export class PolicyCache {
  private readonly _policies = new Map<string, Policy>();

  constructor(private readonly oracle: IHealthOracle) {}

  /** The policy of each id (lower-case), from the cache or the chain. */
  of(ids: readonly string[]): Promise<Policy[]> {
    return mapLimit(ids, 32, async (id) => {
      const hit = this._policies.get(id);
      if (hit) return hit;
      const policy: Policy = toPolicy(await this.oracle.policyOf(id));
      this._policies.set(id, policy);
      return policy;
    });
  }

  clear(): void {
    this._policies.clear();
  }
}

/** The stored state of each endpoint (`statusOf`), with the policies given in the same order. */
export async function readEndpointViews(
  oracle: IHealthOracle,
  ids: readonly string[],
  policies: readonly Policy[],
): Promise<Map<string, EndpointView>> {
  const health = await mapLimit(ids, 32, (id) => oracle.statusOf(id));
  const views = new Map<string, EndpointView>();
  ids.forEach((id, i) => {
    const h = health[i];
    views.set(id, {
      endpointId: id,
      status: Number(h.status) as Status,
      round: Number(h.round),
      updatedAt: Number(h.updatedAt),
      policy: policies[i],
    });
  });
  return views;
}

/**
 * Whether the market would refuse the delivery now: its hook called as the guard calls it (an `eth_call` from the
 * guard, with the guard's `marketCallGas` for the hook). Only a cheap first filter: a hook can tell an `eth_call`
 * from a transaction (`tx.origin`, gas price, block values), so the outcome of a confirmed `retryDelivery` is what
 * counts (keepers/responder/delivery.ts). @returns the refusal's reason, or undefined when the market accepts.
 * @throws on a transport error (a revert is an answer).
 */
export async function marketRefuses(
  guard: IMarketGuard,
  provider: AbstractProvider,
  marketId: number,
  delivery: Delivery,
  marketCallGas: bigint,
): Promise<string | undefined> {
  const cfg = await guard.marketConfig(marketId);
  const data =
    delivery === Delivery.PENDING_PAUSE
      ? GUARDED_MARKET.encodeFunctionData("guardPause")
      : GUARDED_MARKET.encodeFunctionData("guardUnpause");
  try {
    // eth_call's gas limit includes the intrinsic cost (21000 + 16 per non-zero calldata byte); add it so the
    // hook runs with exactly the `marketCallGas` the guard gives it.
    await provider.call({
      from: await guard.getAddress(),
      to: cfg.market,
      data,
      gasLimit: marketCallGas + 21_000n + 16n * 4n,
    });
    return undefined;
  } catch (e) {
    if (!isError(e, "CALL_EXCEPTION")) throw e;
    const r = vigilReverts.decode(e);
    return r.name ?? (r.data && r.data !== "0x" ? r.data.slice(0, 74) : r.message);
  }
}
