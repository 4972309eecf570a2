/**
 * Which signed transactions go into which block of a replicated chain (scripts/drill/replicas.ts).
 *
 * Clients send raw transactions to whichever replica they talk to. The replica driver gossips them: it
 * collects every replica's pool (`txpool_content`, then `eth_getRawTransactionByHash` for the raw bytes)
 * into this ledger, plans each new block from the ledger's pending transactions, and sends the planned raw
 * bytes to every replica before it mines that block there. The first replica to mine block n with nothing
 * outside the plan fixes block n (its hash and its transactions, in order); every other replica, and every
 * replica replayed later (restarted, resumed, unforked), must reproduce that hash.
 */

/** A transaction waiting in a node's pool (anvil `txpool_content`, pending and queued). */
export interface PoolTx {
  hash: string;
  from: string;
}

/** A block the honest chain fixed: its hash and its transaction hashes, in block order. */
export interface FixedBlock {
  hash: string;
  txs: string[];
}

/** Plans a pending transaction may stay unmined before it is dropped (e.g. a nonce already used). */
const MAX_PLANS = 30;

/** The honest chain's transactions: pending raw bytes, the plan per block, and the blocks fixed so far. */
export class TxLedger {
  /** hash → raw, for every transaction the ledger has seen. */
  private readonly _raw = new Map<string, string>();
  /** Hashes not yet in a fixed block, in the order first seen → plans they were in. */
  private readonly _pending = new Map<string, number>();
  private readonly _plans = new Map<number, string[]>();
  private readonly _fixed = new Map<number, FixedBlock>();
  /** Transaction hash → the number of the fixed block that has it. */
  private readonly _blockOf = new Map<string, number>();

  /** Whether the ledger already has `hash` (pending or mined). */
  has(hash: string): boolean {
    return this._raw.has(hash.toLowerCase());
  }

  /** Keep a raw transaction seen in a pool or a block; pending unless a fixed block has it. */
  add(hash: string, raw: string): void {
    const h = hash.toLowerCase();
    if (this._raw.has(h)) return;
    this._raw.set(h, raw);
    if (!this._blockOf.has(h)) this._pending.set(h, 0);
  }

  /** Raw bytes of a known transaction. */
  raw(hash: string): string | undefined {
    return this._raw.get(hash.toLowerCase());
  }

  /** Number of transactions seen, and of those in fixed blocks. */
  get counts(): { seen: number; mined: number } {
    return { seen: this._raw.size, mined: this._blockOf.size };
  }

  /**
   * The transactions block n must carry, in order: the fixed block's when n is fixed, else its plan (made once,
   * from every pending transaction, the first time a replica mines n).
   */
  txsFor(n: number): string[] {
    const fixed = this._fixed.get(n);
    if (fixed) return fixed.txs;
    let plan = this._plans.get(n);
    if (!plan) {
      plan = [...this._pending.keys()];
      for (const h of plan) {
        const k = (this._pending.get(h) ?? 0) + 1;
        if (k > MAX_PLANS) this._pending.delete(h);
        else this._pending.set(h, k);
      }
      this._plans.set(n, plan);
    }
    return plan;
  }

  /** Block n as fixed by the first replica that mined it within its plan; undefined before. */
  fixed(n: number): FixedBlock | undefined {
    return this._fixed.get(n);
  }

  /**
   * Fix block n when the block a replica just mined carries nothing outside the plan.
   * @returns true when `block` is (now) block n of the honest chain.
   */
  offer(n: number, block: FixedBlock): boolean {
    const fixed = this._fixed.get(n);
    if (fixed) return fixed.hash === block.hash;
    const plan = new Set(this.txsFor(n));
    const txs = block.txs.map((h) => h.toLowerCase());
    if (!txs.every((h) => plan.has(h) && this._raw.has(h))) return false;
    this._fixed.set(n, { hash: block.hash, txs });
    this._plans.delete(n);
    for (const h of txs) {
      this._blockOf.set(h, n);
      this._pending.delete(h);
    }
    return true;
  }

  /** Number of the honest block that includes `hash`, or undefined while it is not included. */
  blockOf(hash: string): number | undefined {
    return this._blockOf.get(hash.toLowerCase());
  }
}

/**
 * One JSON-RPC call. Without `timeoutMs` the request is never aborted (the replica driver must know whether a
 * state-changing call ran); read-only calls pass a deadline. A dead process rejects at once.
 */
export async function nodeCall<T = unknown>(
  url: string,
  method: string,
  params: unknown[] = [],
  timeoutMs?: number,
): Promise<T> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
    signal: timeoutMs ? AbortSignal.timeout(timeoutMs) : undefined,
  });
  const body = (await res.json()) as { result?: T; error?: { message: string } };
  if (body.error) throw new Error(`${method}: ${body.error.message}`);
  return body.result as T;
}

/** Every transaction in an anvil node's pool (pending and queued). Throws as {@link nodeCall}. */
export async function poolOf(url: string, timeoutMs?: number): Promise<PoolTx[]> {
  type Group = Record<string, Record<string, { hash: string; from: string }>>;
  const c = await nodeCall<{ pending?: Group; queued?: Group }>(url, "txpool_content", [], timeoutMs);
  const out: PoolTx[] = [];
  for (const group of [c.pending ?? {}, c.queued ?? {}])
    for (const byNonce of Object.values(group))
      for (const tx of Object.values(byNonce))
        out.push({ hash: tx.hash.toLowerCase(), from: tx.from.toLowerCase() });
  return out;
}

/**
 * Copy into `ledger` every transaction of `hashes` it does not have yet, reading the raw bytes from `url`
 * (a pool's or a block's transaction). Transactions that vanish meanwhile are skipped.
 */
export async function adopt(
  ledger: TxLedger,
  url: string,
  hashes: string[],
  timeoutMs?: number,
): Promise<void> {
  for (const h of hashes) {
    if (ledger.has(h)) continue;
    const raw = await nodeCall<string | null>(url, "eth_getRawTransactionByHash", [h], timeoutMs);
    if (raw) ledger.add(h, raw);
  }
}

const hex = (n: number) => `0x${n.toString(16)}`;

/**
 * Copy `url`'s pool into `ledger` with a deadline per call, leaving out `exclude`'s transactions (a fork's
 * own). Errors are swallowed: a dead, hung or restarting node is collected once it answers.
 */
export async function collectPool(
  ledger: TxLedger,
  url: string,
  timeoutMs: number,
  exclude: string,
): Promise<void> {
  try {
    const pool = (await poolOf(url, timeoutMs)).filter((p) => p.from !== exclude);
    await adopt(
      ledger,
      url,
      pool.map((p) => p.hash),
      timeoutMs,
    );
  } catch {
    // collected on a later pass
  }
}

/** Adopt into `ledger` the transactions of block n of a forked node at `url`, except `exclude`'s. */
export async function adoptBlock(ledger: TxLedger, url: string, n: number, exclude: string): Promise<void> {
  const b = await nodeCall<{ transactions: { hash: string; from: string }[] }>(url, "eth_getBlockByNumber", [
    hex(n),
    true,
  ]);
  await adopt(
    ledger,
    url,
    b.transactions.filter((t) => t.from.toLowerCase() !== exclude).map((t) => t.hash),
  );
}

/**
 * Mine honest block n at `timestampSec` on the anvil at `url`, whose head is n − 1: send block n's
 * transactions, mine, and check the block against the honest one (or fix it, when this node is the first
 * to mine n). On a mismatch (a transaction reached the pool in between, or the pool held them in another
 * order) the block's transactions are kept in the ledger, the block is rolled back (`anvil_rollback`), the
 * pool emptied (its transactions kept too, but `exclude`'s) and block n mined again from the ledger alone,
 * with the base fee the rolled-back block had.
 * No call is aborted (see {@link nodeCall}). Throws after 4 attempts, or as the node does.
 */
export async function mineHonest(
  ledger: TxLedger,
  url: string,
  n: number,
  timestampSec: number,
  exclude: string,
): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const txs = ledger.txsFor(n);
    if (attempt > 0) {
      const pool = await poolOf(url);
      await adopt(
        ledger,
        url,
        pool.filter((p) => p.from !== exclude).map((p) => p.hash),
      );
      for (const p of pool) await nodeCall(url, "anvil_dropTransaction", [p.hash]);
    }
    for (const h of txs) await nodeCall(url, "eth_sendRawTransaction", [ledger.raw(h)]).catch(() => null);
    await nodeCall(url, "evm_mine", [timestampSec]);
    const b = await nodeCall<{ hash: string; transactions: string[]; baseFeePerGas: string }>(
      url,
      "eth_getBlockByNumber",
      [hex(n), false],
    );
    if (ledger.offer(n, { hash: b.hash, txs: b.transactions })) return;
    await adopt(ledger, url, b.transactions);
    await nodeCall(url, "anvil_rollback", [1]);
    // anvil's fee tracker keeps the rolled-back block: give block n its base fee again (the parent's rule).
    await nodeCall(url, "anvil_setNextBlockBaseFeePerGas", [b.baseFeePerGas]);
    if (attempt >= 3) throw new Error(`block ${n} on ${url} differs from the honest block after 4 attempts`);
  }
}
