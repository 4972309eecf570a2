import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import { loadResponderConfig, parseResponderConfig } from "../../keepers/responder/config";
import { buildResponderConfig, responderCommand } from "../../keepers/responder/command";

const VALID = {
  chain: { rpcUrls: ["http://127.0.0.1:8545"], chainId: 31337 },
  contracts: {
    oracle: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
    registry: "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512",
  },
  attestorUrls: ["http://127.0.0.1:9101"],
  services: ["0x" + "aa".repeat(32)],
};
const SERVICE_B = "0x" + "BB".repeat(32);

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
    expect(c.attestorTimeoutMs).to.equal(2000);
    expect(c.attestorMaxBytes).to.equal(16 * 1024 * 1024);
    expect(c.confirmations).to.equal(1);
    expect(c.fees).to.deep.equal({
      bumpPercent: 12.5,
      maxFeeCapGwei: 500,
      safetyMaxFeeCapGwei: 2000,
      stuckAfterMs: 30_000,
    });
    expect(c.actionDeadlineMs).to.equal(300_000);
    expect(c.http).to.deep.equal({ host: "127.0.0.1", port: 9102 });
    expect(c.key.envVar).to.equal("VIGIL_RESPONDER_KEY");
    expect(c.metrics.enabled).to.equal(true);
    expect(c.log.level).to.equal("info");
    expect(c.outboxPath).to.equal("./vigil-responder.sqlite");
    expect(c.maxRevertedTxPerHour).to.equal(6);
    expect(c.delivery).to.deep.equal({
      backoffBaseMs: 30_000,
      backoffMaxMs: 3_600_000,
      maxGasPerMarketPerHour: 1_000_000,
    });
    expect(c.reorg).to.deep.equal({ windowBlocks: 64 });
  });

  const bad: Array<[string, Record<string, unknown>, RegExp]> = [
    ["no RPC URL", { chain: { ...VALID.chain, rpcUrls: [] } }, /chain\.rpcUrls: give at least one/],
    [
      "a non-URL RPC",
      { chain: { ...VALID.chain, rpcUrls: ["localhost:8545"] } },
      /chain\.rpcUrls\.0: must be (a URL|an http)/,
    ],
    ["a zero chain id", { chain: { ...VALID.chain, chainId: 0 } }, /chain\.chainId/],
    [
      "a bad oracle address",
      { contracts: { ...VALID.contracts, oracle: "0x1234" } },
      /contracts\.oracle: must be a 0x-prefixed 20-byte/,
    ],
    ["no attestors", { attestorUrls: [] }, /attestorUrls: give at least one/],
    ["no services", { services: [] }, /services: give the service ids .* the registry is permissionless/],
    [
      "a service id that is not bytes32",
      { services: ["0x1234"] },
      /services\.0: must be a 0x-prefixed 32-byte/,
    ],
    ["a market id of 0", { markets: [0] }, /markets\.0: must be a market id/],
    ["a refresh fraction of 1", { heartbeatRefreshFraction: 1 }, /heartbeatRefreshFraction/],
    ["a fee bump below 12.5%", { fees: { bumpPercent: 10 } }, /fees\.bumpPercent: must be at least 12\.5/],
    ["a negative fee cap", { fees: { maxFeeCapGwei: -1 } }, /fees\.maxFeeCapGwei/],
    [
      "a safety fee cap below the normal one",
      { fees: { maxFeeCapGwei: 500, safetyMaxFeeCapGwei: 100 } },
      /fees\.safetyMaxFeeCapGwei: safetyMaxFeeCapGwei must be at least maxFeeCapGwei/,
    ],
    ["a zero action deadline", { actionDeadlineMs: 0 }, /actionDeadlineMs/],
    ["zero confirmations", { confirmations: 0 }, /confirmations/],
    ["a port out of range", { http: { port: 70000 } }, /http\.port/],
    ["an unknown setting", { pollIntervalSeconds: 3 }, /pollIntervalSeconds/],
    ["a negative revert budget", { maxRevertedTxPerHour: -1 }, /maxRevertedTxPerHour/],
    ["a fractional revert budget", { maxRevertedTxPerHour: 1.5 }, /maxRevertedTxPerHour/],
    [
      "a delivery backoff cap below its base",
      { delivery: { backoffBaseMs: 10_000, backoffMaxMs: 1_000 } },
      /delivery\.backoffMaxMs: backoffMaxMs must be at least backoffBaseMs/,
    ],
    ["a zero delivery backoff", { delivery: { backoffBaseMs: 0 } }, /delivery\.backoffBaseMs/],
    [
      "a zero delivery gas budget",
      { delivery: { maxGasPerMarketPerHour: 0 } },
      /delivery\.maxGasPerMarketPerHour/,
    ],
    ["an unknown delivery setting", { delivery: { maxGas: 1 } }, /maxGas/],
    ["a zero reorg window", { reorg: { windowBlocks: 0 } }, /reorg\.windowBlocks/],
  ];
  for (const [what, patch, msg] of bad) {
    it(`rejects ${what}, naming the setting`, function () {
      expect(() => parseResponderConfig({ ...VALID, ...patch })).to.throw(msg);
    });
  }

  it("requires the services to watch, and says why", function () {
    const { services: _omit, ...rest } = VALID;
    void _omit;
    expect(() => parseResponderConfig(rest)).to.throw(
      /services: give the service ids \(bytes32\) this responder watches: the registry is permissionless/,
    );
  });

  it("takes services and markets from the environment and the flags", function () {
    const c = loadResponderConfig(undefined, {
      VIGIL_RPC_URL: "http://127.0.0.1:8545",
      VIGIL_CHAIN_ID: "31337",
      VIGIL_ORACLE: VALID.contracts.oracle,
      VIGIL_REGISTRY: VALID.contracts.registry,
      VIGIL_ATTESTOR_URLS: "http://127.0.0.1:9101",
      VIGIL_RESPONDER_SERVICES: `${VALID.services[0]}, ${SERVICE_B}`,
      VIGIL_RESPONDER_MARKETS: "2,1,2",
    });
    expect(c.services).to.deep.equal([VALID.services[0], SERVICE_B.toLowerCase()]);
    expect(c.markets).to.deep.equal([2, 1]);
    expect(parseResponderConfig(VALID).markets).to.equal(undefined);
    const cmd = responderCommand();
    cmd.parseOptions(["--service", VALID.services[0], SERVICE_B, "--market", "3"]);
    const opts = cmd.opts<{ service?: string[]; market?: string[] }>();
    const f = buildResponderConfig(
      { service: opts.service, market: opts.market },
      {
        VIGIL_RPC_URL: "http://127.0.0.1:8545",
        VIGIL_CHAIN_ID: "31337",
        VIGIL_ORACLE: VALID.contracts.oracle,
        VIGIL_REGISTRY: VALID.contracts.registry,
        VIGIL_ATTESTOR_URLS: "http://127.0.0.1:9101",
        VIGIL_RESPONDER_SERVICES: SERVICE_B,
      },
    );
    expect(f.services).to.deep.equal([VALID.services[0], SERVICE_B.toLowerCase()]);
    expect(f.markets).to.deep.equal([3]);
  });

  it("rejects secrets in the config file", function () {
    const file = tmpFile("r.json", JSON.stringify({ ...VALID, privateKey: "0x" + "11".repeat(32) }));
    expect(() => loadResponderConfig(file, {})).to.throw(/must not hold secrets, found: privateKey/);
  });

  it("reads YAML and lets the environment override the file", function () {
    const file = tmpFile(
      "r.yaml",
      `chain: { rpcUrls: [http://127.0.0.1:8545], chainId: 31337 }\ncontracts:\n  oracle: "${VALID.contracts.oracle}"\n  registry: "${VALID.contracts.registry}"\nattestorUrls: [http://127.0.0.1:9101]\nservices: ["${VALID.services[0]}"]\n`,
    );
    const c = loadResponderConfig(file, {
      VIGIL_RPC_URL: "http://127.0.0.1:1,http://127.0.0.1:2",
      VIGIL_FEE_BUMP_PERCENT: "20",
      VIGIL_HTTP_PORT: "0",
    });
    expect(c.chain.rpcUrls).to.deep.equal(["http://127.0.0.1:1", "http://127.0.0.1:2"]);
    expect(c.fees.bumpPercent).to.equal(20);
    expect(c.http.port).to.equal(0);
  });

  it("takes the revert budget, delivery and reorg settings from the environment", function () {
    const file = tmpFile("r.json", JSON.stringify(VALID));
    const c = loadResponderConfig(file, {
      VIGIL_MAX_REVERTED_TX_PER_HOUR: "2",
      VIGIL_DELIVERY_BACKOFF_BASE_MS: "1000",
      VIGIL_DELIVERY_BACKOFF_MAX_MS: "8000",
      VIGIL_DELIVERY_MAX_GAS_PER_MARKET_PER_HOUR: "300000",
      VIGIL_REORG_WINDOW_BLOCKS: "12",
    });
    expect(c.maxRevertedTxPerHour).to.equal(2);
    expect(c.delivery).to.deep.equal({
      backoffBaseMs: 1000,
      backoffMaxMs: 8000,
      maxGasPerMarketPerHour: 300_000,
    });
    expect(c.reorg.windowBlocks).to.equal(12);
  });

  it("names the variable when an environment number does not parse", function () {
    expect(() => loadResponderConfig(undefined, { VIGIL_CHAIN_ID: "mainnet" })).to.throw(/VIGIL_CHAIN_ID/);
  });

  describe("command", function () {
    it("lets flags win over the environment and the file", function () {
      const file = tmpFile("r.json", JSON.stringify(VALID));
      const c = buildResponderConfig(
        { config: file, heartbeatRefreshFraction: 0.7, rpcUrl: ["http://127.0.0.1:3"] },
        { VIGIL_HEARTBEAT_REFRESH_FRACTION: "0.6" },
      );
      expect(c.heartbeatRefreshFraction).to.equal(0.7);
      expect(c.chain.rpcUrls).to.deep.equal(["http://127.0.0.1:3"]);
    });

    it("rejects the first version's keys with the new names (logLevel, keystorePath, top-level rpcUrls)", function () {
      const { chain, ...rest } = VALID;
      const file = tmpFile(
        "old.json",
        JSON.stringify({ ...rest, rpcUrls: chain.rpcUrls, chainId: 1, logLevel: "info", keystorePath: "/k" }),
      );
      expect(() => loadResponderConfig(file, {})).to.throw(
        /rpcUrls is now chain\.rpcUrls.*chainId is now chain\.chainId.*logLevel is now log\.level.*keystorePath is now key\.keystorePath/,
      );
    });

    it("refuses the old --rpc flag, naming --rpc-url", function () {
      const cmd = responderCommand().exitOverride();
      cmd.configureOutput({ writeErr: () => undefined });
      expect(() => cmd.parseOptions(["--rpc", "http://127.0.0.1:1"])).to.throw(/--rpc is now --rpc-url/);
    });

    it("documents the unit and default of every option", function () {
      const cmd = responderCommand();
      for (const o of cmd.options) {
        if (o.hidden) continue; // the retired --rpc, which only says its new name
        if (
          [
            "--config",
            "--keystore",
            "--rpc-url",
            "--chain-id",
            "--oracle",
            "--registry",
            "--attestor",
            "--service",
          ].includes(o.long!)
        )
          continue;
        expect(o.description, o.long).to.match(/default/);
      }
      expect(cmd.helpInformation()).to.include("VIGIL_RESPONDER_KEY");
    });
  });
});
