/**
 * Fixtures of the SSRF-guard tests (attestor.targets.resolve.test.ts, attestor.targets.address.test.ts): a
 * scripted host resolver (no DNS records can be added here) and a rejection helper.
 */
import type { HostResolver, ResolvedAddress } from "../../keepers/attestor/resolve";

/** A public address (never connected to by these tests: every socket is pinned or refused first). */
export const PUBLIC = "93.184.216.34";

/** A resolver over a script: call n answers `answers[min(n, last)]` (or rejects with its Error); counts calls. */
export function scripted(
  ...answers: Array<readonly ResolvedAddress[] | Error>
): HostResolver & { calls: string[] } {
  const calls: string[] = [];
  const f = async (hostname: string) => {
    const a = answers[Math.min(calls.length, answers.length - 1)];
    calls.push(hostname);
    if (a instanceof Error) throw a;
    return a;
  };
  return Object.assign(f, { calls });
}
export const v4 = (address: string, ttl?: number): ResolvedAddress => ({ address, family: 4, ttl });
export const v6 = (address: string): ResolvedAddress => ({ address, family: 6 });

/** The rejection of `p`; throws when `p` fulfils. */
export async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error("expected a rejection");
}
