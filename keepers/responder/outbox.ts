/**
 * The responder's outbox (the GSN TxStore / OpenZeppelin Relayer queue idea): an action is written to SQLite
 * before it is signed, its nonce and every transaction hash after broadcast, its outcome when known. On start-up
 * {@link Outbox.unfinished} lists what a crash left behind; each is reconciled exactly once: a recorded hash with
 * a receipt is done, else the on-chain view decides between sending it (an unused nonce reused) and dropping it.
 */
import Database from "better-sqlite3";
import { VigilError } from "../shared/errors";
import type { ExecuteOutcome, TxRole } from "./tx";

/**
 * Bumped whenever the tables change; a newer file is refused rather than misread, an older one is
 * migrated in place. 1: the first schema. 2: kind `deliver` (`MarketGuard.retryDelivery`). 3: kind `prove`
 * (`HealthOracle.proveEquivocation`). 4: status `cancelled`; per transaction its `role` (action or cancel), its
 * signed bytes (`raw`) and, for the one a confirmed action was mined in, `block_number` and `block_hash`.
 */
export const OUTBOX_SCHEMA_VERSION = 4;

export type ActionKind = "submit" | "migrate" | "trip" | "resume" | "deliver" | "prove";

const ACTIONS_TABLE = (name: string) => `
  CREATE TABLE IF NOT EXISTS ${name} (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ('submit','migrate','trip','resume','deliver','prove')),
    target TEXT NOT NULL,
    to_addr TEXT NOT NULL,
    calldata TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending','sent','confirmed','dropped','failed','cancelled')),
    nonce INTEGER,
    note TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  )`;
const ACTIONS_INDEX = `CREATE INDEX IF NOT EXISTS actions_open ON actions(status) WHERE status IN ('pending','sent')`;
/** The columns schema 4 adds to `txs` (NULL in rows written before: role and bytes unknown). */
const TXS_V4_COLUMNS = [
  "role TEXT CHECK (role IN ('action','cancel'))",
  "raw TEXT",
  "block_number INTEGER",
  "block_hash TEXT",
];
const TXS_TABLE = `
  CREATE TABLE IF NOT EXISTS txs (
    action_id INTEGER NOT NULL REFERENCES actions(id),
    hash TEXT NOT NULL UNIQUE,
    max_fee_per_gas TEXT NOT NULL,
    max_priority_fee_per_gas TEXT NOT NULL,
    sent_at INTEGER NOT NULL,
    ${TXS_V4_COLUMNS.join(",\n    ")}
  )`;

/**
 * `pending`: recorded, not broadcast. `sent`: broadcast, outcome unknown. Terminal: `confirmed`
 * (mined, succeeded, confirmations reached; reopened to `sent` if a reorg removes it), `dropped` (no longer due:
 * another keeper or the oracle's listener did it), `failed` (reverted or could not be sent), `cancelled` (its
 * deadline passed and a 0-value self-send took its nonce: mined, so the action never ran).
 */
export type ActionStatus = "pending" | "sent" | "confirmed" | "dropped" | "failed" | "cancelled";

/** A terminal status. */
export type FinalStatus = "confirmed" | "dropped" | "failed" | "cancelled";

export interface OutboxTx {
  hash: string;
  maxFeePerGas: string;
  maxPriorityFeePerGas: string;
  sentAt: number;
  /** The action itself (or a replacement) or its deadline cancel; null when recorded before schema 4. */
  role: TxRole | null;
  /** The signed bytes (re-broadcast verbatim after a crash or a reorg); null when recorded before schema 4. */
  raw: string | null;
  /** Where the transaction of a confirmed action was mined (what a reorg check compares); else null. */
  blockNumber: number | null;
  blockHash: string | null;
}

/** A transaction as `recordBroadcast` takes it (role and raw optional for callers that predate them). */
export type OutboxTxInput = Pick<OutboxTx, "hash" | "maxFeePerGas" | "maxPriorityFeePerGas"> &
  Partial<Pick<OutboxTx, "role" | "raw">>;

/** Where a confirmed action's transaction was mined. */
export interface MinedAt {
  hash: string;
  blockNumber: number;
  blockHash: string;
}

export interface OutboxAction {
  id: number;
  kind: ActionKind;
  /** Service id, market id, a round's description (`submit`) or the equivocating signer, lower-case (`prove`). */
  target: string;
  to: string;
  data: string;
  status: ActionStatus;
  nonce: number | null;
  note: string | null;
  createdAt: number;
  updatedAt: number;
  txs: OutboxTx[];
}

interface Row {
  id: number;
  kind: ActionKind;
  target: string;
  to_addr: string;
  calldata: string;
  status: ActionStatus;
  nonce: number | null;
  note: string | null;
  created_at: number;
  updated_at: number;
}

/** SQLite outbox, WAL mode, synchronous=FULL so a recorded intent survives a power cut. */
export class Outbox {
  private readonly _db: Database.Database;

  /** Open (or create) the outbox at `file` (`:memory:` for tests). Throws VIGIL_OUTBOX. */
  constructor(
    readonly file: string,
    private readonly now: () => number = Date.now,
  ) {
    try {
      this._db = new Database(file);
      this._db.pragma("journal_mode = WAL");
      this._db.pragma("synchronous = FULL");
      this._db.pragma("foreign_keys = ON");
    } catch (e) {
      throw new VigilError("VIGIL_OUTBOX", `cannot open outbox ${file}`, "check outboxPath", { cause: e });
    }
    this._migrate();
  }

  private _migrate(): void {
    const version = this._db.pragma("user_version", { simple: true }) as number;
    if (version > OUTBOX_SCHEMA_VERSION) {
      throw new VigilError(
        "VIGIL_OUTBOX",
        `outbox ${this.file} has schema ${version}, this responder knows ${OUTBOX_SCHEMA_VERSION}`,
        "run a newer responder or move the file away",
      );
    }
    if (version === OUTBOX_SCHEMA_VERSION) return;
    if (version === 0) {
      this._db.exec(`${ACTIONS_TABLE("actions")}; ${ACTIONS_INDEX}; ${TXS_TABLE};
        PRAGMA user_version = ${OUTBOX_SCHEMA_VERSION};`);
      return;
    }
    // Version 1, 2 or 3 → 4: the `kind` CHECK gains 'deliver' (2) and 'prove' (3), the `status` CHECK gains
    // 'cancelled' (4), `txs` gains role, raw and the mined block (4, NULL for older rows). SQLite cannot alter a
    // CHECK, so the table is rebuilt (sqlite.org/lang_altertable.html, "other kinds of table schema changes"):
    // foreign keys off, new table, copy every row with its id, swap, keep the AUTOINCREMENT counter, verify.
    try {
      this._db.pragma("foreign_keys = OFF");
      this._db.transaction(() => {
        const seq = this._db.prepare(`SELECT seq FROM sqlite_sequence WHERE name = 'actions'`).get() as
          { seq: number } | undefined;
        this._db.exec(`
          ${ACTIONS_TABLE("actions_next")};
          INSERT INTO actions_next (id, kind, target, to_addr, calldata, status, nonce, note, created_at, updated_at)
            SELECT id, kind, target, to_addr, calldata, status, nonce, note, created_at, updated_at FROM actions;
          DROP TABLE actions;
          ALTER TABLE actions_next RENAME TO actions;
          ${ACTIONS_INDEX};
        `);
        for (const column of TXS_V4_COLUMNS) this._db.exec(`ALTER TABLE txs ADD COLUMN ${column}`);
        if (seq)
          this._db
            .prepare(`UPDATE sqlite_sequence SET seq = MAX(seq, ?) WHERE name = 'actions'`)
            .run(seq.seq);
        const broken = this._db.pragma("foreign_key_check") as unknown[];
        if (broken.length) throw new Error(`foreign key check failed: ${JSON.stringify(broken)}`);
        this._db.pragma(`user_version = ${OUTBOX_SCHEMA_VERSION}`);
      })();
    } catch (e) {
      throw new VigilError(
        "VIGIL_OUTBOX",
        `cannot migrate outbox ${this.file} from schema ${version} to ${OUTBOX_SCHEMA_VERSION}`,
        "the file is unchanged; keep a copy and report the error",
        { cause: e },
      );
    } finally {
      this._db.pragma("foreign_keys = ON");
    }
  }

  /** Record the intent to act, before anything is signed. @returns the action id. */
  record(kind: ActionKind, target: string, to: string, data: string): number {
    const t = this.now();
    const r = this._db
      .prepare(
        `INSERT INTO actions (kind, target, to_addr, calldata, status, created_at, updated_at)
         VALUES (?, ?, ?, ?, 'pending', ?, ?)`,
      )
      .run(kind, target, to, data, t, t);
    return Number(r.lastInsertRowid);
  }

  /** Record a broadcast (first send or a replacement) of action `id` at `nonce`. */
  recordBroadcast(id: number, nonce: number, tx: OutboxTxInput): void {
    const t = this.now();
    this._db.transaction(() => {
      this._db
        .prepare(`UPDATE actions SET status = 'sent', nonce = ?, updated_at = ? WHERE id = ?`)
        .run(nonce, t, id);
      this._db
        .prepare(
          `INSERT OR IGNORE INTO txs (action_id, hash, max_fee_per_gas, max_priority_fee_per_gas, sent_at, role, raw)
           VALUES (?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(id, tx.hash, tx.maxFeePerGas, tx.maxPriorityFeePerGas, t, tx.role ?? null, tx.raw ?? null);
    })();
  }

  /**
   * Move action `id` to a terminal status; `mined` (a confirmed action's receipt) is kept on its transaction for
   * the reorg check. Finishing an action twice is a no-op. @returns true when this call finished it.
   */
  finish(id: number, status: FinalStatus, note?: string, mined?: MinedAt): boolean {
    return this._db.transaction(() => {
      const r = this._db
        .prepare(
          `UPDATE actions SET status = ?, note = ?, updated_at = ? WHERE id = ? AND status IN ('pending','sent')`,
        )
        .run(status, note ?? null, this.now(), id);
      if (r.changes === 1 && mined)
        this._db
          .prepare(`UPDATE txs SET block_number = ?, block_hash = ? WHERE action_id = ? AND hash = ?`)
          .run(mined.blockNumber, mined.blockHash, id, mined.hash);
      return r.changes === 1;
    })();
  }

  /**
   * Write a {@link TxManager} outcome, truthfully: "confirmed" with its block; a mined cancel is "cancelled"
   * (the action never ran); a cancel still pending leaves the action open (`sent`: either transaction may be
   * mined, the next reconcile finds which); "lost_race" is "dropped"; "failed" is "failed", or "dropped" when
   * `reconciling` and nothing reverted on-chain (the action no longer applies); "persisted" stays open.
   * @returns the action's status afterwards (unchanged when it was already terminal).
   */
  settle(id: number, outcome: ExecuteOutcome, reconciling = false): ActionStatus {
    switch (outcome.outcome) {
      case "confirmed": {
        const r = outcome.receipt;
        this.finish(id, "confirmed", r.hash, {
          hash: r.hash,
          blockNumber: r.blockNumber,
          blockHash: r.blockHash,
        });
        break;
      }
      case "lost_race":
        this.finish(id, "dropped", `lost race: ${outcome.revert.name ?? outcome.revert.message}`);
        break;
      case "failed":
        this.finish(
          id,
          reconciling && !outcome.error.includes("reverted") ? "dropped" : "failed",
          outcome.error,
        );
        break;
      case "cancelled": {
        const r = outcome.receipt;
        if (outcome.mined)
          this.finish(
            id,
            "cancelled",
            `deadline passed: cancelled at nonce ${outcome.nonce} by ${outcome.hash}`,
            r ? { hash: r.hash, blockNumber: r.blockNumber, blockHash: r.blockHash } : undefined,
          );
        else
          this._note(id, `deadline passed: cancel ${outcome.hash} at nonce ${outcome.nonce} still pending`);
        break;
      }
      case "persisted":
        break;
    }
    return this.get(id)!.status;
  }

  /**
   * Actions settled by a mined transaction at `fromBlock` or later (what a reorg may still remove): `confirmed`
   * (the action's own) and `cancelled` (its cancel: removed, it would free the nonce for the signed action, which
   * anyone who saw it may broadcast again). Oldest nonce first, each with `mined`: the transaction and block
   * recorded when it was settled.
   */
  minedSince(fromBlock: number): Array<OutboxAction & { mined: MinedAt }> {
    const rows = this._db
      .prepare(
        `SELECT a.*, t.hash AS mined_hash, t.block_number AS mined_block, t.block_hash AS mined_block_hash
         FROM actions a JOIN txs t ON t.action_id = a.id
         WHERE a.status IN ('confirmed','cancelled') AND t.block_number IS NOT NULL AND t.block_number >= ?
         ORDER BY a.nonce, a.id`,
      )
      .all(fromBlock) as Array<Row & { mined_hash: string; mined_block: number; mined_block_hash: string }>;
    return rows.map((r) => ({
      ...this._toAction(r),
      mined: { hash: r.mined_hash, blockNumber: r.mined_block, blockHash: r.mined_block_hash },
    }));
  }

  /**
   * Reopen a confirmed or cancelled action whose receipt a reorg removed or moved: back to `sent` with `note`, the
   * recorded block cleared (its transactions and their bytes kept, so reconcile re-broadcasts or finds them).
   * @returns true when this call reopened it (false: neither confirmed nor cancelled).
   */
  reopen(id: number, note: string): boolean {
    return this._db.transaction(() => {
      const r = this._db
        .prepare(
          `UPDATE actions SET status = 'sent', note = ?, updated_at = ? WHERE id = ? AND status IN ('confirmed','cancelled')`,
        )
        .run(note, this.now(), id);
      if (r.changes === 1)
        this._db.prepare(`UPDATE txs SET block_number = NULL, block_hash = NULL WHERE action_id = ?`).run(id);
      return r.changes === 1;
    })();
  }

  private _note(id: number, note: string): void {
    this._db.prepare(`UPDATE actions SET note = ?, updated_at = ? WHERE id = ?`).run(note, this.now(), id);
  }

  /** One action with its transactions. */
  get(id: number): OutboxAction | undefined {
    return this._actions(`SELECT * FROM actions WHERE id = ?`, id)[0];
  }

  /** Actions that recorded a transaction at `nonce` (the nonce is set with the first broadcast), newest first. */
  atNonce(nonce: number): OutboxAction[] {
    return this._actions(`SELECT * FROM actions WHERE nonce = ? ORDER BY id DESC`, nonce);
  }

  /** Actions not finished (`pending` or `sent`), oldest first. */
  unfinished(): OutboxAction[] {
    return this._actions(`SELECT * FROM actions WHERE status IN ('pending','sent') ORDER BY id`);
  }

  /** True when an unfinished action of `kind` on `target` exists (no second intent for the same thing). */
  hasOpen(kind: ActionKind, target: string): boolean {
    const open = `SELECT * FROM actions WHERE kind = ? AND target = ? AND status IN ('pending','sent') LIMIT 1`;
    return this._actions(open, kind, target).length > 0;
  }

  /** Every action, newest first (status pages, tests). */
  list(limit = 100): OutboxAction[] {
    return this._actions(`SELECT * FROM actions ORDER BY id DESC LIMIT ?`, limit);
  }

  private _actions(sql: string, ...args: unknown[]): OutboxAction[] {
    return (this._db.prepare(sql).all(...args) as Row[]).map((r) => this._toAction(r));
  }
  close(): void {
    if (this._db.open) this._db.close();
  }

  private _toAction(row: Row): OutboxAction {
    const txs = (
      this._db
        .prepare(
          `SELECT hash, max_fee_per_gas, max_priority_fee_per_gas, sent_at, role, raw, block_number, block_hash
           FROM txs WHERE action_id = ? ORDER BY rowid`,
        )
        .all(row.id) as Array<{
        hash: string;
        max_fee_per_gas: string;
        max_priority_fee_per_gas: string;
        sent_at: number;
        role: TxRole | null;
        raw: string | null;
        block_number: number | null;
        block_hash: string | null;
      }>
    ).map((t) => ({
      hash: t.hash,
      maxFeePerGas: t.max_fee_per_gas,
      maxPriorityFeePerGas: t.max_priority_fee_per_gas,
      sentAt: t.sent_at,
      role: t.role,
      raw: t.raw,
      blockNumber: t.block_number,
      blockHash: t.block_hash,
    }));
    return {
      id: row.id,
      kind: row.kind,
      target: row.target,
      to: row.to_addr,
      data: row.calldata,
      status: row.status,
      nonce: row.nonce,
      note: row.note,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
      txs,
    };
  }
}
