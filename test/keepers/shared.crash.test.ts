import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { CRASH_POINTS, crashHookFromEnv } from "../../keepers/shared/crash";
import { VigilError } from "../../keepers/shared/errors";

describe("crash points (VIGIL_FAULT_KILL_AT)", function () {
  it("is off when the variable is unset or empty", function () {
    expect(crashHookFromEnv({})).to.equal(undefined);
    expect(crashHookFromEnv({ VIGIL_FAULT_KILL_AT: "  " })).to.equal(undefined);
  });

  it("kills at the first time the point is reached, and never at another point", function () {
    let kills = 0;
    const hook = crashHookFromEnv({ VIGIL_FAULT_KILL_AT: "broadcast" }, () => kills++)!;
    for (const p of CRASH_POINTS) if (p !== "broadcast") hook(p);
    expect(kills).to.equal(0);
    hook("broadcast");
    expect(kills).to.equal(1);
    hook("broadcast");
    expect(kills).to.equal(1, "only the n-th time, once");
  });

  it("kills at the n-th time with <point>:<n>", function () {
    let kills = 0;
    const hook = crashHookFromEnv({ VIGIL_FAULT_KILL_AT: "awaiting_receipt:3" }, () => kills++)!;
    hook("awaiting_receipt");
    hook("awaiting_receipt");
    expect(kills).to.equal(0);
    hook("awaiting_receipt");
    expect(kills).to.equal(1);
  });

  for (const bad of ["nowhere", "signed:0", "signed:-1", "signed:1.5", "signed:x"])
    it(`refuses ${JSON.stringify(bad)} with VIGIL_CONFIG, naming the points`, function () {
      let caught: unknown;
      try {
        crashHookFromEnv({ VIGIL_FAULT_KILL_AT: bad }, () => undefined);
      } catch (e) {
        caught = e;
      }
      expect(caught).to.be.instanceOf(VigilError);
      expect((caught as VigilError).code).to.equal("VIGIL_CONFIG");
    });

  it("by default sends SIGKILL to its own process (no exit handler runs)", function () {
    const script =
      `const { crashHookFromEnv } = require("./keepers/shared/crash");` +
      `process.on("exit", () => console.log("exit handler ran"));` +
      `const hook = crashHookFromEnv(); hook("signed"); hook("cancel_signed"); console.log("survived");`;
    const r = spawnSync(process.execPath, ["-r", "ts-node/register/transpile-only", "-e", script], {
      env: { ...process.env, VIGIL_FAULT_KILL_AT: "cancel_signed" },
      encoding: "utf8",
    });
    expect(r.signal).to.equal("SIGKILL");
    expect(r.stdout).to.not.include("survived");
    expect(r.stdout).to.not.include("exit handler ran");
  });
});
