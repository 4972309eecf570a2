/**
 * A preload that makes a child process's clock wrong by `VIGIL_TEST_CLOCK_SHIFT_MS` milliseconds (positive:
 * fast), for tests of the attestor's clock discipline:
 *
 *   VIGIL_TEST_CLOCK_SHIFT_MS=30000 node --require test/keepers/helpers/shift-clock.js bin/vigil.js attestor …
 *
 * It shifts `Date.now()`, `new Date()` (no arguments) and `Date()` — what the keepers read — and leaves
 * `performance.now()` and timers alone (they measure durations, not the time of day), as a wrong system clock
 * would. Unset, empty or 0: nothing changes. A value that is not a finite number stops the process at start.
 */
"use strict";

const raw = process.env.VIGIL_TEST_CLOCK_SHIFT_MS;
const shift = raw === undefined || raw.trim() === "" ? 0 : Number(raw);
if (!Number.isFinite(shift)) {
  process.stderr.write(`shift-clock: VIGIL_TEST_CLOCK_SHIFT_MS must be a number of ms, got "${raw}"\n`);
  process.exit(2);
}

if (shift !== 0) {
  const RealDate = Date;
  const realNow = RealDate.now;
  const now = () => realNow() + shift;
  class ShiftedDate extends RealDate {
    constructor(...args) {
      if (args.length === 0) super(now());
      else super(...args);
    }
    static now() {
      return now();
    }
  }
  // `Date()` called as a function returns the current time as a string.
  const ShiftedDateFn = new Proxy(ShiftedDate, {
    apply: () => new RealDate(now()).toString(),
  });
  globalThis.Date = ShiftedDateFn;
}
