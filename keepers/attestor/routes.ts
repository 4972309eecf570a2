/**
 * The attestor's HTTP API, served by the shared KeeperServer next to `/healthz` and `/metrics`:
 *
 * - `GET /v1/reports[?sinceRound=<n>]` → `{ attestor, configDigest, chainId, reports: SignedReport[] }`:
 *   the reports this attestor signed in its last few rounds (one per round, every watched endpoint in each),
 *   ascending by round, under the current config digest; `sinceRound` keeps rounds at or after n. Unknown,
 *   repeated or malformed parameters → 400 `{ error }`.
 * - `GET /v1/endpoints` → `{ attestor, endpoints: [{ id, serviceId, kind, healthBps, failure, probedAt }] }`.
 */
import type { RouteHandler } from "../shared/server";
import type { Attestor } from "./attestor";
import type { ReportFilter } from "./store";

const ALLOWED = new Set(["sinceRound"]);

/** Parse and validate the query of `/v1/reports`; an error string names the bad parameter. */
export function parseReportQuery(
  params: URLSearchParams,
): Pick<ReportFilter, "sinceRound"> | { error: string } {
  const filter: Pick<ReportFilter, "sinceRound"> = {};
  for (const k of params.keys()) {
    if (!ALLOWED.has(k)) return { error: `unknown query parameter "${k}" (allowed: sinceRound)` };
    if (params.getAll(k).length > 1) return { error: `query parameter "${k}" given more than once` };
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

export function attestorRoutes(attestor: Attestor): Record<string, RouteHandler> {
  return {
    "/v1/reports": (url) => {
      const parsed = parseReportQuery(url.searchParams);
      if ("error" in parsed) return { status: 400, body: { error: parsed.error } };
      return { status: 200, body: attestor.reports(parsed) };
    },
    "/v1/endpoints": () => ({
      status: 200,
      body: { attestor: attestor.address, endpoints: attestor.endpointSummaries() },
    }),
  };
}
