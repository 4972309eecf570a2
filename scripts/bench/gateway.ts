/**
 * Gateway overhead on a healthy path: the same load sent straight to a node and through `vigil gateway`,
 * side by side. One anvil is the control chain (HealthOracle + EndpointRegistry deployed from the Hardhat
 * artifacts, one service whose one endpoint is a second anvil, the service node); the gateway runs in its own
 * process (one Node event loop: one core); the load comes from this process over keep-alive connections.
 *
 *   npm run bench:gateway [-- --requests 5000] [-- --seconds 5] [-- --concurrency 32] [-- --cpu-prof <dir>]
 *
 * Prints, per path: p50 and p99 latency of sequential `eth_blockNumber` calls (one in flight), the added
 * latency of the gateway, and requests/s with `--concurrency` calls in flight, plus the gateway's CPU use
 * (cores) during that run, read from its own /metrics. The gateway runs twice, one after the other, with
 * each upstream sender (`upstreamClient`: node:http agents, then undici's Pool), so a change is measured
 * before and after in one run. `--cpu-prof <dir>` writes each gateway's CPU profile there. The machine's cores and load are printed: the three
 * processes share them. Asserts nothing about time.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { Command, Option } from "commander";
import { ContractFactory, Wallet, JsonRpcProvider, Network, type Contract } from "ethers";
import { anvilBinary, freePort, REPO_ROOT, rpc } from "../drill/nodes";

const KEY0 = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const POLICY = {
  downBelowBps: 5000,
  upAtBps: 8000,
  fallRounds: 2,
  riseRounds: 2,
  heartbeat: 600,
  maxAge: 60,
};
const BODY = '{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}';

async function startAnvil(children: ChildProcess[]): Promise<string> {
  const port = await freePort();
  const child = spawn(anvilBinary(), ["--host", "127.0.0.1", "--port", String(port), "--silent"], {
    stdio: "ignore",
  });
  children.push(child);
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      await rpc(url, "eth_chainId", [], 500);
      return url;
    } catch (e) {
      if (i > 300) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function deploy(name: string, args: unknown[], signer: Wallet): Promise<Contract> {
  const file = path.join(REPO_ROOT, "artifacts", "contracts", `${name}.sol`, `${name}.json`);
  if (!fs.existsSync(file)) throw new Error(`${file} missing: run npx hardhat compile first`);
  const a = JSON.parse(fs.readFileSync(file, "utf8")) as { abi: never; bytecode: string };
  const c = await new ContractFactory(a.abi, a.bytecode, signer).deploy(...args);
  await c.waitForDeployment();
  return c as unknown as Contract;
}

/** One POST over `agent`; resolves when the answer is read. */
function post(url: URL, agent: http.Agent): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: "POST",
        agent,
        headers: { "content-type": "application/json", "content-length": BODY.length },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (text += c));
        res.on("end", () =>
          text.includes('"result"') ? resolve() : reject(new Error(`bad answer: ${text}`)),
        );
      },
    );
    req.on("error", reject);
    req.end(BODY);
  });
}

const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

/** `n` sequential calls; latencies in ms, sorted. */
async function latencies(url: string, n: number): Promise<number[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const u = new URL(url);
  for (let i = 0; i < 200; i++) await post(u, agent); // warm-up
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await post(u, agent);
    out.push(performance.now() - t);
  }
  agent.destroy();
  return out.sort((a, b) => a - b);
}

/** Calls per second with `concurrency` in flight for `seconds`. */
async function throughput(url: string, concurrency: number, seconds: number): Promise<number> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const u = new URL(url);
  const end = performance.now() + seconds * 1000;
  let done = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        await post(u, agent);
        done++;
      }
    }),
  );
  agent.destroy();
  return done / ((performance.now() - started) / 1000);
}

/**
 * Compile the keepers (tsconfig.build.json, as `npm run build` does) into `<tmp>/js`, so the gateway runs as
 * the built `vigil` runs it, from the sources in the tree now. Not through ts-node: its register loads
 * node:domain (for its REPL), which wraps every event emitter and costs the gateway measurably.
 * @returns The runner script that starts `vigil gateway` with the arguments it is given.
 */
function compileGateway(tmp: string): string {
  const out = path.join(tmp, "js");
  const t0 = performance.now();
  const r = spawnSync(
    process.execPath,
    [
      path.join(REPO_ROOT, "node_modules", "typescript", "bin", "tsc"),
      "-p",
      "tsconfig.build.json",
      "--outDir",
      out,
    ],
    { cwd: REPO_ROOT, stdio: ["ignore", "inherit", "inherit"] },
  );
  if (r.status !== 0) throw new Error(`tsc -p tsconfig.build.json failed (exit ${r.status})`);
  process.stderr.write(
    `bench:gateway: keepers compiled in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`,
  );
  const runner = path.join(tmp, "gateway.js");
  // The gateway command itself (keepers/gateway/command.ts), as `vigil gateway --config <file>` runs it.
  fs.writeFileSync(
    runner,
    `require(${JSON.stringify(path.join(out, "keepers", "gateway", "command.js"))})` +
      `.gatewayCommand(require(${JSON.stringify(path.join(out, "keepers", "cli", "io.js"))}).processIo)` +
      `.parseAsync(process.argv.slice(2), { from: "user" });\n`,
  );
  return runner;
}

/** Start `vigil gateway --config <file>` with `runner` in its own process; resolves once it serves. */
async function spawnGateway(
  runner: string,
  configFile: string,
  cpuProf: string | undefined,
  children: ChildProcess[],
) {
  const prof = cpuProf ? ["--cpu-prof", "--cpu-prof-dir", path.resolve(cpuProf)] : [];
  const gateway = spawn(process.execPath, [...prof, runner, "--config", configFile], {
    cwd: REPO_ROOT,
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, NODE_PATH: path.join(REPO_ROOT, "node_modules") },
  });
  children.push(gateway);
  await new Promise<void>((resolve, reject) => {
    gateway.stdout!.on("data", (c: Buffer) => c.toString().includes("gateway: http") && resolve());
    gateway.once("exit", (code) => reject(new Error(`gateway exited with ${code}`)));
  });
  return gateway;
}

async function cpuSeconds(metricsUrl: string): Promise<number> {
  const text = await (await fetch(metricsUrl)).text();
  const m = /^vigil_process_process_cpu_seconds_total (\S+)$/m.exec(text);
  return m ? Number(m[1]) : NaN;
}

async function main(): Promise<void> {
  const opts = new Command("bench:gateway")
    .addOption(new Option("--requests <n>", "sequential calls per path for latency").default("5000"))
    .addOption(new Option("--seconds <s>", "seconds of load per path for throughput").default("5"))
    .addOption(new Option("--concurrency <n>", "calls in flight for throughput").default("32"))
    .addOption(new Option("--cpu-prof <dir>", "write the gateway's CPU profile (node --cpu-prof) into <dir>"))
    .parse(process.argv)
    .opts<{ requests: string; seconds: string; concurrency: string; cpuProf?: string }>();
  const children: ChildProcess[] = [];
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "vigil-bench-gateway-"));
  try {
    const [control, node] = await Promise.all([startAnvil(children), startAnvil(children)]);
    const network = Network.from(31337);
    const provider = new JsonRpcProvider(control, network, { staticNetwork: network, cacheTimeout: -1 });
    const admin = new Wallet(KEY0, provider);
    const oracle = await deploy("HealthOracle", [admin.address, 10, 15, 500_000, POLICY], admin);
    const registry = await deploy("EndpointRegistry", [await oracle.getAddress()], admin);
    const config = { cooldown: 60, recoveryPeriod: 120 };
    const serviceId = (await registry.registerService.staticCall("eth-rpc", config)) as string;
    await (await registry.registerService("eth-rpc", config)).wait();
    await (await registry.addEndpoint(serviceId, 0, node, 0)).wait();
    provider.destroy();

    const runner = compileGateway(tmp);
    const addresses = { oracle: await oracle.getAddress(), registry: await registry.getAddress() };
    const n = Number(opts.requests);
    const c = Number(opts.concurrency);
    const s = Number(opts.seconds);
    const direct = await latencies(node, n);
    const rpsDirect = await throughput(node, c, s);
    const f = (x: number) => x.toFixed(3);
    const rows = [
      `direct to node              ${f(pct(direct, 50)).padStart(6)}   ${f(pct(direct, 99)).padStart(6)}   ${rpsDirect.toFixed(0).padStart(6)}`,
    ];
    const cpuLines: string[] = [];
    // Before/after in one run: the same gateway with each upstream sender (config upstreamClient).
    for (const upstreamClient of ["http", "undici"] as const) {
      const port = await freePort();
      const configFile = path.join(tmp, `gateway-${upstreamClient}.json`);
      fs.writeFileSync(
        configFile,
        JSON.stringify({
          chain: { rpcUrls: [control], chainId: 31337 },
          contracts: addresses,
          http: { host: "127.0.0.1", port },
          log: { level: "warn" },
          services: [{ name: "eth", id: serviceId, chainId: 31337 }],
          upstreamClient,
        }),
      );
      const gateway = await spawnGateway(runner, configFile, opts.cpuProf, children);
      const via = `http://127.0.0.1:${port}/eth`;
      const gw = await latencies(via, n);
      const cpu0 = await cpuSeconds(`http://127.0.0.1:${port}/metrics`);
      const t0 = performance.now();
      const rps = await throughput(via, c, s);
      const cores =
        ((await cpuSeconds(`http://127.0.0.1:${port}/metrics`)) - cpu0) / ((performance.now() - t0) / 1000);
      const label = `gateway, ${upstreamClient === "http" ? "node:http" : "undici Pool"}`.padEnd(26);
      rows.push(
        `${label}  ${f(pct(gw, 50)).padStart(6)}   ${f(pct(gw, 99)).padStart(6)}   ${rps.toFixed(0).padStart(6)}`,
        `  added                     ${f(pct(gw, 50) - pct(direct, 50)).padStart(6)}   ${f(pct(gw, 99) - pct(direct, 99)).padStart(6)}`,
      );
      cpuLines.push(
        `${label}: ${cores.toFixed(2)} cores during its throughput run (one event loop), ` +
          `${(rps / cores).toFixed(0)} req/s per core it used`,
      );
      // SIGTERM: the command stops cleanly, so a --cpu-prof profile is written.
      const exited = new Promise((r) => gateway.once("exit", r));
      gateway.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    }
    const lines = [
      `gateway overhead, eth_blockNumber, ${n} sequential calls per path, then ${c} in flight for ${s} s`,
      `machine: ${os.cpus().length} cores, load ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(" ")} (anvil, gateway and this load share them)`,
      "",
      "path                        p50 ms   p99 ms   req/s",
      ...rows,
      "",
      ...cpuLines,
      `goal (issue 9): added p50 <= 1 ms, >= 5,000 req/s`,
    ];
    process.stdout.write(lines.join("\n") + "\n");
  } finally {
    for (const ch of children) if (ch.exitCode === null && ch.signalCode === null) ch.kill("SIGKILL");
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`bench:gateway failed: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
