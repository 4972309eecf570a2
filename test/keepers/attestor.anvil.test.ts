import { expect } from "chai";
import fs from "node:fs";
import { Wallet } from "ethers";
import { Attestor } from "../../keepers/attestor/attestor";
import { attestorConfigSchema } from "../../keepers/attestor/config";
import { staticEndpointSource, staticOracleReader } from "../../keepers/attestor/sources";
import { EndpointKind } from "../../keepers/shared/health";
import { createLogger } from "../../keepers/shared/logger";
import { Metrics } from "../../keepers/shared/metrics";
import { decodeValues } from "../../keepers/shared/report";
import { ManagedNode, freePort, rpc } from "../../scripts/drill/nodes";
import { tmpDataDir } from "./attestor-helpers";

/** A real anvil binary on loopback, faulted with real signals. */
describe("attestor against a real anvil node", function () {
  this.timeout(90_000);
  const CHAIN_ID = 4242;
  const SERVICE = "0x" + "7".repeat(64);
  const ENDPOINT = "0x" + "e".repeat(64);
  let node: ManagedNode;
  let attestor: Attestor;

  before(async function () {
    node = new ManagedNode({
      name: "primary",
      impl: "anvil",
      port: await freePort(),
      chainId: CHAIN_ID,
      blockTimeSec: 1,
    });
    await node.start(30_000);
    const config = attestorConfigSchema.parse({
      chain: { rpcUrls: [node.url], chainId: 31337 },
      contracts: { oracle: "0x" + "99".repeat(20), registry: "0x" + "88".repeat(20) },
      services: [SERVICE],
      allowPrivateTargets: true, // anvil on loopback
      probeIntervalMs: 2_000,
      timeoutMs: 1_000,
      expectedChainIds: { [SERVICE]: CHAIN_ID },
      // A 1 s block time: halted after 5 s without a block (the defaults suit 12 s blocks).
      thresholds: { jsonRpc: { headAgeSec: { ok: 3, max: 5 } } },
      dataDir: tmpDataDir(),
    });
    attestor = new Attestor({
      config,
      key: Wallet.createRandom().signingKey,
      endpoints: staticEndpointSource([
        { id: ENDPOINT, serviceId: SERVICE, kind: EndpointKind.JSON_RPC, uri: node.url, priority: 0 },
      ]),
      oracle: staticOracleReader({ attestors: [], roundSeconds: 5 }),
      logger: createLogger("test", { level: "silent" }),
      metrics: new Metrics(false),
    });
    await attestor.refreshOracle();
    await attestor.refreshEndpoints();
  });

  after(async function () {
    await node?.stop();
  });

  /** Wait until the kernel reports the process stopped (state T). */
  async function stoppedState(pid: number) {
    for (let i = 0; i < 50; i++) {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
      if (/\) T /.test(stat)) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`process ${pid} did not stop: ${fs.readFileSync(`/proc/${pid}/stat`, "utf8")}`);
  }

  const probe = () => attestor.probeEndpoint(ENDPOINT).then((o) => o!);

  it("scores the running node healthy and signs it in the round's report", async function () {
    const o = await probe();
    expect(o.failure).to.equal(undefined);
    expect(o.healthBps).to.be.at.least(8_000);
    const { outcomes, report } = await attestor.probeRound();
    expect(report!.endpointIds).to.deep.equal([ENDPOINT]);
    expect(decodeValues(report!.values)[0].healthBps).to.equal(outcomes[0].healthBps);
  });

  it("scores 0 (timeout) while the node is stopped with SIGSTOP", async function () {
    node.hang();
    await stoppedState(node.pid!);
    const o = await probe();
    expect(o).to.include({ healthBps: 0, failure: "timeout" });
  });

  it("scores it healthy again after SIGCONT", async function () {
    node.unhang();
    // Wait for the state (a probe that scores it healthy), not for a count of tries: a node resumed on a
    // loaded machine may need several seconds to answer promptly again. The deadline only ends a hang.
    const deadline = Date.now() + 60_000;
    let o = await probe();
    while (o.healthBps < 8_000 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      o = await probe();
    }
    expect(o.healthBps).to.be.at.least(8_000);
  });

  it("scores a halted head 0 once no block came for the max head age", async function () {
    await node.haltBlocks();
    // Wait until the node's head is older than the max head age (5 s) by the clock the attestor scores
    // with, reading the head again each time: on a loaded machine a block was seen to land after the
    // halt, so neither a sleep counted from the halt nor the head read at the halt says how old it is.
    const headAge = async () =>
      Date.now() / 1000 -
      Number(
        (await rpc<{ timestamp: string }>(node.url, "eth_getBlockByNumber", ["latest", false])).timestamp,
      );
    while ((await headAge()) < 5) await new Promise((r) => setTimeout(r, 100));
    const o = await probe();
    expect(o.failure).to.equal(undefined);
    expect(o.healthBps).to.equal(0);
    await node.resumeBlocks();
  });

  it("scores 0 (unreachable) once the node is killed", async function () {
    await node.kill();
    const o = await probe();
    expect(o.healthBps).to.equal(0);
    expect(o.failure).to.be.oneOf(["unreachable", "timeout"]);
  });
});
