/**
 * The routing core's metrics, named `vigil_gateway_*` because the `vigil gateway` serves them (a
 * {@link VigilRouter} keeps the same set on its own registry). Registered on one {@link Metrics} registry
 * (one set per registry). Labels: `service` is the configured name (a bounded set), `class` the method
 * class ({@link MethodClass}), `endpoint` a registry endpoint id (bounded by the registry).
 */
import { Counter, Gauge, Histogram } from "prom-client";
import type { Metrics } from "../shared/metrics";

/** How the gateway treats a method: `head` (latest block), `read` (idempotent), `tx`, `other`. */
export type MethodClass = "head" | "read" | "tx" | "other";

export interface GatewayMetrics {
  /**
   * Calls answered, by service, method class and outcome: `ok`, `rpc_error` (the node's JSON-RPC error, an
   * answer), `retried_ok` (answered by the retry endpoint), `held` (head held at the highest served),
   * `failed` (transport failure, no retry possible or the retry failed too), `timeout` (deadline passed).
   */
  readonly requests: Counter<"service" | "class" | "outcome">;
  /** Time from the body read to the answer of one call, seconds. */
  readonly duration: Histogram<"service" | "class">;
  /** Retries on a HEALTHY endpoint after a transport failure or a head behind, by outcome (`ok`, `failed`). */
  readonly retries: Counter<"service" | "class" | "outcome">;
  /** Switches of the routed endpoint: `followed` (the registry's switch) or `refused` (foreign chain id). */
  readonly switches: Counter<"service" | "outcome">;
  /**
   * Answers with a head older than one already served: `retried` (another HEALTHY endpoint answered a
   * head not older), `held` (answered the highest served block number), `refused` (a block object could
   * not be served without going back: a JSON-RPC error).
   */
  readonly timeTravel: Counter<"service" | "action">;
  /** Requests refused before routing, by reason (`body_too_large`, `batch_too_long`, `empty_batch`,
   *  `parse_error`, `invalid_request`, `unknown_service`, `method_not_allowed`). */
  readonly rejections: Counter<"reason">;
  /** Highest block number served per service (`eth_blockNumber`, `eth_getBlockByNumber("latest")`). */
  readonly head: Gauge<"service">;
  /** Signed transactions by outcome: `sent`, `already_known` (broadcast before: hash answered),
   *  `rejected` (node's error, not broadcast), `may_have_been_broadcast`, `not_broadcast` (errors). */
  readonly transactions: Counter<"service" | "outcome">;
  /**
   * Hedged reads (a second attempt on the best HEALTHY endpoint after `hedgeAfterMs` without an answer), by
   * outcome: `won` (the hedge answered first), `lost` (the first endpoint answered first), `failed` (neither).
   */
  readonly hedges: Counter<"service" | "class" | "outcome">;
  /** State of each endpoint's local circuit breaker: 0 closed, 1 open, 2 half-open (./breaker.ts). */
  readonly breakerState: Gauge<"service" | "endpoint">;
  /** Breaker state changes, by the state entered (`open`, `half_open`, `closed`). */
  readonly breakerTransitions: Counter<"service" | "to">;
}

const byRegistry = new WeakMap<Metrics, GatewayMetrics>();

/** The gateway metrics of `metrics`' registry, created on first use. */
export function gatewayMetrics(metrics: Metrics): GatewayMetrics {
  let m = byRegistry.get(metrics);
  if (m) return m;
  const registers = [metrics.registry];
  m = {
    requests: new Counter({
      name: "vigil_gateway_requests_total",
      help: "Gateway calls answered, by service, method class and outcome.",
      labelNames: ["service", "class", "outcome"],
      registers,
    }),
    duration: new Histogram({
      name: "vigil_gateway_request_duration_seconds",
      help: "Gateway call time from body read to answer, seconds.",
      labelNames: ["service", "class"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    retries: new Counter({
      name: "vigil_gateway_retries_total",
      help: "Gateway retries on a HEALTHY endpoint, by service, method class and outcome.",
      labelNames: ["service", "class", "outcome"],
      registers,
    }),
    switches: new Counter({
      name: "vigil_gateway_switches_total",
      help: "Switches of the routed endpoint, followed or refused (foreign chain id).",
      labelNames: ["service", "outcome"],
      registers,
    }),
    timeTravel: new Counter({
      name: "vigil_gateway_time_travel_refusals_total",
      help: "Head answers older than one already served, by what the gateway did instead.",
      labelNames: ["service", "action"],
      registers,
    }),
    rejections: new Counter({
      name: "vigil_gateway_rejections_total",
      help: "Requests refused before routing, by reason.",
      labelNames: ["reason"],
      registers,
    }),
    head: new Gauge({
      name: "vigil_gateway_head_block",
      help: "Highest block number the gateway served, per service.",
      labelNames: ["service"],
      registers,
    }),
    transactions: new Counter({
      name: "vigil_gateway_transactions_total",
      help: "eth_sendRawTransaction calls by outcome.",
      labelNames: ["service", "outcome"],
      registers,
    }),
    hedges: new Counter({
      name: "vigil_gateway_hedges_total",
      help: "Hedged reads on a HEALTHY backup, by service, method class and outcome (won, lost, failed).",
      labelNames: ["service", "class", "outcome"],
      registers,
    }),
    breakerState: new Gauge({
      name: "vigil_gateway_breaker_state",
      help: "Local circuit breaker per endpoint: 0 closed, 1 open, 2 half-open.",
      labelNames: ["service", "endpoint"],
      registers,
    }),
    breakerTransitions: new Counter({
      name: "vigil_gateway_breaker_transitions_total",
      help: "Circuit breaker state changes, by service and the state entered.",
      labelNames: ["service", "to"],
      registers,
    }),
  };
  byRegistry.set(metrics, m);
  return m;
}
