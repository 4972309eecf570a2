/** What `vigil devnet` prints once it is ready: what runs where, and how to try a failover. */
import path from "node:path";
import type { CliIo } from "../cli/io";
import { DEVNET_TIMING } from "./params";
import type { DevnetState } from "./state";

export { DEFAULT_DIR } from "./constants";
import { DEFAULT_DIR } from "./constants";

/**
 * Print the summary of a ready devnet to `io.out`: chain, contracts, demo nodes (with pids), keepers
 * (URL, config, log), keys, and the commands that inject a fault and watch the failover.
 */
export function printSummary(
  io: CliIo,
  s: DevnetState,
  opts: { withDashboard: boolean; dashboardPort: number },
): void {
  const rel = (p: string) => {
    const r = path.relative(process.cwd(), p);
    return r && !r.startsWith("..") ? r : p;
  };
  const dirFlag = path.resolve(DEFAULT_DIR) === s.dir ? "" : ` --dir ${rel(s.dir)}`;
  const c = s.contracts;
  const lines = [
    "",
    `control chain   ${s.chain.url}  (chain ${s.chain.chainId}, anvil pid ${s.chain.pid})`,
    `HealthOracle    ${c.oracle}`,
    `EndpointRegistry ${c.registry}`,
    `MarketGuard     ${c.guard}`,
    `market 1        ${c.market}  (GuardedPerpMarket, depends on demo-rpc)`,
    `service         demo-rpc ${c.serviceId}`,
    ...s.nodes.map(
      (n, i) => `  ${`${i + 1}. ${n.name}`.padEnd(12)} ${n.url}  pid ${n.pid}  endpoint ${n.endpointId}`,
    ),
    "keepers (JSON logs in the .log files):",
    ...s.keepers.map(
      (k) =>
        `  ${k.name.padEnd(11)} ${k.name === "dashboard" ? `${k.url}/` : `${k.url}/healthz`}  ` +
        `config ${rel(k.config)}  log ${rel(k.log)}`,
    ),
    ...(opts.withDashboard
      ? []
      : [
          `  dashboard   not started (this build has no \`vigil dashboard\`; config ${rel(path.join(s.dir, "dashboard.yaml"))})`,
        ]),
    `keys            ${rel(path.join(s.dir, "keys.env"))}  (anvil's public dev keys: set -a; . ${rel(path.join(s.dir, "keys.env"))}; set +a)`,
    "",
    "Try a failover, in another terminal:",
    `  npx vigil devnet fault active --kind stop${dirFlag}      # hang the active node (SIGSTOP: no answers)`,
    `  npx vigil status --config ${rel(path.join(s.dir, "responder.yaml"))}   # the registry's active endpoint moves to the next node`,
    `  npx vigil devnet fault primary --kind resume${dirFlag}   # back; failback once HEALTHY for ${DEVNET_TIMING.recoveryPeriod} s`,
    "  (--kind halt: the node answers but mines no more blocks.) Status changes, migrations and pauses print here.",
    "",
  ];
  io.out(lines.join("\n") + "\n");
}
