/**
 * Source verification of what `npm run deploy` deployed, with @nomicfoundation/hardhat-verify. The requests
 * (address, fully qualified contract name, constructor arguments) are built by a pure function from Ignition's
 * journal, so they are tested without an explorer; {@link verifyAll} sends them through `verify:verify`.
 */
import fs from "node:fs";
import path from "node:path";

/** One `verify:verify` call. */
export interface VerifyRequest {
  /** Ignition future id, e.g. `VigilCore#MarketGuard`. */
  futureId: string;
  address: string;
  /** Fully qualified name, `contracts/MarketGuard.sol:MarketGuard`. */
  contract: string;
  /** As the contract was deployed (bigints restored), in constructor order. */
  constructorArguments: unknown[];
  libraries: Record<string, string>;
}

interface JournalMessage {
  type?: string;
  futureId?: string;
  futureType?: string;
  artifactId?: string;
  contractName?: string;
  constructorArgs?: unknown[];
  libraries?: Record<string, string>;
  result?: { type?: string; address?: string };
}

/** Undo Ignition's JSON encoding of bigints (`{ _kind: "bigint", value: "…" }`), recursively. */
export function reviveJournalValue(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reviveJournalValue);
  if (value && typeof value === "object") {
    const o = value as Record<string, unknown>;
    if (o._kind === "bigint" && typeof o.value === "string") return BigInt(o.value);
    return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, reviveJournalValue(v)]));
  }
  return value;
}

/**
 * The verify requests for every contract the journal deployed (not the ones it only referenced with
 * `contractAt`), in deployment order, pure.
 * @param journal The lines of `journal.jsonl`, parsed. @param sourceNameOf The source file of an artifact id
 * (`contracts/MarketGuard.sol`), from `artifacts/<artifactId>.json`.
 */
export function buildVerifyRequests(
  journal: readonly JournalMessage[],
  sourceNameOf: (artifactId: string) => string,
): VerifyRequest[] {
  const started = new Map<string, JournalMessage>();
  const out: VerifyRequest[] = [];
  for (const msg of journal) {
    if (msg.type === "DEPLOYMENT_EXECUTION_STATE_INITIALIZE" && msg.futureId) started.set(msg.futureId, msg);
    if (msg.type !== "DEPLOYMENT_EXECUTION_STATE_COMPLETE" || msg.result?.type !== "SUCCESS") continue;
    const init = started.get(msg.futureId ?? "");
    if (!init || !msg.result.address || !init.contractName) continue;
    out.push({
      futureId: init.futureId!,
      address: msg.result.address,
      contract: `${sourceNameOf(init.artifactId ?? init.futureId!)}:${init.contractName}`,
      constructorArguments: reviveJournalValue(init.constructorArgs ?? []) as unknown[],
      libraries: init.libraries ?? {},
    });
  }
  return out;
}

/** {@link buildVerifyRequests} for the deployment folder `ignition/deployments/<id>`. */
export function verifyRequestsOf(deploymentDir: string): VerifyRequest[] {
  const lines = fs
    .readFileSync(path.join(deploymentDir, "journal.jsonl"), "utf8")
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as JournalMessage);
  return buildVerifyRequests(lines, (artifactId) => {
    const file = path.join(deploymentDir, "artifacts", `${artifactId}.json`);
    return (JSON.parse(fs.readFileSync(file, "utf8")) as { sourceName: string }).sourceName;
  });
}

/** Whether an explorer API key is configured (hardhat-verify's `etherscan.apiKey`, a string or per network). */
export function hasExplorerKey(apiKey: unknown, network: string): boolean {
  if (typeof apiKey === "string") return apiKey.length > 0;
  if (apiKey && typeof apiKey === "object") return Boolean((apiKey as Record<string, string>)[network]);
  return false;
}

/**
 * Verify each request with `run("verify:verify", …)` (hardhat-verify), one after the other; a contract the
 * explorer already knows counts as verified. Never throws: failures are returned (and printed by the caller).
 * @returns one line per contract, and the number that failed.
 */
export async function verifyAll(
  run: (task: string, args: Record<string, unknown>) => Promise<unknown>,
  requests: readonly VerifyRequest[],
): Promise<{ lines: string[]; failed: number }> {
  const lines: string[] = [];
  let failed = 0;
  for (const r of requests) {
    try {
      await run("verify:verify", {
        address: r.address,
        contract: r.contract,
        constructorArguments: r.constructorArguments,
        libraries: r.libraries,
      });
      lines.push(`verified  ${r.futureId} ${r.address}`);
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      if (/already verified/i.test(message)) {
        lines.push(`verified  ${r.futureId} ${r.address} (already)`);
      } else {
        failed++;
        lines.push(`FAILED    ${r.futureId} ${r.address}: ${message.split("\n")[0]}`);
      }
    }
  }
  return { lines, failed };
}
