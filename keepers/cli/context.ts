/**
 * What an operator command needs: the chain connection and the contracts, from the command line, the
 * environment (`VIGIL_RPC_URL`, `VIGIL_CHAIN_ID`, `VIGIL_ORACLE`, `VIGIL_REGISTRY`, `VIGIL_GUARD`) and
 * an optional config file (any keeper's file works: they share `chain` and `contracts`), and for
 * write commands the admin key from `VIGIL_ADMIN_KEY` or an encrypted keystore.
 */
import { z } from "zod";
import type { AbstractProvider, Signer } from "ethers";
import {
  IEndpointRegistry__factory,
  IHealthOracle__factory,
  IMarketGuard__factory,
} from "../../typechain-types";
import type { IEndpointRegistry, IHealthOracle, IMarketGuard } from "../../typechain-types";
import { assertChain, createProvider, loadWallet } from "../shared/chain";
import { commonFlags, type CommonOptions } from "../shared/cli";
import { COMMON_ENV, loadConfig, zAddress, zUrl, type EnvOverride } from "../shared/config";
import { VigilError } from "../shared/errors";
import { jsonRpcCall, parseQuantity } from "../attestor/probes/transport";
import { redactUrls } from "../shared/redact";

/**
 * What an operator command reads: the common keys of every keeper's file (`chain`, `contracts`), every
 * key optional here so that any keeper's file (attestor, responder, dashboard) works and the rest is
 * ignored. A missing value is reported by the command that needs it, naming its flag.
 */
export const cliConfigSchema = z
  .object({
    chain: z
      .object({
        rpcUrls: z.array(zUrl).min(1, "give --rpc-url or set VIGIL_RPC_URL"),
        chainId: z.number().int().positive().optional(),
      })
      .passthrough()
      .default({ rpcUrls: [] }),
    contracts: z
      .object({
        oracle: zAddress.optional(),
        registry: zAddress.optional(),
        guard: zAddress.optional(),
      })
      .passthrough()
      .default({}),
  })
  .passthrough();

export type CliConfig = z.output<typeof cliConfigSchema>;

/** The environment an operator command reads ({@link COMMON_ENV}'s chain and contracts entries). */
export const CLI_ENV: readonly EnvOverride[] = COMMON_ENV.filter(
  (o) => o.path.startsWith("chain.") || o.path.startsWith("contracts."),
);

/** An open connection to the Vigil contracts; `close()` releases the provider. */
export interface CliContext {
  config: CliConfig & { chain: { rpcUrls: string[]; chainId: number } };
  provider: AbstractProvider;
  oracle(): IHealthOracle;
  registry(): IEndpointRegistry;
  guard(): IMarketGuard;
  /** The admin signer (VIGIL_ADMIN_KEY or --keystore), connected. */
  admin(keystore?: string): Promise<Signer>;
  close(): void;
}

/**
 * Resolve the config and connect. Without a chain id, asks the first RPC (`eth_chainId`, 5 s timeout);
 * with one, checks the RPC serves it (VIGIL_CHAIN otherwise).
 */
export async function openContext(
  opts: CommonOptions,
  env: NodeJS.ProcessEnv = process.env,
): Promise<CliContext> {
  const config = loadConfig(cliConfigSchema, opts.config, CLI_ENV, env, commonFlags(opts));
  const rpcUrls = config.chain.rpcUrls;
  let chainId = config.chain.chainId;
  if (chainId === undefined) {
    try {
      const raw = await jsonRpcCall(rpcUrls[0], "eth_chainId", [], {
        signal: AbortSignal.timeout(5_000),
      });
      chainId = parseQuantity(raw, "eth_chainId");
    } catch (e) {
      throw new VigilError(
        "VIGIL_CHAIN",
        redactUrls(`cannot reach ${rpcUrls[0]}: ${(e as Error).message}`),
        "check --rpc-url (or VIGIL_RPC_URL) and that the node is running",
      );
    }
  }
  const provider = createProvider({ rpcUrls: rpcUrls, chainId });
  try {
    await assertChain(provider, chainId);
  } catch (e) {
    provider.destroy();
    if (e instanceof VigilError) throw e;
    throw new VigilError(
      "VIGIL_CHAIN",
      redactUrls(
        `cannot reach ${rpcUrls.join(", ")}: ${(e as { shortMessage?: string }).shortMessage ?? (e as Error).message}`,
      ),
      "check --rpc-url (or VIGIL_RPC_URL) and that the node is running",
    );
  }
  const need = (name: "oracle" | "registry" | "guard", env: string): string => {
    const a = config.contracts[name];
    if (!a) {
      throw new VigilError(
        "VIGIL_CONFIG",
        `no ${name} address`,
        `pass --${name}, set ${env} or contracts.${name} in the --config file`,
      );
    }
    return a;
  };
  return {
    config: { ...config, chain: { ...config.chain, rpcUrls, chainId } },
    provider,
    oracle: () => IHealthOracle__factory.connect(need("oracle", "VIGIL_ORACLE"), provider),
    registry: () => IEndpointRegistry__factory.connect(need("registry", "VIGIL_REGISTRY"), provider),
    guard: () => IMarketGuard__factory.connect(need("guard", "VIGIL_GUARD"), provider),
    admin: async (keystore) => {
      const wallet = await loadWallet(
        { envVar: "VIGIL_ADMIN_KEY", keystorePath: keystore, passwordEnvVar: "VIGIL_KEYSTORE_PASSWORD" },
        env,
      );
      return wallet.connect(provider);
    },
    close: () => provider.destroy(),
  };
}

/**
 * Turn a failed transaction or call into a VIGIL_TX error naming the contract's custom error and its
 * arguments (ethers decodes them from the typed interface), e.g.
 * `HealthOracleInvalidQuorum(4, 2)`.
 */
export function txError(e: unknown, what: string): VigilError {
  if (e instanceof VigilError) return e;
  const err = e as {
    code?: string;
    shortMessage?: string;
    message?: string;
    revert?: { name: string; args: unknown[] } | null;
    reason?: string | null;
  };
  if (err?.revert) {
    const args = err.revert.args.map((a) => String(a)).join(", ");
    return new VigilError(
      "VIGIL_TX",
      `${what} reverted: ${err.revert.name}(${args})`,
      "see the contract's NatSpec for this error",
      {
        cause: e,
      },
    );
  }
  if (err?.code === "CALL_EXCEPTION") {
    return new VigilError(
      "VIGIL_TX",
      `${what} reverted${err.reason ? `: ${err.reason}` : " without a reason"}`,
      "check the contract address and that the admin key is its owner",
      { cause: e },
    );
  }
  return new VigilError(
    "VIGIL_TX",
    `${what} failed: ${redactUrls(err?.shortMessage ?? err?.message ?? String(e))}`,
    undefined,
    {
      cause: e,
    },
  );
}
