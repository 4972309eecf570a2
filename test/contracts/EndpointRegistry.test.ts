import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";
import fc from "fast-check";
import { ZeroAddress, ZeroHash } from "ethers";
import { ethers } from "hardhat";
import { Check, Kind, Status, UNDER_COVERAGE, endpointIdOf, serviceIdOf } from "./helpers";

const COOLDOWN = 60;
const RECOVERY = 300;

describe("EndpointRegistry", function () {
  async function deployFixture() {
    const [owner, other, keeper] = await ethers.getSigners();
    const oracle = await ethers.deployContract("MockHealthOracle");
    const registry = await ethers.deployContract("EndpointRegistry", [await oracle.getAddress()]);
    return { owner, other, keeper, oracle, registry };
  }

  /**
   * One service with four endpoints, added in this order:
   * primary (priority 10), tertiary (30), backupA (20), backupB (20).
   * So the best backup (backupA) was added after a worse one, and backupA/backupB tie.
   */
  async function serviceFixture() {
    const base = await deployFixture();
    const { owner, registry } = base;
    const name = "eth-mainnet-rpc";
    await registry.registerService(name, { cooldown: COOLDOWN, recoveryPeriod: RECOVERY });
    const serviceId = serviceIdOf(owner.address, name);
    const eps = [
      { uri: "https://primary.example", priority: 10 },
      { uri: "https://tertiary.example", priority: 30 },
      { uri: "https://backup-a.example", priority: 20 },
      { uri: "https://backup-b.example", priority: 20 },
    ];
    for (const e of eps) await registry.addEndpoint(serviceId, Kind.JSON_RPC, e.uri, e.priority);
    const [primary, tertiary, backupA, backupB] = eps.map((e) =>
      endpointIdOf(serviceId, Kind.JSON_RPC, e.uri),
    );
    return { ...base, serviceId, primary, tertiary, backupA, backupB };
  }

  /** The service of {serviceFixture}, with every endpoint HEALTHY. */
  async function allHealthyFixture() {
    const f = await serviceFixture();
    for (const id of [f.primary, f.tertiary, f.backupA, f.backupB]) {
      await f.oracle.setStatus(id, Status.HEALTHY, 10_000);
    }
    return f;
  }

  /** {allHealthyFixture} after a failover from primary to backupA. */
  async function failedOverFixture() {
    const f = await allHealthyFixture();
    await f.oracle.setStatus(f.primary, Status.DOWN, 0);
    await f.registry.migrate(f.serviceId);
    const migratedAt = BigInt(await time.latest());
    return { ...f, migratedAt };
  }

  describe("deployment", function () {
    it("reads the oracle it was deployed with", async function () {
      const { oracle, registry } = await loadFixture(deployFixture);
      expect(await registry.oracle()).to.equal(await oracle.getAddress());
      expect(await registry.MAX_ENDPOINTS()).to.equal(16n);
    });
  });

  describe("services", function () {
    it("registers a service under the caller's namespace and makes the caller its owner", async function () {
      const { registry, other } = await loadFixture(deployFixture);
      const config = { cooldown: 30, recoveryPeriod: 0 };
      const id = serviceIdOf(other.address, "eth-usd-feed");
      await expect(registry.connect(other).registerService("eth-usd-feed", config))
        .to.emit(registry, "ServiceRegistered")
        .withArgs(id, other.address, "eth-usd-feed", [30, 0]);
      const info = await registry.serviceInfo(id);
      expect(info.owner).to.equal(other.address);
      expect(info.name).to.equal("eth-usd-feed");
      expect(info.config.cooldown).to.equal(30n);
      expect(info.endpointCount).to.equal(0n);
      expect(await registry.services()).to.deep.equal([id]);
    });

    it("rejects registering the same name twice from the same account", async function () {
      const { registry, owner } = await loadFixture(deployFixture);
      await registry.registerService("x", { cooldown: 0, recoveryPeriod: 0 });
      await expect(registry.registerService("x", { cooldown: 0, recoveryPeriod: 0 }))
        .to.be.revertedWithCustomError(registry, "EndpointRegistryServiceExists")
        .withArgs(serviceIdOf(owner.address, "x"));
    });

    it("lets another account use the same name without squatting the first", async function () {
      const { registry, owner, other } = await loadFixture(deployFixture);
      await registry.registerService("x", { cooldown: 0, recoveryPeriod: 0 });
      await registry.connect(other).registerService("x", { cooldown: 0, recoveryPeriod: 0 });
      expect(await registry.services()).to.deep.equal([
        serviceIdOf(owner.address, "x"),
        serviceIdOf(other.address, "x"),
      ]);
    });

    it("changes the config for the owner and emits ServiceConfigChanged", async function () {
      const { registry, serviceId } = await loadFixture(serviceFixture);
      await expect(registry.setServiceConfig(serviceId, { cooldown: 5, recoveryPeriod: 6 }))
        .to.emit(registry, "ServiceConfigChanged")
        .withArgs(serviceId, [5, 6]);
      const info = await registry.serviceInfo(serviceId);
      expect([info.config.cooldown, info.config.recoveryPeriod]).to.deep.equal([5n, 6n]);
    });

    it("transfers ownership: the new owner manages the service, the previous one no longer can", async function () {
      const { registry, owner, other, serviceId } = await loadFixture(serviceFixture);
      await expect(registry.transferServiceOwnership(serviceId, other.address))
        .to.emit(registry, "ServiceOwnershipTransferred")
        .withArgs(serviceId, owner.address, other.address);
      expect((await registry.serviceInfo(serviceId)).owner).to.equal(other.address);
      await registry.connect(other).setServiceConfig(serviceId, { cooldown: 1, recoveryPeriod: 1 });
      await expect(registry.setServiceConfig(serviceId, { cooldown: 1, recoveryPeriod: 1 }))
        .to.be.revertedWithCustomError(registry, "EndpointRegistryNotServiceOwner")
        .withArgs(serviceId, owner.address);
    });

    it("rejects transferring ownership to the zero address", async function () {
      const { registry, serviceId } = await loadFixture(serviceFixture);
      await expect(registry.transferServiceOwnership(serviceId, ZeroAddress))
        .to.be.revertedWithCustomError(registry, "EndpointRegistryInvalidOwner")
        .withArgs(ZeroAddress);
    });

    it("rejects every management call from a non-owner", async function () {
      const { registry, other, serviceId, primary } = await loadFixture(serviceFixture);
      const r = registry.connect(other);
      const calls = [
        () => r.addEndpoint(serviceId, Kind.HTTP, "https://x.example", 1),
        () => r.setEndpointPriority(primary, 1),
        () => r.setServiceConfig(serviceId, { cooldown: 0, recoveryPeriod: 0 }),
        () => r.transferServiceOwnership(serviceId, other.address),
      ];
      for (const call of calls) {
        await expect(call())
          .to.be.revertedWithCustomError(registry, "EndpointRegistryNotServiceOwner")
          .withArgs(serviceId, other.address);
      }
    });

    it("rejects management of an unknown service or endpoint", async function () {
      const { registry } = await loadFixture(deployFixture);
      const unknown = ethers.id("nope");
      await expect(registry.addEndpoint(unknown, Kind.HTTP, "https://x.example", 1))
        .to.be.revertedWithCustomError(registry, "EndpointRegistryUnknownService")
        .withArgs(unknown);
      await expect(registry.setServiceConfig(unknown, { cooldown: 0, recoveryPeriod: 0 }))
        .to.be.revertedWithCustomError(registry, "EndpointRegistryUnknownService")
        .withArgs(unknown);
      await expect(registry.setEndpointPriority(unknown, 1))
        .to.be.revertedWithCustomError(registry, "EndpointRegistryUnknownEndpoint")
        .withArgs(unknown);
    });
  });

  describe("endpoints", function () {
    it("adds endpoints with their id, in order, and makes the first one active", async function () {
      const { registry, serviceId, primary, tertiary, backupA, backupB } = await loadFixture(serviceFixture);
      const list = await registry.endpointsOf(serviceId);
      expect(list.map((e) => e.id)).to.deep.equal([primary, tertiary, backupA, backupB]);
      expect(list.map((e) => e.priority)).to.deep.equal([10n, 30n, 20n, 20n]);
      const active = await registry.activeEndpoint(serviceId);
      expect(active.id).to.equal(primary);
      expect(active.uri).to.equal("https://primary.example");
      expect(await registry.activeEndpointId(serviceId)).to.equal(primary);
      const [sid, e] = await registry.endpoint(backupA);
      expect(sid).to.equal(serviceId);
      expect(e.kind).to.equal(BigInt(Kind.JSON_RPC));
      expect(await registry.serviceOf(backupA)).to.equal(serviceId);
    });

    it("emits EndpointAdded with the id attestors sign for", async function () {
      const { registry, serviceId } = await loadFixture(serviceFixture);
      const uri = "eip155:1:0x5f4eC3Df9cbd43714FE2740f5E3616155c5b8419";
      await expect(registry.addEndpoint(serviceId, Kind.ORACLE_FEED, uri, 7))
        .to.emit(registry, "EndpointAdded")
        .withArgs(serviceId, endpointIdOf(serviceId, Kind.ORACLE_FEED, uri), Kind.ORACLE_FEED, 7, uri);
    });

    it("rejects an empty URI and one over 256 bytes, and accepts exactly 256", async function () {
      const { registry, serviceId } = await loadFixture(serviceFixture);
      await expect(registry.addEndpoint(serviceId, Kind.HTTP, "", 1))
        .to.be.revertedWithCustomError(registry, "EndpointRegistryInvalidEndpoint")
        .withArgs("");
      const long = "h".repeat(257);
      await expect(registry.addEndpoint(serviceId, Kind.HTTP, long, 1))
        .to.be.revertedWithCustomError(registry, "EndpointRegistryInvalidEndpoint")
        .withArgs(long);
      await expect(registry.addEndpoint(serviceId, Kind.HTTP, "h".repeat(256), 1)).to.emit(
        registry,
        "EndpointAdded",
      );
    });

    it("rejects adding the same kind and URI twice", async function () {
      const { registry, serviceId, primary } = await loadFixture(serviceFixture);
      await expect(registry.addEndpoint(serviceId, Kind.JSON_RPC, "https://primary.example", 1))
        .to.be.revertedWithCustomError(registry, "EndpointRegistryEndpointExists")
        .withArgs(primary);
    });

    it("accepts 16 endpoints and rejects the 17th", async function () {
      const { registry, serviceId } = await loadFixture(serviceFixture);
      for (let i = 4; i < 16; i++)
        await registry.addEndpoint(serviceId, Kind.HTTP, `https://n${i}.example`, i);
      await expect(registry.addEndpoint(serviceId, Kind.HTTP, "https://n16.example", 16))
        .to.be.revertedWithCustomError(registry, "EndpointRegistryTooManyEndpoints")
        .withArgs(serviceId, 16);
    });

    it("changes an endpoint's priority and emits EndpointPriorityChanged", async function () {
      const { registry, serviceId, tertiary } = await loadFixture(serviceFixture);
      await expect(registry.setEndpointPriority(tertiary, 1))
        .to.emit(registry, "EndpointPriorityChanged")
        .withArgs(serviceId, tertiary, 1);
      expect((await registry.endpoint(tertiary))[1].priority).to.equal(1n);
    });
  });

  describe("views of unknown ids", function () {
    it("reverts the strict views and answers zero or false from the non-reverting ones", async function () {
      const { registry, owner } = await loadFixture(deployFixture);
      const unknown = ethers.id("nope");
      await expect(registry.activeEndpoint(unknown))
        .to.be.revertedWithCustomError(registry, "EndpointRegistryUnknownService")
        .withArgs(unknown);
      await expect(registry.serviceInfo(unknown))
        .to.be.revertedWithCustomError(registry, "EndpointRegistryUnknownService")
        .withArgs(unknown);
      await expect(registry.endpoint(unknown))
        .to.be.revertedWithCustomError(registry, "EndpointRegistryUnknownEndpoint")
        .withArgs(unknown);
      expect(await registry.serviceOf(unknown)).to.equal(ZeroHash);
      expect(await registry.activeEndpointId(unknown)).to.equal(ZeroHash);
      expect(await registry.endpointsOf(unknown)).to.deep.equal([]);
      expect(await registry.hasUsableEndpoint(unknown, 0)).to.equal(false);
      expect(await registry.migrationStatus(unknown)).to.deep.equal([
        BigInt(Check.UNKNOWN_SERVICE),
        ZeroHash,
        0n,
      ]);
      await expect(registry.migrate(unknown))
        .to.be.revertedWithCustomError(registry, "EndpointRegistryMigrationNotDue")
        .withArgs(unknown, Check.UNKNOWN_SERVICE);

      // A registered service without endpoints has no active endpoint either.
      await registry.registerService("empty", { cooldown: 0, recoveryPeriod: 0 });
      const empty = serviceIdOf(owner.address, "empty");
      await expect(registry.activeEndpoint(empty))
        .to.be.revertedWithCustomError(registry, "EndpointRegistryUnknownService")
        .withArgs(empty);
      expect(await registry.activeEndpointId(empty)).to.equal(ZeroHash);
      expect((await registry.migrationStatus(empty))[0]).to.equal(BigInt(Check.UNKNOWN_SERVICE));
    });
  });

  describe("failover", function () {
    it("does nothing while the active endpoint is HEALTHY", async function () {
      const { registry, serviceId } = await loadFixture(allHealthyFixture);
      expect(await registry.migrationStatus(serviceId)).to.deep.equal([
        BigInt(Check.ACTIVE_USABLE),
        ZeroHash,
        0n,
      ]);
      await expect(registry.migrate(serviceId))
        .to.be.revertedWithCustomError(registry, "EndpointRegistryMigrationNotDue")
        .withArgs(serviceId, Check.ACTIVE_USABLE);
    });

    it("picks a HEALTHY candidate by its status alone, whatever its median, floor or ceiling", async function () {
      const { registry, oracle, serviceId, primary, backupA } = await loadFixture(allHealthyFixture);
      await oracle.setStatusRange(backupA, Status.HEALTHY, 1_000, 0, 2_000);
      await oracle.setStatus(primary, Status.UNKNOWN, 10_000);
      expect(await registry.migrationStatus(serviceId)).to.deep.equal([
        BigInt(Check.DUE_FAILOVER),
        backupA,
        0n,
      ]);
    });

    it("does not migrate off a DEGRADED active endpoint", async function () {
      const { registry, oracle, serviceId, primary } = await loadFixture(allHealthyFixture);
      await oracle.setStatus(primary, Status.DEGRADED, 1_000);
      expect((await registry.migrationStatus(serviceId))[0]).to.equal(BigInt(Check.ACTIVE_USABLE));
      await expect(registry.migrate(serviceId))
        .to.be.revertedWithCustomError(registry, "EndpointRegistryMigrationNotDue")
        .withArgs(serviceId, Check.ACTIVE_USABLE);
    });

    it("moves a DOWN active endpoint to the best-priority HEALTHY one, even if added later", async function () {
      const { registry, oracle, keeper, serviceId, primary, backupA } = await loadFixture(allHealthyFixture);
      await oracle.setStatus(primary, Status.DOWN, 0);
      expect(await registry.migrationStatus(serviceId)).to.deep.equal([
        BigInt(Check.DUE_FAILOVER),
        backupA,
        0n,
      ]);
      expect(await registry.connect(keeper).migrate.staticCall(serviceId)).to.equal(backupA);
      await expect(registry.connect(keeper).migrate(serviceId))
        .to.emit(registry, "EndpointMigrated")
        .withArgs(serviceId, primary, backupA, false);
      expect((await registry.activeEndpoint(serviceId)).id).to.equal(backupA);
      const info = await registry.serviceInfo(serviceId);
      expect(info.activeIndex).to.equal(2n);
      expect(info.lastMigrationAt).to.equal(BigInt(await time.latest()));
    });

    it("breaks a priority tie by order of addition", async function () {
      const { registry, oracle, serviceId, primary, backupA, backupB } = await loadFixture(allHealthyFixture);
      await oracle.setStatus(primary, Status.DOWN, 0);
      expect((await registry.migrationStatus(serviceId))[1]).to.equal(backupA);
      await oracle.setStatus(backupA, Status.DEGRADED, 9_000);
      expect((await registry.migrationStatus(serviceId))[1]).to.equal(backupB);
    });

    it("skips DEGRADED, DOWN and UNKNOWN candidates", async function () {
      const { registry, oracle, serviceId, primary, tertiary, backupA, backupB } =
        await loadFixture(allHealthyFixture);
      await oracle.setStatus(primary, Status.DOWN, 0);
      await oracle.setStatus(backupA, Status.DEGRADED, 9_999);
      await oracle.setStatus(backupB, Status.UNKNOWN, 10_000);
      expect((await registry.migrationStatus(serviceId))[1]).to.equal(tertiary);
    });

    it("migrates off a silent (UNKNOWN) active endpoint", async function () {
      const { registry, oracle, serviceId, primary, backupA } = await loadFixture(serviceFixture);
      // primary never reported: UNKNOWN is the zero value.
      await oracle.setStatus(backupA, Status.HEALTHY, 10_000);
      expect((await registry.migrationStatus(serviceId))[0]).to.equal(BigInt(Check.DUE_FAILOVER));
      await expect(registry.migrate(serviceId))
        .to.emit(registry, "EndpointMigrated")
        .withArgs(serviceId, primary, backupA, false);
    });

    it("reports NO_HEALTHY_CANDIDATE and stays put when no other endpoint is HEALTHY", async function () {
      const { registry, oracle, serviceId, primary, tertiary, backupA, backupB } =
        await loadFixture(allHealthyFixture);
      await oracle.setStatus(primary, Status.DOWN, 0);
      await oracle.setStatus(tertiary, Status.DOWN, 0);
      await oracle.setStatus(backupA, Status.DEGRADED, 9_000);
      await oracle.setStatus(backupB, Status.UNKNOWN, 0);
      expect(await registry.migrationStatus(serviceId)).to.deep.equal([
        BigInt(Check.NO_HEALTHY_CANDIDATE),
        ZeroHash,
        0n,
      ]);
      await expect(registry.migrate(serviceId))
        .to.be.revertedWithCustomError(registry, "EndpointRegistryMigrationNotDue")
        .withArgs(serviceId, Check.NO_HEALTHY_CANDIDATE);
    });

    it("follows a priority change made by the owner", async function () {
      const { registry, oracle, serviceId, primary, tertiary } = await loadFixture(allHealthyFixture);
      await registry.setEndpointPriority(tertiary, 0);
      await oracle.setStatus(primary, Status.DOWN, 0);
      expect((await registry.migrationStatus(serviceId))[1]).to.equal(tertiary);
    });
  });

  describe("cooldown", function () {
    it("never delays a failover off a DOWN active endpoint inside the cooldown (THREATS #34)", async function () {
      const { registry, oracle, serviceId, backupA, backupB, migratedAt } =
        await loadFixture(failedOverFixture);
      await oracle.setStatus(backupA, Status.DOWN, 0);
      expect(await registry.migrationStatus(serviceId)).to.deep.equal([
        BigInt(Check.DUE_FAILOVER),
        backupB,
        0n,
      ]);
      await expect(registry.migrate(serviceId))
        .to.emit(registry, "EndpointMigrated")
        .withArgs(serviceId, backupA, backupB, false);
      expect(BigInt(await time.latest()) - migratedAt).to.be.lessThan(BigInt(COOLDOWN));
    });

    it("never delays a failover off an UNKNOWN active endpoint right after a failback", async function () {
      const { registry, oracle, serviceId, primary, backupA } = await loadFixture(failedOverFixture);
      await oracle.setStatus(primary, Status.HEALTHY, 10_000);
      await time.increase(RECOVERY);
      await registry.migrate(serviceId); // failback to primary
      const failbackAt = BigInt(await time.latest());
      await oracle.setStatus(primary, Status.UNKNOWN, 0);
      await expect(registry.migrate(serviceId))
        .to.emit(registry, "EndpointMigrated")
        .withArgs(serviceId, primary, backupA, false);
      expect(BigInt(await time.latest()) - failbackAt).to.be.lessThan(BigInt(COOLDOWN));
    });

    it("holds a failback until lastMigrationAt + cooldown, to the second", async function () {
      const { registry, oracle, serviceId, primary, backupA, migratedAt } =
        await loadFixture(failedOverFixture);
      await registry.setServiceConfig(serviceId, { cooldown: COOLDOWN, recoveryPeriod: 1 });
      await oracle.setStatus(primary, Status.HEALTHY, 10_000);
      const notBefore = migratedAt + BigInt(COOLDOWN);
      await time.increase(2);
      expect(await registry.migrationStatus(serviceId)).to.deep.equal([
        BigInt(Check.COOLDOWN),
        primary,
        notBefore,
      ]);

      await time.setNextBlockTimestamp(notBefore - 1n);
      await expect(registry.migrate(serviceId))
        .to.be.revertedWithCustomError(registry, "EndpointRegistryMigrationNotDue")
        .withArgs(serviceId, Check.COOLDOWN);

      await time.setNextBlockTimestamp(notBefore);
      await expect(registry.migrate(serviceId))
        .to.emit(registry, "EndpointMigrated")
        .withArgs(serviceId, backupA, primary, true);
    });

    it("lets a zero cooldown fail back as soon as the recovery period has passed", async function () {
      const { registry, oracle, serviceId, primary, backupA } = await loadFixture(failedOverFixture);
      await registry.setServiceConfig(serviceId, { cooldown: 0, recoveryPeriod: 1 });
      await oracle.setStatus(primary, Status.HEALTHY, 10_000);
      await time.increase(1);
      await expect(registry.migrate(serviceId))
        .to.emit(registry, "EndpointMigrated")
        .withArgs(serviceId, backupA, primary, true);
    });
  });

  describe("failback", function () {
    it("returns to the primary once it has been HEALTHY for the recovery period, to the second", async function () {
      const { registry, oracle, serviceId, primary, backupA } = await loadFixture(failedOverFixture);
      await oracle.setStatus(primary, Status.HEALTHY, 10_000);
      const since = BigInt(await time.latest());
      expect((await registry.migrationStatus(serviceId))[0]).to.equal(BigInt(Check.ACTIVE_USABLE));

      await time.setNextBlockTimestamp(since + BigInt(RECOVERY) - 1n);
      await expect(registry.migrate(serviceId))
        .to.be.revertedWithCustomError(registry, "EndpointRegistryMigrationNotDue")
        .withArgs(serviceId, Check.ACTIVE_USABLE);

      await time.setNextBlockTimestamp(since + BigInt(RECOVERY));
      await expect(registry.migrate(serviceId))
        .to.emit(registry, "EndpointMigrated")
        .withArgs(serviceId, backupA, primary, true);
      expect(await registry.activeEndpointId(serviceId)).to.equal(primary);
    });

    it("reports DUE_FAILBACK with the target", async function () {
      const { registry, oracle, serviceId, primary } = await loadFixture(failedOverFixture);
      await oracle.setStatus(primary, Status.HEALTHY, 10_000);
      await time.increase(RECOVERY);
      expect(await registry.migrationStatus(serviceId)).to.deep.equal([
        BigInt(Check.DUE_FAILBACK),
        primary,
        0n,
      ]);
    });

    it("fails back from a DEGRADED active endpoint too", async function () {
      const { registry, oracle, serviceId, primary, backupA } = await loadFixture(failedOverFixture);
      await oracle.setStatus(primary, Status.HEALTHY, 10_000);
      await oracle.setStatus(backupA, Status.DEGRADED, 5_000);
      await time.increase(RECOVERY);
      await expect(registry.migrate(serviceId))
        .to.emit(registry, "EndpointMigrated")
        .withArgs(serviceId, backupA, primary, true);
    });

    it("never fails back when the recovery period is 0", async function () {
      const { registry, oracle, serviceId, primary } = await loadFixture(failedOverFixture);
      await registry.setServiceConfig(serviceId, { cooldown: COOLDOWN, recoveryPeriod: 0 });
      await oracle.setStatus(primary, Status.HEALTHY, 10_000);
      await time.increase(365 * 24 * 3600);
      expect((await registry.migrationStatus(serviceId))[0]).to.equal(BigInt(Check.ACTIVE_USABLE));
      await expect(registry.migrate(serviceId))
        .to.be.revertedWithCustomError(registry, "EndpointRegistryMigrationNotDue")
        .withArgs(serviceId, Check.ACTIVE_USABLE);
    });

    it("does not fail back to an endpoint of equal priority", async function () {
      const { registry, serviceId } = await loadFixture(failedOverFixture);
      // active is backupA (20); backupB (20) has been HEALTHY all along; primary stays DOWN.
      await time.increase(RECOVERY * 10);
      expect((await registry.migrationStatus(serviceId))[0]).to.equal(BigInt(Check.ACTIVE_USABLE));
      expect(await registry.hasUsableEndpoint(serviceId, 10_000)).to.equal(true);
    });

    it("fails back to the best endpoint that has recovered, not to a better one still recovering", async function () {
      const { registry, oracle, serviceId, primary, tertiary, backupA, backupB } =
        await loadFixture(allHealthyFixture);
      await oracle.setStatus(primary, Status.DOWN, 0);
      await oracle.setStatus(backupA, Status.DOWN, 0);
      await oracle.setStatus(backupB, Status.DOWN, 0);
      await registry.migrate(serviceId); // → tertiary (30)
      expect(await registry.activeEndpointId(serviceId)).to.equal(tertiary);
      await oracle.setStatus(backupB, Status.HEALTHY, 10_000);
      await time.increase(RECOVERY);
      await oracle.setStatus(primary, Status.HEALTHY, 10_000); // recovering, not yet long enough
      expect(await registry.migrationStatus(serviceId)).to.deep.equal([
        BigInt(Check.DUE_FAILBACK),
        backupB,
        0n,
      ]);
      await expect(registry.migrate(serviceId))
        .to.emit(registry, "EndpointMigrated")
        .withArgs(serviceId, tertiary, backupB, true);
    });

    it("honours the cooldown for a failback", async function () {
      const { registry, oracle, serviceId, primary, migratedAt } = await loadFixture(failedOverFixture);
      await registry.setServiceConfig(serviceId, { cooldown: 1_000, recoveryPeriod: 10 });
      await oracle.setStatus(primary, Status.HEALTHY, 10_000);
      await time.increase(20);
      expect(await registry.migrationStatus(serviceId)).to.deep.equal([
        BigInt(Check.COOLDOWN),
        primary,
        migratedAt + 1_000n,
      ]);
    });
  });

  describe("hasUsableEndpoint", function () {
    it("counts HEALTHY or DEGRADED endpoints at or above the threshold only", async function () {
      const { registry, oracle, serviceId, primary, tertiary, backupA, backupB } =
        await loadFixture(serviceFixture);
      await oracle.setStatus(primary, Status.DOWN, 9_900);
      await oracle.setStatus(tertiary, Status.UNKNOWN, 9_900);
      await oracle.setStatus(backupA, Status.DEGRADED, 6_000);
      await oracle.setStatus(backupB, Status.HEALTHY, 8_000);
      expect(await registry.hasUsableEndpoint(serviceId, 8_000)).to.equal(true);
      expect(await registry.hasUsableEndpoint(serviceId, 8_001)).to.equal(false);
      await oracle.setStatus(backupB, Status.DOWN, 0);
      expect(await registry.hasUsableEndpoint(serviceId, 6_000)).to.equal(true);
      expect(await registry.hasUsableEndpoint(serviceId, 6_001)).to.equal(false);
    });

    /** Every endpoint dead except backupA, DEGRADED with the given median, floor and ceiling. */
    async function onlyBackupA(
      f: Awaited<ReturnType<typeof serviceFixture>>,
      median: number,
      floor: number,
      ceiling: number,
    ) {
      for (const id of [f.primary, f.tertiary, f.backupB]) await f.oracle.setStatus(id, Status.DOWN, 0);
      await f.oracle.setStatusRange(f.backupA, Status.DEGRADED, median, floor, ceiling);
    }

    it("reads the quorum ceiling, not the median: usable at T while ceilingBps >= T, even with a median under T", async function () {
      const f = await loadFixture(serviceFixture);
      await onlyBackupA(f, 2_000, 0, 7_000);
      expect(await f.registry.hasUsableEndpoint(f.serviceId, 7_000)).to.equal(true);
      expect(await f.registry.hasUsableEndpoint(f.serviceId, 7_001)).to.equal(false);
    });

    it("is unusable at T once ceilingBps < T, even with a median at T (no quorum reported T or more)", async function () {
      const f = await loadFixture(serviceFixture);
      await onlyBackupA(f, 7_000, 7_000, 6_999);
      expect(await f.registry.hasUsableEndpoint(f.serviceId, 7_000)).to.equal(false);
      expect(await f.registry.hasUsableEndpoint(f.serviceId, 6_999)).to.equal(true);
    });
  });

  describe("status listener", function () {
    it("accepts notifications from the oracle only", async function () {
      const { registry, other, primary } = await loadFixture(allHealthyFixture);
      await expect(registry.connect(other).onStatusChange(primary, Status.HEALTHY, Status.DOWN))
        .to.be.revertedWithCustomError(registry, "EndpointRegistryUnauthorizedOracle")
        .withArgs(other.address);
    });

    it("fails over in the same transaction when the active endpoint goes DOWN", async function () {
      const { registry, oracle, serviceId, primary, backupA } = await loadFixture(allHealthyFixture);
      const tx = oracle.setStatusAndNotify(await registry.getAddress(), primary, Status.DOWN, 0);
      await expect(tx).to.emit(registry, "EndpointMigrated").withArgs(serviceId, primary, backupA, false);
      expect(await registry.activeEndpointId(serviceId)).to.equal(backupA);
    });

    it("fails over in the same transaction when a candidate becomes HEALTHY behind a DOWN active", async function () {
      const { registry, oracle, serviceId, primary, tertiary } = await loadFixture(serviceFixture);
      await oracle.setStatus(primary, Status.DOWN, 0);
      const tx = oracle.setStatusAndNotify(await registry.getAddress(), tertiary, Status.HEALTHY, 10_000);
      await expect(tx).to.emit(registry, "EndpointMigrated").withArgs(serviceId, primary, tertiary, false);
    });

    it("ignores unknown endpoints and changes of non-active endpoints that are not recoveries", async function () {
      const { registry, oracle, backupA } = await loadFixture(allHealthyFixture);
      const addr = await registry.getAddress();
      await expect(oracle.notify(addr, ethers.id("unknown"), Status.HEALTHY, Status.DOWN)).not.to.emit(
        registry,
        "EndpointMigrated",
      );
      await expect(oracle.setStatusAndNotify(addr, backupA, Status.DOWN, 0)).not.to.emit(
        registry,
        "EndpointMigrated",
      );
    });

    it("fails over in the same transaction inside the cooldown", async function () {
      const f = await loadFixture(failedOverFixture);
      const addr = await f.registry.getAddress();
      await expect(f.oracle.setStatusAndNotify(addr, f.backupA, Status.DOWN, 0))
        .to.emit(f.registry, "EndpointMigrated")
        .withArgs(f.serviceId, f.backupA, f.backupB, false);
    });

    it("never reverts when no migration is due (no candidate, cooldown, failback pending)", async function () {
      const f = await loadFixture(failedOverFixture);
      const addr = await f.registry.getAddress();
      // cooldown: the primary is back and would be a failback, but the cooldown holds it.
      await f.registry.setServiceConfig(f.serviceId, { cooldown: COOLDOWN, recoveryPeriod: 1 });
      await f.oracle.setStatus(f.primary, Status.HEALTHY, 10_000);
      await time.increase(2);
      expect((await f.registry.migrationStatus(f.serviceId))[0]).to.equal(BigInt(Check.COOLDOWN));
      await expect(f.oracle.notify(addr, f.primary, Status.DOWN, Status.HEALTHY)).not.to.emit(
        f.registry,
        "EndpointMigrated",
      );
      // failback pending: primary HEALTHY but the recovery period has not elapsed.
      await f.registry.setServiceConfig(f.serviceId, { cooldown: COOLDOWN, recoveryPeriod: RECOVERY });
      await f.oracle.setStatus(f.primary, Status.DOWN, 0);
      await f.oracle.setStatus(f.backupA, Status.DOWN, 0);
      await f.registry.migrate(f.serviceId); // backupA → backupB, inside the cooldown
      await time.increase(COOLDOWN);
      await f.oracle.setStatus(f.backupB, Status.DOWN, 0);
      await f.oracle.setStatus(f.tertiary, Status.DOWN, 0);
      await expect(f.oracle.notify(addr, f.backupA, Status.HEALTHY, Status.DOWN)).not.to.emit(
        f.registry,
        "EndpointMigrated",
      );
      expect((await f.registry.migrationStatus(f.serviceId))[0]).to.equal(BigInt(Check.NO_HEALTHY_CANDIDATE));
    });

    it("fails over within a 200k listener gas budget at 16 endpoints when only the least preferred backup is HEALTHY", async function () {
      const { registry, oracle, owner } = await loadFixture(deployFixture);
      await registry.registerService("big", { cooldown: 0, recoveryPeriod: 0 });
      const sid = serviceIdOf(owner.address, "big");
      const ids: string[] = [];
      for (let i = 0; i < 16; i++) {
        const uri = `https://n${i}.example`;
        await registry.addEndpoint(sid, Kind.JSON_RPC, uri, 100 - i); // later = better priority
        ids.push(endpointIdOf(sid, Kind.JSON_RPC, uri));
      }
      // Worst case: every better candidate is DOWN, only the least preferred backup is HEALTHY.
      for (const id of ids) await oracle.setStatus(id, Status.DOWN, 0);
      await oracle.setStatus(ids[1], Status.HEALTHY, 10_000);
      const addr = await registry.getAddress();
      await expect(
        oracle.notifyBounded(
          addr,
          UNDER_COVERAGE ? 10_000_000 : 200_000,
          ids[0],
          Status.HEALTHY,
          Status.DOWN,
        ),
      )
        .to.emit(registry, "EndpointMigrated")
        .withArgs(sid, ids[0], ids[1], false);
    });
  });

  describe("property: migrations only when due, failback never inside the cooldown, failover never delayed (THREATS #14, #15, #34)", function () {
    const PRIORITIES = [10, 30, 20, 20]; // as added in serviceFixture
    type Health = { status: number; bps: number; since: bigint };
    type Action =
      | { kind: "status"; endpoint: number; status: number; bps: number; notify: boolean }
      | { kind: "time"; seconds: number }
      | { kind: "migrate"; caller: number };

    const action: fc.Arbitrary<Action> = fc.oneof(
      {
        weight: 3,
        arbitrary: fc.record({
          kind: fc.constant("status" as const),
          endpoint: fc.integer({ min: 0, max: 3 }),
          status: fc.constantFrom(Status.UNKNOWN, Status.HEALTHY, Status.DEGRADED, Status.DOWN),
          bps: fc.integer({ min: 0, max: 10_000 }),
          notify: fc.boolean(),
        }),
      },
      {
        weight: 2,
        arbitrary: fc.record({
          kind: fc.constant("time" as const),
          seconds: fc.integer({ min: 1, max: 2 * RECOVERY }),
        }),
      },
      {
        weight: 3,
        arbitrary: fc.record({
          kind: fc.constant("migrate" as const),
          caller: fc.integer({ min: 0, max: 5 }),
        }),
      },
    );

    /** Independent model of the migration rule (priority ties by order of addition). */
    function modelCheck(health: Health[], active: number, last: bigint, now: bigint) {
      const down = health[active].status === Status.DOWN || health[active].status === Status.UNKNOWN;
      let to = -1;
      for (let i = 0; i < health.length; i++) {
        if (i === active || health[i].status !== Status.HEALTHY) continue;
        if (!down && (PRIORITIES[i] >= PRIORITIES[active] || health[i].since + BigInt(RECOVERY) > now))
          continue;
        if (to === -1 || PRIORITIES[i] < PRIORITIES[to]) to = i;
      }
      if (to === -1) return { check: down ? Check.NO_HEALTHY_CANDIDATE : Check.ACTIVE_USABLE, to };
      if (down) return { check: Check.DUE_FAILOVER, to };
      if (last !== 0n && now < last + BigInt(COOLDOWN)) return { check: Check.COOLDOWN, to };
      return { check: Check.DUE_FAILBACK, to };
    }

    it("holds for random status series, clock steps and callers", async function () {
      await fc.assert(
        fc.asyncProperty(fc.array(action, { minLength: 5, maxLength: 30 }), async (actions) => {
          const f = await loadFixture(serviceFixture);
          const signers = await ethers.getSigners();
          const ids = [f.primary, f.tertiary, f.backupA, f.backupB];
          const addr = await f.registry.getAddress();
          const health: Health[] = ids.map(() => ({ status: Status.UNKNOWN, bps: 0, since: 0n }));
          let active = 0;
          let last = 0n;
          const migrations: { at: bigint; failback: boolean }[] = [];

          for (const a of actions) {
            if (a.kind === "time") {
              await time.increase(a.seconds);
              continue;
            }
            // Pin the second the next transaction is mined at; a "pending" eth_call reads at that second.
            const at = BigInt(await time.latest()) + 1n;
            await time.setNextBlockTimestamp(at);
            let migrated: { to: number; failback: boolean } | undefined;

            if (a.kind === "status") {
              health[a.endpoint] = { status: a.status, bps: a.bps, since: at };
              const wouldList = a.status === Status.HEALTHY || a.endpoint === active;
              const v = modelCheck(health, active, last, at);
              if (a.notify && wouldList && v.check === Check.DUE_FAILOVER)
                migrated = { to: v.to, failback: false };
              const tx = a.notify
                ? f.oracle.setStatusAndNotify(addr, ids[a.endpoint], a.status, a.bps)
                : f.oracle.setStatus(ids[a.endpoint], a.status, a.bps);
              if (migrated) {
                await expect(tx)
                  .to.emit(f.registry, "EndpointMigrated")
                  .withArgs(f.serviceId, ids[active], ids[migrated.to], false);
              } else {
                await expect(tx).not.to.emit(f.registry, "EndpointMigrated");
              }
            } else {
              const [check, to] = await f.registry.migrationStatus(f.serviceId, { blockTag: "pending" });
              const v = modelCheck(health, active, last, at);
              expect(check).to.equal(BigInt(v.check), "view agrees with the model");
              const due = v.check === Check.DUE_FAILOVER || v.check === Check.DUE_FAILBACK;
              const tx = f.registry.connect(signers[a.caller]).migrate(f.serviceId);
              if (due) {
                expect(to).to.equal(ids[v.to]);
                migrated = { to: v.to, failback: v.check === Check.DUE_FAILBACK };
                await expect(tx)
                  .to.emit(f.registry, "EndpointMigrated")
                  .withArgs(f.serviceId, ids[active], ids[v.to], migrated.failback);
              } else {
                await expect(tx)
                  .to.be.revertedWithCustomError(f.registry, "EndpointRegistryMigrationNotDue")
                  .withArgs(f.serviceId, v.check);
              }
            }
            if (migrated) {
              active = migrated.to;
              last = at;
              migrations.push({ at, failback: migrated.failback });
            }
            expect(await f.registry.activeEndpointId(f.serviceId)).to.equal(ids[active]);
          }
          // A move off a usable endpoint (failback) comes at least a cooldown after the migration before it.
          for (let i = 1; i < migrations.length; i++) {
            if (migrations[i].failback)
              expect(migrations[i].at - migrations[i - 1].at).to.be.gte(BigInt(COOLDOWN));
          }
        }),
        { numRuns: 40 },
      );
    });
  });
});
