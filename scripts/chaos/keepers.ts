/**
 * Keeper processes of the chaos run, started as operators start them: `node <root>/bin/vigil.js <command>
 * --config <file>`, key in the environment, pino output appended to a log file. `root` is the repository by
 * default; `--attestors-from` / `--responders-from` point at another checkout (for example a `git archive` of a
 * known-good commit, with node_modules linked) so that one keeper's work in progress does not break the other's
 * run. Every process started is stopped at the end, on failure and on Ctrl-C.
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

export class KeeperProcs {
  private readonly _children: ChildProcess[] = [];

  /** Start `command` from `root` with `configFile`; output goes to `logFile`. */
  start(
    root: string,
    command: "attestor" | "responder",
    configFile: string,
    env: NodeJS.ProcessEnv,
    logFile: string,
  ): ChildProcess {
    const out = fs.openSync(logFile, "a");
    const child = spawn(
      process.execPath,
      [path.join(root, "bin", "vigil.js"), command, "--config", configFile],
      {
        cwd: root,
        env: { ...process.env, ...env },
        stdio: ["ignore", out, out],
      },
    );
    fs.closeSync(out);
    this._children.push(child);
    // forget exited children so a long run does not keep thousands of handles
    child.once("exit", () => {
      const i = this._children.indexOf(child);
      if (i >= 0) this._children.splice(i, 1);
    });
    return child;
  }

  /** SIGTERM every live keeper, SIGKILL after `graceMs`. */
  async stopAll(graceMs = 3000): Promise<void> {
    await Promise.all(
      [...this._children].map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise<void>((r) => child.once("exit", () => r()));
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
        await exited;
        clearTimeout(timer);
      }),
    );
  }

  /** Last resort on process exit. */
  killAllSync(): void {
    for (const c of this._children) {
      try {
        c.kill("SIGKILL");
      } catch {
        /* gone */
      }
    }
  }
}
