import { expect } from "chai";
import { z } from "zod";
import { createRpcPool } from "../../keepers/shared/chain";
import { parseConfig, zChain } from "../../keepers/shared/config";
import { isVigilError } from "../../keepers/shared/errors";
import { RpcPool } from "../../keepers/shared/rpcPool";

function thrown(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected a throw");
}

describe("RpcPool settings", () => {
  const schema = z.object({ chain: zChain }).strict();

  it("takes chain.rpcTimeoutMs as the per-request deadline and leaves it optional", () => {
    const c = parseConfig(schema, {
      chain: { rpcUrls: ["http://127.0.0.1:8545"], chainId: 1, rpcTimeoutMs: 750 },
    });
    expect(c.chain.rpcTimeoutMs).to.equal(750);
    const pool = createRpcPool({
      rpcUrls: c.chain.rpcUrls,
      chainId: 1,
      stallTimeoutMs: c.chain.rpcTimeoutMs,
    });
    expect(pool.timeoutMs).to.equal(750);
    pool.destroy();
    const d = parseConfig(schema, { chain: { rpcUrls: ["http://127.0.0.1:8545"], chainId: 1 } });
    const fallback = createRpcPool({
      rpcUrls: d.chain.rpcUrls,
      chainId: 1,
      stallTimeoutMs: d.chain.rpcTimeoutMs,
    });
    expect(fallback.timeoutMs).to.equal(2000);
    fallback.destroy();
  });

  it("rejects chain.rpcTimeoutMs that is not a positive integer, naming the key", () => {
    for (const bad of [0, -5, 1.5]) {
      const e = thrown(() =>
        parseConfig(schema, { chain: { rpcUrls: ["http://127.0.0.1:8545"], chainId: 1, rpcTimeoutMs: bad } }),
      );
      expect(isVigilError(e, "VIGIL_CONFIG")).to.equal(true);
      expect(e.message).to.contain("chain.rpcTimeoutMs");
    }
  });

  it("rejects an empty URL list and a non-positive deadline", () => {
    const empty = thrown(() => new RpcPool({ urls: [], chainId: 1 }));
    expect(isVigilError(empty, "VIGIL_CONFIG")).to.equal(true);
    expect(empty.message).to.contain("rpcUrls is empty");
    const zero = thrown(() => new RpcPool({ urls: ["http://127.0.0.1:8545"], chainId: 1, timeoutMs: 0 }));
    expect(isVigilError(zero, "VIGIL_CONFIG")).to.equal(true);
    expect(zero.message).to.contain("timeoutMs must be > 0");
  });

  it("labels members by origin only, so an API key in the URL reaches no log or metric", () => {
    const pool = new RpcPool({
      urls: [
        "https://rpc.example/v2/SECRETKEY",
        "https://user:pw@rpc.example/other?apikey=K2",
        "http://b.example:8545",
      ],
      chainId: 1,
    });
    try {
      expect(pool.members.map((m) => m.label)).to.deep.equal([
        "https://rpc.example#0",
        "https://rpc.example#1",
        "http://b.example:8545",
      ]);
    } finally {
      pool.destroy();
    }
  });
});
