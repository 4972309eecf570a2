/**
 * Attestation helpers: sign EIP-712 `Observation`s for a HealthOracle the way an attestor does, and shape
 * them for `submit` / `submitBatch`. Reused by the contract tests and the keepers' tests.
 *
 * Units: `healthBps` 0..10_000 basis points; `observedAt` and `round` are Unix seconds and
 * `observedAt / roundSeconds` slots, as bigint. Addresses are checksummed hex strings.
 *
 * The EIP-712 domain is always read from the contract (`eip712Domain()`, ERC-5267), never hard-coded
 * (OpenZeppelin's test helpers do the same), so a test signing for another chain or contract must say so
 * explicitly with `domainOverride`.
 */
import { ethers } from "ethers";
import type { BigNumberish, BytesLike, TypedDataDomain, TypedDataField } from "ethers";

/** EIP-712 types of the signed struct; must match `OBSERVATION_TYPEHASH` in HealthOracle.sol. */
export const OBSERVATION_TYPES: Record<string, TypedDataField[]> = {
  Observation: [
    { name: "configDigest", type: "bytes32" },
    { name: "endpointId", type: "bytes32" },
    { name: "round", type: "uint64" },
    { name: "healthBps", type: "uint16" },
    { name: "observedAt", type: "uint64" },
  ],
};

/** Anything that can sign typed data and name its address (ethers `Wallet`, Hardhat signers). */
export interface TypedDataSigner {
  getAddress(): Promise<string>;
  signTypedData(
    domain: TypedDataDomain,
    types: Record<string, TypedDataField[]>,
    value: Record<string, unknown>,
  ): Promise<string>;
}

/** The part of a HealthOracle contract the helpers read. */
export interface OracleLike {
  eip712Domain(): Promise<
    [string, string, string, bigint, string, string, bigint[]] & {
      name: string;
      version: string;
      chainId: bigint;
      verifyingContract: string;
    }
  >;
  configDigest(): Promise<string>;
  roundSeconds(): Promise<bigint>;
}

/** The `Observation` struct as signed. */
export interface Observation {
  configDigest: string;
  endpointId: string;
  round: bigint;
  healthBps: number;
  observedAt: bigint;
}

/** One element of `submit`'s `observations` argument, plus the signer's address for assertions. */
export interface SignedObservation {
  healthBps: number;
  observedAt: bigint;
  /** 65-byte `r ‖ s ‖ v` hex, or 64-byte EIP-2098 `r ‖ vs` hex when signed with `compact`. */
  signature: string;
  /** Address of the attestor that signed (ignored by the ABI encoder). */
  signer: string;
}

export interface SignOptions {
  /** Produce 64-byte EIP-2098 signatures instead of 65-byte ones. */
  compact?: boolean;
  /** Override fields of the domain read from the contract (to forge cross-chain / cross-contract replays). */
  domainOverride?: Partial<TypedDataDomain>;
}

/** The contract's EIP-712 domain, read through ERC-5267 `eip712Domain()`. */
export async function observationDomain(oracle: OracleLike): Promise<TypedDataDomain> {
  const d = await oracle.eip712Domain();
  return { name: d.name, version: d.version, chainId: d.chainId, verifyingContract: d.verifyingContract };
}

/** `round` of an observation time: `observedAt / roundSeconds` (integer division). */
export function roundOf(observedAt: BigNumberish, roundSeconds: BigNumberish): bigint {
  return BigInt(observedAt) / BigInt(roundSeconds);
}

/** Endpoint id as the registry assigns it in tests: `keccak256(utf8(name))`. */
export function endpointIdOf(name: string): string {
  return ethers.id(name);
}

/** Addresses sorted ascending as numbers (the order `setAttestors` and `submit` require). */
export function sortAddresses(addresses: string[]): string[] {
  return [...addresses].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0));
}

/** Signers sorted by address ascending. */
export async function sortSigners<T extends TypedDataSigner>(signers: T[]): Promise<T[]> {
  const withAddress = await Promise.all(signers.map(async (s) => ({ s, a: BigInt(await s.getAddress()) })));
  withAddress.sort((x, y) => (x.a < y.a ? -1 : x.a > y.a ? 1 : 0));
  return withAddress.map((x) => x.s);
}

/** Deterministic attestor keys: `count` wallets from `keccak256("vigil-attestor-<seed>-<i>")`, unsorted. */
export function attestorWallets(count: number, seed = "default"): ethers.Wallet[] {
  return Array.from({ length: count }, (_, i) => new ethers.Wallet(ethers.id(`vigil-attestor-${seed}-${i}`)));
}

/** Convert a 65-byte signature to its 64-byte EIP-2098 form. */
export function toCompact(signature: BytesLike): string {
  return ethers.Signature.from(ethers.hexlify(signature)).compactSerialized;
}

/** Sign one observation under the oracle's domain (optionally overridden). */
export async function signObservation(
  oracle: OracleLike,
  signer: TypedDataSigner,
  observation: Observation,
  options: SignOptions = {},
): Promise<SignedObservation> {
  const domain = { ...(await observationDomain(oracle)), ...(options.domainOverride ?? {}) };
  const value = {
    configDigest: observation.configDigest,
    endpointId: observation.endpointId,
    round: observation.round,
    healthBps: observation.healthBps,
    observedAt: observation.observedAt,
  };
  let signature = await signer.signTypedData(domain, OBSERVATION_TYPES, value);
  if (options.compact) signature = toCompact(signature);
  return {
    healthBps: observation.healthBps,
    observedAt: observation.observedAt,
    signature,
    signer: ethers.getAddress(await signer.getAddress()),
  };
}

export interface AttestParams {
  endpointId: string;
  /** Probe time in Unix seconds: one for all signers, or one per signer (in the order given). */
  observedAt: BigNumberish | BigNumberish[];
  /** Health in bps: one for all signers, or one per signer (in the order given). */
  healthBps: number | number[];
  /** Round; defaults to `observedAt / roundSeconds` of the first signer's time. */
  round?: BigNumberish;
  /** Config digest; defaults to the oracle's current `configDigest()`. */
  configDigest?: string;
}

/** A ready-to-submit round: `submit(configDigest, endpointId, round, observations)`. */
export interface AttestedRound {
  configDigest: string;
  endpointId: string;
  round: bigint;
  observations: SignedObservation[];
}

/**
 * Have every signer sign an observation of the same `(endpointId, round)` and return the observations
 * sorted by signer address ascending, as `submit` requires. Per-signer values (`healthBps`, `observedAt`
 * arrays) follow the order of `signers` as given, before sorting.
 */
export async function attest(
  oracle: OracleLike,
  signers: TypedDataSigner[],
  params: AttestParams,
  options: SignOptions = {},
): Promise<AttestedRound> {
  const at = (i: number) =>
    BigInt(Array.isArray(params.observedAt) ? params.observedAt[i] : params.observedAt);
  const bps = (i: number) => (Array.isArray(params.healthBps) ? params.healthBps[i] : params.healthBps);
  const configDigest = params.configDigest ?? (await oracle.configDigest());
  const round =
    params.round !== undefined ? BigInt(params.round) : roundOf(at(0), await oracle.roundSeconds());
  const observations = await Promise.all(
    signers.map((signer, i) =>
      signObservation(
        oracle,
        signer,
        { configDigest, endpointId: params.endpointId, round, healthBps: bps(i), observedAt: at(i) },
        options,
      ),
    ),
  );
  observations.sort((a, b) => (BigInt(a.signer) < BigInt(b.signer) ? -1 : 1));
  return { configDigest, endpointId: params.endpointId, round, observations };
}

/** Arguments of `submit` for an attested round, in order. */
export function submitArgs(r: AttestedRound): [string, string, bigint, SignedObservation[]] {
  return [r.configDigest, r.endpointId, r.round, r.observations];
}

/** One `Report` of `submitBatch` for an attested round. */
export function toReport(r: AttestedRound): {
  endpointId: string;
  round: bigint;
  observations: SignedObservation[];
} {
  return { endpointId: r.endpointId, round: r.round, observations: r.observations };
}

/** The digest `setAttestors` stores: `keccak256(abi.encode(chainId, oracle, version, attestors, quorum))`. */
export function expectedConfigDigest(
  chainId: BigNumberish,
  oracle: string,
  version: BigNumberish,
  attestors: string[],
  quorum: number,
): string {
  return ethers.keccak256(
    ethers.AbiCoder.defaultAbiCoder().encode(
      ["uint256", "address", "uint32", "address[]", "uint8"],
      [chainId, oracle, version, attestors, quorum],
    ),
  );
}
