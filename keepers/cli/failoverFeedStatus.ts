/**
 * The FailoverFeed part of `vigil status`: which feed each FailoverFeed adapter (contracts/adapters/FailoverFeed.sol)
 * serves now, and its latest answer or the error it refuses with. Reading ({@link readFailoverFeeds}) is split from
 * rendering ({@link renderFailoverFeeds}, PURE), as in ./status.
 */
import { formatSince, table, type MarketStatus, type ServiceStatus } from "./status";
import type { CliContext } from "./context";

const short = (id: string) => (id.length > 14 ? `${id.slice(0, 8)}…${id.slice(-4)}` : id);

/** A FailoverFeed adapter (contracts/adapters/FailoverFeed.sol) and the feed it serves now. */
export interface FailoverFeedStatus {
  address: string;
  /** The service it follows (lower-case id) and the service's name. */
  service: string;
  serviceName: string;
  decimals: number;
  /** Seconds. */
  maxAge: number;
  /** Phase of the registry's active endpoint; 0 when that endpoint has no phase yet (syncPhases due). */
  phase: number;
  phaseCount: number;
  /** The active endpoint (lower-case id) and the feed contract the adapter reads for it (null when phase 0). */
  endpoint: string | null;
  feed: string | null;
  /** `latestRoundData` now: the scaled answer as a decimal string, or the reason it refuses (fails closed). */
  latest: { roundId: string; answer: string; updatedAt: number } | { error: string };
}

/**
 * Read FailoverFeed adapters: `addresses` (given by the operator) and the price feed of every market that has one
 * (`priceFeed()`, as FeedPricedPerpMarket) and answers as a FailoverFeed (`serviceId()`). A market without a price
 * feed is skipped; a given address that is no FailoverFeed throws. Deduplicated, in the order found. A feed that
 * refuses to answer (stale, not positive: it fails closed) shows the custom error it reverted with.
 */
export async function readFailoverFeeds(
  ctx: CliContext,
  addresses: readonly string[],
  markets: readonly MarketStatus[],
  services: readonly ServiceStatus[],
): Promise<FailoverFeedStatus[]> {
  const { getAddress, ZeroAddress } = await import("ethers");
  const { FailoverFeed__factory, FeedPricedPerpMarket__factory } = await import("../../typechain-types");
  const feedAt = (a: string) => FailoverFeed__factory.connect(a, ctx.provider);
  const found = addresses.map((a) => getAddress(a));
  for (const m of markets) {
    const feed = await FeedPricedPerpMarket__factory.connect(m.market, ctx.provider)
      .priceFeed()
      .catch(() => undefined);
    if (!feed || feed === ZeroAddress) continue;
    // Only a FailoverFeed answers serviceId(): a market priced by a plain Chainlink feed is not listed.
    const isFailover = await feedAt(feed)
      .serviceId()
      .then(
        () => true,
        () => false,
      );
    if (isFailover) found.push(getAddress(feed));
  }
  const iface = FailoverFeed__factory.createInterface();
  const out: FailoverFeedStatus[] = [];
  for (const address of [...new Set(found)]) {
    const c = feedAt(address);
    const [serviceId, decimals, maxAge, phase, phaseCount] = await Promise.all([
      c.serviceId(),
      c.decimals(),
      c.maxAge(),
      c.phaseId(),
      c.phaseCount(),
    ]);
    const p = phase > 0n ? await c.phase(phase) : undefined;
    const latest = await c.latestRoundData().then(
      (r) => ({ roundId: r[0].toString(), answer: r[1].toString(), updatedAt: Number(r[3]) }),
      (e: unknown) => {
        const data = (e as { data?: string }).data;
        const parsed = data ? iface.parseError(data) : null;
        const why = parsed
          ? `${parsed.name}(${parsed.args.map(String).join(", ")})`
          : (e instanceof Error ? e.message : String(e)).split("\n")[0].slice(0, 160);
        return { error: why };
      },
    );
    out.push({
      address,
      service: serviceId.toLowerCase(),
      serviceName: services.find((s) => s.id === serviceId.toLowerCase())?.name ?? "?",
      decimals: Number(decimals),
      maxAge: Number(maxAge),
      phase: Number(phase),
      phaseCount: Number(phaseCount),
      endpoint: p ? p[0].toLowerCase() : null,
      feed: p ? p[1] : null,
      latest,
    });
  }
  return out;
}

/** The FailoverFeeds table: which endpoint and feed each adapter serves now, and its latest answer or refusal. PURE. */
export function renderFailoverFeeds(feeds: readonly FailoverFeedStatus[], now: number): string {
  return table(
    ["failover feed", "service", "phase", "serving endpoint", "feed", "latest"],
    feeds.map((f) => [
      f.address,
      f.serviceName,
      `${f.phase} of ${f.phaseCount}`,
      f.endpoint ? short(f.endpoint) : "none (syncPhases due)",
      f.feed ?? "-",
      "error" in f.latest
        ? `refuses: ${f.latest.error}`
        : `${formatUnits(f.latest.answer, f.decimals)} (round ${f.latest.roundId}, ${formatSince(f.latest.updatedAt, now)})`,
    ]),
  );
}

/** `answer` (an integer string) with `decimals` decimals, trailing zeros dropped. PURE. */
export function formatUnits(answer: string, decimals: number): string {
  const negative = answer.startsWith("-");
  const digits = (negative ? answer.slice(1) : answer).padStart(decimals + 1, "0");
  const frac = digits.slice(digits.length - decimals).replace(/0+$/, "");
  return `${negative ? "-" : ""}${digits.slice(0, digits.length - decimals)}${frac ? `.${frac}` : ""}`;
}
