/**
 * Revert classification for the Vigil contracts, injected into the generic {@link TxManager} as its
 * `reverts` option (the manager itself knows no Vigil contract): which custom errors exist (for decoding revert
 * data) and which of them mean "another keeper won the race" (an answer, never retried).
 */
import { Interface } from "ethers";
import {
  IEndpointRegistry__factory,
  IHealthOracle__factory,
  IMarketGuard__factory,
} from "../../typechain-types";
import type { DecodedRevert, RevertClassifier } from "./tx";

/** Every custom error of the Vigil contracts, for decoding revert data. */
export const VIGIL_ERRORS = new Interface([
  ...IHealthOracle__factory.abi.filter((f) => f.type === "error"),
  ...IEndpointRegistry__factory.abi.filter((f) => f.type === "error"),
  ...IMarketGuard__factory.abi.filter((f) => f.type === "error"),
]);

/**
 * Reverts that mean "nothing to do": already done by someone else (another keeper, the oracle's listener), or
 * no longer applicable. Answers, not faults: the action is dropped, never retried.
 */
export const LOST_RACE_ERRORS: ReadonlySet<string> = new Set([
  "EndpointRegistryMigrationNotDue",
  "MarketGuardTripNotDue",
  "MarketGuardResumeNotDue",
  // retryDelivery when the market already received the decision: another keeper delivered it first.
  "MarketGuardNothingToDeliver",
  // proveEquivocation when the signer is already jailed: another prover (or our earlier proof) was first.
  "HealthOracleAlreadyJailed",
  // proveEquivocation of a pair the oracle does not take (the set was replaced since, releasing everyone):
  // nothing to prove, an answer like the others, never retried.
  "HealthOracleNotEquivocation",
  // (No oracle error: `submit` skips rounds already stored instead of reverting; the responder reads the
  // simulated and the mined (updated, skipped) instead.)
]);

/** The classifier the responder gives its TxManager: Vigil's errors, Vigil's lost races. */
export const vigilReverts: RevertClassifier = revertClassifier(VIGIL_ERRORS, LOST_RACE_ERRORS);

/** Decode revert data (an ethers CALL_EXCEPTION, or raw hex) against {@link VIGIL_ERRORS}. */
export function decodeRevert(e: unknown): DecodedRevert {
  return vigilReverts.decode(e);
}

/** True when a revert means another keeper won the race (not an error, not retried). */
export function isLostRace(revert: DecodedRevert): boolean {
  return vigilReverts.isLostRace(revert);
}

/**
 * A {@link RevertClassifier} over any contract's errors: `decode` parses revert data (an ethers CALL_EXCEPTION,
 * a JSON-RPC error carrying `data`, or raw hex) against `errors`; `isLostRace` is true for the names in `lostRace`.
 * Data that is not one of `errors` decodes to `{ data, message }` without a name (never thrown).
 */
export function revertClassifier(errors: Interface, lostRace: ReadonlySet<string>): RevertClassifier {
  return {
    decode(e: unknown): DecodedRevert {
      let data: string | undefined;
      if (typeof e === "string") data = e;
      else if (e && typeof e === "object") {
        const err = e as {
          data?: unknown;
          error?: { data?: unknown };
          info?: { error?: { data?: unknown } };
        };
        const d = err.data ?? err.error?.data ?? err.info?.error?.data;
        if (typeof d === "string" && d.startsWith("0x")) data = d;
      }
      const message = e instanceof Error ? e.message.split("\n")[0] : String(e);
      if (!data || data === "0x") return { data, message };
      try {
        const parsed = errors.parseError(data);
        if (parsed) return { name: parsed.name, args: [...parsed.args], data, message: parsed.name };
      } catch {
        /* not one of these errors */
      }
      return { data, message };
    },
    isLostRace: (r) => r.name !== undefined && lostRace.has(r.name),
  };
}
