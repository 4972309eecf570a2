import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";

/** Node software the drill can run. All serve Ethereum JSON-RPC on loopback. */
export type NodeImpl = "anvil" | "hardhat" | "ganache";

export interface NodeSpec {
  /** Short name in the timeline, e.g. `primary`. */
  name: string;
  impl: NodeImpl;
  /** Loopback TCP port. */
  port: number;
  chainId: number;
  /**
   * Seconds between blocks (interval mining). 0 (anvil only): no mining at all (`--no-mining`), the
   * blocks come from a driver calling `evm_mine` (scripts/drill/replicas.ts).
   */
  blockTimeSec: number;
  /** More command-line arguments for the node (anvil only), e.g. `["--balance", "10001"]`. */
  extraArgs?: string[];
}

/**
 * The repository root: the nearest folder above this file with a package.json. The same from the
 * TypeScript sources (scripts/drill/) and from the build (dist/scripts/drill/, dist/ has none).
 */
export const REPO_ROOT = ((): string => {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, "package.json")) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
})();
const ROOT = REPO_ROOT;

/**
 * The anvil binary: `VIGIL_ANVIL_BIN` when set, else the one the optional npm package
 * `@foundry-rs/anvil-linux-amd64` ships (Linux x64, as CI). Throws naming both when neither exists.
 */
export function anvilBinary(): string {
  const bin =
    process.env.VIGIL_ANVIL_BIN || path.join(ROOT, "node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil");
  if (!fs.existsSync(bin)) {
    throw new Error(
      `anvil not found at ${bin}: on Linux x64 run \`npm ci\` (it installs @foundry-rs/anvil-linux-amd64); ` +
        "elsewhere install Foundry's anvil and set VIGIL_ANVIL_BIN to its path",
    );
  }
  return bin;
}

/**
 * The command that starts the real node binary itself — never through `npx`/`npm exec`, whose
 * wrapper process would swallow SIGSTOP/SIGKILL (TOOLCHAIN.md).
 */
export function nodeCommand(spec: NodeSpec): { cmd: string; args: string[]; env?: NodeJS.ProcessEnv } {
  switch (spec.impl) {
    case "anvil":
      return {
        cmd: anvilBinary(),
        args: [
          "--host",
          "127.0.0.1",
          "--port",
          String(spec.port),
          "--chain-id",
          String(spec.chainId),
          ...(spec.blockTimeSec > 0 ? ["--block-time", String(spec.blockTimeSec)] : ["--no-mining"]),
          "--silent",
          ...(spec.extraArgs ?? []),
        ],
      };
    case "ganache":
      return {
        cmd: process.execPath,
        args: [
          path.join(ROOT, "node_modules/ganache/dist/node/cli.js"),
          "--server.host",
          "127.0.0.1",
          "--server.port",
          String(spec.port),
          "--chain.chainId",
          String(spec.chainId),
          "--miner.blockTime",
          String(spec.blockTimeSec),
          "--logging.quiet",
          "--wallet.totalAccounts",
          "2",
        ],
      };
    case "hardhat":
      return {
        cmd: process.execPath,
        args: [
          path.join(ROOT, "node_modules/hardhat/internal/cli/cli.js"),
          "node",
          "--hostname",
          "127.0.0.1",
          "--port",
          String(spec.port),
        ],
        // hardhat.config.ts reads these so a `hardhat node` can serve another chain id and mine on an
        // interval, as the other implementations do with flags.
        env: {
          VIGIL_HARDHAT_CHAIN_ID: String(spec.chainId),
          VIGIL_HARDHAT_BLOCK_TIME_MS: String(spec.blockTimeSec * 1000),
          TS_NODE_TRANSPILE_ONLY: "true",
          // `hardhat node` serves only the in-process network; never inherit the drill's own choice.
          HARDHAT_NETWORK: "hardhat",
        },
      };
  }
}

/** Send one JSON-RPC request with a timeout. Throws on transport error, timeout or JSON-RPC error. */
export async function rpc<T = unknown>(
  url: string,
  method: string,
  params: unknown[] = [],
  timeoutMs = 2000,
): Promise<T> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const body = (await res.json()) as { result?: T; error?: { message: string } };
  if (body.error) throw new Error(`${method}: ${body.error.message}`);
  return body.result as T;
}

/** A free TCP port on 127.0.0.1 (asks the kernel for one, then releases it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** True when nothing listens on the port. */
export function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });
}

/**
 * A real node process on loopback, with the faults the drill injects: kill (SIGKILL), hang
 * (SIGSTOP: the socket stays open, nothing answers), halt block production (interval mining off
 * through the node's own RPC), and restart with another chain id.
 */
export class ManagedNode {
  private _child?: ChildProcess;
  private _stopped = false;
  private _output = "";
  spec: NodeSpec;

  constructor(spec: NodeSpec) {
    this.spec = { ...spec };
  }

  get url(): string {
    return `http://127.0.0.1:${this.spec.port}`;
  }

  get pid(): number | undefined {
    return this._child?.pid;
  }

  /** Whether the process is alive (it may still be hung). */
  get running(): boolean {
    return !!this._child && this._child.exitCode === null && this._child.signalCode === null;
  }

  /**
   * Start the node and wait until it answers `eth_chainId` with the expected id.
   * Throws, with the node's last output, when it does not within `timeoutMs`.
   */
  async start(timeoutMs = 60_000): Promise<void> {
    const { cmd, args, env } = nodeCommand(this.spec);
    this._stopped = false;
    this._output = "";
    const child = spawn(cmd, args, {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
      detached: false,
    });
    this._child = child;
    const keep = (b: Buffer) => {
      this._output = (this._output + b.toString()).slice(-4000);
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.running)
        throw new Error(`${this.spec.name} (${this.spec.impl}) exited at start:\n${this._output}`);
      try {
        const id = await rpc<string>(this.url, "eth_chainId", [], 1000);
        if (Number(BigInt(id)) === this.spec.chainId) {
          await this._ensureIntervalMining();
          return;
        }
      } catch {
        // not up yet
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(
      `${this.spec.name} (${this.spec.impl}) did not answer within ${timeoutMs} ms:\n${this._output}`,
    );
  }

  /** SIGKILL the node (no clean shutdown) and wait for it to exit. */
  async kill(): Promise<void> {
    await this._signalAndWait("SIGKILL");
  }

  /** SIGSTOP: the process keeps its socket but answers nothing (a hung node). */
  hang(): void {
    this._child?.kill("SIGSTOP");
  }

  /** SIGCONT after {@link hang}. */
  unhang(): void {
    this._child?.kill("SIGCONT");
  }

  /** Stop producing blocks (the head goes stale) while still answering RPC. */
  async haltBlocks(): Promise<void> {
    if (this.spec.impl === "ganache") await rpc(this.url, "miner_stop");
    else {
      await rpc(this.url, "evm_setAutomine", [false]);
      await rpc(this.url, "evm_setIntervalMining", [0]);
    }
  }

  /** Resume block production after {@link haltBlocks}. */
  async resumeBlocks(): Promise<void> {
    if (this.spec.impl === "ganache") await rpc(this.url, "miner_start");
    else await rpc(this.url, "evm_setIntervalMining", [this._intervalArg()]);
  }

  /** Kill, then start again on the same port, optionally with another chain id. */
  async restart(changes: Partial<Pick<NodeSpec, "chainId">> = {}): Promise<void> {
    await this.stop();
    Object.assign(this.spec, changes);
    await this.start();
  }

  /** Stop the node for good (SIGCONT first in case it is hung, then SIGKILL). Idempotent. */
  async stop(): Promise<void> {
    if (!this._child || !this.running) return;
    this._stopped = true;
    this._child.kill("SIGCONT");
    await this._signalAndWait("SIGKILL");
  }

  /** Last output of the node process, for error messages. */
  get output(): string {
    return this._output;
  }

  private async _signalAndWait(sig: NodeJS.Signals): Promise<void> {
    const child = this._child;
    if (!child || !this.running) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill(sig);
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
  }

  private _intervalArg(): number {
    // anvil takes seconds, hardhat milliseconds.
    return this.spec.impl === "anvil" ? this.spec.blockTimeSec : this.spec.blockTimeSec * 1000;
  }

  private async _ensureIntervalMining(): Promise<void> {
    if (this.spec.impl === "hardhat") {
      await rpc(this.url, "evm_setIntervalMining", [this._intervalArg()]);
    }
  }
}
