/**
 * State parity for one service's JSON-RPC endpoints in one probe round: the block fetches behind the pure rules
 * of parity.ts. Given the endpoints that answered this round's probe on one chain, it
 *
 * 1. fetches each endpoint's claimed head by number (verification),
 * 2. picks the compared height and fetches that block from every verified endpoint at or above it,
 * 3. asks the service's reference source (config `referenceRpcUrls`) only when the endpoints have no strict
 *    majority,
 *
 * all in parallel, each call bounded by the probe timeout, so one round costs at most two timeouts however
 * the endpoints behave (a hung endpoint already failed its probe and is not asked again).
 */
import {
  comparedHeight,
  judgeAtHeight,
  referenceHead,
  type BlockAnswer,
  type ParityHead,
  type ParityVerdict,
} from "./parity";
import { lowerMedian } from "../shared/quorum";
import { fetchBlockHash, type RpcProbeResult } from "./probes/jsonRpc";
import type { FetchFn, ProbeAgents } from "./probes/transport";

/** One endpoint that answered this round's probe. */
export interface ServiceEntry {
  id: string;
  url: string;
  result: RpcProbeResult;
}

export interface ServiceParityOptions {
  /** Blocks below the lower median within which heads are compared: the lag factor's `max`. */
  window: number;
  /** Per call, ms. */
  timeoutMs: number;
  fetch?: FetchFn;
  /**
   * Connection pools for the entries' URLs (registry targets): the SSRF guard's (resolve.ts). Not used for
   * `referenceUrls`, which the operator configures.
   */
  agents?: ProbeAgents;
  /** The service's reference sources (a second chain-data source), asked in order on a tie or for a lone endpoint. */
  referenceUrls?: readonly string[];
  /**
   * Endpoints under a fork hold (judged `fork` in a recent round): they are compared, but do not vote while
   * another endpoint does, so a known minority node cannot turn an honest survivor's round into a tie.
   */
  held?: ReadonlySet<string>;
}

/** The parity verdict of every entry, and the head each verified, non-forked one is measured against. */
export interface ServiceParity {
  verdicts: Map<string, ParityVerdict>;
  /** Endpoint id → reference head (blocks) for its lag; absent without corroborating peers. */
  referenceHeads: Map<string, number>;
  /** The compared height, when two or more heads were verified. */
  height?: number;
  /** Lower median of the verified heads of endpoints on the service's chain, when any. */
  medianHead?: number;
}

/**
 * Judge one service's endpoints (all on one chain id) for this round. Never throws: an endpoint whose fetch
 * fails is `unverified_head`; a reference source that fails is as if none were configured (`no_majority`).
 */
export async function checkServiceParity(
  entries: readonly ServiceEntry[],
  o: ServiceParityOptions,
): Promise<ServiceParity> {
  const verdicts = new Map<string, ParityVerdict>();
  const get = (url: string, n: number, agents?: ProbeAgents): Promise<BlockAnswer> =>
    fetchBlockHash(url, n, { timeoutMs: o.timeoutMs, fetch: o.fetch, agents }).catch(() => undefined);

  // 1. Each claimed head must come back by number with the same hash.
  const checks = await Promise.all(entries.map((e) => get(e.url, e.result.head.number, o.agents)));
  const verified: Array<ParityHead & { url: string }> = [];
  entries.forEach((e, i) => {
    const { number, hash } = e.result.head;
    if (checks[i] === hash) verified.push({ id: e.id, number, hash, url: e.url });
    else
      verdicts.set(e.id, {
        kind: "unverified_head",
        detail:
          checks[i] === undefined
            ? `no answer for its own head, block ${number}`
            : `its head ${hash.slice(0, 10)}… at block ${number} comes back by number as ${checks[i] === null ? "no block" : `${checks[i]!.slice(0, 10)}…`}`,
      });
  });

  // 2. Compare at one height (a lone endpoint: at its head, against the reference source when there is one).
  const askReference = async (n: number): Promise<BlockAnswer> => {
    let answer: BlockAnswer;
    for (const url of o.referenceUrls ?? []) {
      answer = await get(url, n);
      if (typeof answer === "string") break;
    }
    return answer;
  };
  const lone = verified.length === 1 && o.referenceUrls?.length ? verified[0] : undefined;
  // Two blocks below a lone endpoint's head: a reference source on another provider is often a block behind.
  const height = lone ? Math.max(0, lone.number - 2) : comparedHeight(verified, o.window);
  if (height !== undefined) {
    const compared = verified.filter((v) => v.number >= height);
    const fetched = await Promise.all(
      compared.map((v) => (v.number === height ? Promise.resolve(v.hash) : get(v.url, height, o.agents))),
    );
    const answers = new Map<string, BlockAnswer>(compared.map((v, i) => [v.id, fetched[i]]));
    // Held endpoints do not vote while another endpoint can: they are judged against the others' verdict.
    const voting = new Map([...answers].filter(([id]) => !o.held?.has(id)));
    const voters = voting.size ? voting : answers;
    let reference: BlockAnswer;
    let judged = judgeAtHeight(height, voters);
    if (o.referenceUrls?.length && (lone || [...judged.values()].some((v) => v.kind === "no_majority"))) {
      reference = await askReference(height);
      if (!lone) judged = judgeAtHeight(height, voters, reference);
      else if (typeof reference !== "string") judged = new Map([[lone.id, { kind: "not_compared" }]]);
      else if (typeof answers.get(lone.id) !== "string") judged = judgeAtHeight(height, answers);
      else
        judged = new Map([
          [
            lone.id,
            answers.get(lone.id) === reference
              ? { kind: "agree" }
              : {
                  kind: "fork",
                  detail: `block ${height} is ${answers.get(lone.id)!.slice(0, 10)}…, the reference source has ${reference.slice(0, 10)}…`,
                },
          ],
        ]);
    }
    for (const [id, v] of judged) verdicts.set(id, v);
    const agreed = [...judged].find(([, v]) => v.kind === "agree")?.[0];
    const chainHash = agreed !== undefined ? answers.get(agreed) : undefined;
    for (const [id, hash] of answers) {
      if (verdicts.has(id)) continue; // voted
      if (typeof hash !== "string") {
        verdicts.set(id, {
          kind: "unverified_head",
          detail: `no block ${height} though its head is at or above it`,
        });
      } else if (typeof chainHash === "string") {
        verdicts.set(
          id,
          hash === chainHash
            ? { kind: "agree" }
            : {
                kind: "fork",
                detail: `block ${height} is ${hash.slice(0, 10)}…, the majority has ${chainHash.slice(0, 10)}…`,
              },
        );
      }
    }
  }
  for (const v of verified) if (!verdicts.has(v.id)) verdicts.set(v.id, { kind: "not_compared" });

  // 3. Lag is measured against heads that are verified and on the service's chain.
  const trusted = verified.filter((v) => {
    const k = verdicts.get(v.id)!.kind;
    return k === "agree" || k === "not_compared";
  });
  const referenceHeads = new Map<string, number>();
  for (const e of entries) {
    const ref = referenceHead(e.id, trusted);
    if (ref !== undefined) referenceHeads.set(e.id, ref);
  }
  return {
    verdicts,
    referenceHeads,
    height,
    medianHead: trusted.length ? lowerMedian(trusted.map((t) => t.number)) : undefined,
  };
}
