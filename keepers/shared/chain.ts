import fs from "node:fs";
import {
  FallbackProvider,
  JsonRpcProvider,
  Network,
  Wallet,
  type AbstractProvider,
  type Provider,
  type Signer,
} from "ethers";
import { VigilError } from "./errors";

export interface ProviderSettings {
  /** One or more JSON-RPC URLs of the chain that holds the Vigil contracts. */
  rpcUrls: readonly string[];
  /** Expected chain id; fixes the network (ethers `staticNetwork`) so a node for another chain
   *  cannot silently change it. */
  chainId: number;
  /** Poll interval for ethers' block/event polling, ms. Default 1000. */
  pollingIntervalMs?: number;
  /** Per-request stall timeout before FallbackProvider asks the next provider, ms. Default 2000. */
  stallTimeoutMs?: number;
}

/**
 * A provider for the control chain. One URL: a `JsonRpcProvider` with a static network. Several: an
 * ethers `FallbackProvider` (quorum 1, priority in the given order), so one dead or hung RPC does not
 * stop the keeper. A revert is an answer from the chain, and ethers does not fail it over.
 */
export function createProvider(settings: ProviderSettings): AbstractProvider {
  if (settings.rpcUrls.length === 0) {
    throw new VigilError(
      "VIGIL_CONFIG",
      "rpcUrls is empty",
      "give at least one JSON-RPC URL of the control chain",
    );
  }
  const network = Network.from(settings.chainId);
  const make = (url: string) => {
    // cacheTimeout -1: ethers otherwise answers a repeated call within 250 ms from a cache, which hands a
    // keeper a stale `pending` nonce right after it sent a transaction ("nonce too low").
    const p = new JsonRpcProvider(url, network, {
      staticNetwork: network,
      batchMaxCount: 1,
      polling: true,
      cacheTimeout: -1,
    });
    p.pollingInterval = settings.pollingIntervalMs ?? 1000;
    return p;
  };
  if (settings.rpcUrls.length === 1) return make(settings.rpcUrls[0]);
  const fallback = new FallbackProvider(
    settings.rpcUrls.map((url, i) => ({
      provider: make(url),
      priority: i + 1,
      weight: 1,
      stallTimeout: settings.stallTimeoutMs ?? 2000,
    })),
    network,
    { quorum: 1, pollingInterval: settings.pollingIntervalMs ?? 1000, cacheTimeout: -1 },
  );
  return fallback;
}

/**
 * Check that the provider serves the expected chain. Throws VIGIL_CHAIN when it does not.
 */
export async function assertChain(provider: Provider, chainId: number): Promise<void> {
  const raw = (await (provider as JsonRpcProvider).send?.("eth_chainId", [])) as string | undefined;
  const actual = raw !== undefined ? Number(BigInt(raw)) : Number((await provider.getNetwork()).chainId);
  if (actual !== chainId) {
    throw new VigilError(
      "VIGIL_CHAIN",
      `RPC serves chain ${actual}, config says ${chainId}`,
      "fix chainId or rpcUrls",
    );
  }
}

/**
 * The time the next block will have, Unix seconds, from the local clock: `max(latestTimestamp + 1, localNow)`.
 * {@link readChainClock} prefers the node's pending block and uses this only when the node serves none.
 *
 * Keepers judge reports (too far in the future? expired?) and due-ness (a grace period or cooldown over?)
 * against this, not against the latest block's timestamp, because a transaction sent now is executed in the
 * next block and the contracts compare with that block's `block.timestamp`. Blocks are sparse: 12 s apart on
 * Ethereum, and on an automining dev chain (`hardhat node`, `anvil` without `--block-time`) a block is made only
 * when a transaction arrives, so the latest block can be minutes or hours old. Judged on it, every fresh report
 * looks "from the future" and a grace period never ends. The next block can never be older than the latest + 1,
 * and a node that mines now stamps about the wall clock, hence the max.
 *
 * When the local clock is wrong, the estimate is wrong by as much (a slow clock judges by the latest block, as
 * before; a fast one calls a grace period over early or takes a report as fresh a little too long). Nothing
 * unsafe follows: every action is simulated at the pending block before it is sent (`eth_call` at `pending`,
 * which the node evaluates at the time it would stamp the next block) and the contracts re-check every rule in
 * the transaction itself, so a wrong guess costs at most a refused simulation (logged, not sent) or a reverted
 * transaction, never a wrong state.
 *
 * @param latestTimestamp The latest block's timestamp, Unix seconds.
 * @param localNowMs The local clock, ms since the epoch; default `Date.now()`.
 */
export function nextBlockTime(latestTimestamp: number, localNowMs: number = Date.now()): number {
  return Math.max(latestTimestamp + 1, Math.floor(localNowMs / 1000));
}

/** The chain's clock as a keeper reads it once per iteration. */
export interface ChainClock {
  /** Latest block number. */
  block: number;
  /** Latest block timestamp, Unix seconds. */
  latest: number;
  /** Estimated timestamp of the next block, Unix seconds (see {@link readChainClock}). */
  next: number;
  /** Where `next` came from: the node's pending block (its clock), or the local clock ({@link nextBlockTime}). */
  source: "node" | "local";
  /**
   * Local clock minus the node's pending timestamp, seconds (positive: the local clock is ahead); undefined
   * when the node serves no pending block. A keeper warns when it is large: the attestors sign with their
   * clocks, and the node's is the one the next block will carry.
   */
  skewSec?: number;
}

/**
 * Read the latest block and the time the next block will have. The node's own answer comes first: the
 * pending block it would mine now (`eth_getBlockByNumber("pending")`), stamped by the node's clock, the same
 * clock that stamps the block a transaction sent now lands in (anvil, hardhat, geth serve one). So a wrong
 * local clock changes nothing while the node answers: a fast one would otherwise throw fresh reports away as
 * expired (`observedAt + maxAge < now`), a slow one on an idle automining chain would bring back "from the
 * future". A node that serves no pending block (some providers refuse the tag, or answer with the latest
 * block) leaves the local estimate, {@link nextBlockTime}. Never earlier than the latest block + 1.
 * @throws when the node has no latest block or the call fails (a transport error, for the caller's loop to log).
 */
export async function readChainClock(
  provider: Pick<Provider, "getBlock">,
  localNow: () => number = Date.now,
): Promise<ChainClock> {
  const [block, pending] = await Promise.all([
    provider.getBlock("latest"),
    provider.getBlock("pending").catch(() => null),
  ]);
  if (!block) throw new Error("the node returned no latest block");
  const local = localNow();
  if (pending && Number.isSafeInteger(pending.timestamp) && pending.timestamp > block.timestamp) {
    return {
      block: block.number,
      latest: block.timestamp,
      next: pending.timestamp,
      source: "node",
      skewSec: Math.floor(local / 1000) - pending.timestamp,
    };
  }
  return {
    block: block.number,
    latest: block.timestamp,
    next: nextBlockTime(block.timestamp, local),
    source: "local",
  };
}

export interface KeySource {
  /** Environment variable holding a 0x-prefixed private key. */
  envVar: string;
  /** Path of an encrypted JSON keystore (EIP-2335-style ethers/geth keystore), used when the variable is unset. */
  keystorePath?: string;
  /** Environment variable holding the keystore password. */
  passwordEnvVar?: string;
}

/**
 * Load the keeper's signing key from the environment, or else from an encrypted JSON keystore.
 * Keys never come from the config file and are never logged. Throws VIGIL_KEY naming the variable
 * or file when neither gives a valid key.
 */
export async function loadWallet(source: KeySource, env: NodeJS.ProcessEnv = process.env): Promise<Wallet> {
  const raw = env[source.envVar];
  if (raw) {
    try {
      return new Wallet(raw.trim());
    } catch {
      throw new VigilError(
        "VIGIL_KEY",
        `${source.envVar} is not a valid private key`,
        "expected 0x + 64 hex digits",
      );
    }
  }
  if (source.keystorePath) {
    const passwordVar = source.passwordEnvVar ?? "VIGIL_KEYSTORE_PASSWORD";
    const password = env[passwordVar];
    if (password === undefined) {
      throw new VigilError(
        "VIGIL_KEY",
        `keystore ${source.keystorePath} needs its password in ${passwordVar}`,
      );
    }
    let json: string;
    try {
      json = fs.readFileSync(source.keystorePath, "utf8");
    } catch (e) {
      throw new VigilError("VIGIL_KEY", `cannot read keystore ${source.keystorePath}`, undefined, {
        cause: e,
      });
    }
    try {
      const wallet = await Wallet.fromEncryptedJson(json, password);
      return new Wallet(wallet.privateKey);
    } catch (e) {
      throw new VigilError(
        "VIGIL_KEY",
        `cannot decrypt keystore ${source.keystorePath}`,
        "check the password",
        {
          cause: e,
        },
      );
    }
  }
  throw new VigilError(
    "VIGIL_KEY",
    `no signing key: set ${source.envVar}` + (source.keystorePath ? "" : " or give a keystore path"),
  );
}

/** Attach a wallet to a provider. */
export function connectWallet(wallet: Wallet, provider: Provider): Signer {
  return wallet.connect(provider);
}
