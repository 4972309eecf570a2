import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const freshness = require("../../scripts/build/freshness") as {
  STAMP: string;
  ENTRY: string;
  snapshot(root: string, extra?: string[]): Stamp;
  keepCompiled(root: string, stamp: Stamp, compiled: string[]): Stamp;
  writeStamp(root: string, stamp: unknown): void;
  removeStamp(root: string): void;
  checkBuild(root: string): { fresh: boolean; reason?: string };
};

interface Stamp {
  format: number;
  files: Record<string, { size: number; mtimeMs: number; sha256: string }>;
}

const LONG_AGO = new Date("2000-01-01T00:00:00Z");

/**
 * The freshness check bin/vigil.js runs before using dist/ (scripts/build/freshness.js), on a small
 * synthetic tree: every way a source can differ from the build must read as stale, and only a
 * byte-identical tree as fresh.
 */
describe("build freshness (scripts/build/freshness.js)", function () {
  let root: string;
  const write = (rel: string, text: string) => {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), text);
  };
  /** As scripts/build/build.js: snapshot with the importable scripts, keep what tsc compiled. */
  const build = (compiled = ["scripts/deploy.ts"]) => {
    const before = freshness.snapshot(root, ["scripts/deploy.ts", "scripts/bench/gas.ts"]);
    write(freshness.ENTRY, "exports.runCli = async () => 0;\n");
    freshness.writeStamp(root, freshness.keepCompiled(root, before, compiled));
  };
  const stampOf = () =>
    JSON.parse(fs.readFileSync(path.join(root, freshness.STAMP), "utf8")) as ReturnType<
      typeof freshness.snapshot
    >;

  beforeEach(function () {
    root = fs.mkdtempSync(path.join(os.tmpdir(), "vigil-freshness-"));
    write("keepers/cli.ts", "export const a = 1;\n");
    write("keepers/cli/status.ts", "export const status = 'table';\n");
    write("contracts/HealthOracle.sol", "contract HealthOracle {}\n");
    write("tsconfig.json", "{}\n");
    write("tsconfig.build.json", "{}\n");
    write("hardhat.config.ts", "export default {};\n");
    write("README.md", "not an input\n");
    write("scripts/deploy.ts", "export const deploy = 1;\n"); // imported by a keeper: compiled
    write("scripts/bench/gas.ts", "export const gas = 1;\n"); // not imported by any keeper
    build();
  });

  afterEach(function () {
    fs.rmSync(root, { recursive: true, force: true });
  });

  it("is fresh right after a build, and ignores files that are not inputs", function () {
    expect(freshness.checkBuild(root)).to.deep.equal({ fresh: true });
    write("README.md", "edited\n");
    write("keepers/notes.md", "not a .ts file\n");
    expect(freshness.checkBuild(root)).to.deep.equal({ fresh: true });
  });

  it("is stale when there is no build yet, or the stamp or the entry point is gone or unreadable", function () {
    freshness.removeStamp(root);
    expect(freshness.checkBuild(root)).to.deep.equal({ fresh: false, reason: "no build yet" });
    build();
    fs.writeFileSync(path.join(root, freshness.STAMP), "{not json");
    expect(freshness.checkBuild(root).fresh).to.equal(false);
    build();
    fs.rmSync(path.join(root, freshness.ENTRY));
    expect(freshness.checkBuild(root)).to.deep.equal({
      fresh: false,
      reason: `${freshness.ENTRY} is missing`,
    });
  });

  it("names a keeper edited after the build", function () {
    write("keepers/cli/status.ts", "export const status = 'table'; // edited\n");
    expect(freshness.checkBuild(root)).to.deep.equal({
      fresh: false,
      reason: "keepers/cli/status.ts changed since the last build",
    });
  });

  it("sees a same-size edit whose mtime was set back before the build (hash, not mtime order)", function () {
    write("keepers/cli/status.ts", "export const status = 'TABLE';\n");
    fs.utimesSync(path.join(root, "keepers/cli/status.ts"), LONG_AGO, LONG_AGO);
    expect(freshness.checkBuild(root)).to.deep.equal({
      fresh: false,
      reason: "keepers/cli/status.ts changed since the last build",
    });
  });

  it("sees a changed contract and a changed compiler config", function () {
    write("contracts/HealthOracle.sol", "contract HealthOracle { uint x; }\n");
    expect(freshness.checkBuild(root).reason).to.equal(
      "contracts/HealthOracle.sol changed since the last build",
    );
    write("contracts/HealthOracle.sol", "contract HealthOracle {}\n");
    write("tsconfig.build.json", '{"x":1}\n');
    expect(freshness.checkBuild(root).reason).to.equal("tsconfig.build.json changed since the last build");
  });

  it("sees an edited or removed project file a keeper imports, and ignores scripts no keeper imports", function () {
    write("scripts/bench/gas.ts", "export const gas = 2;\n");
    expect(freshness.checkBuild(root)).to.deep.equal({ fresh: true });
    write("scripts/deploy.ts", "export const deploy = 2;\n");
    expect(freshness.checkBuild(root).reason).to.equal("scripts/deploy.ts changed since the last build");
    fs.rmSync(path.join(root, "scripts/deploy.ts"));
    expect(freshness.checkBuild(root).reason).to.equal("scripts/deploy.ts was removed since the last build");
  });

  it("sees a keeper added or removed since the build", function () {
    write("keepers/cli/drill.ts", "export {};\n");
    expect(freshness.checkBuild(root)).to.deep.equal({
      fresh: false,
      reason: "keepers/cli/drill.ts is new since the last build",
    });
    fs.rmSync(path.join(root, "keepers/cli/drill.ts"));
    fs.rmSync(path.join(root, "keepers/cli/status.ts"));
    expect(freshness.checkBuild(root)).to.deep.equal({
      fresh: false,
      reason: "keepers/cli/status.ts was removed since the last build",
    });
  });

  it("stays fresh when only mtimes moved (a checkout, touch), and records them so the next check only stats", function () {
    const file = path.join(root, "keepers/cli.ts");
    const later = new Date(Date.now() + 60_000);
    fs.utimesSync(file, later, later);
    const before = stampOf().files["keepers/cli.ts"];
    expect(freshness.checkBuild(root)).to.deep.equal({ fresh: true });
    const after = stampOf().files["keepers/cli.ts"];
    expect(after.mtimeMs).to.equal(fs.statSync(file).mtimeMs).and.not.equal(before.mtimeMs);
    expect(after.sha256).to.equal(before.sha256);
  });

  it("stamps what the sources were when the build started: an edit during the build reads as stale", function () {
    const startedWith = freshness.snapshot(root, ["scripts/deploy.ts"]);
    write("keepers/cli.ts", "export const a = 2;\n"); // edited while tsc runs
    freshness.writeStamp(root, freshness.keepCompiled(root, startedWith, ["scripts/deploy.ts"]));
    expect(freshness.checkBuild(root).reason).to.equal("keepers/cli.ts changed since the last build");
  });
});
