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
import { computeAddress, getAddress, type SigningKey } from "ethers";
import type { ChainClock } from "../shared/chain";
import { VigilError } from "../shared/errors";
import { EndpointKind } from "../shared/health";
import type { Logger } from "../shared/logger";
import type { Metrics } from "../shared/metrics";
import { redactUrls } from "../shared/redact";
import { domainSeparator, type SignedReport } from "../shared/report";
import { ClockGuard } from "./clockGuard";
import type { AttestorConfig } from "./config";
import { reportMetrics } from "./metrics";
import { Prober, type EndpointState, type ProbeOutcome } from "./prober";
import type { FetchFn } from "./probes/transport";
import type { Failure, ScoreReason } from "./score";
import { RoundSigner, type SignedRound, type SkipReason } from "./signer";
import type { EndpointSource, OracleReader, OracleState, WatchedEndpoint } from "./sources";
import { ReportStore, type ReportFilter } from "./store";

export type { ProbeOutcome } from "./prober";
export type { SignedRound, SkipReason } from "./signer";

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

export class Attestor {
  readonly store: ReportStore;
  /** The attestor's checksummed address. */
  readonly address: string;
  private readonly _states = new Map<string, EndpointState>();
  /** JSON-RPC endpoints by service id (peers for parity and lag); rebuilt on every endpoint refresh. */
  private _rpcByService = new Map<string, EndpointState[]>();
  private _oracle?: OracleState;
  /** EIP-712 domain separator of `_oracle.domain`; always updated together with `_oracle`. */
  private _separator?: string;
  private readonly _now: () => number;
  private readonly _log: Logger;
  private readonly _prober: Prober;
  private readonly _signer: RoundSigner;
  /** Clock discipline: no signature while the local clock is off chain time (clock.ts, clockGuard.ts). */
  readonly clock: ClockGuard;

  /**
   * @throws VigilError `VIGIL_CONFIG` / `VIGIL_ATTESTATION` when the signed-round record in `config.dataDir`
   * cannot be created or read (see signedRound.ts).
   */
  constructor(private readonly o: AttestorOptions) {
    this.address = getAddress(computeAddress(o.key));
    this.store = new ReportStore(o.config.keepReports);
    this._now = o.now ?? Date.now;
    this._log = o.logger;
    const metrics = reportMetrics(o.metrics);
    this.clock = new ClockGuard({
      config: o.config,
      metrics,
      log: this._log,
      now: this._now,
      control: o.controlClock,
    });
    this._prober = new Prober({
      config: o.config,
      metrics: o.metrics,
      log: this._log,
      now: this._now,
      clock: this.clock,
      fetch: o.fetch,
    });
    this._signer = new RoundSigner({
      key: o.key,
      address: this.address,
      dataDir: o.config.dataDir,
      store: this.store,
      clock: this.clock,
      metrics: o.metrics,
      reportMetrics: metrics,
      log: this._log,
      now: this._now,
    });
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
    return this._signer.lastSignedRound;
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
      this._prober.probeAll([...this._states.values()]),
      this.clock.sampleControl(),
    ]);
    const { report, skipped } = await this._signer.sign(outcomes, {
      oracle: this._oracle,
      separator: this._separator,
      stateOf: (id) => this._states.get(id),
      currentDigest: () => this._oracle?.configDigest,
    });
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
    const outcomes = await this._prober.probeAll(group);
    return outcomes.find((o) => o.endpointId === state.endpoint.id);
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
}
