/**
 * Bounded concurrency for the dashboard's view calls: the dashboard shares its RPC with the keeper that
 * mounts it (the responder trips markets over the same provider), so one poll never has more than a few
 * calls in flight however many services and endpoints it reads.
 */

/** Runs the functions given to it with at most `n` of them pending at once, the rest queued in order. */
export type Limit = <T>(fn: () => Promise<T>) => Promise<T>;

/** A {@link Limit} allowing `n` (≥ 1) pending calls. */
export function createLimit(n: number): Limit {
  const max = Math.max(1, Math.floor(n));
  let active = 0;
  const queue: (() => void)[] = [];
  const release = () => {
    active -= 1;
    queue.shift()?.();
  };
  return <T>(fn: () => Promise<T>) =>
    new Promise<T>((resolve, reject) => {
      const run = () => {
        active += 1;
        Promise.resolve().then(fn).then(resolve, reject).finally(release);
      };
      if (active < max) run();
      else queue.push(run);
    });
}

/**
 * `items.map(fn)` with the calls of `fn` going through `limit` (or a fresh limit of `limit` calls).
 * Results in the order of `items`; rejects with the first failure (calls already started still settle).
 */
export function mapLimit<T, R>(
  items: readonly T[],
  limit: number | Limit,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const run = typeof limit === "number" ? createLimit(limit) : limit;
  return Promise.all(items.map((item, i) => run(() => fn(item, i))));
}
