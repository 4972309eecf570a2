/**
 * Which Ignition deployment id `npm run deploy` uses, so that a journal is only resumed on the chain it was
 * written for. Ignition resumes a journal by id (`ignition/deployments/<id>`); on a chain that no longer holds
 * the journal's contracts (a restarted local node) it would print the old addresses and exit 0 with no code at
 * them. A journal belongs to the chain when the block of its first confirmed transaction has the same hash on
 * the chain (a restarted dev node replays the same deployer nonces to the same addresses, so code alone cannot
 * tell) and every contract it deployed has code there. The decision is pure apart from reading the journal
 * folders and asking the chain (through {@link ChainView}).
 */
import fs from "node:fs";
import path from "node:path";

/** Chain ids of local development nodes (hardhat, anvil: 31337; ganache: 1337). */
export const LOCAL_CHAIN_IDS: ReadonlySet<number> = new Set([31337, 1337]);

/** What the decision asks the chain. */
export interface ChainView {
  /** Whether `address` holds code. */
  hasCode(address: string): Promise<boolean>;
  /** The hash of block `n`; undefined when the chain has no such block. */
  blockHash(n: number): Promise<string | undefined>;
}

/** The deployment id to use, and what to tell the operator about it (empty when nothing is worth saying). */
export interface DeploymentChoice {
  id: string;
  note: string;
}

/** `ignition/deployments/<id>/deployed_addresses.json` as a map future id → address; empty when none. */
export function journalAddresses(deploymentsDir: string, id: string): Record<string, string> {
  const file = path.join(deploymentsDir, id, "deployed_addresses.json");
  if (!fs.existsSync(file)) return {};
  return JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, string>;
}

/** The block (number and hash) of the journal's first confirmed transaction; undefined when none. */
export function firstConfirmedBlock(
  deploymentsDir: string,
  id: string,
): { number: number; hash: string } | undefined {
  const file = path.join(deploymentsDir, id, "journal.jsonl");
  if (!fs.existsSync(file)) return undefined;
  for (const line of fs.readFileSync(file, "utf8").split("\n")) {
    if (!line.includes('"TRANSACTION_CONFIRM"')) continue;
    const m = JSON.parse(line) as { receipt?: { blockHash?: string; blockNumber?: number } };
    if (m.receipt?.blockHash && m.receipt.blockNumber !== undefined)
      return { number: m.receipt.blockNumber, hash: m.receipt.blockHash };
  }
  return undefined;
}

/**
 * Why journal `id` does not belong to the chain, one entry per finding: its first confirmed block has another
 * hash there (`block N is 0x… here, not 0x…`), or a contract it deployed has no code (`future id address`).
 * Empty when it belongs (or has deployed nothing yet).
 */
export async function journalMismatches(
  deploymentsDir: string,
  id: string,
  chain: ChainView,
): Promise<string[]> {
  const out: string[] = [];
  const first = firstConfirmedBlock(deploymentsDir, id);
  if (first) {
    const hash = await chain.blockHash(first.number);
    if (hash?.toLowerCase() !== first.hash.toLowerCase())
      out.push(`block ${first.number} is ${hash ?? "missing"} here, not ${first.hash}`);
  }
  for (const [future, address] of Object.entries(journalAddresses(deploymentsDir, id))) {
    if (!(await chain.hasCode(address))) out.push(`${future} ${address}`);
  }
  return out;
}

/**
 * Choose the deployment id for `chainId`.
 * - `explicitId` (VIGIL_DEPLOYMENT_ID) is used as given when its journal's contracts are on the chain (or it has
 *   none yet); otherwise it throws, saying to pick a new id.
 * - Without it the default is `chain-<chainId>`. When that journal's contracts are gone: on a local chain
 *   (31337, 1337) the newest `chain-<chainId>-<n>` journal whose contracts are all on the chain is resumed, or a
 *   fresh `chain-<chainId>-<n+1>` is started, and the note says so; elsewhere it throws, saying to set
 *   VIGIL_DEPLOYMENT_ID (or to point the network at the chain that has them).
 * @param deploymentsDir `ignition/deployments`. @param chain Reads the chain the deployment targets.
 * @throws Error with the missing contracts and what to do.
 */
export async function chooseDeploymentId(
  deploymentsDir: string,
  chainId: number,
  explicitId: string | undefined,
  chain: ChainView,
): Promise<DeploymentChoice> {
  const stale = async (id: string) => journalMismatches(deploymentsDir, id, chain);
  if (explicitId) {
    const missing = await stale(explicitId);
    if (missing.length) {
      throw new Error(
        `the journal ignition/deployments/${explicitId} does not match chain ${chainId} ` +
          `(${missing.slice(0, 3).join("; ")}${missing.length > 3 ? "; …" : ""}): it was written for another chain ` +
          `(e.g. before the node restarted). Set VIGIL_DEPLOYMENT_ID to a new id to deploy afresh, or point the ` +
          `network at the chain that has them.`,
      );
    }
    return { id: explicitId, note: "" };
  }
  const base = `chain-${chainId}`;
  const missing = await stale(base);
  if (!missing.length) return { id: base, note: "" };
  if (!LOCAL_CHAIN_IDS.has(chainId)) {
    throw new Error(
      `the journal ignition/deployments/${base} does not match chain ${chainId} ` +
        `(${missing.slice(0, 3).join("; ")}${missing.length > 3 ? "; …" : ""}): it was written for another chain. Point the network at the chain ` +
        `that has them to resume, or set VIGIL_DEPLOYMENT_ID=<new id> to deploy afresh (keep the old journal).`,
    );
  }
  const numbered = fs.existsSync(deploymentsDir)
    ? fs
        .readdirSync(deploymentsDir)
        .map((d) => new RegExp(`^${base}-([0-9]+)$`).exec(d))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => Number(m[1]))
        .sort((a, b) => b - a)
    : [];
  for (const n of numbered) {
    const id = `${base}-${n}`;
    if (firstConfirmedBlock(deploymentsDir, id) && !(await stale(id)).length) {
      return {
        id,
        note: `resuming deployment ${id}, written for this chain (${base} was written for an earlier one)`,
      };
    }
  }
  const id = `${base}-${(numbered[0] ?? 0) + 1}`;
  return {
    id,
    note:
      `this local chain is not the one ignition/deployments/${base} was written for (restarted node?): ` +
      `deploying afresh as ${id} (set VIGIL_DEPLOYMENT_ID to choose the id)`,
  };
}
