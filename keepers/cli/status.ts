/**
 * `vigil status`: services (active endpoint, each endpoint's health, status and since, whether a
 * migration is due) and markets (paused, cause, a delivery the market refused, whether a trip or resume
 * is due). Reading is split
 * from rendering: {@link readStatus} returns plain data (the `--json` output), {@link renderStatus} is
 * PURE and turns it into the table.
 */
import { Command } from "commander";
import { withCommonOptions, type CommonOptions } from "../shared/cli";
import { EndpointKind, statusName } from "../shared/health";
// ./context (ethers, the contract typings, zod, yaml) loads when status runs, not for `vigil --help`.
import type { IMarketGuard } from "../../typechain-types";
import type { CliContext } from "./context";
import type { CliIo } from "./io";
import { readFailoverFeeds, renderFailoverFeeds, type FailoverFeedStatus } from "./failoverFeedStatus";

export const MIGRATION_CHECKS = [
  "DUE_FAILOVER",
  "DUE_FAILBACK",
  "ACTIVE_USABLE",
  "NO_HEALTHY_CANDIDATE",
  "COOLDOWN",
  "UNKNOWN_SERVICE",
] as const;

export const GUARD_CHECKS = [
  "DUE",
  "ALREADY_PAUSED",
  "NOT_PAUSED",
  "DEPENDENCIES_USABLE",
  "DEPENDENCY_UNHEALTHY",
  "GRACE_PERIOD",
  "UNKNOWN_MARKET",
] as const;

export const DELIVERIES = ["NONE", "PENDING_PAUSE", "PENDING_UNPAUSE"] as const;

const name = (list: readonly string[], v: bigint | number) => list[Number(v)] ?? `INVALID(${v})`;

export interface EndpointStatus {
  id: string;
  kind: string;
  priority: number;
  uri: string;
  active: boolean;
  status: string;
  /** Median of the last round, bps (display). */
  healthBps: number;
  /** A quorum reported at least this, bps (resume thresholds). */
  floorBps: number;
  /** A quorum reported at most this, bps (pause thresholds). */
  ceilingBps: number;
  /** Unix seconds the status began; 0 when never reported. */
  since: number;
  round: number;
  updatedAt: number;
}

export interface ServiceStatus {
  id: string;
  name: string;
  owner: string;
  activeEndpoint: string | null;
  lastMigrationAt: number;
  migration: { check: string; to: string; notBefore: number };
  endpoints: EndpointStatus[];
}

export interface MarketStatus {
  id: number;
  market: string;
  guardian: string;
  pauseThresholdBps: number;
  gracePeriod: number;
  services: string[];
  endpoints: string[];
  paused: boolean;
  pausedAt: number;
  cause: string;
  /** `IMarketGuard.Delivery`: NONE, or the decision the market refused and still has to receive. */
  delivery: string;
  trip: { check: string; cause: string };
  resume: { check: string; notBefore: number };
}

/**
 * One guard market as `vigil status` and the dashboard show it: four views at one block (`blockTag`,
 * default latest), each through `call` (the dashboard's concurrency limit; default: called at once).
 * Ids and causes lower-case.
 */
export async function readMarketStatus(
  guard: IMarketGuard,
  id: number,
  blockTag?: number,
  call: <T>(f: () => Promise<T>) => Promise<T> = (f) => f(),
): Promise<MarketStatus> {
  const at = blockTag === undefined ? {} : { blockTag };
  const [cfg, state, trip, resume] = await Promise.all([
    call(() => guard.marketConfig(id, at)),
    call(() => guard.marketState(id, at)),
    call(() => guard.tripStatus(id, at)),
    call(() => guard.resumeStatus(id, at)),
  ]);
  const lower = (s: string) => s.toLowerCase();
  return {
    id,
    market: cfg.market,
    guardian: cfg.guardian,
    pauseThresholdBps: Number(cfg.pauseThresholdBps),
    gracePeriod: Number(cfg.gracePeriod),
    services: cfg.services.map(lower),
    endpoints: cfg.endpoints.map(lower),
    paused: state.paused,
    pausedAt: Number(state.pausedAt),
    cause: lower(state.cause),
    delivery: name(DELIVERIES, state.delivery),
    trip: { check: name(GUARD_CHECKS, trip[0]), cause: lower(trip[1]) },
    resume: { check: name(GUARD_CHECKS, resume[0]), notBefore: Number(resume[1]) },
  };
}

export interface StatusReport {
  chainId: number;
  /** Latest block: the clock `since` is measured against. */
  block: { number: number; timestamp: number };
  contracts: { oracle: string | null; registry: string | null; guard: string | null };
  services: ServiceStatus[];
  markets: MarketStatus[];
  /** Present when some FailoverFeed is known: given with --failover-feed, or the price feed of a guarded market. */
  failoverFeeds?: FailoverFeedStatus[];
}

/**
 * Read everything the status table shows. Markets only when a guard address is configured. FailoverFeeds: the
 * `failoverFeeds` addresses and those the markets price from ({@link readFailoverFeeds}); `failoverFeeds` is
 * left out of the report when there is none, so the output without them is unchanged.
 */
export async function readStatus(
  ctx: CliContext,
  failoverFeeds: readonly string[] = [],
): Promise<StatusReport> {
  const { txError } = await import("./context");
  const block = await ctx.provider.getBlock("latest");
  if (!block) throw txError(new Error("no latest block"), "reading the chain head");
  const registry = ctx.registry();
  const oracle = ctx.oracle();
  const services: ServiceStatus[] = [];
  for (const serviceId of await registry.services()) {
    const [info, eps, migration] = await Promise.all([
      registry.serviceInfo(serviceId),
      registry.endpointsOf(serviceId),
      registry.migrationStatus(serviceId),
    ]);
    const active = eps.length
      ? await registry.activeEndpoint(serviceId).then((e) => e.id.toLowerCase())
      : null;
    const health = await Promise.all(eps.map((e) => oracle.statusOf(e.id)));
    services.push({
      id: serviceId.toLowerCase(),
      name: info.name,
      owner: info.owner,
      activeEndpoint: active,
      lastMigrationAt: Number(info.lastMigrationAt),
      migration: {
        check: name(MIGRATION_CHECKS, migration[0]),
        to: migration[1],
        notBefore: Number(migration[2]),
      },
      endpoints: eps.map((e, i) => ({
        id: e.id.toLowerCase(),
        kind: EndpointKind[Number(e.kind)] ?? String(e.kind),
        priority: Number(e.priority),
        uri: e.uri,
        active: e.id.toLowerCase() === active,
        status: statusName(health[i].status),
        healthBps: Number(health[i].healthBps),
        floorBps: Number(health[i].floorBps),
        ceilingBps: Number(health[i].ceilingBps),
        since: Number(health[i].since),
        round: Number(health[i].round),
        updatedAt: Number(health[i].updatedAt),
      })),
    });
  }
  const markets: MarketStatus[] = [];
  if (ctx.config.contracts.guard) {
    const guard = ctx.guard();
    const count = Number(await guard.marketCount());
    for (let id = 1; id <= count; id++) markets.push(await readMarketStatus(guard, id));
  }
  const feeds = await readFailoverFeeds(ctx, failoverFeeds, markets, services);
  return {
    chainId: ctx.config.chain.chainId,
    block: { number: block.number, timestamp: block.timestamp },
    contracts: {
      oracle: ctx.config.contracts.oracle ?? null,
      registry: ctx.config.contracts.registry ?? null,
      guard: ctx.config.contracts.guard ?? null,
    },
    services,
    markets,
    ...(feeds.length ? { failoverFeeds: feeds } : {}),
  };
}

/** `2024-01-01T00:00:00Z (42 s ago)`, or `never` for 0. */
export function formatSince(since: number, now: number): string {
  if (since <= 0) return "never";
  const iso = new Date(since * 1000).toISOString().replace(/\.000Z$/, "Z");
  const d = now - since;
  const rel = d >= 0 ? `${d} s ago` : `in ${-d} s`;
  return `${iso} (${rel})`;
}

const short = (id: string) => (id.length > 14 ? `${id.slice(0, 8)}…${id.slice(-4)}` : id);

/** Lay rows out in columns separated by two spaces. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => (c ?? "").padEnd(widths[i]))
      .join("  ")
      .trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

/** The human-readable report. PURE: times are shown against the block timestamp in the report. */
export function renderStatus(r: StatusReport): string {
  const now = r.block.timestamp;
  const out: string[] = [
    `chain ${r.chainId}, block ${r.block.number} at ${formatSince(now, now).replace(/ \(.*\)$/, "")}`,
    "",
  ];
  if (!r.services.length) out.push("no services registered");
  for (const s of r.services) {
    const mig = s.migration.check.startsWith("DUE")
      ? `${s.migration.check} → ${short(s.migration.to)} (anyone may call migrate)`
      : s.migration.check === "COOLDOWN"
        ? `COOLDOWN until ${formatSince(s.migration.notBefore, now)}`
        : s.migration.check;
    out.push(`service ${s.name}  ${s.id}`);
    out.push(`  active: ${s.activeEndpoint ? short(s.activeEndpoint) : "none"}   migration: ${mig}`);
    out.push(
      table(
        ["", "endpoint", "kind", "prio", "status", "health", "since", "uri"],
        s.endpoints.map((e) => [
          e.active ? "*" : "",
          short(e.id),
          e.kind,
          String(e.priority),
          e.status,
          e.floorBps === e.ceilingBps
            ? `${e.healthBps} bps`
            : `${e.healthBps} bps (quorum ${e.floorBps}..${e.ceilingBps})`,
          formatSince(e.since, now),
          e.uri,
        ]),
      )
        .split("\n")
        .map((l) => `  ${l}`)
        .join("\n"),
    );
    out.push("");
  }
  if (r.contracts.guard) {
    if (!r.markets.length) out.push("no markets registered");
    else
      out.push(
        table(
          ["market", "address", "paused", "cause", "delivery", "trip", "resume"],
          r.markets.map((m) => [
            String(m.id),
            m.market,
            m.paused ? `yes since ${formatSince(m.pausedAt, now)}` : "no",
            /^0x0+$/.test(m.cause) ? (m.paused ? "guardian" : "-") : short(m.cause),
            m.delivery === "NONE" ? "-" : `${m.delivery} (market refused; retryDelivery due)`,
            m.trip.check === "DUE" ? `DUE (${short(m.trip.cause)})` : m.trip.check,
            m.resume.check === "GRACE_PERIOD"
              ? `GRACE_PERIOD until ${formatSince(m.resume.notBefore, now)}`
              : m.resume.check,
          ]),
        ),
      );
  }
  if (r.failoverFeeds?.length) out.push("", renderFailoverFeeds(r.failoverFeeds, now));
  return out.join("\n").trimEnd() + "\n";
}

export function statusCommand(io: CliIo): Command {
  const cmd = new Command("status").description(
    "Show services (active endpoint, each endpoint's health in bps, status and since, migration check) " +
      "and markets (paused, cause, pending delivery, trip/resume check). Times are measured against the latest block.",
  );
  withCommonOptions(cmd, { guard: true })
    .option("--json", "print the report as JSON for machines (default: a table)")
    .option(
      "--failover-feed <address...>",
      "FailoverFeed adapters to show (which feed each serves now) (default: those the guarded markets price from)",
    )
    .action(async (opts: CommonOptions & { json?: boolean; failoverFeed?: string[] }) => {
      const { openContext, txError } = await import("./context");
      const ctx = await openContext(opts, io.env);
      try {
        const report = await readStatus(ctx, opts.failoverFeed ?? []).catch((e) => {
          throw txError(e, "reading the contracts");
        });
        io.out(opts.json ? JSON.stringify(report, null, 2) + "\n" : renderStatus(report));
      } finally {
        ctx.close();
      }
    });
  return cmd;
}
