import { subtask } from "hardhat/config";
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
    },
    localhost: {
      url: process.env.VIGIL_LOCAL_RPC_URL ?? "http://127.0.0.1:8545",
    },
  },
  mocha: {
    timeout: 120_000,
  },
  gasReporter: {
    enabled: process.env.REPORT_GAS === "true",
  },
  typechain: {
    outDir: "typechain-types",
    target: "ethers-v6",
  },
};

export default config;
