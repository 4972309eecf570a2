import { expect } from "chai";
import { FetchRequest } from "ethers";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { reportCliError } from "../../keepers/shared/cli";
import { runLoop } from "../../keepers/shared/lifecycle";
import { createLogger } from "../../keepers/shared/logger";
import { Metrics } from "../../keepers/shared/metrics";
import { redactUrls, summarizeError } from "../../keepers/shared/redact";
import { KeeperServer } from "../../keepers/shared/server";

const KEY = "sk_live_0123456789abcdef";

describe("secrets in error messages", function () {
  describe("redactUrls", function () {
    const cases: Array<[string, string]> = [
      [`https://eth-mainnet.g.alchemy.com/v2/${KEY}`, "https://eth-mainnet.g.alchemy.com"],
      [`https://rpc.example.com/?apikey=${KEY}#frag`, "https://rpc.example.com"],
      [`https://user:${KEY}@rpc.example.com:8443/path`, "https://rpc.example.com:8443"],
      [`wss://mainnet.infura.io/ws/v3/${KEY}`, "wss://mainnet.infura.io"],
      [`http://[::1]:8545/${KEY}`, "http://[::1]:8545"],
      ["http://127.0.0.1:9", "http://127.0.0.1:9"],
    ];
    for (const [input, want] of cases) {
      it(`rewrites ${input.replace(KEY, "<KEY>")} to its origin`, function () {
        expect(redactUrls(input)).to.equal(want);
      });
    }

    it("rewrites every URL inside a longer text and leaves the rest alone", function () {
      const text = `server response 401 (request={ }, info={ "requestUrl": "https://a.example/v2/${KEY}", "other": "https://b.example/x?k=${KEY}" }, code=SERVER_ERROR)`;
      const out = redactUrls(text);
      expect(out).to.not.contain(KEY);
      expect(out).to.equal(
        'server response 401 (request={ }, info={ "requestUrl": "https://a.example", "other": "https://b.example" }, code=SERVER_ERROR)',
      );
    });

    it("keeps punctuation that follows a URL", function () {
      expect(redactUrls(`cannot reach http://127.0.0.1:9/${KEY}: refused.`)).to.equal(
        "cannot reach http://127.0.0.1:9: refused.",
      );
      expect(redactUrls("see https://a.example/x.")).to.equal("see https://a.example.");
    });

    it("leaves text without URLs unchanged", function () {
      expect(redactUrls("eip155:1:0xabc timed out after 2000 ms")).to.equal(
        "eip155:1:0xabc timed out after 2000 ms",
      );
    });

    it("redacts a URL that does not parse entirely", function () {
      expect(redactUrls(`http://[bad/${KEY}`)).to.equal("http://[redacted]");
    });

    it("summarizes an error as code and short message, URL-free and bounded", function () {
      const e = Object.assign(new Error(`boom at https://x.example/v2/${KEY}\n    at stack`), {
        code: "E_X",
      });
      expect(summarizeError(e)).to.equal("E_X: boom at https://x.example");
      expect(summarizeError(new Error("y".repeat(500)), 50)).to.have.length(50);
    });
  });

  describe("with a real ethers SERVER_ERROR whose request URL carries a key", function () {
    let server: http.Server;
    let url: string;
    let ethersError: Error;

    before(async function () {
      server = http.createServer((_req, res) => {
        res.writeHead(500, { "content-type": "text/plain" });
        res.end("internal error");
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      const port = (server.address() as AddressInfo).port;
      url = `http://127.0.0.1:${port}/v2/${KEY}?apikey=${KEY}`;
      const req = new FetchRequest(url);
      req.retryFunc = async () => false;
      try {
        (await req.send()).assertOk();
      } catch (e) {
        ethersError = e as Error;
      }
      // The premise: ethers puts the key in the message and on the error object.
      expect(ethersError.message).to.contain(KEY);
      expect((ethersError as unknown as { info: { requestUrl: string } }).info.requestUrl).to.contain(KEY);
    });
    after(async function () {
      await new Promise((r) => server.close(r));
    });

    function memoryLogger() {
      const lines: string[] = [];
      const logger = createLogger("test", {
        level: "info",
        destination: { write: (l: string) => void lines.push(l) },
      });
      return { logger, lines };
    }

    it("logs it via { err } without the key, the info or the request", function () {
      const { logger, lines } = memoryLogger();
      logger.child({ keeper: "attestor" }).error({ err: ethersError }, "probe failed");
      expect(lines).to.have.length(1);
      expect(lines[0]).to.not.contain(KEY);
      const err = JSON.parse(lines[0]).err;
      expect(err.code).to.equal("SERVER_ERROR");
      expect(err.message).to.contain("http://127.0.0.1:");
      expect(err).to.not.have.property("info");
      expect(err).to.not.have.property("request");
      expect(err).to.not.have.property("response");
    });

    it("logs it without the key when it is the cause of another error", function () {
      const { logger, lines } = memoryLogger();
      logger.error({ err: new Error("refresh failed", { cause: ethersError }) }, "loop iteration failed");
      expect(lines[0]).to.not.contain(KEY);
    });

    it("keeps it out of LoopHealth.lastError and /healthz, which show only that the loop failed and when", async function () {
      const { logger, lines } = memoryLogger();
      const controller = new AbortController();
      const loop = runLoop(
        { name: "probe", intervalMs: 60_000, signal: controller.signal, logger },
        async () => {
          controller.abort();
          throw ethersError;
        },
      );
      await loop.done;
      expect(loop.health.lastError).to.not.contain(KEY);
      expect(loop.health.lastError).to.match(/^SERVER_ERROR: /);
      expect(loop.health.lastErrorAt).to.be.a("number");
      expect(lines.join("\n")).to.not.contain(KEY);

      const keeper = new KeeperServer({
        port: 0,
        logger: createLogger("test", { level: "silent" }),
        metrics: new Metrics(false),
        loops: () => [loop.health],
      });
      const port = await keeper.listen();
      try {
        const text = await (await fetch(`http://127.0.0.1:${port}/healthz`)).text();
        expect(text).to.not.contain(KEY);
        const [l] = JSON.parse(text).loops;
        expect(l).to.include({ name: "probe", failing: true });
        expect(l.lastErrorAt).to.match(/^\d{4}-\d\d-\d\dT/);
        expect(l.lastError.length).to.be.at.most(120);
      } finally {
        await keeper.close();
      }
    });

    it("prints it on the command line without the key", function () {
      let out = "";
      reportCliError(ethersError, (t) => void (out += t));
      expect(out).to.match(/^error SERVER_ERROR: /);
      expect(out).to.not.contain(KEY);
    });
  });
});
