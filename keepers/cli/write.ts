/**
 * What every write command of the operator CLI shares (admin.ts, market.ts): the signing options, sending one
 * transaction and reading the events it emitted, opening and closing the chain context, and printing a result
 * as text or JSON.
 */
import { Command, Option } from "commander";
import type { BaseContract, ContractTransactionResponse, Interface, LogDescription } from "ethers";
import { intOption, withCommonOptions, type CommonOptions } from "../shared/cli";
import { VigilError } from "../shared/errors";
// ./context (ethers, the contract typings, zod, yaml) loads when a command runs, not for `vigil --help`.
import type { CliContext } from "./context";
import type { CliIo } from "./io";

/** The options of a write command: the common ones plus `--keystore`, `--confirmations`, `--json`. */
export interface WriteOptions extends CommonOptions {
  keystore?: string;
  confirmations: number;
  json?: boolean;
}

/**
 * Add the write options to `cmd`: the common options (with `--guard` when `guard`), `--keystore` for the admin
 * key (used when `$VIGIL_ADMIN_KEY` is unset), `--confirmations` (1..64 blocks, default 1) and `--json`.
 */
export function withWriteOptions(cmd: Command, guard = false): Command {
  return withCommonOptions(cmd, { guard, keyEnv: "VIGIL_ADMIN_KEY" })
    .addOption(
      new Option("--confirmations <n>", "blocks to wait for after inclusion")
        .argParser(intOption(1, 64))
        .default(1),
    )
    .option("--json", "print the result as JSON (default: text)");
}

/** A mined transaction: its hash, block number and the logs `iface` could parse. */
export interface Sent {
  hash: string;
  block: number;
  events: LogDescription[];
}

/**
 * Send one transaction (`tx`), wait for `confirmations` blocks and return the parsed logs of `iface`.
 * @param what The contract function, for messages (`registerMarket`).
 * @throws VIGIL_TX naming the custom error and its arguments when it reverts (at estimation or in the block),
 * or the transport's message when it could not be sent.
 */
export async function send(
  what: string,
  iface: Interface,
  tx: () => Promise<ContractTransactionResponse>,
  confirmations: number,
): Promise<Sent> {
  const { txError } = await import("./context");
  let response: ContractTransactionResponse;
  try {
    response = await tx();
  } catch (e) {
    throw txError(e, what);
  }
  const receipt = await response.wait(confirmations).catch((e) => {
    throw txError(e, what);
  });
  if (!receipt || receipt.status !== 1)
    throw new VigilError("VIGIL_TX", `${what} failed in block`, `tx ${response.hash}`);
  const events = receipt.logs.flatMap((l) => {
    try {
      const p = iface.parseLog(l);
      return p ? [p] : [];
    } catch {
      return [];
    }
  });
  return { hash: receipt.hash, block: receipt.blockNumber, events };
}

/**
 * Deploy a contract from a TypeChain factory's `deploy(...)` and wait for `confirmations` blocks.
 * @returns the contract's address and the deployment transaction's hash.
 * @throws VIGIL_TX naming the contract when the deployment reverts or cannot be sent.
 */
export async function deployContract(
  name: string,
  deploy: () => Promise<BaseContract>,
  confirmations: number,
): Promise<{ address: string; hash: string }> {
  const { txError } = await import("./context");
  try {
    const contract = await deploy();
    const tx = contract.deploymentTransaction();
    if (tx) await tx.wait(confirmations);
    return { address: await contract.getAddress(), hash: tx?.hash ?? "" };
  } catch (e) {
    throw txError(e, `deploying ${name}`);
  }
}

/** Open the chain context for `opts` (see {@link openContext}), run `fn`, and always close it. */
export async function withContext<T>(
  opts: CommonOptions,
  io: CliIo,
  fn: (ctx: CliContext) => Promise<T>,
): Promise<T> {
  const { openContext } = await import("./context");
  const ctx = await openContext(opts, io.env);
  try {
    return await fn(ctx);
  } finally {
    ctx.close();
  }
}

/** Print `result` as indented JSON (`--json`) or as `key: value` lines (arrays comma-joined). */
export function print(io: CliIo, json: boolean | undefined, result: Record<string, unknown>): void {
  if (json) io.out(JSON.stringify(result, null, 2) + "\n");
  else
    io.out(
      Object.entries(result)
        .map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(", ") : String(v)}`)
        .join("\n") + "\n",
    );
}

/** Variadic option parser that validates each value and collects them. */
export function collect<T>(parse: (v: string) => T): (value: string, previous: T[] | undefined) => T[] {
  return (value, previous) => [...(previous ?? []), parse(value)];
}
