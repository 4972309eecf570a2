import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import Database from "better-sqlite3";
import { Outbox, OUTBOX_SCHEMA_VERSION } from "../../keepers/responder/outbox";

describe("responder outbox", function () {
  let file: string;
  beforeEach(function () {
    file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "vigil-outbox-")), "outbox.sqlite");
  });

  it("uses WAL and records its schema version", function () {
    const o = new Outbox(file);
    o.close();
    const db = new Database(file);
    expect(db.pragma("journal_mode", { simple: true })).to.equal("wal");
    expect(db.pragma("user_version", { simple: true })).to.equal(OUTBOX_SCHEMA_VERSION);
    db.close();
  });

  it("refuses a file written by a newer schema", function () {
    const db = new Database(file);
    db.pragma(`user_version = ${OUTBOX_SCHEMA_VERSION + 1}`);
    db.close();
    expect(() => new Outbox(file)).to.throw(/schema/);
  });

  it("keeps intent, nonce and hashes across a crash, and finishes each action exactly once", function () {
    let o = new Outbox(file);
    const a = o.record("migrate", "0xaa", "0x00000000000000000000000000000000000000aa", "0x1234");
    const b = o.record("trip", "1", "0x00000000000000000000000000000000000000bb", "0x5678");
    o.recordBroadcast(b, 7, { hash: "0x01", maxFeePerGas: "10", maxPriorityFeePerGas: "1" });
    o.recordBroadcast(b, 7, { hash: "0x02", maxFeePerGas: "12", maxPriorityFeePerGas: "2" });
    const c = o.record("resume", "2", "0x00000000000000000000000000000000000000bb", "0x9abc");
    o.finish(c, "confirmed");
    expect(o.hasOpen("migrate", "0xaa")).to.equal(true);
    // crash: no close, just drop the handle and reopen the file
    o = new Outbox(file);
    const open = o.unfinished();
    expect(open.map((x) => [x.id, x.status, x.nonce])).to.deep.equal([
      [a, "pending", null],
      [b, "sent", 7],
    ]);
    expect(open[1].txs.map((t) => t.hash)).to.deep.equal(["0x01", "0x02"]);
    // reconcile: each finished once; a second finish is a no-op
    let finished = 0;
    for (const x of open) if (o.finish(x.id, x.kind === "trip" ? "confirmed" : "dropped")) finished++;
    for (const x of open) if (o.finish(x.id, "failed")) finished++;
    expect(finished).to.equal(2);
    o.close();
    o = new Outbox(file);
    expect(o.unfinished()).to.deep.equal([]);
    expect(o.get(b)?.status).to.equal("confirmed");
    expect(o.get(a)?.status).to.equal("dropped");
    expect(o.hasOpen("migrate", "0xaa")).to.equal(false);
    o.close();
  });

  it("migrates a schema 1 file in place: every row, hash and id kept, and kinds deliver and prove accepted", function () {
    // The schema 1 DDL exactly as the previous responder wrote it.
    const db = new Database(file);
    db.exec(`
      CREATE TABLE actions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL CHECK (kind IN ('submit','migrate','trip','resume')),
        target TEXT NOT NULL,
        to_addr TEXT NOT NULL,
        calldata TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending','sent','confirmed','dropped','failed')),
        nonce INTEGER,
        note TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
      CREATE INDEX actions_open ON actions(status) WHERE status IN ('pending','sent');
      CREATE TABLE txs (
        action_id INTEGER NOT NULL REFERENCES actions(id),
        hash TEXT NOT NULL UNIQUE,
        max_fee_per_gas TEXT NOT NULL,
        max_priority_fee_per_gas TEXT NOT NULL,
        sent_at INTEGER NOT NULL
      );
      INSERT INTO actions (kind, target, to_addr, calldata, status, nonce, note, created_at, updated_at) VALUES
        ('trip', '1', '0xbb', '0x01', 'sent', 7, NULL, 10, 11),
        ('migrate', '0xaa', '0xcc', '0x02', 'confirmed', 8, 'ok', 12, 13),
        ('resume', '1', '0xbb', '0x03', 'pending', NULL, NULL, 14, 14);
      INSERT INTO txs VALUES (1, '0x01', '10', '1', 11), (1, '0x02', '12', '2', 12), (2, '0x03', '5', '1', 13);
      DELETE FROM actions WHERE id = 3;
      PRAGMA user_version = 1;
    `);
    expect(() =>
      db
        .prepare(
          `INSERT INTO actions (kind, target, to_addr, calldata, status, created_at, updated_at)
      VALUES ('deliver', '1', '0xbb', '0x', 'pending', 1, 1)`,
        )
        .run(),
    ).to.throw(/CHECK/);
    const before = db.prepare(`SELECT * FROM actions ORDER BY id`).all();
    db.close();

    let o = new Outbox(file, () => 100);
    const raw = new Database(file);
    expect(raw.pragma("user_version", { simple: true })).to.equal(OUTBOX_SCHEMA_VERSION);
    expect(raw.prepare(`SELECT * FROM actions ORDER BY id`).all()).to.deep.equal(before);
    expect(raw.pragma("foreign_key_check")).to.deep.equal([]);
    expect(raw.prepare(`SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'actions_open'`).get())
      .to.exist;
    raw.close();
    const open = o.unfinished();
    expect(open.map((x) => [x.id, x.kind, x.status, x.nonce])).to.deep.equal([[1, "trip", "sent", 7]]);
    expect(open[0].txs.map((t) => t.hash)).to.deep.equal(["0x01", "0x02"]);
    expect(o.get(2)?.txs.map((t) => t.hash)).to.deep.equal(["0x03"]);
    // The AUTOINCREMENT counter survives: the deleted id 3 is not reused.
    const d = o.record("deliver", "1", "0x00000000000000000000000000000000000000bb", "0xdead");
    expect(d).to.equal(4);
    expect(o.hasOpen("deliver", "1")).to.equal(true);
    o.recordBroadcast(d, 9, { hash: "0x04", maxFeePerGas: "10", maxPriorityFeePerGas: "1" });
    o.close();
    // Reopening the migrated file is a no-op.
    o = new Outbox(file);
    expect(o.get(d)).to.include({ kind: "deliver", status: "sent", nonce: 9 });
    expect(o.list(10).map((x) => x.id)).to.deep.equal([4, 2, 1]);
    const p = o.record("prove", "0xaa", "0x00000000000000000000000000000000000000cc", "0xbeef");
    expect(o.get(p)).to.include({ kind: "prove", status: "pending" });
    o.close();
  });

  it("migrates a schema 2 file in place: rows and the id counter kept, and kind prove accepted", function () {
    // The schema 2 DDL exactly as the previous responder wrote it.
    const db = new Database(file);
    db.exec(`
      CREATE TABLE actions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL CHECK (kind IN ('submit','migrate','trip','resume','deliver')),
        target TEXT NOT NULL,
        to_addr TEXT NOT NULL,
        calldata TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending','sent','confirmed','dropped','failed')),
        nonce INTEGER,
        note TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
      CREATE INDEX actions_open ON actions(status) WHERE status IN ('pending','sent');
      CREATE TABLE txs (
        action_id INTEGER NOT NULL REFERENCES actions(id),
        hash TEXT NOT NULL UNIQUE,
        max_fee_per_gas TEXT NOT NULL,
        max_priority_fee_per_gas TEXT NOT NULL,
        sent_at INTEGER NOT NULL
      );
      INSERT INTO actions (kind, target, to_addr, calldata, status, nonce, note, created_at, updated_at) VALUES
        ('deliver', '1', '0xbb', '0x01', 'sent', 7, NULL, 10, 11),
        ('submit', 'round 5', '0xcc', '0x02', 'confirmed', 8, NULL, 12, 13),
        ('trip', '1', '0xbb', '0x03', 'failed', NULL, 'x', 14, 14);
      INSERT INTO txs VALUES (1, '0x01', '10', '1', 11), (2, '0x02', '5', '1', 13);
      DELETE FROM actions WHERE id = 3;
      PRAGMA user_version = 2;
    `);
    expect(() =>
      db
        .prepare(
          `INSERT INTO actions (kind, target, to_addr, calldata, status, created_at, updated_at)
      VALUES ('prove', '0xaa', '0xcc', '0x', 'pending', 1, 1)`,
        )
        .run(),
    ).to.throw(/CHECK/);
    const before = db.prepare(`SELECT * FROM actions ORDER BY id`).all();
    db.close();

    const o = new Outbox(file, () => 100);
    const raw = new Database(file);
    expect(raw.pragma("user_version", { simple: true })).to.equal(OUTBOX_SCHEMA_VERSION);
    expect(raw.prepare(`SELECT * FROM actions ORDER BY id`).all()).to.deep.equal(before);
    expect(raw.pragma("foreign_key_check")).to.deep.equal([]);
    raw.close();
    expect(o.unfinished().map((x) => [x.id, x.kind, x.status, x.nonce])).to.deep.equal([
      [1, "deliver", "sent", 7],
    ]);
    const p = o.record("prove", "0xaa", "0x00000000000000000000000000000000000000cc", "0xbeef");
    expect(p).to.equal(4);
    expect(o.hasOpen("prove", "0xaa")).to.equal(true);
    o.close();
  });

  it("migrates a schema 3 file in place: rows kept, old transactions without role or bytes, status cancelled accepted", function () {
    // The schema 3 DDL exactly as the previous responder wrote it.
    const db = new Database(file);
    db.exec(`
      CREATE TABLE actions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL CHECK (kind IN ('submit','migrate','trip','resume','deliver','prove')),
        target TEXT NOT NULL,
        to_addr TEXT NOT NULL,
        calldata TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending','sent','confirmed','dropped','failed')),
        nonce INTEGER,
        note TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
      CREATE INDEX actions_open ON actions(status) WHERE status IN ('pending','sent');
      CREATE TABLE txs (
        action_id INTEGER NOT NULL REFERENCES actions(id),
        hash TEXT NOT NULL UNIQUE,
        max_fee_per_gas TEXT NOT NULL,
        max_priority_fee_per_gas TEXT NOT NULL,
        sent_at INTEGER NOT NULL
      );
      INSERT INTO actions (kind, target, to_addr, calldata, status, nonce, note, created_at, updated_at) VALUES
        ('trip', '1', '0xbb', '0x01', 'sent', 7, NULL, 10, 11),
        ('prove', '0xaa', '0xcc', '0x02', 'confirmed', 8, NULL, 12, 13);
      INSERT INTO txs VALUES (1, '0x01', '10', '1', 11), (1, '0x02', '12', '2', 12), (2, '0x03', '5', '1', 13);
      PRAGMA user_version = 3;
    `);
    expect(() => db.prepare(`UPDATE actions SET status = 'cancelled' WHERE id = 1`).run()).to.throw(/CHECK/);
    const before = db.prepare(`SELECT * FROM actions ORDER BY id`).all();
    db.close();

    const o = new Outbox(file, () => 100);
    const raw = new Database(file);
    expect(raw.pragma("user_version", { simple: true })).to.equal(OUTBOX_SCHEMA_VERSION);
    expect(raw.prepare(`SELECT * FROM actions ORDER BY id`).all()).to.deep.equal(before);
    expect(raw.pragma("foreign_key_check")).to.deep.equal([]);
    raw.close();
    const [trip] = o.unfinished();
    expect(trip.txs).to.deep.equal([
      {
        hash: "0x01",
        maxFeePerGas: "10",
        maxPriorityFeePerGas: "1",
        sentAt: 11,
        role: null,
        raw: null,
        blockNumber: null,
        blockHash: null,
      },
      {
        hash: "0x02",
        maxFeePerGas: "12",
        maxPriorityFeePerGas: "2",
        sentAt: 12,
        role: null,
        raw: null,
        blockNumber: null,
        blockHash: null,
      },
    ]);
    o.recordBroadcast(1, 7, {
      hash: "0x04",
      maxFeePerGas: "20",
      maxPriorityFeePerGas: "3",
      role: "cancel",
      raw: "0xf00d",
    });
    expect(o.finish(1, "cancelled", "deadline passed")).to.equal(true);
    expect(o.get(1)).to.include({ status: "cancelled" });
    expect(o.get(1)?.txs[2]).to.include({ role: "cancel", raw: "0xf00d" });
    expect(o.record("trip", "1", "0x00000000000000000000000000000000000000bb", "0x05")).to.equal(3);
    o.close();
  });

  it("keeps role, bytes and the mined block; a cancel is never confirmed; reopens an action a reorg removed", function () {
    const o = new Outbox(file);
    const fees = { maxFeePerGas: "10", maxPriorityFeePerGas: "1" };
    const a = o.record("trip", "1", "0x00000000000000000000000000000000000000bb", "0x01");
    o.recordBroadcast(a, 3, { hash: "0xa1", ...fees, role: "action", raw: "0x01aa" });
    const receipt = (hash: string, blockNumber: number, blockHash: string) =>
      ({ hash, blockNumber, blockHash }) as unknown as import("ethers").TransactionReceipt;
    expect(
      o.settle(a, { outcome: "confirmed", receipt: receipt("0xa1", 40, "0xb40"), nonce: 3, replacements: 0 }),
    ).to.equal("confirmed");
    const b = o.record("migrate", "0xaa", "0x00000000000000000000000000000000000000cc", "0x02");
    o.recordBroadcast(b, 4, { hash: "0xb1", ...fees, role: "action", raw: "0x01bb" });
    o.recordBroadcast(b, 4, { hash: "0xb2", ...fees, role: "cancel", raw: "0x01bc" });
    // A cancel still pending: either transaction may be mined; the action stays open.
    expect(o.settle(b, { outcome: "cancelled", nonce: 4, hash: "0xb2", mined: false })).to.equal("sent");
    expect(o.hasOpen("migrate", "0xaa")).to.equal(true);
    expect(
      o.settle(b, {
        outcome: "cancelled",
        nonce: 4,
        hash: "0xb2",
        mined: true,
        receipt: receipt("0xb2", 41, "0xb41"),
      }),
    ).to.equal("cancelled");
    expect(
      o.settle(b, { outcome: "confirmed", receipt: receipt("0xb2", 41, "0xb41"), nonce: 4, replacements: 0 }),
    ).to.equal("cancelled");
    const c = o.record("resume", "2", "0x00000000000000000000000000000000000000bb", "0x03");
    o.recordBroadcast(c, 5, { hash: "0xc1", ...fees, role: "action", raw: "0x01cc" });
    o.settle(c, { outcome: "confirmed", receipt: receipt("0xc1", 30, "0xb30"), nonce: 5, replacements: 0 });

    expect(o.minedSince(35).map((x) => [x.id, x.mined])).to.deep.equal([
      [a, { hash: "0xa1", blockNumber: 40, blockHash: "0xb40" }],
      [b, { hash: "0xb2", blockNumber: 41, blockHash: "0xb41" }],
    ]);
    expect(o.minedSince(0).map((x) => x.id)).to.deep.equal([a, b, c]);
    expect(o.reopen(a, "receipt vanished (reorg)")).to.equal(true);
    expect(o.reopen(a, "again")).to.equal(false);
    expect(o.reopen(b, "its cancel vanished (reorg)")).to.equal(true);
    const d = o.record("prove", "0xdd", "0x00000000000000000000000000000000000000cc", "0x04");
    o.finish(d, "dropped", "lost race");
    expect(o.reopen(d, "a dropped action is not reopened")).to.equal(false);
    expect(o.get(a)).to.include({ status: "sent", note: "receipt vanished (reorg)" });
    expect(o.get(a)?.txs[0]).to.include({
      hash: "0xa1",
      raw: "0x01aa",
      role: "action",
      blockNumber: null,
      blockHash: null,
    });
    expect(o.minedSince(0).map((x) => x.id)).to.deep.equal([c]);
    expect(o.unfinished().map((x) => x.id)).to.deep.equal([a, b]);
    o.close();
  });
});
