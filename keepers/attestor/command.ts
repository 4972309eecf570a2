/**
 * `vigil attestor`: run one attestor until SIGINT/SIGTERM. The same `startAttestor` the tests, the
 * benchmark and the drill use.
 */
import { Command, Option } from "commander";
import { bytes32Option, commonFlags, intOption, withCommonOptions, type CommonOptions } from "../shared/cli";
import { Shutdown } from "../shared/lifecycle";
import { createLogger } from "../shared/logger";
import { startAttestor } from "./attestor";
import { loadAttestorConfig } from "./config";

interface AttestorFlags extends CommonOptions {
  service?: string[];
  allowPrivateTargets?: boolean;
  host?: string;
  port?: number;
  interval?: number;
  timeout?: number;
  concurrency?: number;
  keystore?: string;
  dataDir?: string;
  logLevel?: string;
}

export function attestorCommand(): Command {
  const cmd = new Command("attestor").description(
    "Run an attestor: watch the endpoints of the listed services in the registry, probe and score them, sign " +
      "one EIP-712 report per round covering every endpoint (health and its own BAD/GOOD streaks) and serve " +
      "the last rounds on GET /v1/reports (with /v1/endpoints, /healthz and /metrics). Key from " +
      "$VIGIL_ATTESTOR_KEY or --keystore; the last signed round is kept in --data-dir so a restart never signs " +
      "a round twice.",
  );
  withCommonOptions(cmd)
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
    .option(
      "--host <host>",
      "interface the HTTP server binds (env VIGIL_ATTESTOR_HTTP_HOST; default 127.0.0.1)",
    )
    .addOption(
      new Option(
        "--port <port>",
        "HTTP port, 0 = any free port (env VIGIL_ATTESTOR_HTTP_PORT; default 9470)",
      ).argParser(intOption(0, 65_535)),
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
      "--keystore <file>",
      "encrypted JSON keystore, used when $VIGIL_ATTESTOR_KEY is unset; password in $VIGIL_KEYSTORE_PASSWORD (default: none)",
    )
    .option(
      "--data-dir <dir>",
      "directory for the attestor's state (the last round it signed, so a restart never signs a second report " +
        "for it); one per attestor key (env VIGIL_ATTESTOR_DATA_DIR; default ~/.vigil/attestor)",
    )
    .option("--log-level <level>", "trace, debug, info, warn, error (env VIGIL_LOG_LEVEL; default info)")
    .action(async (flags: AttestorFlags) => {
      const config = loadAttestorConfig(flags.config, {
        ...commonFlags(flags),
        guard: undefined,
        services: flags.service,
        allowPrivateTargets: flags.allowPrivateTargets,
        "http.host": flags.host,
        "http.port": flags.port,
        probeIntervalMs: flags.interval,
        timeoutMs: flags.timeout,
        concurrency: flags.concurrency,
        "key.keystorePath": flags.keystore,
        dataDir: flags.dataDir,
        "log.level": flags.logLevel,
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
