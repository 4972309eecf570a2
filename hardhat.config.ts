import { subtask, vars } from "hardhat/config";
import { TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD } from "hardhat/builtin-tasks/task-names";
import type { HardhatUserConfig } from "hardhat/config";
import "@nomicfoundation/hardhat-toolbox";

/**
 * The Solidity compiler comes from the pinned npm package `solc` (soljson.js), so compiling never
 * touches the network. Hardhat's documented custom-compiler route: override the subtask that
 * resolves a solc build. A version mismatch throws instead of falling back to a download (HH502).
 */
const SOLC_VERSION = "0.8.30";

subtask(TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD, async (args: { solcVersion: string }) => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const solc = require("solc") as { version(): string };
  const longVersion = solc.version().replace(/\.Emscripten\.clang$/, "");
  if (args.solcVersion !== SOLC_VERSION || !longVersion.startsWith(SOLC_VERSION)) {
    throw new Error(
      `VIGIL_SOLC: hardhat.config.ts asks for solc ${args.solcVersion} but the npm package "solc" is ${longVersion}; ` +
        `pin both to ${SOLC_VERSION} (npm i -E solc@${SOLC_VERSION}).`,
    );
  }
  return {
    compilerPath: require.resolve("solc/soljson.js"),
    isSolcJs: true,
    version: args.solcVersion,
    longVersion,
  };
});

/**
 * Public testnets. The RPC URL and deployer key come from the environment or Hardhat's `vars`
 * (`npx hardhat vars set SEPOLIA_RPC_URL`), never from this file. When one is missing the network
 * still exists, pointing at an unroutable placeholder, and `scripts/deploy.ts` says which variable to set.
 */
export const TESTNETS = {
  sepolia: { chainId: 11155111, rpcVar: "SEPOLIA_RPC_URL" },
  baseSepolia: { chainId: 84532, rpcVar: "BASE_SEPOLIA_RPC_URL" },
  arbitrumSepolia: { chainId: 421614, rpcVar: "ARBITRUM_SEPOLIA_RPC_URL" },
  optimismSepolia: { chainId: 11155420, rpcVar: "OP_SEPOLIA_RPC_URL" },
} as const;
export const DEPLOYER_KEY_VAR = "VIGIL_DEPLOYER_KEY";
export const MISSING_RPC_PREFIX = "http://missing-rpc-url.invalid/";

function setting(name: string): string | undefined {
  return process.env[name] || (vars.has(name) ? vars.get(name) : undefined);
}

const deployerKey = setting(DEPLOYER_KEY_VAR);
const testnets = Object.fromEntries(
  Object.entries(TESTNETS).map(([name, t]) => [
    name,
    {
      url: setting(t.rpcVar) ?? `${MISSING_RPC_PREFIX}${t.rpcVar}`,
      chainId: t.chainId,
      accounts: deployerKey ? [deployerKey] : [],
    },
  ]),
);

const config: HardhatUserConfig = {
  solidity: {
    version: SOLC_VERSION,
    settings: {
      optimizer: { enabled: true, runs: 10_000 },
      evmVersion: "cancun",
      viaIR: false,
    },
  },
  networks: {
    hardhat: {
      // Deterministic gas figures and a Cancun EVM (transient storage, MCOPY).
      hardfork: "cancun",
      // The drill runs `hardhat node` as one of the monitored implementations, with its own chain id
      // and interval mining; tests leave both unset.
      chainId: Number(process.env.VIGIL_HARDHAT_CHAIN_ID ?? 31337),
      mining: process.env.VIGIL_HARDHAT_BLOCK_TIME_MS
        ? { auto: false, interval: Number(process.env.VIGIL_HARDHAT_BLOCK_TIME_MS) }
        : { auto: true },
    },
    localhost: {
      url: process.env.VIGIL_LOCAL_RPC_URL ?? "http://127.0.0.1:8545",
    },
    // The drill's control chain; the drill picks a free port and sets VIGIL_DRILL_RPC_URL.
    drill: {
      url: process.env.VIGIL_DRILL_RPC_URL ?? "http://127.0.0.1:8645",
    },
    ...testnets,
  },
  mocha: {
    timeout: 120_000,
  },
  gasReporter: {
    enabled: process.env.REPORT_GAS === "true",
  },
  // `npm run deploy` verifies what it deployed when this key is set (one Etherscan.io key: API v2, every chain).
  etherscan: {
    apiKey: setting("ETHERSCAN_API_KEY") ?? "",
    // hardhat-verify 2.1 knows sepolia, baseSepolia and arbitrumSepolia; OP Sepolia goes through the same v2 API.
    customChains: [
      {
        network: "optimismSepolia",
        chainId: TESTNETS.optimismSepolia.chainId,
        urls: {
          apiURL: "https://api.etherscan.io/v2/api",
          browserURL: "https://sepolia-optimism.etherscan.io",
        },
      },
    ],
  },
  sourcify: { enabled: false },
  typechain: {
    outDir: "typechain-types",
    target: "ethers-v6",
  },
};

export default config;
