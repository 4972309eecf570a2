/**
 * What the attestor reads from the chain: the endpoints to watch (EndpointRegistry) and the signing
 * context (HealthOracle: EIP-712 domain, config digest, round length, attestor set). Both behind small
 * interfaces so tests and the benchmark can run an attestor without contracts.
 */
import { Contract, type Provider, type TypedDataDomain } from "ethers";
import { IEndpointRegistry__factory, IHealthOracle__factory } from "../../typechain-types";
import { EndpointKind } from "../shared/health";
import { readDomain, type Eip712DomainSource } from "../shared/observation";

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
}

export interface OracleReader {
  read(): Promise<OracleState>;
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
      const [domain, configDigest, roundSeconds, set] = await Promise.all([
        readDomain(erc5267),
        oracle.configDigest(),
        oracle.roundSeconds(),
        oracle.attestorSet(),
      ]);
      return {
        domain,
        configDigest: configDigest.toLowerCase(),
        roundSeconds: Number(roundSeconds),
        version: Number(set[0]),
        attestors: [...set[2]],
      };
    },
  };
}

/**
 * A fixed oracle state (benchmarks, tests, dry runs without a chain): the oracle's EIP-712 domain
 * for chain 31337 and `verifyingContract`, digest `configDigest`, round length `roundSeconds`
 * (seconds) and `attestors` as the version-1 set.
 */
export function staticOracleReader(opts: {
  attestors: string[];
  verifyingContract?: string;
  configDigest?: string;
  roundSeconds?: number;
  chainId?: bigint;
}): OracleReader {
  const state: OracleState = {
    domain: {
      name: "Vigil HealthOracle",
      version: "1",
      chainId: opts.chainId ?? 31337n,
      verifyingContract: opts.verifyingContract ?? "0x" + "99".repeat(20),
    },
    configDigest: opts.configDigest ?? "0x" + "ab".repeat(32),
    roundSeconds: opts.roundSeconds ?? 12,
    version: 1,
    attestors: [...opts.attestors],
  };
  return { read: async () => ({ ...state, attestors: [...state.attestors] }) };
}

/** A fixed endpoint list (benchmarks, tests). */
export function staticEndpointSource(endpoints: readonly WatchedEndpoint[]): EndpointSource {
  return { listEndpoints: async () => [...endpoints] };
}
