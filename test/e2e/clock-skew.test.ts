/**
 * Issue 12, "clock discipline", on real processes: an attestor whose clock is shifted ±30 s (the preload
 * test/keepers/helpers/shift-clock.js, `node --require … bin/vigil.js attestor`) signs nothing and says why on
 * /healthz and /metrics; with the two other attestors of the 2-of-3 set honest, no endpoint changes status and
 * the market is never paused over 2 minutes of chain time.
 *
 * The stack is the devnet's (keepers/devnet: same contracts, parameters, keys and keeper files) with ONE
 * JSON-RPC endpoint in the watched service, so no replicas are needed for state parity: a control chain and a
 * served chain (anvil, a block a second), Vigil deployed by scripts/deploy.ts, three attestors and a responder
 * started as an operator starts them. Everything waits for states (chain time, metrics), never for a duration.
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import { JsonRpcProvider } from "ethers";
import {
  IEndpointRegistry__factory,
  IHealthOracle__factory,
  IMarketGuard__factory,
} from "../../typechain-types";
import {
  keysEnv,
  renderAttestorConfig,
  renderResponderConfig,
  type ConfigContext,
} from "../../keepers/devnet/configs";
import {
  CONTROL_CHAIN_ID,
  RESPONDER_KEY_VAR,
  SERVED_CHAIN_ID,
  attestorKeyVar,
  devnetDeployParams,
} from "../../keepers/devnet/params";
import { Status } from "../../keepers/shared/health";
import { ManagedNode, freePort } from "../../scripts/drill/nodes";
import { until } from "../keepers/helpers/until";
import { ROOT, runHardhat } from "./localnode";

const VIGIL = path.join(ROOT, "bin", "vigil.js");
const SHIFT = path.join(ROOT, "test", "keepers", "helpers", "shift-clock.js");
/** Chain time the stack must stay quiet with a skewed attestor, seconds. */
const QUIET_SEC = 120;

interface Keeper {
  name: string;
  child: ChildProcess;
  url: string;
  log: string;
}

describe("attestor clock discipline on a real stack (issue 12)", function () {
  this.timeout(25 * 60_000);
  const keepers: Keeper[] = [];
  let dir: string;
  let control: ManagedNode;
  let node: ManagedNode;
  let provider: JsonRpcProvider;
  let ctx: ConfigContext;
  let endpointId: string;
  let oracle: ReturnType<typeof IHealthOracle__factory.connect>;
  let guard: ReturnType<typeof IMarketGuard__factory.connect>;

  const env = (): NodeJS.ProcessEnv => {
    const e: NodeJS.ProcessEnv = { ...process.env, ...keysEnv() };
    for (const k of Object.keys(e)) if (k.startsWith("VIGIL_") && !(k in keysEnv())) delete e[k];
    delete e.HARDHAT_NETWORK;
    delete e.HARDHAT_CONFIG;
    return e;
  };

  /** `node [--require shift-clock.js] bin/vigil.js <command> --config <file>`, output to `<name>.log`. */
  function startKeeper(name: string, command: string, port: number, shiftMs?: number): Keeper {
    const log = path.join(dir, `${name}.log`);
    const out = fs.openSync(log, "a");
    const pre = shiftMs === undefined ? [] : ["--require", SHIFT];
    const child = spawn(
      process.execPath,
      [...pre, VIGIL, command, "--config", path.join(dir, `${name}.yaml`)],
      {
        cwd: ROOT,
        env: { ...env(), VIGIL_TEST_CLOCK_SHIFT_MS: shiftMs === undefined ? undefined : String(shiftMs) },
        stdio: ["ignore", out, out],
      },
    );
    fs.closeSync(out);
    const k = { name, child, url: `http://127.0.0.1:${port}`, log };
    keepers.push(k);
    return k;
  }

  async function stopKeeper(k: Keeper): Promise<void> {
    if (k.child.exitCode !== null || k.child.signalCode !== null) return;
    const exited = new Promise<void>((r) => k.child.once("exit", () => r()));
    k.child.kill("SIGTERM");
    const timer = setTimeout(() => k.child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  }

  const get = async (url: string): Promise<{ status: number; text: string }> => {
    const r = await fetch(url, { signal: AbortSignal.timeout(3_000) });
    return { status: r.status, text: await r.text() };
  };
  /** The value of an unlabelled metric in Prometheus text, undefined when absent. */
  const metric = (text: string, name: string): number | undefined => {
    const m = text.match(new RegExp(`^${name}(?:\\{\\})? (\\S+)$`, "m"));
    return m ? Number(m[1]) : undefined;
  };
  const alive = (k: Keeper) => {
    if (k.child.exitCode !== null || k.child.signalCode !== null)
      throw new Error(
        `${k.name} exited; last lines:\n${fs.readFileSync(k.log, "utf8").split("\n").slice(-15).join("\n")}`,
      );
  };

  before(async function () {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "vigil-clock-skew-"));
    control = new ManagedNode({
      name: "control",
      impl: "anvil",
      port: await freePort(),
      chainId: CONTROL_CHAIN_ID,
      blockTimeSec: 1,
    });
    node = new ManagedNode({
      name: "primary",
      impl: "anvil",
      port: await freePort(),
      chainId: SERVED_CHAIN_ID,
      blockTimeSec: 1,
    });
    await Promise.all([control.start(), node.start()]);

    const params = path.join(dir, "deploy-params.json");
    fs.writeFileSync(params, JSON.stringify(devnetDeployParams([node.url]), null, 2));
    const id = `clock-skew-${Date.now()}`;
    const deployed = await runHardhat(["run", "scripts/deploy.ts", "--network", "localhost"], {
      HARDHAT_NETWORK: "",
      VIGIL_LOCAL_RPC_URL: control.url,
      VIGIL_DEPLOY_PARAMS: params,
      VIGIL_DEPLOYMENT_ID: id,
    });
    fs.rmSync(path.join(ROOT, "ignition", "deployments", id), { recursive: true, force: true });
    expect(deployed.code, deployed.out).to.equal(0);
    const addr = (label: string) =>
      deployed.out.match(new RegExp(`${label}\\s+(0x[0-9a-fA-F]{40})`))?.[1] ?? "";
    provider = new JsonRpcProvider(control.url, CONTROL_CHAIN_ID, { staticNetwork: true });
    const registry = IEndpointRegistry__factory.connect(addr("EndpointRegistry"), provider);
    oracle = IHealthOracle__factory.connect(addr("HealthOracle"), provider);
    guard = IMarketGuard__factory.connect(addr("MarketGuard"), provider);
    const [serviceId] = await registry.services();
    [endpointId] = (await registry.endpointsOf(serviceId)).map((e) => e.id);
    const market = (await guard.marketConfig(1n)).market;

    const ports = {
      chain: control.spec.port,
      nodes: [node.spec.port],
      attestors: [await freePort(), await freePort(), await freePort()],
      responder: await freePort(),
      dashboard: await freePort(),
    };
    ctx = {
      deployment: {
        oracle: await oracle.getAddress(),
        registry: await registry.getAddress(),
        guard: await guard.getAddress(),
        market,
        serviceId,
      },
      ports,
      header: "# clock-skew e2e test",
    };
    for (const i of [1, 2, 3])
      fs.writeFileSync(
        path.join(dir, `attestor-${i}.yaml`),
        renderAttestorConfig(ctx, i, {
          dataDir: path.join(dir, `attestor-${i}-data`),
          keyEnvVar: attestorKeyVar(i),
        }),
      );
    fs.writeFileSync(
      path.join(dir, "responder.yaml"),
      renderResponderConfig(ctx, {
        outboxPath: path.join(dir, "responder.sqlite"),
        keyEnvVar: RESPONDER_KEY_VAR,
      }),
    );
    startKeeper("attestor-1", "attestor", ports.attestors[0]);
    startKeeper("attestor-2", "attestor", ports.attestors[1]);
    startKeeper("attestor-3", "attestor", ports.attestors[2], 30_000);
    startKeeper("responder", "responder", ports.responder);

    await until(
      "the endpoint HEALTHY on-chain and market 1 open",
      async () => {
        keepers.forEach(alive);
        const s = await oracle.statusOf(endpointId);
        return Number(s.status) === Status.HEALTHY && !(await guard.isPaused(1n));
      },
      8 * 60_000,
    );
  });

  after(async function () {
    await Promise.all(keepers.map(stopKeeper));
    provider?.destroy();
    await Promise.all([control?.stop(), node?.stop()]);
    if (this.currentTest?.state === "failed" || process.env.VIGIL_KEEP_TEST_DIR)
      console.log(`logs in ${dir}`);
    else fs.rmSync(dir, { recursive: true, force: true });
  });

  /**
   * Watch `QUIET_SEC` of chain time with `skewed` running: it never signs and says why (`state` in /healthz,
   * `vigil_attestor_clock_ok` 0), the honest attestors keep signing, and the chain shows no status change and no
   * pause of market 1 in that span, while reports keep being accepted.
   */
  async function quietWith(skewed: Keeper, state: "ahead" | "behind", spanSec: number): Promise<void> {
    await until(`${skewed.name} reporting its clock ${state} on /healthz`, async () => {
      alive(skewed);
      const h = await get(`${skewed.url}/healthz`).catch(() => undefined);
      return !!h && h.text.includes(`local clock ${state}`) && h.text.includes("attestor_clock");
    });
    const fromBlock = await provider.getBlockNumber();
    const from = (await provider.getBlock(fromBlock))!.timestamp;
    const honest = keepers.filter((k) => k.name === "attestor-1" || k.name === "attestor-2");
    const signedAt = async (k: Keeper) =>
      metric((await get(`${k.url}/metrics`)).text, "vigil_reports_signed_total") ?? 0;
    const honestBefore = await Promise.all(honest.map(signedAt));
    let polls = 0;
    await until(
      `${spanSec} s of chain time with ${skewed.name} skewed`,
      async () => {
        keepers.forEach(alive);
        const [health, ready, metrics, reports] = await Promise.all([
          get(`${skewed.url}/healthz`),
          get(`${skewed.url}/readyz`),
          get(`${skewed.url}/metrics`),
          get(`${skewed.url}/v1/reports`),
        ]);
        const h = JSON.parse(health.text) as {
          status: string;
          conditions: { name: string; ok: boolean; detail: string }[];
        };
        const clock = h.conditions.find((c) => c.name === "attestor_clock");
        expect(clock, health.text).to.include({ ok: false });
        expect(clock!.detail).to.match(new RegExp(`local clock ${state} (of )?chain time by more than`));
        expect(h.status).to.equal("degraded");
        expect(health.status, "/healthz 503: an attestor that signs nothing is of no use").to.equal(503);
        expect(ready.status).to.equal(503);
        expect(metric(metrics.text, "vigil_attestor_clock_ok")).to.equal(0);
        expect(Math.abs(metric(metrics.text, "vigil_attestor_clock_offset_seconds")!)).to.be.above(25);
        expect(metric(metrics.text, "vigil_reports_signed_total") ?? 0).to.equal(0);
        expect(JSON.parse(reports.text).reports).to.deep.equal([]);
        expect(Number((await oracle.statusOf(endpointId)).status)).to.equal(Status.HEALTHY);
        expect(await guard.isPaused(1n)).to.equal(false);
        polls++;
        return (await provider.getBlock("latest"))!.timestamp >= from + spanSec;
      },
      spanSec * 1000 * 4,
    );
    const toBlock = await provider.getBlockNumber();
    expect(polls).to.be.greaterThan(10);
    expect(await oracle.queryFilter(oracle.filters.StatusChanged(), fromBlock, toBlock)).to.deep.equal([]);
    expect(await guard.queryFilter(guard.filters.MarketPaused(), fromBlock, toBlock)).to.deep.equal([]);
    // The honest pair kept the oracle fed: reports accepted in the span, and each signed more.
    expect(await oracle.queryFilter(oracle.filters.ReportAccepted(), fromBlock, toBlock)).to.not.be.empty;
    const honestAfter = await Promise.all(honest.map(signedAt));
    honestAfter.forEach((n, i) => expect(n).to.be.greaterThan(honestBefore[i]));
  }

  it("an attestor 30 s fast signs nothing and says why; the 2 honest of 3 keep status and market unchanged for 2 minutes", async function () {
    await quietWith(
      keepers.find((k) => k.name === "attestor-3")!,
      "ahead",
      QUIET_SEC,
    );
  });

  it("an attestor 30 s slow signs nothing and says why; status and market unchanged for 2 minutes", async function () {
    const fast = keepers.find((k) => k.name === "attestor-3")!;
    await stopKeeper(fast);
    keepers.splice(keepers.indexOf(fast), 1);
    const slow = startKeeper("attestor-3", "attestor", ctx.ports.attestors[2], -30_000);
    await until(
      "attestor-3 (slow) answering",
      async () => (await get(`${slow.url}/healthz`).catch(() => undefined)) !== undefined,
    );
    await quietWith(slow, "behind", QUIET_SEC);
  });
});
