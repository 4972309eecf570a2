import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Command, CommanderError } from "commander";
import { expect } from "chai";
import { buildProgram } from "../../keepers/cli";
import { drillCommand, type DrillEntry } from "../../keepers/cli/drill";
import type { CliIo } from "../../keepers/cli/io";

const ROOT = path.resolve(__dirname, "..", "..");
const NOTICE = "dist/ is not usable";
/** Appended to the built entry point: printed only when bin/vigil.js really runs dist/. */
const SENTINEL = "vigil-test: ran dist";
const LONG_AGO = new Date("2000-01-01T00:00:00Z");

/** The environment for the copy: it builds and runs its own tree, whatever the test run's says. */
function copyEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, VIGIL_FROM_SOURCE: "" };
  // Hardhat reads even an empty value as a setting (a config path, a network name): unset them.
  delete env.HARDHAT_CONFIG;
  delete env.HARDHAT_NETWORK;
  return env;
}

/** Copy the working tree (tracked and untracked, not ignored: no dist/, artifacts/ or node_modules/). */
function copyTree(to: string): void {
  const r = spawnSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], {
    cwd: ROOT,
    encoding: "utf8",
  });
  expect(r.status, r.stderr).to.equal(0);
  for (const rel of r.stdout.split("\0").filter(Boolean)) {
    const from = path.join(ROOT, rel);
    if (!fs.existsSync(from)) continue; // deleted in the working tree, not yet in the index
    fs.mkdirSync(path.dirname(path.join(to, rel)), { recursive: true });
    fs.copyFileSync(from, path.join(to, rel));
  }
  fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(to, "node_modules"), "dir");
}

/**
 * `npm run build` and the built CLI, in a copy of the working tree: the build makes `vigil` run
 * dist/, and bin/vigil.js never runs a dist/ that no longer matches the sources. The copy's dist/ is
 * marked (a line appended to dist/keepers/cli.js) so each run shows which code answered.
 */
describe("npm run build and the built CLI (bin/vigil.js)", function () {
  this.timeout(15 * 60_000); // a full solc-js compile of the contracts on a busy 2-core machine
  let dir: string;
  const run = (script: string, args: string[]) =>
    spawnSync(process.execPath, [path.join(dir, script), ...args], {
      cwd: dir,
      encoding: "utf8",
      env: copyEnv(),
    });
  const vigil = (...args: string[]) => run("bin/vigil.js", args);
  const buildOk = () => {
    const r = run("scripts/build/build.js", []);
    expect(r.status, r.stdout + r.stderr).to.equal(0);
    fs.appendFileSync(
      path.join(dir, "dist/keepers/cli.js"),
      `\nprocess.stderr.write(${JSON.stringify(SENTINEL + "\n")});\n`,
    );
  };
  const edit = (rel: string, from: string, to: string) => {
    const file = path.join(dir, rel);
    const text = fs.readFileSync(file, "utf8");
    expect(text).to.contain(from);
    fs.writeFileSync(file, text.replace(from, to));
  };

  before(function () {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "vigil-build-"));
    copyTree(dir);
    buildOk();
  });

  after(function () {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("writes the JavaScript and its stamp to dist/", function () {
    expect(fs.existsSync(path.join(dir, "dist/keepers/cli.js"))).to.equal(true);
    expect(fs.existsSync(path.join(dir, "dist/.vigil-build.json"))).to.equal(true);
    expect(fs.existsSync(path.join(dir, "dist/keepers/cli.ts"))).to.equal(false);
    // Every source compiled into dist/ (keepers and whatever they import, typings aside) is watched.
    const stamp = JSON.parse(fs.readFileSync(path.join(dir, "dist/.vigil-build.json"), "utf8")) as {
      files: Record<string, unknown>;
    };
    const compiled: string[] = [];
    const walk = (rel: string) => {
      for (const e of fs.readdirSync(path.join(dir, "dist", rel), { withFileTypes: true })) {
        const child = rel ? `${rel}/${e.name}` : e.name;
        if (e.isDirectory()) walk(child);
        else if (e.name.endsWith(".js")) compiled.push(child.replace(/\.js$/, ".ts"));
      }
    };
    walk("");
    const sources = compiled.filter((f) => !f.startsWith("typechain-types/"));
    expect(sources).to.include("keepers/cli.ts");
    expect(Object.keys(stamp.files)).to.include.members(sources);
  });

  it("runs --help from dist/: exit 0, every subcommand listed, no notice", function () {
    const r = vigil("--help");
    expect(r.status, r.stderr).to.equal(0);
    // Every subcommand the sources define (read in-process here), listed by the built CLI.
    const names = buildProgram().commands.map((c) => c.name());
    expect(names).to.include.members(["attestor", "responder", "status", "set-attestors", "drill"]);
    for (const name of names) expect(r.stdout).to.match(new RegExp(`^  ${name} `, "m"));
    expect(r.stderr).to.contain(SENTINEL).and.not.contain(NOTICE);
    expect(vigil("--version").stdout.trim()).to.equal(
      (JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as { version: string }).version,
    );
  });

  it("runs the drill's own parser from dist/ (vigil drill --help; a bad option exits 2)", function () {
    const help = vigil("drill", "--help");
    expect(help.status, help.stderr).to.equal(0);
    expect(help.stdout).to.contain("Usage: vigil drill").and.contain("--quick").and.contain("--keep");
    expect(help.stdout).to.contain("--out <dir>").and.contain("--quiet");
    const bad = vigil("drill", "--no-such-option");
    expect(bad.status).to.equal(2);
    expect(bad.stderr).to.contain("unknown option '--no-such-option'");
  });

  it("runs the sources, with one notice naming the file, once a keeper changed after the build", function () {
    edit("keepers/cli.ts", "Vigil operator CLI:", "Vigil operator CLI (edited):");
    const r = vigil("--help");
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.contain("Vigil operator CLI (edited):");
    expect(r.stderr).to.not.contain(SENTINEL);
    const notices = r.stderr.split("\n").filter((l) => l.includes(NOTICE));
    expect(notices).to.deep.equal([
      "vigil: dist/ is not usable (keepers/cli.ts changed since the last build); running the TypeScript " +
        "sources (slow start) — `npm run build` for a fast one",
    ]);
    edit("keepers/cli.ts", "Vigil operator CLI (edited):", "Vigil operator CLI:");
  });

  it("runs the sources after a same-size edit dated before the build, and dist/ again once it is undone", function () {
    const file = path.join(dir, "keepers/cli.ts");
    edit("keepers/cli.ts", "Vigil operator CLI:", "VIGIL OPERATOR CLI:");
    fs.utimesSync(file, LONG_AGO, LONG_AGO);
    const edited = vigil("--help");
    expect(edited.status, edited.stderr).to.equal(0);
    expect(edited.stdout).to.contain("VIGIL OPERATOR CLI:");
    expect(edited.stderr).to.contain(NOTICE).and.not.contain(SENTINEL);

    edit("keepers/cli.ts", "VIGIL OPERATOR CLI:", "Vigil operator CLI:");
    const undone = vigil("--help");
    expect(undone.status, undone.stderr).to.equal(0);
    expect(undone.stderr).to.contain(SENTINEL).and.not.contain(NOTICE);
  });

  it("never stamps a failed build: a type error leaves vigil on the sources", function () {
    fs.writeFileSync(
      path.join(dir, "keepers/cli/zz-broken.ts"),
      "export const n: number = 'not a number';\n",
    );
    const r = run("scripts/build/build.js", []);
    expect(r.status).to.not.equal(0);
    expect(r.stdout + r.stderr).to.contain("zz-broken.ts");
    expect(fs.existsSync(path.join(dir, "dist/.vigil-build.json"))).to.equal(false);
    const help = vigil("--help");
    expect(help.status, help.stderr).to.equal(0);
    expect(help.stderr).to.contain(`${NOTICE} (no build yet)`);

    fs.rmSync(path.join(dir, "keepers/cli/zz-broken.ts"));
    buildOk();
    const back = vigil("--help");
    expect(back.stderr).to.contain(SENTINEL).and.not.contain(NOTICE);
  });
});

/** `vigil drill` in-process, with the real drill parser or a stand-in for the drill itself. */
describe("vigil drill (keepers/cli/drill.ts)", function () {
  const capture = () => {
    const io = { out: "", err: "" };
    const cli: CliIo = { out: (t) => void (io.out += t), err: (t) => void (io.err += t), env: {} };
    return { io, cli };
  };
  const run = (cmd: Command, args: string[]) =>
    new Command("vigil")
      .exitOverride()
      .addCommand(cmd)
      .parseAsync(["drill", ...args], { from: "user" });
  /** A drill that records its options and reports `failures` failures. */
  const standIn = (failures: number, seen: { opts?: unknown }): DrillEntry => ({
    drillProgram: (name, result) =>
      new Command(name)
        .option("--quick")
        .option("--out <dir>")
        .action((opts) => {
          seen.opts = opts;
          result.exitCode = failures ? 1 : 0;
        }),
  });

  it("answers --help with the drill's own options, through the CLI's output", async function () {
    const { io, cli } = capture();
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    await run(
      drillCommand(cli, () => require("../../scripts/drill/index") as DrillEntry),
      ["--help"],
    );
    expect(io.out).to.contain("Usage: vigil drill [options]");
    for (const o of ["--quick", "--keep", "--out <dir>", "--quiet"]) expect(io.out).to.contain(o);
  });

  it("passes every argument to the drill and succeeds when the drill found nothing wrong", async function () {
    const seen: { opts?: unknown } = {};
    await run(
      drillCommand(capture().cli, () => standIn(0, seen)),
      ["--quick", "--out", "/tmp/x"],
    );
    expect(seen.opts).to.deep.equal({ quick: true, out: "/tmp/x" });
  });

  it("ends with exit code 1 (CommanderError vigil.exit) when the drill found a failure", async function () {
    const err = await run(
      drillCommand(capture().cli, () => standIn(1, {})),
      [],
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(CommanderError);
    expect((err as CommanderError).code).to.equal("vigil.exit");
    expect((err as CommanderError).exitCode).to.equal(1);
  });

  it("rejects an option the drill does not have, naming it (the CLI exits 2)", async function () {
    const { io, cli } = capture();
    const err = await run(
      drillCommand(cli, () => standIn(0, {})),
      ["--no-such-option"],
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((err as CommanderError).exitCode).to.equal(1); // commander's usage error; runCli maps it to 2
    expect(io.err).to.contain("unknown option '--no-such-option'");
  });
});
