/**
 * The drill's price-feed service (issue 9): two Chainlink-style feeds (MockAggregator) on the control chain,
 * the two ORACLE_FEED endpoints of service `drill-feed`, written by a feeder with a deterministic price walk
 * (each live feed gets a new round about every second), and a FailoverFeed over the service that prices
 * market 1 (a FeedPricedPerpMarket). Faults: the primary feed stops updating (expected: the service migrates
 * to the backup feed and market 1 keeps trading: a position opens at the backup's price, no pause); both
 * feeds stop (expected: market 1 pauses; once they update again it resumes after the grace period).
 */
import { HDNodeWallet, NonceManager, type JsonRpcProvider } from "ethers";
import {
  MockAggregator__factory,
  type GuardedPerpMarket,
  type IFailoverFeed,
  type MockAggregator,
} from "../../typechain-types";
import { Status } from "../../keepers/shared/health";
import { pauseFault, resumeAfterPause, type DrillContext } from "./faults";
import { newFault, type FaultRecord } from "./report";
import { CONTROL_CHAIN, waitUntil } from "./setup";

/** Decimals of the primary and the backup feed: different on purpose, so the FailoverFeed scales. */
export const FEED_DECIMALS = [8, 6] as const;
/** Decimals of the FailoverFeed's answers. */
export const FAILOVER_DECIMALS = 8;
/** Milliseconds between two rounds of a live feed. */
export const FEED_INTERVAL_MS = 1000;

/**
 * The price of round `k` of feed `i`, in cents: a deterministic walk around 2,000 USD (a slow swing plus a
 * small saw-tooth); the backup feed (i = 1) quotes 37 cents above the primary, as a second source would.
 */
export function walkCents(i: number, k: number): bigint {
  const swing = Math.round(4000 * Math.sin(k / 9));
  const saw = (((k * 7919) % 13) - 6) * 10;
  return BigInt(200_000 + swing + saw + (i === 1 ? 37 : 0));
}

/** Writes a new round to every live feed every {@link FEED_INTERVAL_MS}; stop/resume one feed to fault it. */
export class Feeder {
  private readonly _live: boolean[];
  private readonly _rounds: number[];
  private _timer?: NodeJS.Timeout;
  private _busy = false;
  /** Failed writes (logged by the drill; a failed write is retried with the next round). */
  errors = 0;

  constructor(
    readonly feeds: MockAggregator[],
    private readonly _writer: NonceManager,
  ) {
    this._live = feeds.map(() => true);
    this._rounds = feeds.map(() => 0);
  }

  /** Write one round to every feed now, then one every interval (iterations never overlap). */
  async start(): Promise<void> {
    await this._tick(true);
    this._timer = setInterval(() => void this._tick(false), FEED_INTERVAL_MS);
    this._timer.unref?.();
  }

  stop(): void {
    clearInterval(this._timer);
  }

  /** Stop updating feed i (its last round ages; it still answers). */
  halt(i: number): void {
    this._live[i] = false;
  }

  /** Update feed i again from the next tick. */
  resume(i: number): void {
    this._live[i] = true;
  }

  private async _tick(wait: boolean): Promise<void> {
    if (this._busy) return;
    this._busy = true;
    try {
      const sent = [];
      for (const [i, feed] of this.feeds.entries()) {
        if (!this._live[i]) continue;
        const answer = walkCents(i, this._rounds[i]++) * 10n ** BigInt(FEED_DECIMALS[i] - 2);
        sent.push(await feed.updateAnswer(answer));
      }
      if (wait) await Promise.all(sent.map((tx) => tx.wait()));
    } catch {
      this.errors++;
      this._writer.reset(); // a failed send may have consumed no nonce
    } finally {
      this._busy = false;
    }
  }
}

/** The feed side of the stack, before the deployment (the FailoverFeed comes with Ignition). */
export interface FeedStack {
  feeder: Feeder;
  /** Endpoint URIs `eip155:<control chain>:<feed>`, primary first. */
  uris: string[];
}

/**
 * Deploy the two feeds on the control chain and start the feeder (dev account #7, which nothing else in the
 * drill uses on the control chain). Resolves once both feeds have a round.
 */
export async function startFeeds(provider: JsonRpcProvider): Promise<FeedStack> {
  const writer = new NonceManager(
    HDNodeWallet.fromPhrase(
      "test test test test test test test test test test test junk",
      undefined,
      "m/44'/60'/0'/0/7",
    ).connect(provider),
  );
  const feeds: MockAggregator[] = [];
  for (const [i, d] of FEED_DECIMALS.entries()) {
    const feed = await new MockAggregator__factory(writer).deploy(d, `ETH / USD (drill, feed ${i + 1})`);
    await feed.waitForDeployment();
    feeds.push(feed);
  }
  const feeder = new Feeder(feeds, writer);
  await feeder.start();
  const uris = await Promise.all(feeds.map(async (f) => `eip155:${CONTROL_CHAIN}:${await f.getAddress()}`));
  return { feeder, uris };
}

/** What the feed faults need beyond the drill context. */
export interface FeedFaultDeps {
  feeder: Feeder;
  failoverFeed: IFailoverFeed;
  /** Market 1, connected with the trader. */
  market: GuardedPerpMarket;
  /** The feed service's id and its endpoint ids (lower case), primary first. */
  serviceId: string;
  feedIds: [string, string];
}

/**
 * Fault: the primary feed stops updating. Expected: its endpoint DOWN, the service migrated to the backup
 * feed (HEALTHY), and market 1 still trading: a position opens at the backup's price (checked against the
 * backup's answer, scaled, in the trade's block or the one before: the feeder may land a round in the same
 * block), never at the primary's frozen one. Recovery: the primary updates again; failback to it.
 */
export async function primaryFeedFault(ctx: DrillContext, d: FeedFaultDeps): Promise<void> {
  const { t, watcher, failures } = ctx;
  const [primary, backup] = d.feedIds;
  const f = newFault("primary price feed stops updating", "migrate");
  ctx.faults.push(f);
  ctx.affectedBy.set(f, []);
  ctx.affectedFeeds.set(f, [primary]);
  f.injectedAtMs = Date.now();
  ctx.say("fault", `FAULT ${ctx.faults.length}: the primary price feed stops updating`);
  d.feeder.halt(0);
  const [firstBad, status, migration] = await Promise.all([
    ctx.observations.firstBelow(primary, 5000, f.injectedAtMs, t.reactionTimeoutMs),
    watcher.waitFor(
      (e) => e.kind === "status" && e.endpointId.toLowerCase() === primary && e.current === Status.DOWN,
      f.injectedAtMs,
      t.reactionTimeoutMs,
    ),
    watcher.waitFor(
      (e) => e.kind === "migration" && e.from.toLowerCase() === primary && !e.failback,
      f.injectedAtMs,
      t.reactionTimeoutMs,
    ),
  ]);
  f.firstUnhealthyAtMs = firstBad;
  f.statusChangedAtMs = status?.seenAtMs ?? null;
  if (migration && migration.kind === "migration") {
    f.reactionAtMs = migration.seenAtMs;
    f.reactionTx = migration.tx;
    if (migration.to.toLowerCase() !== backup) failures.push(`${f.name}: migrated to ${migration.to}`);
    await tradeAtBackupPrice(ctx, d, f);
  } else failures.push(`${f.name}: no migration to the backup feed within ${t.reactionTimeoutMs} ms`);
  f.recoveredAtMs = Date.now();
  ctx.say("recover", "recover: the primary price feed updates again");
  d.feeder.resume(0);
  await settleFeeds(ctx, d, f, [primary]);
}

/**
 * Open (then close) a position on market 1 while the backup feed is active; the opening price must be the
 * backup's answer scaled to the market (FailoverFeed decimals, then collateral units per 1e18 size).
 */
async function tradeAtBackupPrice(ctx: DrillContext, d: FeedFaultDeps, f: FaultRecord): Promise<void> {
  try {
    const [backupFeed, primaryFeed] = [d.feeder.feeds[1], d.feeder.feeds[0]];
    const rc = await (await d.market.openPosition(10n ** 18n, true)).wait();
    const ev = rc!.logs.map((l) => d.market.interface.parseLog(l)).find((p) => p?.name === "PositionOpened");
    const price = ev!.args.price as bigint;
    const scale = 10n ** BigInt(18 - FAILOVER_DECIMALS);
    const at = async (feed: MockAggregator, decimals: number, block: number) =>
      (await feed.latestRoundData({ blockTag: block }))[1] *
      10n ** BigInt(FAILOVER_DECIMALS - decimals) *
      scale;
    const backupPrices = await Promise.all(
      [rc!.blockNumber - 1, rc!.blockNumber].map((b) => at(backupFeed, FEED_DECIMALS[1], b)),
    );
    const frozen = await at(primaryFeed, FEED_DECIMALS[0], rc!.blockNumber);
    const phase = await d.failoverFeed.phaseId({ blockTag: rc!.blockNumber });
    f.trade = { openedAtMs: Date.now(), price: price.toString(), backupAnswers: backupPrices.map(String) };
    if (!backupPrices.includes(price) || price === frozen || Number(phase) !== 2)
      ctx.failures.push(
        `${f.name}: position opened at ${price} (phase ${phase}), not at the backup's ${backupPrices.join(" or ")}`,
      );
    else
      ctx.say(
        "info",
        `market 1 trades on the backup feed: position opened at ${Number(price / 10n ** 14n) / 1e4} (backup answer, phase 2)`,
      );
    await (await d.market.closePosition()).wait();
  } catch (e) {
    ctx.failures.push(`${f.name}: could not trade on the backup feed: ${(e as Error).message}`);
  }
}

/**
 * Fault: both feeds stop updating. Expected: market 1 paused (no usable feed; opening reverts); recovery:
 * both update again, market 1 resumes after the grace period, the service back on the primary feed.
 */
export async function bothFeedsFault(ctx: DrillContext, d: FeedFaultDeps): Promise<void> {
  const f = newFault("both price feeds stop updating", "pause");
  ctx.faults.push(f);
  ctx.affectedBy.set(f, []);
  ctx.affectedFeeds.set(f, [...d.feedIds]);
  ctx.pausedMarket.set(f, ctx.marketId);
  f.injectedAtMs = Date.now();
  ctx.say("fault", `FAULT ${ctx.faults.length}: both price feeds stop updating`);
  d.feeder.halt(0);
  d.feeder.halt(1);
  const active = (await ctx.registry.activeEndpointId(d.serviceId)).toLowerCase();
  await pauseFault(ctx, f, ctx.marketId, active, [...d.feedIds]);
  let refused = false;
  try {
    await d.market.openPosition.staticCall(10n ** 18n, true);
  } catch {
    refused = true;
  }
  if (!refused) ctx.failures.push(`${f.name}: a position could open with no usable price feed`);
  f.recoveredAtMs = Date.now();
  ctx.say("recover", "recover: both price feeds update again");
  d.feeder.resume(0);
  d.feeder.resume(1);
  await resumeAfterPause(ctx, f, ctx.marketId, [d.serviceId, ctx.serviceId], [], false);
  await settleFeeds(ctx, d, f, [...d.feedIds]);
}

/** Wait for `ids` HEALTHY (sets `f.healthyAtMs`) and for the feed service back on the primary feed. */
async function settleFeeds(ctx: DrillContext, d: FeedFaultDeps, f: FaultRecord, ids: string[]) {
  const { t, oracle, registry } = ctx;
  const healthy = await waitUntil(
    async () =>
      (await Promise.all(ids.map((id) => oracle.statusOf(id)))).every(
        (h) => Number(h.status) === Status.HEALTHY,
      ),
    t.reactionTimeoutMs,
  );
  if (!healthy)
    ctx.failures.push(`${f.name}: the feeds were not HEALTHY again within ${t.reactionTimeoutMs} ms`);
  else {
    const ev = ctx.watcher.events.filter(
      (e) =>
        e.kind === "status" &&
        e.current === Status.HEALTHY &&
        ids.includes(e.endpointId.toLowerCase()) &&
        e.seenAtMs >= f.recoveredAtMs!,
    );
    f.healthyAtMs = ev.length ? Math.max(...ev.map((e) => e.seenAtMs)) : Date.now();
  }
  const back = await waitUntil(
    async () => (await registry.activeEndpointId(d.serviceId)).toLowerCase() === d.feedIds[0],
    t.reactionTimeoutMs,
  );
  if (!back) ctx.failures.push(`${f.name}: no failback to the primary feed within ${t.reactionTimeoutMs} ms`);
}
