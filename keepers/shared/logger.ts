import pino, { type Logger, type LoggerOptions } from "pino";
import { sanitizeErrorFields } from "./redact";

/**
 * Paths that must never appear in logs (pino `redact`). Keys come from the environment or a
 * keystore; this is the belt to that pair of braces.
 */
export const REDACTED_PATHS = [
  "privateKey",
  "*.privateKey",
  "key",
  "*.key",
  "password",
  "*.password",
  "mnemonic",
  "*.mnemonic",
  "signer.privateKey",
  "config.keys",
  "headers.authorization",
  "*.headers.authorization",
];

/**
 * pino's `err` serializer, then every string in the result (message, stack, nested causes) with its
 * URLs cut to their origin and the request fields ethers attaches (`info.requestUrl`, `request`,
 * `response`) dropped: an RPC URL's API key never reaches a log line through `{ err }`.
 */
export function serializeError(e: unknown): unknown {
  return sanitizeErrorFields(pino.stdSerializers.err(e as Error));
}

export interface LoggerSettings {
  /** pino level: trace, debug, info, warn, error, fatal, silent. Default `info`. */
  level?: string;
  /** Write human-readable lines instead of JSON (never in production). Default false. */
  pretty?: boolean;
  /** Destination stream; default stdout. Tests pass a memory stream. */
  destination?: pino.DestinationStream;
}

/**
 * Create the root logger of a keeper process. Components take child loggers with stable fields
 * (`keeper`, `chainId`, `endpointId`); no `console.*` in keepers. Errors go under `err` (or `error`)
 * and pass through {@link serializeError}.
 */
export function createLogger(name: string, settings: LoggerSettings = {}): Logger {
  const options: LoggerOptions = {
    name,
    level: settings.level ?? process.env.VIGIL_LOG_LEVEL ?? "info",
    redact: { paths: REDACTED_PATHS, censor: "[redacted]" },
    serializers: { err: serializeError, error: serializeError },
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
  return settings.destination ? pino(options, settings.destination) : pino(options);
}

export type { Logger };
