/**
 * The gateway's metrics live with the routing core they count (keepers/client/metrics.ts); this path
 * re-exports them for the dashboard tests and older imports.
 */
export { gatewayMetrics, type GatewayMetrics, type MethodClass } from "../client/metrics";
