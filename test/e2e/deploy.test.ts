import fs from "node:fs";
import path from "node:path";
import { expect } from "chai";
import { JsonRpcProvider } from "ethers";
import { zDeployParams } from "../../ignition/modules/Vigil";
import { ROOT, deployExample, runHardhat as run, startHardhatNode } from "./localnode";
import {
  IEndpointRegistry__factory,
  IHealthOracle__factory,
  IMarketGuard__factory,
} from "../../typechain-types";

/**
 * `npm run deploy -- --network localhost` end to end against a real `hardhat node` on loopback: the
 * Ignition deployment a testnet gets, with the example parameters file.
 */
describe("deployment (npm run deploy -- --network localhost)", function () {
  this.timeout(180_000);
  let node: Awaited<ReturnType<typeof startHardhatNode>>;
  let url: string;
  const deploymentId = `test-localhost-${process.pid}`;

  before(async function () {
    node = await startHardhatNode();
    url = node.url;
  });

  after(async function () {
    await node?.stop();
    fs.rmSync(path.join(ROOT, "ignition", "deployments", deploymentId), { recursive: true, force: true });
  });

  it("deploys and configures the oracle, registry, guard, a service and a market from the parameters file", async function () {
    const deployed = await deployExample(url, deploymentId);
    expect(deployed.code, deployed.out).to.equal(0);
    const addr = (label: "oracle" | "registry" | "guard") => deployed[label];
    const provider = new JsonRpcProvider(url, undefined, { staticNetwork: true });
    try {
      const oracle = IHealthOracle__factory.connect(addr("oracle"), provider);
      const registry = IEndpointRegistry__factory.connect(addr("registry"), provider);
      const guard = IMarketGuard__factory.connect(addr("guard"), provider);
      const params = JSON.parse(fs.readFileSync(path.join(ROOT, "ignition/parameters/example.json"), "utf8"));

      const [version, quorum, attestors] = await oracle.attestorSet();
      expect(version).to.equal(1n);
      expect(quorum).to.equal(BigInt(params.quorum));
      expect(attestors.map((a) => a.toLowerCase())).to.have.members(
        params.attestors.map((a: string) => a.toLowerCase()),
      );
      expect(await oracle.statusListeners()).to.deep.equal([
        await registry.getAddress(),
        await guard.getAddress(),
      ]);

      const services = await registry.services();
      expect(services).to.have.length(1);
      const endpoints = await registry.endpointsOf(services[0]);
      expect(endpoints.map((e) => e.uri)).to.deep.equal(
        params.services[0].endpoints.map((e: { uri: string }) => e.uri),
      );
      expect((await registry.activeEndpoint(services[0])).uri).to.equal(params.services[0].endpoints[0].uri);

      expect(await guard.marketCount()).to.equal(1n);
      const market = await guard.marketConfig(1n);
      expect(market.services).to.deep.equal([services[0]]);
      expect(market.gracePeriod).to.equal(BigInt(params.markets[0].gracePeriod));
    } finally {
      provider.destroy();
    }
  });

  it("refuses a parameters file with an impossible quorum, naming the setting", async function () {
    const bad = path.join(ROOT, "ignition", "parameters", `bad-${process.pid}.json`);
    const params = JSON.parse(fs.readFileSync(path.join(ROOT, "ignition/parameters/example.json"), "utf8"));
    fs.writeFileSync(bad, JSON.stringify({ ...params, quorum: 2 }));
    try {
      const { code, out } = await run(["run", "scripts/deploy.ts", "--network", "localhost"], {
        HARDHAT_NETWORK: "",
        VIGIL_LOCAL_RPC_URL: url,
        VIGIL_DEPLOY_PARAMS: bad,
        VIGIL_DEPLOYMENT_ID: `${deploymentId}-bad`,
      });
      expect(code).to.equal(1);
      expect(out).to.match(/quorum: quorum 2 with 4 attestors: need 3 ≤ quorum ≤ 4/);
    } finally {
      fs.rmSync(bad, { force: true });
      fs.rmSync(path.join(ROOT, "ignition", "deployments", `${deploymentId}-bad`), {
        recursive: true,
        force: true,
      });
    }
  });
});

describe("deployment parameters (ignition/modules/Vigil.ts)", function () {
  const example = JSON.parse(fs.readFileSync(path.join(ROOT, "ignition/parameters/example.json"), "utf8"));
  const messages = (attestors: string[], quorum: number) => {
    const r = zDeployParams.safeParse({ ...example, attestors, quorum });
    return r.success ? [] : r.error.issues.filter((i) => i.path[0] === "quorum").map((i) => i.message);
  };

  it("accepts the example file", function () {
    expect(messages(example.attestors, example.quorum)).to.deep.equal([]);
  });

  for (const [n, quorum, min] of [
    [2, 1, 2],
    [3, 1, 2],
    [6, 3, 4],
  ] as const) {
    it(`refuses ${quorum} of ${n} attestors, which is no strict majority`, function () {
      const attestors = Array.from({ length: n }, (_, i) => "0x" + (i + 1).toString(16).padStart(40, "0"));
      expect(messages(attestors, quorum)).to.deep.equal([
        `quorum ${quorum} with ${n} attestors: need ${min} ≤ quorum ≤ ${n} ` +
          `(at least 2f+1 = ${2 * Math.floor((n - 1) / 3) + 1} with f = ${Math.floor((n - 1) / 3)}, ` +
          `and a strict majority, more than ${n / 2})`,
      ]);
      expect(messages(attestors, min)).to.deep.equal([]);
    });
  }
});
