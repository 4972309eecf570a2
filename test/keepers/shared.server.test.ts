import { expect } from "chai";
import { LoopHealth } from "../../keepers/shared/lifecycle";
import { createLogger } from "../../keepers/shared/logger";
import { Metrics } from "../../keepers/shared/metrics";
import { KeeperServer, type HealthCondition } from "../../keepers/shared/server";

describe("KeeperServer /healthz and /readyz", function () {
  let server: KeeperServer;
  let port: number;
  let conditions: HealthCondition[] = [];

  before(async function () {
    const loop = new LoopHealth("probe", 1_000);
    loop.lastCompletedAt = Date.now();
    server = new KeeperServer({
      port: 0,
      logger: createLogger("test", { level: "silent" }),
      metrics: new Metrics(false),
      loops: () => [loop],
      conditions: () => conditions,
    });
    port = await server.listen();
  });
  after(async function () {
    await server.close();
  });

  const codes = async () =>
    Promise.all(
      ["/healthz", "/readyz"].map(async (p) => {
        const r = await fetch(`http://127.0.0.1:${port}${p}`);
        return { code: r.status, status: ((await r.json()) as { status: string }).status };
      }),
    );

  it("answers 200 ok on both when every condition holds", async function () {
    conditions = [{ name: "x", ok: true, detail: "fine" }];
    expect(await codes()).to.deep.equal([
      { code: 200, status: "ok" },
      { code: 200, status: "ok" },
    ]);
  });

  it("keeps /healthz at 200 for a degraded dependency, /readyz 503", async function () {
    conditions = [{ name: "attestor_quorum", ok: false, detail: "1 of 3 answer" }];
    expect(await codes()).to.deep.equal([
      { code: 200, status: "degraded" },
      { code: 503, status: "degraded" },
    ]);
  });

  it("answers 503 on /healthz too for a failed condition that halts the keeper (a clock that is off)", async function () {
    conditions = [{ name: "attestor_clock", ok: false, halts: true, detail: "ahead by 30 s" }];
    expect(await codes()).to.deep.equal([
      { code: 503, status: "degraded" },
      { code: 503, status: "degraded" },
    ]);
  });
});
