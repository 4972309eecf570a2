/**
 * HealthOracle v2 status listeners: registration, notification after every endpoint of the round is stored,
 * bounded gas, and failures that never block a submission.
 */
import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { anyValue } from "@nomicfoundation/hardhat-chai-matchers/withArgs";
import type { Log } from "ethers";
import { good, signRound, submitArgs } from "../../helpers/attest";
import {
  DEGRADED,
  DOWN,
  EP1,
  EP2,
  EP3,
  HEALTHY,
  LISTENER_GAS_MARGIN,
  UNKNOWN,
  deployOracle,
  nextSlot,
  oracleFixture,
  submitRound,
} from "./fixture";
import { bad } from "../../helpers/attest";

async function listenersFixture() {
  const fx = await oracleFixture();
  const recorder = await ethers.deployContract("MockListenerRecording");
  const reverter = await ethers.deployContract("MockListenerReverting");
  const burner = await ethers.deployContract("MockListenerGasBurning");
  const bomb = await ethers.deployContract("MockListenerReturnBomb", [60_000]);
  const reentrant = await ethers.deployContract("MockListenerReentrant");
  return { ...fx, recorder, reverter, burner, bomb, reentrant };
}

describe("HealthOracle v2: listeners", function () {
  it("adds and removes listeners, keeping their order", async function () {
    const fx = await loadFixture(listenersFixture);
    const [a, b, c] = [fx.recorder, fx.reverter, fx.burner].map((x) => x.target as string);
    for (const l of [a, b, c])
      await expect(fx.oracle.addStatusListener(l)).to.emit(fx.oracle, "ListenerChanged").withArgs(l, true);
    expect(await fx.oracle.statusListeners()).to.deep.equal([a, b, c]);
    await expect(fx.oracle.removeStatusListener(a)).to.emit(fx.oracle, "ListenerChanged").withArgs(a, false);
    expect(await fx.oracle.statusListeners()).to.deep.equal([b, c]);
  });

  it("rejects a fifth listener, a duplicate, an address without code and removing a stranger with HealthOracleInvalidListener(listener)", async function () {
    const fx = await loadFixture(listenersFixture);
    const all = [fx.recorder, fx.reverter, fx.burner, fx.bomb].map((x) => x.target as string);
    for (const l of all) await fx.oracle.addStatusListener(l);
    const fifth = fx.reentrant.target as string;
    await expect(fx.oracle.addStatusListener(fifth))
      .to.be.revertedWithCustomError(fx.oracle, "HealthOracleInvalidListener")
      .withArgs(fifth);
    await fx.oracle.removeStatusListener(all[3]);
    await expect(fx.oracle.addStatusListener(all[0]))
      .to.be.revertedWithCustomError(fx.oracle, "HealthOracleInvalidListener")
      .withArgs(all[0]);
    for (const noCode of [fx.other.address, ethers.ZeroAddress]) {
      await expect(fx.oracle.addStatusListener(noCode))
        .to.be.revertedWithCustomError(fx.oracle, "HealthOracleInvalidListener")
        .withArgs(noCode);
    }
    await expect(fx.oracle.removeStatusListener(fifth))
      .to.be.revertedWithCustomError(fx.oracle, "HealthOracleInvalidListener")
      .withArgs(fifth);
  });

  it("notifies listeners only after every endpoint of the round is stored, each seeing its new status", async function () {
    const fx = await loadFixture(listenersFixture);
    await fx.oracle.addStatusListener(fx.recorder.target);
    // EP1 goes HEALTHY, EP2 DOWN, EP3 DEGRADED in one round.
    const { tx } = await submitRound(fx, [EP1, EP2, EP3], (_s, e) => [good(2), bad(3), good(1)][e]);
    const receipt = (await tx.wait())!;
    const names = receipt.logs.map((l: Log) => {
      const parsed = fx.oracle.interface.parseLog(l) ?? fx.recorder.interface.parseLog(l);
      return parsed!.name;
    });
    expect(names).to.deep.equal([
      "StatusChanged",
      "StatusChanged",
      "StatusChanged",
      "ReportAccepted",
      "Notified",
      "Notified",
      "Notified",
    ]);
    for (const [id, current] of [
      [EP1, HEALTHY],
      [EP2, DOWN],
      [EP3, DEGRADED],
    ] as const) {
      await expect(tx)
        .to.emit(fx.recorder, "Notified")
        .withArgs(fx.oracle.target, id, UNKNOWN, current, current);
    }
    expect(await fx.recorder.calls()).to.equal(3n);
  });

  it("does not notify when the status stays the same", async function () {
    const fx = await loadFixture(listenersFixture);
    await fx.oracle.addStatusListener(fx.recorder.target);
    await submitRound(fx, [EP1], good(2));
    const { tx } = await submitRound(fx, [EP1], good(3));
    await expect(tx).to.not.emit(fx.recorder, "Notified");
    expect(await fx.recorder.calls()).to.equal(1n);
  });

  it("survives a reverting listener, emits ListenerFailed(listener, endpointId, reason) and still notifies the next one", async function () {
    const fx = await loadFixture(listenersFixture);
    await fx.oracle.addStatusListener(fx.reverter.target);
    await fx.oracle.addStatusListener(fx.recorder.target);
    const reason = fx.reverter.interface.encodeErrorResult("MockListenerRevertingRefused", [EP1]);
    const { tx } = await submitRound(fx, [EP1], good(2));
    await expect(tx).to.emit(fx.oracle, "ListenerFailed").withArgs(fx.reverter.target, EP1, reason);
    await expect(tx)
      .to.emit(fx.recorder, "Notified")
      .withArgs(fx.oracle.target, EP1, UNKNOWN, HEALTHY, HEALTHY);
  });

  it("survives a listener that burns all the gas it is given, with ListenerFailed(listener, endpointId, 0x)", async function () {
    const fx = await loadFixture(listenersFixture);
    await fx.oracle.addStatusListener(fx.burner.target);
    const { tx } = await submitRound(fx, [EP1], good(2));
    await expect(tx).to.emit(fx.oracle, "ListenerFailed").withArgs(fx.burner.target, EP1, "0x");
    expect((await fx.oracle.statusOf(EP1)).status).to.equal(HEALTHY);
  });

  it("keeps only a 256-byte prefix of a return-data bomb", async function () {
    const fx = await loadFixture(listenersFixture);
    await fx.oracle.addStatusListener(fx.bomb.target);
    const { tx } = await submitRound(fx, [EP1], good(2));
    const log = (await tx.wait())!.logs
      .map((l) => fx.oracle.interface.parseLog(l))
      .find((l) => l?.name === "ListenerFailed");
    expect(log!.args.listener).to.equal(fx.bomb.target);
    expect(ethers.dataLength(log!.args.reason)).to.equal(256);
    expect(ethers.dataSlice(log!.args.reason, 0, 32)).to.equal(await fx.bomb.MARKER());
  });

  it("refuses to starve a listener: HealthOracleInsufficientGasForListener(gasLeft, required) below its full budget", async function () {
    const fx = await loadFixture(listenersFixture);
    const oracle = await deployOracle({ listenerGas: 2_000_000n });
    await oracle.setAttestors(
      fx.attestors.map((a) => a.address),
      3,
    );
    await oracle.addStatusListener(fx.recorder.target);
    const slot = await nextSlot();
    const r = await signRound(oracle, fx.attestors.slice(0, 3), {
      endpointIds: [EP1],
      values: good(2),
      observedAt: slot.observedAt,
    });
    const required = (2_000_000n * 64n) / 63n + LISTENER_GAS_MARGIN;
    await time.setNextBlockTimestamp(slot.blockTime);
    await expect(oracle.submit(...submitArgs(r), { gasLimit: 1_000_000 }))
      .to.be.revertedWithCustomError(oracle, "HealthOracleInsufficientGasForListener")
      .withArgs(anyValue, required);
    await time.setNextBlockTimestamp(slot.blockTime + 1n);
    const estimate = await oracle.submit.estimateGas(...submitArgs(r));
    await expect(oracle.submit(...submitArgs(r), { gasLimit: estimate })).to.emit(fx.recorder, "Notified");
  });

  it("blocks a listener from re-entering submit, even with valid reports (ListenerFailed with ReentrancyGuardReentrantCall)", async function () {
    const fx = await loadFixture(listenersFixture);
    await fx.oracle.addStatusListener(fx.reentrant.target);
    const slot = await nextSlot();
    const inner = await signRound(fx.oracle, fx.attestors.slice(0, 3), {
      endpointIds: [EP2],
      values: good(2),
      observedAt: slot.observedAt,
    });
    await fx.reentrant.setPayload(fx.oracle.interface.encodeFunctionData("submit", submitArgs(inner)));
    const reentrancy = fx.oracle.interface.encodeErrorResult("ReentrancyGuardReentrantCall", []);
    const { tx } = await submitRound(fx, [EP1], good(2));
    await expect(tx).to.emit(fx.oracle, "ListenerFailed").withArgs(fx.reentrant.target, EP1, reentrancy);
    expect((await fx.oracle.statusOf(EP2)).updatedAt).to.equal(0n);
  });
});
