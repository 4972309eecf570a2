/**
 * Markets for the operator CLI: `vigil deploy-example-market` deploys the repo's example guarded market
 * (GuardedPerpMarket) wired to the guard and prints the `register-market` command to run next;
 * `vigil register-market` registers a market with the MarketGuard and says plainly what happens to it when
 * its dependencies are not usable yet (UNKNOWN until the attestors first report them).
 */
import { Command, InvalidArgumentError, Option } from "commander";
import type { AbstractProvider } from "ethers";
// ethers values and the contract typings load when a command runs, not for `vigil --help`.
import type { IMarketGuard } from "../../typechain-types";
import { addressOption, bytes32Option, intOption } from "../shared/cli";
import { VigilError } from "../shared/errors";
import { MAX_BPS, Status } from "../shared/health";
import { GuardCheck } from "../responder/decide";
import type { CliContext } from "./context";
import type { CliIo } from "./io";
import {
  collect,
  deployContract,
  print,
  send,
  withContext,
  withWriteOptions,
  type WriteOptions,
} from "./write";

/** One dependency of a market and the status that decides it: a service's ACTIVE endpoint, or the endpoint. */
export interface DependencyState {
  /** Service or endpoint id (0x + 64 hex). */
  id: string;
  kind: "service" | "endpoint";
  /** The endpoint whose status counts: the service's active endpoint, or the endpoint itself. */
  endpointId: string;
  status: Status;
}

/**
 * What happens to a market just registered, in words for the operator, from the guard's views (pure).
 * @param deps Every dependency with its status. @param trip The guard's `tripStatus` check after registering.
 * @param paused Whether the market is now paused (this command trips it when due). @param graceSeconds Its grace.
 * @returns one paragraph, or "" when every dependency is HEALTHY.
 */
export function explainRegistration(
  deps: readonly DependencyState[],
  trip: GuardCheck,
  paused: boolean,
  thresholdBps: number,
  graceSeconds: number,
): string {
  const notHealthy = deps.filter((d) => d.status !== Status.HEALTHY);
  if (notHealthy.length === 0) return "";
  const names = notHealthy
    .map((d) => `${d.kind} ${d.id}${d.kind === "service" ? ` (active endpoint ${d.endpointId})` : ""}`)
    .join(", ");
  const byStatus = [...new Set(notHealthy.map((d) => Status[d.status]))].join("/");
  const unknown = notHealthy.some((d) => d.status === Status.UNKNOWN)
    ? " UNKNOWN means no quorum of attestors has reported it yet (or its heartbeat lapsed); silence counts as failure."
    : "";
  const resume =
    `It resumes once every dependency has been HEALTHY, with a quorum of attestors at or above ${thresholdBps} bps, ` +
    `for the grace period (${graceSeconds} s): the responder calls resume, and so may anyone.`;
  if (paused) return `Dependencies ${names} are ${byStatus}: the market is paused.${unknown} ${resume}`;
  if (trip === GuardCheck.DUE) {
    return `Dependencies ${names} are ${byStatus}: the market is due to pause; the first keeper (responder or upkeep) will pause it.${unknown} ${resume}`;
  }
  return (
    `Dependencies ${names} are ${byStatus}, but the market is not due to pause: ` +
    `a service whose active endpoint is down or silent fails over to a HEALTHY backup instead (the responder ` +
    `calls migrate), and a dependency merely under the threshold is left to the oracle's hysteresis.`
  );
}

/** Read every dependency's deciding status through the guard's own registry and oracle. */
async function dependencyStates(
  guard: IMarketGuard,
  provider: AbstractProvider,
  services: readonly string[],
  endpoints: readonly string[],
): Promise<DependencyState[]> {
  const { IEndpointRegistry__factory, IHealthOracle__factory } = await import("../../typechain-types");
  const registry = IEndpointRegistry__factory.connect(await guard.registry(), provider);
  const oracle = IHealthOracle__factory.connect(await guard.oracle(), provider);
  const out: DependencyState[] = [];
  for (const id of services) {
    const endpointId = await registry.activeEndpointId(id);
    out.push({ id, kind: "service", endpointId, status: Number((await oracle.statusOf(endpointId)).status) });
  }
  for (const id of endpoints) {
    out.push({ id, kind: "endpoint", endpointId: id, status: Number((await oracle.statusOf(id)).status) });
  }
  return out;
}

/**
 * Check that `address` holds a MarketGuard on the context's chain (code present, `marketCount()` answers).
 * @throws VIGIL_CONFIG naming `--guard` otherwise.
 */
async function requireGuard(ctx: CliContext): Promise<IMarketGuard> {
  const guard = ctx.guard();
  const address = await guard.getAddress();
  const hint =
    "pass the MarketGuard address `npm run deploy` printed (--guard, VIGIL_GUARD or contracts.guard)";
  if ((await ctx.provider.getCode(address)) === "0x") {
    throw new VigilError(
      "VIGIL_CONFIG",
      `--guard ${address} has no contract code on chain ${ctx.config.chain.chainId}`,
      hint,
    );
  }
  try {
    await guard.marketCount();
  } catch {
    throw new VigilError("VIGIL_CONFIG", `--guard ${address} does not answer as a MarketGuard`, hint);
  }
  return guard;
}

interface RegisterOptions extends WriteOptions {
  market: string;
  guardian?: string;
  threshold: number;
  grace: number;
  service?: string[];
  endpoint?: string[];
}

/**
 * `vigil register-market`: check the market contract off-chain (code present, not already registered), register
 * it, and, when a dependency is not usable yet (e.g. UNKNOWN before the attestors' first report), pause it at
 * once with `trip` (anyone may call it; the responder would do the same at its first poll) and say so.
 * Operator mistakes exit 2 with VIGIL_CONFIG; reverts with VIGIL_TX naming the custom error.
 */
export function registerMarketCommand(io: CliIo): Command {
  const cmd = new Command("register-market").description(
    "Register a market with the MarketGuard (owner only): its dependencies, pause threshold and grace period. " +
      "Prints the market id. A market whose dependencies are not usable yet (UNKNOWN until the attestors first " +
      "report them) is paused at once and resumes once they are HEALTHY for the grace period.",
  );
  withWriteOptions(cmd, true)
    .addOption(
      new Option(
        "--market <address>",
        "the IGuardedMarket contract (required; try vigil deploy-example-market)",
      )
        .argParser(addressOption)
        .makeOptionMandatory(),
    )
    .addOption(
      new Option("--guardian <address>", "may pause at any time (default: none)").argParser(addressOption),
    )
    .addOption(
      new Option(
        "--threshold <bps>",
        "an endpoint counts as usable when HEALTHY or DEGRADED with health at or above this, basis points 1..10000",
      )
        .argParser(intOption(1, MAX_BPS))
        .default(5_000),
    )
    .addOption(
      new Option("--grace <seconds>", "seconds every dependency must be HEALTHY before resume")
        .argParser(intOption(0, 2 ** 32 - 1))
        .default(300),
    )
    .addOption(
      new Option("--service <id...>", "service id(s) the market depends on (default: none)").argParser(
        collect(bytes32Option),
      ),
    )
    .addOption(
      new Option(
        "--endpoint <id...>",
        "single endpoint id(s) the market depends on (default: none)",
      ).argParser(collect(bytes32Option)),
    )
    .action(async (o: RegisterOptions) => {
      const services = o.service ?? [];
      const endpoints = o.endpoint ?? [];
      if (!services.length && !endpoints.length) {
        throw new VigilError(
          "VIGIL_CONFIG",
          "a market needs at least one dependency",
          "give --service or --endpoint",
        );
      }
      await withContext(o, io, async (ctx) => {
        const guard = await requireGuard(ctx);
        if ((await ctx.provider.getCode(o.market)) === "0x") {
          throw new VigilError(
            "VIGIL_CONFIG",
            `--market ${o.market} has no contract code on chain ${ctx.config.chain.chainId}`,
            "deploy the market first, e.g. vigil deploy-example-market",
          );
        }
        const { getAddress, ZeroAddress } = await import("ethers");
        const existing = await guard.marketIdOf(o.market);
        if (existing !== 0n) {
          throw new VigilError(
            "VIGIL_CONFIG",
            `--market ${getAddress(o.market)} is already registered as market ${existing}`,
            "a contract is registered once; change its dependencies with setMarketConfig (owner), or deploy another market",
          );
        }
        const admin = guard.connect(await ctx.admin(o.keystore));
        const r = await send(
          "registerMarket",
          guard.interface,
          () =>
            admin.registerMarket({
              market: o.market,
              guardian: o.guardian ?? ZeroAddress,
              pauseThresholdBps: o.threshold,
              gracePeriod: o.grace,
              services,
              endpoints,
            }),
          o.confirmations,
        );
        const ev = r.events.find((e) => e.name === "MarketRegistered");
        if (!ev)
          throw new VigilError("VIGIL_TX", "registerMarket emitted no MarketRegistered", `tx ${r.hash}`);
        const marketId = ev.args.marketId as bigint;
        const result: Record<string, unknown> = {
          marketId: String(marketId),
          market: o.market,
          tx: r.hash,
          block: r.block,
        };
        const trip = Number((await guard.tripStatus(marketId)).check) as GuardCheck;
        if (trip === GuardCheck.DUE) {
          const t = await send("trip", guard.interface, () => admin.trip(marketId), o.confirmations);
          result.pauseTx = t.hash;
        }
        const paused = await guard.isPaused(marketId);
        const deps = await dependencyStates(guard, ctx.provider, services, endpoints);
        result.paused = paused;
        result.dependencies = deps.map((d) => `${d.id} ${Status[d.status]}`);
        const note = explainRegistration(deps, trip, paused, o.threshold, o.grace);
        if (note) result.note = note;
        print(io, o.json, result);
      });
    });
  return cmd;
}

/** Mark price: collateral base units per 1e18 size, as an integer or `<n>e<k>` (e.g. 2000e18). */
function priceOption(value: string): bigint {
  const m = /^([0-9]+)(?:e([0-9]{1,2}))?$/.exec(value.trim());
  const price = m ? BigInt(m[1]) * 10n ** BigInt(m[2] ?? 0) : 0n;
  if (price === 0n)
    throw new InvalidArgumentError(`expected a positive integer such as 2000e18, got "${value}"`);
  return price;
}

interface DeployExampleOptions extends WriteOptions {
  collateral?: string;
  owner?: string;
  markPrice: bigint;
  service?: string[];
}

/**
 * `vigil deploy-example-market`: deploy the example GuardedPerpMarket (contracts/examples) wired to the guard
 * (only the guard may pause it), with a test ERC-20 collateral unless `--collateral` is given, and print its
 * address and the exact `vigil register-market` command to run next. Needs the admin key (any funded key
 * works: deploying needs no role). Exits 2 with VIGIL_CONFIG when `--guard` holds no MarketGuard.
 */
export function deployExampleMarketCommand(io: CliIo): Command {
  const cmd = new Command("deploy-example-market").description(
    "Deploy the example guarded market (GuardedPerpMarket: pausing stops opening risk, exits stay open) wired to " +
      "the MarketGuard, then print its address and the vigil register-market command to run next.",
  );
  withWriteOptions(cmd, true)
    .addOption(
      new Option(
        "--collateral <address>",
        "ERC-20 used as margin (default: deploy a test token, Vigil Test USD, anyone may mint)",
      ).argParser(addressOption),
    )
    .addOption(
      new Option("--owner <address>", "sets the mark price (default: the admin key's address)").argParser(
        addressOption,
      ),
    )
    .addOption(
      new Option("--mark-price <units>", "initial mark price, collateral base units per 1e18 size")
        .argParser(priceOption)
        .default(2_000n * 10n ** 18n, "2000e18"),
    )
    .addOption(
      new Option(
        "--service <id...>",
        "service id(s) to put in the printed register-market command (default: the registry's only service)",
      ).argParser(collect(bytes32Option)),
    )
    .action(async (o: DeployExampleOptions) => {
      await withContext(o, io, async (ctx) => {
        const { GuardedPerpMarket__factory, IEndpointRegistry__factory, MockERC20__factory } =
          await import("../../typechain-types");
        const guard = await requireGuard(ctx);
        const guardAddress = await guard.getAddress();
        const signer = await ctx.admin(o.keystore);
        const owner = o.owner ?? (await signer.getAddress());
        let collateral = o.collateral;
        const result: Record<string, unknown> = {};
        if (!collateral) {
          const token = await deployContract(
            "MockERC20",
            () => new MockERC20__factory(signer).deploy("Vigil Test USD", "vtUSD"),
            o.confirmations,
          );
          collateral = token.address;
          result.collateral = `${collateral} (test token vtUSD: anyone may mint)`;
        } else {
          result.collateral = collateral;
        }
        const market = await deployContract(
          "GuardedPerpMarket",
          () => new GuardedPerpMarket__factory(signer).deploy(collateral!, guardAddress, owner, o.markPrice),
          o.confirmations,
        );
        let services = o.service ?? [];
        const registry = IEndpointRegistry__factory.connect(await guard.registry(), ctx.provider);
        const known = await registry.services();
        if (!services.length && known.length === 1) services = [known[0]];
        const connection = `${o.config ? `--config ${o.config}` : `--rpc-url ${ctx.config.chain.rpcUrls[0]}`} --guard ${guardAddress}`;
        const serviceArgs = services.length
          ? services.map((s) => `--service ${s}`).join(" ")
          : "--service <service id>";
        const next = `vigil register-market ${connection} --market ${market.address} ${serviceArgs} --threshold 5000 --grace 300`;
        Object.assign(result, { market: market.address, guard: guardAddress, owner, tx: market.hash, next });
        if (!services.length) {
          const names = await Promise.all(
            known.map(async (id) => `${id} (${(await registry.serviceInfo(id)).name})`),
          );
          result.services = names.length
            ? names
            : "none yet: register one with vigil register-service and add-endpoint";
        }
        print(io, o.json, result);
      });
    });
  return cmd;
}
