/**
 * The attestor's HTTP API, served by the shared KeeperServer next to `/healthz` and `/metrics`:
 *
 * - `GET /v1/observations[?endpoint=0x<32 bytes>][&sinceRound=<n>]` →
 *   `{ attestor, configDigest, chainId, observations: SignedObservation[] }`; `sinceRound` keeps
 *   rounds at or after n. Unknown, repeated or malformed parameters → 400 `{ error }`.
 * - `GET /v1/endpoints` → `{ attestor, endpoints: [{ id, serviceId, kind, healthBps, failure, probedAt }] }`.
 */
import type { RouteHandler } from "../shared/server";
import type { Attestor } from "./attestor";
import type { ObservationFilter } from "./store";

const ALLOWED = new Set(["endpoint", "sinceRound"]);

/** Parse and validate the query of `/v1/observations`; an error string names the bad parameter. */
export function parseObservationQuery(params: URLSearchParams): ObservationFilter | { error: string } {
  const filter: ObservationFilter = {};
  const keys = [...params.keys()];
  for (const k of keys) {
    if (!ALLOWED.has(k)) return { error: `unknown query parameter "${k}" (allowed: endpoint, sinceRound)` };
    if (params.getAll(k).length > 1) return { error: `query parameter "${k}" given more than once` };
  }
  const endpoint = params.get("endpoint");
  if (endpoint !== null) {
    if (!/^0x[0-9a-fA-F]{64}$/.test(endpoint))
      return { error: "endpoint must be a 0x-prefixed 32-byte hex id" };
    filter.endpoint = endpoint.toLowerCase();
  }
  const since = params.get("sinceRound");
  if (since !== null) {
    if (!/^[0-9]{1,16}$/.test(since) || !Number.isSafeInteger(Number(since))) {
      return { error: "sinceRound must be a non-negative integer" };
    }
    filter.sinceRound = Number(since);
  }
  return filter;
}

export function observationRoutes(attestor: Attestor): Record<string, RouteHandler> {
  return {
    "/v1/observations": (url) => {
      const parsed = parseObservationQuery(url.searchParams);
      if ("error" in parsed) return { status: 400, body: { error: parsed.error } };
      return { status: 200, body: attestor.observations(parsed) };
    },
    "/v1/endpoints": () => ({
      status: 200,
      body: { attestor: attestor.address, endpoints: attestor.endpointSummaries() },
    }),
  };
}
