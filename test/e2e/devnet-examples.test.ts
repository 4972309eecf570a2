import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import YAML from "yaml";
import { loadAttestorConfig } from "../../keepers/attestor/config";
import { loadResponderConfig } from "../../keepers/responder/config";
import {
  renderAttestorConfig,
  renderDashboardConfig,
  renderResponderConfig,
  type DevnetDeployment,
} from "../../keepers/devnet/configs";
import { defaultPorts } from "../../keepers/devnet/params";
import { renderExamples } from "../../scripts/gen-example-configs";
import { ROOT, runNode } from "./localnode";

const read = (rel: string) => fs.readFileSync(path.join(ROOT, rel), "utf8");

/** The addresses the committed attestor example carries. */
function committedDeployment(): DevnetDeployment {
  const a = YAML.parse(read("config/attestor.example.yaml"));
  const r = YAML.parse(read("config/responder.example.yaml"));
  expect(r.contracts).to.deep.equal(a.contracts);
  expect(r.services).to.deep.equal(a.services);
  return { ...a.contracts, market: "", serviceId: a.services[0] };
}

/**
 * config/*.example.yaml are generated from a real deploy (scripts/gen-example-configs.ts) with the
 * devnet's writer: they parse with the keepers' own loaders, they are exactly the writer's output, and a
 * fresh deploy on a new chain gives the addresses they carry.
 */
describe("example configs from a real deploy", function () {
  this.timeout(10 * 60_000);

  it("parse with the attestor and responder loaders, with production settings", function () {
    const a = loadAttestorConfig(path.join(ROOT, "config/attestor.example.yaml"), {}, {});
    expect(a.chain).to.deep.equal({ rpcUrls: ["http://127.0.0.1:8545"], chainId: 31337 });
    expect(a.allowPrivateTargets).to.equal(false);
    expect(a.probeIntervalMs).to.equal(5000);
    expect(a.key.envVar).to.equal("VIGIL_ATTESTOR_KEY");
    expect(Object.keys(a.expectedChainIds)).to.deep.equal(a.services);
    const r = loadResponderConfig(path.join(ROOT, "config/responder.example.yaml"), {}, {});
    expect(r.contracts).to.deep.equal(a.contracts);
    expect(r.attestorUrls).to.deep.equal([
      "http://127.0.0.1:9470",
      "http://127.0.0.1:9471",
      "http://127.0.0.1:9472",
    ]);
    expect(r.key.envVar).to.equal("VIGIL_RESPONDER_KEY");
  });

  it("are exactly what the devnet's writer renders for their addresses (no hand edits)", function () {
    const files = renderExamples(committedDeployment());
    for (const [rel, text] of Object.entries(files)) expect(read(rel), rel).to.equal(text);
  });

  it("carry the addresses a fresh deploy on a new chain gets; --check fails on a file that differs", async function () {
    // One fresh deploy: the attestor example as committed must match it; a responder example with
    // another oracle must be reported (exit 1). Test 2 ties the committed responder file to the same addresses.
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "vigil-examples-"));
    try {
      fs.mkdirSync(path.join(root, "config"));
      fs.copyFileSync(
        path.join(ROOT, "config/attestor.example.yaml"),
        path.join(root, "config/attestor.example.yaml"),
      );
      const d = committedDeployment();
      fs.writeFileSync(
        path.join(root, "config/responder.example.yaml"),
        read("config/responder.example.yaml").replace(d.oracle, "0x" + "11".repeat(20)),
      );
      const { code, out } = await runNode(
        path.join(ROOT, "node_modules/ts-node/dist/bin.js"),
        ["--transpile-only", "scripts/gen-example-configs.ts", "--check", "--root", root],
        { HARDHAT_NETWORK: "" },
      );
      expect(out, out).to.match(/config\/attestor\.example\.yaml: up to date/);
      expect(out, out).to.match(/config\/responder\.example\.yaml: differs from a fresh deploy/);
      expect(code, out).to.equal(1);
      expect(fs.readFileSync(path.join(root, "config/responder.example.yaml"), "utf8")).to.include(
        "0x" + "11".repeat(20),
      );
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});

describe("devnet keeper files", function () {
  const deployment: DevnetDeployment = {
    oracle: "0x" + "01".repeat(20),
    registry: "0x" + "02".repeat(20),
    guard: "0x" + "03".repeat(20),
    market: "0x" + "04".repeat(20),
    serviceId: "0x" + "05".repeat(32),
  };
  const ctx = { deployment, ports: defaultPorts(), header: "# test" };
  let dir: string;
  before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "vigil-devnet-files-"))));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("the attestor file parses, allows loopback targets and reads attestor i's own key variable", function () {
    const f = path.join(dir, "attestor-2.yaml");
    fs.writeFileSync(
      f,
      renderAttestorConfig(ctx, 2, { dataDir: "/tmp/x", keyEnvVar: "VIGIL_ATTESTOR_2_KEY" }),
    );
    const c = loadAttestorConfig(f, {}, {});
    expect(c.allowPrivateTargets).to.equal(true);
    expect(c.http.port).to.equal(9471);
    expect(c.key.envVar).to.equal("VIGIL_ATTESTOR_2_KEY");
    expect(c.services).to.deep.equal([deployment.serviceId]);
    expect(c.expectedChainIds).to.deep.equal({ [deployment.serviceId]: 1337 });
    expect(c.contracts.oracle).to.equal(deployment.oracle);
  });

  it("the responder file parses with every attestor URL and the guard", function () {
    const f = path.join(dir, "responder.yaml");
    fs.writeFileSync(
      f,
      renderResponderConfig(ctx, { outboxPath: "/tmp/o.sqlite", keyEnvVar: "VIGIL_RESPONDER_KEY" }),
    );
    const c = loadResponderConfig(f, {}, {});
    expect(c.contracts.guard).to.equal(deployment.guard);
    expect(c.attestorUrls).to.have.length(3);
    expect(c.pollIntervalMs).to.equal(1000);
  });

  it("the dashboard file has the common keys and the dashboard port", function () {
    const d = YAML.parse(renderDashboardConfig(ctx));
    expect(d.chain).to.deep.equal({ rpcUrls: ["http://127.0.0.1:8545"], chainId: 31337 });
    expect(d.contracts).to.deep.equal({
      oracle: deployment.oracle,
      registry: deployment.registry,
      guard: deployment.guard,
    });
    expect(d.http.port).to.equal(9480);
  });
});
