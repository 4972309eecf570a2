import { spawn, type ChildProcess } from "node:child_process";
import { ContractFactory, HDNodeWallet, JsonRpcProvider, Network, type Contract, type Signer } from "ethers";
import hre from "hardhat";
import { anvilBinary, freePort, rpc } from "../../../scripts/drill/nodes";

/** anvil's well-known dev keys (mnemonic "test test … junk"), accounts 0..9, each funded with 10,000 ETH. */
export const ANVIL_KEYS = Array.from(
  { length: 10 },
  (_, i) =>
    HDNodeWallet.fromPhrase(
      "test test test test test test test test test test test junk",
      undefined,
      `m/44'/60'/0'/0/${i}`,
    ).privateKey,
);

/** A real anvil node on a free loopback port, spawned as the binary itself (signals reach it). */
export class Anvil {
  private constructor(
    readonly url: string,
    readonly chainId: number,
    private readonly child: ChildProcess,
  ) {}

  static async start(opts: { chainId?: number; noMining?: boolean; args?: string[] } = {}): Promise<Anvil> {
    const port = await freePort();
    const chainId = opts.chainId ?? 31337;
    const args = ["--host", "127.0.0.1", "--port", String(port), "--chain-id", String(chainId), "--silent"];
    if (opts.noMining) args.push("--no-mining");
    args.push(...(opts.args ?? []));
    const child = spawn(anvilBinary(), args, { stdio: "ignore" });
    const url = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        await rpc(url, "eth_chainId", [], 500);
        return new Anvil(url, chainId, child);
      } catch (e) {
        if (Date.now() > deadline || child.exitCode !== null) {
          child.kill("SIGKILL");
          throw new Error(`anvil did not start: ${String(e)}`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  provider(pollingMs = 100): JsonRpcProvider {
    const network = Network.from(this.chainId);
    const p = new JsonRpcProvider(this.url, network, {
      staticNetwork: network,
      batchMaxCount: 1,
      cacheTimeout: -1,
    });
    p.pollingInterval = pollingMs;
    return p;
  }

  send<T = unknown>(method: string, params: unknown[] = []): Promise<T> {
    return rpc<T>(this.url, method, params, 5000);
  }

  mine(blocks = 1): Promise<unknown> {
    return this.send("anvil_mine", [blocks]);
  }

  async stop(): Promise<void> {
    // A SIGKILLed child has exitCode null and signalCode set: either means it already exited (a second
    // stop() must not wait for an exit event that has been emitted).
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      this.child.once("exit", () => resolve());
      this.child.kill("SIGKILL");
    });
  }
}

/** Deploy a compiled contract of this repo by artifact name with `signer` and wait for it. */
export async function deployArtifact(name: string, args: unknown[], signer: Signer): Promise<Contract> {
  const a = await hre.artifacts.readArtifact(name);
  const c = await new ContractFactory(a.abi, a.bytecode, signer).deploy(...args);
  await c.waitForDeployment();
  return c as Contract;
}
