/**
 * A client load on the monitored service, as a front end and a trading bot make it: reads at a fixed rate
 * (`eth_blockNumber` and `eth_getBlockByNumber("latest")`, alternately, open loop: a slow answer never
 * delays the next request) and a trader's signed ETH transfer every few seconds, all sent to one URL (the
 * gateway's `/<service>`, or a node directly). Every request is recorded with when it was sent, when it
 * ended, what block it answered and whether it failed; scripts/drill/clients.ts turns the records into the
 * per-fault figures. Each transfer comes from a fresh genesis account (nonce 0), so a lost transaction never
 * strands the ones after it.
 */
import { HDNodeWallet, keccak256 } from "ethers";

/** One read: `block` is the head it answered (null when it failed). */
export interface ReadSample {
  sentAtMs: number;
  endedAtMs: number;
  method: "eth_blockNumber" | "eth_getBlockByNumber";
  block: number | null;
  /** The honest head (the replica driver's tip) when the answer arrived. */
  honestHead: number;
  error: string | null;
}

/** One transaction: `hash` when the URL answered with `keccak256(raw)`, else the error. */
export interface TxSample {
  sentAtMs: number;
  endedAtMs: number;
  hash: string;
  accepted: boolean;
  error: string | null;
}

export interface LoadOptions {
  /** Where every request goes. */
  url: string;
  /** Reads per second (default 20). */
  readsPerSecond?: number;
  /** Milliseconds between two transactions (default 2000). */
  txIntervalMs?: number;
  /** A request's deadline, ms (default 6000: above the gateway's own 5 s deadline). */
  timeoutMs?: number;
  chainId: number;
  /** Genesis accounts (anvil's mnemonic, `m/44'/60'/0'/0/i`) this client may send from: [first, end). */
  accounts: [number, number];
  /** The honest head now (for stale answers). */
  honestHead: () => number;
}

const MNEMONIC = "test test test test test test test test test test test junk";
/** Where the traders' transfers go: a burn address (1 wei each). */
const SINK = "0x000000000000000000000000000000000000dEaD";

/** One client: start it, stop it, read its samples. */
export class ClientLoad {
  readonly reads: ReadSample[] = [];
  readonly txs: TxSample[] = [];
  private _timers: NodeJS.Timeout[] = [];
  private _inFlight = new Set<Promise<void>>();
  private _next: number;
  private _seq = 0;
  private readonly _root = HDNodeWallet.fromPhrase(MNEMONIC, undefined, "m/44'/60'/0'/0");

  constructor(private readonly o: LoadOptions) {
    this._next = o.accounts[0];
  }

  /**
   * Start sending (reads at once, the first transaction after one interval). Reads keep to the rate on
   * average: each timer tick sends every read due since the start, so a late timer never lowers the rate.
   */
  start(): void {
    const rate = this.o.readsPerSecond ?? 20;
    const startedAt = Date.now();
    let sent = 0;
    this._timers.push(
      setInterval(() => {
        const due = Math.floor(((Date.now() - startedAt) * rate) / 1000);
        for (; sent < due; sent++) this._track(this._read());
      }, 1000 / rate),
    );
    this._timers.push(setInterval(() => this._track(this._sendTx()), this.o.txIntervalMs ?? 2000));
  }

  /** Stop sending and wait for the requests in flight (each ends by its deadline). */
  async stop(): Promise<void> {
    for (const t of this._timers) clearInterval(t);
    this._timers = [];
    await Promise.all([...this._inFlight]);
  }

  /** Accounts used so far. */
  get accountsUsed(): number {
    return this._next - this.o.accounts[0];
  }

  private _track(p: Promise<void>): void {
    this._inFlight.add(p);
    void p.finally(() => this._inFlight.delete(p));
  }

  private async _read(): Promise<void> {
    const method = this._seq++ % 2 === 0 ? "eth_blockNumber" : "eth_getBlockByNumber";
    const params = method === "eth_blockNumber" ? [] : ["latest", false];
    const sentAtMs = Date.now();
    let block: number | null = null;
    let error: string | null = null;
    try {
      const r = await this._call<string | { number: string } | null>(method, params);
      const hex = typeof r === "string" ? r : r?.number;
      if (typeof hex !== "string") throw new Error("no block in the answer");
      block = Number(BigInt(hex));
    } catch (e) {
      error = (e as Error).message;
    }
    const endedAtMs = Date.now();
    this.reads.push({ sentAtMs, endedAtMs, method, block, honestHead: this.o.honestHead(), error });
  }

  private async _sendTx(): Promise<void> {
    if (this._next >= this.o.accounts[1]) return; // out of fresh accounts: the load is sized for the drill
    const wallet = this._root.deriveChild(this._next++);
    const raw = await wallet.signTransaction({
      type: 2,
      chainId: this.o.chainId,
      nonce: 0,
      to: SINK,
      value: 1n,
      gasLimit: 21_000n,
      maxFeePerGas: 10n ** 10n,
      maxPriorityFeePerGas: 10n ** 9n,
    });
    const hash = keccak256(raw).toLowerCase();
    const sentAtMs = Date.now();
    let accepted = false;
    let error: string | null = null;
    try {
      const r = await this._call<string>("eth_sendRawTransaction", [raw]);
      if (typeof r !== "string" || r.toLowerCase() !== hash) throw new Error(`answered ${String(r)}`);
      accepted = true;
    } catch (e) {
      error = (e as Error).message;
    }
    this.txs.push({ sentAtMs, endedAtMs: Date.now(), hash, accepted, error });
  }

  private async _call<T>(method: string, params: unknown[]): Promise<T> {
    const res = await fetch(this.o.url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: this._seq, method, params }),
      signal: AbortSignal.timeout(this.o.timeoutMs ?? 6000),
    });
    const body = (await res.json()) as { result?: T; error?: { message: string } };
    if (body.error) throw new Error(`${method}: ${body.error.message}`);
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    return body.result as T;
  }
}
