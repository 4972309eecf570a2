/**
 * The dashboard's view of the chain, read from the contracts only: view calls at one block for the
 * present (services, endpoints, health, markets, attestor set) and `eth_getLogs` for the past (status
 * changes, migrations, market pauses, report rounds), in a bounded window of blocks and a bounded number
 * of events per kind. Incremental: each {@link ChainReader.poll} reads only the blocks since the last one.
 *
 * Bounded, because the registry is permissionless (anyone registers services, with names of any length)
 * and the dashboard may share its RPC with the responder: only the `services` allow-list is read when
 * given, else the first `maxServices` in registration order; at most `maxConcurrentCalls` view calls are
 * in flight at once. Every market of the guard is read: markets are registered by the guard's owner only.
 */
import { isError, type AbstractProvider, type Block, type Log } from "ethers";
import {
  IEndpointRegistry__factory,
  IHealthOracle__factory,
  IMarketGuard__factory,
} from "../../typechain-types";
import { MIGRATION_CHECKS, readMarketStatus } from "../cli/status";
import { EndpointKind, statusName } from "../shared/health";
import { createLimit, mapLimit, type Limit } from "./limit";
import type { History, MarketEvent, Snapshot } from "./state";

export interface ReaderOptions {
  provider: AbstractProvider;
  chainId: number;
  contracts: { oracle: string; registry: string; guard?: string };
  /** Blocks of history read at start (and the most read after an outage). */
  blockWindow: number;
  /** Events kept per kind (status changes, migrations, market events, rounds). */
  maxEvents: number;
  /** Most blocks per `eth_getLogs` request. */
  maxBlockRange: number;
  /** Service ids (bytes32) to read, in this order; undefined: the registry's, up to `maxServices`. */
  services?: readonly string[];
  /** Most services read per poll without a `services` allow-list (the first ones registered). */
  maxServices: number;
  /** Most view calls in flight at once during a snapshot. */
  maxConcurrentCalls: number;
}

/**
 * Blocks read again when the chain was reorganised under the dashboard (the head went back, or the last
 * block read was replaced at the same height): events of deeper reorgs stay until they leave the window.
 */
export const REORG_DEPTH = 64;

const oracleIface = IHealthOracle__factory.createInterface();
const registryIface = IEndpointRegistry__factory.createInterface();
const guardIface = IMarketGuard__factory.createInterface();

const ORACLE_EVENTS = ["ReportAccepted", "StatusChanged", "AttestorJailed", "AttestorSetChanged"] as const;
const GUARD_EVENTS: Record<string, MarketEvent["kind"]> = {
  MarketPaused: "paused",
  MarketResumed: "resumed",
  MarketPauseCallFailed: "pause_call_failed",
  MarketUnpauseCallFailed: "unpause_call_failed",
  MarketPauseDelivered: "pause_delivered",
  MarketUnpauseDelivered: "unpause_delivered",
};

const JAILED = oracleIface.getEvent("AttestorJailed")!.topicHash;

const listName = (list: readonly string[], v: bigint | number) => list[Number(v)] ?? `INVALID(${v})`;
const lower = (s: string) => s.toLowerCase();

/** Reads the chain for the dashboard; one instance per dashboard, polled by one loop (never concurrently). */
export class ChainReader {
  private readonly oracle;
  private readonly registry;
  private readonly guard;
  private readonly topics: string[];
  private readonly addresses: string[];
  /** First block not read yet; undefined before the first poll. */
  private next?: number;
  /** The head of the last successful poll, to notice it being replaced. */
  private last?: { number: number; hash: string };
  private readonly times = new Map<number, number>();
  readonly history: History = {
    fromBlock: 0,
    fromTime: 0,
    statusChanges: [],
    migrations: [],
    marketEvents: [],
    rounds: [],
    attestorSets: [],
    jails: [],
    gaps: [],
  };

  constructor(private readonly o: ReaderOptions) {
    this.oracle = IHealthOracle__factory.connect(o.contracts.oracle, o.provider);
    this.registry = IEndpointRegistry__factory.connect(o.contracts.registry, o.provider);
    this.guard = o.contracts.guard ? IMarketGuard__factory.connect(o.contracts.guard, o.provider) : null;
    this.topics = [
      ...ORACLE_EVENTS.map((n) => oracleIface.getEvent(n)!.topicHash),
      registryIface.getEvent("EndpointMigrated")!.topicHash,
      ...(this.guard
        ? Object.keys(GUARD_EVENTS).map((n) => guardIface.getEvent(n as "MarketPaused")!.topicHash)
        : []),
    ];
    this.addresses = [
      o.contracts.oracle,
      o.contracts.registry,
      ...(o.contracts.guard ? [o.contracts.guard] : []),
    ].map(lower);
  }

  /**
   * One poll: the head, the logs of the blocks since the last poll (the last `blockWindow` blocks on the
   * first), then a snapshot at that head. Throws what the provider throws (the caller's loop retries the
   * same blocks at the next poll: nothing is consumed before the whole poll succeeded).
   */
  async poll(): Promise<Snapshot> {
    const latest = await this.o.provider.getBlock("latest");
    if (!latest) throw new Error("latest block not found");
    const head = latest.number;
    if (this.next === undefined) {
      await this.startWindow(Math.max(0, head - this.o.blockWindow + 1));
    } else if (head < this.next - 1 || (await this.replaced(latest))) {
      // The head went back or the last block read was replaced (reorg, node reset): forget the last
      // REORG_DEPTH blocks read and read them again.
      this.dropFrom(Math.max(this.history.fromBlock, Math.min(head + 1, this.next) - REORG_DEPTH));
    } else if (head - this.next + 1 > this.o.blockWindow) {
      this.history.gaps.push({ from: this.next, to: head - this.o.blockWindow });
      this.history.gaps.splice(0, this.history.gaps.length - 10);
      this.next = head - this.o.blockWindow + 1;
    }
    const from = this.next!;
    const logs: Log[] = [];
    for (let start = from; start <= head; start += this.o.maxBlockRange) {
      const end = Math.min(head, start + this.o.maxBlockRange - 1);
      logs.push(
        ...(await this.o.provider.getLogs({
          address: this.addresses,
          topics: [this.topics],
          fromBlock: start,
          toBlock: end,
        })),
      );
    }
    const snapshot = await this.snapshot(head, latest);
    await this.apply(logs);
    this.next = Math.max(from, head + 1);
    this.last = { number: head, hash: latest.hash! };
    return snapshot;
  }

  /** Whether the head of the last poll is no longer on the chain whose head is `latest`. */
  private async replaced(latest: Block): Promise<boolean> {
    const last = this.last;
    if (!last) return false;
    if (latest.number === last.number) return latest.hash !== last.hash;
    if (latest.number === last.number + 1) return latest.parentHash !== last.hash;
    return (await this.o.provider.getBlock(last.number))?.hash !== last.hash;
  }

  private async startWindow(fromBlock: number): Promise<void> {
    this.history.fromBlock = fromBlock;
    this.history.fromTime = await this.blockTime(fromBlock);
    // The set in force at the window start; a pruned node may not answer for an old block: then the
    // current set stands in until an AttestorSetChanged in the window says otherwise.
    const set = await this.oracle.attestorSet({ blockTag: fromBlock }).catch(() => this.oracle.attestorSet());
    this.history.attestorSets = [
      { fromBlock, version: Number(set[0]), quorum: Number(set[1]), attestors: [...set[2]] },
    ];
    this.next = fromBlock;
  }

  /** Forget every event at or after block `from`, so the next read starts there. */
  private dropFrom(from: number): void {
    const h = this.history;
    h.statusChanges = h.statusChanges.filter((e) => e.block < from);
    h.migrations = h.migrations.filter((e) => e.block < from);
    h.marketEvents = h.marketEvents.filter((e) => e.block < from);
    h.rounds = h.rounds.filter((e) => e.block < from);
    h.jails = h.jails.filter((e) => e.block < from);
    h.attestorSets = h.attestorSets.filter((s, i) => i === 0 || s.fromBlock < from);
    for (const b of [...this.times.keys()]) if (b >= from) this.times.delete(b);
    this.next = from;
    this.last = undefined; // a retry after a failed poll reads on from `from`, not deeper
  }

  private async blockTime(block: number): Promise<number> {
    const cached = this.times.get(block);
    if (cached !== undefined) return cached;
    const b = await this.o.provider.getBlock(block);
    if (!b) throw new Error(`block ${block} not found`);
    this.times.set(block, b.timestamp);
    if (this.times.size > 4 * this.o.maxEvents) this.times.delete(this.times.keys().next().value!);
    return b.timestamp;
  }

  /** Decode `logs` (chain order) into the history, trimming each list to `maxEvents`. */
  private async apply(logs: readonly Log[]): Promise<void> {
    const h = this.history;
    // Block times first, so a failed read leaves the history untouched (the poll is retried whole).
    const timed = logs.filter((l) => lower(l.address) !== this.addresses[0] || l.topics[0] === JAILED);
    const times = new Map<number, number>();
    for (const b of new Set(timed.map((l) => l.blockNumber))) times.set(b, await this.blockTime(b));
    const timeOf = (b: number) => times.get(b)!;
    for (const log of logs) {
      const where = { block: log.blockNumber, tx: lower(log.transactionHash) };
      const address = lower(log.address);
      if (address === this.addresses[0]) {
        const ev = oracleIface.parseLog(log);
        if (ev?.name === "StatusChanged") {
          h.statusChanges.push({
            endpointId: lower(ev.args.endpointId),
            previous: statusName(ev.args.previous),
            current: statusName(ev.args.current),
            at: Number(ev.args.since),
            ...where,
          });
        } else if (ev?.name === "ReportAccepted") {
          h.rounds.push({
            round: Number(ev.args.round),
            observedAt: Number(ev.args.observedAt),
            signers: BigInt(ev.args.signers),
            updated: Number(ev.args.updated),
            skipped: Number(ev.args.skipped),
            ...where,
          });
        } else if (ev?.name === "AttestorSetChanged") {
          h.attestorSets.push({
            fromBlock: log.blockNumber,
            version: Number(ev.args.version),
            quorum: Number(ev.args.quorum),
            attestors: [...ev.args.attestors],
          });
        } else if (ev?.name === "AttestorJailed") {
          h.jails.push({
            attestor: ev.args.attestor,
            round: Number(ev.args.round),
            prover: ev.args.prover,
            at: timeOf(log.blockNumber),
            ...where,
          });
        }
      } else if (address === this.addresses[1]) {
        const ev = registryIface.parseLog(log);
        if (ev?.name === "EndpointMigrated") {
          h.migrations.push({
            serviceId: lower(ev.args.serviceId),
            from: lower(ev.args.from),
            to: lower(ev.args.to),
            failback: ev.args.failback,
            at: timeOf(log.blockNumber),
            ...where,
          });
        }
      } else if (address === this.addresses[2]) {
        const ev = guardIface.parseLog(log);
        const kind = ev ? GUARD_EVENTS[ev.name] : undefined;
        if (ev && kind) {
          h.marketEvents.push({
            marketId: Number(ev.args.marketId),
            kind,
            ...(ev.name === "MarketPaused" ? { cause: lower(ev.args.cause) } : {}),
            ...("caller" in ev.args.toObject() ? { caller: ev.args.caller as string } : {}),
            at: timeOf(log.blockNumber),
            ...where,
          });
        }
      }
    }
    const max = this.o.maxEvents;
    for (const list of [h.statusChanges, h.migrations, h.marketEvents, h.rounds, h.jails] as unknown[][]) {
      if (list.length > max) list.splice(0, list.length - max);
    }
    if (h.attestorSets.length > max) h.attestorSets.splice(0, h.attestorSets.length - max);
  }

  /**
   * Every view the page shows, at block `head` (one consistent state): the attestor set, the services
   * (the allow-list, else the registry's first `maxServices`) with their endpoints and health, and every
   * market of the guard. At most `maxConcurrentCalls` calls in flight. `block` saves reading `head` again.
   */
  async snapshot(head: number, block?: Block | null): Promise<Snapshot> {
    const at = { blockTag: head };
    const call = createLimit(this.o.maxConcurrentCalls);
    const [headBlock, set, listed] = await Promise.all([
      block?.number === head ? block : call(() => this.o.provider.getBlock(head)),
      call(() => this.oracle.attestorSet(at)),
      this.o.services ? this.o.services : call(() => this.registry.services(at)),
    ]);
    if (!headBlock) throw new Error(`block ${head} not found`);
    const attestors = [...set[2]];
    const jailed = await mapLimit(attestors, call, (a) => this.oracle.isJailed(a, at));
    const serviceIds = this.o.services ? listed : listed.slice(0, this.o.maxServices);
    const read = await Promise.all(serviceIds.map((id) => this.service(id, at, call)));
    const services = read.filter((s) => s !== null);
    const unregistered = serviceIds.filter((_, i) => read[i] === null).map(lower);
    const markets: Snapshot["markets"] = [];
    if (this.guard) {
      const guard = this.guard;
      const count = Number(await call(() => guard.marketCount(at)));
      const ids = Array.from({ length: count }, (_, i) => i + 1);
      markets.push(...(await Promise.all(ids.map((id) => readMarketStatus(guard, id, head, call)))));
    }
    return {
      chainId: this.o.chainId,
      block: { number: head, timestamp: headBlock.timestamp },
      contracts: {
        oracle: this.o.contracts.oracle,
        registry: this.o.contracts.registry,
        guard: this.o.contracts.guard ?? null,
      },
      attestorSet: {
        version: Number(set[0]),
        quorum: Number(set[1]),
        attestors: attestors.map((address, i) => ({ address, jailed: jailed[i] })),
      },
      services,
      servicesNotShown: this.o.services ? 0 : listed.length - serviceIds.length,
      unregisteredServices: unregistered,
      markets,
    };
  }

  /** One service at `at`, or null when the registry does not know its id (an allow-list entry). */
  private async service(serviceId: string, at: { blockTag: number }, call: Limit) {
    const info = await call(() => this.registry.serviceInfo(serviceId, at)).catch((e: unknown) => {
      if (isError(e, "CALL_EXCEPTION") && e.revert?.name === "EndpointRegistryUnknownService") return null;
      throw e;
    });
    if (!info) return null;
    const [eps, migration, activeId] = await Promise.all([
      call(() => this.registry.endpointsOf(serviceId, at)),
      call(() => this.registry.migrationStatus(serviceId, at)),
      call(() => this.registry.activeEndpointId(serviceId, at)),
    ]);
    const health = await mapLimit(eps, call, (e) => this.oracle.statusOf(e.id, at));
    return {
      id: lower(serviceId),
      name: info.name,
      owner: info.owner,
      activeEndpoint: /^0x0*$/.test(activeId) ? null : lower(activeId),
      lastMigrationAt: Number(info.lastMigrationAt),
      migration: {
        check: listName(MIGRATION_CHECKS, migration[0]),
        to: lower(migration[1]),
        notBefore: Number(migration[2]),
      },
      endpoints: eps.map((e, i) => ({
        id: lower(e.id),
        kind: EndpointKind[Number(e.kind)] ?? String(e.kind),
        priority: Number(e.priority),
        uri: e.uri,
        status: statusName(health[i].status),
        healthBps: Number(health[i].healthBps),
        floorBps: Number(health[i].floorBps),
        ceilingBps: Number(health[i].ceilingBps),
        since: Number(health[i].since),
        round: Number(health[i].round),
        updatedAt: Number(health[i].updatedAt),
      })),
    };
  }
}
