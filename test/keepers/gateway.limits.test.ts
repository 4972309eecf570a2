/**
 * Every rejection of the gateway, each against a running gateway on real nodes (or the config schema), and
 * its keeper surface: `/healthz`, `/metrics`, the deadline, the start-up checks, the CLI command.
 */
import http from "node:http";
import { expect } from "chai";
import { gatewayCommand } from "../../keepers/gateway/command";
import { gatewayConfigSchema } from "../../keepers/gateway/config";
import type { GatewayHandle } from "../../keepers/gateway/run";
import { parseConfig } from "../../keepers/shared/config";
import { isVigilError } from "../../keepers/shared/errors";
import { Anvil } from "./helpers/anvil";
import {
  call,
  ControlChain,
  HEALTHY,
  metricValue,
  post,
  startTestGateway,
  type TestService,
} from "./gateway/fixture";

describe("gateway limits and rejections", function () {
  this.timeout(120_000);
  let chain: ControlChain;
  let node: Anvil;
  let svc: TestService;
  let gw: GatewayHandle;
  let url: string;

  before(async function () {
    [chain, node] = await Promise.all([ControlChain.start(), Anvil.start()]);
    svc = await chain.service([node, node]);
    chain.set(svc.endpoints.map((e) => [e, HEALTHY]));
    await chain.round();
    gw = await startTestGateway(chain, [{ name: svc.name, id: svc.id, chainId: 31337 }], {
      maxBodyBytes: 1024,
      maxBatch: 3,
      deadlineMs: 600,
      attemptTimeoutMs: 300,
      hedgeAfterMs: 0, // the deadline test below times the plain retry (hedges: gateway.hedge.test.ts)
    });
    url = `${gw.url}/${svc.name}`;
  });

  after(async function () {
    await gw?.stop();
    await Promise.all([chain?.stop(), node?.stop()]);
  });

  const rejected = (reason: string) => metricValue(gw.gatewayMetrics.rejections, { reason });
  const req = (id: number) => ({ jsonrpc: "2.0", id, method: "eth_chainId", params: [] });

  it("refuses a body over maxBodyBytes with HTTP 413, declared or streamed", async function () {
    const big = JSON.stringify({ ...req(1), params: ["x".repeat(2000)] });
    const r = await post(url, undefined, big);
    expect(r.status).to.equal(413);
    // Streamed without a content-length: cut once the bytes pass the limit.
    const status = await new Promise<number>((resolve, reject) => {
      const c = http.request(
        url,
        { method: "POST", headers: { "content-type": "application/json" } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      c.on("error", reject);
      for (let i = 0; i < 4; i++) c.write("x".repeat(500));
      c.end();
    });
    expect(status).to.equal(413);
    expect(await rejected("body_too_large")).to.equal(2);
  });

  it("refuses a batch longer than maxBatch and an empty batch", async function () {
    const long = await post(url, [req(1), req(2), req(3), req(4)]);
    expect(long.body.error).to.deep.include({ code: -32600 });
    expect(long.body.error.message).to.contain("maxBatch (3)");
    const empty = await post(url, []);
    expect(empty.body.error).to.deep.include({ code: -32600, message: "empty batch" });
    const ok = await post(url, [req(1), req(2), req(3)]);
    expect(ok.body.map((r: { result: string }) => r.result)).to.deep.equal(["0x7a69", "0x7a69", "0x7a69"]);
    expect(await rejected("batch_too_long")).to.equal(1);
    expect(await rejected("empty_batch")).to.equal(1);
  });

  it("answers a body that is not JSON with -32700 and a call that is no request with -32600", async function () {
    expect((await post(url, undefined, "{not json")).body.error.code).to.equal(-32700);
    const mixed = await post(url, [{ id: 9, method: "eth_chainId" }, req(2), { jsonrpc: "2.0", id: 3 }]);
    expect(mixed.body[0]).to.deep.include({ id: 9 });
    expect(mixed.body[0].error.code).to.equal(-32600);
    expect(mixed.body[1].result).to.equal("0x7a69");
    expect(mixed.body[2].error.code).to.equal(-32600);
    expect(await rejected("parse_error")).to.equal(1);
    expect(await rejected("invalid_request")).to.equal(2);
  });

  it("answers 404 for a service it does not route and 405 for another method than POST", async function () {
    const unknown = await post(`${gw.url}/no-such-service`, req(1));
    expect(unknown.status).to.equal(404);
    expect(unknown.body.error.code).to.equal(-32601);
    const get = await fetch(url);
    expect(get.status).to.equal(405);
    const preflight = await fetch(url, { method: "OPTIONS" });
    expect(preflight.status).to.equal(204);
    expect(preflight.headers.get("access-control-allow-origin")).to.equal("*");
    expect(await rejected("unknown_service")).to.equal(1);
    expect(await rejected("method_not_allowed")).to.equal(1);
  });

  it("answers by the deadline when the active endpoint hangs and no HEALTHY one answers", async function () {
    await Promise.all(svc.endpoints.map((e) => e.proxy.setMode("hang")));
    try {
      const r = await call(url, "eth_getBalance", [`0x${"11".repeat(20)}`, "latest"]);
      expect(r.body.error.code).to.equal(-32603);
      expect(r.body.error.data).to.deep.equal({ reason: "timeout" });
      expect(
        await metricValue(gw.gatewayMetrics.requests, {
          service: svc.name,
          class: "read",
          outcome: "timeout",
        }),
      ).to.equal(1);
      // The first attempt timed out and the one retry went to the other HEALTHY endpoint, nothing more.
      expect(svc.endpoints.map((e) => e.proxy.count("eth_getBalance"))).to.deep.equal([1, 1]);
    } finally {
      await Promise.all(svc.endpoints.map((e) => e.proxy.setMode("pass")));
    }
  });

  it("serves /healthz (routable services) and /metrics with the gateway's metrics", async function () {
    const health = (await (await fetch(`${gw.url}/healthz`)).json()) as {
      status: string;
      conditions: { name: string; ok: boolean; detail: string }[];
    };
    expect(health.status).to.equal("ok");
    expect(health.conditions).to.have.length(1);
    expect(health.conditions[0]).to.deep.include({ name: `routable_${svc.name}`, ok: true });
    expect(health.conditions[0].detail).to.match(/^routing to 0x[0-9a-f]{64}, 1 HEALTHY backup\(s\)$/);
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    for (const name of [
      "vigil_gateway_requests_total",
      "vigil_gateway_switches_total",
      "vigil_gateway_rejections_total",
    ]) {
      expect(text).to.contain(name);
    }
  });

  it("refuses to start when the control chain serves another chain id", async function () {
    const err = await startTestGateway(chain, [{ name: "x", id: svc.id, chainId: 31337 }], {
      chain: { rpcUrls: [chain.anvil.url], chainId: 5 },
    }).then(
      (g) => g.stop(),
      (e: unknown) => e,
    );
    expect(isVigilError(err, "VIGIL_CHAIN"), String(err)).to.equal(true);
  });

  describe("config", function () {
    const base = {
      chain: { rpcUrls: ["http://127.0.0.1:8545"], chainId: 31337 },
      contracts: { oracle: `0x${"11".repeat(20)}`, registry: `0x${"22".repeat(20)}` },
      services: [{ name: "eth", id: `0x${"ab".repeat(32)}`, chainId: 1 }],
    };
    const problems = (raw: unknown) => {
      try {
        parseConfig(gatewayConfigSchema, raw);
        return "";
      } catch (e) {
        return (e as Error).message;
      }
    };

    it("takes the defaults", function () {
      const c = parseConfig(gatewayConfigSchema, base);
      expect(c).to.deep.include({
        deadlineMs: 5000,
        attemptTimeoutMs: 2000,
        maxBodyBytes: 1048576,
        maxBatch: 100,
        hedgeAfterMs: 150,
        hedgeMinMs: 30,
        breakerOpenMs: 2000,
        upstreamClient: "undici",
      });
      expect(c.http.port).to.equal(9490);
    });

    it("names each bad setting", function () {
      expect(problems({ ...base, services: [] })).to.contain("services: list the services");
      expect(problems({ ...base, services: undefined })).to.contain("services");
      expect(problems({ ...base, attemptTimeoutMs: 6000 })).to.contain(
        "attemptTimeoutMs: must be at most deadlineMs",
      );
      expect(
        problems({ ...base, services: [base.services[0], { ...base.services[0], name: "other" }] }),
      ).to.contain("listed twice");
      expect(problems({ ...base, services: [{ ...base.services[0], name: "metrics" }] })).to.contain(
        "route of the gateway",
      );
      expect(problems({ ...base, services: [{ ...base.services[0], name: "a/b" }] })).to.contain(
        "services.0.name",
      );
      expect(problems({ ...base, services: [{ ...base.services[0], id: "0x12" }] })).to.contain(
        "services.0.id",
      );
      expect(problems({ ...base, maxBatch: 0 })).to.contain("maxBatch");
      expect(problems({ ...base, hedgeAfterMs: -1 })).to.contain("hedgeAfterMs");
      expect(problems({ ...base, breakerOpenMs: 1.5 })).to.contain("breakerOpenMs");
      expect(problems({ ...base, upstreamClient: "curl" })).to.contain("upstreamClient");
      expect(problems({ ...base, maxBodyBytes: 10 })).to.contain("maxBodyBytes");
      expect(problems({ ...base, surprise: 1 })).to.contain("surprise");
    });
  });

  it("is a `vigil gateway` command with the common options and its own", function () {
    const help = gatewayCommand({ out: () => undefined, err: () => undefined, env: {} }).helpInformation();
    for (const flag of [
      "--config",
      "--rpc-url",
      "--registry",
      "--port",
      "--log-level",
      "--deadline-ms",
      "--hedge-after-ms",
      "--max-batch",
    ]) {
      expect(help).to.contain(flag);
    }
  });
});
