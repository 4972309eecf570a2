/**
 * Wait for a state, not for a time: poll `holds` until it is true, and fail with `what` once `deadlineMs`
 * passes. The poll interval only bounds how often the state is read; the deadline only ends a hang.
 */
export async function until(what: string, holds: () => Promise<boolean>, deadlineMs = 60_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!(await holds())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
