/**
 * The keepers' start-up checks (keepers/shared/preflight.ts) against a real anvil with the real contracts: every
 * rejection names the setting and says what was found, within a deadline, and the CLI turns it into exit 2 and
 * one line.
 */
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import type { AddressInfo } from "node:net";
import { expect } from "chai";
import hre from "hardhat";
import { Wallet, type Contract } from "ethers";
import { runCli } from "../../keepers/cli";
import type { CliIo } from "../../keepers/cli/io";
import { isVigilError, type VigilError } from "../../keepers/shared/errors";
import { preflight, type PreflightSettings } from "../../keepers/shared/preflight";
import { freePort } from "../../scripts/drill/nodes";
import { Anvil, ANVIL_KEYS, deployArtifact } from "./helpers/anvil";

const POLICY = {
  downBelowBps: 5000,
  upAtBps: 8000,
  fallRounds: 1,
  riseRounds: 1,
  heartbeat: 300,
  maxAge: 60,
};
const SERVICE = "0x" + "5".repeat(64);

async function rejection(p: Promise<unknown>): Promise<VigilError> {
  try {
    await p;
  } catch (e) {
    if (isVigilError(e)) return e;
    throw e;
  }
  throw new Error("expected a VigilError");
}

function io() {
  const captured = { out: "", err: "" };
  const value: CliIo = {
    out: (t) => void (captured.out += t),
    err: (t) => void (captured.err += t),
    env: {},
  };
  return { io: value, captured };
}

describe("keeper preflight (RPCs and contracts at start-up)", function () {
  this.timeout(120_000);
  let anvil: Anvil;
  let oracle: Contract, otherOracle: Contract, registry: Contract, guard: Contract, token: Contract;
  let settings: PreflightSettings;
  // A port that accepts connections and never answers (a hung RPC).
  let silent: net.Server;
  let silentUrl: string;
  const sockets: net.Socket[] = [];

  before(async function () {
    for (const n of ["HealthOracle", "EndpointRegistry", "MarketGuard", "MockERC20"])
      if (!(await hre.artifacts.artifactExists(n))) this.skip();
    anvil = await Anvil.start();
    const admin = new Wallet(ANVIL_KEYS[0], anvil.provider());
    oracle = await deployArtifact("HealthOracle", [admin.address, 10, 15, 500_000, POLICY], admin);
    await (await oracle.setAttestors([Wallet.createRandom().address], 1)).wait();
    otherOracle = await deployArtifact("HealthOracle", [admin.address, 10, 15, 500_000, POLICY], admin);
    registry = await deployArtifact("EndpointRegistry", [await oracle.getAddress()], admin);
    guard = await deployArtifact(
      "MarketGuard",
      [admin.address, await oracle.getAddress(), await registry.getAddress(), 200_000],
      admin,
    );
    token = await deployArtifact("MockERC20", ["Collateral", "COL"], admin);
    settings = {
      chain: { rpcUrls: [anvil.url], chainId: anvil.chainId },
      contracts: {
        oracle: await oracle.getAddress(),
        registry: await registry.getAddress(),
        guard: await guard.getAddress(),
      },
    };
    silent = net.createServer((s) => void sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    silentUrl = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
  });

  after(async function () {
    sockets.forEach((s) => s.destroy());
    silent?.close();
    await anvil?.stop();
  });

  const withContracts = (c: Partial<PreflightSettings["contracts"]>): PreflightSettings => ({
    ...settings,
    contracts: { ...settings.contracts, ...c },
  });

  it("accepts a deployment whose contracts answer and point at each other", async function () {
    const r = await preflight(settings);
    expect(r.chainId).to.equal(anvil.chainId);
    expect(r.oracle.quorum).to.equal(1);
    expect(r.oracle.attestors).to.equal(1);
    expect(r.oracle.configDigest).to.equal(await oracle.configDigest());
    expect(r.guard?.marketCallGas).to.equal(200_000n);
  });

  describe("chain", function () {
    it("rejects an RPC of another chain, naming chain.rpcUrls and chain.chainId (VIGIL_CHAIN)", async function () {
      const e = await rejection(preflight({ ...settings, chain: { rpcUrls: [anvil.url], chainId: 1 } }));
      expect(e.code).to.equal("VIGIL_CHAIN");
      expect(e.message).to.contain("chain.rpcUrls[0]").and.contain(`serves chain ${anvil.chainId}`);
      expect(e.message).to.contain("chain.chainId is 1");
    });

    it("rejects an unreachable RPC, naming which of chain.rpcUrls (VIGIL_CHAIN)", async function () {
      const dead = `http://127.0.0.1:${await freePort()}`;
      const e = await rejection(
        preflight({ ...settings, chain: { rpcUrls: [anvil.url, dead], chainId: 31337 } }),
      );
      expect(e.code).to.equal("VIGIL_CHAIN");
      expect(e.message).to.contain(`chain.rpcUrls[1] (${dead}) does not answer eth_chainId`);
      expect(e.message).to.contain("ECONNREFUSED");
    });

    it("gives up on an RPC that never answers at the deadline", async function () {
      const started = Date.now();
      const e = await rejection(
        preflight({ ...settings, chain: { rpcUrls: [silentUrl], chainId: 31337 } }, { timeoutMs: 300 }),
      );
      expect(e.code).to.equal("VIGIL_CHAIN");
      expect(e.message).to.contain("no answer within 300 ms");
      // Bounded by the deadline, not by ethers' retries (generous margin: a loaded machine).
      expect(Date.now() - started).to.be.below(30_000);
    });

    it("shows an RPC URL by its origin only (keys in paths and queries stay out of the message)", async function () {
      const port = await freePort();
      const e = await rejection(
        preflight({
          ...settings,
          chain: {
            rpcUrls: [`http://user:pw@127.0.0.1:${port}/v2/SECRETKEY?apikey=SECRET2`],
            chainId: 31337,
          },
        }),
      );
      expect(e.message).to.contain(`http://127.0.0.1:${port}`);
      expect(e.message).not.to.match(/SECRET|pw@/);
    });
  });

  describe("contracts", function () {
    it("rejects an address without code, naming the setting (VIGIL_CONFIG)", async function () {
      const nobody = Wallet.createRandom().address;
      const e = await rejection(preflight(withContracts({ guard: nobody })));
      expect(e.code).to.equal("VIGIL_CONFIG");
      expect(e.message).to.contain(`contracts.guard: no contract at ${nobody} on chain 31337`);
    });

    it("rejects a token where the guard should be, and says it is an ERC-20", async function () {
      const at = await token.getAddress();
      const e = await rejection(preflight(withContracts({ guard: at })));
      expect(e.code).to.equal("VIGIL_CONFIG");
      expect(e.message).to.contain(`contracts.guard: ${at} is not a MarketGuard`);
      expect(e.message).to.contain('ERC-20 token ("COL")');
    });

    it("rejects swapped addresses and says which Vigil contract is there", async function () {
      const e = await rejection(
        preflight(
          withContracts({ oracle: settings.contracts.registry, registry: settings.contracts.oracle }),
        ),
      );
      expect(e.code).to.equal("VIGIL_CONFIG");
      expect(e.message).to.contain("contracts.oracle:").and.contain("is not a HealthOracle");
      expect(e.message).to.contain("answers as the EndpointRegistry (is it contracts.registry?)");
    });

    it("rejects a registry and guard wired to another oracle than contracts.oracle", async function () {
      const other = await otherOracle.getAddress();
      const e = await rejection(preflight(withContracts({ oracle: other })));
      expect(e.code).to.equal("VIGIL_CONFIG");
      expect(e.message).to.contain("contracts.registry: the EndpointRegistry at");
      expect(e.message).to.contain(`but contracts.oracle is ${other}`);
    });

    it("skips the guard when asked (the attestor has none)", async function () {
      const r = await preflight(withContracts({ guard: await token.getAddress() }), { guard: false });
      expect(r.guard).to.equal(undefined);
    });
  });

  describe("the CLI", function () {
    // The key is checked before the chain: give the keepers one (the commands read process.env).
    const saved = { responder: process.env.VIGIL_RESPONDER_KEY, attestor: process.env.VIGIL_ATTESTOR_KEY };
    before(function () {
      process.env.VIGIL_RESPONDER_KEY = ANVIL_KEYS[1];
      process.env.VIGIL_ATTESTOR_KEY = ANVIL_KEYS[2];
    });
    after(function () {
      for (const [k, v] of [
        ["VIGIL_RESPONDER_KEY", saved.responder],
        ["VIGIL_ATTESTOR_KEY", saved.attestor],
      ] as const)
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
    });
    const common = () => [
      "--rpc-url",
      anvil.url,
      "--chain-id",
      String(anvil.chainId),
      "--oracle",
      settings.contracts.oracle,
      "--registry",
      settings.contracts.registry,
    ];
    const outbox = () =>
      path.join(fs.mkdtempSync(path.join(os.tmpdir(), "vigil-preflight-")), "outbox.sqlite");

    it("vigil responder with a token as the guard exits 2 with one line naming contracts.guard", async function () {
      const { io: i, captured } = io();
      const code = await runCli(
        [
          "responder",
          ...common(),
          "--guard",
          await token.getAddress(),
          "--attestor",
          "http://127.0.0.1:1",
          "--service",
          SERVICE,
          "--outbox",
          outbox(),
        ],
        i,
      );
      expect(code).to.equal(2);
      const lines = captured.err.trim().split("\n");
      expect(lines).to.have.length(1);
      expect(lines[0]).to.match(
        /^error VIGIL_CONFIG: contracts\.guard: 0x[0-9a-fA-F]{40} is not a MarketGuard/,
      );
    });

    it("vigil responder with an unreachable RPC exits 2 with one line naming chain.rpcUrls", async function () {
      const dead = `http://127.0.0.1:${await freePort()}`;
      const { io: i, captured } = io();
      const args = common();
      args[1] = dead;
      const code = await runCli(
        [
          "responder",
          ...args,
          "--attestor",
          "http://127.0.0.1:1",
          "--service",
          SERVICE,
          "--outbox",
          outbox(),
        ],
        i,
      );
      expect(code).to.equal(2);
      const lines = captured.err.trim().split("\n");
      expect(lines).to.have.length(1);
      expect(lines[0]).to.contain(
        `error VIGIL_CHAIN: chain.rpcUrls[0] (${dead}) does not answer eth_chainId`,
      );
    });

    it("vigil attestor on the wrong chain id exits 2 with one line naming chain.chainId", async function () {
      const { io: i, captured } = io();
      const args = common();
      args[3] = "5";
      const code = await runCli(["attestor", ...args, "--service", SERVICE], i);
      expect(code).to.equal(2);
      const lines = captured.err.trim().split("\n");
      expect(lines).to.have.length(1);
      expect(lines[0]).to.match(
        /^error VIGIL_CHAIN: chain\.rpcUrls\[0\] .* serves chain 31337, but chain\.chainId is 5/,
      );
    });
  });
});
