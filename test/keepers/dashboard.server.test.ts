/**
 * The dashboard's HTTP side and start-up checks: routes mounted under a prefix on another server,
 * methods, the 503 while the chain is unreadable, and every configuration mistake an operator can make
 * stopping with a VigilError that names the setting.
 */
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import type { AddressInfo } from "node:net";
import { expect } from "chai";
import { Wallet } from "ethers";
import { Command } from "commander";
import { dashboardCommand } from "../../keepers/dashboard/command";
import { checkDashboardChain, runDashboard } from "../../keepers/dashboard/run";
import { dashboardConfigSchema, loadDashboardConfig } from "../../keepers/dashboard/config";
import { dashboardHandler, startDashboardServer, startDashboardView } from "../../keepers/dashboard/server";
import { createProvider } from "../../keepers/shared/chain";
import { parseConfig } from "../../keepers/shared/config";
import { isVigilError } from "../../keepers/shared/errors";
import { createLogger } from "../../keepers/shared/logger";
import { Anvil, ANVIL_KEYS, deployArtifact } from "./helpers/anvil";

const logger = createLogger("test", { level: "silent" });
const ADDR = "0x" + "1".repeat(40);

async function serve(handler: ReturnType<typeof dashboardHandler>) {
  const server = http.createServer((req, res) => {
    if (!handler(req, res)) {
      res.writeHead(404);
      res.end("keeper's own 404");
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { base, close: () => new Promise<void>((r) => server.close(() => r())) };
}

const rejects = async (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error("expected a rejection");
    },
    (e: unknown) => e as Error,
  );

describe("dashboard HTTP routes", function () {
  let state: string | undefined;
  let failure: string | undefined;
  let srv: Awaited<ReturnType<typeof serve>>;
  before(async () => {
    srv = await serve(dashboardHandler({ json: () => state, error: () => failure }, "/dashboard"));
  });
  after(() => srv.close());

  it("mounts the page, its assets and api/state under a prefix, leaving other paths to the host server", async function () {
    state = JSON.stringify({ ok: 1 });
    failure = undefined;
    const page = await fetch(`${srv.base}/dashboard/`);
    expect(page.status).to.equal(200);
    expect(page.headers.get("content-type")).to.contain("text/html");
    expect(page.headers.get("content-security-policy")).to.contain("default-src 'none'");
    const html = await page.text();
    expect(html).to.contain('src="dashboard.js"').and.not.contain("<script>"); // no inline script
    expect((await fetch(`${srv.base}/dashboard/dashboard.js`)).headers.get("content-type")).to.contain(
      "javascript",
    );
    expect(await (await fetch(`${srv.base}/dashboard/api/state`)).json()).to.deep.equal({ ok: 1 });
    const other = await fetch(`${srv.base}/metrics`);
    expect([other.status, await other.text()]).to.deep.equal([404, "keeper's own 404"]);
    expect((await fetch(`${srv.base}/dashboard/nope`)).status).to.equal(404);
  });

  it("redirects the bare prefix to the prefix with a slash (the page's URLs are relative)", async function () {
    const res = await fetch(`${srv.base}/dashboard`, { redirect: "manual" });
    expect(res.status).to.equal(308);
    expect(res.headers.get("location")).to.equal("/dashboard/");
  });

  it("refuses methods other than GET and HEAD", async function () {
    const res = await fetch(`${srv.base}/dashboard/api/state`, { method: "POST" });
    expect(res.status).to.equal(405);
  });

  it("answers 503 with the reason before the first poll and while the chain is unreadable", async function () {
    state = undefined;
    failure = undefined;
    let res = await fetch(`${srv.base}/dashboard/api/state`);
    expect([res.status, ((await res.json()) as { error: string }).error]).to.deep.equal([
      503,
      "reading the chain…",
    ]);
    state = "{}";
    failure = "ECONNREFUSED";
    res = await fetch(`${srv.base}/dashboard/api/state`);
    expect(res.status).to.equal(503);
    expect(((await res.json()) as { error: string }).error).to.equal("cannot read the chain: ECONNREFUSED");
  });
});

describe("dashboard configuration", function () {
  const base = {
    chain: { rpcUrls: ["http://127.0.0.1:1"], chainId: 31337 },
    contracts: { oracle: ADDR, registry: ADDR },
  };

  it("defaults to port 9480, polls every 2 s and reads 5000 blocks of history", function () {
    const c = parseConfig(dashboardConfigSchema, base);
    expect([c.http.port, c.http.host, c.pollIntervalMs, c.blockWindow, c.log.level]).to.deep.equal([
      9480,
      "127.0.0.1",
      2000,
      5000,
      "info",
    ]);
  });

  it("rejects a missing RPC URL, a missing registry and a zero poll interval, naming each", function () {
    const e = (() => {
      try {
        loadDashboardConfig(undefined, { pollIntervalMs: 0, "contracts.oracle": ADDR }, {});
      } catch (err) {
        return err as Error;
      }
    })();
    expect(isVigilError(e, "VIGIL_CONFIG")).to.equal(true);
    expect(e!.message).to.contain("chain").and.contain("contracts.registry").and.contain("pollIntervalMs");
  });

  it("rejects an old-shape key with the new key's name", function () {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "vigil-dash-")), "old.yaml");
    fs.writeFileSync(file, "rpcUrls: [http://127.0.0.1:8545]\nchainId: 31337\n");
    expect(() => loadDashboardConfig(file, {}, {})).to.throw(/rpcUrls is now chain\.rpcUrls/);
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
  });

  it("reads every service up to 200 with 8 calls in flight unless told, and takes --service and VIGIL_DASHBOARD_SERVICES", function () {
    const c = parseConfig(dashboardConfigSchema, base);
    expect([c.services, c.maxServices, c.maxConcurrentCalls]).to.deep.equal([undefined, 200, 8]);
    const A = "0x" + "A".repeat(64);
    const B = "0x" + "b".repeat(64);
    const fromEnv = loadDashboardConfig(
      undefined,
      {
        "chain.rpcUrls": ["http://127.0.0.1:1"],
        "chain.chainId": 31337,
        "contracts.oracle": ADDR,
        "contracts.registry": ADDR,
      },
      { VIGIL_DASHBOARD_SERVICES: `${A},${B},${A}` },
    );
    expect(fromEnv.services).to.deep.equal([A.toLowerCase(), B]);
    expect(() => parseConfig(dashboardConfigSchema, { ...base, services: ["0x12"] })).to.throw(/services/);
  });

  it("takes --service ids into the config, naming services when one is malformed", async function () {
    const out: string[] = [];
    const cmd = dashboardCommand({ out: (t) => out.push(t), err: (t) => out.push(t), env: {} });
    cmd.exitOverride().configureOutput({ writeErr: (t) => out.push(t), writeOut: (t) => out.push(t) });
    // An unknown id format stops at config validation, naming the setting.
    const e = await rejects(
      new Command("vigil")
        .addCommand(cmd)
        .exitOverride()
        .parseAsync(
          [
            "dashboard",
            "--rpc-url",
            "http://127.0.0.1:1",
            "--chain-id",
            "31337",
            "--oracle",
            ADDR,
            "--registry",
            ADDR,
            "--service",
            "0x12",
          ],
          {
            from: "user",
          },
        ),
    );
    expect(e.message).to.contain("services");
  });

  it("refuses --port out of range at the command line", async function () {
    const out: string[] = [];
    const cmd = dashboardCommand({ out: (t) => out.push(t), err: (t) => out.push(t), env: {} });
    cmd.exitOverride().configureOutput({ writeErr: (t) => out.push(t), writeOut: (t) => out.push(t) });
    const e = await rejects(
      new Command("vigil")
        .addCommand(cmd)
        .exitOverride()
        .parseAsync(["dashboard", "--port", "70000"], { from: "user" }),
    );
    expect(e.message + out.join("")).to.contain("expected an integer from 0 to 65535");
  });
});

describe("dashboard start-up checks (anvil)", function () {
  this.timeout(60_000);
  let anvil: Anvil;
  let token: string;
  before(async () => {
    anvil = await Anvil.start();
    const admin = new Wallet(ANVIL_KEYS[0], anvil.provider());
    token = await (await deployArtifact("MockERC20", ["T", "T"], admin)).getAddress();
  });
  after(() => anvil.stop());

  const config = (over: Record<string, unknown> = {}) =>
    parseConfig(dashboardConfigSchema, {
      chain: { rpcUrls: [anvil.url], chainId: 31337 },
      contracts: { oracle: ADDR, registry: ADDR },
      http: { port: 0 },
      ...over,
    });

  it("names contracts.oracle when the address has no code", async function () {
    const provider = createProvider({ rpcUrls: [anvil.url], chainId: 31337 });
    const e = await rejects(checkDashboardChain(config(), provider));
    provider.destroy();
    expect(isVigilError(e, "VIGIL_CONFIG")).to.equal(true);
    expect(e.message)
      .to.match(/^contracts\.oracle: 0x1{40} has no code on chain 31337/)
      .and.contain("--oracle");
  });

  it("names contracts.oracle when the address holds another contract", async function () {
    const provider = createProvider({ rpcUrls: [anvil.url], chainId: 31337 });
    const e = await rejects(
      checkDashboardChain(config({ contracts: { oracle: token, registry: ADDR } }), provider),
    );
    provider.destroy();
    expect(e.message).to.contain(`contracts.oracle: ${token} does not answer as a HealthOracle`);
  });

  it("names the chain id when the RPC serves another chain", async function () {
    const c = config({ chain: { rpcUrls: [anvil.url], chainId: 5 } });
    const e = await rejects(runDashboard(c, logger));
    expect(isVigilError(e, "VIGIL_CHAIN")).to.equal(true);
    expect(e.message).to.contain("RPC serves chain 31337, config says 5");
  });

  it("names chain.rpcUrls when the RPC is unreachable", async function () {
    const c = config({ chain: { rpcUrls: ["http://127.0.0.1:9"], chainId: 31337 } });
    const e = await rejects(runDashboard(c, logger));
    expect(isVigilError(e, "VIGIL_CHAIN")).to.equal(true);
    expect(e.message).to.contain("chain.rpcUrls: cannot reach http://127.0.0.1:9");
  });

  it("names http.port when the port is taken", async function () {
    const holder = http.createServer();
    await new Promise<void>((r) => holder.listen(0, "127.0.0.1", r));
    const port = (holder.address() as AddressInfo).port;
    try {
      const abort = new AbortController();
      const provider = createProvider({ rpcUrls: [anvil.url], chainId: 31337 });
      const view = startDashboardView({
        provider,
        chainId: 31337,
        contracts: { oracle: ADDR, registry: ADDR },
        signal: abort.signal,
        logger,
      });
      const e = await rejects(startDashboardServer({ host: "127.0.0.1", port, view, logger }));
      abort.abort();
      await view.done;
      provider.destroy();
      expect(isVigilError(e, "VIGIL_CONFIG")).to.equal(true);
      expect(e.message)
        .to.contain(`http.port: cannot listen on 127.0.0.1:${port} (EADDRINUSE)`)
        .and.contain("--port");
    } finally {
      holder.close();
    }
  });
});
