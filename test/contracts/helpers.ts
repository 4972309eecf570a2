import { AbiCoder, keccak256 } from "ethers";
import hre from "hardhat";

/** IHealthOracle.Status */
export const Status = { UNKNOWN: 0, HEALTHY: 1, DEGRADED: 2, DOWN: 3 } as const;

/** IEndpointRegistry.EndpointKind */
export const Kind = { JSON_RPC: 0, WEBSOCKET: 1, ORACLE_FEED: 2, SEQUENCER_FEED: 3, HTTP: 4 } as const;

/** IEndpointRegistry.MigrationCheck */
export const Check = {
  DUE_FAILOVER: 0,
  DUE_FAILBACK: 1,
  ACTIVE_USABLE: 2,
  NO_HEALTHY_CANDIDATE: 3,
  COOLDOWN: 4,
  UNKNOWN_SERVICE: 5,
} as const;

/** IMarketGuard.GuardCheck */
export const Guard = {
  DUE: 0,
  ALREADY_PAUSED: 1,
  NOT_PAUSED: 2,
  DEPENDENCIES_USABLE: 3,
  DEPENDENCY_UNHEALTHY: 4,
  GRACE_PERIOD: 5,
  UNKNOWN_MARKET: 6,
} as const;

/** IMarketGuard.Delivery */
export const Delivery = { NONE: 0, PENDING_PAUSE: 1, PENDING_UNPAUSE: 2 } as const;

const coder = AbiCoder.defaultAbiCoder();

/** `keccak256(abi.encode(owner, name))`, as EndpointRegistry.registerService. */
export function serviceIdOf(owner: string, name: string): string {
  return keccak256(coder.encode(["address", "string"], [owner, name]));
}

/** `keccak256(abi.encode(serviceId, kind, uri))`, as EndpointRegistry.addEndpoint. */
export function endpointIdOf(serviceId: string, kind: number, uri: string): string {
  return keccak256(coder.encode(["bytes32", "uint8", "string"], [serviceId, kind, uri]));
}

/** solidity-coverage instruments the bytecode, which inflates gas: gas budgets are asserted only without it. */
export const UNDER_COVERAGE =
  (hre as unknown as { __SOLIDITY_COVERAGE_RUNNING?: boolean }).__SOLIDITY_COVERAGE_RUNNING === true;
