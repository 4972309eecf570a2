import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import { loadResponderConfig, parseResponderConfig } from "../../keepers/responder/config";
import { buildResponderConfig, responderCommand } from "../../keepers/responder/command";

const VALID = {
  rpcUrls: ["http://127.0.0.1:8545"],
  chainId: 31337,
  contracts: {
    oracle: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
    registry: "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512",
  },
  attestorUrls: ["http://127.0.0.1:9101"],
};

function tmpFile(name: string, text: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vigil-cfg-"));
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

describe("responder config", function () {
  it("applies the documented defaults", function () {
    const c = parseResponderConfig(VALID);
    expect(c.pollIntervalMs).to.equal(2000);
    expect(c.heartbeatRefreshFraction).to.equal(0.8);
    expect(c.batchMaxSize).to.equal(50);
    expect(c.confirmations).to.equal(1);
    expect(c.fees).to.deep.equal({ bumpPercent: 12.5, maxFeeCapGwei: 500, stuckAfterMs: 30_000 });
    expect(c.http).to.deep.equal({ host: "127.0.0.1", port: 9102 });
    expect(c.keyEnvVar).to.equal("VIGIL_RESPONDER_KEY");
    expect(c.outboxPath).to.equal("./vigil-responder.sqlite");
  });

  const bad: Array<[string, Record<string, unknown>, RegExp]> = [
    ["no RPC URL", { rpcUrls: [] }, /rpcUrls: give at least one/],
    ["a non-URL RPC", { rpcUrls: ["localhost:8545"] }, /rpcUrls\.0: must be (a URL|an http)/],
    ["a zero chain id", { chainId: 0 }, /chainId/],
    [
      "a bad oracle address",
      { contracts: { ...VALID.contracts, oracle: "0x1234" } },
      /contracts\.oracle: must be a 0x-prefixed 20-byte/,
    ],
    ["no attestors", { attestorUrls: [] }, /attestorUrls: give at least one/],
    ["a refresh fraction of 1", { heartbeatRefreshFraction: 1 }, /heartbeatRefreshFraction/],
    ["a fee bump below 12.5%", { fees: { bumpPercent: 10 } }, /fees\.bumpPercent: must be at least 12\.5/],
    ["a negative fee cap", { fees: { maxFeeCapGwei: -1 } }, /fees\.maxFeeCapGwei/],
    ["zero confirmations", { confirmations: 0 }, /confirmations/],
    ["a port out of range", { http: { port: 70000 } }, /http\.port/],
    ["an unknown setting", { pollIntervalSeconds: 3 }, /pollIntervalSeconds/],
  ];
  for (const [what, patch, msg] of bad) {
    it(`rejects ${what}, naming the setting`, function () {
      expect(() => parseResponderConfig({ ...VALID, ...patch })).to.throw(msg);
    });
  }

  it("rejects secrets in the config file", function () {
    const file = tmpFile("r.json", JSON.stringify({ ...VALID, privateKey: "0x" + "11".repeat(32) }));
    expect(() => loadResponderConfig(file, {})).to.throw(/must not hold secrets, found: privateKey/);
  });

  it("reads YAML and lets the environment override the file", function () {
    const file = tmpFile(
      "r.yaml",
      `rpcUrls: [http://127.0.0.1:8545]\nchainId: 31337\ncontracts:\n  oracle: "${VALID.contracts.oracle}"\n  registry: "${VALID.contracts.registry}"\nattestorUrls: [http://127.0.0.1:9101]\n`,
    );
    const c = loadResponderConfig(file, {
      VIGIL_RPC_URL: "http://127.0.0.1:1,http://127.0.0.1:2",
      VIGIL_FEE_BUMP_PERCENT: "20",
      VIGIL_RESPONDER_HTTP_PORT: "0",
    });
    expect(c.rpcUrls).to.deep.equal(["http://127.0.0.1:1", "http://127.0.0.1:2"]);
    expect(c.fees.bumpPercent).to.equal(20);
    expect(c.http.port).to.equal(0);
  });

  it("names the variable when an environment number does not parse", function () {
    expect(() => loadResponderConfig(undefined, { VIGIL_CHAIN_ID: "mainnet" })).to.throw(/VIGIL_CHAIN_ID/);
  });

  describe("command", function () {
    it("lets flags win over the environment and the file", function () {
      const file = tmpFile("r.json", JSON.stringify(VALID));
      const c = buildResponderConfig(
        { config: file, batchMaxSize: 7, rpcUrl: ["http://127.0.0.1:3"] },
        { VIGIL_BATCH_MAX_SIZE: "9" },
      );
      expect(c.batchMaxSize).to.equal(7);
      expect(c.rpcUrls).to.deep.equal(["http://127.0.0.1:3"]);
    });

    it("documents the unit and default of every option", function () {
      const cmd = responderCommand();
      for (const o of cmd.options) {
        if (
          [
            "--config",
            "--keystore",
            "--rpc-url",
            "--chain-id",
            "--oracle",
            "--registry",
            "--attestor",
          ].includes(o.long!)
        )
          continue;
        expect(o.description, o.long).to.match(/default/);
      }
      expect(cmd.helpInformation()).to.include("VIGIL_RESPONDER_KEY");
    });
  });
});
