/**
 * The on-chain health model, mirrored for keepers: statuses, units and the round rule.
 * Kept in step with `contracts/interfaces/IHealthOracle.sol`.
 */

/** `IHealthOracle.Status`; numeric values match the Solidity enum. */
export enum Status {
  UNKNOWN = 0,
  HEALTHY = 1,
  DEGRADED = 2,
  DOWN = 3,
}

/** Health is expressed in basis points: 10_000 = fully healthy. */
export const MAX_BPS = 10_000;

/** Human name of a status value (`"HEALTHY"`), `"INVALID(n)"` for an unknown value. */
export function statusName(s: number | bigint): string {
  const n = Number(s);
  return Status[n] ?? `INVALID(${n})`;
}

/**
 * The round an observation made at `observedAtSec` belongs to: `floor(observedAt / roundSeconds)`, the
 * same rule `HealthOracle` enforces, so attestors agree on a round without coordinating.
 */
export function roundOf(observedAtSec: number, roundSeconds: number): number {
  return Math.floor(observedAtSec / roundSeconds);
}

/** `IEndpointRegistry.EndpointKind`; numeric values match the Solidity enum. */
export enum EndpointKind {
  JSON_RPC = 0,
  WEBSOCKET = 1,
  ORACLE_FEED = 2,
  SEQUENCER_FEED = 3,
  HTTP = 4,
}

/** Parse a kind name (`json-rpc`, `JSON_RPC`, `oracle-feed`, …) into {@link EndpointKind}; undefined if unknown. */
export function parseEndpointKind(name: string): EndpointKind | undefined {
  const key = name.trim().toUpperCase().replace(/-/g, "_") as keyof typeof EndpointKind;
  const v = EndpointKind[key];
  return typeof v === "number" ? v : undefined;
}

/** `IHealthOracle.Policy`, as plain numbers: bps thresholds, round counts, seconds. */
export interface Policy {
  /** An attestor's round below this is BAD, bps. */
  downBelowBps: number;
  /** An attestor's round at or above this is GOOD, bps. */
  upAtBps: number;
  /** DOWN needs a quorum of signers with at least this many consecutive BAD rounds each. */
  fallRounds: number;
  /** HEALTHY needs a quorum of signers with at least this many consecutive GOOD rounds each. */
  riseRounds: number;
  /** Seconds after the quorum's observation time (`updatedAt`) at which the status reads UNKNOWN. */
  heartbeat: number;
  /** Oldest accepted quorum observation time, seconds before the block's time. */
  maxAge: number;
}

/** A `policyOf` result (ethers `Result` or a plain object of bigints/numbers) as a {@link Policy}. */
export function toPolicy(p: {
  downBelowBps: bigint | number;
  upAtBps: bigint | number;
  fallRounds: bigint | number;
  riseRounds: bigint | number;
  heartbeat: bigint | number;
  maxAge: bigint | number;
}): Policy {
  return {
    downBelowBps: Number(p.downBelowBps),
    upAtBps: Number(p.upAtBps),
    fallRounds: Number(p.fallRounds),
    riseRounds: Number(p.riseRounds),
    heartbeat: Number(p.heartbeat),
    maxAge: Number(p.maxAge),
  };
}
