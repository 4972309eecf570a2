/**
 * The attestor service: keeps the endpoint list of the configured `services` in step with the
 * EndpointRegistry and the signing context in step with the HealthOracle, probes every endpoint each
 * interval with bounded concurrency,
 * scores each probe (score.ts), signs the observation under the oracle's EIP-712 domain and keeps the
 * latest ones for `GET /v1/observations`.
 *
 * The registry is permissionless, so the attestor watches only the services it is told to, and never
 * probes a URI whose host is private, loopback, link-local or unspecified unless `allowPrivateTargets`
 * is set (targets.ts): a registrant cannot aim it at internal services (SSRF).
 *
 * A JSON-RPC endpoint is judged against the chain id its service must serve (`expectedChainIds`,
 * required for every watched service with JSON-RPC endpoints: without it the attestor probes but
 * does not sign), and lag and hash cross-checks compare it only with peers on the same chain.
 *
 * Every probe carries its own timeout (below the interval, enforced by the config), so a slow or hung
 * endpoint never delays the others' observations nor the next round.
 *
 * ## One observation per (endpoint, round)
 *
 * The attestor signs at most ONE observation per endpoint per oracle round (`floor(observedAt /
 * roundSeconds)`), as an OCR oracle makes one report per round: the first probe that completes in a
 * round is signed, and later probes of that round only update metrics and `/v1/endpoints`. Two
 * signatures of one attestor for one (endpoint, round) would be equivocation — responders drop an
 * attestor that equivocates — and would let a relayer cherry-pick the worse one on-chain. With
 * `probeIntervalMs` below `roundSeconds` this bounds detection latency at one round: a failure right
 * after a round was signed is signed at the first probe of the next round. The round is reserved
 * before signing starts, so two probes racing in one round cannot both sign, and the store refuses a
 * second observation of a round it holds. A rotation of the attestor set (new config digest) starts
 * afresh: signatures under the old digest no longer count. (The reservation lives in memory: a
 * restart within a round may sign that round again.)
 */
import { getAddress, type AbstractProvider, type Signer } from "ethers";
import { performance } from "node:perf_hooks";
import { createProvider, loadWallet } from "../shared/chain";
import { VigilError } from "../shared/errors";
import { EndpointKind, roundOf } from "../shared/health";
import { runLoop, type LoopHealth } from "../shared/lifecycle";
import { createLogger, type Logger } from "../shared/logger";
import { Metrics } from "../shared/metrics";
import { redactUrls } from "../shared/redact";
import { signObservation, type Observation, type SignedObservation } from "../shared/observation";
import { KeeperServer } from "../shared/server";
import type { AttestorConfig } from "./config";
import { probeHttp, evaluateHttp } from "./probes/http";
import { evaluateJsonRpc, probeJsonRpc, type PeerHead, type RpcHead } from "./probes/jsonRpc";
import { evaluateFeed, parseCaip10, probeFeed } from "./probes/oracleFeed";
import { ProbeFailure, type FetchFn } from "./probes/transport";
import { forEachConcurrent } from "./pool";
import { observationRoutes } from "./routes";
import { refuseTarget } from "./targets";
import { score, type Failure, type ScoreInput } from "./score";
import {
  contractOracleReader,
  registryEndpointSource,
  type EndpointSource,
  type OracleReader,
  type OracleState,
  type WatchedEndpoint,
} from "./sources";
import { ObservationStore, type ObservationFilter } from "./store";

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
  /** Sliding window of probe outcomes, true = the probe failed at transport or protocol level. */
  window: boolean[];
  /** Latest head from this endpoint's latest probe (JSON-RPC), with when it was seen (ms). */
  head?: RpcHead & { at: number };
  lastScore?: number;
  lastFailure?: Failure;
  lastProbeAt?: number;
  /** Set once we warned that this endpoint cannot be probed. */
  warned?: boolean;
  /** The URI we last logged a refusal for (log once per URI). */
  refusedUri?: string;
}

/** The latest round signed (or being signed) for one endpoint, under one config digest. */
interface SignedRound {
  configDigest: string;
  round: number;
}

/** Result of one probe, for tests and the benchmark. */
export interface ProbeOutcome {
  endpointId: string;
  healthBps: number;
  failure?: Failure;
  detail?: string;
  latencyMs: number;
  /** The observation signed and served for this probe; absent when the probe's round was already
   *  signed (one observation per endpoint and round) or signing was withheld. */
  observation?: SignedObservation;
}

export interface AttestorOptions {
  config: AttestorConfig;
  signer: Signer;
  /** The signer's checksummed address. */
  address: string;
  endpoints: EndpointSource;
  oracle: OracleReader;
  logger: Logger;
  metrics: Metrics;
  fetch?: FetchFn;
  /** Clock, ms since the epoch. Default Date.now. */
  now?: () => number;
}

/** Score bands for "status changed" log lines (oracle defaults: DOWN below 5000, HEALTHY from 8000). */
function band(bps: number): "healthy" | "degraded" | "down" {
  return bps >= 8_000 ? "healthy" : bps >= 5_000 ? "degraded" : "down";
}

export class Attestor {
  readonly store: ObservationStore;
  private readonly _states = new Map<string, EndpointState>();
  /**
   * Latest round signed per endpoint id. Kept apart from {@link _states} so an endpoint that leaves
   * the registry and comes back within a round is not signed twice; pruned as rounds pass.
   */
  private readonly _signedRounds = new Map<string, SignedRound>();
  /** Services whose missing `expectedChainIds` entry was already logged. */
  private readonly _missingChainIds = new Set<string>();
  private _oracle?: OracleState;
  private readonly _now: () => number;
  private readonly _log: Logger;

  constructor(private readonly o: AttestorOptions) {
    this.store = new ObservationStore(o.config.keepObservations);
    this._now = o.now ?? Date.now;
    this._log = o.logger;
  }

  /** The attestor's address (checksummed). */
  get address(): string {
    return this.o.address;
  }

  /** Current signing context; undefined before the first successful {@link refreshOracle}. */
  get oracleState(): OracleState | undefined {
    return this._oracle;
  }

  /** Endpoints currently watched. */
  get endpoints(): WatchedEndpoint[] {
    return [...this._states.values()].map((s) => s.endpoint);
  }

  /**
   * Re-read domain, config digest, round length and attestor set from the oracle. A new digest (the
   * attestor set rotated) drops every stored observation: signatures under the old digest no longer
   * count. Warns when this attestor is not in the set.
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
    if (Number(next.domain.chainId) !== this.o.config.chainId) {
      throw new VigilError(
        "VIGIL_CHAIN",
        `oracle EIP-712 domain is for chain ${next.domain.chainId}, config says ${this.o.config.chainId}`,
        "fix chainId or rpcUrls",
      );
    }
    const prev = this._oracle;
    if (prev && prev.configDigest !== next.configDigest) {
      this._log.info(
        { previous: prev.configDigest, configDigest: next.configDigest, version: next.version },
        "attestor set rotated: signing under the new config digest",
      );
      this.store.clear();
    }
    const member = next.attestors.some((a) => a.toLowerCase() === this.o.address.toLowerCase());
    if (!member && (!prev || prev.version !== next.version || prev.configDigest !== next.configDigest)) {
      this._log.warn(
        { attestor: this.o.address, version: next.version },
        "this attestor is not in the oracle's attestor set: its observations will not count",
      );
    }
    this._oracle = next;
  }

  /** Re-read the endpoints to watch; new ones are probed from the next round, removed ones forgotten. */
  async refreshEndpoints(): Promise<void> {
    const list = await this.o.endpoints.listEndpoints();
    const seen = new Set<string>();
    for (const ep of list) {
      const id = ep.id.toLowerCase();
      seen.add(id);
      const existing = this._states.get(id);
      if (existing) {
        existing.endpoint = { ...ep, id };
        continue;
      }
      const log = this._log.child({ endpointId: id, serviceId: ep.serviceId });
      this._states.set(id, {
        endpoint: { ...ep, id },
        log,
        kindLabel: (EndpointKind[ep.kind] ?? `kind_${ep.kind}`).toLowerCase(),
        window: [],
      });
      log.info({ kind: EndpointKind[ep.kind] ?? ep.kind }, "watching endpoint");
    }
    const current = this._oracle
      ? roundOf(Math.floor(this._now() / 1000), this._oracle.roundSeconds)
      : undefined;
    for (const [id, signed] of this._signedRounds) {
      if (!seen.has(id) && (current === undefined || signed.round < current)) this._signedRounds.delete(id);
    }
    for (const id of [...this._states.keys()]) {
      if (!seen.has(id)) {
        this._states.delete(id);
        this.store.drop(id);
        this.o.metrics.endpointHealth.remove({ endpoint: id });
        this._log.info({ endpointId: id }, "endpoint left the registry: no longer watched");
      }
    }
  }

  /** Probe, score and sign every watched endpoint once, at most `concurrency` at a time. */
  async probeRound(): Promise<ProbeOutcome[]> {
    const outcomes: ProbeOutcome[] = [];
    await forEachConcurrent([...this._states.values()], this.o.config.concurrency, async (state) => {
      const outcome = await this.probeEndpoint(state.endpoint.id);
      if (outcome) outcomes.push(outcome);
    });
    return outcomes;
  }

  /**
   * Probe one endpoint, score it, sign and store the observation. Never throws; returns undefined
   * when the endpoint cannot be probed (unsupported kind, no RPC for a feed's chain, no oracle state)
   * or must not be (a private, loopback or link-local target without `allowPrivateTargets`: no probe,
   * no signature, counted in `vigil_probes_refused_total`).
   */
  async probeEndpoint(endpointId: string): Promise<ProbeOutcome | undefined> {
    const state = this._states.get(endpointId.toLowerCase());
    const oracle = this._oracle;
    if (!state || !oracle) return undefined;
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
    let input: ScoreInput;
    let detail: string | undefined;
    let transportFailed = false;
    try {
      const measured = await this._measure(state);
      if (measured === undefined) return undefined;
      input = measured;
    } catch (e) {
      const f =
        e instanceof ProbeFailure
          ? e
          : new ProbeFailure("invalid_response", (e as Error)?.message ?? String(e));
      input = { failure: f.failure };
      detail = f.message;
      transportFailed = true;
      state.head = undefined;
    }
    const latencyMs = performance.now() - started;
    state.window.push(transportFailed);
    if (state.window.length > config.errorWindow) state.window.shift();

    const healthBps = score(input, this._thresholds(state.endpoint.kind));
    const failure = input.failure;
    const outcome =
      failure === "timeout" ? "timeout" : transportFailed ? "error" : healthBps >= 8_000 ? "ok" : "unhealthy";
    metrics.probes.inc({ kind: state.kindLabel, outcome });
    if (!transportFailed) metrics.probeLatency.observe({ kind: state.kindLabel }, latencyMs / 1000);
    metrics.endpointHealth.set({ endpoint: state.endpoint.id }, healthBps);

    const nowMs = this._now();
    const observedAt = Math.floor(nowMs / 1000);
    const obs: Observation = {
      configDigest: oracle.configDigest,
      endpointId: state.endpoint.id,
      round: roundOf(observedAt, oracle.roundSeconds),
      healthBps,
      observedAt,
    };
    let signed: SignedObservation | undefined;
    if (!this._chainKnown(state)) {
      metrics.observationsWithheld.inc({ reason: "no_expected_chain_id" });
    } else if (this._reserveRound(state.endpoint.id, oracle.configDigest, obs.round)) {
      try {
        const signature = await signObservation(this.o.signer, oracle.domain, obs);
        const candidate: SignedObservation = { ...obs, attestor: this.o.address, signature };
        // A rotation while we were signing makes this signature worthless: do not serve it.
        if (this._oracle?.configDigest === oracle.configDigest && this.store.add(candidate)) {
          signed = candidate;
          metrics.observationsSigned.inc();
        }
      } catch (e) {
        this._releaseRound(state.endpoint.id, oracle.configDigest, obs.round);
        state.log.error({ err: e }, "signing the observation failed");
      }
    } else {
      metrics.observationsWithheld.inc({ reason: "round_already_signed" });
    }

    const prevBand = state.lastScore === undefined ? undefined : band(state.lastScore);
    const nowBand = band(healthBps);
    const fields = { healthBps, failure, detail, latencyMs: Math.round(latencyMs), round: obs.round };
    if (prevBand !== nowBand) state.log.info(fields, `endpoint ${nowBand}`);
    else state.log.debug(fields, "probed");
    state.lastScore = healthBps;
    state.lastFailure = failure;
    state.lastProbeAt = nowMs;
    return { endpointId: state.endpoint.id, healthBps, failure, detail, latencyMs, observation: signed };
  }

  /** Signed observations, filtered, with the context a relayer needs to check them. */
  observations(filter: ObservationFilter = {}): {
    attestor: string;
    configDigest: string | null;
    chainId: number;
    observations: SignedObservation[];
  } {
    return {
      attestor: this.o.address,
      configDigest: this._oracle?.configDigest ?? null,
      chainId: this.o.config.chainId,
      observations: this.store.query(filter),
    };
  }

  /** Watched endpoints with their latest verdict (no URIs: they may embed provider API keys). */
  endpointSummaries(): Array<{
    id: string;
    serviceId: string;
    kind: string;
    healthBps: number | null;
    failure: Failure | null;
    probedAt: string | null;
  }> {
    return [...this._states.values()].map((s) => ({
      id: s.endpoint.id,
      serviceId: s.endpoint.serviceId,
      kind: EndpointKind[s.endpoint.kind] ?? String(s.endpoint.kind),
      healthBps: s.lastScore ?? null,
      failure: s.lastFailure ?? null,
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
   * Claim (endpoint, round) for signing, synchronously, before the signature is awaited: false when
   * this round was already signed or is being signed under the same config digest.
   */
  private _reserveRound(endpointId: string, configDigest: string, round: number): boolean {
    const prev = this._signedRounds.get(endpointId);
    if (prev && prev.configDigest === configDigest && prev.round >= round) return false;
    this._signedRounds.set(endpointId, { configDigest, round });
    return true;
  }

  /** Give back a reservation whose signing failed, so a later probe of the round may sign. */
  private _releaseRound(endpointId: string, configDigest: string, round: number): void {
    const cur = this._signedRounds.get(endpointId);
    if (cur && cur.configDigest === configDigest && cur.round === round)
      this._signedRounds.delete(endpointId);
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

  /** Run the probe for the endpoint's kind and evaluate it in context. Throws ProbeFailure. */
  private async _measure(state: EndpointState): Promise<ScoreInput | undefined> {
    const { config } = this.o;
    const ep = state.endpoint;
    const opts = { timeoutMs: config.timeoutMs, fetch: this.o.fetch };
    switch (ep.kind) {
      case EndpointKind.JSON_RPC: {
        const result = await probeJsonRpc(ep.uri, opts);
        const nowMs = this._now();
        state.head = { ...result.head, at: nowMs };
        return evaluateJsonRpc(result, {
          nowSec: nowMs / 1000,
          expectedChainId: config.expectedChainIds[ep.serviceId],
          peers: this._peerHeads(state, nowMs),
          errorRate: this._errorRate(state, false),
          maxFutureSec: config.maxFutureSec,
        });
      }
      case EndpointKind.HTTP: {
        const result = await probeHttp(ep.uri, opts);
        return evaluateHttp(result, this._errorRate(state, false));
      }
      case EndpointKind.ORACLE_FEED:
      case EndpointKind.SEQUENCER_FEED: {
        const feed = parseCaip10(ep.uri);
        if (!feed) throw new ProbeFailure("invalid_response", `feed URI is not eip155:<chainId>:<address>`);
        const rpcUrl =
          config.feedRpcUrls[String(feed.chainId)] ??
          (feed.chainId === config.chainId ? config.rpcUrls[0] : undefined);
        if (!rpcUrl) {
          if (!state.warned)
            state.log.warn({ chainId: feed.chainId }, "no RPC for this feed's chain: add feedRpcUrls");
          state.warned = true;
          return undefined;
        }
        const result = await probeFeed(rpcUrl, feed, opts);
        return evaluateFeed(result, {
          nowSec: this._now() / 1000,
          expectedChainId: feed.chainId,
          errorRate: this._errorRate(state, false),
          maxFutureSec: config.maxFutureSec,
          sequencer: ep.kind === EndpointKind.SEQUENCER_FEED,
        });
      }
      default:
        if (!state.warned) state.log.warn({ kind: ep.kind }, "no probe for this endpoint kind: not attested");
        state.warned = true;
        return undefined;
    }
  }

  /** Latest heads of the same service's other JSON-RPC endpoints, seen within the freshness window. */
  private _peerHeads(self: EndpointState, nowMs: number): PeerHead[] {
    const oldest = nowMs - this.o.config.peerFreshIntervals * this.o.config.probeIntervalMs;
    const out: PeerHead[] = [];
    for (const s of this._states.values()) {
      if (s === self || s.endpoint.serviceId !== self.endpoint.serviceId) continue;
      if (s.endpoint.kind !== EndpointKind.JSON_RPC || !s.head || s.head.at < oldest) continue;
      out.push({ number: s.head.number, hash: s.head.hash, chainId: s.head.chainId });
    }
    return out;
  }
}

/** What {@link startAttestor} may be given instead of building it from the config. */
export interface AttestorDeps {
  logger?: Logger;
  metrics?: Metrics;
  /** Signing key; default: loaded from `config.key` (environment variable or keystore). */
  signer?: Signer;
  /** Provider of the control chain; default: `createProvider(config)`. */
  provider?: AbstractProvider;
  /** Endpoint list; default: the EndpointRegistry at `config.registry`. */
  endpoints?: EndpointSource;
  /** Signing context; default: the HealthOracle at `config.oracle`. */
  oracle?: OracleReader;
  fetch?: FetchFn;
  now?: () => number;
  /** External shutdown (the process's `Shutdown.signal`). */
  signal?: AbortSignal;
  env?: NodeJS.ProcessEnv;
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
 * (`/v1/observations`, `/v1/endpoints`, `/healthz`, `/metrics`). The CLI, tests, the benchmark and
 * the drill all run this.
 */
export async function startAttestor(
  config: AttestorConfig,
  deps: AttestorDeps = {},
): Promise<RunningAttestor> {
  const root = deps.logger ?? createLogger("vigil", { level: config.log.level });
  const logger = root.child({ keeper: "attestor", chainId: config.chainId });
  const metrics = deps.metrics ?? new Metrics();
  const signer = deps.signer ?? (await loadWallet(config.key, deps.env));
  const address = getAddress(await signer.getAddress());
  let provider: AbstractProvider | undefined = deps.provider;
  const ownsProvider = !provider && (!deps.endpoints || !deps.oracle);
  if (ownsProvider) provider = createProvider({ rpcUrls: config.rpcUrls, chainId: config.chainId });
  const attestor = new Attestor({
    config,
    signer,
    address,
    endpoints: deps.endpoints ?? registryEndpointSource(config.registry, provider!, config.services),
    oracle: deps.oracle ?? contractOracleReader(config.oracle, provider!),
    logger,
    metrics,
    fetch: deps.fetch,
    now: deps.now,
  });

  try {
    await attestor.refreshOracle().catch((e) => {
      throw chainError(
        e,
        `cannot read the HealthOracle at ${config.oracle}`,
        "check oracle, rpcUrls and chainId",
      );
    });
    await attestor.refreshEndpoints().catch((e) => {
      throw chainError(
        e,
        `cannot read the EndpointRegistry at ${config.registry}`,
        "check registry and rpcUrls",
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
    loops: () => loops,
    routes: observationRoutes(attestor),
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
      attestor: address,
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
    address,
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
