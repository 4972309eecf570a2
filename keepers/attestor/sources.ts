/**
 * What the attestor reads from the chain: the endpoints to watch (EndpointRegistry) and the signing
 * context (HealthOracle: EIP-712 domain, config digest, round length, attestor set, and each endpoint's
 * policy, whose thresholds classify the attestor's own rounds). Both behind small interfaces so tests and
 * the benchmark can run an attestor without contracts.
 */
import { Contract, type Provider, type TypedDataDomain } from "ethers";
import { IEndpointRegistry__factory, IHealthOracle__factory } from "../../typechain-types";
import { EndpointKind, toPolicy, type Policy } from "../shared/health";
import { forEachConcurrent } from "./pool";

/** Anything with ERC-5267 `eip712Domain()`, e.g. the HealthOracle contract. */
export interface Eip712DomainSource {
  eip712Domain(): Promise<[string, string, string, bigint, string, string, bigint[]] | readonly unknown[]>;
}

/**
 * Read the EIP-712 domain from the contract itself (ERC-5267), never hard-coded, so a signature is
 * always made for the chain and contract that will verify it.
 */
export async function readDomain(source: Eip712DomainSource): Promise<TypedDataDomain> {
  const d = (await source.eip712Domain()) as unknown as [string, string, string, bigint, string];
  return { name: d[1], version: d[2], chainId: d[3], verifyingContract: d[4] };
}

/** `IHealthOracle.Policy` (keepers/shared/health.ts). */
export type EndpointPolicy = Policy;

/** The oracle's defaults in the README and the drill: DOWN below 5000 bps, HEALTHY from 8000, 2 rounds each. */
export const DEFAULT_POLICY: EndpointPolicy = {
  downBelowBps: 5_000,
  upAtBps: 8_000,
  fallRounds: 2,
  riseRounds: 2,
  heartbeat: 3_600,
  maxAge: 600,
};

/** Policy reads in flight at once when refreshing the endpoint list. */
const POLICY_READ_CONCURRENCY = 32;

/** ERC-5267 `eip712Domain()`. */
export const ERC5267_ABI = [
  "function eip712Domain() view returns (bytes1 fields, string name, string version, uint256 chainId, address verifyingContract, bytes32 salt, uint256[] extensions)",
];

/** One endpoint the attestor watches. */
export interface WatchedEndpoint {
  /** bytes32 endpoint id, as the registry assigns it (the id attestors sign for). */
  id: string;
  /** bytes32 id of the service it belongs to. */
  serviceId: string;
  kind: EndpointKind;
  /** URL (JSON-RPC, HTTP, WebSocket) or CAIP-10 account id (feeds). */
  uri: string;
  priority: number;
}

/** Lists the endpoints to watch. */
export interface EndpointSource {
  listEndpoints(): Promise<WatchedEndpoint[]>;
}

/** What signing needs from the oracle, re-read periodically so a rotation takes effect. */
export interface OracleState {
  domain: TypedDataDomain;
  configDigest: string;
  /** Seconds per round (immutable on-chain). */
  roundSeconds: number;
  /** Attestor set version and members (to warn when this attestor is not a member). */
  version: number;
  attestors: string[];
  /**
   * Seconds a report may lie in the future of the control chain's block time (`maxSkew`, immutable);
   * undefined when the reader does not know it. Half of it bounds the attestor's clock (clockGuard.ts).
   */
  maxSkew?: number;
}

export interface OracleReader {
  read(): Promise<OracleState>;
  /** `policyOf` of each id, in the order given. Rejects when any cannot be read. */
  policiesOf(endpointIds: readonly string[]): Promise<EndpointPolicy[]>;
}

/**
 * Endpoints of the listed `services` from the EndpointRegistry. Never "every service": the registry is
 * permissionless, so the operator names the services this attestor vouches for.
 */
export function registryEndpointSource(
  registryAddress: string,
  provider: Provider,
  services: readonly string[],
): EndpointSource {
  const registry = IEndpointRegistry__factory.connect(registryAddress, provider);
  return {
    async listEndpoints() {
      const lists = await Promise.all(
        services.map(async (serviceId) => {
          const eps = await registry.endpointsOf(serviceId);
          return eps.map((e): WatchedEndpoint => ({
            id: e.id.toLowerCase(),
            serviceId: serviceId.toLowerCase(),
            kind: Number(e.kind) as EndpointKind,
            uri: e.uri,
            priority: Number(e.priority),
          }));
        }),
      );
      return lists.flat();
    },
  };
}

/** Signing context from the HealthOracle. */
export function contractOracleReader(oracleAddress: string, provider: Provider): OracleReader {
  const oracle = IHealthOracle__factory.connect(oracleAddress, provider);
  // ERC-5267 is implemented by the concrete HealthOracle (OpenZeppelin EIP712), not in IHealthOracle.
  const erc5267 = new Contract(oracleAddress, ERC5267_ABI, provider) as unknown as Eip712DomainSource;
  return {
    async read() {
      const [domain, configDigest, roundSeconds, set, maxSkew] = await Promise.all([
        readDomain(erc5267),
        oracle.configDigest(),
        oracle.roundSeconds(),
        oracle.attestorSet(),
        oracle.maxSkew(),
      ]);
      return {
        domain,
        configDigest: configDigest.toLowerCase(),
        roundSeconds: Number(roundSeconds),
        version: Number(set[0]),
        attestors: [...set[2]],
        maxSkew: Number(maxSkew),
      };
    },
    async policiesOf(endpointIds) {
      const out: EndpointPolicy[] = new Array(endpointIds.length);
      let failure: unknown;
      await forEachConcurrent(
        endpointIds.map((id, i) => ({ id, i })),
        POLICY_READ_CONCURRENCY,
        async ({ id, i }) => {
          if (failure !== undefined) return;
          try {
            out[i] = toPolicy(await oracle.policyOf(id));
          } catch (e) {
            failure ??= e;
          }
        },
      );
      if (failure !== undefined) throw failure;
      return out;
    },
  };
}

/**
 * A fixed oracle state (benchmarks, tests, dry runs without a chain): the oracle's EIP-712 domain
 * for chain 31337 and `verifyingContract`, digest `configDigest`, round length `roundSeconds`
 * (seconds), `attestors` as the version-1 set, `maxSkew` (seconds, default 15, the oracle's default) and
 * `policy` (default {@link DEFAULT_POLICY}) for every endpoint.
 */
export function staticOracleReader(opts: {
  attestors: string[];
  verifyingContract?: string;
  configDigest?: string;
  roundSeconds?: number;
  chainId?: bigint;
  maxSkew?: number;
  policy?: EndpointPolicy;
}): OracleReader {
  const policy = opts.policy ?? DEFAULT_POLICY;
  const state: OracleState = {
    domain: {
      name: "Vigil HealthOracle",
      version: "2",
      chainId: opts.chainId ?? 31337n,
      verifyingContract: opts.verifyingContract ?? "0x" + "99".repeat(20),
    },
    configDigest: opts.configDigest ?? "0x" + "ab".repeat(32),
    roundSeconds: opts.roundSeconds ?? 12,
    version: 1,
    attestors: [...opts.attestors],
    maxSkew: opts.maxSkew ?? 15,
  };
  return {
    read: async () => ({ ...state, attestors: [...state.attestors] }),
    policiesOf: async (ids) => ids.map(() => ({ ...policy })),
  };
}

/** A fixed endpoint list (benchmarks, tests). */
export function staticEndpointSource(endpoints: readonly WatchedEndpoint[]): EndpointSource {
  return { listEndpoints: async () => [...endpoints] };
}
