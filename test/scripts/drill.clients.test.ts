import { expect } from "chai";
import { backwardSteps } from "../../scripts/drill/clients";
import type { ReadSample } from "../../scripts/drill/load";

const read = (sentAtMs: number, endedAtMs: number, block: number): ReadSample => ({
  sentAtMs,
  endedAtMs,
  method: "eth_blockNumber",
  block,
  honestHead: block,
  error: null,
});

describe("drill clients: eth_blockNumber backward steps (monotonic reads)", function () {
  it("counts an answer below one the client had received before sending the request", function () {
    const steps = backwardSteps([read(0, 10, 121), read(20, 30, 122), read(40, 50, 121)]);
    expect(steps.map((r) => r.sentAtMs)).to.deep.equal([40]);
  });

  it("does not count two requests in flight at once whose answers arrive in either order", function () {
    // sent at 0 and 5, both in flight; 122 arrives first, then 121: concurrent, so consistent.
    expect(backwardSteps([read(0, 30, 121), read(5, 20, 122)])).to.deep.equal([]);
  });

  it("still counts a later request answered below, even with overlaps around it", function () {
    const steps = backwardSteps([read(0, 30, 121), read(5, 20, 122), read(31, 40, 121), read(35, 45, 123)]);
    expect(steps.map((r) => r.sentAtMs)).to.deep.equal([31]);
  });

  it("ignores errors and other methods", function () {
    const other: ReadSample = { ...read(20, 25, 1), method: "eth_getBlockByNumber" };
    const failed: ReadSample = { ...read(30, 35, 0), block: null, error: "timeout" };
    expect(backwardSteps([read(0, 10, 100), other, failed, read(40, 50, 100)])).to.deep.equal([]);
  });
});
