/**
 * `vigil attestor`: run one attestor until SIGINT/SIGTERM. The same `startAttestor` (service.ts) the tests, the
 * benchmark and the drill use.
 */
import { Command, Option } from "commander";
import { bytes32Option, commonFlags, intOption, withCommonOptions, type CommonOptions } from "../shared/cli";
// The attestor itself (ethers, pino, prom-client, zod) loads in the action, so `vigil --help` and the
// other subcommands do not pay for it.

interface AttestorFlags extends CommonOptions {
  service?: string[];
  allowPrivateTargets?: boolean;
  interval?: number;
  timeout?: number;
  concurrency?: number;
  dataDir?: string;
}

export function attestorCommand(): Command {
  const cmd = new Command("attestor").description(
    "Run an attestor: watch the endpoints of the listed services in the registry, probe and score them, sign " +
      "one EIP-712 report per round covering every endpoint (health and its own BAD/GOOD streaks) and serve " +
      "the last rounds on GET /v1/reports (with /v1/endpoints, /healthz and /metrics). Key from " +
      "$VIGIL_ATTESTOR_KEY or --keystore; the last signed round is kept in --data-dir so a restart never signs " +
      "a round twice.",
  );
  withCommonOptions(cmd, { keyEnv: "VIGIL_ATTESTOR_KEY", httpPort: 9_470, log: true })
    .addOption(
      new Option(
        "--service <id...>",
        "service id(s) to watch, required (env VIGIL_ATTESTOR_SERVICES, comma-separated; config services; " +
          "default: none — the registry is permissionless, so name the services this attestor vouches for)",
      ).argParser((value: string, prev: string[] | undefined) => [...(prev ?? []), bytes32Option(value)]),
    )
    .option(
      "--allow-private-targets",
      "also probe endpoints on loopback, private, link-local or unspecified addresses, e.g. 127.0.0.1, " +
        "10.x, 169.254.x, [::1], localhost — local drills and tests only (env VIGIL_ATTESTOR_ALLOW_PRIVATE_TARGETS; default false)",
    )
    .addOption(
      new Option(
        "--interval <ms>",
        "milliseconds between probe rounds (env VIGIL_ATTESTOR_PROBE_INTERVAL_MS; default 5000)",
      ).argParser(intOption(100)),
    )
    .addOption(
      new Option(
        "--timeout <ms>",
        "per-probe timeout in milliseconds, below --interval (env VIGIL_ATTESTOR_TIMEOUT_MS; default 2000)",
      ).argParser(intOption(10)),
    )
    .addOption(
      new Option(
        "--concurrency <n>",
        "probes in flight at once (env VIGIL_ATTESTOR_CONCURRENCY; default 32)",
      ).argParser(intOption(1, 4096)),
    )
    .option(
      "--data-dir <dir>",
      "directory for the attestor's state (the last round it signed, so a restart never signs a second report " +
        "for it); one per attestor key (env VIGIL_ATTESTOR_DATA_DIR; default ~/.vigil/attestor)",
    )
    .action(async (flags: AttestorFlags) => {
      const [{ Shutdown }, { createLogger }, { startAttestor }, { loadAttestorConfig }] = await Promise.all([
        import("../shared/lifecycle"),
        import("../shared/logger"),
        import("./service"),
        import("./config"),
      ]);
      const config = loadAttestorConfig(flags.config, {
        ...commonFlags(flags),
        services: flags.service,
        allowPrivateTargets: flags.allowPrivateTargets,
        probeIntervalMs: flags.interval,
        timeoutMs: flags.timeout,
        concurrency: flags.concurrency,
        dataDir: flags.dataDir,
      });
      const logger = createLogger("vigil", { level: config.log.level });
      const shutdown = new Shutdown(logger);
      try {
        const running = await startAttestor(config, { logger, signal: shutdown.signal });
        await running.done;
      } finally {
        shutdown.dispose();
      }
    });
  return cmd;
}
