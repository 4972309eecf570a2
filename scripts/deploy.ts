/**
 * Deploy and configure Vigil: `npm run deploy -- --network <name>`.
 *
 * Reads the parameters file `ignition/parameters/<network>.json` (or the path in VIGIL_DEPLOY_PARAMS),
 * validates it (zod; an error names the bad setting), checks that the network has an RPC URL and a
 * deployer key, then deploys through Hardhat Ignition: core contracts, attestor set, services and
 * endpoints, the optional FailoverFeeds, markets (a market may price from a FailoverFeed), the other optional adapters
 * (HealthFeeds, VigilUpkeep), ownership. Ignition journals every
 * step, so an interrupted deployment resumes where it stopped when run again, but only on the chain the journal
 * was written for (scripts/deploy/journal.ts: a local chain that lost the contracts gets a fresh deployment id,
 * any other chain an error). Prints the addresses; with an explorer API key (ETHERSCAN_API_KEY or the
 * hardhat-verify config) it verifies every contract it deployed (scripts/deploy/verify.ts).
 */
import fs from "node:fs";
import path from "node:path";
import hre from "hardhat";
import { buildVigilModule, zDeployParams, type DeployParams } from "../ignition/modules/Vigil";
import { parseConfig } from "../keepers/shared/config";
import { DEPLOYER_KEY_VAR, MISSING_RPC_PREFIX } from "../hardhat.config";
import { chooseDeploymentId, LOCAL_CHAIN_IDS } from "./deploy/journal";
import { hasExplorerKey, verifyAll, verifyRequestsOf } from "./deploy/verify";

export interface DeployedVigil {
  oracle: string;
  registry: string;
  guard: string;
  markets: string[];
  /** HealthFeed adapters, in the order of `adapters.healthFeeds`. */
  healthFeeds: string[];
  /** FailoverFeed adapters, in the order of `adapters.failoverFeeds`. */
  failoverFeeds: string[];
  /** The VigilUpkeep adapter, when `adapters.upkeep` is set. */
  upkeep?: string;
}

/**
 * Validate parameters and deploy with Ignition on the current Hardhat network.
 * @param deploymentId Ignition deployment id (its journal folder); default `chain-<chainId>`.
 * @param ignitionConfig Ignition settings, e.g. `requiredConfirmations` (1 on a local chain).
 * Throws VIGIL_CONFIG for bad parameters; Ignition errors pass through.
 */
export async function deployVigil(
  rawParams: unknown,
  deploymentId?: string,
  source = "parameters",
  ignitionConfig: { requiredConfirmations?: number } = {},
): Promise<DeployedVigil> {
  const params: DeployParams = parseConfig(zDeployParams, rawParams, source);
  await hre.run("compile", { quiet: true });
  const result = (await hre.ignition.deploy(buildVigilModule(params), {
    parameters: { VigilCore: params.core as unknown as Record<string, never> },
    deploymentId,
    displayUi: false,
    config: ignitionConfig,
  })) as unknown as Record<string, { getAddress(): Promise<string> }>;
  const markets: string[] = [];
  for (let i = 0; result[`market${i}`]; i++) markets.push(await result[`market${i}`].getAddress());
  const healthFeeds: string[] = [];
  for (let i = 0; result[`healthFeed${i}`]; i++)
    healthFeeds.push(await result[`healthFeed${i}`].getAddress());
  const failoverFeeds: string[] = [];
  for (let i = 0; result[`failoverFeed${i}`]; i++)
    failoverFeeds.push(await result[`failoverFeed${i}`].getAddress());
  return {
    oracle: await result.oracle.getAddress(),
    registry: await result.registry.getAddress(),
    guard: await result.guard.getAddress(),
    markets,
    healthFeeds,
    failoverFeeds,
    upkeep: result.upkeep ? await result.upkeep.getAddress() : undefined,
  };
}

async function main(): Promise<void> {
  const net = hre.network;
  const url = (net.config as { url?: string }).url ?? "";
  if (url.startsWith(MISSING_RPC_PREFIX)) {
    const v = url.slice(MISSING_RPC_PREFIX.length);
    throw new Error(
      `network "${net.name}" has no RPC URL: set ${v} (env) or run \`npx hardhat vars set ${v}\``,
    );
  }
  const accounts = (net.config as { accounts?: unknown }).accounts;
  if (
    net.name !== "hardhat" &&
    net.name !== "localhost" &&
    Array.isArray(accounts) &&
    accounts.length === 0
  ) {
    throw new Error(
      `network "${net.name}" has no deployer key: set ${DEPLOYER_KEY_VAR} (env) or \`npx hardhat vars set ${DEPLOYER_KEY_VAR}\``,
    );
  }
  const file =
    process.env.VIGIL_DEPLOY_PARAMS ??
    path.join(__dirname, "..", "ignition", "parameters", `${net.name}.json`);
  if (!fs.existsSync(file)) {
    throw new Error(
      `no parameters file ${file}: copy ignition/parameters/example.json there, or set VIGIL_DEPLOY_PARAMS`,
    );
  }
  const raw = JSON.parse(fs.readFileSync(file, "utf8"));
  process.stdout.write(`deploying Vigil to ${net.name} with ${path.relative(process.cwd(), file)} …\n`);
  // VIGIL_DEPLOYMENT_ID names Ignition's journal folder (default `chain-<chainId>`); a journal only resumes on
  // the chain it was written for.
  const chainId = Number((await hre.ethers.provider.getNetwork()).chainId);
  const deployments = path.join(__dirname, "..", "ignition", "deployments");
  // The in-process network keeps no journal: nothing to resume or to check.
  const choice =
    net.name === "hardhat"
      ? { id: `chain-${chainId}`, note: "" }
      : await chooseDeploymentId(deployments, chainId, process.env.VIGIL_DEPLOYMENT_ID || undefined, {
          hasCode: async (a) => (await hre.ethers.provider.getCode(a)) !== "0x",
          blockHash: async (n) => (await hre.ethers.provider.getBlock(n))?.hash ?? undefined,
        });
  if (choice.note) process.stdout.write(`${choice.note}\n`);
  const local = net.name === "hardhat" || LOCAL_CHAIN_IDS.has(chainId);
  const deployed = await deployVigil(raw, choice.id, file);
  process.stdout.write(
    [
      `HealthOracle      ${deployed.oracle}`,
      `EndpointRegistry  ${deployed.registry}`,
      `MarketGuard       ${deployed.guard}`,
      ...deployed.markets.map((m, i) => `market #${i + 1}         ${m}`),
      ...deployed.healthFeeds.map((f, i) => `HealthFeed #${i + 1}     ${f}`),
      ...deployed.failoverFeeds.map((f, i) => `FailoverFeed #${i + 1}   ${f}`),
      ...(deployed.upkeep ? [`VigilUpkeep       ${deployed.upkeep}`] : []),
      `deployment id     ${choice.id}`,
      "",
      "Next: run attestors and a responder against these addresses (README: Running against a testnet).",
      raw.owner
        ? "The owner must call acceptOwnership() on HealthOracle and MarketGuard (Ownable2Step)."
        : "",
    ]
      .filter(Boolean)
      .join("\n") + "\n",
  );
  if (local) return;
  const apiKey = (hre.config as { etherscan?: { apiKey?: unknown } }).etherscan?.apiKey;
  if (!hasExplorerKey(apiKey, net.name)) {
    process.stdout.write(
      `Verify sources: set ETHERSCAN_API_KEY (or \`npx hardhat vars set ETHERSCAN_API_KEY\`) and run the deploy again, ` +
        `or run npx hardhat ignition verify ${choice.id}.\n`,
    );
    return;
  }
  const requests = verifyRequestsOf(path.join(deployments, choice.id));
  process.stdout.write(`verifying ${requests.length} contracts on the explorer …\n`);
  const { lines, failed } = await verifyAll((task, args) => hre.run(task, args), requests);
  process.stdout.write(lines.join("\n") + "\n");
  if (failed) {
    throw new Error(
      `${failed} of ${requests.length} contracts not verified (see above); the deployment itself is complete: ` +
        `run the deploy again to retry verification`,
    );
  }
}

if (require.main === module) {
  main().catch((e) => {
    process.stderr.write(`deploy failed: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  });
}
