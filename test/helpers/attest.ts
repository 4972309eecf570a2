/**
 * Report helpers for tests (health model v2): sign EIP-712 `Report`s for a HealthOracle the way an attestor
 * does, with the keepers' own encoder (keepers/shared/report.ts), and shape them for `submit` and
 * `proveEquivocation`. Reused by the contract tests and the keepers' tests.
 *
 * Units: `healthBps` 0..10_000 basis points; `observedAt` Unix seconds; `round = observedAt / roundSeconds`.
 * Addresses are checksummed hex strings; endpoint ids 0x-prefixed 32-byte hex.
 *
 * The EIP-712 domain is always read from the contract (`eip712Domain()`, ERC-5267), never hard-coded
 * (OpenZeppelin's test helpers do the same); a test signing for another chain or contract says so with
 * `domainOverride`.
 */
import { ethers } from "ethers";
import type { BigNumberish, SigningKey, TypedDataDomain, TypedDataField } from "ethers";
import { nextStreaks, type TallyPolicy } from "../../keepers/shared/quorum";
import {
  REPORT_TYPES,
  domainSeparator,
  encodeValues,
  reportDigest,
  signReportDigest,
  sortEndpointIds,
  toCalldata,
  type EndpointValue,
  type Report,
  type ReportCalldata,
  type SignedReport,
} from "../../keepers/shared/report";

export type { EndpointValue, Report, ReportCalldata, SignedReport };

/**
 * Anything that signs typed data and names its address: ethers `Wallet` (signed with its `signingKey`
 * directly, as an attestor does) or a Hardhat signer (`eth_signTypedData_v4`).
 */
export interface ReportSigner {
  getAddress(): Promise<string>;
  signTypedData(
    domain: TypedDataDomain,
    types: Record<string, TypedDataField[]>,
    value: Record<string, unknown>,
  ): Promise<string>;
  readonly signingKey?: SigningKey;
}

/** The part of a HealthOracle contract the helpers read. */
export interface OracleLike {
  eip712Domain(): Promise<
    [string, string, string, bigint, string, string, bigint[]] & {
      name: string;
      version: string;
      chainId: bigint;
      verifyingContract: string;
    }
  >;
  configDigest(): Promise<string>;
  roundSeconds(): Promise<bigint>;
}

export interface SignOptions {
  /** Override fields of the domain read from the contract (to forge cross-chain / cross-contract replays). */
  domainOverride?: Partial<TypedDataDomain>;
  /** Sign through `signTypedData` (ethers' TypedDataEncoder) even when the signer exposes its key. */
  viaTypedData?: boolean;
}

/** The contract's EIP-712 domain, read through ERC-5267 `eip712Domain()`. */
export async function reportDomain(oracle: OracleLike): Promise<TypedDataDomain> {
  const d = await oracle.eip712Domain();
  return { name: d.name, version: d.version, chainId: d.chainId, verifyingContract: d.verifyingContract };
}

/** `round` of an observation time: `observedAt / roundSeconds` (integer division). */
export function roundOf(observedAt: BigNumberish, roundSeconds: BigNumberish): bigint {
  return BigInt(observedAt) / BigInt(roundSeconds);
}

/** Endpoint id as tests name endpoints: `keccak256(utf8(name))`, lower-case hex. */
export function endpointIdOf(name: string): string {
  return ethers.id(name);
}

/** Addresses sorted ascending as numbers (the order `setAttestors` and `submit` require). */
export function sortAddresses(addresses: readonly string[]): string[] {
  return [...addresses].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0));
}

/** Signers sorted by address ascending. */
export async function sortSigners<T extends Pick<ReportSigner, "getAddress">>(
  signers: readonly T[],
): Promise<T[]> {
  const withAddress = await Promise.all(signers.map(async (s) => ({ s, a: BigInt(await s.getAddress()) })));
  withAddress.sort((x, y) => (x.a < y.a ? -1 : x.a > y.a ? 1 : 0));
  return withAddress.map((x) => x.s);
}

/** Deterministic attestor keys: `count` wallets from `keccak256("vigil-attestor-<seed>-<i>")`, unsorted. */
export function attestorWallets(count: number, seed = "default"): ethers.Wallet[] {
  return Array.from({ length: count }, (_, i) => new ethers.Wallet(ethers.id(`vigil-attestor-${seed}-${i}`)));
}

/** The digest `setAttestors` stores: `keccak256(abi.encode(chainId, oracle, version, attestors, quorum))`. */
export function expectedConfigDigest(
  chainId: BigNumberish,
  oracle: string,
  version: BigNumberish,
  attestors: readonly string[],
  quorum: number,
): string {
  return ethers.keccak256(
    ethers.AbiCoder.defaultAbiCoder().encode(
      ["uint256", "address", "uint32", "address[]", "uint8"],
      [chainId, oracle, version, attestors, quorum],
    ),
  );
}

// ------------------------------------------------------------------------------------------------
// Values
// ------------------------------------------------------------------------------------------------

/** One endpoint's value in a test: a full {@link EndpointValue}, or bare bps with both streaks 0. */
export type ValueLike = number | EndpointValue;

/** A BAD verdict: `healthBps` (default 0) with the attestor's own BAD streak of `rounds` rounds. */
export const bad = (rounds: number, healthBps = 0): EndpointValue => ({
  healthBps,
  badRounds: rounds,
  goodRounds: 0,
});
/** A GOOD verdict: `healthBps` (default 10_000) with the attestor's own GOOD streak of `rounds` rounds. */
export const good = (rounds: number, healthBps = 10_000): EndpointValue => ({
  healthBps,
  badRounds: 0,
  goodRounds: rounds,
});
/** A verdict between the thresholds (no streak counts). */
export const mid = (healthBps: number): EndpointValue => ({ healthBps, badRounds: 0, goodRounds: 0 });

/** `EndpointValue` of a {@link ValueLike}. */
export function toValue(v: ValueLike): EndpointValue {
  return typeof v === "number" ? { healthBps: v, badRounds: 0, goodRounds: 0 } : v;
}

/** The `values` bytes of one report: 4 bytes per endpoint, in the order given. */
export function valuesFor(values: readonly ValueLike[]): string {
  return encodeValues(values.map(toValue));
}

// ------------------------------------------------------------------------------------------------
// Signing
// ------------------------------------------------------------------------------------------------

/**
 * Sign one report under the oracle's domain (optionally overridden), as an attestor does: the digest from
 * keepers/shared/report.ts signed with the raw key when the signer has one, else `signTypedData`.
 * @param domainOrOracle The oracle (its domain is read) or a domain already read with {@link reportDomain}.
 */
export async function signReport(
  domainOrOracle: OracleLike | TypedDataDomain,
  signer: ReportSigner,
  report: Report,
  options: SignOptions = {},
): Promise<SignedReport> {
  const base = "eip712Domain" in domainOrOracle ? await reportDomain(domainOrOracle) : domainOrOracle;
  const domain = { ...base, ...(options.domainOverride ?? {}) };
  let signature: string;
  if (signer.signingKey && !options.viaTypedData) {
    signature = signReportDigest(signer.signingKey, reportDigest(domainSeparator(domain), report));
  } else {
    const types = REPORT_TYPES as unknown as Record<string, TypedDataField[]>;
    signature = await signer.signTypedData(domain, types, { ...report });
  }
  return { ...report, attestor: ethers.getAddress(await signer.getAddress()), signature };
}

/** Per-signer values of a round: one value for every signer and endpoint, one value per signer (for every
 * endpoint), a `[signer][endpoint]` matrix (endpoints in the order given), or a function of both. */
export type RoundValues =
  | ValueLike
  | readonly ValueLike[]
  | readonly (readonly ValueLike[])[]
  | ((signer: number, endpoint: number) => ValueLike);

export interface RoundParams {
  /** Endpoints the reports cover; sorted ascending unless `keepOrder` (values follow the order given here). */
  endpointIds: readonly string[];
  /** Values; signer indices follow `signers` as given, before sorting by address. */
  values: RoundValues;
  /** Probe time in Unix seconds: one for every signer, or one per signer. */
  observedAt: BigNumberish | readonly BigNumberish[];
  /** Round; defaults to `observedAt / roundSeconds` of the first signer's time. */
  round?: BigNumberish;
  /** Config digest; defaults to the oracle's current `configDigest()`. */
  configDigest?: string;
  /** Sign the endpoint list exactly as given (to test the contract's order checks). */
  keepOrder?: boolean;
}

/** One round of reports ready for `submit`: reports sorted by attestor address ascending. */
export interface SignedRound {
  configDigest: string;
  round: bigint;
  endpointIds: string[];
  reports: SignedReport[];
}

function valueAt(values: RoundValues, signer: number, endpoint: number): ValueLike {
  if (typeof values === "function") return values(signer, endpoint);
  if (!Array.isArray(values)) return values as ValueLike;
  const row = (values as readonly unknown[])[signer];
  if (row === undefined) throw new RangeError(`no value for signer ${signer}`);
  if (!Array.isArray(row)) return row as ValueLike;
  if (row[endpoint] === undefined)
    throw new RangeError(`no value for signer ${signer}, endpoint ${endpoint}`);
  return row[endpoint] as ValueLike;
}

/**
 * Have every signer sign its report of one round and return them sorted by signer address ascending, as
 * `submit` requires.
 */
export async function signRound(
  oracle: OracleLike,
  signers: readonly ReportSigner[],
  params: RoundParams,
  options: SignOptions = {},
): Promise<SignedRound> {
  const at = (i: number) =>
    BigInt(Array.isArray(params.observedAt) ? params.observedAt[i] : (params.observedAt as BigNumberish));
  const configDigest = params.configDigest ?? (await oracle.configDigest());
  const round =
    params.round !== undefined ? BigInt(params.round) : roundOf(at(0), await oracle.roundSeconds());
  const given = params.endpointIds.map((id) => id.toLowerCase());
  const endpointIds = params.keepOrder ? given : sortEndpointIds(given);
  const order = endpointIds.map((id) => given.indexOf(id));
  const domain = await reportDomain(oracle);
  const reports = await Promise.all(
    signers.map((signer, s) =>
      signReport(
        domain,
        signer,
        {
          configDigest,
          round: Number(round),
          observedAt: Number(at(s)),
          endpointIds,
          values: valuesFor(order.map((e) => valueAt(params.values, s, e))),
        },
        options,
      ),
    ),
  );
  return { configDigest, round, endpointIds, reports: sortReports(reports) };
}

/** Reports sorted by attestor address ascending. */
export function sortReports(reports: readonly SignedReport[]): SignedReport[] {
  return [...reports].sort((a, b) =>
    BigInt(a.attestor) < BigInt(b.attestor) ? -1 : BigInt(a.attestor) > BigInt(b.attestor) ? 1 : 0,
  );
}

/** The same round relayed with only the reports of `attestors` (addresses), as a relayer choosing a subset. */
export function pick(r: SignedRound, attestors: readonly string[]): SignedRound {
  const wanted = new Set(attestors.map((a) => a.toLowerCase()));
  return { ...r, reports: r.reports.filter((x) => wanted.has(x.attestor.toLowerCase())) };
}

/**
 * Arguments of `submit(configDigest, round, endpointIds, reports, values)`, in order: `reports` as given (no
 * re-sorting, so tests can relay them in any order), their values concatenated in the same order. For relaying
 * honestly-shaped rounds, keepers use `toSubmitArgs` of keepers/shared/report.ts, which sorts and checks.
 */
export function submitArgs(
  r: SignedRound,
  reports: readonly SignedReport[] = r.reports,
): [string, bigint, string[], ReportCalldata[], string] {
  return [
    r.configDigest,
    r.round,
    r.endpointIds,
    reports.map(toCalldata),
    ethers.concat(reports.map((x) => x.values)),
  ];
}

/** `IHealthOracle.ReportEvidence` of one signed report: what it covers and its signature. */
export function evidenceOf(report: SignedReport): {
  endpointIds: string[];
  values: string;
  report: ReportCalldata;
} {
  return { endpointIds: report.endpointIds, values: report.values, report: toCalldata(report) };
}

/** Arguments of `proveEquivocation(round, a, b)`. */
export function equivocationArgs(
  round: BigNumberish,
  a: SignedReport,
  b: SignedReport,
): [bigint, ReturnType<typeof evidenceOf>, ReturnType<typeof evidenceOf>] {
  return [BigInt(round), evidenceOf(a), evidenceOf(b)];
}

// ------------------------------------------------------------------------------------------------
// Honest attestors with streaks
// ------------------------------------------------------------------------------------------------

/**
 * Honest attestors that count their own streaks as the attestor keeper does (`nextStreaks` of
 * keepers/shared/quorum.ts): per attestor and endpoint, consecutive BAD/GOOD rounds it judged itself,
 * restarting after a round it did not judge. Tests say what each attestor measured; the panel signs the values
 * with the streaks.
 */
export class AttestorPanel {
  /** Per `signer/endpointId`: the rounds judged, ascending, with the streaks after each. */
  private readonly history = new Map<string, { round: bigint; badRounds: number; goodRounds: number }[]>();

  /**
   * @param signers The attestors, in the order `health` indexes them.
   * @param policyOf Thresholds per endpoint (from `oracle.policyOf`).
   */
  constructor(
    readonly signers: readonly ReportSigner[],
    private readonly policyOf: (endpointId: string) => Pick<TallyPolicy, "downBelowBps" | "upAtBps">,
  ) {}

  /**
   * Attestor `signer` judged `healthBps` for `endpointId` in `round`: its value with streaks. Judging a round at
   * or before one judged already forgets the later ones, so a panel returned by a `loadFixture` fixture follows
   * the chain when the fixture's snapshot rewinds time.
   */
  judge(signer: number, endpointId: string, round: bigint, healthBps: number): EndpointValue {
    const key = `${signer}/${endpointId.toLowerCase()}`;
    const rounds = this.history.get(key) ?? [];
    while (rounds.length > 0 && rounds[rounds.length - 1].round >= round) rounds.pop();
    const prev = rounds[rounds.length - 1];
    const consecutive = prev !== undefined && prev.round + 1n === round;
    const streaks = nextStreaks(
      prev ?? { badRounds: 0, goodRounds: 0 },
      healthBps,
      this.policyOf(endpointId),
      consecutive,
    );
    rounds.push({ round, ...streaks });
    this.history.set(key, rounds);
    return { healthBps, ...streaks };
  }

  /**
   * Every attestor in `who` (default: all) judges every endpoint in `round` and signs its report.
   * @param health bps measured by attestor `signer` (index into `signers`) for endpoint `e` (index into ids).
   */
  async sign(
    oracle: OracleLike,
    params: {
      endpointIds: readonly string[];
      observedAt: BigNumberish | readonly BigNumberish[];
      health: number | ((signer: number, endpoint: number) => number);
      who?: readonly number[];
      round?: BigNumberish;
    },
  ): Promise<SignedRound> {
    const who = params.who ?? this.signers.map((_, i) => i);
    const first = Array.isArray(params.observedAt)
      ? params.observedAt[0]
      : (params.observedAt as BigNumberish);
    const round =
      params.round !== undefined ? BigInt(params.round) : roundOf(first, await oracle.roundSeconds());
    const health = params.health;
    const values = who.map((s) =>
      params.endpointIds.map((id, e) =>
        this.judge(s, id, round, typeof health === "number" ? health : health(s, e)),
      ),
    );
    return signRound(
      oracle,
      who.map((s) => this.signers[s]),
      {
        endpointIds: params.endpointIds,
        values,
        observedAt: params.observedAt,
        round,
      },
    );
  }
}
