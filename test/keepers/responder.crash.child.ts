/**
 * The process responder.crash.test.ts kills: one action through the outbox and the TxManager, as the responder
 * does it (record, crash point "recorded", execute with every signed transaction recorded before its broadcast,
 * settle the outcome), or, when the outbox holds an unfinished action, its recovery (execute with the recorded
 * transactions, the deadline counted from when the action was recorded). `VIGIL_FAULT_KILL_AT` picks the crash
 * point. Prints one JSON line: the action's final status. Not a test: loaded by mocha, it does nothing.
 *
 * Environment: CRASH_RPC, CRASH_CHAIN_ID, CRASH_KEY, CRASH_OUTBOX, CRASH_TO (the counter), CRASH_DEADLINE_MS
 * (after the record), CRASH_STUCK_MS.
 */
import { JsonRpcProvider, Network, parseUnits, Wallet } from "ethers";
import { crashHookFromEnv } from "../../keepers/shared/crash";
import { createLogger } from "../../keepers/shared/logger";
import { Outbox } from "../../keepers/responder/outbox";
import { vigilReverts } from "../../keepers/responder/reverts";
import { TxManager } from "../../keepers/responder/tx";

async function main(env: NodeJS.ProcessEnv): Promise<void> {
  const chainId = Number(env.CRASH_CHAIN_ID);
  const network = Network.from(chainId);
  const provider = new JsonRpcProvider(env.CRASH_RPC, network, {
    staticNetwork: network,
    batchMaxCount: 1,
    cacheTimeout: -1,
  });
  const crash = crashHookFromEnv(env);
  const outbox = new Outbox(env.CRASH_OUTBOX!);
  const tx = new TxManager({
    wallet: new Wallet(env.CRASH_KEY!, provider),
    provider,
    chainId,
    logger: createLogger("crash-child", { level: env.CRASH_LOG ?? "silent" }),
    reverts: vigilReverts,
    crash,
    maxFeeCapWei: parseUnits("100", "gwei"),
    stuckAfterMs: Number(env.CRASH_STUCK_MS ?? 60_000),
    pollMs: 50,
  });
  const deadlineAfter = Number(env.CRASH_DEADLINE_MS);
  let action = outbox.unfinished()[0];
  if (!action) {
    const id = outbox.record("trip", "1", env.CRASH_TO!, "0x");
    crash?.("recorded");
    action = outbox.get(id)!;
  }
  const id = action.id;
  const outcome = await tx.execute(
    { to: action.to, data: action.data },
    {
      resumeTxs: action.txs,
      deadlineMs: action.createdAt + deadlineAfter,
      onSigned: (nonce, t) =>
        outbox.recordBroadcast(id, nonce, {
          hash: t.hash,
          raw: t.raw,
          role: t.role,
          maxFeePerGas: String(t.maxFeePerGas),
          maxPriorityFeePerGas: String(t.maxPriorityFeePerGas),
        }),
    },
  );
  const status = outbox.settle(id, outcome, action.txs.length > 0);
  process.stdout.write(
    JSON.stringify({ id, status, outcome: outcome.outcome, note: outbox.get(id)!.note }) + "\n",
  );
  outbox.close();
  provider.destroy();
}

if (require.main === module) {
  main(process.env).catch((e) => {
    process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(1);
  });
}
