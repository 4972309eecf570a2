/**
 * The racing responders as the chaos run drives them: started as operators start them
 * (`node bin/vigil.js responder --config <file>`, key in the environment), SIGKILLed at crash points and
 * restarted after every death.
 *
 * A kill is armed by restarting the responder with `VIGIL_FAULT_KILL_AT=<point>[:<n>]` (keepers/shared/crash.ts):
 * the responder SIGKILLs itself the n-th time it reaches that step of an action. A responder that has not died
 * at its armed point within a few seconds (it had nothing to do, or the build it runs does not honour the
 * variable) is SIGKILLed from outside at that random time instead. Either way it is restarted at once, with
 * the same key and outbox, and the next kill armed while kills remain in the budget.
 */
import type { ChildProcess } from "node:child_process";
import { CRASH_POINTS, type CrashPoint } from "../../keepers/shared/crash";
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

interface Running {
  spec: ResponderSpec;
  child?: ChildProcess;
  armed?: string;
  /** When an armed responder is killed from outside if it has not died by itself. */
  timer?: NodeJS.Timeout;
  killedByUs: boolean;
  restarts: number;
}

/** The fleet of racing responders. */
export class ResponderFleet {
  readonly kills: KillRecord[] = [];
  private readonly _r: Running[];
  private _budget = 0;
  private _stopping = false;
  private _extraEnv: NodeJS.ProcessEnv = {};

  constructor(
    private readonly procs: KeeperProcs,
    /** Checkout whose bin/vigil.js runs the responders. */
    private readonly root: string,
    specs: ResponderSpec[],
    private readonly rng: Rng,
    private readonly say: (text: string) => void,
    /** Longest wait, ms, for an armed responder to die at its crash point before it is killed from outside. */
    private readonly armedForMs: [number, number] = [3000, 9000],
  ) {
    this._r = specs.map((spec) => ({ spec, killedByUs: false, restarts: 0 }));
  }

  /** Start every responder, unarmed. */
  startAll(): void {
    for (const r of this._r) this._start(r, undefined);
  }

  /** Kills still to do in the current burst. */
  get budget(): number {
    return this._budget;
  }

  /** Total restarts so far, per responder name. */
  restarts(): Record<string, number> {
    return Object.fromEntries(this._r.map((r) => [r.spec.name, r.restarts]));
  }

  /**
   * Kill `n` more times, one responder after another (round robin from a random one): each restart is armed at a
   * random crash point. Resolves when the burst is done (budget spent) or `timeoutMs` passed (then the budget is
   * dropped).
   */
  async burst(n: number, timeoutMs: number): Promise<void> {
    this._budget += n;
    const deadline = Date.now() + timeoutMs;
    const first = this.rng.int(this._r.length);
    // arm one responder at a time: the others keep racing
    let i = first;
    while (this._budget > 0 && Date.now() < deadline && !this._stopping) {
      const r = this._r[i % this._r.length];
      i++;
      const before = this.kills.length;
      this._arm(r);
      while (this.kills.length === before && Date.now() < deadline && !this._stopping)
        await new Promise((res) => setTimeout(res, 100));
    }
    this._budget = 0;
  }

  /** Stop arming, let every responder run unarmed (restarting armed ones). */
  disarm(): void {
    this._budget = 0;
    for (const r of this._r) if (r.armed) this._restart(r, undefined);
  }

  /** Stop everything (the ProcessRegistry stops the processes). */
  stop(): void {
    this._stopping = true;
    for (const r of this._r) if (r.timer) clearTimeout(r.timer);
  }

  private _arm(r: Running): void {
    const point: CrashPoint = this.rng.pick(CRASH_POINTS);
    // the first or second time it reaches the point (the second: mid-way through a retry or a bump)
    const nth = this.rng.int(2) + 1;
    const armed = nth === 1 ? point : `${point}:${nth}`;
    this._restart(r, armed);
    const [lo, hi] = this.armedForMs;
    r.timer = setTimeout(() => this._killNow(r), lo + this.rng.int(hi - lo));
  }

  private _killNow(r: Running): void {
    if (!r.child || r.child.exitCode !== null || r.child.signalCode !== null) return;
    r.killedByUs = true;
    r.child.kill("SIGKILL");
  }

  /** Replace the process (SIGKILL the old one when alive, not counted as a kill). */
  private _restart(r: Running, armed: string | undefined): void {
    const old = r.child;
    if (r.timer) clearTimeout(r.timer);
    r.timer = undefined;
    if (old && old.exitCode === null && old.signalCode === null) {
      // detached from `r` first, so its exit is not counted as a kill
      r.child = undefined;
      old.once("exit", () => this._start(r, armed));
      old.kill("SIGKILL");
    } else this._start(r, armed);
  }

  private _start(r: Running, armed: string | undefined): void {
    if (this._stopping) return;
    r.armed = armed;
    r.killedByUs = false;
    const env: NodeJS.ProcessEnv = {
      ...this._extraEnv,
      VIGIL_RESPONDER_KEY: r.spec.key,
      VIGIL_FAULT_KILL_AT: armed ?? "",
    };
    const child = this.procs.start(this.root, "responder", r.spec.configFile, env, r.spec.logFile);
    r.child = child;
    child.once("exit", (code, signal) => {
      if (r.child !== child || this._stopping) return;
      if (r.timer) clearTimeout(r.timer);
      r.timer = undefined;
      if (signal === "SIGKILL") {
        const how = r.killedByUs ? "external" : "crash_point";
        this.kills.push({ atMs: Date.now(), responder: r.spec.name, armed: r.armed, how });
        this._budget = Math.max(0, this._budget - 1);
        this.say(
          `kill ${this.kills.length}: ${r.spec.name} ${how === "crash_point" ? `died at crash point ${r.armed}` : `SIGKILLed (armed ${r.armed ?? "—"}, not reached)`}; restarting`,
        );
      } else this.say(`${r.spec.name} exited (code ${code}, signal ${signal}); restarting`);
      r.restarts++;
      setTimeout(() => this._start(r, undefined), 200);
    });
  }
}
