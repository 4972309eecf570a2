import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import Database from "better-sqlite3";
import { HDNodeWallet, type JsonRpcProvider, Wallet } from "ethers";
import { Outbox } from "../../keepers/responder/outbox";
import type { CrashPoint } from "../../keepers/shared/crash";
import { Anvil, ANVIL_KEYS } from "./helpers/anvil";

/** Runtime `slot0 += 1` behind a minimal constructor: the action's on-chain effect, counted. */
const COUNTER_INIT = "0x600a600c600039600a6000f3" + "60016000540160005500";
const CHILD = path.join(__dirname, "responder.crash.child.ts");
const MNEMONIC = "test test test test test test test test test test test junk";
const key = (i: number) => HDNodeWallet.fromPhrase(MNEMONIC, undefined, `m/44'/60'/0'/0/${i}`).privateKey;

interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Run the child to its end (an exit or a SIGKILL), calling `tick` every 100 ms while it runs. */
function runChild(env: NodeJS.ProcessEnv, tick?: () => Promise<void>): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", CHILD], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    let done = false;
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      done = true;
      resolve({ code, signal, stdout, stderr });
    });
    if (tick)
      void (async () => {
        while (!done) {
          await tick().catch(() => undefined);
          // The miner's poll interval, not a margin: `tick` mines only once the node holds the transaction the
          // outbox recorded last, and the test waits for the child's exit and the chain's state.
          await new Promise((r) => setTimeout(r, 100));
        }
      })();
  });
}

/**
 * Each case: the first process dies by SIGKILL at `point`; a block is mined between the two runs or not; the
 * second process recovers from the outbox while a miner mines only once the node holds the last transaction the
 * outbox recorded (so a re-broadcast cancel, not the action it replaces, is what gets mined when the cancel was
 * recorded last). `expected`: the outbox's final status, which is what happened on-chain.
 */
const CASES: Array<{
  point: CrashPoint;
  cancel: boolean;
  mineBetween: boolean;
  expected: "confirmed" | "cancelled";
}> = [
  { point: "recorded", cancel: false, mineBetween: false, expected: "confirmed" },
  { point: "signed", cancel: false, mineBetween: false, expected: "confirmed" },
  { point: "broadcast", cancel: false, mineBetween: false, expected: "confirmed" },
  { point: "broadcast", cancel: false, mineBetween: true, expected: "confirmed" },
  { point: "awaiting_receipt", cancel: false, mineBetween: false, expected: "confirmed" },
  { point: "awaiting_receipt", cancel: false, mineBetween: true, expected: "confirmed" },
  // The cancel was signed, never broadcast: a block mined before the restart mines the action (it ran).
  { point: "cancel_signed", cancel: true, mineBetween: true, expected: "confirmed" },
  // The restart broadcasts the recorded cancel again; it replaces the action and is mined.
  { point: "cancel_signed", cancel: true, mineBetween: false, expected: "cancelled" },
  // The cancel replaced the action in the pool and was mined before the restart: the action never ran.
  { point: "cancel_broadcast", cancel: true, mineBetween: true, expected: "cancelled" },
  { point: "cancel_broadcast", cancel: true, mineBetween: false, expected: "cancelled" },
];

describe("responder crash recovery: SIGKILL at every crash point of an action and of its cancel", function () {
  this.timeout(600_000);
  let anvil: Anvil;
  let provider: JsonRpcProvider;
  let dir: string;
  before(async function () {
    // Mining off: nothing is mined unless the test mines it, so each crash leaves the state it names.
    anvil = await Anvil.start({ noMining: true, args: ["--accounts", String(CASES.length + 2)] });
    provider = anvil.provider();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "vigil-crash-"));
  });
  after(async function () {
    provider.destroy();
    await anvil.stop();
  });

  async function deployCounter(): Promise<string> {
    const deployer = new Wallet(ANVIL_KEYS[0], provider);
    const tx = await deployer.sendTransaction({ data: COUNTER_INIT });
    await anvil.mine();
    return (await tx.wait())!.contractAddress!;
  }

  CASES.forEach((c, i) => {
    it(`${c.point}${c.mineBetween ? ", a block mined before the restart" : ""}: ${c.expected}, one effect at most, no nonce gap`, async function () {
      const signer = new Wallet(key(i + 1), provider);
      const counter = await deployCounter();
      const file = path.join(dir, `outbox-${i}.sqlite`);
      const env = {
        CRASH_RPC: anvil.url,
        CRASH_CHAIN_ID: String(anvil.chainId),
        CRASH_KEY: signer.privateKey,
        CRASH_OUTBOX: file,
        CRASH_TO: counter,
        // A cancel case: the action stays pending (nothing mines) until its deadline passes and it is cancelled.
        CRASH_DEADLINE_MS: String(c.cancel ? 1_500 : 600_000),
      };
      const start = await provider.getTransactionCount(signer.address, "latest");

      const first = await runChild({ ...env, VIGIL_FAULT_KILL_AT: c.point });
      expect(first.signal, `first run: ${first.stdout} ${first.stderr}`).to.equal("SIGKILL");
      if (c.mineBetween) await anvil.mine();

      // The miner: mine once the node holds the last transaction the outbox recorded.
      const lastRecorded = (): string | undefined => {
        const db = new Database(file, { readonly: true, fileMustExist: true });
        try {
          return (
            db.prepare(`SELECT hash FROM txs ORDER BY rowid DESC LIMIT 1`).get() as
              { hash: string } | undefined
          )?.hash;
        } finally {
          db.close();
        }
      };
      const miner = async () => {
        const hash = lastRecorded();
        const pending = hash ? await provider.getTransaction(hash) : null;
        if (pending && pending.blockNumber == null) await anvil.mine();
      };
      const second = await runChild(env, miner);
      expect(second.code, `second run: ${second.stdout} ${second.stderr}`).to.equal(0);
      const printed = JSON.parse(second.stdout.trim().split("\n").pop()!) as { status: string };
      expect(printed.status).to.equal(c.expected);

      // The outbox tells the truth: its status is what the chain says happened.
      const outbox = new Outbox(file);
      const [action] = outbox.list(10);
      outbox.close();
      expect(action.status).to.equal(c.expected);
      const effects = BigInt(await provider.getStorage(counter, 0));
      expect(effects).to.equal(c.expected === "confirmed" ? 1n : 0n);
      if (c.expected === "cancelled") {
        const cancel = action.txs.find((t) => t.role === "cancel")!;
        const receipt = await provider.getTransactionReceipt(cancel.hash);
        expect(receipt?.status, "the recorded cancel is what was mined").to.equal(1);
      }
      // No nonce gap: nothing of ours left pending, and exactly one nonce used (by the action or its cancel).
      const latest = await provider.getTransactionCount(signer.address, "latest");
      const pending = await provider.getTransactionCount(signer.address, "pending");
      expect(pending).to.equal(latest);
      expect(latest).to.equal(start + 1);
      expect(action.nonce).to.equal(start);
    });
  });
});
