import { expect } from "chai";
import { Wallet } from "ethers";
import { Attestor } from "../../keepers/attestor/attestor";
import { attestorConfigSchema } from "../../keepers/attestor/config";
import {
  staticEndpointSource,
  staticOracleReader,
  type WatchedEndpoint,
} from "../../keepers/attestor/sources";
import { isPrivateHost, refuseTarget } from "../../keepers/attestor/targets";
import { EndpointKind } from "../../keepers/shared/health";
import { createLogger } from "../../keepers/shared/logger";
import { Metrics } from "../../keepers/shared/metrics";
import { FakeRpcServer } from "../../scripts/bench/fakeRpc";
import { tmpDataDir } from "./attestor-helpers";

const SERVICE = "0x" + "5".repeat(64);

describe("attestor probe targets", function () {
  describe("refuseTarget", function () {
    const refused = [
      "http://127.0.0.1:8545/",
      "http://127.1.2.3/",
      "http://10.0.0.5:8545/",
      "http://172.16.3.4/",
      "http://192.168.1.1/admin",
      "http://169.254.169.254/latest/meta-data/",
      "http://100.64.0.1/",
      "http://0.0.0.0:8545/",
      "http://[::1]:8545/",
      "http://[::]/",
      "http://[fe80::1]/",
      "http://[fd00::1]/",
      "http://[::ffff:127.0.0.1]/",
      "http://[::ffff:a9fe:a9fe]/", // 169.254.169.254, IPv4-mapped
      "http://localhost:8545/",
      "http://LOCALHOST./",
      "http://api.localhost/",
      "ws://127.0.0.1:8546/",
      "http://2130706433/", // 127.0.0.1 as one decimal number
      "http://0x7f.1/", // 127.0.0.1 in hex shorthand
      "https://user:pass@10.1.1.1/",
    ];
    for (const uri of refused) {
      it(`refuses ${uri} as a private target`, function () {
        expect(refuseTarget(uri, false)).to.equal("private_target");
      });
    }

    it("allows every one of them when allowPrivateTargets is set", function () {
      for (const uri of refused) expect(refuseTarget(uri, true), uri).to.equal(undefined);
    });

    for (const uri of [
      "https://eth-mainnet.g.alchemy.com/v2/key",
      "http://8.8.8.8/",
      "http://[2606:4700::1111]/",
      "http://172.32.0.1/",
      "http://notlocalhost.example/",
    ]) {
      it(`allows the public target ${uri}`, function () {
        expect(refuseTarget(uri, false)).to.equal(undefined);
      });
    }

    for (const uri of ["not a url", "ftp://example.com/", "file:///etc/passwd", "eip155:1:0xabc"]) {
      it(`refuses ${JSON.stringify(uri)} as an invalid URI, flag or not`, function () {
        expect(refuseTarget(uri, false)).to.equal("invalid_uri");
        expect(refuseTarget(uri, true)).to.equal("invalid_uri");
      });
    }

    it("classifies bare hosts, bracketed or not", function () {
      expect(isPrivateHost("[::1]")).to.equal(true);
      expect(isPrivateHost("::1")).to.equal(true);
      expect(isPrivateHost("1.1.1.1")).to.equal(false);
    });
  });

  describe("in the attestor", function () {
    let server: FakeRpcServer;
    beforeEach(async function () {
      server = await new FakeRpcServer({ chainId: 31337, blockNumber: 100 }).start();
    });
    afterEach(async function () {
      await server.close();
    });

    async function attestorFor(endpoints: WatchedEndpoint[], allowPrivateTargets: boolean) {
      const wallet = Wallet.createRandom();
      const metrics = new Metrics(false);
      const attestor = new Attestor({
        config: attestorConfigSchema.parse({
          chain: { rpcUrls: ["http://127.0.0.1:1"], chainId: 31337 },
          contracts: { oracle: "0x" + "99".repeat(20), registry: "0x" + "88".repeat(20) },
          services: [SERVICE],
          expectedChainIds: { [SERVICE]: 31337 },
          allowPrivateTargets,
          probeIntervalMs: 5_000,
          timeoutMs: 1_000,
          dataDir: tmpDataDir(),
        }),
        key: wallet.signingKey,
        endpoints: staticEndpointSource(endpoints),
        oracle: staticOracleReader({ attestors: [wallet.address] }),
        logger: createLogger("test", { level: "silent" }),
        metrics,
      });
      await attestor.refreshOracle();
      await attestor.refreshEndpoints();
      return { attestor, metrics };
    }

    const endpoint = (i: number, uri: string, kind = EndpointKind.JSON_RPC): WatchedEndpoint => ({
      id: "0x" + i.toString(16).padStart(64, "0"),
      serviceId: SERVICE,
      kind,
      uri,
      priority: i,
    });

    it("does not probe nor sign a loopback endpoint by default, and counts the refusal", async function () {
      const { attestor, metrics } = await attestorFor(
        [endpoint(1, server.url("/rpc/1")), endpoint(2, server.url("/web"), EndpointKind.HTTP)],
        false,
      );
      const { outcomes, report, skipped } = await attestor.probeRound();
      expect(outcomes).to.deep.equal([]);
      expect(server.hits.size, "no request reached the server").to.equal(0);
      expect(report).to.equal(undefined);
      expect(skipped).to.equal("nothing_judged");
      expect(attestor.store.size).to.equal(0);
      expect(await metrics.registry.metrics()).to.contain(
        'vigil_probes_refused_total{reason="private_target"} 2',
      );
    });

    it("probes and signs loopback endpoints when allowPrivateTargets is set", async function () {
      const { attestor } = await attestorFor([endpoint(1, server.url("/rpc/1"))], true);
      const { outcomes, report } = await attestor.probeRound();
      expect(outcomes[0].healthBps).to.equal(10_000);
      expect(report?.endpointIds).to.deep.equal([endpoint(1, "").id]);
      expect(server.hits.get("/rpc/1")).to.be.greaterThan(0);
    });

    it("still probes oracle feeds, whose RPC the operator configures", async function () {
      const { attestor, metrics } = await attestorFor(
        [endpoint(1, "eip155:31337:0x" + "12".repeat(20), EndpointKind.ORACLE_FEED)],
        false,
      );
      // The control chain's RPC (127.0.0.1:1) is refused by the OS, not by the target check.
      const {
        outcomes: [outcome],
      } = await attestor.probeRound();
      expect(outcome).to.include({ failure: "unreachable" });
      expect(await metrics.registry.metrics()).to.not.contain('reason="private_target"} 1');
    });
  });
});
