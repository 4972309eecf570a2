/**
 * The keepers' event watcher (keepers/shared/events.ts) against a real anvil node: it reports the
 * watched events of new blocks only, and once it has stopped nothing of it is in flight on the
 * provider, so the provider can be destroyed at once (no uncaught "provider destroyed" rejection).
 */
import { expect } from "chai";
import hre from "hardhat";
import { Contract, JsonRpcProvider, Network, Wallet, type Log } from "ethers";
import { watchLogs } from "../../keepers/shared/events";
import { createLogger } from "../../keepers/shared/logger";
import { Anvil, ANVIL_KEYS, deployArtifact } from "./helpers/anvil";

const logger = createLogger("test", { level: process.env.VIGIL_TEST_LOG ?? "silent" });

/** A provider that counts its JSON-RPC requests still unanswered and says when a head was read. */
class Counting extends JsonRpcProvider {
  inFlight = 0;
  private _heads: Array<() => void> = [];
  /** Resolves after the next `eth_blockNumber` is answered. */
  nextHead(): Promise<void> {
    return new Promise((resolve) => this._heads.push(resolve));
  }
  override async send(method: string, params: unknown[] | Record<string, unknown>): Promise<unknown> {
    this.inFlight += 1;
    try {
      return await super.send(method, params);
    } finally {
      this.inFlight -= 1;
      if (method === "eth_blockNumber") this._heads.splice(0).forEach((f) => f());
    }
  }
}

describe("event watcher (keepers/shared/events)", function () {
  this.timeout(120_000);
  let anvil: Anvil;
  let provider: JsonRpcProvider;
  let token: Contract;
  let admin: Wallet;

  before(async function () {
    if (!(await hre.artifacts.artifactExists("MockERC20"))) this.skip();
    anvil = await Anvil.start();
    provider = anvil.provider(100);
    admin = new Wallet(ANVIL_KEYS[0], provider);
    token = await deployArtifact("MockERC20", ["Token", "TOK"], admin);
  });

  after(async function () {
    provider?.destroy();
    await anvil?.stop();
  });

  const counting = () => {
    const network = Network.from(anvil.chainId);
    return new Counting(anvil.url, network, { staticNetwork: network, cacheTimeout: -1 });
  };

  it("reports the watched events of blocks mined after it started, and no other event", async function () {
    const watched = counting();
    const controller = new AbortController();
    const seen: Log[] = [];
    const gaps: number[][] = [];
    let reported!: () => void;
    const first = new Promise<void>((resolve) => (reported = resolve));
    const firstHead = watched.nextHead();
    const watch = watchLogs({
      name: "events",
      provider: watched,
      events: [{ address: await token.getAddress(), topic: token.interface.getEvent("Transfer")!.topicHash }],
      intervalMs: 50,
      signal: controller.signal,
      logger,
      onLogs: (logs) => {
        seen.push(...logs);
        reported();
      },
      onGap: (from, to) => gaps.push([from, to]),
    });
    try {
      await firstHead; // the watcher starts from this head: later blocks are read
      await (await token.approve(admin.address, 1n)).wait(); // not watched
      await (await token.mint(admin.address, 5n)).wait();
      await first;
    } finally {
      controller.abort();
      await watch.done;
      watched.destroy();
    }
    expect(gaps).to.deep.equal([]);
    expect(seen).to.have.length(1);
    expect(seen[0].topics[0]).to.equal(token.interface.getEvent("Transfer")!.topicHash);
    expect(seen[0].address).to.equal(await token.getAddress());
  });

  it("has nothing in flight on its provider once stopped, so the provider can be destroyed at once", async function () {
    const watched = counting();
    const controller = new AbortController();
    const firstHead = watched.nextHead();
    const watch = watchLogs({
      name: "events",
      provider: watched,
      events: [{ address: await token.getAddress(), topic: token.interface.getEvent("Transfer")!.topicHash }],
      intervalMs: 10,
      signal: controller.signal,
      logger,
      onLogs: () => undefined,
      onGap: () => undefined,
    });
    await firstHead;
    await (await token.mint(admin.address, 1n)).wait();
    controller.abort();
    await watch.done;
    expect(watched.inFlight).to.equal(0);
    watched.destroy(); // would reject a request still queued, with nobody to catch it
  });
});
