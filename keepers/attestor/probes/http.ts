/**
 * HTTP probe (front ends, status pages): `GET uri`, no redirects followed, body read up to a cap.
 * 2xx and 3xx answers are up; anything else, and any transport failure, is a hard failure.
 */
import { performance } from "node:perf_hooks";
import type { ScoreInput } from "../score";
import {
  classifyTransportError,
  getLimited,
  ProbeFailure,
  readBodyLimited,
  type FetchFn,
  type ProbeAgents,
} from "./transport";

export interface HttpProbeResult {
  status: number;
  latencyMs: number;
}

/**
 * Probe one HTTP endpoint over node:http(s) keep-alive pools (`agents`: the SSRF guard's for a registry
 * target, resolve.ts), or through `fetch` when one is injected. Throws {@link ProbeFailure} (`timeout`,
 * `unreachable`, `http_status`).
 */
export async function probeHttp(
  url: string,
  options: { timeoutMs: number; fetch?: FetchFn; maxBodyBytes?: number; agents?: ProbeAgents },
): Promise<HttpProbeResult> {
  const signal = AbortSignal.timeout(options.timeoutMs);
  const started = performance.now();
  const maxBytes = options.maxBodyBytes ?? 1 << 20;
  let status: number;
  try {
    if (options.fetch) {
      const res = await options.fetch(url, { method: "GET", redirect: "manual", signal });
      status = res.status;
      await readBodyLimited(res, maxBytes);
    } else {
      ({ status } = await getLimited(url, signal, maxBytes, options.agents));
    }
  } catch (e) {
    throw classifyTransportError(e, signal);
  }
  const latencyMs = performance.now() - started;
  if (status < 200 || status > 399) throw new ProbeFailure("http_status", `HTTP ${status}`);
  return { status, latencyMs };
}

/** Score input of an HTTP probe. PURE. */
export function evaluateHttp(result: HttpProbeResult, errorRate: number): ScoreInput {
  return { latencyMs: result.latencyMs, errorRate };
}
