/**
 * docs/grafana/vigil.json queries only metrics the keepers export: the test builds the registry every
 * keeper process builds (keepers/shared/metrics.ts plus the attestor's, the responder's, the gateway's and
 * the RPC pool's own) and checks every PromQL expression of the dashboard against it.
 */
import fs from "node:fs";
import path from "node:path";
import { expect } from "chai";
import { reportMetrics } from "../../keepers/attestor/metrics";
import { gatewayMetrics } from "../../keepers/gateway/metrics";
import { responderMetrics } from "../../keepers/responder/metrics";
import { Metrics } from "../../keepers/shared/metrics";
import { rpcMetrics } from "../../keepers/shared/rpc/metrics";
import { checkDashboard, expressionsOf, metricsOf, type KnownMetric } from "./dashboard/grafana";

const FILE = path.join(__dirname, "..", "..", "docs", "grafana", "vigil.json");

describe("Grafana dashboard docs/grafana/vigil.json", function () {
  let dashboard: unknown;
  let known: Map<string, KnownMetric>;

  before(async function () {
    dashboard = JSON.parse(fs.readFileSync(FILE, "utf8"));
    const metrics = new Metrics();
    reportMetrics(metrics);
    responderMetrics(metrics);
    gatewayMetrics(metrics);
    rpcMetrics(metrics);
    known = await metricsOf(metrics.registry);
  });

  it("queries only metrics and labels the keepers' registries have", function () {
    expect(expressionsOf(dashboard).length).to.be.greaterThan(10);
    expect(checkDashboard(dashboard, known)).to.deep.equal([]);
  });

  it("has a panel for every keeper metric (process defaults aside)", function () {
    const queried = expressionsOf(dashboard).join("\n");
    const missing = [...known.keys()]
      .filter((n) => !n.startsWith("vigil_process_"))
      .filter((n) => !new RegExp(`\\b${n}(_bucket|_sum|_count)?\\b`).test(queried));
    expect(missing, "metrics without a panel").to.deep.equal([]);
  });

  it("reports a metric that does not exist and a label a metric does not have", function () {
    const broken = {
      panels: [
        { targets: [{ expr: "rate(vigil_nope_total[5m])" }] },
        { targets: [{ expr: 'sum by (colour) (rate(vigil_probes_total{flavour="x"}[5m]))' }] },
        { targets: [{ expr: "vigil_probes_total_bucket" }] },
      ],
    };
    const problems = checkDashboard(broken, known);
    expect(problems).to.have.length(4);
    expect(problems[0]).to.match(/^vigil_nope_total: no such metric/);
    expect(problems.join("\n")).to.contain('no label "flavour"').and.contain('grouping by "colour"');
    expect(problems[3]).to.match(/^vigil_probes_total_bucket: no such metric/); // a counter has no buckets
  });

  it("is a Grafana dashboard with a Prometheus datasource variable and unique panel ids", function () {
    const d = dashboard as {
      uid: string;
      panels: { id: number }[];
      templating: { list: { type: string }[] };
    };
    expect(d.uid).to.equal("vigil-keepers");
    expect(d.templating.list.map((t) => t.type)).to.include("datasource");
    const ids = d.panels.map((p) => p.id);
    expect(new Set(ids).size).to.equal(ids.length);
  });
});
