import { Signature, TypedDataEncoder, verifyTypedData, type TypedDataDomain, type Signer } from "ethers";
import { z } from "zod";
import { MAX_BPS } from "./health";

/**
 * EIP-712 type of one attestation, exactly as `HealthOracle.OBSERVATION_TYPEHASH` declares it:
 * `Observation(bytes32 configDigest,bytes32 endpointId,uint64 round,uint16 healthBps,uint64 observedAt)`.
 */
export const OBSERVATION_TYPES = {
  Observation: [
    { name: "configDigest", type: "bytes32" },
    { name: "endpointId", type: "bytes32" },
    { name: "round", type: "uint64" },
    { name: "healthBps", type: "uint16" },
    { name: "observedAt", type: "uint64" },
  ],
} as const;

/** The signed payload. `round` and `observedAt` are plain numbers (Unix seconds fit in 2^53). */
export interface Observation {
  configDigest: string;
  endpointId: string;
  round: number;
  /** 0..10_000 bps. */
  healthBps: number;
  /** Unix seconds. */
  observedAt: number;
}

/** An observation with its attestor's signature, as served on `GET /v1/observations`. */
export interface SignedObservation extends Observation {
  /** The attestor's address (checksummed); a claim, verified by recovering the signature. */
  attestor: string;
  /** 65-byte hex signature (r, s, v). */
  signature: string;
}

/** Anything with ERC-5267 `eip712Domain()`, e.g. the typed HealthOracle contract. */
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

/** Sign an observation with EIP-712 under `domain`. @returns the 65-byte signature, 0x hex. */
export async function signObservation(
  signer: Signer,
  domain: TypedDataDomain,
  obs: Observation,
): Promise<string> {
  return signer.signTypedData(domain, OBSERVATION_TYPES as never, toTyped(obs));
}

/** The EIP-712 digest of an observation (what the contract's `observationDigest` returns). */
export function observationDigest(domain: TypedDataDomain, obs: Observation): string {
  return TypedDataEncoder.hash(domain, OBSERVATION_TYPES as never, toTyped(obs));
}

/** Recover the address that signed `obs` under `domain`. Throws on a malformed signature. */
export function recoverObservationSigner(
  domain: TypedDataDomain,
  obs: Observation,
  signature: string,
): string {
  return verifyTypedData(domain, OBSERVATION_TYPES as never, toTyped(obs), signature);
}

/** Convert a 65-byte signature into the 64-byte EIP-2098 compact form (saves calldata). */
export function toCompact(signature: string): string {
  return Signature.from(signature).compactSerialized;
}

function toTyped(obs: Observation) {
  return {
    configDigest: obs.configDigest,
    endpointId: obs.endpointId,
    round: BigInt(obs.round),
    healthBps: obs.healthBps,
    observedAt: BigInt(obs.observedAt),
  };
}

const hex32 = /^0x[0-9a-fA-F]{64}$/;

/** Schema of one served observation: everything an attestor returns is hostile until checked. */
export const zSignedObservation = z.object({
  attestor: z.string().regex(/^0x[0-9a-fA-F]{40}$/),
  configDigest: z.string().regex(hex32),
  endpointId: z.string().regex(hex32),
  round: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  healthBps: z.number().int().min(0).max(MAX_BPS),
  observedAt: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  signature: z.string().regex(/^0x[0-9a-fA-F]{130}$/),
});
