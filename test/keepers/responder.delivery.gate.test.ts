/**
 * The delivery gate (keepers/responder/delivery.ts) without a chain: a refusal's backoff is lifted only when every
 * answering RPC sees the delivery change, and the hourly gas of a market's deliveries survives a restart (rebuilt
 * from the outbox). The guard, the RPC and the clock are fakes.
 */
import { expect } from "chai";
import { Wallet, type AbstractProvider } from "ethers";
import type { IMarketGuard } from "../../typechain-types";
import { createLogger } from "../../keepers/shared/logger";
import { Metrics } from "../../keepers/shared/metrics";
import { Delivery } from "../../keepers/responder/decide";
import { DeliveryGate } from "../../keepers/responder/delivery";
import { Outbox } from "../../keepers/responder/outbox";

const logger = createLogger("test", { level: process.env.VIGIL_TEST_LOG ?? "silent" });
const SETTINGS = { backoffBaseMs: 30_000, backoffMaxMs: 3_600_000, maxGasPerMarketPerHour: 1_000_000 };
const MARKET = "0x" + "22".repeat(20);

/** A gate over a guard whose market's hook accepts every `eth_call`. */
function gate(clock: { now: number }) {
  const guard = {
    marketCallGas: async () => 100_000n,
    marketConfig: async () => ({ market: MARKET }),
    getAddress: async () => "0x" + "11".repeat(20),
  } as unknown as IMarketGuard;
  const provider = { call: async () => "0x" } as unknown as AbstractProvider;
  return new DeliveryGate({
    settings: SETTINGS,
    guard,
    provider,
    metrics: new Metrics(false),
    now: () => clock.now,
  });
}

const P = Delivery.PENDING_PAUSE;

describe("responder delivery gate (fakes)", function () {
  describe("observe", function () {
    it("one RPC seeing the delivery change does not lift the backoff; every RPC seeing it does", async function () {
      const clock = { now: 1_000_000 };
      const g = gate(clock);
      g.refused(1, P, "refused", "outcome", logger);
      expect(await g.due(1, P, logger)).to.equal(false);
      g.observeAll([[{ marketId: 1, delivery: Delivery.NONE }], [{ marketId: 1, delivery: P }]]);
      expect(g.backoff(1)?.refusals).to.equal(1);
      expect(await g.due(1, P, logger)).to.equal(false);
      g.observeAll([[{ marketId: 1, delivery: Delivery.NONE }], [{ marketId: 1, delivery: Delivery.NONE }]]);
      expect(g.backoff(1)).to.equal(undefined);
      expect(await g.due(1, P, logger)).to.equal(true);
    });

    it("a single view still lifts the backoff when it differs, and never when it matches", function () {
      const g = gate({ now: 0 });
      g.refused(1, P, "refused", "outcome", logger);
      g.observe(1, P);
      g.observe(1, []);
      expect(g.backoff(1)?.delivery).to.equal(P);
      g.observe(1, Delivery.NONE);
      expect(g.backoff(1)).to.equal(undefined);
    });
  });

  describe("restore", function () {
    it("rebuilds each market's gas of the last hour from the outbox's deliver actions", async function () {
      const clock = { now: 10_000_000 };
      const outbox = new Outbox(":memory:", () => clock.now);
      const wallet = Wallet.createRandom();
      let nonce = 0;
      const send = async (kind: "deliver" | "trip", target: string, gasLimit: bigint, at: number) => {
        clock.now = at;
        const id = outbox.record(kind, target, MARKET, "0x");
        const raw = await wallet.signTransaction({
          to: MARKET,
          data: "0x",
          nonce,
          gasLimit,
          chainId: 31337,
          maxFeePerGas: 2n,
          maxPriorityFeePerGas: 1n,
          type: 2,
        });
        outbox.recordBroadcast(id, nonce++, {
          hash: "0x" + String(nonce).padStart(64, "0"),
          maxFeePerGas: "2",
          maxPriorityFeePerGas: "1",
          role: "action",
          raw,
        });
      };
      await send("deliver", "1", 700_000n, 1_000_000); // older than an hour at restart: not counted
      await send("deliver", "1", 400_000n, 8_000_000);
      await send("deliver", "1", 500_000n, 9_000_000);
      await send("trip", "1", 900_000n, 9_000_000); // not a delivery
      await send("deliver", "2", 100_000n, 9_500_000);
      clock.now = 10_000_000;
      const g = gate(clock);
      expect(g.restore(outbox.list(1000))).to.equal(1_000_000n);
      expect([g.gasLastHour(1), g.gasLastHour(2)]).to.deep.equal([900_000n, 100_000n]);
      expect(await g.due(1, P, logger)).to.equal(true);
      expect(g.fits(1, 200_000n, logger)).to.equal(false); // the budget a crash would have handed back
      clock.now = 8_000_000 + 3_600_001;
      expect(g.gasLastHour(1)).to.equal(500_000n);
      outbox.close();
    });
  });
});
