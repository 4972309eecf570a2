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
});
