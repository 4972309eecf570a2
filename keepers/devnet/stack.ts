/**
 * `vigil devnet`: the whole system on loopback, in one process tree. A control chain (anvil, interval
 * mining), Vigil deployed by Ignition, a demo service of three anvil replicas of one chain (one genesis,
 * mined in lockstep by scripts/drill/replicas.ts, so the attestors' state-parity check sees them agree)
 * with an example guarded market,
 * keeper configs in the shared shape, three attestors and a responder started as an operator starts them
 * (`node bin/vigil.js <keeper> --config <file>`), and the dashboard when this build has it. Everything it
 * started stops when the abort signal fires (Ctrl-C).
 */
import fs from "node:fs";
import path from "node:path";
import { JsonRpcProvider } from "ethers";
import {
  IEndpointRegistry__factory,
  IHealthOracle__factory,
  IMarketGuard__factory,
} from "../../typechain-types";
import { ManagedNode } from "../../scripts/drill/nodes";
import { ProcessRegistry } from "../../scripts/drill/processes";
import { ReplicaSet } from "../../scripts/drill/replicas";
import { ChainWatcher, describeEvent } from "../../scripts/drill/watch";
import { Status, statusName } from "../shared/health";
import { VigilError } from "../shared/errors";
import type { CliIo } from "../cli/io";
import {
  keysEnv,
  renderAttestorConfig,
  renderDashboardConfig,
  renderKeysEnv,
  renderResponderConfig,
  type ConfigContext,
} from "./configs";
import { deployDevnet } from "./deploy";
import {
  CONTROL_CHAIN_ID,
  NODE_NAMES,
  RESPONDER_KEY_VAR,
  SERVED_CHAIN_ID,
  attestorKeyVar,
  devnetDeployParams,
  loopback,
} from "./params";
import { resolvePorts, type PortFlags } from "./ports";
import { HALTS_FILE, STATE_FILE, prepareDir, readHalts, writeState, type DevnetState } from "./state";
import { printSummary } from "./summary";

export interface DevnetOptions extends PortFlags {
  /** Where configs, keys, logs and keeper data go. */
  dir: string;
  /** Seconds between blocks on the control chain and the demo nodes. */
  blockTime: number;
  /** Start `vigil dashboard` too (when this build has it). */
  dashboard: boolean;
  /** Longest wait for every endpoint HEALTHY and the market open, ms. */
  readyTimeoutMs: number;
}

class Aborted extends Error {}

/**
 * Run the devnet until `signal` aborts, then stop everything it started and return.
 * Progress goes to `io.out`, one line per step, then a `ready:` line and the summary.
 * @throws VIGIL_CONFIG for a port in use or an unusable --dir (before anything starts); VIGIL_CHAIN when
 * the stack does not become ready (with the failing keeper's log tail). Nothing is left running.
 */
export async function runDevnet(opts: DevnetOptions, io: CliIo, signal: AbortSignal): Promise<void> {
  const dir = path.resolve(opts.dir);
  const ports = await resolvePorts(opts);
  prepareDir(dir);
  const procs = new ProcessRegistry();
  const killAll = () => procs.killAllSync();
  process.on("exit", killAll);
  let watcher: ChainWatcher | undefined;
  let replicas: ReplicaSet | undefined;
  let step = 0;
  const say = (text: string) => io.out(`[${++step}/7] ${text}\n`);
  const check = () => {
    if (signal.aborted) throw new Aborted();
  };
  try {
    // 1. control chain
    const control = procs.addNode(
      new ManagedNode({
        name: "control",
        impl: "anvil",
        port: ports.chain,
        chainId: CONTROL_CHAIN_ID,
        blockTimeSec: opts.blockTime,
      }),
    );
    await control.start();
    say(
      `control chain: anvil on ${control.url} (chain ${CONTROL_CHAIN_ID}, a block every ${opts.blockTime} s)`,
    );
    check();

    // 2. the demo service's nodes: replicas of one chain; `vigil devnet fault --kind halt` asks the driver
    //    (through <dir>/halted.json) to stop mining one.
    replicas = await ReplicaSet.create({
      names: [...NODE_NAMES],
      ports: ports.nodes,
      chainId: SERVED_CHAIN_ID,
      blockTimeSec: opts.blockTime,
      beforeTick: () => {
        const halted = new Set(readHalts(dir));
        NODE_NAMES.forEach((name, i) => (halted.has(name) ? replicas!.halt(i) : replicas!.resume(i)));
      },
    });
    const nodes = replicas.nodes.map((n) => procs.addNode(n));
    await replicas.start();
    say(
      `demo service nodes (chain ${SERVED_CHAIN_ID}): ${nodes.map((n) => `${n.spec.name} ${n.url}`).join(", ")}`,
    );
    check();

    // 3. deploy
    io.out("      deploying Vigil with Ignition (compiles the contracts on first use) …\n");
    const deployment = await deployDevnet(
      control.url,
      nodes.map((n) => n.url),
    );
    say(
      `deployed: HealthOracle ${deployment.oracle}, EndpointRegistry ${deployment.registry}, ` +
        `MarketGuard ${deployment.guard}, GuardedPerpMarket ${deployment.market} (market 1); ` +
        `service demo-rpc ${deployment.serviceId}, 3 attestors, quorum 2`,
    );
    check();
    const provider = new JsonRpcProvider(control.url, CONTROL_CHAIN_ID, { staticNetwork: true });
    provider.pollingInterval = 500;
    const registry = IEndpointRegistry__factory.connect(deployment.registry, provider);
    const oracle = IHealthOracle__factory.connect(deployment.oracle, provider);
    const guard = IMarketGuard__factory.connect(deployment.guard, provider);
    const endpointIds = (await registry.endpointsOf(deployment.serviceId)).map((e) => e.id);

    // 4. configs and keys
    const ctx: ConfigContext = {
      deployment,
      ports,
      header: `# written by \`vigil devnet\` for the stack it started (${control.url}); replaced on its next start`,
    };
    const file = (name: string) => path.join(dir, name);
    const attestorFiles = [1, 2, 3].map((i) => {
      const f = file(`attestor-${i}.yaml`);
      fs.writeFileSync(
        f,
        renderAttestorConfig(ctx, i, { dataDir: file(`attestor-${i}-data`), keyEnvVar: attestorKeyVar(i) }),
      );
      return f;
    });
    fs.writeFileSync(
      file("responder.yaml"),
      renderResponderConfig(ctx, { outboxPath: file("responder.sqlite"), keyEnvVar: RESPONDER_KEY_VAR }),
    );
    fs.writeFileSync(file("dashboard.yaml"), renderDashboardConfig(ctx));
    fs.writeFileSync(file("keys.env"), renderKeysEnv(), { mode: 0o600 });
    // The Ignition parameters deployed, for the same deploy by hand (VIGIL_DEPLOY_PARAMS=… npm run deploy).
    fs.writeFileSync(
      file("deploy-params.json"),
      JSON.stringify(devnetDeployParams(nodes.map((n) => n.url)), null, 2) + "\n",
    );
    say(
      `configs written to ${dir}: attestor-1..3.yaml, responder.yaml, dashboard.yaml, keys.env, deploy-params.json`,
    );

    // 5. keepers, as an operator runs them; no VIGIL_* setting of this shell may override their files.
    const env: NodeJS.ProcessEnv = { ...scrubbedEnv(), ...keysEnv() };
    const keepers: DevnetState["keepers"] = [];
    const start = (
      name: string,
      command: "attestor" | "responder" | "dashboard",
      config: string,
      port: number,
    ) => {
      const log = file(`${name}.log`);
      const child = procs.startKeeper(name, command, config, env, log);
      keepers.push({ name, pid: child.pid ?? 0, url: loopback(port), config, log });
    };
    attestorFiles.forEach((f, i) => start(`attestor-${i + 1}`, "attestor", f, ports.attestors[i]));
    start("responder", "responder", file("responder.yaml"), ports.responder);
    const withDashboard = opts.dashboard && dashboardAvailable();
    if (withDashboard) start("dashboard", "dashboard", file("dashboard.yaml"), ports.dashboard);
    say(`keepers started: ${keepers.map((k) => `${k.name} ${k.url}`).join(", ")}`);

    const state: DevnetState = {
      pid: process.pid,
      dir,
      startedAt: new Date().toISOString(),
      chain: { url: control.url, chainId: CONTROL_CHAIN_ID, pid: control.pid ?? 0 },
      contracts: { ...deployment, marketId: 1 },
      nodes: nodes.map((n, i) => ({
        name: n.spec.name,
        url: n.url,
        port: n.spec.port,
        pid: n.pid ?? 0,
        endpointId: endpointIds[i],
        blockTimeSec: opts.blockTime,
      })),
      keepers,
    };
    writeState(state);

    // 6. keepers answering
    const failIfDead = () => {
      const dead = procs.deadKeepers().filter((n) => n !== "dashboard");
      if (dead.length) {
        const k = keepers.find((x) => x.name === dead[0])!;
        throw new VigilError(
          "VIGIL_CHAIN",
          `${dead.join(", ")} exited at start; last lines of ${k.log}:\n${tail(k.log)}`,
          "fix what the log names, then start `vigil devnet` again",
        );
      }
    };
    await waitFor(
      "every keeper's /healthz to answer",
      async () =>
        (
          await Promise.all(
            // The dashboard is optional: one that exited is reported below, not waited for.
            keepers.map(
              async (k) =>
                (k.name === "dashboard" && procs.deadKeepers().includes(k.name)) ||
                (await answers(`${k.url}/healthz`)),
            ),
          )
        ).every(Boolean),
      60_000,
      [failIfDead, check],
    );
    let dashboardUp = withDashboard;
    if (withDashboard && procs.deadKeepers().includes("dashboard")) {
      dashboardUp = false;
      const k = keepers.splice(
        keepers.findIndex((x) => x.name === "dashboard"),
        1,
      )[0];
      const why =
        tail(k.log, 20)
          .split("\n")
          .reverse()
          .find((l) => /error/i.test(l)) ?? tail(k.log, 1);
      io.out(`warning: the dashboard exited at start (${why}); the rest runs without it\n`);
      writeState(state);
    }
    say("every keeper answers on /healthz; waiting for the first attested rounds …");

    // 7. steady state: every endpoint HEALTHY on-chain, the market open (it starts paused: never attested)
    await waitFor(
      "every demo endpoint HEALTHY on-chain and market 1 open",
      async () => {
        const s = await Promise.all(endpointIds.map((id) => oracle.statusOf(id)));
        return s.every((h) => Number(h.status) === Status.HEALTHY) && !(await guard.isPaused(1n));
      },
      opts.readyTimeoutMs,
      [failIfDead, check],
      async () => {
        const s = await Promise.all(endpointIds.map((id) => oracle.statusOf(id)));
        return `statuses ${s.map((h, i) => `${NODE_NAMES[i]} ${statusName(h.status)}`).join(", ")}; logs in ${dir}`;
      },
    );
    say("every demo endpoint is HEALTHY on-chain and market 1 is open");

    const names = new Map<string, string>(endpointIds.map((id, i) => [id.toLowerCase(), NODE_NAMES[i]]));
    names.set(deployment.serviceId.toLowerCase(), "service demo-rpc");
    watcher = new ChainWatcher(provider, deployment, 500);
    await watcher.start();
    const t0 = Date.now();
    watcher.onEvent((e) =>
      io.out(
        `[+${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s] ${describeEvent(e, names)}  tx ${e.tx}\n`,
      ),
    );
    io.out(`ready: vigil devnet is running (${STATE_FILE} in ${dir}); Ctrl-C stops everything\n`);
    printSummary(io, state, { withDashboard: dashboardUp, dashboardPort: ports.dashboard });

    // Run until Ctrl-C; say once if a keeper dies meanwhile.
    const reported = new Set<string>();
    const monitor = setInterval(() => {
      for (const name of procs.deadKeepers()) {
        if (reported.has(name) || !keepers.some((k) => k.name === name)) continue;
        reported.add(name);
        io.out(`warning: ${name} exited; see ${file(`${name}.log`)}\n`);
      }
    }, 1000);
    await new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      else signal.addEventListener("abort", () => resolve(), { once: true });
    });
    clearInterval(monitor);
    provider.destroy();
  } catch (e) {
    if (!(e instanceof Aborted)) throw e;
  } finally {
    watcher?.stop();
    io.out("stopping: keepers first, then the nodes …\n");
    await procs.stopAll(5000);
    await replicas?.stop();
    fs.rmSync(path.join(dir, STATE_FILE), { force: true });
    fs.rmSync(path.join(dir, HALTS_FILE), { force: true });
    process.off("exit", killAll);
    io.out("stopped: every process vigil devnet started has exited\n");
  }
}

/** The environment without the `VIGIL_*` settings of the caller's shell (they would override the files). */
function scrubbedEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const k of Object.keys(process.env)) if (k.startsWith("VIGIL_")) env[k] = undefined;
  // Hardhat's settings of this process (set for the deploy) are not the keepers'.
  env.HARDHAT_NETWORK = undefined;
  env.HARDHAT_CONFIG = undefined;
  return env;
}

/** Whether this build has `vigil dashboard` (keepers/dashboard). */
function dashboardAvailable(): boolean {
  try {
    require.resolve("../dashboard/command");
    return true;
  } catch {
    return false;
  }
}

async function answers(url: string): Promise<boolean> {
  try {
    await fetch(url, { signal: AbortSignal.timeout(1000) });
    return true;
  } catch {
    return false;
  }
}

/**
 * Poll `cond` until true; run `guards` each time (they throw to stop early).
 * @throws VIGIL_CHAIN naming `what` (and `detail()`) after `timeoutMs`.
 */
async function waitFor(
  what: string,
  cond: () => Promise<boolean>,
  timeoutMs: number,
  guards: (() => void)[],
  detail?: () => Promise<string>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const g of guards) g();
    try {
      if (await cond()) return;
    } catch {
      // a transient read error: poll again
    }
    if (Date.now() > deadline) {
      const more = detail ? await detail().catch(() => "") : "";
      throw new VigilError(
        "VIGIL_CHAIN",
        `timed out after ${timeoutMs / 1000} s waiting for ${what}${more ? ` (${more})` : ""}`,
        "read the keeper logs named above; a loaded machine may need --ready-timeout <s>",
      );
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The last `n` lines of a file ("" when unreadable). */
function tail(file: string, n = 15): string {
  try {
    return fs.readFileSync(file, "utf8").trimEnd().split("\n").slice(-n).join("\n");
  } catch {
    return "";
  }
}
