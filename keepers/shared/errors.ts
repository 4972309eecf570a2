/**
 * Errors that carry a stable code and say what to do, in the manner of Hardhat's HH catalogue and
 * ethers' `isError(e, code)`. Keepers throw these for operator mistakes (bad config, missing key)
 * and for conditions a caller may want to branch on.
 */

/** Stable error codes. `VIGIL_CONFIG` and `VIGIL_KEY` stop a process at start-up. */
export type VigilErrorCode =
  | "VIGIL_CONFIG"
  | "VIGIL_KEY"
  | "VIGIL_CHAIN"
  | "VIGIL_PROBE"
  | "VIGIL_ATTESTATION"
  | "VIGIL_TX"
  | "VIGIL_OUTBOX";

/** An error with a code and an operator hint. */
export class VigilError extends Error {
  readonly code: VigilErrorCode;
  readonly hint?: string;

  /**
   * @param code Stable code, see {@link VigilErrorCode}.
   * @param message What went wrong, naming the setting or value.
   * @param hint What to do about it.
   */
  constructor(code: VigilErrorCode, message: string, hint?: string, options?: { cause?: unknown }) {
    super(hint ? `${message} (${hint})` : message, options);
    this.name = "VigilError";
    this.code = code;
    this.hint = hint;
  }
}

/** True when `e` is a {@link VigilError}, optionally with the given code. */
export function isVigilError(e: unknown, code?: VigilErrorCode): e is VigilError {
  return e instanceof VigilError && (code === undefined || e.code === code);
}
