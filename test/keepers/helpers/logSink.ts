/**
 * Log lines (pino JSON) kept in memory, so a test can assert on what a keeper said: pass it as the
 * `destination` of keepers/shared/logger.ts `createLogger`.
 */
import { Writable } from "node:stream";

const LEVELS: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };

export interface LogLine {
  /** pino's numeric level (info 30, warn 40). */
  level: number;
  msg: string;
  [field: string]: unknown;
}

export class LogSink extends Writable {
  readonly lines: LogLine[] = [];

  override _write(chunk: Buffer, _enc: string, done: () => void): void {
    for (const l of chunk.toString().split("\n").filter(Boolean)) {
      const line = JSON.parse(l) as { level: number | string; msg: string };
      // The project's logger writes the level as its label; keep numbers to compare.
      this.lines.push({ ...line, level: typeof line.level === "number" ? line.level : LEVELS[line.level] });
    }
    done();
  }

  /** Lines whose message is `msg` and whose fields include every entry of `fields`. */
  find(msg: string, fields: Record<string, unknown> = {}): LogLine[] {
    return this.lines.filter((l) => l.msg === msg && Object.entries(fields).every(([k, v]) => l[k] === v));
  }
}
