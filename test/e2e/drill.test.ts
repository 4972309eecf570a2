import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import type { DrillReport } from "../../scripts/drill/report";

const ROOT = path.resolve(__dirname, "..", "..");

/**
 * The outage drill in its quick form, end to end, as a new user runs it (`npm run drill -- --quick`):
 * real nodes, real keepers as separate processes, real faults. Skipped with VIGIL_SKIP_DRILL=1
 * (CI runs the drill as its own step too).
 */
describe("outage drill (quick, end to end)", function () {
  this.timeout(20 * 60_000);
  let report: DrillReport;
  let exitCode: number | null;
  let output = "";

  before(async function () {
    if (process.env.VIGIL_SKIP_DRILL === "1") this.skip();
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "vigil-drill-test-"));
    exitCode = await new Promise<number | null>((resolve) => {
      const child = spawn(
        process.execPath,
        [
          path.join(ROOT, "node_modules/ts-node/dist/bin.js"),
          "--transpile-only",
          "scripts/drill/index.ts",
          "--quick",
          "--quiet",
          "--out",
          out,
        ],
        { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, HARDHAT_NETWORK: "" } },
      );
      child.stdout.on("data", (b) => (output += b.toString()));
      child.stderr.on("data", (b) => (output += b.toString()));
      child.on("exit", (code) => resolve(code));
    });
    report = JSON.parse(fs.readFileSync(path.join(out, "drill.json"), "utf8")) as DrillReport;
    expect(fs.existsSync(path.join(out, "drill.svg")), "chart written").to.equal(true);
  });

  it("exits 0 with no failed check", function () {
    expect(report.failures, output.slice(-4000)).to.deep.equal([]);
    expect(exitCode).to.equal(0);
  });

  it("migrates off a killed, a hung, a stalled and a forked node and off a stopped price feed, marks a forked, a slow and a wrong-chain backup DOWN, and pauses when the L2 sequencer, both price feeds or every node stop", function () {
    expect(report.faults.map((f) => [f.name, f.expected])).to.deep.equal([
      ["primary node killed (SIGKILL)", "migrate"],
      ["active node hangs (SIGSTOP)", "migrate"],
      ["block production halts on the active node", "migrate"],
      ["primary hangs right after a failback (inside the cooldown)", "migrate"],
      ["diverged fork, same chain id, on a backup", "none"],
      ["diverged fork, same chain id, on the active node", "migrate"],
      ["sequencer stops producing blocks (L2)", "pause"],
      ["primary price feed stops updating", "migrate"],
      ["both price feeds stop updating", "pause"],
      ["a backup answers 3 s late (slow node)", "none"],
      ["a node answers for the wrong chain", "none"],
      ["every node of the service down", "pause"],
    ]);
    for (const f of report.faults) {
      expect(f.statusChangedAtMs, f.name).to.not.equal(null);
      expect(f.firstUnhealthyAtMs, f.name).to.not.equal(null);
      expect(f.healthyAtMs, f.name).to.not.equal(null);
      if (f.expected === "none") {
        expect(f.reactionTx, f.name).to.equal(null);
        continue;
      }
      expect(f.reactionTx, f.name).to.match(/^0x[0-9a-f]{64}$/);
      expect(f.reactionAtMs! - f.injectedAtMs!, f.name).to.be.greaterThan(0);
    }
    for (const f of report.faults.filter((x) => x.expected === "pause")) {
      expect(f.resumedAtMs, f.name).to.not.equal(null);
      // As MarketGuard defines it, in block time: every dependency's active endpoint HEALTHY (since after
      // the pause) for at least the grace period before the resume (the evidence kept is the latest since).
      const r = f.resume!;
      expect(r, f.name).to.not.equal(null);
      expect(r.activeStatus, f.name).to.equal(1); // HEALTHY
      expect(r.healthySinceS, f.name).to.be.at.least(r.pausedAtS);
      expect(r.resumedAtS - r.healthySinceS, f.name).to.be.at.least(r.gracePeriodS);
      expect(r.gracePeriodS).to.equal(report.settings.gracePeriod);
    }
  });

  it("fails over without a pause when the primary dies inside the cooldown right after a failback", function () {
    const f = report.faults[3];
    expect(f.name).to.match(/right after a failback/);
    expect(f.reactionTx).to.match(/^0x[0-9a-f]{64}$/);
    const c = f.cooldown!;
    expect(c, "cooldown evidence").to.not.equal(null);
    expect(c.cooldownS).to.equal(report.settings.cooldown);
    expect(c.failoverAtS).to.be.at.least(c.failbackAtS);
    expect(c.failoverAtS - c.failbackAtS).to.be.lessThan(c.cooldownS);
    expect(report.falsePauses).to.equal(0);
  });

  it("keeps market 1 trading on the backup feed: a position opens at the backup's answer, scaled", function () {
    const f = report.faults.find((x) => x.name === "primary price feed stops updating")!;
    expect(f.trade, "a trade during the fault").to.not.equal(null);
    expect(f.trade!.backupAnswers).to.include(f.trade!.price);
    expect(f.trade!.openedAtMs).to.be.within(f.injectedAtMs!, f.recoveredAtMs!);
  });

  it("marks the slow node DOWN once and keeps it there while it is slow (no storm)", function () {
    const f = report.faults.find((x) => x.name.includes("slow node"))!;
    expect(f.statusChanges).to.equal(1);
  });

  it("measures every fault for the gateway and the direct baseline; the gateway loses no transaction and never goes back", function () {
    let reads = 0;
    let windowMs = 0;
    for (const f of report.faults) {
      const c = f.clients!;
      expect(c, f.name).to.not.equal(null);
      expect(c.gateway.txLost, `${f.name}: gateway transactions lost`).to.equal(0);
      expect(c.gateway.backwardSteps, `${f.name}: gateway eth_blockNumber backward steps`).to.equal(0);
      expect(c.gateway.txIncluded, f.name).to.equal(c.gateway.txSent);
      expect(c.gateway.txSent + c.direct.txSent, `${f.name}: transactions sent`).to.be.greaterThan(0);
      reads += c.gateway.reads;
      windowMs += Math.max(f.healthyAtMs!, f.resumedAtMs ?? 0) - f.injectedAtMs!;
    }
    // 20 reads/s sent during every fault (the load keeps to its rate; slack for the windows' edges)
    expect(reads / (windowMs / 1000), "gateway reads per second").to.be.at.least(19.5);
    // the direct baseline does see the primary die: the load is real
    const killed = report.faults[0].clients!;
    expect(killed.direct.failedRequests).to.be.greaterThan(killed.gateway.failedRequests);
  });

  it("never migrates or pauses when no fault calls for it", function () {
    expect(report.falseMigrations).to.equal(0);
    expect(report.falsePauses).to.equal(0);
    expect(report.rtoMs).to.be.a("number");
  });
});
