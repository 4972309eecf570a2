import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { REPO_ROOT as ROOT, type ManagedNode } from "./nodes";

/**
 * Everything the drill started, so that it is all stopped — at the end, on failure, and on Ctrl-C —
 * and no port stays taken.
 */
export class ProcessRegistry {
  private readonly _nodes: ManagedNode[] = [];
  private readonly _keepers: { name: string; child: ChildProcess }[] = [];

  addNode(node: ManagedNode): ManagedNode {
    this._nodes.push(node);
    return node;
  }

  /**
   * Start a keeper exactly as an operator does: `node bin/vigil.js <command> --config <file>`, with
   * its key in the environment. Output goes to `logFile` (pino JSON lines).
   */
  startKeeper(
    name: string,
    command: "attestor" | "responder" | "dashboard" | "gateway",
    configFile: string,
    env: NodeJS.ProcessEnv,
    logFile: string,
  ): ChildProcess {
    const out = fs.openSync(logFile, "a");
    const child = spawn(
      process.execPath,
      [path.join(ROOT, "bin", "vigil.js"), command, "--config", configFile],
      {
        cwd: ROOT,
        env: { ...process.env, ...env },
        stdio: ["ignore", out, out],
      },
    );
    fs.closeSync(out);
    this._keepers.push({ name, child });
    return child;
  }

  /** Every keeper started, with its process (a pid and `exitCode` to look at). */
  get keepers(): readonly { name: string; child: ChildProcess }[] {
    return this._keepers;
  }

  /** Keepers that exited although the drill did not stop them. */
  deadKeepers(): string[] {
    return this._keepers
      .filter((k) => k.child.exitCode !== null || k.child.signalCode !== null)
      .map((k) => k.name);
  }

  /** Stop keepers gracefully (SIGTERM, then SIGKILL after `graceMs`), then every node. Idempotent. */
  async stopAll(graceMs = 5000): Promise<void> {
    await Promise.all(
      this._keepers.map(async ({ child }) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise<void>((r) => child.once("exit", () => r()));
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
        await exited;
        clearTimeout(timer);
      }),
    );
    await Promise.all(this._nodes.map((n) => n.stop()));
  }

  /** Last-resort synchronous kill (process `exit` handler). */
  killAllSync(): void {
    for (const { child } of this._keepers) {
      try {
        child.kill("SIGKILL");
      } catch {
        /* already gone */
      }
    }
    for (const n of this._nodes) {
      if (n.pid) {
        try {
          process.kill(n.pid, "SIGCONT");
          process.kill(n.pid, "SIGKILL");
        } catch {
          /* already gone */
        }
      }
    }
  }
}
