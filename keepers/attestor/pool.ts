/**
 * Bounded concurrency without a dependency (p-limit and p-queue are ESM-only; this build is CommonJS).
 */

/**
 * Run `task` for every item with at most `concurrency` in flight; resolves when all have settled.
 * Tasks must handle their own errors: a rejection is swallowed so one bad item never stops the others.
 */
export async function forEachConcurrent<T>(
  items: readonly T[],
  concurrency: number,
  task: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++];
      try {
        await task(item);
      } catch {
        // the task logs its own failures
      }
    }
  };
  const workers = Math.max(1, Math.min(concurrency, items.length));
  await Promise.all(Array.from({ length: workers }, worker));
}
