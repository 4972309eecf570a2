import { expect } from "chai";
import { spawnSync } from "node:child_process";
import path from "node:path";
import type { Command } from "commander";
import { buildProgram, runCli } from "../../keepers/cli";
import { checkAttestorSet, checkEndpointUri, minQuorum } from "../../keepers/cli/admin";
import type { CliIo } from "../../keepers/cli/io";
import { formatSince, renderStatus, type StatusReport } from "../../keepers/cli/status";
import { EndpointKind } from "../../keepers/shared/health";
import { isVigilError } from "../../keepers/shared/errors";

function io(env: NodeJS.ProcessEnv = {}) {
  const captured = { out: "", err: "" };
  const value: CliIo = { out: (t) => void (captured.out += t), err: (t) => void (captured.err += t), env };
  return { io: value, captured };
}

const A = (n: number) => "0x" + n.toString(16).padStart(40, "0");

describe("vigil CLI", function () {
  describe("help", function () {
    const program = buildProgram(io().io);
    it("has every operator subcommand", function () {
      expect(program.commands.map((c) => c.name())).to.include.members([
        "attestor",
        "responder",
        "gateway",
        "status",
        "register-service",
        "add-endpoint",
        "register-market",
        "set-attestors",
      ]);
    });
    for (const cmd of program.commands as Command[]) {
      it(`documents a default or "required" for every option of ${cmd.name()}`, function () {
        for (const o of cmd.options) {
          if (o.hidden) continue; // a retired flag that only names its successor (--rpc)
          const documented =
            o.defaultValue !== undefined || o.mandatory || /default|required/i.test(o.description);
          expect(documented, `${cmd.name()} ${o.flags}: "${o.description}"`).to.equal(true);
        }
      });
    }
    it("prints help and exits 0", async function () {
      const { io: i, captured } = io();
      expect(await runCli(["status", "--help"], i)).to.equal(0);
      expect(captured.out).to.contain("--json").and.contain("--guard");
    });
  });

  describe("errors", function () {
    it("prints one line with the code and hint, exit 2, for a bad quorum", async function () {
      const { io: i, captured } = io();
      const code = await runCli(["set-attestors", "--attestor", A(4), A(3), A(2), A(1), "--quorum", "2"], i);
      expect(code).to.equal(2);
      expect(captured.err.trim().split("\n")).to.have.length(1);
      expect(captured.err).to.match(
        /^error VIGIL_CONFIG: quorum 2 is invalid for 4 attestors.*use --quorum 3\.\.4/,
      );
    });

    it("exits 2 with VIGIL_CHAIN when the RPC cannot be reached", async function () {
      const { io: i, captured } = io({ VIGIL_RPC_URL: "http://127.0.0.1:9" });
      expect(await runCli(["status"], i)).to.equal(2);
      expect(captured.err).to.match(/^error VIGIL_CHAIN: cannot reach http:\/\/127\.0\.0\.1:9/);
      expect(captured.err).to.not.contain("    at ");
    });

    it("exits 2 naming the option for a malformed argument", async function () {
      const { io: i, captured } = io();
      expect(await runCli(["add-endpoint", "--service", "0x12", "--uri", "http://x"], i)).to.equal(2);
      expect(captured.err).to.contain("--service <id>").and.contain("32-byte");
    });

    it("exits 2 when no RPC is configured", async function () {
      const { io: i, captured } = io();
      expect(await runCli(["status"], i)).to.equal(2);
      expect(captured.err).to.contain("rpcUrls");
    });
  });

  describe("attestor", function () {
    const chain = [
      "--rpc-url",
      "http://127.0.0.1:9",
      "--chain-id",
      "31337",
      "--oracle",
      A(1),
      "--registry",
      A(2),
    ];
    const SERVICE = "0x" + "5".repeat(64);

    it("documents --service and --allow-private-targets in --help", async function () {
      const { io: i, captured } = io();
      expect(await runCli(["attestor", "--help"], i)).to.equal(0);
      expect(captured.out).to.contain("--service <id...>").and.contain("permissionless");
      expect(captured.out).to.contain("--allow-private-targets").and.contain("default false");
    });

    it("exits 2 naming services when no service is given", async function () {
      const { io: i, captured } = io();
      expect(await runCli(["attestor", ...chain], i)).to.equal(2);
      expect(captured.err).to.match(/^error VIGIL_CONFIG: /);
      expect(captured.err).to.contain(
        "services: list the service ids to watch; the registry is permissionless",
      );
    });

    it("exits 2 naming --service for a malformed service id", async function () {
      const { io: i, captured } = io();
      expect(await runCli(["attestor", ...chain, "--service", "0x12"], i)).to.equal(2);
      expect(captured.err).to.contain("--service <id...>").and.contain("32-byte");
    });

    it("passes --service and --allow-private-targets to the config (then needs the key)", async function () {
      const saved = process.env.VIGIL_ATTESTOR_KEY;
      delete process.env.VIGIL_ATTESTOR_KEY;
      try {
        const { io: i, captured } = io();
        expect(
          await runCli(
            ["attestor", ...chain, "--service", SERVICE, "0x" + "6".repeat(64), "--allow-private-targets"],
            i,
          ),
        ).to.equal(2);
        expect(captured.err).to.match(/^error VIGIL_KEY: /);
      } finally {
        if (saved !== undefined) process.env.VIGIL_ATTESTOR_KEY = saved;
      }
    });
  });

  describe("set-attestors checks", function () {
    it("sorts addresses ascending and accepts the quorum range max(2f+1, floor(n/2)+1)..n", function () {
      expect(checkAttestorSet([A(3), A(1), A(4), A(2)], 3)).to.deep.equal([A(1), A(2), A(3), A(4)]);
      expect(checkAttestorSet([A(1), A(2), A(3)], 2)).to.deep.equal([A(1), A(2), A(3)]);
      expect(checkAttestorSet([A(1), A(2), A(3), A(4), A(5), A(6)], 4)).to.have.length(6);
      expect(minQuorum(1)).to.equal(1);
      expect(minQuorum(2)).to.equal(2);
      expect(minQuorum(3)).to.equal(2);
      expect(minQuorum(4)).to.equal(3);
      expect(minQuorum(6)).to.equal(4);
      expect(minQuorum(7)).to.equal(5);
      expect(minQuorum(10)).to.equal(7);
    });
    it("agrees with HealthOracle.setAttestors on the valid quorums for every n up to 255", function () {
      // The contract's rule: 2f+1 <= quorum <= n and quorum * 2 > n, f = floor((n-1)/3).
      for (let n = 1; n <= 255; n++) {
        const f = Math.floor((n - 1) / 3);
        for (let q = 0; q <= n + 1; q++) {
          const valid = q >= 2 * f + 1 && q <= n && q * 2 > n;
          expect(q >= minQuorum(n) && q <= n, `n ${n} quorum ${q}`).to.equal(valid);
        }
      }
    });
    const bad: Array<[string, string[], number, string]> = [
      ["a duplicate", [A(1), A(1), A(2), A(3)], 3, "listed twice"],
      ["the zero address", [A(0), A(1), A(2), A(3)], 3, "zero address"],
      ["a quorum above n", [A(1), A(2)], 3, "quorum 3 is invalid"],
      ["a quorum below 2f+1", [A(1), A(2), A(3), A(4), A(5), A(6), A(7)], 4, "2f+1 = 5"],
      ["1 of 2, no majority", [A(1), A(2)], 1, "quorum 1 is invalid for 2 attestors"],
      [
        "1 of 3, no majority",
        [A(1), A(2), A(3)],
        1,
        "strict majority (> 1.5), so it must be from 2 to n = 3",
      ],
      ["3 of 6, no majority", [A(1), A(2), A(3), A(4), A(5), A(6)], 3, "must be from 4 to n = 6"],
      ["no attestors", [], 1, "0 attestors"],
      ["a non-address", ["0x1234"], 1, "not an address"],
    ];
    for (const [name, list, q, msg] of bad) {
      it(`rejects ${name}`, function () {
        try {
          checkAttestorSet(list, q);
          expect.fail("no error");
        } catch (e) {
          expect(isVigilError(e, "VIGIL_CONFIG")).to.equal(true);
          expect((e as Error).message).to.contain(msg);
        }
      });
    }
    it("checks an endpoint URI against its kind", function () {
      expect(() => checkEndpointUri(EndpointKind.JSON_RPC, "http://127.0.0.1:8545")).to.not.throw();
      expect(() => checkEndpointUri(EndpointKind.JSON_RPC, "ws://127.0.0.1:8545")).to.throw(/scheme/);
      expect(() => checkEndpointUri(EndpointKind.ORACLE_FEED, "http://x")).to.throw(/feed id/);
      expect(() =>
        checkEndpointUri(EndpointKind.ORACLE_FEED, "eip155:1:0x5f4ec3df9cbd43714fe2740f5e3616155c5b8419"),
      ).to.not.throw();
    });
  });

  describe("status rendering", function () {
    const report: StatusReport = {
      chainId: 31337,
      block: { number: 42, timestamp: 1_700_000_100 },
      contracts: { oracle: A(9), registry: A(8), guard: A(7) },
      services: [
        {
          id: "0x" + "5".repeat(64),
          name: "eth-rpc",
          owner: A(1),
          activeEndpoint: "0x" + "e".repeat(64),
          lastMigrationAt: 0,
          migration: { check: "DUE_FAILOVER", to: "0x" + "f".repeat(64), notBefore: 0 },
          endpoints: [
            {
              id: "0x" + "e".repeat(64),
              kind: "JSON_RPC",
              priority: 0,
              uri: "http://a",
              active: true,
              status: "DOWN",
              healthBps: 0,
              floorBps: 0,
              ceilingBps: 0,
              since: 1_700_000_090,
              round: 1,
              updatedAt: 1,
            },
            {
              id: "0x" + "f".repeat(64),
              kind: "JSON_RPC",
              priority: 1,
              uri: "http://b",
              active: false,
              status: "HEALTHY",
              healthBps: 10_000,
              floorBps: 8_000,
              ceilingBps: 10_000,
              since: 0,
              round: 1,
              updatedAt: 1,
            },
          ],
        },
      ],
      markets: [
        {
          id: 1,
          market: A(5),
          guardian: A(0),
          pauseThresholdBps: 5_000,
          gracePeriod: 300,
          services: ["0x" + "5".repeat(64)],
          endpoints: [],
          paused: true,
          pausedAt: 1_700_000_095,
          cause: "0x" + "5".repeat(64),
          delivery: "PENDING_PAUSE",
          trip: { check: "ALREADY_PAUSED", cause: "0x" + "0".repeat(64) },
          resume: { check: "GRACE_PERIOD", notBefore: 1_700_000_400 },
        },
      ],
    };
    it("shows each endpoint's status, health and since as ISO and seconds ago", function () {
      const text = renderStatus(report);
      expect(text).to.contain("service eth-rpc");
      expect(text).to.contain("DOWN").and.contain("0 bps").and.contain("10000 bps (quorum 8000..10000)");
      expect(text).to.contain("2023-11-14T22:14:50Z (10 s ago)");
      expect(text).to.contain("DUE_FAILOVER");
      expect(text).to.contain("never");
    });
    it("shows markets paused with cause and resume check", function () {
      const text = renderStatus(report);
      expect(text).to.contain("yes since 2023-11-14T22:14:55Z (5 s ago)");
      expect(text).to.contain("GRACE_PERIOD until");
    });
    it("marks a delivery the market refused, and nothing when there is none", function () {
      expect(renderStatus(report))
        .to.match(/delivery/)
        .and.contain("PENDING_PAUSE (market refused; retryDelivery due)");
      const none = { ...report, markets: report.markets.map((m) => ({ ...m, delivery: "NONE" })) };
      expect(renderStatus(none)).to.not.contain("PENDING_").and.not.contain("retryDelivery");
    });
    it("formats times in the future and never", function () {
      expect(formatSince(0, 10)).to.equal("never");
      expect(formatSince(20, 10)).to.contain("in 10 s");
    });
  });

  describe("bin/vigil.js", function () {
    it("runs --help from the repository with ts-node", function () {
      this.timeout(60_000);
      const r = spawnSync(process.execPath, [path.join(__dirname, "../../bin/vigil.js"), "--help"], {
        encoding: "utf8",
      });
      expect(r.status, r.stderr).to.equal(0);
      expect(r.stdout).to.contain("set-attestors").and.contain("register-market");
    });
  });
});
