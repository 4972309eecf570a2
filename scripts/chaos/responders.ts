/**
 * The racing responders as the chaos run drives them: started as operators start them
 * (`node bin/vigil.js responder --config <file>`, key in the environment), SIGKILLed at crash points and
 * restarted after every death.
 *
 * A kill is armed by (re)starting a responder with `VIGIL_FAULT_KILL_AT=<point>[:<n>]` (keepers/shared/crash.ts):
 * it SIGKILLs itself the n-th time it reaches that step of an action. During a burst every responder is armed
 * (whichever wins a race dies at its point; an unarmed one would win them all and nothing would be hit); each
 * death is restarted at once with the same key and outbox, armed again at a new random point while the burst's
 * budget lasts. A responder
 * that has not died at its point within a random 12-25 s (it had nothing to do, or lost every race, or the
 * point is a cancel's and no deadline passed) is SIGKILLed from outside at that random time instead. When the
 * budget is spent, the armed survivors are restarted unarmed with SIGTERM (not counted as kills).
 */
import type { ChildProcess } from "node:child_process";
import type { CrashPoint } from "../../keepers/shared/crash";
import type { KeeperProcs } from "./keepers";
import type { Rng } from "./random";
import type { ResponderSpec } from "./stack";

/** One SIGKILL of a responder. */
export interface KillRecord {
  atMs: number;
  responder: string;
  /** The crash point it was armed with (undefined: killed unarmed). */
  armed?: string;
  /** `crash_point`: it killed itself at the armed point; `external`: the chaos run SIGKILLed it. */
  how: "crash_point" | "external";
}

/**
 * Crash points with weights: the steps every action passes through are drawn more often than a deadline
 * cancel's, which only a transaction stuck past its deadline reaches.
 */
const WEIGHTED_POINTS: readonly CrashPoint[] = [
  "recorded",
  "recorded",
  "signed",
  "signed",
  "broadcast",
  "broadcast",
  "awaiting_receipt",
  "awaiting_receipt",
  "cancel_signed",
  "cancel_broadcast",
];

interface Running {
  spec: ResponderSpec;
  child?: ChildProcess;
  armed?: string;
  /** When an armed responder is killed from outside if it has not died by itself. */
  timer?: NodeJS.Timeout;
  /** The restart scheduled after a death. */
  pending?: NodeJS.Timeout;
  /** A replaced process is exiting; the next one starts when it has. */
  leaving?: boolean;
  /** The arming the next start gets. */
  want?: string;
  killedByUs: boolean;
  restarts: number;
}

/** The fleet of racing responders. */
export class ResponderFleet {
  readonly kills: KillRecord[] = [];
  private readonly _r: Running[];
  private _budget = 0;
  private _stopping = false;

  constructor(
    private readonly procs: KeeperProcs,
    /** Checkout whose bin/vigil.js runs the responders. */
    private readonly root: string,
    specs: ResponderSpec[],
    private readonly rng: Rng,
    private readonly say: (text: string) => void,
    /** Range, ms, of the wait for an armed responder to die at its point before it is killed from outside. */
    private readonly armedForMs: [number, number] = [12000, 25000],
  ) {
    this._r = specs.map((spec) => ({ spec, killedByUs: false, restarts: 0 }));
  }

  /** Start every responder, unarmed. */
  startAll(): void {
    for (const r of this._r) this._start(r, undefined);
  }

  /** Restarts so far, per responder name. */
  restarts(): Record<string, number> {
    return Object.fromEntries(this._r.map((r) => [r.spec.name, r.restarts]));
  }

  /**
   * Kill `n` times: arm every responder and keep re-arming the dead ones until `n` deaths happened or
   * `timeoutMs` passed; then disarm. Resolves when done.
   */
  async burst(n: number, timeoutMs: number): Promise<void> {
    if (n <= 0) return;
    this._budget = n;
    const deadline = Date.now() + timeoutMs;
    for (const r of this._r) this._replace(r, this._point(), "SIGTERM");
    while (this._budget > 0 && Date.now() < deadline && !this._stopping)
      await new Promise((res) => setTimeout(res, 100));
    this.disarm();
  }

  /** End the burst: armed responders are restarted unarmed (SIGTERM, not counted as kills). */
  disarm(): void {
    this._budget = 0;
    for (const r of this._r) if (r.armed) this._replace(r, undefined, "SIGTERM");
  }

  /** Stop restarting (the KeeperProcs stops the processes). */
  stop(): void {
    this._stopping = true;
    for (const r of this._r) {
      if (r.timer) clearTimeout(r.timer);
      if (r.pending) clearTimeout(r.pending);
    }
  }

  private _point(): string {
    const point = this.rng.pick(WEIGHTED_POINTS);
    // the first time it reaches the point; a receipt wait also at its second poll (mid-way through the wait)
    const nth = point === "awaiting_receipt" ? this.rng.int(2) + 1 : 1;
    return nth === 1 ? point : `${point}:${nth}`;
  }

  /** Replace the process with one armed at `armed` (undefined: unarmed); the old one's exit is not a kill. */
  private _replace(r: Running, armed: string | undefined, signal: NodeJS.Signals): void {
    // never two processes for one key and outbox: while the old one is on its way out, only the wish changes
    r.want = armed;
    if (r.timer) clearTimeout(r.timer);
    r.timer = undefined;
    if (r.leaving) return;
    if (r.pending) {
      // dead and about to restart: restart it the new way instead
      clearTimeout(r.pending);
      r.pending = undefined;
      this._start(r, r.want);
      return;
    }
    const old = r.child;
    if (old && old.exitCode === null && old.signalCode === null) {
      r.child = undefined; // detached first: its exit is not counted
      r.leaving = true;
      const hard = setTimeout(() => old.kill("SIGKILL"), 3000);
      old.once("exit", () => {
        clearTimeout(hard);
        r.leaving = false;
        this._start(r, r.want);
      });
      old.kill(signal);
    } else if (!old) this._start(r, r.want);
  }

  private _start(r: Running, armed: string | undefined): void {
    if (this._stopping) return;
    if (r.child && r.child.exitCode === null && r.child.signalCode === null) return; // one process per responder
    r.armed = armed;
    r.killedByUs = false;
    const env: NodeJS.ProcessEnv = { VIGIL_RESPONDER_KEY: r.spec.key, VIGIL_FAULT_KILL_AT: armed ?? "" };
    const child = this.procs.start(this.root, "responder", r.spec.configFile, env, r.spec.logFile);
    r.child = child;
    if (armed) {
      const [lo, hi] = this.armedForMs;
      r.timer = setTimeout(
        () => {
          if (r.child !== child || child.exitCode !== null || child.signalCode !== null) return;
          r.killedByUs = true;
          child.kill("SIGKILL");
        },
        lo + this.rng.int(hi - lo),
      );
    }
    child.once("exit", (code, signal) => {
      if (r.child !== child || this._stopping) return;
      if (r.timer) clearTimeout(r.timer);
      r.timer = undefined;
      r.child = undefined;
      r.restarts++;
      let next: string | undefined;
      if (signal === "SIGKILL") {
        const how = r.killedByUs ? "external" : "crash_point";
        this.kills.push({ atMs: Date.now(), responder: r.spec.name, armed: r.armed, how });
        this._budget = Math.max(0, this._budget - 1);
        next = this._budget > 0 ? this._point() : undefined;
        this.say(
          `kill ${this.kills.length}: ${r.spec.name} ${how === "crash_point" ? `died at crash point ${r.armed}` : `SIGKILLed from outside (armed ${r.armed ?? "—"}, not reached)`}; restarting${next ? ` armed ${next}` : ""}`,
        );
      } else this.say(`${r.spec.name} exited (code ${code}, signal ${signal}); restarting`);
      r.pending = setTimeout(() => {
        r.pending = undefined;
        this._start(r, next);
      }, 200);
    });
  }
}
