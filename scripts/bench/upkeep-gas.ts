/**
 * Gas of the VigilUpkeep adapter against the real EndpointRegistry and MarketGuard and the mock oracle
 * (Cancun, in-process Hardhat network). Run: npx hardhat run scripts/bench/upkeep-gas.ts
 *
 * - `checkUpkeep`: `eth_estimateGas` of the call (what an automation node's simulation spends), for the
 *   scenarios below, for a typical full scan at the bounds (MAX_ITEMS healthy services and markets), and
 *   for the worst case at the bounds: MAX_ITEMS services that each read all
 *   MAX_ENDPOINTS endpoints (NO_HEALTHY_CANDIDATE) and MAX_ITEMS markets that each read MAX_DEPENDENCIES
 *   services of MAX_ENDPOINTS endpoints (only the last usable), nothing due, so every item is scanned.
 * - `performUpkeep`: receipt `gasUsed` (intrinsic 21,000 and calldata included) for 1 action and 10 actions.
 * Prints one line per figure and writes `reports/upkeep-gas.json`: `[{ operation, gas }]`.
 */
import fs from "node:fs";
import path from "node:path";
import { AbiCoder } from "ethers";
import { ethers } from "hardhat";
import { Kind, Status, endpointIdOf, serviceIdOf } from "../../test/contracts/helpers";

const coder = AbiCoder.defaultAbiCoder();
const checkData = (services: string[], markets: number[]) =>
  coder.encode(["bytes32[]", "uint256[]"], [services, markets]);

async function main() {
  const [owner] = await ethers.getSigners();
  const oracle = await ethers.deployContract("MockHealthOracle");
  const registry = await ethers.deployContract("EndpointRegistry", [await oracle.getAddress()]);
  const guard = await ethers.deployContract("MarketGuard", [
    owner.address,
    await oracle.getAddress(),
    await registry.getAddress(),
    100_000,
  ]);
  const upkeep = await ethers.deployContract("VigilUpkeep", [
    await registry.getAddress(),
    await guard.getAddress(),
  ]);
  const maxItems = Number(await upkeep.MAX_ITEMS());
  const maxActions = Number(await upkeep.MAX_ACTIONS());
  const maxEndpoints = Number(await registry.MAX_ENDPOINTS());
  const maxDeps = Number(await guard.MAX_DEPENDENCIES());
  const rows: { operation: string; gas: bigint }[] = [];

  async function service(name: string, n: number, status: number = Status.HEALTHY) {
    await registry.registerService(name, { cooldown: 0, recoveryPeriod: 0 });
    const sid = serviceIdOf(owner.address, name);
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const uri = `https://${name}-${i}.example`;
      await registry.addEndpoint(sid, Kind.JSON_RPC, uri, i);
      const id = endpointIdOf(sid, Kind.JSON_RPC, uri);
      await oracle.setStatus(id, status, status === Status.HEALTHY ? 10_000 : 0);
      ids.push(id);
    }
    return { sid, ids };
  }
  let marketCount = 0;
  async function market(services: string[]) {
    const m = await ethers.deployContract("MockMarket");
    await guard.registerMarket({
      market: await m.getAddress(),
      guardian: owner.address,
      pauseThresholdBps: 5_000,
      gracePeriod: 60,
      services,
      endpoints: [],
    });
    return ++marketCount;
  }

  async function measure(label: string, services: string[], markets: number[]) {
    const data = checkData(services, markets);
    const [needed, performData] = await upkeep.checkUpkeep(data);
    rows.push({
      operation: `checkUpkeep (estimateGas): ${label}`,
      gas: await upkeep.checkUpkeep.estimateGas(data),
    });
    if (!needed) return;
    const receipt = await (await upkeep.performUpkeep(performData)).wait();
    rows.push({ operation: `performUpkeep (gasUsed): ${label}`, gas: receipt!.gasUsed });
  }

  // 1 action: one service (2 endpoints) fails over.
  const one = await service("one", 2);
  await oracle.setStatus(one.ids[0], Status.DOWN, 0);
  await measure("1 action (1 failover, 2 endpoints)", [one.sid], []);

  // 10 actions: 10 services fail over.
  const ten = [];
  for (let i = 0; i < maxActions; i++) ten.push(await service(`ten-${i}`, 2));
  for (const s of ten) await oracle.setStatus(s.ids[0], Status.DOWN, 0);
  await measure(
    "10 actions (10 failovers)",
    ten.map((s) => s.sid),
    [],
  );

  // 10 actions: 4 failovers, 3 trips, 3 resumes.
  const mig = [];
  for (let i = 0; i < 4; i++) mig.push(await service(`mix-${i}`, 2));
  const tripIds = [];
  const tripDeps = [];
  for (let i = 0; i < 3; i++) {
    const s = await service(`trip-${i}`, 2);
    tripDeps.push(s);
    tripIds.push(await market([s.sid]));
  }
  const resumeIds = [];
  for (let i = 0; i < 3; i++) {
    const s = await service(`resume-${i}`, 2);
    const id = await market([s.sid]);
    await guard.guardianPause(id);
    resumeIds.push(id);
  }
  await ethers.provider.send("evm_increaseTime", [60]);
  for (const s of mig) await oracle.setStatus(s.ids[0], Status.DOWN, 0);
  for (const s of tripDeps) for (const id of s.ids) await oracle.setStatus(id, Status.DOWN, 0);
  await measure(
    "10 actions (4 failovers, 3 trips, 3 resumes)",
    mig.map((s) => s.sid),
    [...tripIds, ...resumeIds],
  );

  // Typical full scan at the bounds, nothing due: healthy services read their active endpoint once.
  const healthy = await service("healthy", 3);
  const pair = [await service("pair-0", 2), await service("pair-1", 2)];
  const calm = await market(pair.map((s) => s.sid));
  await measure(
    `typical: ${maxItems} healthy services x 3 endpoints, ${maxItems} healthy markets x 2 services, nothing due`,
    Array<string>(maxItems).fill(healthy.sid),
    Array<number>(maxItems).fill(calm),
  );

  // Worst case at the bounds, nothing due: every item scanned in full.
  const dead = await service("dead", maxEndpoints, Status.DOWN);
  const deps = [];
  for (let i = 0; i < maxDeps; i++) {
    const s = await service(`deep-${i}`, maxEndpoints, Status.DOWN);
    await oracle.setStatus(s.ids[maxEndpoints - 1], Status.HEALTHY, 10_000);
    deps.push(s.sid);
  }
  const deep = await market(deps);
  await measure(
    `worst case: ${maxItems} services x ${maxEndpoints} endpoints, ${maxItems} markets x ${maxDeps} services x ${maxEndpoints} endpoints, nothing due`,
    Array<string>(maxItems).fill(dead.sid),
    Array<number>(maxItems).fill(deep),
  );

  for (const r of rows) console.log(`${r.gas.toString().padStart(10)}  ${r.operation}`);
  const out = path.join(__dirname, "../../reports/upkeep-gas.json");
  fs.writeFileSync(
    out,
    JSON.stringify(
      rows.map((r) => ({ operation: r.operation, gas: Number(r.gas) })),
      null,
      2,
    ) + "\n",
  );
  console.log(`wrote ${path.relative(process.cwd(), out)}`);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
