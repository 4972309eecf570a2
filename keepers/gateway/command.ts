/**
 * `vigil gateway`: a JSON-RPC proxy that routes each service's calls to its on-chain active endpoint (see
 * keepers/gateway/server.ts for the endpoint; the rules are keepers/client/ routing.ts, head.ts and tx.ts). This file loads
 * only commander and the config schema; ethers and the rest load when the command runs.
 */
import { Command, Option } from "commander";
import type { CliIo } from "../cli/io";
import { commonFlags, intOption, withCommonOptions, type CommonOptions } from "../shared/cli";
import { GATEWAY_PORT, loadGatewayConfig } from "./config";

interface GatewayFlags extends CommonOptions {
  deadlineMs?: number;
  attemptTimeoutMs?: number;
  hedgeAfterMs?: number;
  maxBodyBytes?: number;
  maxBatch?: number;
}

/**
 * `vigil gateway`. Settings from `--config` (the `services` list lives there), the `VIGIL_*` environment,
 * then flags. Runs until SIGINT/SIGTERM; `io.out` gets one line with the URL.
 */
export function gatewayCommand(io: CliIo): Command {
  const cmd = new Command("gateway").description(
    "Serve a JSON-RPC proxy for front ends, market makers and bots: POST /<service> (single or batch) goes to the " +
      "service's on-chain active endpoint, following the registry's migrations; between a failure and the migration, " +
      "idempotent reads get one retry or hedge on an endpoint HEALTHY on-chain (a local circuit breaker skips a failing endpoint meanwhile); a signed transaction is never silently " +
      "lost; the head served never goes backwards. Services (name, id, chainId) come from the config file. " +
      "Also GET /healthz, /readyz, /metrics.",
  );
  withCommonOptions(cmd, { httpPort: GATEWAY_PORT, log: true })
    .addOption(
      new Option(
        "--deadline-ms <ms>",
        "deadline of one call, retries included (config deadlineMs, env VIGIL_GATEWAY_DEADLINE_MS; default 5000)",
      ).argParser(intOption(10, 600_000)),
    )
    .addOption(
      new Option(
        "--attempt-timeout-ms <ms>",
        "deadline of one attempt on one endpoint (config attemptTimeoutMs, env VIGIL_GATEWAY_ATTEMPT_TIMEOUT_MS; default 2000)",
      ).argParser(intOption(5, 600_000)),
    )
    .addOption(
      new Option(
        "--hedge-after-ms <ms>",
        "longest wait before an idempotent read also goes to the best HEALTHY endpoint (a hedge); 0: never (config hedgeAfterMs, env VIGIL_GATEWAY_HEDGE_AFTER_MS; default 150; the delay follows the endpoint's observed latency below that, at least hedgeMinMs)",
      ).argParser(intOption(0, 600_000)),
    )
    .addOption(
      new Option(
        "--max-body-bytes <n>",
        "largest request body (config maxBodyBytes, env VIGIL_GATEWAY_MAX_BODY_BYTES; default 1048576)",
      ).argParser(intOption(256, 64 * 1024 * 1024)),
    )
    .addOption(
      new Option(
        "--max-batch <n>",
        "most calls in one batch (config maxBatch, env VIGIL_GATEWAY_MAX_BATCH; default 100)",
      ).argParser(intOption(1, 10_000)),
    )
    .action(async (flags: GatewayFlags) => {
      const config = loadGatewayConfig(
        flags.config,
        {
          ...commonFlags(flags),
          deadlineMs: flags.deadlineMs,
          attemptTimeoutMs: flags.attemptTimeoutMs,
          hedgeAfterMs: flags.hedgeAfterMs,
          maxBodyBytes: flags.maxBodyBytes,
          maxBatch: flags.maxBatch,
        },
        io.env,
      );
      const [{ createLogger }, { Shutdown }, { startGateway }] = await Promise.all([
        import("../shared/logger"),
        import("../shared/lifecycle"),
        import("./run"),
      ]);
      const logger = createLogger("vigil-gateway", { level: config.log.level });
      const shutdown = new Shutdown(logger);
      try {
        const running = await startGateway(config, { logger, signal: shutdown.signal });
        io.out(`gateway: ${running.url}/<service> (${config.services.map((s) => s.name).join(", ")})\n`);
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
