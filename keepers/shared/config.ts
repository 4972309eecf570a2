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
        value = /^(1|true|yes|on)$/i.test(text);
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
  overrides: readonly EnvOverride[],
  env: NodeJS.ProcessEnv = process.env,
  flags: Record<string, unknown> = {},
): z.output<S> {
  const raw = file ? readConfigFile(file) : {};
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
