import fs from "node:fs";
import path from "node:path";
import YAML from "yaml";
import { z } from "zod";
import { VigilError } from "./errors";

/** An Ethereum address, checksummed or lower-case, 0x-prefixed. */
export const zAddress = z.string().regex(/^0x[0-9a-fA-F]{40}$/, "must be a 0x-prefixed 20-byte hex address");

/** A 32-byte id, 0x-prefixed hex. */
export const zBytes32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/, "must be a 0x-prefixed 32-byte hex value");

/** An http(s) or ws(s) URL. */
export const zUrl = z
  .string()
  .url("must be a URL")
  .refine((u) => /^(https?|wss?):\/\//.test(u), "must be an http(s) or ws(s) URL");

/** A positive integer number of milliseconds. */
export const zMillis = z.number().int().positive();

/** pino log levels accepted by `log.level`. */
export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;

const zEnvName = z.string().regex(/^[A-Z_][A-Z0-9_]*$/, "must be an environment variable name");

/**
 * `chain`: the control chain (the one holding the Vigil contracts). Same in every keeper's file.
 * `rpcUrls`: one or more JSON-RPC URLs (flag `--rpc-url`, env `VIGIL_RPC_URL`, comma-separated);
 * `chainId`: the chain id they must serve (flag `--chain-id`, env `VIGIL_CHAIN_ID`);
 * `rpcTimeoutMs`: the deadline of every request to one RPC, ms (default 2000, see keepers/shared/rpcPool.ts):
 * past it the RPC counts as down for that request and the next one answers.
 */
export const zChain = z
  .object({
    rpcUrls: z.array(zUrl).min(1, "give at least one JSON-RPC URL of the control chain (--rpc-url)"),
    chainId: z.number().int().positive(),
    rpcTimeoutMs: zMillis.optional(),
  })
  .strict();

/**
 * `contracts`: the Vigil contract addresses on the control chain (flags `--oracle`, `--registry`,
 * `--guard`; env `VIGIL_ORACLE`, `VIGIL_REGISTRY`, `VIGIL_GUARD`). `guard` is optional: without it
 * markets are neither tripped nor resumed, nor shown.
 */
export const zContracts = z
  .object({
    oracle: zAddress,
    registry: zAddress,
    guard: zAddress.optional(),
  })
  .strict();

/**
 * `key`: where a signing keeper finds its key, never the key itself. `envVar` names the variable
 * holding a 0x private key (default per keeper); `keystorePath` an encrypted JSON keystore used when
 * that variable is unset (flag `--keystore`, env `VIGIL_KEYSTORE`), its password in `passwordEnvVar`.
 */
export const zKey = (defaultEnvVar: string) =>
  z
    .object({
      envVar: zEnvName.default(defaultEnvVar),
      keystorePath: z.string().min(1).optional(),
      passwordEnvVar: zEnvName.default("VIGIL_KEYSTORE_PASSWORD"),
    })
    .strict()
    .default({});

/**
 * `http`: the keeper's HTTP server (flags `--host`, `--port`; env `VIGIL_HTTP_HOST`, `VIGIL_HTTP_PORT`).
 * Port 0 picks a free one. Default host 127.0.0.1; the port default is per keeper.
 */
export const zHttp = (defaultPort: number) =>
  z
    .object({
      host: z.string().min(1).default("127.0.0.1"),
      port: z.number().int().min(0).max(65_535).default(defaultPort),
    })
    .strict()
    .default({});

/** `metrics`: `enabled` serves Prometheus text on `GET /metrics` of the HTTP server (default true; env `VIGIL_METRICS_ENABLED`). */
export const zMetrics = z
  .object({ enabled: z.boolean().default(true) })
  .strict()
  .default({});

/** `log`: `level`, a pino level (flag `--log-level`, env `VIGIL_LOG_LEVEL`; default info). */
export const zLog = z
  .object({ level: z.enum(LOG_LEVELS).default("info") })
  .strict()
  .default({});

/** Environment variables every keeper reads for the common keys. */
export const COMMON_ENV: readonly EnvOverride[] = [
  { env: "VIGIL_RPC_URL", path: "chain.rpcUrls", type: "list" },
  { env: "VIGIL_CHAIN_ID", path: "chain.chainId", type: "number" },
  { env: "VIGIL_RPC_TIMEOUT_MS", path: "chain.rpcTimeoutMs", type: "number" },
  { env: "VIGIL_ORACLE", path: "contracts.oracle", type: "string" },
  { env: "VIGIL_REGISTRY", path: "contracts.registry", type: "string" },
  { env: "VIGIL_GUARD", path: "contracts.guard", type: "string" },
  { env: "VIGIL_KEYSTORE", path: "key.keystorePath", type: "string" },
  { env: "VIGIL_HTTP_HOST", path: "http.host", type: "string" },
  { env: "VIGIL_HTTP_PORT", path: "http.port", type: "number" },
  { env: "VIGIL_METRICS_ENABLED", path: "metrics.enabled", type: "boolean" },
  { env: "VIGIL_LOG_LEVEL", path: "log.level", type: "string" },
];

/**
 * Keys of the first config version, each with the key that replaced it. A file that still has one is
 * rejected with a message naming the new key (a silently ignored key would run with a default).
 */
export const RENAMED_KEYS: Readonly<Record<string, string>> = {
  rpcUrls: "chain.rpcUrls",
  chainId: "chain.chainId",
  oracle: "contracts.oracle",
  registry: "contracts.registry",
  guard: "contracts.guard",
  logLevel: "log.level",
  keyEnvVar: "key.envVar",
  keystorePath: "key.keystorePath",
  keystorePasswordEnvVar: "key.passwordEnvVar",
};

/** Environment variables of the first config version, each with the one that replaced it. */
export const RENAMED_ENV: Readonly<Record<string, string>> = {
  VIGIL_ATTESTOR_HTTP_HOST: "VIGIL_HTTP_HOST",
  VIGIL_ATTESTOR_HTTP_PORT: "VIGIL_HTTP_PORT",
  VIGIL_RESPONDER_HTTP_HOST: "VIGIL_HTTP_HOST",
  VIGIL_RESPONDER_HTTP_PORT: "VIGIL_HTTP_PORT",
  VIGIL_ATTESTOR_KEYSTORE: "VIGIL_KEYSTORE",
};

/** Top-level keys of `raw` that were renamed, as `old → new` lines ({@link RENAMED_KEYS}). */
export function findRenamedKeys(raw: unknown): string[] {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return [];
  return Object.keys(raw)
    .filter((k) => Object.hasOwn(RENAMED_KEYS, k))
    .map((k) => `${k} is now ${RENAMED_KEYS[k]}`);
}

/**
 * One environment override: the variable name, the config path it sets (dot-separated), and how to
 * parse the text (`string`, `number`, `list` = comma-separated strings, `boolean`).
 */
export interface EnvOverride {
  env: string;
  path: string;
  type: "string" | "number" | "list" | "boolean";
}

/**
 * Read a JSON or YAML config file (by extension: `.json`, `.yaml`, `.yml`).
 * Throws VIGIL_CONFIG naming the file when it is missing or does not parse.
 */
export function readConfigFile(file: string): unknown {
  const abs = path.resolve(file);
  let text: string;
  try {
    text = fs.readFileSync(abs, "utf8");
  } catch (e) {
    throw new VigilError("VIGIL_CONFIG", `cannot read config file ${abs}`, "check the --config path", {
      cause: e,
    });
  }
  try {
    return /\.ya?ml$/i.test(abs) ? YAML.parse(text) : JSON.parse(text);
  } catch (e) {
    throw new VigilError(
      "VIGIL_CONFIG",
      `config file ${abs} is not valid ${/\.ya?ml$/i.test(abs) ? "YAML" : "JSON"}: ${(e as Error).message}`,
      undefined,
      { cause: e },
    );
  }
}

/**
 * Apply environment overrides onto a raw config object (returns a new object; the input is not
 * changed). Unset or empty variables are skipped. A number that does not parse throws VIGIL_CONFIG
 * naming the variable.
 */
export function applyEnvOverrides(
  raw: unknown,
  overrides: readonly EnvOverride[],
  env: NodeJS.ProcessEnv = process.env,
): Record<string, unknown> {
  const out: Record<string, unknown> = structuredClone((raw ?? {}) as Record<string, unknown>);
  for (const o of overrides) {
    const text = env[o.env];
    if (text === undefined || text === "") continue;
    let value: unknown;
    switch (o.type) {
      case "number":
        value = Number(text);
        if (!Number.isFinite(value as number)) {
          throw new VigilError("VIGIL_CONFIG", `${o.env}=${JSON.stringify(text)} is not a number`);
        }
        break;
      case "list":
        value = text
          .split(",")
          .map((s) => s.trim())
          .filter(Boolean);
        break;
      case "boolean":
        // Strict: a typo (`ture`) must stop the process, not quietly turn a setting off.
        if (/^(1|true|yes|on)$/i.test(text.trim())) value = true;
        else if (/^(0|false|no|off)$/i.test(text.trim())) value = false;
        else {
          throw new VigilError(
            "VIGIL_CONFIG",
            `${o.env}=${JSON.stringify(text)} is not a boolean`,
            "use true or false (also 1/0, yes/no, on/off)",
          );
        }
        break;
      default:
        value = text;
    }
    const keys = o.path.split(".");
    let node: Record<string, unknown> = out;
    for (const k of keys.slice(0, -1)) {
      if (typeof node[k] !== "object" || node[k] === null) node[k] = {};
      node = node[k] as Record<string, unknown>;
    }
    node[keys[keys.length - 1]] = value;
  }
  return out;
}

/**
 * Validate `raw` with `schema`. On failure throws VIGIL_CONFIG whose message names every bad setting
 * by its dotted path, e.g. `config: rpcUrls.0: must be an http(s) or ws(s) URL`.
 */
export function parseConfig<S extends z.ZodTypeAny>(schema: S, raw: unknown, source = "config"): z.output<S> {
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  const lines = result.error.issues.map((i) => {
    const where = i.path.length ? i.path.join(".") : "(root)";
    return `${where}: ${i.message}`;
  });
  throw new VigilError("VIGIL_CONFIG", `${source} is invalid:\n  ${lines.join("\n  ")}`);
}

/**
 * Load a keeper config: the file (optional), then environment overrides, then command-line flags,
 * then the schema.
 * @param file Path to a JSON or YAML file, or undefined to use defaults plus environment only.
 * @param flags Command-line values keyed by dotted config path (`{ "http.port": 0 }`); they win over
 * the file and the environment; undefined values are skipped.
 */
export function loadConfig<S extends z.ZodTypeAny>(
  schema: S,
  file: string | undefined,
  overrides: readonly EnvOverride[] = COMMON_ENV,
  env: NodeJS.ProcessEnv = process.env,
  flags: Record<string, unknown> = {},
): z.output<S> {
  const raw = file ? readConfigFile(file) : {};
  const renamed = findRenamedKeys(raw);
  if (renamed.length) {
    throw new VigilError(
      "VIGIL_CONFIG",
      `${file} uses keys of the old config shape: ${renamed.join("; ")}`,
      "every keeper now shares chain, contracts, key, http, metrics and log (see config/*.example.yaml)",
    );
  }
  const retired = Object.keys(RENAMED_ENV).filter((k) => env[k] !== undefined && env[k] !== "");
  if (retired.length) {
    throw new VigilError(
      "VIGIL_CONFIG",
      `retired environment variable(s): ${retired.map((k) => `${k} is now ${RENAMED_ENV[k]}`).join("; ")}`,
      "rename them; every keeper reads the same VIGIL_* names for the common settings",
    );
  }
  const rejected = findSecrets(raw);
  if (rejected.length) {
    throw new VigilError(
      "VIGIL_CONFIG",
      `config file must not hold secrets, found: ${rejected.join(", ")}`,
      "pass keys through the environment or an encrypted keystore",
    );
  }
  const merged = applyEnvOverrides(raw, overrides, env);
  for (const [p, v] of Object.entries(flags)) {
    if (v !== undefined) setPath(merged, p, v);
  }
  return parseConfig(schema, merged, file ?? "config");
}

/** Set a dotted path in a plain object, creating intermediate objects. */
function setPath(target: Record<string, unknown>, dotted: string, value: unknown): void {
  const keys = dotted.split(".");
  let node = target;
  for (const k of keys.slice(0, -1)) {
    if (typeof node[k] !== "object" || node[k] === null) node[k] = {};
    node = node[k] as Record<string, unknown>;
  }
  node[keys[keys.length - 1]] = value;
}

/** Paths in a raw config object whose key looks like a secret (privateKey, mnemonic, password). */
export function findSecrets(raw: unknown, prefix = ""): string[] {
  if (typeof raw !== "object" || raw === null) return [];
  const found: string[] = [];
  for (const [k, v] of Object.entries(raw)) {
    const p = prefix ? `${prefix}.${k}` : k;
    if (/^(private_?key|mnemonic|password|secret)$/i.test(k)) found.push(p);
    else found.push(...findSecrets(v, p));
  }
  return found;
}
