import fs from "node:fs";
import { Wallet, type AbstractProvider, type JsonRpcProvider, type Provider, type Signer } from "ethers";
import { VigilError } from "./errors";
import type { Logger } from "./logger";
import type { Metrics } from "./metrics";
import { RpcPool, poolOf } from "./rpcPool";

export interface ProviderSettings {
  /** One or more JSON-RPC URLs of the chain that holds the Vigil contracts. */
  rpcUrls: readonly string[];
  /** Expected chain id; fixes the network (no detection) so a node for another chain cannot silently change it. */
  chainId: number;
  /** Poll interval for ethers' block/event polling and the pool's head checks, ms. Default 1000. */
  pollingIntervalMs?: number;
  /** Deadline of every request to one RPC, ms (config `chain.rpcTimeoutMs`). Default 2000. */
  stallTimeoutMs?: number;
  /** Blocks behind the highest head beyond which an RPC counts as lagging. Default 3. */
  lagBlocks?: number;
  /** How long an RPC may sit behind the highest head without advancing before it counts as frozen, ms.
   *  Default 10 000. */
  frozenAfterMs?: number;
  /** Where the pool logs each change of an RPC's state (down, frozen, lagging, fresh again). */
  logger?: Logger;
  /** Registry for `vigil_rpc_faults_total`, `vigil_rpc_up`, `vigil_rpc_head_lag_blocks`. */
  metrics?: Metrics;
}

/**
 * The RPC pool of the control chain over `rpcUrls` (one URL or several): every request to one RPC has a
 * deadline, a dead or hung RPC is skipped and re-probed, transactions go to every RPC, receipts come from any,
 * the highest head wins, and the rest fails over from the freshest RPC (keepers/shared/rpcPool.ts).
 * The caller destroys it (`pool.destroy()` or `pool.provider.destroy()`).
 * @throws VigilError VIGIL_CONFIG when `rpcUrls` is empty.
 */
export function createRpcPool(settings: ProviderSettings): RpcPool {
  return new RpcPool({
    urls: settings.rpcUrls,
    chainId: settings.chainId,
    timeoutMs: settings.stallTimeoutMs,
    pollingIntervalMs: settings.pollingIntervalMs,
    lagBlocks: settings.lagBlocks,
    frozenAfterMs: settings.frozenAfterMs,
    logger: settings.logger,
    metrics: settings.metrics,
  });
}

/**
 * A provider for the control chain: the ethers facade of {@link createRpcPool}, for any number of URLs. With
 * one URL a hung RPC makes each request fail with a TIMEOUT after `stallTimeoutMs` instead of hanging; with
 * several, one dead, hung, frozen or lagging RPC does not stop the keeper. A revert is an answer from the
 * chain and is not failed over. (ethers' `FallbackProvider` with quorum 1 is no failover: it throws the first
 * provider's connection error and waits on a hung one; see TOOLCHAIN.md.)
 * @throws VigilError VIGIL_CONFIG when `rpcUrls` is empty.
 */
export function createProvider(settings: ProviderSettings): AbstractProvider {
  return createRpcPool(settings).provider;
}

/**
 * Check that the provider serves the expected chain. For a pool every RPC that answers is asked, and one
 * serving another chain fails the check; RPCs that do not answer are left to the pool (it re-probes them).
 * @throws VigilError VIGIL_CHAIN when an RPC serves another chain; the transport error when none answers.
 */
export async function assertChain(provider: Provider, chainId: number): Promise<void> {
  const pool = poolOf(provider);
  if (pool) {
    const answers = await pool.each((p) => p.send("eth_chainId", []) as Promise<string>);
    const ok = answers.filter((a) => a.ok);
    if (ok.length === 0) throw answers.find((a) => !a.ok)?.error ?? new Error("no RPC answered eth_chainId");
    for (const a of ok) {
      const actual = Number(BigInt(a.value));
      if (actual !== chainId) {
        throw new VigilError(
          "VIGIL_CHAIN",
          `RPC serves chain ${actual}, config says ${chainId} (${a.member.label})`,
          "fix chainId or rpcUrls",
        );
      }
    }
    return;
  }
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
