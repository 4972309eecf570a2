import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { freePort, rpc } from "../../scripts/drill/nodes";

export const ROOT = path.resolve(__dirname, "..", "..");
const HARDHAT = path.join(ROOT, "node_modules/hardhat/internal/cli/cli.js");

/**
 * Run a CLI (`node <script> ...args`) from the repo root; resolves with exit code and all output.
 * Resolves on `close`, not `exit`: a process may exit before its last output has been read.
 */
export function runNode(
  script: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [script, ...args], { cwd: ROOT, env: { ...process.env, ...env } });
    let out = "";
    child.stdout.on("data", (b) => (out += b.toString()));
    child.stderr.on("data", (b) => (out += b.toString()));
    child.on("close", (code) => resolve({ code, out }));
  });
}

/** `npx hardhat <args>` without npx (so signals and exit codes are the process's own). */
export function runHardhat(args: string[], env: NodeJS.ProcessEnv = {}) {
  return runNode(HARDHAT, args, env);
}

/**
 * A real `hardhat node` on a free loopback port (automine), for end-to-end tests. `stop()` kills it
 * and resolves once it has exited.
 */
export async function startHardhatNode(): Promise<{ url: string; stop(): Promise<void> }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(
    process.execPath,
    [HARDHAT, "node", "--hostname", "127.0.0.1", "--port", String(port)],
    {
      cwd: ROOT,
      env: { ...process.env, HARDHAT_NETWORK: "hardhat", TS_NODE_TRANSPILE_ONLY: "true" },
      stdio: "ignore",
    },
  );
  let hasExited = false;
  const exited = new Promise<void>((resolve) =>
    child.once("exit", () => {
      hasExited = true;
      resolve();
    }),
  );
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      await rpc(url, "eth_chainId");
      break;
    } catch (e) {
      if (Date.now() > deadline || hasExited) {
        child.kill("SIGKILL");
        await exited;
        throw e;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  return {
    url,
    stop: async () => {
      child.kill("SIGKILL");
      await exited;
    },
  };
}

/**
 * Deploy Vigil with `scripts/deploy.ts --network localhost` and the example parameters onto `url`.
 * @returns the printed addresses and a cleanup for Ignition's journal.
 */
export async function deployExample(url: string, deploymentId: string) {
  const { code, out } = await runHardhat(["run", "scripts/deploy.ts", "--network", "localhost"], {
    HARDHAT_NETWORK: "",
    VIGIL_LOCAL_RPC_URL: url,
    VIGIL_DEPLOY_PARAMS: path.join(ROOT, "ignition/parameters/example.json"),
    VIGIL_DEPLOYMENT_ID: deploymentId,
  });
  const addr = (label: string) => out.match(new RegExp(`${label}\\s+(0x[0-9a-fA-F]{40})`))?.[1] ?? "";
  return {
    code,
    out,
    oracle: addr("HealthOracle"),
    registry: addr("EndpointRegistry"),
    guard: addr("MarketGuard"),
    cleanup: () =>
      fs.rmSync(path.join(ROOT, "ignition", "deployments", deploymentId), { recursive: true, force: true }),
  };
}
