import type { Logger } from "./logger";
import type { Metrics } from "./metrics";
import { summarizeError } from "./redact";

/**
 * Resolve after `ms` milliseconds, or as soon as `signal` aborts (never rejects).
 * @returns true when the full time elapsed, false when aborted.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * One `AbortController` for the whole process, wired to SIGINT and SIGTERM: the first signal aborts
 * (every loop finishes its iteration, the transaction in flight is finished or persisted, servers
 * close, exit 0); a second signal exits at once with 130.
 */
export class Shutdown {
  private readonly _controller = new AbortController();
  private _signals = 0;
  private readonly _handler: (sig: NodeJS.Signals) => void;

  /**
   * @param logger Where to say that shutdown began.
   * @param install Install the process signal handlers (false in tests). Default true.
   */
  constructor(
    private readonly logger: Logger,
    install = true,
  ) {
    this._handler = (sig) => {
      this._signals += 1;
      if (this._signals === 1) {
        this.logger.info(
          { signal: sig },
          "shutting down: finishing work in flight (send again to exit at once)",
        );
        this._controller.abort(new Error(`received ${sig}`));
      } else {
        this.logger.warn({ signal: sig }, "second signal: exiting now");
        process.exit(130);
      }
    };
    if (install) {
      process.on("SIGINT", this._handler);
      process.on("SIGTERM", this._handler);
    }
  }

  /** Aborts when shutdown begins. */
  get signal(): AbortSignal {
    return this._controller.signal;
  }

  /** Begin shutdown programmatically (tests, fatal errors). */
  abort(reason = "shutdown requested"): void {
    if (!this._controller.signal.aborted) this._controller.abort(new Error(reason));
  }

  /** Remove the process signal handlers. */
  dispose(): void {
    process.off("SIGINT", this._handler);
    process.off("SIGTERM", this._handler);
  }
}

export interface LoopOptions {
  /** Name in logs and metrics (`loop` label). */
  name: string;
  /** Milliseconds between the starts of two iterations (an iteration that runs long delays the next,
   *  never overlaps it). */
  intervalMs: number;
  /** Stops the loop after the iteration in progress. */
  signal: AbortSignal;
  logger: Logger;
  metrics?: Metrics;
  /** Run first iteration at once (default true). */
  immediate?: boolean;
  /** Lets event handlers start the next iteration early (never overlapping the one in progress). */
  wakeup?: Wakeup;
}

/**
 * A wake-up call for a polling loop: an event subscription calls {@link Wakeup.wake} and the loop's
 * wait ends early; polling stays the fallback when subscriptions drop. A wake during an iteration
 * makes the next one start at once.
 */
export class Wakeup {
  private _pending = false;
  private _resolve?: () => void;

  /** Ask for the next iteration now. */
  wake(): void {
    this._pending = true;
    this._resolve?.();
  }

  /**
   * Wait `ms`, or until {@link wake} or `signal`. @returns false when aborted.
   */
  async wait(ms: number, signal?: AbortSignal): Promise<boolean> {
    if (signal?.aborted) return false;
    if (this._pending) {
      this._pending = false;
      return true;
    }
    const woken = new Promise<void>((resolve) => (this._resolve = resolve));
    const inner = new AbortController();
    const onAbort = () => inner.abort();
    signal?.addEventListener("abort", onAbort, { once: true });
    await Promise.race([sleep(ms, inner.signal), woken]);
    inner.abort();
    signal?.removeEventListener("abort", onAbort);
    this._resolve = undefined;
    this._pending = false;
    return !signal?.aborted;
  }
}

/**
 * Liveness of one loop, read by `/healthz`: the loop is stalled when no iteration has completed
 * for `stallFactor` intervals.
 */
export class LoopHealth {
  lastCompletedAt = Date.now();
  iterations = 0;
  /**
   * Short, sanitized summary of the latest iteration's failure ({@link summarizeError}: code and
   * short message, URLs cut to their origin); undefined once an iteration succeeds.
   */
  lastError?: string;
  /** When the latest iteration failed, ms since the epoch; undefined once an iteration succeeds. */
  lastErrorAt?: number;

  constructor(
    readonly name: string,
    readonly intervalMs: number,
    readonly stallFactor = 5,
  ) {}

  /** True when an iteration completed within `stallFactor × intervalMs` (plus 10 s of slack). */
  healthy(now = Date.now()): boolean {
    return now - this.lastCompletedAt <= this.intervalMs * this.stallFactor + 10_000;
  }
}

/**
 * Run `iteration` every `intervalMs` until `signal` aborts. Iterations never overlap (the classic
 * `provider.on('block', async …)` bug): the next one is scheduled only after the previous settles.
 * An iteration that throws is logged and counted; the loop goes on.
 * @returns The loop's {@link LoopHealth} and a promise that settles when the loop has stopped.
 */
export function runLoop(
  options: LoopOptions,
  iteration: (signal: AbortSignal) => Promise<void>,
): { health: LoopHealth; done: Promise<void> } {
  const health = new LoopHealth(options.name, options.intervalMs);
  const log = options.logger.child({ loop: options.name });
  const done = (async () => {
    let due = Date.now();
    if (options.immediate === false) {
      due += options.intervalMs;
      if (!(await sleep(options.intervalMs, options.signal))) return;
    }
    while (!options.signal.aborted) {
      const started = Date.now();
      options.metrics?.loopLag.set({ loop: options.name }, Math.max(0, started - due) / 1000);
      try {
        await iteration(options.signal);
        health.lastError = undefined;
        health.lastErrorAt = undefined;
      } catch (e) {
        health.lastError = summarizeError(e);
        health.lastErrorAt = Date.now();
        log.error({ err: e }, "loop iteration failed");
      }
      const finished = Date.now();
      health.lastCompletedAt = finished;
      health.iterations += 1;
      options.metrics?.loopDuration.observe({ loop: options.name }, (finished - started) / 1000);
      due = Math.max(due + options.intervalMs, finished);
      const wait = due - Date.now();
      if (options.wakeup) {
        if (!(await options.wakeup.wait(Math.max(0, wait), options.signal))) break;
        due = Math.min(due, Date.now());
      } else if (wait > 0 && !(await sleep(wait, options.signal))) break;
    }
    log.debug("loop stopped");
  })();
  return { health, done };
}
