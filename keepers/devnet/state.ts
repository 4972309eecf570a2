/**
 * `<dir>/devnet.json`: what a running `vigil devnet` started, where, with which process ids. Written
 * once the stack is up, removed when it stops; `vigil devnet fault` reads it.
 */
import fs from "node:fs";
import path from "node:path";
import { VigilError } from "../shared/errors";
import type { DevnetDeployment } from "./configs";

/** Marker file: the directory was made by `vigil devnet`, so it may clear its own files in it. */
export const MARKER = ".vigil-devnet";
export const STATE_FILE = "devnet.json";

export interface DevnetNode {
  /** `primary`, `backup-1`, `backup-2`. */
  name: string;
  url: string;
  port: number;
  /** The anvil binary's own pid (never a wrapper), so SIGSTOP reaches the node. */
  pid: number;
  /** Its endpoint id in the registry (bytes32 hex). */
  endpointId: string;
  blockTimeSec: number;
}

export interface DevnetKeeper {
  name: string;
  pid: number;
  url: string;
  config: string;
  log: string;
}

export interface DevnetState {
  /** The `vigil devnet` process. */
  pid: number;
  dir: string;
  startedAt: string;
  chain: { url: string; chainId: number; pid: number };
  contracts: DevnetDeployment & { marketId: number };
  nodes: DevnetNode[];
  keepers: DevnetKeeper[];
}

/** Whether a process with this pid exists (signal 0; EPERM means it exists under another user). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Write the state file (atomically: a reader never sees half of it). */
export function writeState(state: DevnetState): void {
  const file = path.join(state.dir, STATE_FILE);
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(state, null, 2) + "\n");
  fs.renameSync(`${file}.tmp`, file);
}

/**
 * The state of the devnet running from `dir`.
 * @throws VIGIL_CONFIG when there is none, or its process is gone (the file is then stale).
 */
export function readState(dir: string): DevnetState {
  const file = path.join(path.resolve(dir), STATE_FILE);
  if (!fs.existsSync(file)) {
    throw new VigilError(
      "VIGIL_CONFIG",
      `no devnet is running from ${path.resolve(dir)} (no ${STATE_FILE})`,
      "start one with `vigil devnet`, or pass the --dir it was started with",
    );
  }
  const state = JSON.parse(fs.readFileSync(file, "utf8")) as DevnetState;
  if (!processAlive(state.pid)) {
    throw new VigilError(
      "VIGIL_CONFIG",
      `the devnet of ${file} (pid ${state.pid}) is not running any more`,
      "start it again with `vigil devnet`",
    );
  }
  return state;
}

/**
 * Make `dir` ready for a new devnet: create it, or clear the files a previous devnet left there.
 * @throws VIGIL_CONFIG when a devnet still runs from it, or when it holds files and was not made by
 * `vigil devnet` (nothing of the user's is ever deleted).
 */
export function prepareDir(dir: string): void {
  const abs = path.resolve(dir);
  if (fs.existsSync(path.join(abs, STATE_FILE))) {
    const old = JSON.parse(fs.readFileSync(path.join(abs, STATE_FILE), "utf8")) as DevnetState;
    if (old.pid !== process.pid && processAlive(old.pid)) {
      throw new VigilError(
        "VIGIL_CONFIG",
        `a devnet (pid ${old.pid}) is already running from ${abs}`,
        "stop it with Ctrl-C in its terminal (or `kill " + old.pid + "`), or pass another --dir",
      );
    }
  }
  if (fs.existsSync(abs) && fs.readdirSync(abs).length > 0 && !fs.existsSync(path.join(abs, MARKER))) {
    throw new VigilError(
      "VIGIL_CONFIG",
      `--dir ${abs} is not empty and was not made by vigil devnet`,
      "pass an empty or new directory",
    );
  }
  fs.rmSync(abs, { recursive: true, force: true });
  fs.mkdirSync(abs, { recursive: true });
  fs.writeFileSync(
    path.join(abs, MARKER),
    "made by `vigil devnet`: its files here are replaced on every start\n",
  );
}

/**
 * `<dir>/halted.json`: names of the demo nodes `vigil devnet fault <node> --kind halt` stopped. The demo
 * nodes are replicas mined by the running devnet's driver (scripts/drill/replicas.ts), so a halt is a
 * request to that driver, which reads this file before every block.
 */
export const HALTS_FILE = "halted.json";

/** Node names in `<dir>/halted.json`; [] when there is none or it cannot be read. */
export function readHalts(dir: string): string[] {
  try {
    const v = JSON.parse(fs.readFileSync(path.join(dir, HALTS_FILE), "utf8")) as unknown;
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
  } catch {
    return [];
  }
}

/** Replace `<dir>/halted.json` (atomically) with `names`. */
export function writeHalts(dir: string, names: string[]): void {
  const file = path.join(dir, HALTS_FILE);
  fs.writeFileSync(`${file}.tmp`, JSON.stringify([...new Set(names)]) + "\n");
  fs.renameSync(`${file}.tmp`, file);
}
