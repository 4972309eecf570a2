/**
 * The three upstream senders against a real node behind a fault proxy: an answer, a node's JSON-RPC error
 * (an answer too), connection refused (never reached), a silent node (timeout, may have reached it), a
 * caller giving up (aborted), a non-200 status and an invalid URI; URLs cut to their origin in details.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { expect } from "chai";
import { UndiciUpstreams } from "../../keepers/client/undici";
import {
  FetchUpstreams,
  HttpUpstreams,
  type AttemptHandle,
  type AttemptResult,
  type UpstreamSender,
} from "../../keepers/client/upstream";
import { Anvil } from "./helpers/anvil";
import { until } from "./helpers/until";
import { FaultProxy } from "./gateway/fixture";

const CHAIN_ID = '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}';
const BAD = '{"jsonrpc":"2.0","id":2,"method":"no_such_method","params":[]}';

describe("client: upstream senders (real node)", function () {
  this.timeout(60_000);
  let node: Anvil;
  let proxy: FaultProxy;
  /** A server that answers HTTP 503 (`/status`), plain text (`/text`) or a JSON array (`/array`). */
  const odd = { server: undefined as http.Server | undefined, url: "" };

  before(async function () {
    node = await Anvil.start();
    proxy = await FaultProxy.start(node.url);
    odd.server = http.createServer((req, res) => {
      req.resume();
      if (req.url === "/status") res.writeHead(503).end("busy");
      else if (req.url === "/text") res.writeHead(200).end("hello");
      else res.writeHead(200, { "content-type": "application/json" }).end("[1]");
    });
    await new Promise<void>((r) => odd.server!.listen(0, "127.0.0.1", r));
    odd.url = `http://127.0.0.1:${(odd.server.address() as AddressInfo).port}`;
  });

  after(async function () {
    odd.server?.closeAllConnections();
    odd.server?.close();
    await proxy?.stop();
    await node?.stop();
  });

  afterEach(async function () {
    await proxy.setMode("pass");
  });

  const makers: [string, () => UpstreamSender][] = [
    ["undici", () => new UndiciUpstreams(4)],
    ["node:http", () => new HttpUpstreams(4)],
    ["fetch", () => new FetchUpstreams()],
  ];

  for (const [name, make] of makers) {
    describe(name, function () {
      let sender: UpstreamSender;
      before(() => (sender = make()));
      after(() => sender.close?.());
      const failure = (r: AttemptResult) => {
        expect(r.ok).to.equal(false);
        return r as Exclude<AttemptResult, { ok: true }>;
      };

      it("answers a result and a node's JSON-RPC error, both as answers", async function () {
        const a = await sender.send(proxy.url, CHAIN_ID, 5000);
        expect(a).to.deep.equal({ ok: true, answer: { jsonrpc: "2.0", id: 1, result: "0x7a69" } });
        const b = await sender.send(proxy.url, Buffer.from(BAD), 5000);
        expect(b.ok && typeof b.answer.error?.code).to.equal("number");
      });

      it("reports connection refused as never reached, and a silent node as a timeout that may have reached it", async function () {
        await proxy.setMode("refuse");
        // A kept connection the proxy just closed may fail first (reset: it may have carried the request).
        await sender.send(proxy.url, CHAIN_ID, 5000);
        const r = failure(await sender.send(proxy.url, CHAIN_ID, 5000));
        expect([r.reason, r.mayHaveReached]).to.deep.equal(["refused", false]);
        expect(r.detail).to.not.contain("SECRETKEY");
        await proxy.setMode("hang");
        const t = failure(await sender.send(proxy.url, CHAIN_ID, 200));
        expect([t.reason, t.mayHaveReached]).to.deep.equal(["timeout", true]);
        expect(t.detail)
          .to.match(/127\.0\.0\.1/)
          .and.not.contain("SECRETKEY");
      });

      it("lets an answer that arrived during an event-loop stall win over the timeout that fell due in it", async function () {
        if (name === "fetch") this.skip(); // AbortSignal.timeout decides inside fetch
        await sender.send(node.url, CHAIN_ID, 5000); // a kept connection
        const p = sender.send(node.url, CHAIN_ID, 50);
        // Until the request is on the wire: node:http writes it on the next turn, undici once its pool
        // counts it running.
        const running = () =>
          [
            ...((
              sender as unknown as { _pools?: Map<string, { stats: { running: number } }> }
            )._pools?.values() ?? []),
          ].some((x) => x.stats.running > 0);
        do await new Promise((r) => setImmediate(r));
        while (name === "undici" && !running());
        const until = Date.now() + 400;
        while (Date.now() < until); // the loop stalls; the node answers meanwhile
        expect((await p).ok).to.equal(true);
      });

      it("gives an attempt up when the caller aborts it", async function () {
        await proxy.setMode("hang");
        const before = proxy.count();
        const handle: AttemptHandle = {};
        const p = sender.send(proxy.url, CHAIN_ID, 30_000, handle);
        await until("the node holds the request", async () => proxy.count() > before);
        handle.abort!();
        expect(failure(await p).reason).to.equal("aborted");
      });

      it("refuses a non-200 status, a body that is no JSON-RPC answer, and an invalid URI", async function () {
        const status = failure(await sender.send(`${odd.url}/status`, CHAIN_ID, 5000));
        expect([status.reason, status.mayHaveReached]).to.deep.equal(["http_status", true]);
        const text = failure(await sender.send(`${odd.url}/text`, CHAIN_ID, 5000));
        expect(text.reason).to.equal("invalid_response");
        const array = failure(await sender.send(`${odd.url}/array`, CHAIN_ID, 5000));
        expect(array.reason).to.equal("invalid_response");
        const bad = failure(await sender.send("not a url", CHAIN_ID, 1000));
        expect([bad.reason, bad.mayHaveReached]).to.deep.equal(["error", false]);
      });
    });
  }
});
