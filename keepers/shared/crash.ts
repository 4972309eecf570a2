/**
 * Named crash points for fault injection: the chaos run (`npm run chaos`) and the crash tests kill a keeper with
 * SIGKILL at an exact step of an action (before signing, after the broadcast, while waiting for the receipt, during
 * a cancel) and check that the restarted keeper loses and repeats nothing. Off unless `VIGIL_FAULT_KILL_AT` is set:
 * a production keeper never reads it otherwise.
 */
import { VigilError } from "./errors";

/**
 * The steps of one action, in order:
 * - `recorded`: in the outbox, not signed yet.
 * - `signed`: signed and recorded in the outbox, not broadcast.
 * - `broadcast`: broadcast, before waiting for its receipt.
 * - `awaiting_receipt`: each poll for the receipt.
 * - `cancel_signed`: a deadline cancel signed and recorded, not broadcast.
 * - `cancel_broadcast`: a deadline cancel broadcast, before its receipt.
 */
export const CRASH_POINTS = [
  "recorded",
  "signed",
  "broadcast",
  "awaiting_receipt",
  "cancel_signed",
  "cancel_broadcast",
] as const;
export type CrashPoint = (typeof CRASH_POINTS)[number];

/** Called at each crash point; kills the process when it is the chosen one. */
export type CrashHook = (point: CrashPoint) => void;

/**
 * The crash hook `VIGIL_FAULT_KILL_AT=<point>[:<n>]` asks for: SIGKILL this process the n-th time (default 1st)
 * it reaches `<point>`. @returns undefined when the variable is unset or empty.
 * @throws VigilError VIGIL_CONFIG for an unknown point or a count that is not a positive integer.
 */
export function crashHookFromEnv(
  env: NodeJS.ProcessEnv = process.env,
  kill: () => void = () => process.kill(process.pid, "SIGKILL"),
): CrashHook | undefined {
  const raw = env.VIGIL_FAULT_KILL_AT?.trim();
  if (!raw) return undefined;
  const [point, count = "1"] = raw.split(":");
  if (!(CRASH_POINTS as readonly string[]).includes(point))
    throw new VigilError(
      "VIGIL_CONFIG",
      `VIGIL_FAULT_KILL_AT names an unknown crash point "${point}"`,
      `use one of ${CRASH_POINTS.join(", ")}, optionally with :<n> (kill at the n-th time)`,
    );
  const n = Number(count);
  if (!Number.isInteger(n) || n < 1)
    throw new VigilError("VIGIL_CONFIG", `VIGIL_FAULT_KILL_AT count "${count}" is not a positive integer`);
  let seen = 0;
  return (p) => {
    if (p === point && ++seen === n) kill();
  };
}
