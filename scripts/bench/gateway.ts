/**
 * Gateway overhead on a healthy path: the same load sent straight to a node and through `vigil gateway`,
 * side by side. One anvil is the control chain (HealthOracle + EndpointRegistry deployed from the Hardhat
 * artifacts, one service whose one endpoint is a second anvil, the service node); the gateway runs in its own
 * process (one Node event loop: one core); the load comes from this process over keep-alive connections.
 *
 *   npm run bench:gateway [-- --requests 5000] [-- --seconds 5] [-- --concurrency 32]
 *
 * Prints, per path: p50 and p99 latency of sequential `eth_blockNumber` calls (one in flight), the added
 * latency of the gateway, and requests/s with `--concurrency` calls in flight, plus the gateway's CPU use
 * (cores) during that run, read from its own /metrics. The machine's cores and load are printed: the three
 * processes share them. Asserts nothing about time.
 */
import { spawn, type ChildProcess } from "node:child_process";
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
    .parse(process.argv)
    .opts<{ requests: string; seconds: string; concurrency: string }>();
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

    const port = await freePort();
    const configFile = path.join(tmp, "gateway.json");
    fs.writeFileSync(
      configFile,
      JSON.stringify({
        chain: { rpcUrls: [control], chainId: 31337 },
        contracts: { oracle: await oracle.getAddress(), registry: await registry.getAddress() },
        http: { host: "127.0.0.1", port },
        log: { level: "warn" },
        services: [{ name: "eth", id: serviceId, chainId: 31337 }],
      }),
    );
    // The gateway command itself (keepers/gateway/command.ts), as `vigil gateway --config <file>` runs it.
    const runner =
      `require(${JSON.stringify(path.join(REPO_ROOT, "keepers", "gateway", "command"))})` +
      `.gatewayCommand(require(${JSON.stringify(path.join(REPO_ROOT, "keepers", "cli", "io"))}).processIo)` +
      `.parseAsync(["--config", ${JSON.stringify(configFile)}], { from: "user" })`;
    const gateway = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", "-e", runner], {
      cwd: REPO_ROOT,
      stdio: ["ignore", "pipe", "inherit"],
      env: { ...process.env, TS_NODE_TRANSPILE_ONLY: "true" },
    });
    children.push(gateway);
    await new Promise<void>((resolve, reject) => {
      gateway.stdout!.on("data", (c: Buffer) => c.toString().includes("gateway: http") && resolve());
      gateway.once("exit", (code) => reject(new Error(`gateway exited with ${code}`)));
    });
    const via = `http://127.0.0.1:${port}/eth`;

    const n = Number(opts.requests);
    const direct = await latencies(node, n);
    const gw = await latencies(via, n);
    const c = Number(opts.concurrency);
    const s = Number(opts.seconds);
    const rpsDirect = await throughput(node, c, s);
    const cpu0 = await cpuSeconds(`http://127.0.0.1:${port}/metrics`);
    const t0 = performance.now();
    const rpsGateway = await throughput(via, c, s);
    const cores =
      ((await cpuSeconds(`http://127.0.0.1:${port}/metrics`)) - cpu0) / ((performance.now() - t0) / 1000);

    const f = (x: number) => x.toFixed(3);
    const lines = [
      `gateway overhead, eth_blockNumber, ${n} sequential calls per path, then ${c} in flight for ${s} s`,
      `machine: ${os.cpus().length} cores, load ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(" ")} (anvil, gateway and this load share them)`,
      "",
      "path              p50 ms   p99 ms   req/s",
      `direct to node    ${f(pct(direct, 50)).padStart(6)}   ${f(pct(direct, 99)).padStart(6)}   ${rpsDirect.toFixed(0).padStart(6)}`,
      `through gateway   ${f(pct(gw, 50)).padStart(6)}   ${f(pct(gw, 99)).padStart(6)}   ${rpsGateway.toFixed(0).padStart(6)}`,
      `added             ${f(pct(gw, 50) - pct(direct, 50)).padStart(6)}   ${f(pct(gw, 99) - pct(direct, 99)).padStart(6)}`,
      "",
      `gateway CPU during its throughput run: ${cores.toFixed(2)} cores (one event loop), ` +
        `${(rpsGateway / cores).toFixed(0)} req/s per core it used`,
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
