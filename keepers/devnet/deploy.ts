/**
 * Deploy the devnet's Vigil with the same code as every other deployment: `deployVigil` of
 * scripts/deploy.ts (Hardhat Ignition, ignition/modules/Vigil.ts), on Hardhat's `localhost` network
 * pointed at the devnet's control chain. Hardhat is loaded here, on first use, never at CLI start-up.
 */
import fs from "node:fs";
import path from "node:path";
import { JsonRpcProvider } from "ethers";
import { IEndpointRegistry__factory, IMarketGuard__factory } from "../../typechain-types";
import { REPO_ROOT } from "../../scripts/drill/nodes";
import { CONTROL_CHAIN_ID, devnetDeployParams } from "./params";
import type { DevnetDeployment } from "./configs";

/**
 * Deploy Vigil and the demo service onto the chain at `chainUrl` (fresh or not: a new Ignition
 * deployment id each time, its journal removed afterwards, since the devnet's chain lives only as
 * long as the devnet). The deployer is the node's first unlocked account (anvil's #0).
 * Call once per process: Hardhat's runtime binds the network on first load.
 * @param nodeUrls the demo service's endpoints, in priority order.
 * @returns the addresses and the demo service id. Throws what Ignition throws (with its message).
 */
export async function deployDevnet(chainUrl: string, nodeUrls: readonly string[]): Promise<DevnetDeployment> {
  const root = REPO_ROOT;
  process.env.HARDHAT_CONFIG = path.join(root, "hardhat.config.ts");
  process.env.HARDHAT_NETWORK = "localhost";
  process.env.VIGIL_LOCAL_RPC_URL = chainUrl;
  process.env.TS_NODE_TRANSPILE_ONLY ??= "true";
  // Hardhat loaded as a library does not register ts-node for its TypeScript config; the built CLI
  // (dist/) runs without it, so register it here (transpile only), once.
  if (!(process as unknown as Record<symbol, unknown>)[Symbol.for("ts-node.register.instance")]) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    (require("ts-node") as typeof import("ts-node")).register({
      transpileOnly: true,
      project: path.join(root, "tsconfig.json"),
    });
  }
  const { deployVigil } = (await import("../../scripts/deploy")) as typeof import("../../scripts/deploy");
  const deploymentId = `devnet-${Date.now()}`;
  let deployed;
  try {
    deployed = await deployVigil(devnetDeployParams(nodeUrls), deploymentId, "devnet parameters", {
      requiredConfirmations: 1,
    });
  } finally {
    fs.rmSync(path.join(root, "ignition", "deployments", deploymentId), { recursive: true, force: true });
  }
  const provider = new JsonRpcProvider(chainUrl, CONTROL_CHAIN_ID, { staticNetwork: true });
  try {
    const [serviceId] = await IEndpointRegistry__factory.connect(deployed.registry, provider).services();
    const market = await IMarketGuard__factory.connect(deployed.guard, provider).marketConfig(1n);
    if (market.market.toLowerCase() !== deployed.markets[0].toLowerCase())
      throw new Error(`guard market 1 is ${market.market}, not the deployed ${deployed.markets[0]}`);
    return {
      oracle: deployed.oracle,
      registry: deployed.registry,
      guard: deployed.guard,
      market: deployed.markets[0],
      serviceId,
    };
  } finally {
    provider.destroy();
  }
}
