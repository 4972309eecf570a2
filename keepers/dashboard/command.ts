/**
 * `vigil dashboard`: a web page of the system, read from the chain only, refreshed live. See
 * keepers/dashboard/server.ts for the routes and keepers/dashboard/reader.ts for what is read. This file
 * loads only commander and the config schema; ethers and the rest load when the command runs.
 */
import { Command, Option } from "commander";
import type { CliIo } from "../cli/io";
import { commonFlags, intOption, listOption, withCommonOptions, type CommonOptions } from "../shared/cli";
import { DASHBOARD_PORT, loadDashboardConfig } from "./config";

interface DashboardFlags extends CommonOptions {
  pollIntervalMs?: number;
  blockWindow?: number;
  service?: string[];
}

/**
 * `vigil dashboard`. Settings from `--config` (any keeper's file), the `VIGIL_*` environment, then flags.
 * Runs until SIGINT/SIGTERM. `io.out` gets one line with the URL.
 */
export function dashboardCommand(io: CliIo): Command {
  const cmd = new Command("dashboard").description(
    "Serve a web page of the system, read from the chain only and refreshed live: every service with its " +
      "endpoints, status, since, a health timeline from the oracle's events, the active endpoint and its " +
      "migrations; every market with its pause and cause; attestor participation per round; recent actions " +
      "with their transaction hashes. GET / (page), /api/state (JSON), /healthz, /metrics.",
  );
  withCommonOptions(cmd, { guard: true, httpPort: DASHBOARD_PORT, log: true })
    .addOption(
      new Option(
        "--poll-interval-ms <ms>",
        "milliseconds between polls of the chain (config pollIntervalMs, env VIGIL_DASHBOARD_POLL_INTERVAL_MS; default 2000)",
      ).argParser(intOption(100, 600_000)),
    )
    .addOption(
      new Option(
        "--block-window <blocks>",
        "blocks of history read at start (config blockWindow, env VIGIL_DASHBOARD_BLOCK_WINDOW; default 5000)",
      ).argParser(intOption(1, 1_000_000)),
    )
    .option(
      "--service <id...>",
      "service id (bytes32) to show; several, repeated or comma-separated (config services, env VIGIL_DASHBOARD_SERVICES; default: the registry's first maxServices = 200)",
      listOption,
    )
    .action(async (flags: DashboardFlags) => {
      const config = loadDashboardConfig(
        flags.config,
        {
          ...commonFlags(flags),
          pollIntervalMs: flags.pollIntervalMs,
          blockWindow: flags.blockWindow,
          services: flags.service,
        },
        io.env,
      );
      const [{ createLogger }, { Shutdown }, { runDashboard }] = await Promise.all([
        import("../shared/logger"),
        import("../shared/lifecycle"),
        import("./run"),
      ]);
      const logger = createLogger("vigil-dashboard", { level: config.log.level });
      const shutdown = new Shutdown(logger);
      try {
        const running = await runDashboard(config, logger);
        io.out(`dashboard: ${running.url}\n`);
        await new Promise<void>((resolve) =>
          shutdown.signal.addEventListener("abort", () => resolve(), { once: true }),
        );
        await running.stop();
      } finally {
        shutdown.dispose();
      }
    });
  return cmd;
}
