import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import { JsonRpcProvider } from "ethers";
import YAML from "yaml";
import { loadAttestorConfig } from "../../keepers/attestor/config";
import { loadResponderConfig } from "../../keepers/responder/config";
import { processAlive, type DevnetState } from "../../keepers/devnet/state";
import {
  IEndpointRegistry__factory,
  IHealthOracle__factory,
  IMarketGuard__factory,
} from "../../typechain-types";
import { Status } from "../../keepers/shared/health";
import { until } from "../keepers/helpers/until";
import { freePort } from "../../scripts/drill/nodes";
import { ROOT, runNode } from "./localnode";

const VIGIL = path.join(ROOT, "bin", "vigil.js");
/** Every port flag at 0: free ports, so the test runs beside anything else. */
const FREE = [
  "--port",
  "0",
  "--node-port",
  "0",
  "--attestor-port",
  "0",
  "--responder-port",
  "0",
  "--dashboard-port",
  "0",
];
const vigil = (args: string[]) => runNode(VIGIL, args, { HARDHAT_NETWORK: "" });

/**
 * `vigil devnet` as a new user runs it: a child process on free ports, until its `ready:` line; then
 * the files it wrote, the contracts, the keepers' /healthz, a fault on the active node and the failover
 * it causes on-chain, and Ctrl-C (SIGINT) leaving no process behind.
 */
describe("vigil devnet", function () {
  this.timeout(15 * 60_000);
  let dir: string;
  let child: ChildProcess;
  let output = "";
  let exited: Promise<number | null>;
  let state: DevnetState;
  let provider: JsonRpcProvider;

  before(async function () {
    dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "vigil-devnet-test-")), "net");
    child = spawn(process.execPath, [VIGIL, "devnet", "--dir", dir, ...FREE, "--ready-timeout", "600"], {
      cwd: ROOT,
      env: { ...process.env, HARDHAT_NETWORK: "" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout!.on("data", (b) => (output += b.toString()));
    child.stderr!.on("data", (b) => (output += b.toString()));
    exited = new Promise((resolve) => child.once("exit", (code) => resolve(code)));
    await until(
      "the devnet's ready line",
      async () => {
        if (child.exitCode !== null) throw new Error(`vigil devnet exited ${child.exitCode}:\n${output}`);
        return /^ready: /m.test(output);
      },
      12 * 60_000,
    );
    state = JSON.parse(fs.readFileSync(path.join(dir, "devnet.json"), "utf8")) as DevnetState;
    provider = new JsonRpcProvider(state.chain.url, 31337, { staticNetwork: true });
  });

  after(async function () {
    provider?.destroy();
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
      await exited;
    }
  });

  it("prints what runs where and how to inject a fault", function () {
    expect(output).to.include(state.chain.url);
    for (const n of state.nodes) expect(output).to.include(n.url);
    for (const k of state.keepers) expect(output).to.include(k.url);
    expect(output).to.include(state.contracts.oracle);
    expect(output).to.match(/vigil devnet fault active --kind stop/);
  });

  it("writes keeper configs in the shared shape with the deployed addresses, and keys.env", function () {
    for (const i of [1, 2, 3]) {
      const c = loadAttestorConfig(path.join(dir, `attestor-${i}.yaml`), {}, {});
      expect(c.contracts.oracle).to.equal(state.contracts.oracle);
      expect(c.contracts.registry).to.equal(state.contracts.registry);
      expect(c.chain.rpcUrls).to.deep.equal([state.chain.url]);
      expect(c.services).to.deep.equal([state.contracts.serviceId.toLowerCase()]);
      expect(c.key.envVar).to.equal(`VIGIL_ATTESTOR_${i}_KEY`);
    }
    const r = loadResponderConfig(path.join(dir, "responder.yaml"), {}, {});
    expect(r.contracts.guard).to.equal(state.contracts.guard);
    expect(r.attestorUrls).to.deep.equal(
      state.keepers.filter((k) => k.name.startsWith("attestor")).map((k) => k.url),
    );
    const d = YAML.parse(fs.readFileSync(path.join(dir, "dashboard.yaml"), "utf8"));
    expect(d.contracts.guard).to.equal(state.contracts.guard);
    const keys = fs.readFileSync(path.join(dir, "keys.env"), "utf8");
    expect(keys).to.match(/^VIGIL_ATTESTOR_1_KEY=0x[0-9a-f]{64}$/m);
    expect(keys).to.match(/^VIGIL_RESPONDER_KEY=0x[0-9a-f]{64}$/m);
  });

  it("deploys at the addresses of the committed example configs (a fresh chain, the same deploy)", function () {
    const example = YAML.parse(fs.readFileSync(path.join(ROOT, "config/attestor.example.yaml"), "utf8"));
    expect(example.contracts).to.deep.equal({
      oracle: state.contracts.oracle,
      registry: state.contracts.registry,
      guard: state.contracts.guard,
    });
    expect(example.services).to.deep.equal([state.contracts.serviceId]);
  });

  it("has live contracts: the demo service with three endpoints and market 1 guarded", async function () {
    for (const a of [
      state.contracts.oracle,
      state.contracts.registry,
      state.contracts.guard,
      state.contracts.market,
    ])
      expect(await provider.getCode(a)).to.not.equal("0x");
    const registry = IEndpointRegistry__factory.connect(state.contracts.registry, provider);
    const endpoints = await registry.endpointsOf(state.contracts.serviceId);
    expect(endpoints.map((e) => e.uri)).to.deep.equal(state.nodes.map((n) => n.url));
    const guard = IMarketGuard__factory.connect(state.contracts.guard, provider);
    expect((await guard.marketConfig(1n)).market).to.equal(state.contracts.market);
    const oracle = IHealthOracle__factory.connect(state.contracts.oracle, provider);
    const [, quorum] = await oracle.attestorSet();
    expect(Number(quorum)).to.equal(2);
  });

  it("runs every keeper: /healthz answers 200, the dashboard serves its page", async function () {
    expect(state.keepers.map((k) => k.name)).to.deep.equal([
      "attestor-1",
      "attestor-2",
      "attestor-3",
      "responder",
      "dashboard",
    ]);
    for (const k of state.keepers) {
      const res = await fetch(`${k.url}/healthz`);
      expect(res.status, `${k.name} ${await res.text()}`).to.equal(200);
    }
    const page = await fetch(`${state.keepers[4].url}/`);
    expect(page.status).to.equal(200);
    expect(page.headers.get("content-type")).to.match(/text\/html/);
  });

  it("refuses a second devnet on the same --dir while this one runs", async function () {
    const { code, out } = await vigil(["devnet", "--dir", dir, ...FREE]);
    expect(out).to.match(/error VIGIL_CONFIG: a devnet \(pid \d+\) is already running from/);
    expect(code).to.equal(2);
  });

  it("refuses a fault on a node that does not exist, naming the valid ones", async function () {
    const { code, out } = await vigil(["devnet", "fault", "backup-9", "--kind", "stop", "--dir", dir]);
    expect(out).to.match(/error VIGIL_CONFIG: no demo node "backup-9" \(name one of: active, primary/);
    expect(code).to.equal(2);
  });

  it("fails over on-chain when the active node is stopped (vigil devnet fault active --kind stop)", async function () {
    const registry = IEndpointRegistry__factory.connect(state.contracts.registry, provider);
    const before = (await registry.activeEndpointId(state.contracts.serviceId)).toLowerCase();
    expect(before).to.equal(state.nodes[0].endpointId.toLowerCase());
    const { code, out } = await vigil(["devnet", "fault", "active", "--kind", "stop", "--dir", dir]);
    expect(out).to.match(/primary .* stopped/);
    expect(code, out).to.equal(0);
    await until(
      "the registry's active endpoint to move off the stopped primary",
      async () => (await registry.activeEndpointId(state.contracts.serviceId)).toLowerCase() !== before,
      5 * 60_000,
    );
    const after = (await registry.activeEndpointId(state.contracts.serviceId)).toLowerCase();
    expect(after).to.equal(state.nodes[1].endpointId.toLowerCase());
    await until("the devnet to print the migration", async () =>
      /service migrated primary → backup-1/.test(output),
    );
  });

  it("fails back to the primary once it is resumed (vigil devnet fault primary --kind resume)", async function () {
    const registry = IEndpointRegistry__factory.connect(state.contracts.registry, provider);
    const { code, out } = await vigil(["devnet", "fault", "primary", "--kind", "resume", "--dir", dir]);
    expect(out).to.match(/primary .* resumed/);
    expect(code, out).to.equal(0);
    await until(
      "the registry to fail back to the primary",
      async () =>
        (await registry.activeEndpointId(state.contracts.serviceId)).toLowerCase() ===
        state.nodes[0].endpointId.toLowerCase(),
      5 * 60_000,
    );
  });

  it("marks a node that stops mining DOWN on-chain (--kind halt)", async function () {
    const oracle = IHealthOracle__factory.connect(state.contracts.oracle, provider);
    const { code, out } = await vigil(["devnet", "fault", "backup-2", "--kind", "halt", "--dir", dir]);
    expect(out).to.match(/backup-2 .* mines no more blocks/);
    expect(code, out).to.equal(0);
    await until(
      "backup-2 DOWN on-chain",
      async () => Number((await oracle.statusOf(state.nodes[2].endpointId)).status) === Status.DOWN,
      5 * 60_000,
    );
  });

  it("stops everything on SIGINT, a stopped and a halted node included, and exits 0", async function () {
    const stop = await vigil(["devnet", "fault", "backup-1", "--kind", "stop", "--dir", dir]);
    expect(stop.code, stop.out).to.equal(0);
    const pids = [state.chain.pid, ...state.nodes.map((n) => n.pid), ...state.keepers.map((k) => k.pid)];
    expect(pids.every((p) => p > 0 && processAlive(p))).to.equal(true);
    child.kill("SIGINT");
    expect(await exited, output.slice(-3000)).to.equal(0);
    for (const p of pids) expect(processAlive(p), `pid ${p} still alive`).to.equal(false);
    expect(fs.existsSync(path.join(dir, "devnet.json"))).to.equal(false);
    expect(output).to.match(/^stopped: every process vigil devnet started has exited$/m);
  });
});

describe("vigil devnet rejections", function () {
  this.timeout(5 * 60_000);

  it("refuses a port in use, naming the flag", async function () {
    const srv = net.createServer();
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
    const port = (srv.address() as net.AddressInfo).port;
    try {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vigil-devnet-port-"));
      const { code, out } = await vigil(["devnet", "--dir", dir, ...FREE, "--responder-port", String(port)]);
      expect(out).to.include(
        `error VIGIL_CONFIG: port ${port} (--responder-port) is already in use on 127.0.0.1`,
      );
      expect(code).to.equal(2);
      expect(fs.readdirSync(dir)).to.deep.equal([]); // nothing started, nothing written
    } finally {
      srv.close();
    }
  });

  it("refuses one port given to two flags", async function () {
    const p = String(await freePort());
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vigil-devnet-dup-"));
    const { code, out } = await vigil(["devnet", "--dir", dir, ...FREE, "--port", p, "--dashboard-port", p]);
    expect(out).to.include(`error VIGIL_CONFIG: port ${p} is given to both --port and --dashboard-port`);
    expect(code).to.equal(2);
  });

  it("refuses a --dir that holds files it did not write", async function () {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vigil-devnet-foreign-"));
    fs.writeFileSync(path.join(dir, "notes.txt"), "mine");
    const { code, out } = await vigil(["devnet", "--dir", dir, ...FREE]);
    expect(out).to.match(/error VIGIL_CONFIG: --dir .* is not empty and was not made by vigil devnet/);
    expect(code).to.equal(2);
    expect(fs.readFileSync(path.join(dir, "notes.txt"), "utf8")).to.equal("mine");
  });

  it("refuses a fault when no devnet runs from --dir", async function () {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vigil-devnet-none-"));
    const { code, out } = await vigil(["devnet", "fault", "primary", "--kind", "stop", "--dir", dir]);
    expect(out).to.match(/error VIGIL_CONFIG: no devnet is running from .* \(no devnet\.json\)/);
    expect(code).to.equal(2);
  });

  it("refuses an unknown fault kind", async function () {
    const { code, out } = await vigil(["devnet", "fault", "primary", "--kind", "explode"]);
    expect(out).to.match(/argument 'explode' is invalid\. Allowed choices are stop, halt, resume/);
    expect(code).to.equal(2);
  });
});
