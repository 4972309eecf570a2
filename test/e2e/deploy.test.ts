import fs from "node:fs";
import path from "node:path";
import { expect } from "chai";
import os from "node:os";
import hre from "hardhat";
import { Interface, JsonRpcProvider } from "ethers";
import { zDeployParams } from "../../ignition/modules/Vigil";
import { chooseDeploymentId } from "../../scripts/deploy/journal";
import {
  buildVerifyRequests,
  hasExplorerKey,
  verifyAll,
  verifyRequestsOf,
} from "../../scripts/deploy/verify";
import { Anvil } from "../keepers/helpers/anvil";
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

      // The verify requests built from the journal carry exactly the constructor arguments each contract was
      // deployed with: their ABI encoding is the tail of the creation transaction's data.
      const dir = path.join(ROOT, "ignition", "deployments", deploymentId);
      const requests = verifyRequestsOf(dir);
      expect(requests.map((r) => r.contract)).to.have.members([
        "contracts/test/MockERC20.sol:MockERC20",
        "contracts/HealthOracle.sol:HealthOracle",
        "contracts/EndpointRegistry.sol:EndpointRegistry",
        "contracts/MarketGuard.sol:MarketGuard",
        "contracts/examples/GuardedPerpMarket.sol:GuardedPerpMarket",
      ]);
      const guardRequest = requests.find((r) => r.contract.endsWith(":MarketGuard"))!;
      expect(guardRequest.address).to.equal(addr("guard"));
      expect(guardRequest.constructorArguments.slice(1)).to.deep.equal([
        addr("oracle"),
        addr("registry"),
        params.core.marketCallGas,
      ]);
      const sent = new Map<string, string>();
      for (const line of fs
        .readFileSync(path.join(dir, "journal.jsonl"), "utf8")
        .split("\n")
        .filter(Boolean)) {
        const m = JSON.parse(line);
        if (m.type === "TRANSACTION_SEND") sent.set(m.futureId, m.transaction.hash);
      }
      for (const r of requests) {
        const artifact = await hre.artifacts.readArtifact(r.contract);
        const encoded = new Interface(artifact.abi).encodeDeploy(r.constructorArguments).slice(2);
        const tx = await provider.getTransaction(sent.get(r.futureId)!);
        expect(tx!.data.endsWith(encoded), r.contract).to.equal(true);
        expect(tx!.data.slice(0, -encoded.length || undefined)).to.equal(artifact.bytecode);
      }
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

/**
 * A local chain restarted under the journal: the default deployment id (`chain-<chainId>`) on anvil with chain
 * id 1337, so no developer journal (chain-31337) is touched; skipped when chain-1337 journals already exist.
 */
describe("deployment after the local chain restarted (npm run deploy)", function () {
  this.timeout(300_000);
  const deployments = path.join(ROOT, "ignition", "deployments");
  const ours = () => fs.readdirSync(deployments).filter((d) => /^chain-1337(-[0-9]+)?$/.test(d));
  let anvil: Anvil | undefined;

  before(function () {
    fs.mkdirSync(deployments, { recursive: true });
    if (ours().length) this.skip();
  });

  after(async function () {
    await anvil?.stop();
    for (const d of ours()) fs.rmSync(path.join(deployments, d), { recursive: true, force: true });
  });

  const deploy = (url: string, env: NodeJS.ProcessEnv = {}) =>
    run(["run", "scripts/deploy.ts", "--network", "localhost"], {
      HARDHAT_NETWORK: "",
      VIGIL_LOCAL_RPC_URL: url,
      VIGIL_DEPLOY_PARAMS: path.join(ROOT, "ignition/parameters/example.json"),
      VIGIL_DEPLOYMENT_ID: "",
      ...env,
    });
  const guardOf = (out: string) => out.match(/MarketGuard\s+(0x[0-9a-fA-F]{40})/)?.[1] ?? "";
  const codeAt = async (url: string, address: string) => {
    const provider = new JsonRpcProvider(url, 1337, { staticNetwork: true });
    try {
      return await provider.getCode(address);
    } finally {
      provider.destroy();
    }
  };

  it("starts a fresh deployment id on a local chain that lost the journal's contracts, says so, then resumes it", async function () {
    anvil = await Anvil.start({ chainId: 1337 });
    const first = await deploy(anvil.url);
    expect(first.code, first.out).to.equal(0);
    expect(first.out).to.contain("deployment id     chain-1337\n");
    await anvil.stop();

    anvil = await Anvil.start({ chainId: 1337 }); // same chain id, empty chain
    const second = await deploy(anvil.url);
    expect(second.code, second.out).to.equal(0);
    expect(second.out).to.contain(
      "this local chain is not the one ignition/deployments/chain-1337 was written for (restarted node?): " +
        "deploying afresh as chain-1337-1",
    );
    expect(second.out).to.contain("deployment id     chain-1337-1\n");
    expect(await codeAt(anvil.url, guardOf(second.out))).to.not.equal("0x");

    const third = await deploy(anvil.url);
    expect(third.code, third.out).to.equal(0);
    expect(third.out, third.out).to.contain("resuming deployment chain-1337-1");
    expect(guardOf(third.out)).to.equal(guardOf(second.out));
  });

  it("refuses an explicit VIGIL_DEPLOYMENT_ID whose contracts the chain does not have", async function () {
    await anvil!.stop();
    anvil = await Anvil.start({ chainId: 1337 });
    const r = await deploy(anvil.url, { VIGIL_DEPLOYMENT_ID: "chain-1337-1" });
    expect(r.code).to.equal(1);
    expect(r.out).to.match(
      /deploy failed: the journal ignition\/deployments\/chain-1337-1 does not match chain 1337 \(block [0-9]+ is (0x[0-9a-f]{64}|missing) here, not 0x[0-9a-f]{64}.*\): it was written for another chain .*Set VIGIL_DEPLOYMENT_ID to a new id/,
    );
  });
});

describe("choosing the deployment id (scripts/deploy/journal.ts)", function () {
  let dir: string;
  /** A journal whose first transaction was confirmed in block 1 with hash `block` and deployed `addresses`. */
  const write = (id: string, addresses: Record<string, string>, block = H1) => {
    fs.mkdirSync(path.join(dir, id), { recursive: true });
    fs.writeFileSync(path.join(dir, id, "deployed_addresses.json"), JSON.stringify(addresses));
    const confirm = {
      type: "TRANSACTION_CONFIRM",
      futureId: "x",
      receipt: { blockHash: block, blockNumber: 1 },
    };
    fs.writeFileSync(path.join(dir, id, "journal.jsonl"), JSON.stringify(confirm) + "\n");
  };
  const H1 = "0x" + "1".repeat(64);
  const H2 = "0x" + "2".repeat(64);
  const A = "0x" + "a".repeat(40);
  const B = "0x" + "b".repeat(40);
  /** A chain whose block 1 has hash `block` and where `present` hold code. */
  const chainWith = (block: string, present: string[]) => ({
    hasCode: async (a: string) => present.includes(a),
    blockHash: async (n: number) => (n === 1 ? block : undefined),
  });
  const onChain = (...present: string[]) => chainWith(H1, present);

  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "vigil-journal-"))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("uses chain-<id> when there is no journal, or when its contracts are on the chain", async function () {
    expect(await chooseDeploymentId(dir, 11155111, undefined, onChain())).to.deep.equal({
      id: "chain-11155111",
      note: "",
    });
    write("chain-11155111", { "VigilCore#MarketGuard": A });
    expect((await chooseDeploymentId(dir, 11155111, undefined, onChain(A))).id).to.equal("chain-11155111");
  });

  it("refuses, on a public chain, a journal whose contracts are gone, naming VIGIL_DEPLOYMENT_ID", async function () {
    write("chain-11155111", { "VigilCore#MarketGuard": A, "VigilCore#HealthOracle": B });
    await chooseDeploymentId(dir, 11155111, undefined, onChain(B)).then(
      () => expect.fail("accepted a journal for another chain"),
      (e: Error) => {
        expect(e.message).to.contain(`(VigilCore#MarketGuard ${A})`);
        expect(e.message).to.contain("it was written for another chain");
        expect(e.message).to.contain("set VIGIL_DEPLOYMENT_ID=<new id> to deploy afresh");
      },
    );
  });

  it("on a local chain, resumes the newest numbered journal that is on the chain, else numbers a new one", async function () {
    write("chain-31337", { x: A });
    write("chain-31337-1", { x: B });
    write("chain-31337-2", { x: A });
    expect((await chooseDeploymentId(dir, 31337, undefined, onChain(B))).id).to.equal("chain-31337-1");
    const fresh = await chooseDeploymentId(dir, 31337, undefined, onChain());
    expect(fresh.id).to.equal("chain-31337-3");
    expect(fresh.note).to.contain("deploying afresh as chain-31337-3");
  });

  it("tells a restarted chain by its block hash even when the same addresses hold code again", async function () {
    write("chain-31337", { x: A }, H1);
    const replayed = chainWith(H2, [A]); // same deployer, same nonces, same addresses; other blocks
    const choice = await chooseDeploymentId(dir, 31337, undefined, replayed);
    expect(choice.id).to.equal("chain-31337-1");
    await chooseDeploymentId(dir, 31337, "chain-31337", replayed).then(
      () => expect.fail("resumed a journal of another chain"),
      (e: Error) => expect(e.message).to.contain(`(block 1 is ${H2} here, not ${H1})`),
    );
    expect((await chooseDeploymentId(dir, 31337, "chain-31337", chainWith(H1, [A]))).id).to.equal(
      "chain-31337",
    );
  });
});

describe("verify requests (scripts/deploy/verify.ts)", function () {
  const init = (futureId: string, contractName: string, constructorArgs: unknown[]) => ({
    type: "DEPLOYMENT_EXECUTION_STATE_INITIALIZE",
    futureId,
    artifactId: futureId,
    contractName,
    constructorArgs,
    libraries: {},
  });
  const done = (futureId: string, address: string, type = "SUCCESS") => ({
    type: "DEPLOYMENT_EXECUTION_STATE_COMPLETE",
    futureId,
    result: { type, address },
  });
  const A = "0x" + "a".repeat(40);
  const B = "0x" + "b".repeat(40);
  const sources: Record<string, string> = {
    "VigilCore#MarketGuard": "contracts/MarketGuard.sol",
    "Vigil#HealthFeed_0": "contracts/adapters/HealthFeed.sol",
  };

  it("builds one request per deployed contract with its source, name and revived constructor arguments", function () {
    const journal = [
      init("VigilCore#MarketGuard", "MarketGuard", [A, B, B, { _kind: "bigint", value: "200000" }]),
      init("Vigil#HealthFeed_0", "HealthFeed", [B, "0x" + "11".repeat(32), "feed"]),
      { type: "CALL_EXECUTION_STATE_INITIALIZE", futureId: "Vigil#SetAttestors" },
      done("VigilCore#MarketGuard", A),
      done("Vigil#SetAttestors", B),
      done("Vigil#HealthFeed_0", B, "REVERTED_TRANSACTION"),
    ];
    expect(buildVerifyRequests(journal, (id) => sources[id])).to.deep.equal([
      {
        futureId: "VigilCore#MarketGuard",
        address: A,
        contract: "contracts/MarketGuard.sol:MarketGuard",
        constructorArguments: [A, B, B, 200_000n],
        libraries: {},
      },
    ]);
  });

  it("revives bigints inside struct arguments", function () {
    const journal = [
      init("VigilCore#MarketGuard", "MarketGuard", [{ heartbeat: { _kind: "bigint", value: "300" }, n: 2 }]),
      done("VigilCore#MarketGuard", A),
    ];
    expect(buildVerifyRequests(journal, (id) => sources[id])[0].constructorArguments).to.deep.equal([
      { heartbeat: 300n, n: 2 },
    ]);
  });

  it("verifies every request through verify:verify, counts an already verified contract, and reports failures", async function () {
    const calls: Array<Record<string, unknown>> = [];
    const requests = buildVerifyRequests(
      [
        init("VigilCore#MarketGuard", "MarketGuard", [A]),
        done("VigilCore#MarketGuard", A),
        init("Vigil#HealthFeed_0", "HealthFeed", [B]),
        done("Vigil#HealthFeed_0", B),
      ],
      (id) => sources[id],
    );
    const outcome = [
      new Error("Contract at 0xa… is already verified."),
      new Error("explorer unreachable\nstack"),
    ];
    const { lines, failed } = await verifyAll(async (task, args) => {
      expect(task).to.equal("verify:verify");
      calls.push(args);
      throw outcome[calls.length - 1];
    }, requests);
    expect(calls).to.deep.equal([
      {
        address: A,
        contract: "contracts/MarketGuard.sol:MarketGuard",
        constructorArguments: [A],
        libraries: {},
      },
      {
        address: B,
        contract: "contracts/adapters/HealthFeed.sol:HealthFeed",
        constructorArguments: [B],
        libraries: {},
      },
    ]);
    expect(lines).to.deep.equal([
      `verified  VigilCore#MarketGuard ${A} (already)`,
      `FAILED    Vigil#HealthFeed_0 ${B}: explorer unreachable`,
    ]);
    expect(failed).to.equal(1);
  });

  it("sees an explorer key as a string or per network", function () {
    expect(hasExplorerKey("", "sepolia")).to.equal(false);
    expect(hasExplorerKey("KEY", "sepolia")).to.equal(true);
    expect(hasExplorerKey({ sepolia: "KEY" }, "sepolia")).to.equal(true);
    expect(hasExplorerKey({ baseSepolia: "KEY" }, "sepolia")).to.equal(false);
    expect(hasExplorerKey(undefined, "sepolia")).to.equal(false);
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
