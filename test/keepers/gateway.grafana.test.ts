/**
 * docs/grafana/vigil.json has a panel for every gateway metric (keepers/client/metrics.ts), and its
 * gateway queries name only metrics and labels the gateway's registry has.
 */
import fs from "node:fs";
import path from "node:path";
import { expect } from "chai";
import { gatewayMetrics } from "../../keepers/client/metrics";
import { Metrics } from "../../keepers/shared/metrics";
import { checkDashboard, expressionsOf, metricsOf, type KnownMetric } from "./dashboard/grafana";

const FILE = path.join(__dirname, "..", "..", "docs", "grafana", "vigil.json");

describe("Grafana dashboard: gateway panels", function () {
  let dashboard: unknown;
  let known: Map<string, KnownMetric>;

  before(async function () {
    dashboard = JSON.parse(fs.readFileSync(FILE, "utf8"));
    const metrics = new Metrics(false);
    gatewayMetrics(metrics);
    known = await metricsOf(metrics.registry);
  });

  it("has a panel for every gateway metric", function () {
    const queried = expressionsOf(dashboard).join("\n");
    const missing = [...known.keys()].filter(
      (n) => n.startsWith("vigil_gateway_") && !new RegExp(`\\b${n}(_bucket|_sum|_count)?\\b`).test(queried),
    );
    expect([...known.keys()].filter((n) => n.startsWith("vigil_gateway_"))).to.have.length(11);
    expect(missing, "gateway metrics without a panel").to.deep.equal([]);
  });

  it("queries only gateway metrics and labels the gateway's registry has", function () {
    const gatewayOnly = {
      panels: expressionsOf(dashboard)
        .filter((e) => e.includes("vigil_gateway_"))
        .map((expr) => ({ targets: [{ expr }] })),
    };
    expect(gatewayOnly.panels.length).to.be.greaterThan(7);
    expect(checkDashboard(gatewayOnly, known)).to.deep.equal([]);
  });
});
