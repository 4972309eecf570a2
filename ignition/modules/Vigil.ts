import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";
import { z } from "zod";
import VigilCore from "./VigilCore";

const zAddress = z.string().regex(/^0x[0-9a-fA-F]{40}$/, "must be a 0x-prefixed 20-byte address");
const KINDS = ["JSON_RPC", "WEBSOCKET", "ORACLE_FEED", "SEQUENCER_FEED", "HTTP"] as const;

/**
 * The deployment parameters file (`ignition/parameters/<network>.json`), validated before anything
 * is sent. Units: seconds, bps, gas.
 */
export const zDeployParams = z
  .object({
    /** Final owner of the oracle, the guard and the services (a timelock in production); default: the deployer. */
    owner: zAddress.optional(),
    core: z
      .object({
        roundSeconds: z.number().int().min(1).default(10),
        maxSkew: z.number().int().min(0).default(15),
        listenerGasLimit: z.number().int().min(50_000).max(2_000_000).default(500_000),
        marketCallGas: z.number().int().min(30_000).max(2_000_000).default(200_000),
        defaultPolicy: z
          .object({
            downBelowBps: z.number().int().min(1).max(10_000),
            upAtBps: z.number().int().min(1).max(10_000),
            fallRounds: z.number().int().min(1).max(255),
            riseRounds: z.number().int().min(1).max(255),
            heartbeat: z.number().int().min(1),
            maxAge: z.number().int().min(1),
          })
          .refine((p) => p.downBelowBps < p.upAtBps, "downBelowBps must be below upAtBps")
          .default({
            downBelowBps: 5000,
            upAtBps: 8000,
            fallRounds: 2,
            riseRounds: 2,
            heartbeat: 300,
            maxAge: 60,
          }),
      })
      .default({}),
    /**
     * Attestor signer addresses (any order: sorted here) and the quorum (n ≥ 3f+1, quorum ≥ 2f+1, and a
     * strict majority: quorum > n/2), as `HealthOracle.setAttestors` requires.
     */
    attestors: z.array(zAddress).min(1).max(255),
    quorum: z.number().int().min(1).max(255),
    services: z
      .array(
        z.object({
          name: z.string().min(1).max(64),
          cooldown: z.number().int().min(0).default(60),
          recoveryPeriod: z.number().int().min(0).default(300),
          endpoints: z
            .array(
              z.object({
                /** WEBSOCKET is refused: no attestor probes it, so it would stay UNKNOWN forever. */
                kind: z
                  .enum(KINDS)
                  .refine(
                    (k) => k !== "WEBSOCKET",
                    "no attestor probes WebSocket endpoints: give the node's http(s) JSON-RPC URL with kind JSON_RPC",
                  ),
                uri: z.string().min(1).max(256),
                priority: z.number().int().min(0).max(65_535),
              }),
            )
            .min(1)
            .max(16),
        }),
      )
      .default([]),
    markets: z
      .array(
        z.object({
          /** An existing IGuardedMarket; omit to deploy the example GuardedPerpMarket (with a test collateral token). */
          address: zAddress.optional(),
          guardian: zAddress.optional(),
          pauseThresholdBps: z.number().int().min(0).max(10_000).default(5000),
          gracePeriod: z.number().int().min(0).default(120),
          /** Names of services declared above. */
          services: z.array(z.string()).default([]),
          /**
           * Index into `adapters.failoverFeeds`: deploy the example market as a FeedPricedPerpMarket whose mark price
           * is that FailoverFeed (its service must be among `services`). Omit for the owner-set mark price.
           */
          priceFeed: z.number().int().min(0).optional(),
        }),
      )
      .default([]),
    /**
     * Optional adapters, deployed against the contracts above: a Chainlink-style HealthFeed per listed endpoint
     * (`service` by name, `endpoint` its index in that service's list), the Chainlink Automation VigilUpkeep, and
     * FailoverFeeds (a price feed that follows a service's failover).
     */
    adapters: z
      .object({
        healthFeeds: z
          .array(
            z.object({
              service: z.string(),
              endpoint: z.number().int().min(0).default(0),
              /** Shown by the feed's `description()`; default `Vigil health / <service> / <endpoint uri>`. */
              description: z.string().max(128).optional(),
            }),
          )
          .default([]),
        upkeep: z.boolean().default(false),
        /**
         * FailoverFeeds: one Chainlink feed address per listed service that answers from the service's active
         * ORACLE_FEED endpoint (every endpoint of the service must be one, `eip155:<this chain>:<feed>`, feeds
         * deployed before this deployment). `decimals` of its answers (each feed's at most this), `maxAge` the
         * oldest accepted round of the active feed, seconds (its heartbeat plus the time a round takes to land).
         */
        failoverFeeds: z
          .array(
            z.object({
              service: z.string(),
              decimals: z.number().int().min(0).max(36).default(8),
              maxAge: z.number().int().min(1),
              /** Shown by the feed's `description()`; default `Vigil failover / <service>`. */
              description: z.string().max(128).optional(),
            }),
          )
          .default([]),
      })
      .default({}),
  })
  .superRefine((p, ctx) => {
    const n = p.attestors.length;
    const f = Math.floor((n - 1) / 3);
    // The PBFT bound 2f+1 and a strict majority of the set (THREATS #8).
    const min = Math.max(2 * f + 1, Math.floor(n / 2) + 1);
    if (p.quorum > n || p.quorum < min) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ["quorum"],
        message:
          `quorum ${p.quorum} with ${n} attestors: need ${min} ≤ quorum ≤ ${n} ` +
          `(at least 2f+1 = ${2 * f + 1} with f = ${f}, and a strict majority, more than ${n / 2})`,
      });
    }
    const names = new Set(p.services.map((s) => s.name));
    p.adapters.healthFeeds.forEach((f, i) => {
      const service = p.services.find((s) => s.name === f.service);
      if (!service || f.endpoint >= service.endpoints.length) {
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          path: ["adapters", "healthFeeds", i],
          message: service
            ? `service "${f.service}" has no endpoint #${f.endpoint} (it has ${service.endpoints.length})`
            : `unknown service "${f.service}"`,
        });
      }
    });
    p.adapters.failoverFeeds.forEach((f, i) => {
      const service = p.services.find((s) => s.name === f.service);
      const notFeed = service?.endpoints.findIndex((e) => e.kind !== "ORACLE_FEED") ?? -1;
      if (!service || notFeed >= 0) {
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          path: ["adapters", "failoverFeeds", i],
          message: service
            ? `service "${f.service}" endpoint #${notFeed} is ${service.endpoints[notFeed].kind}: a FailoverFeed reads ORACLE_FEED endpoints only`
            : `unknown service "${f.service}"`,
        });
      }
    });
    p.markets.forEach((mk, i) => {
      if (mk.priceFeed === undefined) return;
      const feed = p.adapters.failoverFeeds[mk.priceFeed];
      const problem = mk.address
        ? "a priceFeed needs the example market (no address)"
        : !feed
          ? `adapters.failoverFeeds has no #${mk.priceFeed} (it has ${p.adapters.failoverFeeds.length})`
          : !mk.services.includes(feed.service)
            ? `the market reads its price from "${feed.service}": list it in services, so the guard pauses it when no feed of it is usable`
            : undefined;
      if (problem)
        ctx.addIssue({ code: z.ZodIssueCode.custom, path: ["markets", i, "priceFeed"], message: problem });
    });
    p.markets.forEach((mk, i) =>
      mk.services.forEach((s) => {
        if (!names.has(s))
          ctx.addIssue({
            code: z.ZodIssueCode.custom,
            path: ["markets", i, "services"],
            message: `unknown service "${s}"`,
          });
      }),
    );
  });

export type DeployParams = z.output<typeof zDeployParams>;

/**
 * Build the Ignition module for one deployment: the core contracts, the attestor set, the services
 * with their endpoints (in order: the first becomes active), the the optional FailoverFeeds, the markets (the
 * example market when no address is given, priced by a FailoverFeed when `priceFeed` is set), the other optional
 * adapters (HealthFeeds, VigilUpkeep), then ownership handed to `owner`. Its shape depends on the parameters (how many
 * services and endpoints), so it is built from the validated file rather than from `m.getParameter`.
 * Deploy with `hre.ignition.deploy(module, { parameters: { VigilCore: params.core } })`.
 */
export function buildVigilModule(params: DeployParams) {
  return buildModule("Vigil", (m) => {
    const { oracle, registry, guard } = m.useModule(VigilCore);
    const deployer = m.getAccount(0);
    const sorted = [...params.attestors].sort((a, b) => (a.toLowerCase() < b.toLowerCase() ? -1 : 1));
    m.call(oracle, "setAttestors", [sorted, params.quorum], { id: "SetAttestors" });

    const serviceIds = new Map<string, ReturnType<typeof m.readEventArgument>>();
    const endpointCalls = new Map<string, ReturnType<typeof m.call>[]>();
    const serviceCalls: ReturnType<typeof m.call>[] = [];
    params.services.forEach((s, i) => {
      const reg = m.call(
        registry,
        "registerService",
        [s.name, { cooldown: s.cooldown, recoveryPeriod: s.recoveryPeriod }],
        {
          id: `RegisterService_${i}`,
        },
      );
      const serviceId = m.readEventArgument(reg, "ServiceRegistered", "serviceId", { id: `ServiceId_${i}` });
      serviceIds.set(s.name, serviceId);
      let previous: ReturnType<typeof m.call> = reg;
      const adds: ReturnType<typeof m.call>[] = [];
      s.endpoints.forEach((e, j) => {
        previous = m.call(registry, "addEndpoint", [serviceId, KINDS.indexOf(e.kind), e.uri, e.priority], {
          id: `AddEndpoint_${i}_${j}`,
          after: [previous],
        });
        adds.push(previous);
      });
      endpointCalls.set(s.name, adds);
      serviceCalls.push(previous);
    });

    // FailoverFeeds first: a market may price from one. Each reads its service's endpoints at construction, so it
    // is deployed after the last of them is added.
    const adapters: Record<string, unknown> = {};
    const failoverFeeds = params.adapters.failoverFeeds.map((f, i) => {
      const feed = m.contract(
        "FailoverFeed",
        [
          registry,
          serviceIds.get(f.service)!,
          f.decimals,
          f.maxAge,
          f.description ?? `Vigil failover / ${f.service}`,
        ],
        { id: `FailoverFeed_${i}`, after: endpointCalls.get(f.service) },
      );
      adapters[`failoverFeed${i}`] = feed;
      return feed;
    });

    const markets: Record<string, unknown> = {};
    params.markets.forEach((mk, i) => {
      let market;
      if (mk.address) {
        market = mk.address;
      } else {
        const token = m.contract("MockERC20", ["Vigil Test USD", "vtUSD"], { id: `CollateralToken_${i}` });
        market =
          mk.priceFeed === undefined
            ? m.contract("GuardedPerpMarket", [token, guard, params.owner ?? deployer, 2_000n * 10n ** 18n], {
                id: `GuardedPerpMarket_${i}`,
              })
            : m.contract(
                "FeedPricedPerpMarket",
                [token, guard, params.owner ?? deployer, failoverFeeds[mk.priceFeed]],
                {
                  id: `FeedPricedPerpMarket_${i}`,
                },
              );
        markets[`market${i}`] = market;
        markets[`collateral${i}`] = token;
      }
      m.call(
        guard,
        "registerMarket",
        [
          {
            market,
            guardian: mk.guardian ?? "0x0000000000000000000000000000000000000000",
            pauseThresholdBps: mk.pauseThresholdBps,
            gracePeriod: mk.gracePeriod,
            services: mk.services.map((name) => serviceIds.get(name)!),
            endpoints: [],
          },
        ],
        { id: `RegisterMarket_${i}`, after: serviceCalls },
      );
    });

    params.adapters.healthFeeds.forEach((f, i) => {
      const serviceIndex = params.services.findIndex((s) => s.name === f.service);
      const endpointId = m.readEventArgument(
        endpointCalls.get(f.service)![f.endpoint],
        "EndpointAdded",
        "endpointId",
        {
          id: `HealthFeedEndpointId_${i}`,
        },
      );
      const uri = params.services[serviceIndex].endpoints[f.endpoint].uri;
      adapters[`healthFeed${i}`] = m.contract(
        "HealthFeed",
        [oracle, endpointId, f.description ?? `Vigil health / ${f.service} / ${uri}`],
        { id: `HealthFeed_${i}` },
      );
    });
    if (params.adapters.upkeep)
      adapters.upkeep = m.contract("VigilUpkeep", [registry, guard], { id: "VigilUpkeep" });

    if (params.owner) {
      m.call(oracle, "transferOwnership", [params.owner], { id: "TransferOracle" });
      m.call(guard, "transferOwnership", [params.owner], { id: "TransferGuard" });
      params.services.forEach((s, i) =>
        m.call(registry, "transferServiceOwnership", [serviceIds.get(s.name)!, params.owner!], {
          id: `TransferService_${i}`,
          after: serviceCalls,
        }),
      );
    }
    return {
      oracle,
      registry,
      guard,
      ...(markets as Record<string, ReturnType<typeof m.contract>>),
      ...(adapters as Record<string, ReturnType<typeof m.contract>>),
    };
  });
}
