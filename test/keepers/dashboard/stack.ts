/**
 * A small Vigil system on a real anvil node for the dashboard's browser test and
 * scripts/dashboard-screenshot.ts: the contracts from the Hardhat artifacts, four attestors (quorum 3)
 * signing real EIP-712 reports (test/helpers/attest.ts), two services and two guarded markets, and the
 * faults the page must show. Everything goes through the contracts; the dashboard sees only the chain.
 *
 * - `eth-mainnet-rpc`: a primary and a backup JSON-RPC endpoint; market #1 depends on the service.
 * - `eth-usd-feed`: one oracle-feed endpoint; market #2 depends on it.
 * - optionally a stranger's service whose name and endpoint URI are HTML/script payloads (the registry
 *   is permissionless, so they are attacker-controlled strings).
 *
 * Rounds are made on chain time (`evm_setNextBlockTimestamp`), one per {@link DashboardStack.round} call;
 * nothing waits for wall-clock time.
 */
import { Contract, Wallet, type JsonRpcProvider } from "ethers";
import { AttestorPanel, submitArgs } from "../../helpers/attest";
import { Anvil, ANVIL_KEYS, deployArtifact } from "../helpers/anvil";

export const ROUND_SECONDS = 10;
export const POLICY = {
  downBelowBps: 5000,
  upAtBps: 8000,
  fallRounds: 2,
  riseRounds: 2,
  heartbeat: 600,
  maxAge: 60,
};
export const PRIMARY_URI = "https://eth.primary.example/v1/mainnet";
export const BACKUP_URI = "https://eth.backup.example/v1/mainnet";
export const FEED_URI = "eip155:1:0x5f4eC3Df9cbd43714FE2740f5E3616155c5b8419";
/** A URI and a name that would run script if a page put them into markup. */
export const XSS_URI = `"><img src=x onerror="window.__xss=1"><script>window.__xss=2</script>`;
export const XSS_NAME = `<svg onload="window.__xss=3">evil</svg>`;

const KIND = { JSON_RPC: 0, ORACLE_FEED: 2, HTTP: 4 } as const;

export interface StackIds {
  rpcService: string;
  feedService: string;
  primary: string;
  backup: string;
  feed: string;
  hostileService?: string;
  hostile?: string;
}

export class DashboardStack {
  /** Current health per endpoint id, bps, that every attestor reports (unless told otherwise). */
  readonly health = new Map<string, number>();
  private chainTime = 0;
  private chainStopped = false;

  private constructor(
    readonly anvil: Anvil,
    readonly provider: JsonRpcProvider,
    readonly oracle: Contract,
    readonly registry: Contract,
    readonly guard: Contract,
    readonly markets: string[],
    readonly ids: StackIds,
    private readonly panel: AttestorPanel,
    /** A keeper with no role: anyone may relay, migrate and trip. */
    readonly keeper: Wallet,
  ) {}

  /** Start anvil and deploy; `hostile` also registers the stranger's service with the XSS payloads. */
  static async start(opts: { hostile?: boolean } = {}): Promise<DashboardStack> {
    const anvil = await Anvil.start();
    try {
      const provider = anvil.provider(100);
      const admin = new Wallet(ANVIL_KEYS[0], provider);
      const keeper = new Wallet(ANVIL_KEYS[1], provider);
      const attestors = ANVIL_KEYS.slice(5, 9).map((k) => new Wallet(k));
      const sorted = [...attestors].sort((a, b) => (BigInt(a.address) < BigInt(b.address) ? -1 : 1));
      const oracle = await deployArtifact(
        "HealthOracle",
        [admin.address, ROUND_SECONDS, 15, 500_000, POLICY],
        admin,
      );
      await (
        await oracle.setAttestors(
          sorted.map((a) => a.address),
          3,
        )
      ).wait();
      const registry = await deployArtifact("EndpointRegistry", [await oracle.getAddress()], admin);
      const guard = await deployArtifact(
        "MarketGuard",
        [admin.address, await oracle.getAddress(), await registry.getAddress(), 200_000],
        admin,
      );
      const token = await deployArtifact("MockERC20", ["Collateral", "COL"], admin);
      const register = async (owner: Wallet, name: string, endpoints: [number, string][]) => {
        const reg = registry.connect(owner) as Contract;
        const config = { cooldown: 60, recoveryPeriod: 120 };
        const serviceId: string = await reg.registerService.staticCall(name, config);
        await (await reg.registerService(name, config)).wait();
        const ids: string[] = [];
        for (const [i, [kind, uri]] of endpoints.entries()) {
          ids.push(((await reg.addEndpoint.staticCall(serviceId, kind, uri, i)) as string).toLowerCase());
          await (await reg.addEndpoint(serviceId, kind, uri, i)).wait();
        }
        return { serviceId: serviceId.toLowerCase(), ids };
      };
      const rpc = await register(admin, "eth-mainnet-rpc", [
        [KIND.JSON_RPC, PRIMARY_URI],
        [KIND.JSON_RPC, BACKUP_URI],
      ]);
      const feed = await register(admin, "eth-usd-feed", [[KIND.ORACLE_FEED, FEED_URI]]);
      const ids: StackIds = {
        rpcService: rpc.serviceId,
        feedService: feed.serviceId,
        primary: rpc.ids[0],
        backup: rpc.ids[1],
        feed: feed.ids[0],
      };
      if (opts.hostile) {
        const h = await register(new Wallet(ANVIL_KEYS[9], provider), XSS_NAME, [[KIND.HTTP, XSS_URI]]);
        ids.hostileService = h.serviceId;
        ids.hostile = h.ids[0];
      }
      const markets: string[] = [];
      for (const services of [[rpc.serviceId], [feed.serviceId]]) {
        const market = await deployArtifact(
          "GuardedPerpMarket",
          [await token.getAddress(), await guard.getAddress(), admin.address, 10n ** 18n],
          admin,
        );
        markets.push(await market.getAddress());
        await (
          await guard.registerMarket({
            market: await market.getAddress(),
            guardian: admin.address,
            pauseThresholdBps: 5000,
            gracePeriod: 60,
            services,
            endpoints: [],
          })
        ).wait();
      }
      const panel = new AttestorPanel(attestors, () => POLICY);
      const stack = new DashboardStack(anvil, provider, oracle, registry, guard, markets, ids, panel, keeper);
      for (const id of [ids.primary, ids.backup, ids.feed, ...(ids.hostile ? [ids.hostile] : [])]) {
        stack.health.set(id, 9800);
      }
      stack.chainTime = (await provider.getBlock("latest"))!.timestamp;
      return stack;
    } catch (e) {
      await anvil.stop();
      throw e;
    }
  }

  /**
   * One report round on chain time: the attestors in `who` (indices 0..3, default all) sign the current
   * {@link health} of every endpoint (attestor `low`, if given, reports 6000 bps everywhere: a dissenting
   * minority), and the keeper relays it with `submit`. @returns the submit transaction hash.
   */
  async round(opts: { who?: number[]; low?: number } = {}): Promise<string> {
    this.chainTime = (Math.floor(this.chainTime / ROUND_SECONDS) + 1) * ROUND_SECONDS;
    const endpointIds = [...this.health.keys()];
    const signed = await this.panel.sign(this.oracle as never, {
      endpointIds,
      observedAt: this.chainTime,
      health: (s, e) => (s === opts.low ? 6000 : this.health.get(endpointIds[e])!),
      who: opts.who,
    });
    await this.anvil.send("evm_setNextBlockTimestamp", [this.chainTime + 1]);
    const tx = await (this.oracle.connect(this.keeper) as Contract).submit(...submitArgs(signed));
    await tx.wait();
    this.chainTime += 1;
    return tx.hash as string;
  }

  /** `registry.migrate(service)` by the keeper. @returns the transaction hash. */
  async migrate(serviceId: string): Promise<string> {
    const tx = await (this.registry.connect(this.keeper) as Contract).migrate(serviceId);
    await tx.wait();
    return tx.hash as string;
  }

  /** `guard.trip(marketId)` by the keeper. @returns the transaction hash. */
  async trip(marketId: number): Promise<string> {
    const tx = await (this.guard.connect(this.keeper) as Contract).trip(marketId);
    await tx.wait();
    return tx.hash as string;
  }

  /**
   * Healthy history: `rounds` rounds at 9800 bps, attestor 3 missing every third round and attestor 2
   * dissenting once (so participation and quorum ranges show). Every endpoint ends HEALTHY.
   */
  async warmUp(rounds = 6): Promise<void> {
    for (let i = 0; i < rounds; i++) {
      await this.round({ who: i % 3 === 2 ? [0, 1, 2] : undefined, low: i === 3 ? 2 : undefined });
    }
  }

  /**
   * The fault: the primary RPC endpoint and the price feed fail (0 bps) for `fallRounds` rounds, so both
   * read DOWN; then the keeper migrates the RPC service to its backup and trips market #2 (its feed
   * cannot fail over). @returns the hashes of the migrate and trip transactions.
   */
  async injectFault(): Promise<{ migrateTx: string; tripTx: string }> {
    this.health.set(this.ids.primary, 0);
    this.health.set(this.ids.feed, 0);
    for (let i = 0; i < POLICY.fallRounds; i++) await this.round({ who: i === 1 ? [0, 1, 3] : undefined });
    const migrateTx = await this.migrate(this.ids.rpcService);
    const tripTx = await this.trip(2);
    await this.round();
    return { migrateTx, tripTx };
  }

  /** The common config keys of a dashboard for this stack (port 0: any free port). */
  async dashboardConfig(): Promise<Record<string, unknown>> {
    return {
      chain: { rpcUrls: [this.anvil.url], chainId: this.anvil.chainId },
      contracts: {
        oracle: await this.oracle.getAddress(),
        registry: await this.registry.getAddress(),
        guard: await this.guard.getAddress(),
      },
      http: { host: "127.0.0.1", port: 0 },
      log: { level: process.env.VIGIL_TEST_LOG ?? "silent" },
      pollIntervalMs: 250,
    };
  }

  /** Stop the node (the dashboard then sees an unreachable chain). Idempotent. */
  async stopChain(): Promise<void> {
    if (this.chainStopped) return;
    this.chainStopped = true;
    await this.anvil.stop();
  }

  async stop(): Promise<void> {
    this.provider.destroy();
    await this.stopChain();
  }
}
