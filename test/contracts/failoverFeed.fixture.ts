/**
 * Fixtures shared by the FailoverFeed tests and the feed-priced example market's tests.
 */
import { ethers } from "hardhat";
import { Kind, Status } from "./helpers";

/** The FailoverFeeds' maxAge in these fixtures, seconds. */
export const MAX_AGE = 3_600n;
/** The FailoverFeed's decimals in {@link deployFixture}. */
export const DECIMALS = 18;

/**
 * The service `eth-usd-feed` in a real EndpointRegistry over a MockHealthOracle: a primary feed with 8 decimals
 * (2,000.12345678 at round 1) and a backup with 18 (2,001 at round 1), both fresh; a FailoverFeed with 18
 * decimals and a one-hour maxAge. Nothing has migrated: phase 1 (primary) is active.
 */
export async function deployFixture() {
  const [owner, other] = await ethers.getSigners();
  const oracle = await ethers.deployContract("MockHealthOracle");
  const registry = await ethers.deployContract("EndpointRegistry", [await oracle.getAddress()]);
  const primary = await ethers.deployContract("MockAggregator", [8, "primary"]);
  const backup = await ethers.deployContract("MockAggregator", [18, "backup"]);
  await primary.updateAnswer(200_012_345_678n);
  await backup.updateAnswer(2_001n * 10n ** 18n);
  const chainId = (await ethers.provider.getNetwork()).chainId;
  const caip = async (c: { getAddress(): Promise<string> }) => `eip155:${chainId}:${await c.getAddress()}`;
  const serviceId = await registry.registerService.staticCall("eth-usd-feed", {
    cooldown: 60,
    recoveryPeriod: 300,
  });
  await registry.registerService("eth-usd-feed", { cooldown: 60, recoveryPeriod: 300 });
  const add = async (kind: number, uri: string, priority: number) => {
    const id = await registry.addEndpoint.staticCall(serviceId, kind, uri, priority);
    await registry.addEndpoint(serviceId, kind, uri, priority);
    return id;
  };
  const primaryId = await add(Kind.ORACLE_FEED, await caip(primary), 0);
  const backupId = await add(Kind.ORACLE_FEED, await caip(backup), 1);
  const factory = await ethers.getContractFactory("FailoverFeed");
  const feed = await factory.deploy(await registry.getAddress(), serviceId, DECIMALS, MAX_AGE, "ETH / USD");
  const probe = await ethers.deployContract("FeedGasProbe");
  return {
    owner,
    other,
    oracle,
    registry,
    primary,
    backup,
    serviceId,
    primaryId,
    backupId,
    feed,
    factory,
    chainId,
    caip,
    add,
    probe,
  };
}

/** The primary DOWN and the backup HEALTHY, and the registry migrated: phase 2 (backup) is active. */
export async function failedOverFixture() {
  const f = await deployFixture();
  await f.oracle.setStatus(f.primaryId, Status.DOWN, 0);
  await f.oracle.setStatus(f.backupId, Status.HEALTHY, 10_000);
  await f.registry.migrate(f.serviceId);
  return f;
}

/** A service registered by `owner` with the given endpoints, and the FailoverFeed factory's deploy over it. */
export async function serviceWith(
  f: Awaited<ReturnType<typeof deployFixture>>,
  name: string,
  endpoints: { kind: number; uri: string }[],
) {
  const serviceId = await f.registry.registerService.staticCall(name, { cooldown: 0, recoveryPeriod: 0 });
  await f.registry.registerService(name, { cooldown: 0, recoveryPeriod: 0 });
  const ids: string[] = [];
  for (const [i, e] of endpoints.entries()) {
    ids.push(await f.registry.addEndpoint.staticCall(serviceId, e.kind, e.uri, i));
    await f.registry.addEndpoint(serviceId, e.kind, e.uri, i);
  }
  return { serviceId, ids };
}
