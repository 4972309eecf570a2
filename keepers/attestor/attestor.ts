/**
 * The attestor service: keeps the endpoint list of the configured `services` in step with the
 * EndpointRegistry (with each endpoint's policy from the HealthOracle) and the signing context in step with
 * the HealthOracle, probes every endpoint each interval with bounded concurrency, scores each probe
 * (score.ts) and signs, once per oracle round, ONE report covering every endpoint it judged (health model
 * v2), kept for `GET /v1/reports`.
 *
 * The registry is permissionless, so the attestor watches only the services it is told to, and never
 * probes a URI whose host is private, loopback, link-local or unspecified unless `allowPrivateTargets`
 * is set (targets.ts): a registrant cannot aim it at internal services (SSRF).
 *
 * A JSON-RPC endpoint is judged against the chain id its service must serve (`expectedChainIds`,
 * required for every watched service with JSON-RPC endpoints: without it the attestor probes but
 * does not sign), and against its service's other endpoints on that chain, probed in the same round: state
 * parity by block hash at a common height, lag behind a corroborated head, a claimed head it must serve
 * (parity.ts, rpcService.ts). A node on a minority fork is BAD whatever its height, and stays BAD until it has
 * matched the majority for `riseRounds` rounds in a row.
 *
 * Every probe carries its own timeout (below the interval, enforced by the config), so a slow or hung
 * endpoint never delays the others' observations nor the next round.
 *
 * ## One report per round, never two
 *
 * After a probe round the attestor signs one EIP-712 `Report` (keepers/shared/report.ts) for the oracle
 * round of the signing time, `round = floor(observedAt / roundSeconds)` with `observedAt` the signing time
 * itself, so `observedAt` always lies inside the round even when probing overran a round boundary. The report
 * carries, per endpoint (ids strictly ascending), the health and this attestor's own consecutive BAD and GOOD
 * rounds (streaks.ts) under the endpoint's policy; a round it did not judge breaks the streaks. One ECDSA
 * signature per round, over a digest hashed by hand, whatever the number of endpoints.
 *
 * Later probe rounds of a signed round only update metrics and `/v1/endpoints`: two different reports for one
 * `(configDigest, round)` are equivocation, which anyone can prove on-chain to jail the attestor. The round is
 * claimed synchronously before signing (two racing probe rounds cannot both sign) and recorded on disk
 * (signedRound.ts) before the report is served; on start the attestor refuses every round up to the recorded
 * one for that digest, so a restart inside a round does not sign it again. A rotation of the attestor set
 * (new config digest) starts afresh: the same round may be signed under the new digest, and reports under
 * the old one are dropped.
 */
import { computeAddress, getAddress, keccak256, type AbstractProvider, type SigningKey } from "ethers";
import { performance } from "node:perf_hooks";
import { createProvider, loadWallet, readChainClock, type ChainClock } from "../shared/chain";
import { VigilError } from "../shared/errors";
import { EndpointKind, roundOf } from "../shared/health";
import { runLoop, type LoopHealth } from "../shared/lifecycle";
import { createLogger, type Logger } from "../shared/logger";
import { Metrics } from "../shared/metrics";
import { preflight, type PreflightOptions } from "../shared/preflight";
import { redactUrls } from "../shared/redact";
import {
  domainSeparator,
  encodeValues,
  reportDigest,
  signReportDigest,
  sortEndpointIds,
  type Report,
  type SignedReport,
} from "../shared/report";
import { KeeperServer } from "../shared/server";
import { ClockGuard } from "./clockGuard";
import type { AttestorConfig } from "./config";
import { reportMetrics, type ReportMetrics } from "./metrics";
import { probeHttp, evaluateHttp } from "./probes/http";
import { evaluateJsonRpc, probeJsonRpc, type RpcHead, type RpcProbeResult } from "./probes/jsonRpc";
import { evaluateFeed, parseCaip10, probeFeed } from "./probes/oracleFeed";
import { ProbeFailure, type FetchFn } from "./probes/transport";
import { forEachConcurrent } from "./pool";
import { attestorRoutes } from "./routes";
import { SignedRoundLog } from "./signedRound";
import { judgeRound, type StreakState } from "./streaks";
import { refuseTarget } from "./targets";
import type { ParityVerdict } from "./parity";
import { checkServiceParity } from "./rpcService";
import { score, scoreReason, type Failure, type ScoreInput, type ScoreReason } from "./score";
import {
  contractOracleReader,
  registryEndpointSource,
  type EndpointPolicy,
  type EndpointSource,
  type OracleReader,
  type OracleState,
  type WatchedEndpoint,
} from "./sources";
import { ReportStore, type ReportFilter } from "./store";

/** Endpoint kinds whose URI is a URL the attestor connects to (checked by {@link refuseTarget}). */
const URL_KINDS: ReadonlySet<EndpointKind> = new Set([
  EndpointKind.JSON_RPC,
  EndpointKind.WEBSOCKET,
  EndpointKind.HTTP,
]);

/** Per-endpoint state between probes. */
interface EndpointState {
  endpoint: WatchedEndpoint;
  log: Logger;
  /** Kind label for metrics (`json_rpc`, `http`, …). */
  kindLabel: string;
  /** The endpoint's policy on the oracle (its thresholds classify this attestor's rounds). */
  policy: EndpointPolicy;
  /** Streaks after the last round signed for this endpoint; undefined before the first. */
  streak?: StreakState;
  /** Sliding window of probe outcomes, true = the probe failed at transport or protocol level. */
  window: boolean[];
  /** Latest head from this endpoint's latest probe (JSON-RPC), with when it was seen (ms). */
  head?: RpcHead & { at: number };
  lastScore?: number;
  lastFailure?: Failure;
  /** Why the last score is below 10000 ({@link scoreReason}); undefined at 10000. */
  lastReason?: ScoreReason;
  /** What the last probe found, in words (no URLs). */
  lastDetail?: string;
  /**
   * Rounds this endpoint must still match its service's majority before a `fork` verdict lifts (parity.ts):
   * never fail back onto a minority chain. 0 or undefined: no hold.
   */
  forkHold?: number;
  lastProbeAt?: number;
  /** Set once we warned that this endpoint cannot be probed. */
  warned?: boolean;
  /** The URI we last logged a refusal for (log once per URI). */
  refusedUri?: string;
}

/** One endpoint's probe before it is scored: a score input, or a JSON-RPC result awaiting parity. */
interface Probed {
  state: EndpointState;
  input?: ScoreInput;
  rpc?: RpcProbeResult;
  detail?: string;
  transportFailed: boolean;
  /** Round-trip time of the probe itself, ms. */
  latencyMs: number;
}

/** The parity phase's verdict on one JSON-RPC endpoint and the head its lag is measured against. */
interface RpcJudgement {
  parity?: ParityVerdict;
  referenceHead?: number;
}

/** Result of one probe, for tests and the benchmark. */
export interface ProbeOutcome {
  endpointId: string;
  healthBps: number;
  failure?: Failure;
  /** Why the score is below 10000: the failure, or the weakest factor ({@link scoreReason}). */
  reason?: ScoreReason;
  detail?: string;
  latencyMs: number;
  /**
   * Whether the result may be signed: false for a JSON-RPC endpoint of a service without an
   * `expectedChainIds` entry (its chain cannot be judged).
   */
  signable: boolean;
}

/** Why a probe round ended without a signed report. */
export type SkipReason =
  | "no_oracle_state"
  | "nothing_judged"
  | "round_already_signed"
  | "sign_failed"
  | "persist_failed"
  | "rotated"
  | "clock_skew";

/** One probe round: every probe's outcome, and the report signed for it (or why none was). */
export interface RoundResult {
  outcomes: ProbeOutcome[];
  report?: SignedReport;
  skipped?: SkipReason;
}

export interface AttestorOptions {
  config: AttestorConfig;
  /** The attestor's raw secp256k1 key: one signature per round over a digest hashed by hand. */
  key: SigningKey;
  endpoints: EndpointSource;
  oracle: OracleReader;
  logger: Logger;
  metrics: Metrics;
  fetch?: FetchFn;
  /** Clock, ms since the epoch. Default Date.now. */
  now?: () => number;
  /**
   * Reads the control chain's clock for the clock discipline (clockGuard.ts); startAttestor passes
   * `readChainClock` of its provider. None: the attestor signs until its probes' chains show its clock off.
   */
  controlClock?: () => Promise<ChainClock>;
}

/** Score bands for "status changed" log lines (oracle defaults: DOWN below 5000, HEALTHY from 8000). */
function band(bps: number): "healthy" | "degraded" | "down" {
  return bps >= 8_000 ? "healthy" : bps >= 5_000 ? "degraded" : "down";
}

/** The round this attestor signed last (or is signing), under one config digest. */
interface SignedRound {
  configDigest: string;
  round: number;
}

export class Attestor {
  readonly store: ReportStore;
  /** The attestor's checksummed address. */
  readonly address: string;
  private readonly _states = new Map<string, EndpointState>();
  /** JSON-RPC endpoints by service id (peers for lag and hash checks); rebuilt on every endpoint refresh. */
  private _rpcByService = new Map<string, EndpointState[]>();
  /** keccak256 of the last report's endpoint list (EIP-712 `bytes32[]`), reused while the list is unchanged. */
  private _idsHash?: { ids: string; hash: string };
  /** Services whose missing `expectedChainIds` entry was already logged. */
  private readonly _missingChainIds = new Set<string>();
  private _oracle?: OracleState;
  /** EIP-712 domain separator of `_oracle.domain`; always updated together with `_oracle`. */
  private _separator?: string;
  /** Last round claimed for signing; starts from the on-disk record, only moves forward per digest. */
  private _claimed?: SignedRound;
  private readonly _signedRounds: SignedRoundLog;
  private readonly _now: () => number;
  private readonly _log: Logger;
  private readonly _reportMetrics: ReportMetrics;
  /** Clock discipline: no signature while the local clock is off chain time (clock.ts, clockGuard.ts). */
  readonly clock: ClockGuard;

  /**
   * @throws VigilError `VIGIL_CONFIG` / `VIGIL_ATTESTATION` when the signed-round record in `config.dataDir`
   * cannot be created or read (see {@link SignedRoundLog}).
   */
  constructor(private readonly o: AttestorOptions) {
    this.address = getAddress(computeAddress(o.key));
    this.store = new ReportStore(o.config.keepReports);
    this._now = o.now ?? Date.now;
    this._log = o.logger;
    this._reportMetrics = reportMetrics(o.metrics);
    this.clock = new ClockGuard({
      config: o.config,
      metrics: this._reportMetrics,
      log: this._log,
      now: this._now,
      control: o.controlClock,
    });
    this._signedRounds = new SignedRoundLog(o.config.dataDir, this.address);
    const last = this._signedRounds.last;
    if (last) {
      this._claimed = { configDigest: last.configDigest, round: last.round };
      this._log.info(
        { configDigest: last.configDigest, round: last.round, file: this._signedRounds.file },
        "last signed round read from disk: no report for it or an earlier round will be signed under that digest",
      );
    }
  }

  /** Current signing context; undefined before the first successful {@link refreshOracle}. */
  get oracleState(): OracleState | undefined {
    return this._oracle;
  }

  /** Endpoints currently watched. */
  get endpoints(): WatchedEndpoint[] {
    return [...this._states.values()].map((s) => s.endpoint);
  }

  /** The last round signed or being signed (in memory, starting from the on-disk record). */
  get lastSignedRound(): SignedRound | undefined {
    return this._claimed && { ...this._claimed };
  }

  /**
   * Re-read domain, config digest, round length and attestor set from the oracle. A new digest (the
   * attestor set rotated) drops every stored report: signatures under the old digest no longer count. An
   * older set version than the one in use (a lagging RPC) is ignored. Warns when this attestor is not in
   * the set.
   */
  async refreshOracle(): Promise<void> {
    const next = await this.o.oracle.read();
    if (!Number.isSafeInteger(next.roundSeconds) || next.roundSeconds <= 0) {
      throw new VigilError(
        "VIGIL_CHAIN",
        `oracle roundSeconds is ${next.roundSeconds}`,
        "check the oracle address",
      );
    }
    if (Number(next.domain.chainId) !== this.o.config.chain.chainId) {
      throw new VigilError(
        "VIGIL_CHAIN",
        `oracle EIP-712 domain is for chain ${next.domain.chainId}, config says ${this.o.config.chain.chainId}`,
        "fix chainId or rpcUrls",
      );
    }
    const prev = this._oracle;
    if (prev && next.version < prev.version) {
      this._log.warn(
        { version: next.version, current: prev.version },
        "oracle read returned an older attestor set than the one in use (lagging RPC?): ignored",
      );
      return;
    }
    const separator = domainSeparator(next.domain);
    if (prev && prev.configDigest !== next.configDigest) {
      this._log.info(
        { previous: prev.configDigest, configDigest: next.configDigest, version: next.version },
        "attestor set rotated: signing under the new config digest",
      );
      this.store.clear();
    }
    const member = next.attestors.some((a) => a.toLowerCase() === this.address.toLowerCase());
    if (!member && (!prev || prev.version !== next.version || prev.configDigest !== next.configDigest)) {
      this._log.warn(
        { attestor: this.address, version: next.version },
        "this attestor is not in the oracle's attestor set: its reports will not count",
      );
    }
    this._oracle = next;
    this._separator = separator;
    this.clock.onOracle(next.maxSkew);
  }

  /**
   * Re-read the endpoints to watch and their policies; new ones are probed from the next round, removed
   * ones forgotten (with their streaks: an endpoint that comes back starts counting afresh). Nothing changes
   * when either read fails.
   */
  async refreshEndpoints(): Promise<void> {
    const list = (await this.o.endpoints.listEndpoints()).map((ep) => ({ ...ep, id: ep.id.toLowerCase() }));
    const policies = list.length ? await this.o.oracle.policiesOf(list.map((ep) => ep.id)) : [];
    const seen = new Set<string>();
    list.forEach((ep, i) => {
      seen.add(ep.id);
      const policy = policies[i];
      const existing = this._states.get(ep.id);
      if (existing) {
        existing.endpoint = ep;
        existing.policy = policy;
        return;
      }
      const log = this._log.child({ endpointId: ep.id, serviceId: ep.serviceId });
      this._states.set(ep.id, {
        endpoint: ep,
        log,
        kindLabel: (EndpointKind[ep.kind] ?? `kind_${ep.kind}`).toLowerCase(),
        policy,
        window: [],
      });
      log.info({ kind: EndpointKind[ep.kind] ?? ep.kind }, "watching endpoint");
    });
    for (const id of [...this._states.keys()]) {
      if (!seen.has(id)) {
        this._states.delete(id);
        this.o.metrics.endpointHealth.remove({ endpoint: id });
        this._log.info({ endpointId: id }, "endpoint left the registry: no longer watched");
      }
    }
    const byService = new Map<string, EndpointState[]>();
    for (const st of this._states.values()) {
      if (st.endpoint.kind !== EndpointKind.JSON_RPC) continue;
      const list = byService.get(st.endpoint.serviceId);
      if (list) list.push(st);
      else byService.set(st.endpoint.serviceId, [st]);
    }
    this._rpcByService = byService;
  }

  /**
   * Probe and score every watched endpoint once, at most `concurrency` at a time, judge each service's JSON-RPC
   * endpoints against each other (state parity, parity.ts), then sign one report for the round of the signing
   * time covering every endpoint judged (see the file comment). Never throws.
   */
  async probeRound(): Promise<RoundResult> {
    const [outcomes] = await Promise.all([
      this._probeAll([...this._states.values()]),
      this.clock.sampleControl(),
    ]);
    const { report, skipped } = await this._signReport(outcomes);
    return { outcomes, report, skipped };
  }

  /**
   * Probe one endpoint and score it (no signing: {@link probeRound} signs the round's report). A JSON-RPC
   * endpoint is judged against its service's other JSON-RPC endpoints, which are probed with it (parity needs
   * every replica's answer of this round). Never throws; returns undefined when the endpoint cannot be probed
   * (unsupported kind, no RPC for a feed's chain) or must not be (a private, loopback or link-local target
   * without `allowPrivateTargets`: no probe, counted in `vigil_probes_refused_total`).
   */
  async probeEndpoint(endpointId: string): Promise<ProbeOutcome | undefined> {
    const state = this._states.get(endpointId.toLowerCase());
    if (!state) return undefined;
    const group =
      state.endpoint.kind === EndpointKind.JSON_RPC
        ? (this._rpcByService.get(state.endpoint.serviceId) ?? [state])
        : [state];
    const outcomes = await this._probeAll(group);
    return outcomes.find((o) => o.endpointId === state.endpoint.id);
  }

  /** Probe `states` (bounded concurrency), run state parity per service and chain, score and record each. */
  private async _probeAll(states: readonly EndpointState[]): Promise<ProbeOutcome[]> {
    const probed: Probed[] = [];
    await forEachConcurrent(states, this.o.config.concurrency, async (state) => {
      const p = await this._probe(state);
      if (p) probed.push(p);
    });
    const parity = await this._parity(probed);
    return probed.map((p) => this._finish(p, parity.get(p.state)));
  }

  /** Phase 1: the probe itself. Undefined when the endpoint is not probed (see {@link probeEndpoint}). */
  private async _probe(state: EndpointState): Promise<Probed | undefined> {
    const { config, metrics } = this.o;
    if (URL_KINDS.has(state.endpoint.kind)) {
      const refusal = refuseTarget(state.endpoint.uri, config.allowPrivateTargets);
      if (refusal) {
        metrics.probesRefused.inc({ reason: refusal });
        if (state.refusedUri !== state.endpoint.uri) {
          state.refusedUri = state.endpoint.uri;
          state.log.warn(
            { reason: refusal },
            refusal === "private_target"
              ? "refusing to probe a private, loopback or link-local address (set allowPrivateTargets only for local tests)"
              : "refusing to probe a URI that is not an http(s) or ws(s) URL",
          );
        }
        return undefined;
      }
    }
    const started = performance.now();
    try {
      const measured = await this._measure(state);
      if (measured === undefined) return undefined;
      return { state, ...measured, transportFailed: false, latencyMs: performance.now() - started };
    } catch (e) {
      const f =
        e instanceof ProbeFailure
          ? e
          : new ProbeFailure("invalid_response", (e as Error)?.message ?? String(e));
      state.head = undefined;
      return {
        state,
        input: { failure: f.failure },
        detail: f.message,
        transportFailed: true,
        latencyMs: performance.now() - started,
      };
    }
  }

  /**
   * Phase 2: state parity (parity.ts) over the JSON-RPC endpoints that answered, grouped by service and by the
   * chain they serve (the expected one, or their own when none is configured: those are not signed anyway).
   */
  private async _parity(probed: readonly Probed[]): Promise<Map<EndpointState, RpcJudgement>> {
    const { config } = this.o;
    const groups = new Map<string, Array<Probed & { rpc: RpcProbeResult }>>();
    for (const p of probed) {
      if (!p.rpc) continue;
      const expected = config.expectedChainIds[p.state.endpoint.serviceId];
      if (expected !== undefined && p.rpc.head.chainId !== expected) continue; // wrong_chain on its own
      const key = `${p.state.endpoint.serviceId}:${p.rpc.head.chainId}`;
      const list = groups.get(key) ?? [];
      list.push(p as Probed & { rpc: RpcProbeResult });
      groups.set(key, list);
    }
    const out = new Map<EndpointState, RpcJudgement>();
    await Promise.all(
      [...groups.values()].map(async (list) => {
        const serviceId = list[0].state.endpoint.serviceId;
        const result = await checkServiceParity(
          list.map((p) => ({ id: p.state.endpoint.id, url: p.state.endpoint.uri, result: p.rpc })),
          {
            window: config.thresholds.jsonRpc.lagBlocks.max,
            timeoutMs: config.timeoutMs,
            fetch: this.o.fetch,
            referenceUrls: config.referenceRpcUrls[serviceId],
          },
        );
        for (const p of list) {
          out.set(p.state, {
            parity: result.verdicts.get(p.state.endpoint.id),
            referenceHead: result.referenceHeads.get(p.state.endpoint.id),
          });
        }
      }),
    );
    return out;
  }

  /** Phase 3: score, hold a fork verdict until the endpoint is back on the majority chain, record, log. */
  private _finish(p: Probed, judgement: RpcJudgement | undefined): ProbeOutcome {
    const { config, metrics } = this.o;
    const { state } = p;
    let input = p.input;
    let detail = p.detail;
    const nowMs = this._now();
    if (p.rpc) {
      input = evaluateJsonRpc(p.rpc, {
        nowSec: nowMs / 1000,
        expectedChainId: config.expectedChainIds[state.endpoint.serviceId],
        parity: judgement?.parity,
        referenceHead: judgement?.referenceHead,
        errorRate: this._errorRate(state, false),
        maxFutureSec: config.maxFutureSec,
      });
      const parity = judgement?.parity;
      if (parity && "detail" in parity) detail = parity.detail;
      ({ input, detail } = this._holdFork(state, input, parity?.kind, detail));
    } else if (state.endpoint.kind === EndpointKind.JSON_RPC && state.forkHold) {
      // No answer this round: the hold neither counts down nor lifts.
      detail = detail ?? "held: on a minority chain until it matches the majority again";
    }
    state.window.push(p.transportFailed);
    if (state.window.length > config.errorWindow) state.window.shift();

    const thresholds = this._thresholds(state.endpoint.kind);
    const healthBps = score(input!, thresholds);
    const failure = input!.failure;
    const reason = scoreReason(input!, thresholds);
    const outcome =
      failure === "timeout"
        ? "timeout"
        : p.transportFailed
          ? "error"
          : healthBps >= 8_000
            ? "ok"
            : "unhealthy";
    metrics.probes.inc({ kind: state.kindLabel, outcome });
    if (!p.transportFailed) metrics.probeLatency.observe({ kind: state.kindLabel }, p.latencyMs / 1000);
    metrics.endpointHealth.set({ endpoint: state.endpoint.id }, healthBps);

    const prevBand = state.lastScore === undefined ? undefined : band(state.lastScore);
    const nowBand = band(healthBps);
    const changed = prevBand !== nowBand || state.lastReason !== reason;
    if (changed || state.log.isLevelEnabled("debug")) {
      const fields = { healthBps, reason, failure, detail, latencyMs: Math.round(p.latencyMs) };
      if (changed) state.log.info(fields, `endpoint ${nowBand}${reason ? ` (${reason})` : ""}`);
      else state.log.debug(fields, "probed");
    }
    state.lastScore = healthBps;
    state.lastFailure = failure;
    state.lastReason = reason;
    state.lastDetail = detail;
    state.lastProbeAt = nowMs;
    return {
      endpointId: state.endpoint.id,
      healthBps,
      failure,
      reason,
      detail,
      latencyMs: p.latencyMs,
      signable: this._chainKnown(state),
    };
  }

  /**
   * Never fail back onto a minority chain: after a `fork` verdict the endpoint stays `fork` until it has matched
   * the majority at the compared height for its policy's `riseRounds` probe rounds in a row. A round in which it
   * was not compared (too few peers answered) neither counts down nor lifts the hold.
   */
  private _holdFork(
    state: EndpointState,
    input: ScoreInput,
    parity: ParityVerdict["kind"] | undefined,
    detail: string | undefined,
  ): { input: ScoreInput; detail: string | undefined } {
    const need = Math.max(1, state.policy.riseRounds);
    if (input.failure === "fork") {
      state.forkHold = need;
      return { input, detail };
    }
    if (!state.forkHold) return { input, detail };
    if (parity === "agree") state.forkHold -= 1;
    if (state.forkHold === 0) {
      state.log.info({ rounds: need }, "back on the majority chain: fork verdict lifted");
      return { input, detail };
    }
    return {
      input: input.failure ? input : { failure: "fork" },
      detail: `held: matched the majority for ${need - state.forkHold} of ${need} rounds since its fork`,
    };
  }

  /** Reports signed in the last rounds, filtered, with the context a relayer needs to check them. */
  reports(filter: Pick<ReportFilter, "sinceRound"> = {}): {
    attestor: string;
    configDigest: string | null;
    chainId: number;
    reports: SignedReport[];
  } {
    const digest = this._oracle?.configDigest ?? null;
    // Never a report dated after the attestor's own clock (a clock stepped back after signing), nor beyond the
    // estimated chain time plus the clock bound (a report signed just before the clock was found fast).
    const notAfter = this.clock.latestServable();
    return {
      attestor: this.address,
      configDigest: digest,
      chainId: this.o.config.chain.chainId,
      reports: this.store.query({ ...filter, notAfter }).filter((r) => r.configDigest === digest),
    };
  }

  /** Watched endpoints with their latest verdict (no URIs: they may embed provider API keys). */
  endpointSummaries(): Array<{
    id: string;
    serviceId: string;
    kind: string;
    healthBps: number | null;
    failure: Failure | null;
    reason: ScoreReason | null;
    detail: string | null;
    probedAt: string | null;
  }> {
    return [...this._states.values()].map((s) => ({
      id: s.endpoint.id,
      serviceId: s.endpoint.serviceId,
      kind: EndpointKind[s.endpoint.kind] ?? String(s.endpoint.kind),
      healthBps: s.lastScore ?? null,
      failure: s.lastFailure ?? null,
      reason: s.lastReason ?? null,
      detail: s.lastDetail === undefined ? null : redactUrls(s.lastDetail),
      probedAt: s.lastProbeAt ? new Date(s.lastProbeAt).toISOString() : null,
    }));
  }

  /**
   * False for a JSON-RPC endpoint of a service without an `expectedChainIds` entry: its chain cannot
   * be judged (a majority of a service's endpoints can be on the wrong chain, and a single endpoint
   * has no one to compare with), so its observations are not signed. Logs an error once per service.
   */
  private _chainKnown(state: EndpointState): boolean {
    const { endpoint } = state;
    if (endpoint.kind !== EndpointKind.JSON_RPC) return true;
    if (this.o.config.expectedChainIds[endpoint.serviceId] !== undefined) return true;
    if (!this._missingChainIds.has(endpoint.serviceId)) {
      this._missingChainIds.add(endpoint.serviceId);
      this._log.error(
        { serviceId: endpoint.serviceId, setting: `expectedChainIds.${endpoint.serviceId}` },
        "no expectedChainIds entry for this service: its JSON-RPC endpoints are probed but not signed " +
          "(add the chain id they must serve to expectedChainIds)",
      );
    }
    return false;
  }

  /**
   * Sign one report for the round of the signing time over every endpoint judged in `outcomes`, record the
   * round on disk, then store it for serving and keep the new streaks. Never throws.
   */
  private async _signReport(
    outcomes: readonly ProbeOutcome[],
  ): Promise<{ report?: SignedReport; skipped?: SkipReason }> {
    const { metrics } = this.o;
    // Every round: a clock off chain time would date the report and judge head ages wrongly (clock.ts).
    const clock = this.clock.check();
    const oracle = this._oracle;
    const separator = this._separator;
    if (!oracle || !separator) return this._skip("no_oracle_state");
    const judged: Array<{ state: EndpointState; healthBps: number }> = [];
    for (const o of outcomes) {
      const state = this._states.get(o.endpointId);
      if (!state) continue; // left the registry while it was probed
      if (!o.signable) {
        metrics.observationsWithheld.inc({ reason: "no_expected_chain_id" });
        continue;
      }
      judged.push({ state, healthBps: o.healthBps });
    }
    if (judged.length === 0) return this._skip("nothing_judged");
    if (!clock.ok) {
      metrics.observationsWithheld.inc({ reason: "clock_skew" }, judged.length);
      return this._skip("clock_skew");
    }

    const observedAt = Math.floor(this._now() / 1000);
    const round = roundOf(observedAt, oracle.roundSeconds);
    // Claimed synchronously, before anything is awaited: a racing probe round of the same round stops here.
    const claimed = this._claimed;
    if (claimed && claimed.configDigest === oracle.configDigest && round <= claimed.round) {
      metrics.observationsWithheld.inc({ reason: "round_already_signed" }, judged.length);
      return this._skip("round_already_signed");
    }
    this._claimed = { configDigest: oracle.configDigest, round };

    judged.sort((a, b) => (a.state.endpoint.id < b.state.endpoint.id ? -1 : 1));
    let report: Report;
    let streaks: StreakState[];
    let digest: string;
    let signature: string;
    try {
      streaks = judged.map((j) => judgeRound(j.state.streak, round, j.healthBps, j.state.policy));
      report = {
        configDigest: oracle.configDigest,
        round,
        observedAt,
        endpointIds: sortEndpointIds(judged.map((j) => j.state.endpoint.id)),
        values: encodeValues(
          judged.map((j, i) => ({
            healthBps: j.healthBps,
            badRounds: streaks[i].badRounds,
            goodRounds: streaks[i].goodRounds,
          })),
        ),
      };
      digest = reportDigest(separator, report, this._hashIds(report.endpointIds));
      signature = signReportDigest(this.o.key, digest);
    } catch (e) {
      // Nothing was served: the round stays claimed (skipped) rather than risk a second signature for it.
      this._log.error({ err: e, round }, "building or signing the report failed: round skipped");
      return this._skip("sign_failed");
    }
    try {
      await this._signedRounds.record({
        configDigest: report.configDigest,
        round,
        observedAt,
        reportDigest: digest,
      });
    } catch (e) {
      this._log.error(
        { err: e, round, file: this._signedRounds.file },
        "cannot record the signed round on disk: report not served (check dataDir)",
      );
      return this._skip("persist_failed");
    }
    // A rotation while we were recording makes this signature worthless: do not serve it.
    if (this._oracle?.configDigest !== report.configDigest) return this._skip("rotated");
    const signed: SignedReport = { ...report, attestor: this.address, signature };
    if (!this.store.add(signed)) return this._skip("round_already_signed");
    judged.forEach((j, i) => (j.state.streak = streaks[i]));
    metrics.observationsSigned.inc(judged.length);
    this._reportMetrics.reportsSigned.inc();
    this._reportMetrics.reportEndpoints.observe(judged.length);
    this._log.debug(
      { round, observedAt, endpoints: judged.length, reportDigest: digest },
      "signed the round's report",
    );
    return { report: signed };
  }

  /**
   * `hashEndpointIds(ids)` (keccak256 of the concatenated ids), computed from a native hex decode and reused
   * while the list is unchanged: the list changes only when endpoints come, go or cannot be judged.
   */
  private _hashIds(ids: readonly string[]): string {
    const key = ids.join("");
    if (this._idsHash?.ids !== key) {
      this._idsHash = { ids: key, hash: keccak256(Buffer.from(key.replace(/0x/g, ""), "hex")) };
    }
    return this._idsHash.hash;
  }

  private _skip(reason: SkipReason): { skipped: SkipReason } {
    this._reportMetrics.roundsSkipped.inc({ reason });
    return { skipped: reason };
  }

  private _thresholds(kind: EndpointKind) {
    const t = this.o.config.thresholds;
    if (kind === EndpointKind.JSON_RPC) return t.jsonRpc;
    if (kind === EndpointKind.HTTP) return t.http;
    return t.oracleFeed;
  }

  /**
   * Failed share of the last `errorWindow` probes, this one included. Probes before the first count as
   * successes (the denominator is always the window size), so one early timeout is 1/20, not 1/2.
   */
  private _errorRate(state: EndpointState, failedNow: boolean): number {
    const w = [...state.window, failedNow].slice(-this.o.config.errorWindow);
    return w.filter(Boolean).length / this.o.config.errorWindow;
  }

  /**
   * Run the probe for the endpoint's kind. A JSON-RPC probe returns the raw result (judged after parity); the
   * other kinds are evaluated at once. Throws ProbeFailure.
   */
  private async _measure(
    state: EndpointState,
  ): Promise<{ input?: ScoreInput; rpc?: RpcProbeResult } | undefined> {
    const { config } = this.o;
    const ep = state.endpoint;
    const opts = { timeoutMs: config.timeoutMs, fetch: this.o.fetch };
    switch (ep.kind) {
      case EndpointKind.JSON_RPC: {
        const rpc = await probeJsonRpc(ep.uri, opts);
        state.head = { ...rpc.head, at: this._now() };
        this.clock.observeRpc(ep.id, rpc, state.head.at);
        return { rpc };
      }
      case EndpointKind.HTTP: {
        const result = await probeHttp(ep.uri, opts);
        return { input: evaluateHttp(result, this._errorRate(state, false)) };
      }
      case EndpointKind.ORACLE_FEED:
      case EndpointKind.SEQUENCER_FEED: {
        const feed = parseCaip10(ep.uri);
        if (!feed) throw new ProbeFailure("invalid_response", `feed URI is not eip155:<chainId>:<address>`);
        const rpcUrl =
          config.feedRpcUrls[String(feed.chainId)] ??
          (feed.chainId === config.chain.chainId ? config.chain.rpcUrls[0] : undefined);
        if (!rpcUrl) {
          if (!state.warned)
            state.log.warn({ chainId: feed.chainId }, "no RPC for this feed's chain: add feedRpcUrls");
          state.warned = true;
          return undefined;
        }
        const result = await probeFeed(rpcUrl, feed, opts);
        const input = evaluateFeed(result, {
          nowSec: this._now() / 1000,
          expectedChainId: feed.chainId,
          errorRate: this._errorRate(state, false),
          maxFutureSec: config.maxFutureSec,
          sequencer: ep.kind === EndpointKind.SEQUENCER_FEED,
        });
        return { input };
      }
      default:
        if (!state.warned) state.log.warn({ kind: ep.kind }, "no probe for this endpoint kind: not attested");
        state.warned = true;
        return undefined;
    }
  }
}

/** What {@link startAttestor} may be given instead of building it from the config. */
export interface AttestorDeps {
  logger?: Logger;
  metrics?: Metrics;
  /** Signing key (an ethers `Wallet`); default: loaded from `config.key` (environment variable or keystore). */
  signer?: { readonly signingKey: SigningKey };
  /** Provider of the control chain; default: `createProvider(config)`. */
  provider?: AbstractProvider;
  /** Endpoint list; default: the EndpointRegistry at `config.contracts.registry`. */
  endpoints?: EndpointSource;
  /** Signing context; default: the HealthOracle at `config.contracts.oracle`. */
  oracle?: OracleReader;
  fetch?: FetchFn;
  now?: () => number;
  /** External shutdown (the process's `Shutdown.signal`). */
  signal?: AbortSignal;
  env?: NodeJS.ProcessEnv;
  /**
   * The start-up checks of keepers/shared/preflight.ts (every RPC on `chain.chainId`, the oracle and registry
   * where configured; the guard is not the attestor's); `false` skips them. Default: run them unless both the
   * endpoint list and the oracle are injected (nothing is read from the chain then).
   */
  preflight?: PreflightOptions | false;
}

export interface RunningAttestor {
  /** The HTTP port bound. */
  port: number;
  /** `http://host:port`. */
  url: string;
  /** The attestor's address. */
  address: string;
  attestor: Attestor;
  /** Loop liveness, as /healthz reports it. */
  loops: LoopHealth[];
  /** Finish the round in flight, close the server. Idempotent. */
  stop(): Promise<void>;
  /** Settles once stopped (after `stop()` or the external signal). */
  done: Promise<void>;
}

/**
 * Start an attestor: load the key, read the oracle and the registry once (failing fast with
 * VIGIL_CHAIN when they cannot be read), start the probe, registry and oracle loops and the HTTP server
 * (`/v1/reports`, `/v1/endpoints`, `/healthz`, `/metrics`). The CLI, tests, the benchmark and
 * the drill all run this.
 */
export async function startAttestor(
  config: AttestorConfig,
  deps: AttestorDeps = {},
): Promise<RunningAttestor> {
  const root = deps.logger ?? createLogger("vigil", { level: config.log.level });
  const logger = root.child({ keeper: "attestor", chainId: config.chain.chainId });
  const metrics = deps.metrics ?? new Metrics();
  const signer = deps.signer ?? (await loadWallet(config.key, deps.env));
  // Configuration mistakes (a dead RPC, another chain, a wrong address) stop here, naming the setting.
  if (deps.preflight !== false && (deps.preflight || !deps.endpoints || !deps.oracle))
    await preflight(config, { ...deps.preflight, guard: false });
  let provider: AbstractProvider | undefined = deps.provider;
  const ownsProvider = !provider && (!deps.endpoints || !deps.oracle);
  if (ownsProvider)
    provider = createProvider({ rpcUrls: config.chain.rpcUrls, chainId: config.chain.chainId });
  let attestor: Attestor;
  try {
    attestor = new Attestor({
      config,
      key: signer.signingKey,
      endpoints:
        deps.endpoints ?? registryEndpointSource(config.contracts.registry, provider!, config.services),
      oracle: deps.oracle ?? contractOracleReader(config.contracts.oracle, provider!),
      logger,
      metrics,
      fetch: deps.fetch,
      now: deps.now,
      controlClock: provider ? () => readChainClock(provider!, deps.now) : undefined,
    });
    await attestor.refreshOracle().catch((e) => {
      throw chainError(
        e,
        `cannot read the HealthOracle at ${config.contracts.oracle}`,
        "check oracle, rpcUrls and chainId",
      );
    });
    await attestor.refreshEndpoints().catch((e) => {
      throw chainError(
        e,
        `cannot read the EndpointRegistry at ${config.contracts.registry} or the endpoints' policies on the HealthOracle`,
        "check registry, oracle and rpcUrls",
      );
    });
  } catch (e) {
    if (ownsProvider) provider?.destroy();
    throw e;
  }

  const controller = new AbortController();
  const onExternal = () => controller.abort(deps.signal?.reason);
  if (deps.signal?.aborted) controller.abort();
  deps.signal?.addEventListener("abort", onExternal, { once: true });
  const signal = controller.signal;

  const probe = runLoop(
    { name: "probe", intervalMs: config.probeIntervalMs, signal, logger, metrics },
    async () => {
      await attestor.probeRound();
    },
  );
  const registry = runLoop(
    { name: "registry", intervalMs: config.registryRefreshMs, signal, logger, metrics, immediate: false },
    () => attestor.refreshEndpoints(),
  );
  const oracle = runLoop(
    { name: "oracle", intervalMs: config.oracleRefreshMs, signal, logger, metrics, immediate: false },
    () => attestor.refreshOracle(),
  );
  const loops = [probe.health, registry.health, oracle.health];
  const server = new KeeperServer({
    host: config.http.host,
    port: config.http.port,
    logger,
    metrics,
    metricsEnabled: config.metrics.enabled,
    loops: () => loops,
    conditions: () => [attestor.clock.condition()],
    routes: attestorRoutes(attestor),
  });
  let port: number;
  try {
    port = await server.listen();
  } catch (e) {
    controller.abort();
    await Promise.all([probe.done, registry.done, oracle.done]);
    if (ownsProvider) provider?.destroy();
    throw new VigilError(
      "VIGIL_CONFIG",
      `cannot listen on ${config.http.host}:${config.http.port}: ${(e as Error).message}`,
      "choose another http.port",
    );
  }
  logger.info(
    {
      attestor: attestor.address,
      port,
      endpoints: attestor.endpoints.length,
      configDigest: attestor.oracleState?.configDigest,
    },
    "attestor started",
  );

  const done = (async () => {
    await new Promise<void>((resolve) =>
      signal.aborted ? resolve() : signal.addEventListener("abort", () => resolve(), { once: true }),
    );
    await Promise.all([probe.done, registry.done, oracle.done]);
    await server.close();
    deps.signal?.removeEventListener("abort", onExternal);
    if (ownsProvider) provider?.destroy();
    logger.info("attestor stopped");
  })();

  return {
    port,
    url: `http://${config.http.host.includes(":") ? `[${config.http.host}]` : config.http.host}:${port}`,
    address: attestor.address,
    attestor,
    loops,
    stop: async () => {
      controller.abort();
      await done;
    },
    done,
  };
}

function chainError(e: unknown, what: string, hint: string): VigilError {
  if (e instanceof VigilError) return e;
  const err = e as { shortMessage?: string; message?: string };
  const why = redactUrls(err?.shortMessage ?? err?.message ?? String(e));
  return new VigilError("VIGIL_CHAIN", `${what}: ${why}`, hint, {
    cause: e,
  });
}
