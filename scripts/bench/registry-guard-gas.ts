/**
 * Gas of the EndpointRegistry and MarketGuard triggers, from transaction receipts, against the mock
 * oracle. Prints one line per scenario. Run: npx hardhat run scripts/bench/registry-guard-gas.ts
 */
import { ethers } from "hardhat";
import { Kind, Status, endpointIdOf, serviceIdOf } from "../../test/contracts/helpers";

async function gasOf(p: Promise<{ wait(): Promise<{ gasUsed: bigint } | null> }>): Promise<bigint> {
  const receipt = await (await p).wait();
  return receipt!.gasUsed;
}

async function main() {
  const [owner] = await ethers.getSigners();
  const oracle = await ethers.deployContract("MockHealthOracle");
  const registry = await ethers.deployContract("EndpointRegistry", [await oracle.getAddress()]);
  const rows: [string, bigint][] = [];

  async function service(name: string, n: number, priority: (i: number) => number) {
    await registry.registerService(name, { cooldown: 0, recoveryPeriod: 60 });
    const sid = serviceIdOf(owner.address, name);
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const uri = `https://${name}-${i}.example`;
      await registry.addEndpoint(sid, Kind.JSON_RPC, uri, priority(i));
      ids.push(endpointIdOf(sid, Kind.JSON_RPC, uri));
    }
    return { sid, ids };
  }

  // Typical failover: primary DOWN, first backup HEALTHY.
  const a = await service("typical", 3, (i) => i);
  for (const id of a.ids) await oracle.setStatus(id, Status.HEALTHY, 10_000);
  await oracle.setStatus(a.ids[0], Status.DOWN, 0);
  rows.push(["migrate: failover, 3 endpoints", await gasOf(registry.migrate(a.sid))]);
  await oracle.setStatus(a.ids[0], Status.HEALTHY, 10_000);
  await ethers.provider.send("evm_increaseTime", [60]);
  rows.push(["migrate: failback, 3 endpoints", await gasOf(registry.migrate(a.sid))]);

  // Worst failover: 16 endpoints, only the least preferred backup HEALTHY.
  const b = await service("worst", 16, (i) => 100 - i);
  for (const id of b.ids) await oracle.setStatus(id, Status.DOWN, 0);
  await oracle.setStatus(b.ids[1], Status.HEALTHY, 10_000);
  rows.push(["migrate: failover, 16 endpoints, worst case", await gasOf(registry.migrate(b.sid))]);

  // Listener path, typical and worst.
  const c = await service("listener", 3, (i) => i);
  for (const id of c.ids) await oracle.setStatus(id, Status.HEALTHY, 10_000);
  await oracle.setStatus(c.ids[0], Status.DOWN, 0);
  const reg = await registry.getAddress();
  rows.push([
    "oracle → registry.onStatusChange (failover, 3 endpoints; tx incl. mock call)",
    await gasOf(oracle.notify(reg, c.ids[0], Status.HEALTHY, Status.DOWN)),
  ]);

  // MarketGuard: one market on one service.
  const guard = await ethers.deployContract("MarketGuard", [
    owner.address,
    await oracle.getAddress(),
    reg,
    100_000,
  ]);
  const market = await ethers.deployContract("MockMarket");
  const d = await service("guarded", 2, (i) => i);
  for (const id of d.ids) await oracle.setStatus(id, Status.HEALTHY, 10_000);
  await guard.registerMarket({
    market: await market.getAddress(),
    guardian: owner.address,
    pauseThresholdBps: 5_000,
    gracePeriod: 60,
    services: [d.sid],
    endpoints: [],
  });
  for (const id of d.ids) await oracle.setStatus(id, Status.DOWN, 0);
  rows.push(["trip: 1 service, 2 endpoints, well-behaved market", await gasOf(guard.trip(1))]);
  const e = await service("guarded2", 2, (i) => i);
  for (const id of e.ids) await oracle.setStatus(id, Status.HEALTHY, 10_000);
  // Its own market contract: the guard refuses one registered twice (MarketGuardMarketAlreadyRegistered).
  const market2 = await ethers.deployContract("MockMarket");
  await guard.registerMarket({
    market: await market2.getAddress(),
    guardian: owner.address,
    pauseThresholdBps: 5_000,
    gracePeriod: 60,
    services: [e.sid],
    endpoints: [],
  });
  await oracle.setStatus(e.ids[0], Status.DOWN, 0);
  await oracle.setStatus(e.ids[1], Status.DOWN, 0);
  rows.push([
    "oracle → guard.onStatusChange (trips 1 market; tx incl. mock call)",
    await gasOf(oracle.notify(await guard.getAddress(), e.ids[1], Status.HEALTHY, Status.DOWN)),
  ]);
  for (const id of d.ids) await oracle.setStatus(id, Status.HEALTHY, 10_000);
  await ethers.provider.send("evm_increaseTime", [60]);
  rows.push(["resume: 1 service, 2 endpoints, well-behaved market", await gasOf(guard.resume(1))]);

  // Trip and resume when the market's hook reverts: the guard records the failure and carries on.
  const refusing = await ethers.deployContract("MockMarketReverting");
  const f = await service("refusing", 2, (i) => i);
  for (const id of f.ids) await oracle.setStatus(id, Status.HEALTHY, 10_000);
  await guard.registerMarket({
    market: await refusing.getAddress(),
    guardian: owner.address,
    pauseThresholdBps: 5_000,
    gracePeriod: 60,
    services: [f.sid],
    endpoints: [],
  });
  for (const id of f.ids) await oracle.setStatus(id, Status.DOWN, 0);
  rows.push(["trip: 1 service, 2 endpoints, market hook reverts", await gasOf(guard.trip(3))]);
  for (const id of f.ids) await oracle.setStatus(id, Status.HEALTHY, 10_000);
  await ethers.provider.send("evm_increaseTime", [60]);
  rows.push(["resume: 1 service, 2 endpoints, market hook reverts", await gasOf(guard.resume(3))]);

  // retryDelivery: a market that refused its pause, then its unpause, and accepts each when retried.
  const flaky = await ethers.deployContract("MockMarketFlaky");
  const g = await service("flaky", 2, (i) => i);
  for (const id of g.ids) await oracle.setStatus(id, Status.HEALTHY, 10_000);
  await guard.registerMarket({
    market: await flaky.getAddress(),
    guardian: owner.address,
    pauseThresholdBps: 5_000,
    gracePeriod: 60,
    services: [g.sid],
    endpoints: [],
  });
  for (const id of g.ids) await oracle.setStatus(id, Status.DOWN, 0);
  await guard.trip(4);
  rows.push(["retryDelivery: pause, market still refuses", await gasOf(guard.retryDelivery(4))]);
  await flaky.setRefusing(false);
  rows.push(["retryDelivery: pause delivered", await gasOf(guard.retryDelivery(4))]);
  await flaky.setRefusing(true);
  for (const id of g.ids) await oracle.setStatus(id, Status.HEALTHY, 10_000);
  await ethers.provider.send("evm_increaseTime", [60]);
  await guard.resume(4);
  await flaky.setRefusing(false);
  rows.push(["retryDelivery: unpause delivered", await gasOf(guard.retryDelivery(4))]);

  for (const [name, gas] of rows) console.log(`${gas.toString().padStart(8)}  ${name}`);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
