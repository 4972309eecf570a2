/**
 * FailoverFeed gas: `npx hardhat run scripts/bench/failoverFeed.ts`.
 *
 * On the in-process Hardhat network (Cancun), a service of two feeds (8 and 18 decimals) behind a FailoverFeed with
 * 18 decimals. Prints what a consumer contract pays for one `latestRoundData` call, measured inside the consumer
 * with `gasleft()` (contracts/test/FeedGasProbe.sol: the call, the adapter, the registry's `activeEndpointId` and the
 * source feed, every address cold as on a consumer's first read in a transaction), beside the same call made to the
 * source feed directly; then the same after a failover (phase 2), and the receipt `gasUsed` of `openPosition` in the
 * example market with an owner-set price and priced by the FailoverFeed.
 */
import { ethers } from "hardhat";
import { parseEther } from "ethers";

async function main(): Promise<void> {
  const [owner] = await ethers.getSigners();
  const oracle = await ethers.deployContract("MockHealthOracle");
  const registry = await ethers.deployContract("EndpointRegistry", [await oracle.getAddress()]);
  const primary = await ethers.deployContract("MockAggregator", [8, "primary"]);
  const backup = await ethers.deployContract("MockAggregator", [18, "backup"]);
  await primary.updateAnswer(2_000n * 10n ** 8n);
  await backup.updateAnswer(2_001n * 10n ** 18n);
  const chainId = (await ethers.provider.getNetwork()).chainId;
  const serviceId = await registry.registerService.staticCall("eth-usd-feed", {
    cooldown: 0,
    recoveryPeriod: 0,
  });
  await registry.registerService("eth-usd-feed", { cooldown: 0, recoveryPeriod: 0 });
  const ids: string[] = [];
  for (const [i, f] of [primary, backup].entries()) {
    const uri = `eip155:${chainId}:${await f.getAddress()}`;
    ids.push(await registry.addEndpoint.staticCall(serviceId, 2, uri, i));
    await registry.addEndpoint(serviceId, 2, uri, i);
  }
  const feed = await ethers.deployContract("FailoverFeed", [
    await registry.getAddress(),
    serviceId,
    18,
    3_600,
    "ETH / USD",
  ]);
  const probe = await ethers.deployContract("FeedGasProbe");
  const measure = async (a: { getAddress(): Promise<string> }) =>
    (await probe.measure(await a.getAddress()))[0];

  const rows: [string, bigint][] = [
    ["source feed latestRoundData (MockAggregator, direct)", await measure(primary)],
    ["FailoverFeed latestRoundData, phase 1 (8 → 18 decimals)", await measure(feed)],
  ];
  await oracle.setStatus(ids[0], 3, 0);
  await oracle.setStatus(ids[1], 1, 10_000);
  await registry.migrate(serviceId);
  rows.push(["FailoverFeed latestRoundData, phase 2 after failover", await measure(feed)]);

  const token = await ethers.deployContract("MockERC20", ["t", "t"]);
  const plain = await ethers.deployContract("GuardedPerpMarket", [
    await token.getAddress(),
    owner.address,
    owner.address,
    2_000n * 10n ** 18n,
  ]);
  const priced = await ethers.deployContract("FeedPricedPerpMarket", [
    await token.getAddress(),
    owner.address,
    owner.address,
    await feed.getAddress(),
  ]);
  await token.mint(owner.address, parseEther("1000000"));
  for (const [label, market] of [
    ["openPosition, owner-set price (GuardedPerpMarket)", plain],
    ["openPosition, priced by the FailoverFeed (FeedPricedPerpMarket)", priced],
  ] as const) {
    await token.approve(await market.getAddress(), ethers.MaxUint256);
    await market.deposit(parseEther("10000"));
    const receipt = await (await market.openPosition(parseEther("1"), true)).wait();
    rows.push([`${label} (receipt gasUsed)`, receipt!.gasUsed]);
  }
  const width = Math.max(...rows.map(([l]) => l.length));
  process.stdout.write(
    rows.map(([l, g]) => `${l.padEnd(width)}  ${g.toLocaleString("en-US")} gas`).join("\n") + "\n",
  );
}

main().catch((e) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
  process.exitCode = 1;
});
