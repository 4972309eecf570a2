/**
 * How the RPC pool combines its members' answers to one request. Each strategy gets the members to ask (in
 * preference order) and `ask`, which runs one member request under the pool's deadline and keeps the
 * member's up/down state; a strategy never waits on a member longer than that deadline.
 */
import { Transaction, type PerformActionRequest } from "ethers";
import { isAlreadyKnown, isAnswer, isTransportError } from "./errors";
import type { RpcMember } from "./member";

/** One member request under the pool's deadline (see RpcPool). */
export type Ask = <T>(m: RpcMember, method: string, fn: () => Promise<T>) => Promise<T>;
/** The request to make of one member. */
export type Call = (m: RpcMember) => Promise<unknown>;

/**
 * Ask every member at once; the answer with the highest `score` (a block number, a nonce): a frozen or
 * lagging member is outvoted; `score` may rule a member's answer out with -1. `onScore` sees every answer's score (the pool learns heads from it).
 * @throws the most telling error (a node's answer before a transport error) when no member answered.
 */
export async function highest(
  members: readonly RpcMember[],
  ask: Ask,
  method: string,
  call: Call,
  score: (v: unknown, m: RpcMember) => number,
  onScore?: (m: RpcMember, n: number) => void,
): Promise<unknown> {
  const settled = await Promise.all(
    members.map((m) =>
      ask(m, method, () => call(m)).then(
        (value) => ({ m, ok: true as const, value, n: score(value, m) }),
        (error: unknown) => ({ m, ok: false as const, error }),
      ),
    ),
  );
  let best: { value: unknown; n: number } | undefined;
  for (const s of settled) {
    if (!s.ok) continue;
    onScore?.(s.m, s.n);
    if (!best || s.n > best.n) best = s;
  }
  if (best) return best.value;
  throw firstError(settled.map((s) => (s.ok ? undefined : s.error)));
}

/**
 * Ask every member at once; fresh members' answers win (a receipt, a transaction, a block by hash or number):
 * the first non-null from a fresh member, else null when a fresh member answered null (a frozen or lagging
 * member's pre-reorg receipt must not settle an action). Members that are not fresh are the fallback only
 * when no fresh member answered at all (every one failed, or none is fresh): then their first non-null, or
 * null when one answered null. @throws when no member answered.
 */
export async function firstNonNull(
  members: readonly RpcMember[],
  ask: Ask,
  method: string,
  call: Call,
  isFresh: (m: RpcMember) => boolean = () => true,
): Promise<unknown> {
  const start = (list: readonly RpcMember[]) => nonNullOf(list.map((m) => ask(m, method, () => call(m))));
  const fresh = start(members.filter(isFresh));
  const rest = start(members.filter((m) => !isFresh(m)));
  const first = await fresh;
  if (first.answered) return first.value;
  const second = await rest;
  if (second.answered) return second.value;
  throw firstError([...first.errors, ...second.errors]);
}

/** The first non-null of `answers`, else null when one answered null; `answered` false when all failed. */
function nonNullOf(
  answers: readonly Promise<unknown>[],
): Promise<{ answered: boolean; value: unknown; errors: unknown[] }> {
  return new Promise((resolve) => {
    const errors: unknown[] = [];
    let pending = answers.length;
    let nulls = 0;
    if (pending === 0) return resolve({ answered: false, value: null, errors });
    for (const a of answers) {
      a.then(
        (v) => {
          if (v != null) resolve({ answered: true, value: v, errors });
          else nulls++;
        },
        (e: unknown) => void errors.push(e),
      ).finally(() => {
        if (--pending === 0) resolve({ answered: nulls > 0, value: null, errors });
      });
    }
  });
}

/**
 * Ask the members one after the other: the first answer wins. A transport error, a timeout or a node error
 * that is not the chain's answer moves on to the next member; a revert (CALL_EXCEPTION) or a refused
 * transaction is the answer and is thrown at once. @throws when no member answered.
 */
export async function failover(
  members: readonly RpcMember[],
  ask: Ask,
  method: string,
  call: Call,
): Promise<unknown> {
  const errors: unknown[] = [];
  for (const m of members) {
    try {
      return await ask(m, method, () => call(m));
    } catch (e) {
      if (isAnswer(e)) throw e;
      errors.push(e);
    }
  }
  throw firstError(errors);
}

/**
 * Send a signed transaction to every member at once; its hash as soon as any member accepts it or says it
 * has it already ("already known"). The others keep going in the background (each bounded by the deadline).
 * @throws when every member refused it: a node's answer (nonce too low, insufficient funds, underpriced)
 * before a transport error.
 */
export function broadcast(members: readonly RpcMember[], ask: Ask, raw: string): Promise<string> {
  const hash = Transaction.from(raw).hash!;
  const req: PerformActionRequest = { method: "broadcastTransaction", signedTransaction: raw };
  return new Promise((resolve, reject) => {
    const errors: unknown[] = [];
    let pending = members.length;
    if (pending === 0) return reject(firstError(errors));
    for (const m of members) {
      ask(m, "broadcastTransaction", () => m.provider._perform(req))
        .then(
          () => resolve(hash),
          (e: unknown) => (isAlreadyKnown(e) ? resolve(hash) : void errors.push(e)),
        )
        .finally(() => {
          if (--pending === 0) reject(firstError(errors));
        });
    }
  });
}

/** The error to throw when no member answered: a node's answer before a transport error, else the first. */
export function firstError(errors: readonly unknown[]): unknown {
  const real = errors.filter((e) => e !== undefined);
  return real.find((e) => !isTransportError(e)) ?? real[0] ?? new Error("no RPC member to ask");
}
