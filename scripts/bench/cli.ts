/**
 * CLI start-up and `vigil status` wall-clock times, as an operator meets them: each run is a fresh
 * `node bin/vigil.js ...` process, timed from spawn to exit. `status` reads a real deployment (the
 * example parameters) on a `hardhat node` this script starts on loopback and stops at the end.
 *
 *   npm run bench:cli [-- --runs 10] [-- --no-source]
 *
 * Rows: the build in dist/ (what `vigil` runs after `npm run build`), and, unless --no-source, the
 * TypeScript sources through ts-node (VIGIL_FROM_SOURCE=1: what every call cost before the build,
 * and what a developer's edited tree still costs). Prints median and max per row, the machine's cores
 * and load; asserts nothing about time. Exits 1 when a run itself fails (non-zero exit), printing its
 * output, since a failing command's time means nothing.
 */
import { spawn } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { Command, Option } from "commander";
import { ROOT, deployExample, startHardhatNode } from "../../test/e2e/localnode";
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { checkBuild } = require("../build/freshness") as {
  checkBuild(root: string): { fresh: boolean; reason?: string };
};

const VIGIL = path.join(ROOT, "bin", "vigil.js");

interface Row {
  label: string;
  ms: number[];
}

/** One `node bin/vigil.js ...args` process; resolves with its wall time in ms. Throws on a non-zero exit. */
function timeRun(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [VIGIL, ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (b) => (out += b.toString()));
    child.stderr.on("data", (b) => (out += b.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      const ms = performance.now() - t0;
      if (code === 0) resolve(ms);
      else reject(new Error(`vigil ${args.join(" ")} exited ${code}:\n${out}`));
    });
  });
}

async function measure(label: string, runs: number, args: string[], env: NodeJS.ProcessEnv): Promise<Row> {
  await timeRun(args, env); // warm the file cache once, not counted
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) ms.push(await timeRun(args, env));
  process.stdout.write(`  measured ${label}\n`);
  return { label, ms };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const sec = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

function table(rows: Row[]): string {
  const head = ["command", "runs", "median", "max"];
  const body = rows.map((r) => [r.label, String(r.ms.length), sec(median(r.ms)), sec(Math.max(...r.ms))]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  return [line(head), widths.map((w) => "-".repeat(w)).join("  "), ...body.map(line)].join("\n");
}

async function main(): Promise<void> {
  const o = new Command("bench:cli")
    .addOption(new Option("--runs <n>", "timed runs per row").default(10).argParser(Number))
    .option("--no-source", "skip the ts-node rows")
    .parse(process.argv)
    .opts<{ runs: number; source: boolean }>();

  const build = checkBuild(ROOT);
  if (!build.fresh) {
    process.stderr.write(
      `bench:cli: dist/ is not usable (${build.reason}); run \`npm run build\` first, or the "dist" rows time ts-node\n`,
    );
    process.exit(1);
  }

  process.stdout.write("starting a hardhat node and deploying the example parameters...\n");
  const node = await startHardhatNode();
  const deployed = await deployExample(node.url, `bench-cli-${process.pid}`);
  try {
    if (deployed.code !== 0) throw new Error(`deploy failed:\n${deployed.out}`);
    const status = [
      "status",
      "--rpc-url",
      node.url,
      "--chain-id",
      "31337",
      "--oracle",
      deployed.oracle,
      "--registry",
      deployed.registry,
      "--guard",
      deployed.guard,
    ];
    const rows: Row[] = [];
    const dist = { VIGIL_FROM_SOURCE: "" };
    const source = { VIGIL_FROM_SOURCE: "1" };
    rows.push(await measure("vigil --help  (dist/)", o.runs, ["--help"], dist));
    rows.push(await measure("vigil status  (dist/)", o.runs, status, dist));
    if (o.source) {
      rows.push(await measure("vigil --help  (ts-node)", o.runs, ["--help"], source));
      rows.push(await measure("vigil status  (ts-node)", o.runs, status, source));
    }
    const load = os.loadavg().map((l) => l.toFixed(2));
    process.stdout.write(
      `\n${table(rows)}\n\n${os.cpus().length} cores, load average ${load.join(" ")}; ` +
        `status reads 1 service, 3 endpoints, 1 market from ${node.url}\n`,
    );
  } finally {
    await node.stop();
    deployed.cleanup();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
