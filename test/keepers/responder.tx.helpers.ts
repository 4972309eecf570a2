/** Shared by the responder.tx*.test.ts files: counter and reverter contracts, a logger that says what it logged. */
import { JsonRpcProvider, Wallet } from "ethers";
import { createLogger } from "../../keepers/shared/logger";
import type { Anvil } from "./helpers/anvil";

/** Runtime `slot0 += 1` (PUSH1 1 PUSH1 0 SLOAD ADD PUSH1 0 SSTORE STOP) behind a minimal constructor. */
export const COUNTER_INIT = "0x600a600c600039600a6000f3" + "60016000540160005500";

/** A contract that always reverts with `data`. */
export function reverterInit(data: string): string {
  const bytes = (data.length - 2) / 2;
  const L = bytes.toString(16).padStart(2, "0");
  const runtime = `60${L}600c60003960${L}6000fd` + data.slice(2);
  const rl = ((runtime.length / 2) | 0).toString(16).padStart(2, "0");
  return `0x60${rl}600c60003960${rl}6000f3` + runtime;
}

export const logger = createLogger("test", { level: "silent" });

/**
 * A logger for one TxManager, and `logged(msg, n)`: resolves once `n` lines with that message were
 * written (what the manager did, as it says it: a wait on its state, not on a time).
 */
export function listeningLogger() {
  const counts = new Map<string, number>();
  let waiters: Array<{ msg: string; n: number; resolve(): void }> = [];
  const logger = createLogger("test", {
    level: "info",
    destination: {
      write: (line: string) => {
        const msg = (JSON.parse(line) as { msg: string }).msg;
        counts.set(msg, (counts.get(msg) ?? 0) + 1);
        waiters = waiters.filter((w) => ((counts.get(w.msg) ?? 0) >= w.n ? void w.resolve() : true));
      },
    },
  });
  const logged = (msg: string, n = 1) =>
    new Promise<void>((resolve) =>
      (counts.get(msg) ?? 0) >= n ? resolve() : waiters.push({ msg, n, resolve }),
    );
  return { logger, logged };
}

export async function deploy(p: JsonRpcProvider, w: Wallet, init: string, anvil?: Anvil): Promise<string> {
  const tx = await w.connect(p).sendTransaction({ data: init });
  if (anvil) await anvil.mine();
  const r = await tx.wait();
  return r!.contractAddress!;
}
