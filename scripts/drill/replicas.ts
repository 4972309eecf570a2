/**
 * Replicas of one chain, mined in lockstep: the honest endpoints of a monitored service.
 *
 * Under state parity (issue 12, notes/parity-spec.md) the attestors compare block hashes of a service's
 * endpoints at common heights, so a service's honest nodes must be real replicas of ONE chain: same hash
 * at every height. Independent dev chains (each anvil its own genesis) would disagree everywhere.
 *
 * A {@link ReplicaSet} runs N anvils with one genesis (same `--timestamp T0`, chain id, default mnemonic
 * and balance) and `--no-mining`; the driver mines them itself: block n is `evm_mine(T0 + n·blockTimeSec)`
 * on every live replica, so every replica produces the same block n (explicit timestamps make the hashes
 * identical). Faults are real states of real nodes:
 * - halt(i): the driver stops mining replica i (its head goes stale, it still answers); resume(i) replays
 *   the blocks it missed with the same timestamps.
 * - kill(i) / restart(i): SIGKILL, then a fresh anvil on the same port, which starts from genesis and is
 *   replayed up to the others; it counts as in sync only once caught up ({@link ReplicaSet.inSync}).
 * - hang(i) / unhang(i): SIGSTOP / SIGCONT (ManagedNode): the socket stays open and nothing answers.
 * - fork(i, position): replica i gets a transaction the others never see, mined into its next block, and
 *   keeps being mined with its own blocks at equal height, one behind or one ahead of the others: same
 *   chain id, same timestamps, different hashes. unfork(i) restarts it as a replica and replays it.
 *
 * Transactions are replicated (scripts/drill/txledger.ts): before each tick, and every `gossipMs` between
 * ticks, the driver collects every replica's pending transactions into its {@link TxLedger}; block n's raw
 * transactions are sent to each replica before it mines n there, and the block it mined is checked against
 * the honest block n (a transaction that arrived in between is kept, the block rolled back with
 * `anvil_rollback` and mined again). A replica replayed from genesis gets every block's transactions again;
 * those a forked replica mined are adopted too (but the fork's own), so an order sent there is not lost.
 *
 * A tick never waits on a hung replica longer than `callTimeoutMs`: each replica has at most one
 * catch-up job in flight, the tick waits for the jobs up to that deadline and leaves slower ones running.
 * A job's request is never aborted: a SIGSTOPped anvil answers it when continued, so the driver always
 * knows which blocks a replica has (an aborted `evm_mine` could still be executed later, at a height the
 * driver no longer expects).
 */
import { ManagedNode, freePort, rpc } from "./nodes";
import { TxLedger, adoptBlock, collectPool, mineHonest, nodeCall as call } from "./txledger";

import type { ForkPosition, ReplicaSetOptions, ReplicaState } from "./replicaOptions";

export type { ForkPosition, ReplicaSetOptions, ReplicaState };

interface Replica {
  node: ManagedNode;
  mode: ReplicaState["mode"];
  fork: ForkPosition | null;
  /** The fork's transaction is still to be sent. */
  forkPending: boolean;
  head: number | null;
  busy: Promise<void> | null;
  /** Bumped whenever the process is replaced, so a stale job never updates the new process's state. */
  gen: number;
}

/** anvil's dev account #9 (mnemonic "test test … junk"): sends the transaction that forks a replica. */
const FORK_SENDER = "0xa0ee7a142d267c1f36714e4a8f75612f20a79720";

/** N anvil replicas of one chain, mined in lockstep. See the file comment. */
export class ReplicaSet {
  /** The replicas' processes, in order: register them with a ProcessRegistry so they are always stopped. */
  readonly nodes: ManagedNode[];
  /** Genesis timestamp T0, Unix seconds. */
  readonly genesisTimestamp: number;
  readonly blockTimeSec: number;
  /** The honest chain's transactions (pending, and per block). */
  readonly ledger = new TxLedger();
  private readonly _r: Replica[];
  private readonly _callTimeoutMs: number;
  private _tip = 0;
  private _timer?: NodeJS.Timeout;
  private _gossip?: NodeJS.Timeout;
  private _collecting: Promise<void> | null = null;
  private _stopped = false;

  /** Builds the set without starting anything; ports are needed, so use {@link ReplicaSet.create}. */
  constructor(private readonly _opts: ReplicaSetOptions & { ports: number[] }) {
    if (_opts.names.length !== _opts.ports.length) throw new Error("one port per replica name");
    if (!Number.isInteger(_opts.blockTimeSec) || _opts.blockTimeSec < 1)
      throw new Error(`blockTimeSec must be an integer >= 1, got ${_opts.blockTimeSec}`);
    this.blockTimeSec = _opts.blockTimeSec;
    this.genesisTimestamp = _opts.genesisTimestamp ?? Math.floor(Date.now() / 1000);
    this._callTimeoutMs = _opts.callTimeoutMs ?? 1000;
    this.nodes = _opts.names.map(
      (name, i) =>
        new ManagedNode({
          name,
          impl: "anvil",
          port: _opts.ports[i],
          chainId: _opts.chainId,
          blockTimeSec: 0, // --no-mining: this driver mines
          extraArgs: [
            "--timestamp",
            String(this.genesisTimestamp),
            ...(_opts.accounts ? ["--accounts", String(_opts.accounts)] : []),
          ],
        }),
    );
    this._r = this.nodes.map((node) => ({
      node,
      mode: "live",
      fork: null,
      forkPending: false,
      head: null,
      busy: null,
      gen: 0,
    }));
  }

  /** A set on the given ports or free ones; nothing started yet (call {@link start}). */
  static async create(opts: ReplicaSetOptions): Promise<ReplicaSet> {
    const ports = opts.ports ?? (await Promise.all(opts.names.map(() => freePort())));
    return new ReplicaSet({ ...opts, ports });
  }

  /** JSON-RPC URL of replica i. */
  url(i: number): string {
    return this.nodes[i].url;
  }

  get urls(): string[] {
    return this.nodes.map((n) => n.url);
  }

  /** The honest head: the number of blocks the driver has mined on the chain. */
  get tip(): number {
    return this._tip;
  }

  /** Timestamp of block n, Unix seconds: `T0 + n·blockTimeSec`. */
  timestampOf(n: number): number {
    return this.genesisTimestamp + n * this.blockTimeSec;
  }

  /**
   * Start every replica (each answers its chain id) and, with the wall clock, the mining loop; the first
   * blocks up to now are mined before it returns. Throws when a replica does not start (the others keep
   * running: stop the set).
   */
  async start(timeoutMs = 60_000): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.start(timeoutMs)));
    for (const r of this._r) r.head = 0;
    if ((this._opts.clock ?? "wall") === "wall") {
      await this._advance(this._wallTip());
      this._schedule();
      this._gossip = setInterval(() => void this.collect(), this._opts.gossipMs ?? 250);
      this._gossip.unref?.();
    }
  }

  /** Stop the loop and every replica (hung ones too). Idempotent. */
  async stop(): Promise<void> {
    this._stopped = true;
    clearTimeout(this._timer);
    clearInterval(this._gossip);
    await Promise.all(this.nodes.map((n) => n.stop()));
  }

  /**
   * Mine the next block on every replica that should have it (manual clock; also usable with the wall
   * clock). Waits at most `callTimeoutMs` for each replica. @returns the new tip.
   */
  async tick(): Promise<number> {
    await this._advance(this._tip + 1);
    return this._tip;
  }

  /** Stop mining replica i: its head stays where it is and it keeps answering. */
  halt(i: number): void {
    if (this._r[i].mode === "live") this._r[i].mode = "halted";
  }

  /** Mine replica i again; the blocks it missed are replayed (same timestamps) from the next tick on. */
  resume(i: number): void {
    if (this._r[i].mode === "halted") this._r[i].mode = "live";
    this._kick(i);
  }

  /** SIGSTOP replica i: it keeps its socket and answers nothing; ticks go on without it. */
  hang(i: number): void {
    this.nodes[i].hang();
  }

  /** SIGCONT replica i; its pending call completes and it catches up. */
  unhang(i: number): void {
    this.nodes[i].unhang();
    this._kick(i);
  }

  /**
   * SIGKILL replica i (no clean shutdown); its port is free until {@link restart}. Its pool is collected
   * first, as a real node would have gossiped what it accepted.
   */
  async kill(i: number): Promise<void> {
    await this._collectFrom(i);
    const r = this._r[i];
    r.mode = "dead";
    r.gen++;
    r.head = null;
    await r.node.kill();
  }

  /**
   * Start replica i again (after {@link kill}, or to replace it): a fresh anvil from genesis on the same
   * port, replayed up to the tip. Resolves once it is in sync; throws after `timeoutMs` if it is not.
   */
  async restart(i: number, timeoutMs = 60_000): Promise<void> {
    const r = this._r[i];
    r.gen++;
    r.mode = "dead";
    await r.node.stop();
    r.head = null;
    r.busy = null;
    r.fork = null;
    r.forkPending = false;
    await r.node.start(timeoutMs);
    r.gen++;
    r.head = 0;
    r.mode = "live";
    await this.waitInSync(i, timeoutMs);
  }

  /**
   * Make replica i diverge for real: a transaction only it has goes into its next block, and it keeps
   * being mined with its own blocks so that its head stays level with the tip (`equal`), one block behind
   * or one block ahead. Same chain id and timestamps as its peers; different hashes from the fork on.
   */
  fork(i: number, position: ForkPosition = "equal"): void {
    const r = this._r[i];
    if (r.fork === null) r.forkPending = true;
    r.fork = position;
    if (r.mode === "halted") r.mode = "live";
    this._kick(i);
  }

  /** Undo {@link fork}: restart replica i from genesis as an honest replica and replay it. */
  unfork(i: number, timeoutMs = 60_000): Promise<void> {
    return this.restart(i, timeoutMs);
  }

  /** Whether replica i is live, honest and at the tip. */
  inSync(i: number): boolean {
    const r = this._r[i];
    return r.mode === "live" && r.fork === null && r.node.running && r.head === this._tip;
  }

  /** Resolve once replica i is {@link inSync}; throws after `timeoutMs`. */
  async waitInSync(i: number, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.inSync(i)) {
      if (Date.now() > deadline)
        throw new Error(
          `replica ${this.nodes[i].spec.name} not in sync after ${timeoutMs} ms (head ${this._r[i].head}, tip ${this._tip})`,
        );
      this._kick(i);
      await new Promise((res) => setTimeout(res, 100));
    }
  }

  /** What the driver knows about replica i. */
  state(i: number): ReplicaState {
    const r = this._r[i];
    return {
      name: r.node.spec.name,
      url: r.node.url,
      mode: r.mode,
      fork: r.fork,
      head: r.head,
      busy: r.busy !== null,
    };
  }

  /** Block hash of replica i at height n, read from the node (null when it has no such block). */
  async hashAt(i: number, n: number, timeoutMs = 2000): Promise<string | null> {
    const b = await rpc<{ hash: string } | null>(
      this.url(i),
      "eth_getBlockByNumber",
      [`0x${n.toString(16)}`, false],
      timeoutMs,
    );
    return b?.hash ?? null;
  }

  /** Number of the honest block that includes transaction `hash`; undefined while it is not included. */
  includedIn(hash: string): number | undefined {
    return this.ledger.blockOf(hash);
  }

  /**
   * Copy every replica's pending transactions into the ledger (read-only calls with a deadline, so a hung
   * replica costs at most `callTimeoutMs`). Never two collections at once. Errors are ignored.
   */
  collect(): Promise<void> {
    this._collecting ??= Promise.all(this._r.map((_, i) => this._collectFrom(i)))
      .then(() => undefined)
      .finally(() => (this._collecting = null));
    return this._collecting;
  }

  /** Head number of replica i, read from the node. */
  async headOf(i: number, timeoutMs = 2000): Promise<number> {
    return Number(BigInt(await rpc<string>(this.url(i), "eth_blockNumber", [], timeoutMs)));
  }

  // ------------------------------------------------------------------ driver

  private _wallTip(): number {
    return Math.max(this._tip, Math.floor((Date.now() / 1000 - this.genesisTimestamp) / this.blockTimeSec));
  }

  private _schedule(): void {
    if (this._stopped) return;
    const nextAtMs = this.timestampOf(this._tip + 1) * 1000;
    this._timer = setTimeout(
      () => {
        void (async () => {
          try {
            await this._opts.beforeTick?.();
          } catch {
            // a hook's error never stops the chain
          }
          if (!this._stopped) await this._advance(this._wallTip());
          this._schedule();
        })();
      },
      Math.max(0, nextAtMs - Date.now()),
    );
    this._timer.unref?.();
  }

  /** Raise the tip to `tip` and bring every replica towards its target, waiting at most callTimeoutMs. */
  private async _advance(tip: number): Promise<void> {
    // Overlapping calls are harmless: each replica has at most one job in flight (_kick).
    this._tip = Math.max(this._tip, tip);
    // Gossip first, but never hold the chain for it: what is collected late goes into the next block.
    const gossip = this.collect();
    if (this._opts.clock === "manual") await gossip;
    else await Promise.race([gossip, new Promise((r) => setTimeout(r, 150))]);
    const jobs = this._r.map((_, i) => this._kick(i)).filter((j): j is Promise<void> => !!j);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(jobs),
      new Promise<void>((res) => (timer = setTimeout(res, this._callTimeoutMs))),
    ]);
    clearTimeout(timer);
  }

  /** Height replica r should be at now. */
  private _target(r: Replica): number {
    if (r.fork === "ahead") return this._tip + 1;
    if (r.fork === "behind") return Math.max(0, this._tip - 1);
    return this._tip;
  }

  /** Start a catch-up job for replica i unless one is in flight or it must not be mined. */
  private _kick(i: number): Promise<void> | null {
    const r = this._r[i];
    if (r.busy) return r.busy;
    if (r.mode !== "live" || !r.node.running || this._stopped) return null;
    if (r.head !== null && r.head >= this._target(r) && !r.forkPending) return null;
    const gen = r.gen;
    const job = this._catchUp(r, gen)
      .catch(() => {
        if (r.gen === gen) r.head = null; // re-read the head next time
      })
      .finally(() => {
        if (r.busy === job) r.busy = null;
      });
    r.busy = job;
    return job;
  }

  private async _catchUp(r: Replica, gen: number): Promise<void> {
    const url = r.node.url;
    if (r.head === null) {
      const head = Number(BigInt(await call<string>(url, "eth_blockNumber")));
      if (r.gen !== gen) return;
      r.head = head;
    }
    if (r.forkPending) {
      await call(url, "eth_sendTransaction", [{ from: FORK_SENDER, to: FORK_SENDER, value: "0x1" }]);
      if (r.gen !== gen) return;
      r.forkPending = false;
    }
    while (r.gen === gen && r.mode === "live" && !this._stopped && r.head! < this._target(r)) {
      const next: number = r.head! + 1;
      if (r.fork === null) await mineHonest(this.ledger, url, next, this.timestampOf(next), FORK_SENDER);
      else {
        await call(url, "evm_mine", [this.timestampOf(next)]);
        await adoptBlock(this.ledger, url, next, FORK_SENDER);
      }
      if (r.gen !== gen) return;
      r.head = next;
    }
  }

  /** Copy replica i's pool into the ledger (with a deadline; a dead or hung replica is skipped). */
  private async _collectFrom(i: number): Promise<void> {
    const r = this._r[i];
    if (!r.node.running || this._stopped) return;
    await collectPool(this.ledger, r.node.url, Math.min(this._callTimeoutMs, 500), FORK_SENDER);
  }
}
