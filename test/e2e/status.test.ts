import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import { ROOT, deployExample, runNode, startHardhatNode } from "./localnode";

const VIGIL = path.join(ROOT, "bin", "vigil.js");

/** `npx vigil status` against a real deployment on a local `hardhat node`, as an operator runs it. */
describe("vigil status against a deployment", function () {
  this.timeout(180_000);
  let node: Awaited<ReturnType<typeof startHardhatNode>>;
  let deployed: Awaited<ReturnType<typeof deployExample>>;

  before(async function () {
    node = await startHardhatNode();
    deployed = await deployExample(node.url, `test-status-${process.pid}`);
    expect(deployed.code, deployed.out).to.equal(0);
  });

  after(async function () {
    await node?.stop();
    deployed?.cleanup();
  });

  const args = () => [
    "status",
    "--rpc-url",
    node.url,
    "--chain-id",
    "31337",
    "--oracle",
    deployed.oracle,
    "--registry",
    deployed.registry,
    "--guard",
    deployed.guard,
  ];

  it("prints services, endpoints and markets as JSON with --json", async function () {
    const { code, out } = await runNode(VIGIL, [...args(), "--json"]);
    expect(code, out).to.equal(0);
    const report = JSON.parse(out.slice(out.indexOf("{")));
    expect(report.services).to.have.length(1);
    const [service] = report.services;
    expect(service.name).to.equal("eth-sepolia-rpc");
    expect(service.endpoints).to.have.length(3);
    // Nothing has been attested yet: silence reads UNKNOWN, never healthy.
    expect(service.endpoints.map((e: { status: string }) => e.status)).to.deep.equal([
      "UNKNOWN",
      "UNKNOWN",
      "UNKNOWN",
    ]);
    expect(service.endpoints[0].active).to.equal(true);
    expect(report.markets).to.have.length(1);
    expect(report.markets[0].paused).to.equal(false);
  });

  it("reads the chain and contracts from any keeper's config file (a responder's here)", async function () {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vigil-status-cfg-"));
    const file = path.join(dir, "responder.yaml");
    fs.writeFileSync(
      file,
      [
        `chain: { rpcUrls: ["${node.url}"], chainId: 31337 }`,
        "contracts:",
        `  oracle: "${deployed.oracle}"`,
        `  registry: "${deployed.registry}"`,
        `  guard: "${deployed.guard}"`,
        `attestorUrls: ["http://127.0.0.1:9470"]`,
        `services: ["0x${"11".repeat(32)}"]`,
        "log: { level: info }",
        "",
      ].join("\n"),
    );
    const { code, out } = await runNode(VIGIL, ["status", "--config", file, "--json"]);
    expect(code, out).to.equal(0);
    const report = JSON.parse(out.slice(out.indexOf("{")));
    expect(report.services[0].name).to.equal("eth-sepolia-rpc");
    expect(report.markets).to.have.length(1);
  });

  it("prints a table a person reads", async function () {
    const { code, out } = await runNode(VIGIL, args());
    expect(code, out).to.equal(0);
    expect(out)
      .to.contain("eth-sepolia-rpc")
      .and.contain("UNKNOWN")
      .and.contain("https://rpc.primary.example/sepolia");
  });

  it("fails with one clear line and exit 2 when the oracle address is not a contract", async function () {
    const bad = [...args()];
    bad[bad.indexOf("--oracle") + 1] = "0x000000000000000000000000000000000000dEaD";
    const { code, out } = await runNode(VIGIL, bad);
    expect(code).to.equal(2);
    expect(
      out
        .trim()
        .split("\n")
        .filter((l) => l.startsWith("error")),
    ).to.have.length(1);
  });
});
