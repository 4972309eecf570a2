import { expect } from "chai";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { loadAttestorConfig } from "../../keepers/attestor/config";
import { isVigilError } from "../../keepers/shared/errors";

const ORACLE = "0x" + "11".repeat(20);
const REGISTRY = "0x" + "22".repeat(20);
const base = {
  chain: { rpcUrls: ["http://127.0.0.1:8545"], chainId: 31337 },
  contracts: { oracle: ORACLE, registry: REGISTRY },
  services: ["0x" + "55".repeat(32)],
};

function writeConfig(obj: unknown, ext = "json"): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vigil-attestor-"));
  const file = path.join(dir, `attestor.${ext}`);
  fs.writeFileSync(file, ext === "json" ? JSON.stringify(obj) : String(obj));
  return file;
}

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(isVigilError(e, "VIGIL_CONFIG"), String(e)).to.equal(true);
    return (e as Error).message;
  }
  throw new Error("expected a VIGIL_CONFIG error");
}

describe("attestor config", function () {
  it("derives latency thresholds that leave a DEGRADED window below a short timeout", function () {
    const c = loadAttestorConfig(writeConfig({ ...base, probeIntervalMs: 1_000, timeoutMs: 800 }), {}, {});
    expect(c.thresholds.jsonRpc.latencyMs).to.deep.equal({ ok: 200, max: 600, floor: 0.6 });
    const given = loadAttestorConfig(
      writeConfig({ ...base, thresholds: { http: { latencyMs: { max: 3_000 } } } }),
      {},
      {},
    );
    expect(given.thresholds.http.latencyMs).to.deep.equal({ ok: 500, max: 3_000, floor: 0.6 });
  });

  it("fills documented defaults", function () {
    const c = loadAttestorConfig(writeConfig(base), {}, {});
    expect(c).to.include({ probeIntervalMs: 5_000, timeoutMs: 4_000, concurrency: 32, keepReports: 8 });
    expect(c.thresholds.jsonRpc.latencyMs).to.deep.equal({ ok: 500, max: 1_500, floor: 0.6 });
    expect(c.referenceRpcUrls).to.deep.equal({});
    expect(c.dataDir).to.equal(path.join(os.homedir(), ".vigil", "attestor"));
    expect(c.http).to.deep.equal({ host: "127.0.0.1", port: 9_470 });
    expect(c.key.envVar).to.equal("VIGIL_ATTESTOR_KEY");
    expect(c.thresholds.jsonRpc.headAgeSec).to.deep.equal({ ok: 30, max: 120, floor: 0 });
    expect(c.thresholds.jsonRpc.lagBlocks).to.deep.equal({ ok: 2, max: 6, floor: 0 });
    expect(c.allowPrivateTargets).to.equal(false);
    expect(c.expectedChainIds).to.deep.equal({});
  });

  it("requires services, naming the setting and why", function () {
    const { services: _omitted, ...noServices } = base;
    for (const raw of [noServices, { ...base, services: [] }]) {
      expect(errorOf(() => loadAttestorConfig(writeConfig(raw), {}, {}))).to.contain(
        "services: list the service ids to watch; the registry is permissionless",
      );
    }
  });

  it("lower-cases service ids and expectedChainIds keys, so registry ids match", function () {
    const upper = "0x" + "AB".repeat(32);
    const c = loadAttestorConfig(
      writeConfig({ ...base, services: [upper], expectedChainIds: { [upper]: 1 } }),
      {},
      {},
    );
    expect(c.services).to.deep.equal([upper.toLowerCase()]);
    expect(c.expectedChainIds).to.deep.equal({ [upper.toLowerCase()]: 1 });
  });

  it("takes services and allowPrivateTargets from the environment", function () {
    const a = "0x" + "aa".repeat(32);
    const b = "0x" + "bb".repeat(32);
    const c = loadAttestorConfig(
      writeConfig(base),
      {},
      { VIGIL_ATTESTOR_SERVICES: `${a},${b}`, VIGIL_ATTESTOR_ALLOW_PRIVATE_TARGETS: "true" },
    );
    expect(c.services).to.deep.equal([a, b]);
    expect(c.allowPrivateTargets).to.equal(true);
  });

  it("reads YAML", function () {
    const yaml = `chain: { rpcUrls: [http://127.0.0.1:8545], chainId: 5 }\ncontracts:\n  oracle: "${ORACLE}"\n  registry: "${REGISTRY}"\nservices: ["${base.services[0]}"]\n`;
    expect(loadAttestorConfig(writeConfig(yaml, "yaml"), {}, {}).chain.chainId).to.equal(5);
  });

  it("takes environment overrides over the file and flags over both", function () {
    const env = {
      VIGIL_CHAIN_ID: "10",
      VIGIL_HTTP_PORT: "1234",
      VIGIL_RPC_URL: "http://a:1, http://b:2",
    };
    const c = loadAttestorConfig(writeConfig(base), { "http.port": 0 }, env);
    expect(c.chain.chainId).to.equal(10);
    expect(c.http.port).to.equal(0);
    expect(c.chain.rpcUrls).to.deep.equal(["http://a:1", "http://b:2"]);
    expect(loadAttestorConfig(writeConfig(base), {}, env).http.port).to.equal(1234);
  });

  it("takes the data dir from VIGIL_ATTESTOR_DATA_DIR", function () {
    const c = loadAttestorConfig(writeConfig(base), {}, { VIGIL_ATTESTOR_DATA_DIR: "/var/lib/vigil/a1" });
    expect(c.dataDir).to.equal("/var/lib/vigil/a1");
  });

  it("runs from the environment alone", function () {
    const env = {
      VIGIL_RPC_URL: "http://127.0.0.1:8545",
      VIGIL_CHAIN_ID: "31337",
      VIGIL_ORACLE: ORACLE,
      VIGIL_REGISTRY: REGISTRY,
      VIGIL_ATTESTOR_SERVICES: base.services[0],
    };
    expect(loadAttestorConfig(undefined, {}, env).contracts.oracle).to.equal(ORACLE);
  });

  const bad: Array<[string, object, string]> = [
    ["a non-URL RPC", { chain: { ...base.chain, rpcUrls: ["not a url"] } }, "chain.rpcUrls.0"],
    ["an ftp RPC", { chain: { ...base.chain, rpcUrls: ["ftp://x"] } }, "chain.rpcUrls.0"],
    ["no RPC", { chain: { ...base.chain, rpcUrls: [] } }, "chain.rpcUrls"],
    ["a zero chain id", { chain: { ...base.chain, chainId: 0 } }, "chain.chainId"],
    ["a short oracle address", { contracts: { ...base.contracts, oracle: "0x1234" } }, "contracts.oracle"],
    ["a bad registry address", { contracts: { ...base.contracts, registry: "hello" } }, "contracts.registry"],
    ["an unknown contracts key", { contracts: { ...base.contracts, oracel: ORACLE } }, "contracts"],
    ["metrics.enabled not a boolean", { metrics: { enabled: "yes" } }, "metrics.enabled"],
    ["an unknown log level", { log: { level: "loud" } }, "log.level"],
    ["a timeout not below the interval", { probeIntervalMs: 1_000, timeoutMs: 1_000 }, "timeoutMs"],
    ["zero concurrency", { concurrency: 0 }, "concurrency"],
    ["a port out of range", { http: { port: 70_000 } }, "http.port"],
    [
      "a threshold with ok above max",
      { thresholds: { jsonRpc: { headAgeSec: { ok: 200, max: 100 } } } },
      "thresholds.jsonRpc.headAgeSec",
    ],
    [
      "a latency bound at or above the timeout (no DEGRADED window)",
      { timeoutMs: 1_000, thresholds: { jsonRpc: { latencyMs: { max: 1_000 } } } },
      "thresholds.jsonRpc.latencyMs.max",
    ],
    [
      "a latency ok at or above its max",
      { thresholds: { http: { latencyMs: { ok: 900, max: 800 } } } },
      "thresholds.http.latencyMs.ok",
    ],
    [
      "a reference source that is not a URL",
      { referenceRpcUrls: { [base.services[0]]: ["not a url"] } },
      `referenceRpcUrls.${base.services[0]}.0`,
    ],
    [
      "the removed peerFreshIntervals (peers are compared within one round)",
      { peerFreshIntervals: 3 },
      "Unrecognized key(s) in object: 'peerFreshIntervals'",
    ],
    [
      "a floor above 1",
      { thresholds: { http: { latencyMs: { floor: 2 } } } },
      "thresholds.http.latencyMs.floor",
    ],
    ["an unknown setting", { probeIntervalSec: 5 }, "Unrecognized key(s) in object: 'probeIntervalSec'"],
    ["a bad service id", { services: ["0x12"] }, "services.0"],
    ["a non-boolean allowPrivateTargets", { allowPrivateTargets: "yes" }, "allowPrivateTargets"],
    ["a bad expected chain id key", { expectedChainIds: { foo: 1 } }, "expectedChainIds.foo"],
    ["a bad key variable name", { key: { envVar: "lower case" } }, "key.envVar"],
    ["an empty data dir", { dataDir: "" }, "dataDir"],
    ["zero reports kept", { keepReports: 0 }, "keepReports"],
    [
      "the v1 keepObservations setting",
      { keepObservations: 32 },
      "Unrecognized key(s) in object: 'keepObservations'",
    ],
  ];
  for (const [name, patch, setting] of bad) {
    it(`rejects ${name}, naming ${setting}`, function () {
      const msg = errorOf(() => loadAttestorConfig(writeConfig({ ...base, ...patch }), {}, {}));
      expect(msg).to.contain(setting.startsWith("Unrecognized") ? setting : `${setting}:`);
    });
  }

  it("names a non-numeric environment override", function () {
    expect(
      errorOf(() => loadAttestorConfig(writeConfig(base), {}, { VIGIL_ATTESTOR_TIMEOUT_MS: "soon" })),
    ).to.contain("VIGIL_ATTESTOR_TIMEOUT_MS");
  });

  for (const key of ["privateKey", "mnemonic", "password", "secret"]) {
    it(`rejects a ${key} in the config file`, function () {
      const msg = errorOf(() =>
        loadAttestorConfig(writeConfig({ ...base, key: { [key]: "0xabc" } }), {}, {}),
      );
      expect(msg).to.contain("must not hold secrets").and.contain(`key.${key}`);
    });
  }

  it("names a config file that does not parse", function () {
    const file = writeConfig("{ nope", "yaml").replace(/yaml$/, "json");
    fs.writeFileSync(file, "{ nope");
    expect(errorOf(() => loadAttestorConfig(file, {}, {}))).to.contain(file);
  });

  it("rejects the first version's keys, naming each new key", function () {
    const old = {
      rpcUrls: ["http://127.0.0.1:8545"],
      chainId: 31337,
      oracle: ORACLE,
      registry: REGISTRY,
      services: base.services,
      keystorePath: "/k.json",
    };
    const msg = errorOf(() => loadAttestorConfig(writeConfig(old), {}, {}));
    for (const line of [
      "rpcUrls is now chain.rpcUrls",
      "chainId is now chain.chainId",
      "oracle is now contracts.oracle",
      "registry is now contracts.registry",
      "keystorePath is now key.keystorePath",
    ]) {
      expect(msg).to.contain(line);
    }
  });

  it("rejects a retired environment variable, naming its new name", function () {
    const msg = errorOf(() => loadAttestorConfig(writeConfig(base), {}, { VIGIL_ATTESTOR_HTTP_PORT: "1" }));
    expect(msg).to.contain("VIGIL_ATTESTOR_HTTP_PORT is now VIGIL_HTTP_PORT");
  });

  it("rejects a boolean environment value that is not one, naming the variable", function () {
    expect(
      errorOf(() => loadAttestorConfig(writeConfig(base), {}, { VIGIL_METRICS_ENABLED: "ture" })),
    ).to.contain("VIGIL_METRICS_ENABLED");
    expect(
      loadAttestorConfig(writeConfig(base), {}, { VIGIL_METRICS_ENABLED: "off" }).metrics.enabled,
    ).to.equal(false);
  });

  it("serves /metrics unless metrics.enabled is false", function () {
    expect(loadAttestorConfig(writeConfig(base), {}, {}).metrics.enabled).to.equal(true);
    const off = loadAttestorConfig(writeConfig({ ...base, metrics: { enabled: false } }), {}, {});
    expect(off.metrics.enabled).to.equal(false);
    expect(
      loadAttestorConfig(writeConfig(base), {}, { VIGIL_METRICS_ENABLED: "false" }).metrics.enabled,
    ).to.equal(false);
  });
});
