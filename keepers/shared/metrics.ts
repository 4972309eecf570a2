import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/**
 * Every Prometheus metric of both keepers, declared in one place (prom-client), with the unit in
 * the name as Prometheus naming conventions ask. Each process makes one {@link Metrics} with its
 * own registry, so tests and several keepers in one process never collide.
 */
export class Metrics {
  readonly registry: Registry;

  /** Probe round-trip time per endpoint kind, seconds. */
  readonly probeLatency: Histogram<"kind">;
  /** Probes by kind and outcome (`ok`, `unhealthy`, `error`, `timeout`). */
  readonly probes: Counter<"kind" | "outcome">;
  /** Observations signed by this attestor. */
  readonly observationsSigned: Counter;
  /** Probes whose result was not signed, by reason (`round_already_signed`, `no_expected_chain_id`). */
  readonly observationsWithheld: Counter<"reason">;
  /** Endpoints not probed at all, by reason (`private_target`, `invalid_uri`). */
  readonly probesRefused: Counter<"reason">;
  /** Last scored health per endpoint, basis points. */
  readonly endpointHealth: Gauge<"endpoint">;
  /** Quorum bundles the responder submitted, by outcome (`confirmed`, `failed`, `skipped`). */
  readonly bundlesSubmitted: Counter<"outcome">;
  /** Endpoint rounds carried per bundle transaction. */
  readonly bundleSize: Histogram;
  /** Recovery actions by kind (`migrate`, `trip`, `resume`, `deliver`, `submit`, `prove`: an equivocation proof)
   *  and outcome (`sent`, `confirmed`, `failed`, `lost_race`, `replaced`; `refused`: a delivery the market would
   *  refuse, not sent; `rejected`: a proof the oracle's simulation answered `NotEquivocation`). */
  readonly actions: Counter<"action" | "outcome">;
  /** Reports fetched from attestors, by outcome (`ok`, `invalid`, `error`). */
  readonly attestorFetches: Counter<"attestor" | "outcome">;
  /** Seconds between when a loop iteration was due and when it started. */
  readonly loopLag: Gauge<"loop">;
  /** Duration of one loop iteration, seconds. */
  readonly loopDuration: Histogram<"loop">;
  /** Balance of the keeper's signer, wei (as a float; for alerting, not accounting). */
  readonly signerBalance: Gauge<"address">;

  /** @param defaults Also collect Node process metrics (heap, event-loop lag). Default true. */
  constructor(defaults = true) {
    this.registry = new Registry();
    const registers = [this.registry];
    if (defaults) collectDefaultMetrics({ register: this.registry, prefix: "vigil_process_" });
    this.probeLatency = new Histogram({
      name: "vigil_probe_latency_seconds",
      help: "Probe round-trip time per endpoint kind, seconds.",
      labelNames: ["kind"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.probes = new Counter({
      name: "vigil_probes_total",
      help: "Probes by endpoint kind and outcome.",
      labelNames: ["kind", "outcome"],
      registers,
    });
    this.observationsSigned = new Counter({
      name: "vigil_observations_signed_total",
      help: "Observations signed by this attestor.",
      registers,
    });
    this.observationsWithheld = new Counter({
      name: "vigil_observations_withheld_total",
      help: "Probes whose result this attestor did not sign, by reason.",
      labelNames: ["reason"],
      registers,
    });
    this.probesRefused = new Counter({
      name: "vigil_probes_refused_total",
      help: "Probes the attestor refused to make, by reason.",
      labelNames: ["reason"],
      registers,
    });
    this.endpointHealth = new Gauge({
      name: "vigil_endpoint_health_bps",
      help: "Last scored health per endpoint, basis points (0..10000).",
      labelNames: ["endpoint"],
      registers,
    });
    this.bundlesSubmitted = new Counter({
      name: "vigil_bundles_submitted_total",
      help: "Quorum bundles submitted by the responder, by outcome.",
      labelNames: ["outcome"],
      registers,
    });
    this.bundleSize = new Histogram({
      name: "vigil_bundle_endpoints",
      help: "Endpoint rounds per bundle transaction.",
      buckets: [1, 2, 5, 10, 20, 50, 100],
      registers,
    });
    this.actions = new Counter({
      name: "vigil_actions_total",
      help: "Keeper actions by kind and outcome.",
      labelNames: ["action", "outcome"],
      registers,
    });
    this.attestorFetches = new Counter({
      name: "vigil_attestor_fetches_total",
      help: "Observation fetches from attestors, by outcome.",
      labelNames: ["attestor", "outcome"],
      registers,
    });
    this.loopLag = new Gauge({
      name: "vigil_loop_lag_seconds",
      help: "Seconds between when a loop iteration was due and when it started.",
      labelNames: ["loop"],
      registers,
    });
    this.loopDuration = new Histogram({
      name: "vigil_loop_duration_seconds",
      help: "Duration of one loop iteration, seconds.",
      labelNames: ["loop"],
      buckets: [0.001, 0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60],
      registers,
    });
    this.signerBalance = new Gauge({
      name: "vigil_signer_balance_wei",
      help: "Balance of the keeper's signer, wei.",
      labelNames: ["address"],
      registers,
    });
  }
}
