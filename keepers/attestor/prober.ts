/**
 * One probe pass over a set of endpoints, in three phases (the attestor's rounds and single-endpoint probes
 * both run it):
 *
 * 1. probe each endpoint (bounded concurrency; a target whose URI or resolved address is private is refused,
 *    never probed, and its probes connect only to the checked address: SSRF, targets.ts and resolve.ts);
 * 2. state parity over each service's JSON-RPC endpoints that answered, grouped by the chain they serve
 *    (parity.ts, rpcService.ts);
 * 3. score each (score.ts), hold a fork verdict until the endpoint is back on the majority chain, record the
 *    verdict on the endpoint's state, count and log it.
 *
 * The endpoint states live in the Attestor; the prober reads and updates them.
 */
import { performance } from "node:perf_hooks";
import { EndpointKind } from "../shared/health";
import type { Logger } from "../shared/logger";
import type { Metrics } from "../shared/metrics";
import type { ClockGuard } from "./clockGuard";
import type { AttestorConfig } from "./config";
import type { ParityVerdict } from "./parity";
import { forEachConcurrent } from "./pool";
import { evaluateHttp, probeHttp } from "./probes/http";
import { evaluateJsonRpc, probeJsonRpc, type RpcHead, type RpcProbeResult } from "./probes/jsonRpc";
import { evaluateFeed, parseCaip10, probeFeed } from "./probes/oracleFeed";
import { ProbeFailure, type FetchFn } from "./probes/transport";
import { recordRefusal, TargetRefused, TargetResolver, type HostResolver } from "./resolve";
import { checkServiceParity } from "./rpcService";
import { score, scoreReason, type Failure, type ScoreInput, type ScoreReason } from "./score";
import type { EndpointPolicy, WatchedEndpoint } from "./sources";
import type { StreakState } from "./streaks";
import { refuseTarget, URL_KINDS } from "./targets";

/** Per-endpoint state between probes. */
export interface EndpointState {
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

/** Score bands for "status changed" log lines (oracle defaults: DOWN below 5000, HEALTHY from 8000). */
function band(bps: number): "healthy" | "degraded" | "down" {
  return bps >= 8_000 ? "healthy" : bps >= 5_000 ? "degraded" : "down";
}

/** What the prober needs from the attestor. */
export interface ProberOptions {
  config: AttestorConfig;
  metrics: Metrics;
  log: Logger;
  /** Clock, ms since the epoch. */
  now: () => number;
  /** Samples every JSON-RPC probe's head for the clock discipline. */
  clock: ClockGuard;
  fetch?: FetchFn;
  /** Resolves registry targets' host names (default: the system's `dns.lookup`); tests inject names. */
  resolve?: HostResolver;
}

/** Probes, judges and scores endpoints: see the file comment. */
export class Prober {
  /** Services whose missing `expectedChainIds` entry was already logged. */
  private readonly _missingChainIds = new Set<string>();

  /** The SSRF guard by address: resolves, judges and pins registry targets (resolve.ts). */
  private readonly _targets: TargetResolver;

  constructor(private readonly o: ProberOptions) {
    const { allowPrivateTargets: allowPrivate, timeoutMs } = o.config;
    this._targets = new TargetResolver({ allowPrivate, timeoutMs, resolve: o.resolve });
  }

  /** Probe `states` (bounded concurrency), run state parity per service and chain, score and record each. */
  async probeAll(states: readonly EndpointState[]): Promise<ProbeOutcome[]> {
    const probed: Probed[] = [];
    await forEachConcurrent(states, this.o.config.concurrency, async (state) => {
      const p = await this._probe(state);
      if (p) probed.push(p);
    });
    const parity = await this._parity(probed);
    return probed.map((p) => this._finish(p, parity.get(p.state)));
  }

  /** Phase 1: the probe itself. Undefined when the endpoint is not probed (see `Attestor.probeEndpoint`). */
  private async _probe(state: EndpointState): Promise<Probed | undefined> {
    const refusal = URL_KINDS.has(state.endpoint.kind)
      ? refuseTarget(state.endpoint.uri, this.o.config.allowPrivateTargets)
      : undefined;
    if (refusal) return recordRefusal(this.o.metrics, state, refusal);
    const started = performance.now();
    try {
      const measured = await this._measure(state);
      if (measured === undefined) return undefined;
      return { state, ...measured, transportFailed: false, latencyMs: performance.now() - started };
    } catch (e) {
      if (e instanceof TargetRefused) return recordRefusal(this.o.metrics, state, e.refusal, e.address);
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
            agents: this._targets.agents,
            referenceUrls: config.referenceRpcUrls[serviceId],
            held: new Set(list.filter((p) => p.state.forkHold).map((p) => p.state.endpoint.id)),
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
    const nowMs = this.o.now();
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
      this.o.log.error(
        { serviceId: endpoint.serviceId, setting: `expectedChainIds.${endpoint.serviceId}` },
        "no expectedChainIds entry for this service: its JSON-RPC endpoints are probed but not signed " +
          "(add the chain id they must serve to expectedChainIds)",
      );
    }
    return false;
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
        const rpc = await probeJsonRpc(ep.uri, await this._targets.pin(ep.uri, opts));
        state.head = { ...rpc.head, at: this.o.now() };
        this.o.clock.observeRpc(ep.id, rpc, state.head.at);
        return { rpc };
      }
      case EndpointKind.HTTP: {
        const result = await probeHttp(ep.uri, await this._targets.pin(ep.uri, opts));
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
          nowSec: this.o.now() / 1000,
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
