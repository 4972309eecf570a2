/**
 * Shared fixtures of the HealthOracle v2 tests (test/contracts/oracle/*.test.ts): a deployed oracle with four
 * attestors at quorum 3 (n = 4 tolerates f = 1), honest attestors that count their own streaks, and a clock
 * that places every round's observations and its block at known times.
 */
import { ethers } from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import type { ContractTransactionResponse } from "ethers";
import type { HealthOracle } from "../../../typechain-types";
import {
  AttestorPanel,
  attestorWallets,
  endpointIdOf,
  signRound,
  sortSigners,
  submitArgs,
  type RoundValues,
  type SignedReport,
  type SignedRound,
} from "../../helpers/attest";

/** Status codes of IHealthOracle.Status, as ethers returns them. */
export const UNKNOWN = 0n;
export const HEALTHY = 1n;
export const DEGRADED = 2n;
export const DOWN = 3n;

export const ROUND_SECONDS = 10n;
export const MAX_SKEW = 5n;
export const LISTENER_GAS = 100_000n;
/** `_LISTENER_GAS_MARGIN` in HealthOracle.sol. */
export const LISTENER_GAS_MARGIN = 5_000n;
export const POLICY = {
  downBelowBps: 5000,
  upAtBps: 8000,
  fallRounds: 3,
  riseRounds: 2,
  heartbeat: 60,
  maxAge: 90,
};
export type PolicyStruct = typeof POLICY;

export const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
/** Endpoint ids in ascending order (EP1 < EP2 < EP3), as `submit` requires. */
export const [EP1, EP2, EP3] = ["vigil/a", "vigil/b", "vigil/c", "vigil/d", "vigil/e"]
  .map(endpointIdOf)
  .sort();

export async function deployOracle(
  overrides: Partial<{
    listenerGas: bigint;
    policy: PolicyStruct;
    roundSeconds: bigint;
    maxSkew: bigint;
  }> = {},
): Promise<HealthOracle> {
  const [owner] = await ethers.getSigners();
  return (await ethers.deployContract("HealthOracle", [
    owner.address,
    overrides.roundSeconds ?? ROUND_SECONDS,
    overrides.maxSkew ?? MAX_SKEW,
    overrides.listenerGas ?? LISTENER_GAS,
    overrides.policy ?? POLICY,
  ])) as unknown as HealthOracle;
}

/** 4 attestors sorted by address, quorum 3, default policy; `panel` counts their streaks honestly. */
export async function oracleFixture() {
  const [owner, other] = await ethers.getSigners();
  const oracle = await deployOracle();
  const attestors = await sortSigners(attestorWallets(4, "oracle-v2"));
  const outsider = attestorWallets(1, "outsider")[0];
  await oracle.setAttestors(
    attestors.map((a) => a.address),
    3,
  );
  const panel = new AttestorPanel(attestors, () => POLICY);
  return { oracle, owner, other, attestors, outsider, panel };
}

export type Fx = Awaited<ReturnType<typeof oracleFixture>>;

/** Times inside the next round: attestors observe at `start + observeOffset`, the block lands at `blockTime`. */
export async function nextSlot(observeOffset = 1n, blockOffset = 3n) {
  const now = BigInt(await time.latest());
  const start = (now / ROUND_SECONDS + 1n) * ROUND_SECONDS;
  return {
    start,
    observedAt: start + observeOffset,
    blockTime: start + blockOffset,
    round: start / ROUND_SECONDS,
  };
}

/** Send `submit` for `r` (optionally a subset of its reports) in a block at `blockTime`. */
export async function submitAt(
  oracle: HealthOracle,
  r: SignedRound,
  blockTime: bigint,
  reports: readonly SignedReport[] = r.reports,
): Promise<ContractTransactionResponse> {
  await time.setNextBlockTimestamp(blockTime);
  return oracle.submit(...submitArgs(r, reports));
}

/** Sign `values` for `endpointIds` by the first three attestors (or `signers`) in the next round and submit it. */
export async function submitRound(
  fx: Pick<Fx, "oracle" | "attestors">,
  endpointIds: readonly string[],
  values: RoundValues,
  signers = fx.attestors.slice(0, 3),
) {
  const slot = await nextSlot();
  const r = await signRound(fx.oracle, signers, { endpointIds, values, observedAt: slot.observedAt });
  const tx = await submitAt(fx.oracle, r, slot.blockTime);
  return { tx, r, ...slot };
}

/**
 * The honest panel judges `health` (all attestors, or `who`) for `endpointIds` in the next round, and the round is
 * submitted with every report it signed.
 */
export async function honestRound(
  fx: Pick<Fx, "oracle" | "panel">,
  endpointIds: readonly string[],
  health: number | ((signer: number, endpoint: number) => number),
  who?: readonly number[],
) {
  const slot = await nextSlot();
  const r = await fx.panel.sign(fx.oracle, { endpointIds, observedAt: slot.observedAt, health, who });
  const tx = await submitAt(fx.oracle, r, slot.blockTime);
  return { tx, r, ...slot };
}

/** `statusOf(id)` as a plain object. */
export async function health(oracle: HealthOracle, id: string) {
  const h = await oracle.statusOf(id);
  return {
    status: h.status,
    healthBps: h.healthBps,
    since: h.since,
    round: h.round,
    updatedAt: h.updatedAt,
    floorBps: h.floorBps,
    ceilingBps: h.ceilingBps,
  };
}
