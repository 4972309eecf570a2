/**
 * The RPC pool's metrics, registered on the process's one {@link Metrics} registry (one set per registry,
 * the way keepers/responder/metrics.ts adds the responder's). Labels carry the member's redacted URL
 * (origin only: an API key in the path never reaches Prometheus).
 */
import { Counter, Gauge } from "prom-client";
import type { Metrics } from "../metrics";

export interface RpcMetrics {
  /** Misbehaviours by member and kind (`refused`, `timeout`, `frozen`, `lagging`, `lied`, `reverted`). */
  readonly faults: Counter<"rpc" | "kind">;
  /** 1 while the member is fresh (answering, head advancing, within `lagBlocks` of the highest), else 0. */
  readonly up: Gauge<"rpc">;
  /** Blocks the member's head is behind the highest head among answering members. */
  readonly headLag: Gauge<"rpc">;
}

const byRegistry = new WeakMap<Metrics, RpcMetrics>();

/** The RPC pool metrics of `metrics`' registry, created on first use (several pools share one set). */
export function rpcMetrics(metrics: Metrics): RpcMetrics {
  let m = byRegistry.get(metrics);
  if (!m) {
    const registers = [metrics.registry];
    m = {
      faults: new Counter({
        name: "vigil_rpc_faults_total",
        help: "Control-chain RPC misbehaviours by RPC (redacted URL) and kind (refused, timeout, frozen, lagging, lied, reverted).",
        labelNames: ["rpc", "kind"],
        registers,
      }),
      up: new Gauge({
        name: "vigil_rpc_up",
        help: "1 while the control-chain RPC is fresh (answering, head advancing, not lagging), else 0.",
        labelNames: ["rpc"],
        registers,
      }),
      headLag: new Gauge({
        name: "vigil_rpc_head_lag_blocks",
        help: "Blocks the RPC's head is behind the highest head among answering RPCs.",
        labelNames: ["rpc"],
        registers,
      }),
    };
    byRegistry.set(metrics, m);
  }
  return m;
}
