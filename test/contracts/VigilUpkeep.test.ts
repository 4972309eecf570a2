import { loadFixture, takeSnapshot, time } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";
import { AbiCoder, ZeroHash, concat, dataSlice, hexlify, toBeHex, zeroPadValue } from "ethers";
import type { BytesLike, Log } from "ethers";
import fc from "fast-check";
import { ethers, network } from "hardhat";
import type { EndpointRegistry, MarketGuard, VigilUpkeep } from "../../typechain-types";
import { Check, Guard, Kind, Status, endpointIdOf, serviceIdOf } from "./helpers";

const MARKET_CALL_GAS = 100_000n;
const THRESHOLD = 5_000;
const GRACE = 600;
const RECOVERY = 300;
const MAX_ITEMS = 50;
const MAX_ACTIONS = 10;

/** IVigilUpkeep.ActionKind */
const Act = { MIGRATE: 0, TRIP: 1, RESUME: 2 } as const;
type Action = { kind: number; id: string };

const coder = AbiCoder.defaultAbiCoder();
const ACTIONS_TYPE = ["tuple(uint8 kind, bytes32 id)[]"];

function checkData(serviceIds: string[], marketIds: (number | bigint)[]): string {
  return coder.encode(["bytes32[]", "uint256[]"], [serviceIds, marketIds]);
}

function encodeActions(actions: Action[]): string {
  return coder.encode(ACTIONS_TYPE, [actions.map((a) => [a.kind, a.id])]);
}

function decodeActions(data: BytesLike): Action[] {
  const [list] = coder.decode(ACTIONS_TYPE, data);
  return (list as [bigint, string][]).map(([kind, id]) => ({ kind: Number(kind), id }));
}

/** A market id as the `bytes32` id of a TRIP or RESUME action. */
function market(id: number | bigint): string {
  return zeroPadValue(toBeHex(id), 32);
}

describe("VigilUpkeep", function () {
  /**
   * Services: rpc (rpcA priority 0, rpcB priority 1; failback after 300 s), seq (seq0 only) and ws (wsA 0,
   * wsB 1; no market depends on it). Market 1 depends on the rpc service, market 2 on the seq0 endpoint;
   * threshold 5000 bps, grace 600 s. Everything HEALTHY since an hour ago.
   */
  async function deployFixture() {
    const [owner, guardian, keeper, rival] = await ethers.getSigners();
    const oracle = await ethers.deployContract("MockHealthOracle");
    const registry = await ethers.deployContract("EndpointRegistry", [await oracle.getAddress()]);
    const guard = await ethers.deployContract("MarketGuard", [
      owner.address,
      await oracle.getAddress(),
      await registry.getAddress(),
      MARKET_CALL_GAS,
    ]);
    const upkeep = await ethers.deployContract("VigilUpkeep", [
      await registry.getAddress(),
      await guard.getAddress(),
    ]);

    async function service(name: string, n: number) {
      await registry.registerService(name, { cooldown: 0, recoveryPeriod: RECOVERY });
      const sid = serviceIdOf(owner.address, name);
      const ids: string[] = [];
      for (let i = 0; i < n; i++) {
        const uri = `https://${name}-${i}.example`;
        await registry.addEndpoint(sid, Kind.JSON_RPC, uri, i);
        ids.push(endpointIdOf(sid, Kind.JSON_RPC, uri));
      }
      return { sid, ids };
    }
    const rpc = await service("rpc", 2);
    const seq = await service("seq", 1);
    const ws = await service("ws", 2);
    const [rpcA, rpcB] = rpc.ids;
    const [seq0] = seq.ids;
    const [wsA, wsB] = ws.ids;
    const endpoints = [rpcA, rpcB, seq0, wsA, wsB];
    const hourAgo = BigInt(await time.latest()) - 3_600n;
    for (const id of endpoints) await oracle.setStatusSince(id, Status.HEALTHY, 10_000, hourAgo);

    const markets = [];
    for (const deps of [
      { services: [rpc.sid], endpoints: [] as string[] },
      { services: [] as string[], endpoints: [seq0] },
    ]) {
      const m = await ethers.deployContract("MockMarket");
      await guard.registerMarket({
        market: await m.getAddress(),
        guardian: guardian.address,
        pauseThresholdBps: THRESHOLD,
        gracePeriod: GRACE,
        ...deps,
      });
      markets.push(m);
    }
    return {
      owner,
      guardian,
      keeper,
      rival,
      oracle,
      registry,
      guard,
      upkeep,
      rpc: rpc.sid,
      seq: seq.sid,
      ws: ws.sid,
      rpcA,
      rpcB,
      seq0,
      wsA,
      wsB,
      endpoints,
    };
  }

  /**
   * One of each action due: ws must fail over (wsA DOWN), market 1 must trip (rpcA and rpcB DOWN), market 2
   * must resume (tripped on seq0 DOWN, seq0 HEALTHY again for longer than the grace period).
   */
  async function allDueFixture() {
    const f = await deployFixture();
    await f.oracle.setStatus(f.seq0, Status.DOWN, 0);
    await f.guard.trip(2);
    await f.oracle.setStatus(f.seq0, Status.HEALTHY, 10_000);
    await time.increase(GRACE);
    await f.oracle.setStatus(f.wsA, Status.DOWN, 0);
    await f.oracle.setStatus(f.rpcA, Status.DOWN, 0);
    await f.oracle.setStatus(f.rpcB, Status.DOWN, 0);
    return f;
  }

  async function check(upkeep: VigilUpkeep, data: string) {
    const [needed, performData] = await upkeep.checkUpkeep(data);
    return { needed, performData, actions: needed ? decodeActions(performData) : [] };
  }

  describe("deployment", function () {
    it("exposes its wiring and bounds", async function () {
      const { upkeep, registry, guard } = await loadFixture(deployFixture);
      expect(await upkeep.registry()).to.equal(await registry.getAddress());
      expect(await upkeep.guard()).to.equal(await guard.getAddress());
      expect(await upkeep.MAX_ITEMS()).to.equal(BigInt(MAX_ITEMS));
      expect(await upkeep.MAX_ACTIONS()).to.equal(BigInt(MAX_ACTIONS));
    });

    it("rejects a guard that reads another registry, and a registry or guard without code", async function () {
      const { oracle, registry, guard, owner } = await loadFixture(deployFixture);
      const factory = await ethers.getContractFactory("VigilUpkeep");
      const otherRegistry = await ethers.deployContract("EndpointRegistry", [await oracle.getAddress()]);
      const [r, g, o] = [
        await registry.getAddress(),
        await guard.getAddress(),
        await otherRegistry.getAddress(),
      ];
      for (const [reg, grd] of [
        [o, g],
        [owner.address, g],
        [r, owner.address],
      ]) {
        await expect(factory.deploy(reg, grd))
          .to.be.revertedWithCustomError(factory, "VigilUpkeepInvalidSetup")
          .withArgs(reg, grd);
      }
    });
  });

  describe("checkUpkeep", function () {
    it("needs nothing while every dependency is healthy", async function () {
      const f = await loadFixture(deployFixture);
      expect(await f.upkeep.checkUpkeep(checkData([f.rpc, f.seq, f.ws], [1, 2]))).to.deep.equal([
        false,
        "0x",
      ]);
    });

    it("finds a failover when the active endpoint is DOWN and a backup is HEALTHY, and no trip", async function () {
      const f = await loadFixture(deployFixture);
      await f.oracle.setStatus(f.rpcA, Status.DOWN, 0);
      const r = await check(f.upkeep, checkData([f.rpc, f.seq, f.ws], [1, 2]));
      expect(r.actions).to.deep.equal([{ kind: Act.MIGRATE, id: f.rpc }]);
    });

    it("finds a failover when the active endpoint went silent (UNKNOWN)", async function () {
      const f = await loadFixture(deployFixture);
      await f.oracle.setStatus(f.wsA, Status.UNKNOWN, 10_000);
      expect((await check(f.upkeep, checkData([f.ws], []))).actions).to.deep.equal([
        { kind: Act.MIGRATE, id: f.ws },
      ]);
    });

    it("finds a failback only once the preferred endpoint has been HEALTHY for the recovery period", async function () {
      const f = await loadFixture(deployFixture);
      await f.oracle.setStatus(f.rpcA, Status.DOWN, 0);
      await f.registry.migrate(f.rpc);
      await f.oracle.setStatus(f.rpcA, Status.HEALTHY, 10_000);
      const data = checkData([f.rpc], []);
      expect((await check(f.upkeep, data)).needed).to.equal(false);
      await time.increase(RECOVERY);
      expect((await f.registry.migrationStatus(f.rpc)).check).to.equal(Check.DUE_FAILBACK);
      expect((await check(f.upkeep, data)).actions).to.deep.equal([{ kind: Act.MIGRATE, id: f.rpc }]);
    });

    it("does not report a failback held back by the cooldown, and reports a failover inside it", async function () {
      const f = await loadFixture(deployFixture);
      await f.registry.setServiceConfig(f.ws, { cooldown: 3_600, recoveryPeriod: 1 });
      await f.oracle.setStatus(f.wsA, Status.DOWN, 0);
      await f.registry.migrate(f.ws);
      await f.oracle.setStatus(f.wsA, Status.HEALTHY, 10_000);
      await time.increase(2);
      expect((await f.registry.migrationStatus(f.ws)).check).to.equal(Check.COOLDOWN);
      expect((await check(f.upkeep, checkData([f.ws], []))).needed).to.equal(false);
      await f.oracle.setStatus(f.wsB, Status.DOWN, 0);
      expect((await f.registry.migrationStatus(f.ws)).check).to.equal(Check.DUE_FAILOVER);
      expect((await check(f.upkeep, checkData([f.ws], []))).actions).to.deep.equal([
        { kind: Act.MIGRATE, id: f.ws },
      ]);
    });

    it("does not report a failover without a HEALTHY candidate", async function () {
      const f = await loadFixture(deployFixture);
      await f.oracle.setStatus(f.seq0, Status.DOWN, 0);
      expect((await check(f.upkeep, checkData([f.seq], []))).needed).to.equal(false);
    });

    it("finds a trip when a dependency has no usable endpoint", async function () {
      const f = await loadFixture(deployFixture);
      await f.oracle.setStatus(f.seq0, Status.DEGRADED, THRESHOLD - 1);
      expect((await check(f.upkeep, checkData([], [1, 2]))).actions).to.deep.equal([
        { kind: Act.TRIP, id: market(2) },
      ]);
    });

    it("finds no trip on a median under the threshold while a quorum's ceiling is at it, and finds one under it", async function () {
      const f = await loadFixture(deployFixture);
      const data = checkData([], [1, 2]);
      await f.oracle.setStatusRange(f.seq0, Status.DEGRADED, THRESHOLD - 1_000, 0, THRESHOLD);
      expect((await check(f.upkeep, data)).needed).to.equal(false);
      await f.oracle.setStatusRange(f.seq0, Status.DEGRADED, THRESHOLD - 1_000, 0, THRESHOLD - 1);
      expect((await check(f.upkeep, data)).actions).to.deep.equal([{ kind: Act.TRIP, id: market(2) }]);
    });

    it("finds no resume while the quorum floor is under the threshold, however high the median", async function () {
      const f = await loadFixture(deployFixture);
      await f.oracle.setStatus(f.seq0, Status.DOWN, 0);
      await f.guard.trip(2);
      await f.oracle.setStatusRange(f.seq0, Status.HEALTHY, 10_000, THRESHOLD - 1, 10_000);
      await time.increase(GRACE * 2);
      expect((await check(f.upkeep, checkData([], [2]))).needed).to.equal(false);
    });

    it("finds a resume only after every dependency has been HEALTHY for the grace period", async function () {
      const f = await loadFixture(deployFixture);
      await f.oracle.setStatus(f.seq0, Status.DOWN, 0);
      await f.guard.trip(2);
      const data = checkData([], [2]);
      expect((await check(f.upkeep, data)).needed).to.equal(false);
      await f.oracle.setStatus(f.seq0, Status.HEALTHY, 10_000);
      await time.increase(GRACE - 10);
      expect((await f.guard.resumeStatus(2)).check).to.equal(Guard.GRACE_PERIOD);
      expect((await check(f.upkeep, data)).needed).to.equal(false);
      await time.increase(10);
      expect((await check(f.upkeep, data)).actions).to.deep.equal([{ kind: Act.RESUME, id: market(2) }]);
    });

    it("ignores unknown services and markets", async function () {
      const f = await loadFixture(deployFixture);
      const r = await check(f.upkeep, checkData([ZeroHash, f.rpcA], [0, 3, 2n ** 256n - 1n]));
      expect(r.needed).to.equal(false);
    });

    it("orders migrations, then trips, then resumes", async function () {
      const f = await loadFixture(allDueFixture);
      const r = await check(f.upkeep, checkData([f.rpc, f.seq, f.ws], [2, 1]));
      expect(r.actions).to.deep.equal([
        { kind: Act.MIGRATE, id: f.ws },
        { kind: Act.TRIP, id: market(1) },
        { kind: Act.RESUME, id: market(2) },
      ]);
    });

    it("returns at most MAX_ACTIONS actions, dropping resumes before trips", async function () {
      const f = await loadFixture(allDueFixture);
      const nine = Array<string>(MAX_ACTIONS - 1).fill(f.ws);
      expect((await check(f.upkeep, checkData(nine, [2, 1]))).actions).to.deep.equal([
        ...nine.map((id) => ({ kind: Act.MIGRATE, id })),
        { kind: Act.TRIP, id: market(1) },
      ]);
      const many = Array<string>(MAX_ACTIONS + 3).fill(f.ws);
      const r = await check(f.upkeep, checkData(many, [1, 2]));
      expect(r.actions).to.deep.equal(many.slice(0, MAX_ACTIONS).map((id) => ({ kind: Act.MIGRATE, id })));
    });

    it("returns false when a list is longer than MAX_ITEMS or checkData is longer than their encoding, even with actions due", async function () {
      const f = await loadFixture(allDueFixture);
      const fifty = Array<string>(MAX_ITEMS).fill(f.ws);
      expect(await f.upkeep.checkUpkeep(checkData([...fifty, f.ws], [1]))).to.deep.equal([false, "0x"]);
      const atBounds = checkData(fifty, Array(MAX_ITEMS).fill(1));
      expect((await check(f.upkeep, atBounds)).needed).to.equal(true);
      expect(await f.upkeep.checkUpkeep(concat([atBounds, ZeroHash]))).to.deep.equal([false, "0x"]);
      expect(await f.upkeep.checkUpkeep(checkData(fifty, Array(MAX_ITEMS + 1).fill(1)))).to.deep.equal([
        false,
        "0x",
      ]);
      expect(await f.upkeep.checkUpkeep(checkData([f.ws], Array(MAX_ITEMS + 1).fill(1)))).to.deep.equal([
        false,
        "0x",
      ]);
    });

    it("reverts on checkData that is not abi.encode(bytes32[], uint256[])", async function () {
      const f = await loadFixture(deployFixture);
      await expect(f.upkeep.checkUpkeep("0x")).to.be.reverted;
      await expect(f.upkeep.checkUpkeep("0x1234")).to.be.reverted;
    });
  });

  describe("performUpkeep", function () {
    it("performs what checkUpkeep found, emitting each trigger's event and UpkeepActionPerformed", async function () {
      const f = await loadFixture(allDueFixture);
      const { performData } = await check(f.upkeep, checkData([f.rpc, f.seq, f.ws], [1, 2]));
      const tx = f.upkeep.connect(f.keeper).performUpkeep(performData);
      const upkeep = await f.upkeep.getAddress();
      await expect(tx).to.emit(f.registry, "EndpointMigrated").withArgs(f.ws, f.wsA, f.wsB, false);
      await expect(tx).to.emit(f.guard, "MarketPaused").withArgs(1, f.rpc, upkeep);
      await expect(tx).to.emit(f.guard, "MarketResumed").withArgs(2, upkeep);
      await expect(tx)
        .to.emit(f.upkeep, "UpkeepActionPerformed")
        .withArgs(Act.MIGRATE, f.ws)
        .and.to.emit(f.upkeep, "UpkeepActionPerformed")
        .withArgs(Act.TRIP, market(1))
        .and.to.emit(f.upkeep, "UpkeepActionPerformed")
        .withArgs(Act.RESUME, market(2))
        .and.not.to.emit(f.upkeep, "UpkeepActionSkipped");
      expect(await f.registry.activeEndpointId(f.ws)).to.equal(f.wsB);
      expect(await f.guard.isPaused(1)).to.equal(true);
      expect(await f.guard.isPaused(2)).to.equal(false);
      expect(await f.upkeep.checkUpkeep(checkData([f.rpc, f.seq, f.ws], [1, 2]))).to.deep.equal([
        false,
        "0x",
      ]);
    });

    it("skips an action another keeper already performed, and performs the rest", async function () {
      const f = await loadFixture(allDueFixture);
      const { performData } = await check(f.upkeep, checkData([f.ws], [1]));
      await f.registry.connect(f.rival).migrate(f.ws); // the rival wins the race for ws
      const notDue = f.registry.interface.encodeErrorResult("EndpointRegistryMigrationNotDue", [
        f.ws,
        Check.ACTIVE_USABLE,
      ]);
      await expect(f.upkeep.connect(f.keeper).performUpkeep(performData))
        .to.emit(f.upkeep, "UpkeepActionSkipped")
        .withArgs(Act.MIGRATE, f.ws, notDue)
        .and.to.emit(f.upkeep, "UpkeepActionPerformed")
        .withArgs(Act.TRIP, market(1));
      expect(await f.registry.activeEndpointId(f.ws)).to.equal(f.wsB);
      expect(await f.guard.isPaused(1)).to.equal(true);
    });

    it("reverts VigilUpkeepNoActionPerformed when every action lost the race", async function () {
      const f = await loadFixture(allDueFixture);
      const { performData } = await check(f.upkeep, checkData([f.ws], [1]));
      await f.registry.connect(f.rival).migrate(f.ws);
      await f.guard.connect(f.rival).trip(1);
      await expect(f.upkeep.connect(f.keeper).performUpkeep(performData))
        .to.be.revertedWithCustomError(f.upkeep, "VigilUpkeepNoActionPerformed")
        .withArgs(2);
    });

    it("reverts VigilUpkeepNoActionPerformed for an empty action list", async function () {
      const f = await loadFixture(allDueFixture);
      await expect(f.upkeep.performUpkeep(encodeActions([])))
        .to.be.revertedWithCustomError(f.upkeep, "VigilUpkeepNoActionPerformed")
        .withArgs(0);
    });

    it("says why a trip or a resume is not due, as the guard's own errors", async function () {
      const f = await loadFixture(deployFixture);
      await f.oracle.setStatus(f.seq0, Status.DOWN, 0);
      await f.guard.trip(2);
      await f.oracle.setStatus(f.seq0, Status.HEALTHY, 10_000);
      const notBefore = BigInt(await time.latest()) + BigInt(GRACE);
      await f.oracle.setStatus(f.wsA, Status.DOWN, 0);
      const actions = [
        { kind: Act.RESUME, id: market(2) },
        { kind: Act.TRIP, id: market(1) },
        { kind: Act.RESUME, id: market(7) },
        { kind: Act.MIGRATE, id: f.ws },
      ];
      const err = (name: string, args: unknown[]) => f.guard.interface.encodeErrorResult(name, args);
      await expect(f.upkeep.performUpkeep(encodeActions(actions)))
        .to.emit(f.upkeep, "UpkeepActionSkipped")
        .withArgs(Act.RESUME, market(2), err("MarketGuardResumeNotDue", [2, Guard.GRACE_PERIOD, notBefore]))
        .and.to.emit(f.upkeep, "UpkeepActionSkipped")
        .withArgs(Act.TRIP, market(1), err("MarketGuardTripNotDue", [1, Guard.DEPENDENCIES_USABLE]))
        .and.to.emit(f.upkeep, "UpkeepActionSkipped")
        .withArgs(Act.RESUME, market(7), err("MarketGuardResumeNotDue", [7, Guard.UNKNOWN_MARKET, 0]))
        .and.to.emit(f.upkeep, "UpkeepActionPerformed")
        .withArgs(Act.MIGRATE, f.ws);
      expect(await f.guard.isPaused(2)).to.equal(true);
    });

    it("skips a due trip whose call fails, passing on the guard's revert data", async function () {
      const f = await loadFixture(deployFixture);
      // A guard that gives each market 3M gas refuses to trip with less than that left.
      const hungry = await ethers.deployContract("MarketGuard", [
        f.owner.address,
        await f.oracle.getAddress(),
        await f.registry.getAddress(),
        3_000_000n,
      ]);
      const m = await ethers.deployContract("MockMarket");
      await hungry.registerMarket({
        market: await m.getAddress(),
        guardian: f.guardian.address,
        pauseThresholdBps: THRESHOLD,
        gracePeriod: GRACE,
        services: [],
        endpoints: [f.seq0],
      });
      const upkeep = await ethers.deployContract("VigilUpkeep", [
        await f.registry.getAddress(),
        await hungry.getAddress(),
      ]);
      await f.oracle.setStatus(f.seq0, Status.DOWN, 0);
      await f.oracle.setStatus(f.wsA, Status.DOWN, 0);
      const { performData } = await check(upkeep, checkData([f.ws], [1]));
      const tx = await upkeep.performUpkeep(performData, { gasLimit: 1_000_000 });
      const receipt = await tx.wait();
      const skipped = receipt!.logs
        .map((l: Log) => upkeep.interface.parseLog(l))
        .find((e) => e?.name === "UpkeepActionSkipped");
      expect([skipped!.args.kind, skipped!.args.id]).to.deep.equal([BigInt(Act.TRIP), market(1)]);
      expect(hungry.interface.parseError(skipped!.args.reason)!.name).to.equal("MarketGuardInsufficientGas");
      await expect(tx).to.emit(upkeep, "UpkeepActionPerformed").withArgs(Act.MIGRATE, f.ws);
      expect(await hungry.isPaused(1)).to.equal(false);
    });

    it("rejects performData that is not canonical abi.encode(Action[]) of at most MAX_ACTIONS", async function () {
      const f = await loadFixture(allDueFixture);
      const one = encodeActions([{ kind: Act.MIGRATE, id: f.ws }]);
      const word = (n: number | bigint) => zeroPadValue(toBeHex(n), 32);
      const eleven = encodeActions(Array(MAX_ACTIONS + 1).fill({ kind: Act.MIGRATE, id: f.ws }));
      const cases: string[] = [
        "0x",
        word(0x20),
        dataSlice(one, 0, 64 + 63), // one byte short
        concat([one, "0x00"]), // one byte long
        concat([word(0x40), dataSlice(one, 32)]), // offset not 0x20
        concat([word(0x20), word(2), dataSlice(one, 64)]), // length says 2, one action follows
        concat([word(0x20), word(MAX_ACTIONS + 1), dataSlice(eleven, 64, 64 + 64 * MAX_ACTIONS)]),
        eleven,
        concat([word(0x20), word(1), word(3), f.ws]), // kind out of range
        concat([word(0x20), word(2), word(Act.MIGRATE), f.ws, word(2n ** 255n), f.ws]),
      ];
      for (const data of cases) {
        await expect(f.upkeep.performUpkeep(data))
          .to.be.revertedWithCustomError(f.upkeep, "VigilUpkeepInvalidPerformData")
          .withArgs((data.length - 2) / 2);
      }
      await expect(f.upkeep.performUpkeep(one)).to.emit(f.upkeep, "UpkeepActionPerformed");
    });
  });

  // ----------------------------------------------------------------------------------------------------
  // Properties (THREATS #15, #26): forged performData changes nothing unless the predicate holds.
  // ----------------------------------------------------------------------------------------------------

  type F = Awaited<ReturnType<typeof deployFixture>>;

  /** Everything performUpkeep may change: each service's active endpoint and migration time, each market's pause. */
  async function stateOf(f: F) {
    const services = [];
    for (const sid of [f.rpc, f.seq, f.ws]) {
      const info = await f.registry.serviceInfo(sid);
      services.push([info.activeIndex, info.lastMigrationAt]);
    }
    const markets = [];
    for (const id of [1, 2]) {
      const s = await f.guard.marketState(id);
      markets.push([s.paused, s.pausedAt, s.cause]);
    }
    return { services, markets };
  }

  /**
   * The specification, run against the same starting state at the same block time: each action sent as
   * its own direct trigger call (migrate / trip / resume, which revert unless due) in one block, in order.
   * Returns the resulting state and how many calls succeeded.
   */
  async function reference(f: F, actions: Action[], at: number) {
    const call = (a: Action) => {
      const opts = { gasLimit: 2_000_000 };
      if (a.kind === Act.MIGRATE) return f.registry.connect(f.rival).migrate(a.id, opts);
      if (a.kind === Act.TRIP) return f.guard.connect(f.rival).trip(BigInt(a.id), opts);
      return f.guard.connect(f.rival).resume(BigInt(a.id), opts);
    };
    await network.provider.send("evm_setAutomine", [false]);
    const hashes: string[] = [];
    try {
      for (const a of actions) hashes.push((await call(a)).hash);
      await time.setNextBlockTimestamp(at);
      await network.provider.send("evm_mine", []);
    } finally {
      await network.provider.send("evm_setAutomine", [true]);
    }
    let succeeded = 0;
    for (const h of hashes) if ((await ethers.provider.getTransactionReceipt(h))!.status === 1) succeeded++;
    return { state: await stateOf(f), succeeded };
  }

  const health = fc.record({
    status: fc.constantFrom(Status.UNKNOWN, Status.HEALTHY, Status.DEGRADED, Status.DOWN),
    bps: fc.constantFrom(0, THRESHOLD - 1, THRESHOLD, 10_000),
    longAgo: fc.boolean(),
  });
  const world = fc.record({
    health: fc.array(health, { minLength: 5, maxLength: 5 }),
    pause: fc.array(fc.boolean(), { minLength: 2, maxLength: 2 }),
    elapsed: fc.constantFrom(0, RECOVERY, GRACE, 2 * GRACE),
  });
  type World = typeof world extends fc.Arbitrary<infer T> ? T : never;

  /** Put the fixture into `w`: random statuses (since now or long ago), guardian pauses, elapsed time. */
  async function setUp(f: F, w: World) {
    const now = BigInt(await time.latest());
    for (let i = 0; i < f.endpoints.length; i++) {
      const h = w.health[i];
      await f.oracle.setStatusSince(f.endpoints[i], h.status, h.bps, h.longAgo ? now - 10_000n : now);
    }
    for (let i = 0; i < 2; i++) if (w.pause[i]) await f.guard.connect(f.guardian).guardianPause(i + 1);
    if (w.elapsed > 0) await time.increase(w.elapsed);
  }

  /** Run `performData` through the upkeep, then the reference on the same start; compare. */
  async function compareWithReference(f: F, performData: string, actions: Action[] | undefined) {
    const before = await stateOf(f);
    const start = await takeSnapshot();
    const at = (await time.latest()) + 1;
    await time.setNextBlockTimestamp(at);
    let performed = -1;
    let error: string | undefined;
    try {
      const receipt = await (await f.upkeep.connect(f.keeper).performUpkeep(performData)).wait();
      performed = receipt!.logs.filter(
        (l) => f.upkeep.interface.parseLog(l)?.name === "UpkeepActionPerformed",
      ).length;
    } catch (e) {
      error = f.upkeep.interface.parseError((e as { data: string }).data)?.name;
      expect(error, `unexpected revert ${String(e)}`).to.be.oneOf([
        "VigilUpkeepInvalidPerformData",
        "VigilUpkeepNoActionPerformed",
      ]);
    }
    const after = await stateOf(f);
    if (actions === undefined) {
      // Not decodable as Action[]: nothing may change.
      expect(error).to.equal("VigilUpkeepInvalidPerformData");
      expect(after).to.deep.equal(before);
      return;
    }
    await start.restore();
    const ref = await reference(f, actions, at);
    if (error === undefined) {
      expect(after).to.deep.equal(ref.state, "upkeep and direct triggers end in the same state");
      expect(performed).to.equal(ref.succeeded);
    } else {
      expect(error).to.equal("VigilUpkeepNoActionPerformed");
      expect(after).to.deep.equal(before, "a reverted upkeep changes nothing");
      expect(ref.succeeded).to.equal(0, "the upkeep reverted although an action was due");
    }
  }

  describe("property: performUpkeep acts exactly when the triggers' own checks allow (THREATS #15, #26)", function () {
    it("matches direct trigger calls for arbitrary action lists over arbitrary health", async function () {
      const f0 = await loadFixture(deployFixture);
      const ids = [f0.rpc, f0.seq, f0.ws, f0.rpcA, ZeroHash, market(0), market(1), market(2), market(3)];
      const action = fc.record({
        kind: fc.constantFrom(Act.MIGRATE, Act.TRIP, Act.RESUME),
        id: fc.oneof(fc.constantFrom(...ids), fc.uint8Array({ minLength: 32, maxLength: 32 }).map(hexlify)),
      });
      await fc.assert(
        fc.asyncProperty(world, fc.array(action, { maxLength: MAX_ACTIONS }), async (w, actions) => {
          const f = await loadFixture(deployFixture);
          await setUp(f, w);
          await compareWithReference(f, encodeActions(actions), actions);
        }),
        { numRuns: 60 },
      );
    });

    it("changes a single action's target exactly when its view said due", async function () {
      const f0 = await loadFixture(deployFixture);
      const action = fc.oneof(
        fc.constantFrom(f0.rpc, f0.seq, f0.ws).map((id) => ({ kind: Act.MIGRATE, id })),
        fc.record({ kind: fc.constantFrom(Act.TRIP, Act.RESUME), id: fc.constantFrom(market(1), market(2)) }),
      );
      await fc.assert(
        fc.asyncProperty(world, action, async (w, a) => {
          const f = await loadFixture(deployFixture);
          await setUp(f, w);
          // Pin the block the upkeep is mined in; "pending" views read at that second.
          await time.setNextBlockTimestamp((await time.latest()) + 1);
          const pending = { blockTag: "pending" };
          let due: boolean;
          if (a.kind === Act.MIGRATE) {
            const c = Number((await f.registry.migrationStatus(a.id, pending)).check);
            due = c === Check.DUE_FAILOVER || c === Check.DUE_FAILBACK;
          } else {
            const view = a.kind === Act.TRIP ? f.guard.tripStatus : f.guard.resumeStatus;
            due = Number((await view(BigInt(a.id), pending)).check) === Guard.DUE;
          }
          const before = await stateOf(f);
          const tx = f.upkeep.performUpkeep(encodeActions([a]));
          if (due) await expect(tx).to.emit(f.upkeep, "UpkeepActionPerformed").withArgs(a.kind, a.id);
          else await expect(tx).to.be.revertedWithCustomError(f.upkeep, "VigilUpkeepNoActionPerformed");
          expect(JSON.stringify(await stateOf(f), bigints) !== JSON.stringify(before, bigints)).to.equal(due);
        }),
        { numRuns: 60 },
      );
    });

    it("rejects arbitrary bytes unless they are a canonical action list, which then matches direct calls", async function () {
      const f0 = await loadFixture(deployFixture);
      const word = (n: bigint) => zeroPadValue(toBeHex(n), 32);
      const forged = fc.oneof(
        fc.uint8Array({ maxLength: 1_000 }).map(hexlify),
        // Shaped like an encoded list: offset, length, then words, any of them wrong.
        fc
          .tuple(
            fc.constantFrom(0x20n, 0x40n, 0n, 2n ** 255n),
            fc.integer({ min: 0, max: 12 }),
            fc.array(
              fc.oneof(fc.constantFrom(0n, 1n, 2n, 3n), fc.bigInt({ min: 0n, max: 2n ** 256n - 1n })),
              { maxLength: 24 },
            ),
            fc.array(fc.constantFrom(f0.rpc, f0.ws, market(1), market(2)), { maxLength: 24 }),
          )
          .map(([offset, n, kinds, ids]) =>
            concat([
              word(offset),
              word(BigInt(n)),
              ...kinds.flatMap((k, i) => (i < ids.length ? [word(k), ids[i]] : [word(k)])),
            ]),
          ),
      );
      await fc.assert(
        fc.asyncProperty(world, forged, async (w, data) => {
          const f = await loadFixture(deployFixture);
          await setUp(f, w);
          let actions: Action[] | undefined;
          try {
            const decoded = decodeActions(data);
            if (
              encodeActions(decoded) === data.toLowerCase() &&
              decoded.length <= MAX_ACTIONS &&
              decoded.every((a) => a.kind <= Act.RESUME)
            )
              actions = decoded;
          } catch {
            actions = undefined;
          }
          await compareWithReference(f, data, actions);
        }),
        { numRuns: 80 },
      );
    });
  });
});

function bigints(_key: string, value: unknown) {
  return typeof value === "bigint" ? value.toString() : value;
}
