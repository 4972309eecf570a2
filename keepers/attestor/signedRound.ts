/**
 * The attestor's memory of the last round it signed, on disk, so that it never signs two different reports
 * for one `(configDigest, round)` — equivocation, provable on-chain with `proveEquivocation` and punished by
 * jailing — not even across a restart inside a round.
 *
 * One small JSON file per attestor address in the data dir (`signed-round-<address>.json`), replaced
 * atomically: written to a temporary file, fsynced, renamed over the old one, and the directory fsynced, so a
 * crash leaves either the old record or the new one. The attestor records a round BEFORE it serves the
 * report's signature; a signature that was never served cannot be used against it.
 */
import fs from "node:fs";
import path from "node:path";
import { z } from "zod";
import { VigilError } from "../shared/errors";

/** What the attestor remembers of the last report it signed. */
export interface SignedRoundRecord {
  /** Config digest the report was signed under (lower-case bytes32 hex). */
  configDigest: string;
  /** The report's round. */
  round: number;
  /** The report's `observedAt`, Unix seconds. */
  observedAt: number;
  /** EIP-712 digest of the report (what was signed), for the operator and post-mortems. */
  reportDigest: string;
}

const hex32 = /^0x[0-9a-f]{64}$/;
const zFile = z
  .object({
    version: z.literal(1),
    attestor: z.string().regex(/^0x[0-9a-fA-F]{40}$/),
    configDigest: z.string().regex(hex32),
    round: z.number().int().nonnegative(),
    observedAt: z.number().int().nonnegative(),
    reportDigest: z.string().regex(hex32),
  })
  .strict();

/** The signed-round record of one attestor in `dataDir`. */
export class SignedRoundLog {
  /** Path of the record. */
  readonly file: string;
  private _last: SignedRoundRecord | undefined;
  private _writing: Promise<void> = Promise.resolve();

  /**
   * Read the record of `attestor` in `dataDir` (creating the directory when missing).
   * @throws VigilError `VIGIL_CONFIG` when the directory cannot be created; `VIGIL_ATTESTATION` when the record
   * exists but cannot be read or parsed, or belongs to another attestor: the attestor cannot know what it signed, so it must not
   * start signing.
   */
  constructor(
    dataDir: string,
    private readonly attestor: string,
  ) {
    const dir = path.resolve(dataDir);
    this.file = path.join(dir, `signed-round-${attestor.toLowerCase()}.json`);
    try {
      fs.mkdirSync(dir, { recursive: true });
    } catch (e) {
      throw new VigilError(
        "VIGIL_CONFIG",
        `dataDir: cannot create  ${dir}: ${(e as Error).message}`,
        "set dataDir to a writable directory",
        { cause: e },
      );
    }
    let text: string | undefined;
    try {
      text = fs.readFileSync(this.file, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") {
        throw new VigilError(
          "VIGIL_ATTESTATION",
          `cannot read ${this.file}: ${(e as Error).message}`,
          "fix its permissions",
          {
            cause: e,
          },
        );
      }
    }
    if (text !== undefined) {
      let parsed: z.infer<typeof zFile>;
      try {
        parsed = zFile.parse(JSON.parse(text));
      } catch (e) {
        throw new VigilError(
          "VIGIL_ATTESTATION",
          `${this.file} is not a valid signed-round record: ${(e as Error).message.slice(0, 300)}`,
          "the attestor cannot tell which round it signed last; move the file away only after one oracle round has passed",
          { cause: e },
        );
      }
      if (parsed.attestor.toLowerCase() !== attestor.toLowerCase()) {
        throw new VigilError(
          "VIGIL_ATTESTATION",
          `${this.file} belongs to attestor ${parsed.attestor}, not ${attestor}`,
          "give each attestor key its own dataDir",
        );
      }
      const { configDigest, round, observedAt, reportDigest } = parsed;
      this._last = { configDigest, round, observedAt, reportDigest };
    }
  }

  /** The last round recorded (on disk), if any. */
  get last(): SignedRoundRecord | undefined {
    return this._last;
  }

  /**
   * Record `rec` as the last signed round: atomically replaces the file and fsyncs it and its directory.
   * Writes are serialized. @throws the file system's error; the record on disk is then the old or the new one.
   */
  async record(rec: SignedRoundRecord): Promise<void> {
    const run = this._writing.then(() => this._write(rec));
    this._writing = run.catch(() => undefined);
    await run;
    this._last = { ...rec };
  }

  private async _write(rec: SignedRoundRecord): Promise<void> {
    const body = JSON.stringify({ version: 1, attestor: this.attestor, ...rec }, null, 2) + "\n";
    const tmp = `${this.file}.${process.pid}.tmp`;
    const fh = await fs.promises.open(tmp, "w", 0o600);
    try {
      await fh.writeFile(body, "utf8");
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.promises.rename(tmp, this.file);
    const dir = await fs.promises.open(path.dirname(this.file), "r");
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }
}
