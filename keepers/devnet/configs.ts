/**
 * The keeper config files `vigil devnet` writes, in the one shape every keeper reads (chain,
 * contracts, key, http, metrics, log, then the keeper's own keys), with a comment on every key.
 * Pure functions from addresses and ports to YAML text: the devnet writes them into its directory,
 * scripts/gen-example-configs.ts writes config/*.example.yaml with them from a real deploy.
 */
import {
  ADMIN_KEY_VAR,
  CONTROL_CHAIN_ID,
  DEV_KEYS,
  DEVNET_TIMING,
  RESPONDER_KEY_VAR,
  SERVED_CHAIN_ID,
  attestorKeyVar,
  loopback,
  type DevnetPorts,
} from "./params";

/** What a deploy produced: contract addresses (checksummed) and the demo service's id (bytes32 hex). */
export interface DevnetDeployment {
  oracle: string;
  registry: string;
  guard: string;
  /** The example GuardedPerpMarket (guard market id 1). */
  market: string;
  serviceId: string;
}

/** Everything the files depend on. */
export interface ConfigContext {
  deployment: DevnetDeployment;
  ports: DevnetPorts;
  /** First line(s) of every file, already commented (`# …`). */
  header: string;
}

const q = (s: string): string => JSON.stringify(s);

/** Line up trailing comments at one column (values hold no `#`; whole-line comments are left alone). */
function align(text: string): string {
  return text
    .split("\n")
    .map((line) => {
      const m = /^(\s*[^#\s].*?)\s+# (.*)$/.exec(line);
      return m ? `${m[1].padEnd(41)} # ${m[2]}` : line;
    })
    .join("\n");
}

function common(ctx: ConfigContext, withGuard: boolean): string {
  const d = ctx.deployment;
  return [
    "chain:                                   # the control chain, which holds the Vigil contracts",
    `  rpcUrls: [${q(loopback(ctx.ports.chain))}]    # flag --rpc-url, env VIGIL_RPC_URL`,
    `  chainId: ${CONTROL_CHAIN_ID}                          # must match what the RPC serves (checked at start)`,
    "contracts:                               # addresses of a real deploy (see the first line)",
    `  oracle: ${q(d.oracle)}     # HealthOracle`,
    `  registry: ${q(d.registry)}   # EndpointRegistry`,
    `  guard: ${q(d.guard)}      # MarketGuard${withGuard ? "" : " (unused by this keeper; one file serves `vigil status`)"}`,
  ].join("\n");
}

/**
 * Keeper settings of a file. `devnet`: tuned for the devnet's loopback nodes with 1 s blocks (probe every
 * second, private targets allowed). `production`: the keepers' production defaults (what the committed
 * examples carry, for an operator to copy), loopback targets refused.
 */
export type Profile = "devnet" | "production";

const ATTESTOR_PROFILE = {
  devnet: {
    allowPrivateTargets:
      "true                 # the demo nodes are on 127.0.0.1; production: false (SSRF guard)",
    probeIntervalMs: `${DEVNET_TIMING.probeIntervalMs}                    # one probe round every second (production: 5000)`,
    timeoutMs: `${DEVNET_TIMING.probeTimeoutMs}                      # per probe; below probeIntervalMs, above latencyMs.max`,
    registryRefreshMs: "5000",
    oracleRefreshMs: "5000",
    errorWindow:
      "5                            # probes in the error-rate window: a node that is back recovers in seconds",
    jsonRpc: `  jsonRpc:                                # the demo nodes mine a block every second
    headAgeSec: { ok: 3, max: 6, floor: 0 }        # production (12 s blocks): ok 30, max 120
    lagBlocks: { ok: 3, max: 10, floor: 0 }        # behind the corroborated head, in blocks
    # latencyMs left out: derived from timeoutMs (max ¾ of it), so a slow node is DEGRADED before it times out`,
  },
  production: {
    allowPrivateTargets:
      "false                # true also probes 127.0.0.1, 10.x, 169.254.x, [::1], localhost: local stacks only (vigil devnet)",
    probeIntervalMs: "5000                     # one probe round every 5 s (vigil devnet: 1000)",
    timeoutMs: "4000                           # per probe; below probeIntervalMs, above latencyMs.max",
    registryRefreshMs: "30000",
    oracleRefreshMs: "15000",
    errorWindow: "20                          # probes in the sliding error-rate window",
    jsonRpc: `  jsonRpc:
    headAgeSec: { ok: 30, max: 120, floor: 0 }     # Chainlink L2 health adapter DELTA = 120 s
    lagBlocks: { ok: 2, max: 6, floor: 0 }         # Chainlink L2 health adapter DELTA_BLOCKS = 6
    latencyMs: { ok: 500, max: 1500, floor: 0.6 }  # HEALTHY to 1 s, DEGRADED from 1 s to the timeout, then a failure`,
  },
} as const;

/**
 * An attestor's file.
 * @param index 1-based attestor number (port `ports.attestors[index-1]`).
 * @param opts `dataDir` where it records the last round it signed; `keyEnvVar` the variable holding its
 * key; `profile` its settings (default `devnet`).
 */
export function renderAttestorConfig(
  ctx: ConfigContext,
  index: number,
  opts: { dataDir: string; keyEnvVar: string; profile?: Profile },
): string {
  const sid = ctx.deployment.serviceId;
  const p = ATTESTOR_PROFILE[opts.profile ?? "devnet"];
  return align(`${ctx.header}
${common(ctx, false)}
key:                                      # never the key itself: where to find it
  envVar: ${opts.keyEnvVar}               # a 0x private key in this variable, or:
  # keystorePath: /path/keystore.json     # an encrypted JSON keystore, password in passwordEnvVar
  passwordEnvVar: VIGIL_KEYSTORE_PASSWORD
http: { host: "127.0.0.1", port: ${ctx.ports.attestors[index - 1]} } # GET /v1/reports, /v1/endpoints, /healthz, /metrics
metrics: { enabled: true }                # Prometheus text on GET /metrics
log: { level: info }                      # flag --log-level, env VIGIL_LOG_LEVEL
# REQUIRED, non-empty: the registry is permissionless, so name the services this attestor vouches for.
services: # service ids (bytes32) as \`vigil register-service\` prints them
  - ${q(sid)}                             # demo-rpc
# REQUIRED for every watched service with JSON-RPC endpoints: the chain id they must serve. Without
# an entry the attestor probes them but signs nothing for them (a wrong chain could not be detected).
expectedChainIds:
  ${q(sid)}: ${SERVED_CHAIN_ID}
allowPrivateTargets: ${p.allowPrivateTargets}
probeIntervalMs: ${p.probeIntervalMs}
timeoutMs: ${p.timeoutMs}
concurrency: 32                           # probes in flight at once
registryRefreshMs: ${p.registryRefreshMs}   # reload the endpoint list (new endpoints are picked up)
oracleRefreshMs: ${p.oracleRefreshMs}    # reload config digest and round length (attestor-set rotations)
errorWindow: ${p.errorWindow}
keepReports: 8                            # signed reports (one per round) served on GET /v1/reports
# The last round this attestor signed is kept here (signed-round-<address>.json), so a restart never signs a
# second report for it (equivocation gets an attestor jailed). One per key, on a disk that survives restarts.
dataDir: ${q(opts.dataDir)}   # default ~/.vigil/attestor; env VIGIL_ATTESTOR_DATA_DIR
thresholds:                               # score factors: 1 at or below ok, floor at or above max
${p.jsonRpc}
    errorRate: { ok: 0.05, max: 0.5, floor: 0 }
`);
}

/**
 * The responder's file. @param opts `outboxPath` its SQLite outbox; `keyEnvVar` the variable holding its
 * key; `profile` its settings (default `devnet`).
 */
export function renderResponderConfig(
  ctx: ConfigContext,
  opts: { outboxPath: string; keyEnvVar: string; profile?: Profile },
): string {
  const sid = ctx.deployment.serviceId;
  const dev = (opts.profile ?? "devnet") === "devnet";
  return align(`${ctx.header}
${common(ctx, true)}
key:                                      # never the key itself: where to find it
  envVar: ${opts.keyEnvVar}               # a 0x private key in this variable, or:
  # keystorePath: /path/keystore.json     # an encrypted JSON keystore, password in passwordEnvVar
  passwordEnvVar: VIGIL_KEYSTORE_PASSWORD
http: { host: "127.0.0.1", port: ${ctx.ports.responder} } # /healthz, /metrics, /v1/outbox
metrics: { enabled: true }                # Prometheus text on GET /metrics
log: { level: info }                      # flag --log-level, env VIGIL_LOG_LEVEL
attestorUrls: [${ctx.ports.attestors.map((p) => q(loopback(p))).join(", ")}] # one URL per attestor
# Required: the services (registry ids) this responder watches. The registry is permissionless: only
# these services' endpoints make a round worth a transaction, only these services are migrated.
services: # service ids (bytes32) as \`vigil register-service\` prints them
  - ${q(sid)}                             # demo-rpc
# markets: [1]                            # optional: guard market ids; default: every market whose
#                                         # dependencies are all watched services or their endpoints
pollIntervalMs: ${dev ? `${DEVNET_TIMING.pollIntervalMs} # one evaluation loop every second` : "2000 # one evaluation loop every 2 s"} (events wake it earlier)
attestorTimeoutMs: ${dev ? 1000 : 2000}                   # GET <attestor>/v1/reports, each attestor with its own deadline
attestorMaxBytes: 16777216                # largest response: ~77 bytes per endpoint per round served
heartbeatRefreshFraction: 0.8             # submit a steady round once a watched endpoint's update is 0.8 x heartbeat old
confirmations: 1
fees:
  bumpPercent: 12.5                       # per replacement, both EIP-1559 fees (geth's minimum is 10%)
  maxFeeCapGwei: 500
  stuckAfterMs: 30000
outboxPath: ${q(opts.outboxPath)}         # SQLite outbox: intent recorded before every send
`);
}

/** The dashboard's file: the common keys only (it signs nothing). */
export function renderDashboardConfig(ctx: ConfigContext): string {
  return align(`${ctx.header}
${common(ctx, true)}
http: { host: "127.0.0.1", port: ${ctx.ports.dashboard} } # the page on GET /, /healthz, /metrics
metrics: { enabled: true }
log: { level: info }
`);
}

/**
 * The keys of the devnet as a shell env file (`set -a; . keys.env; set +a`). They are anvil's public
 * development keys, written so the same keepers can be started by hand; never put a real key in a file.
 */
export function renderKeysEnv(): string {
  return [
    "# vigil devnet: anvil's PUBLIC development keys (mnemonic 'test test ... junk'). Local use only:",
    "# anything sent to these accounts on a real network is taken at once. Load with:",
    "#   set -a; . ./keys.env; set +a",
    `${ADMIN_KEY_VAR}=${DEV_KEYS.admin}`,
    ...DEV_KEYS.attestors.map((k, i) => `${attestorKeyVar(i + 1)}=${k}`),
    `${RESPONDER_KEY_VAR}=${DEV_KEYS.responder}`,
    "",
  ].join("\n");
}

/** The keys as an environment object (what the devnet passes to its keepers). */
export function keysEnv(): Record<string, string> {
  return {
    [ADMIN_KEY_VAR]: DEV_KEYS.admin,
    ...Object.fromEntries(DEV_KEYS.attestors.map((k, i) => [attestorKeyVar(i + 1), k])),
    [RESPONDER_KEY_VAR]: DEV_KEYS.responder,
  };
}
