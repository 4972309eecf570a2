/**
 * Which Ignition deployment id `npm run deploy` uses, so that a journal is only resumed on the chain it was
 * written for. Ignition resumes a journal by id (`ignition/deployments/<id>`); on a chain that no longer holds
 * the journal's contracts (a restarted local node) it would print the old addresses and exit 0 with no code at
 * them. The decision is pure apart from reading the journal folders and asking the chain for code.
 */
import fs from "node:fs";
import path from "node:path";

/** Chain ids of local development nodes (hardhat, anvil: 31337; ganache: 1337). */
export const LOCAL_CHAIN_IDS: ReadonlySet<number> = new Set([31337, 1337]);

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

/** The journal's contracts that have no code on the chain (`hasCode` asks it), as `future id address`. */
export async function missingContracts(
  addresses: Record<string, string>,
  hasCode: (address: string) => Promise<boolean>,
): Promise<string[]> {
  const missing: string[] = [];
  for (const [future, address] of Object.entries(addresses)) {
    if (!(await hasCode(address))) missing.push(`${future} ${address}`);
  }
  return missing;
}

/**
 * Choose the deployment id for `chainId`.
 * - `explicitId` (VIGIL_DEPLOYMENT_ID) is used as given when its journal's contracts are on the chain (or it has
 *   none yet); otherwise it throws, saying to pick a new id.
 * - Without it the default is `chain-<chainId>`. When that journal's contracts are gone: on a local chain
 *   (31337, 1337) the newest `chain-<chainId>-<n>` journal whose contracts are all on the chain is resumed, or a
 *   fresh `chain-<chainId>-<n+1>` is started, and the note says so; elsewhere it throws, saying to set
 *   VIGIL_DEPLOYMENT_ID (or to point the network at the chain that has them).
 * @param deploymentsDir `ignition/deployments`. @param hasCode Whether an address holds code on the chain.
 * @throws Error with the missing contracts and what to do.
 */
export async function chooseDeploymentId(
  deploymentsDir: string,
  chainId: number,
  explicitId: string | undefined,
  hasCode: (address: string) => Promise<boolean>,
): Promise<DeploymentChoice> {
  const stale = async (id: string) => missingContracts(journalAddresses(deploymentsDir, id), hasCode);
  if (explicitId) {
    const missing = await stale(explicitId);
    if (missing.length) {
      throw new Error(
        `the journal ignition/deployments/${explicitId} lists contracts that chain ${chainId} does not have ` +
          `(${missing.slice(0, 3).join(", ")}${missing.length > 3 ? ", …" : ""}): it was written for another chain ` +
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
      `the journal ignition/deployments/${base} lists contracts that chain ${chainId} does not have ` +
        `(${missing.slice(0, 3).join(", ")}${missing.length > 3 ? ", …" : ""}). Point the network at the chain ` +
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
    if (Object.keys(journalAddresses(deploymentsDir, id)).length && !(await stale(id)).length) {
      return { id, note: `resuming deployment ${id}: its contracts are on this chain (${base}'s are not)` };
    }
  }
  const id = `${base}-${(numbered[0] ?? 0) + 1}`;
  return {
    id,
    note:
      `this local chain no longer has the contracts of ignition/deployments/${base} (restarted node?): ` +
      `deploying afresh as ${id} (set VIGIL_DEPLOYMENT_ID to choose the id)`,
  };
}
