/**
 * The end-of-run scan of the control chain: the canonical effects (EndpointMigrated, MarketPaused,
 * MarketResumed), every transaction the responders' keys mined with its receipt, and each key's nonces and
 * queued pool transactions. What the accounting judges comes from here, never from the responders' logs.
 */
import { Interface, type JsonRpcProvider, type TransactionResponse } from "ethers";
import {
  IEndpointRegistry__factory,
  IHealthOracle__factory,
  IMarketGuard__factory,
} from "../../typechain-types";
import type { EffectEvent, MinedTx, NonceState } from "./accounting";

export interface ChainScan {
  head: number;
  events: EffectEvent[];
  txs: MinedTx[];
  nonces: NonceState[];
  /** Canonical block hashes, by number (from `fromBlock`). */
  hashes: Map<number, string>;
}

const registryIface = IEndpointRegistry__factory.createInterface() as unknown as Interface;
const guardIface = IMarketGuard__factory.createInterface() as unknown as Interface;
const oracleIface = IHealthOracle__factory.createInterface() as unknown as Interface;

/** What a responder's transaction called: a function name of the oracle, registry or guard, or `cancel`. */
export function txKind(tx: { to: string | null; from: string; data: string }): string {
  if (tx.to && tx.to.toLowerCase() === tx.from.toLowerCase() && (tx.data === "0x" || tx.data === ""))
    return "cancel";
  for (const iface of [oracleIface, registryIface, guardIface]) {
    try {
      const f = iface.parseTransaction({ data: tx.data });
      if (f) return f.name;
    } catch {
      // not this contract's
    }
  }
  return "other";
}

/** Run `fn` over `items` with at most `n` in flight. */
async function pool<T, R>(items: readonly T[], n: number, fn: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let i = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (i < items.length) {
        const k = i++;
        out[k] = await fn(items[k]);
      }
    }),
  );
  return out;
}

/**
 * Scan blocks 1..head. `fromBlock` bounds the effects and the hashes kept (the chaos run's blocks); the
 * responders' transactions are read from block 1 so that every nonce is accounted for.
 */
export async function scanChain(
  provider: JsonRpcProvider,
  addresses: { registry: string; guard: string },
  responders: readonly string[],
  fromBlock: number,
): Promise<ChainScan> {
  const head = await provider.getBlockNumber();
  const keys = new Set(responders.map((a) => a.toLowerCase()));
  const blocks = Array.from({ length: head }, (_, i) => i + 1);
  const found = await pool(blocks, 8, async (b) => {
    const block = await provider.getBlock(b, true);
    if (!block) throw new Error(`block ${b} missing in the scan`);
    const mine = block.prefetchedTransactions.filter((t) => keys.has(t.from.toLowerCase()));
    return { b, hash: block.hash!, mine };
  });
  const hashes = new Map<number, string>();
  const ours: { b: number; t: TransactionResponse }[] = [];
  for (const f of found) {
    if (f.b >= fromBlock) hashes.set(f.b, f.hash);
    for (const t of f.mine) ours.push({ b: f.b, t });
  }
  const txs = await pool(ours, 8, async ({ b, t }): Promise<MinedTx> => {
    const r = await provider.getTransactionReceipt(t.hash);
    return {
      from: t.from.toLowerCase(),
      nonce: t.nonce,
      block: b,
      hash: t.hash,
      ok: r?.status === 1,
      kind: txKind({ to: t.to, from: t.from, data: t.data }),
    };
  });

  const logs = await provider.getLogs({
    fromBlock,
    toBlock: head,
    address: [addresses.registry, addresses.guard],
  });
  const events: EffectEvent[] = [];
  for (const log of logs) {
    const base = { block: log.blockNumber, tx: log.transactionHash, logIndex: log.index };
    const iface = log.address.toLowerCase() === addresses.registry.toLowerCase() ? registryIface : guardIface;
    const p = iface.parseLog(log);
    if (!p) continue;
    if (p.name === "EndpointMigrated")
      events.push({
        kind: "migrated",
        serviceId: String(p.args[0]).toLowerCase(),
        from: String(p.args[1]).toLowerCase(),
        to: String(p.args[2]).toLowerCase(),
        failback: Boolean(p.args[3]),
        ...base,
      });
    else if (p.name === "MarketPaused") events.push({ kind: "paused", marketId: String(p.args[0]), ...base });
    else if (p.name === "MarketResumed")
      events.push({ kind: "resumed", marketId: String(p.args[0]), ...base });
  }

  const pool_ = (await provider.send("txpool_content", []).catch(() => null)) as {
    queued?: Record<string, Record<string, unknown>>;
  } | null;
  const queuedOf = (a: string) => {
    const q = pool_?.queued ?? {};
    const k = Object.keys(q).find((x) => x.toLowerCase() === a);
    return k ? Object.keys(q[k]).length : 0;
  };
  const nonces = await Promise.all(
    [...keys].map(async (a): Promise<NonceState> => ({
      address: a,
      latest: await provider.getTransactionCount(a, "latest"),
      pending: await provider.getTransactionCount(a, "pending"),
      queued: queuedOf(a),
    })),
  );
  return { head, events, txs, nonces, hashes };
}
