/**
 * Check a Grafana dashboard's PromQL against the keepers' real metric registries: every `vigil_*`
 * metric a query names must be registered (histogram series through their `_bucket`, `_sum`, `_count`),
 * and every label a query filters or groups by must be one of that metric's labels (or a label
 * Prometheus adds: `instance`, `job`, and `le` for histogram buckets).
 */
import type { Registry } from "prom-client";

export interface KnownMetric {
  type: string;
  labels: string[];
}

/** The metrics of `registry` by name, with their type and label names. */
export async function metricsOf(registry: Registry): Promise<Map<string, KnownMetric>> {
  const out = new Map<string, KnownMetric>();
  for (const m of await registry.getMetricsAsJSON()) {
    const metric = registry.getSingleMetric(m.name) as unknown as { labelNames?: string[] } | undefined;
    out.set(m.name, { type: String(m.type), labels: metric?.labelNames ?? [] });
  }
  return out;
}

/** Every PromQL expression in a dashboard JSON (panel targets, nested rows, templating queries). */
export function expressionsOf(dashboard: unknown): string[] {
  const out: string[] = [];
  const walk = (v: unknown, key = ""): void => {
    if (Array.isArray(v)) v.forEach((x) => walk(x));
    else if (v && typeof v === "object") for (const [k, x] of Object.entries(v)) walk(x, k);
    else if (typeof v === "string" && (key === "expr" || key === "definition") && v.includes("vigil_"))
      out.push(v);
  };
  walk(dashboard);
  return out;
}

const SERIES_SUFFIX = /_(bucket|sum|count)$/;
const PROMETHEUS_LABELS = ["instance", "job"];

/** Resolve a series name to its registered metric: itself, or a histogram/summary base name. */
function resolve(name: string, known: Map<string, KnownMetric>): [string, KnownMetric] | undefined {
  const exact = known.get(name);
  if (exact) return [name, exact];
  const base = name.replace(SERIES_SUFFIX, "");
  const m = known.get(base);
  if (m && base !== name && (m.type === "histogram" || m.type === "summary")) return [base, m];
  return undefined;
}

/**
 * The problems of `dashboard` against `known`, one line each (empty when every query is sound).
 */
export function checkDashboard(dashboard: unknown, known: Map<string, KnownMetric>): string[] {
  const problems: string[] = [];
  for (const expr of expressionsOf(dashboard)) {
    const used = [...expr.matchAll(/\b(vigil_[a-z0-9_]+)\b(\{[^}]*\})?/g)];
    const labelsHere = new Set(PROMETHEUS_LABELS);
    for (const [, name, selector] of used) {
      const hit = resolve(name, known);
      if (!hit) {
        problems.push(`${name}: no such metric in the keepers' registries (in: ${expr})`);
        continue;
      }
      const [base, metric] = hit;
      const allowed = new Set([
        ...metric.labels,
        ...PROMETHEUS_LABELS,
        ...(name.endsWith("_bucket") ? ["le"] : []),
      ]);
      allowed.forEach((l) => labelsHere.add(l));
      for (const [, label] of (selector ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)/g)) {
        if (!allowed.has(label)) problems.push(`${base}: has no label "${label}" (in: ${expr})`);
      }
    }
    for (const [, list] of expr.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)) {
      for (const label of list
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean)) {
        if (!labelsHere.has(label))
          problems.push(`grouping by "${label}", a label none of its metrics has (in: ${expr})`);
      }
    }
  }
  return problems;
}
