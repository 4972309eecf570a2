/**
 * The market commands of the operator CLI against the real contracts on anvil: `vigil deploy-example-market`
 * deploys the example GuardedPerpMarket wired to the guard and prints the register-market command, which,
 * run as printed, registers the market and pauses it because its dependencies are still UNKNOWN (nothing
 * reports to the oracle here); a market contract registered twice, a market or guard without code, and
 * `add-endpoint --kind websocket` are refused with exit 2 and a message naming the option.
 */
import { expect } from "chai";
import hre from "hardhat";
import { Contract, JsonRpcProvider, Wallet } from "ethers";
import { CommanderError } from "commander";
import { buildProgram } from "../../keepers/cli";
import {
  deployExampleMarketCommand,
  explainRegistration,
  type DependencyState,
} from "../../keepers/cli/market";
import type { CliIo } from "../../keepers/cli/io";
import { GuardCheck } from "../../keepers/responder/decide";
import { reportCliError } from "../../keepers/shared/cli";
import { Status } from "../../keepers/shared/health";
import { Anvil, ANVIL_KEYS, deployArtifact } from "./helpers/anvil";

const POLICY = {
  downBelowBps: 5000,
  upAtBps: 8000,
  fallRounds: 1,
  riseRounds: 1,
  heartbeat: 300,
  maxAge: 60,
};
const NEEDED = ["HealthOracle", "EndpointRegistry", "MarketGuard", "GuardedPerpMarket", "MockERC20"];

/**
 * Run `vigil <args>` in-process as keepers/cli.ts's runCli does, with `deploy-example-market` added when the
 * program does not register it yet. @returns the exit code.
 */
async function runCli(args: string[], cliIo: CliIo): Promise<number> {
  const program = buildProgram(cliIo);
  if (!program.commands.some((c) => c.name() === "deploy-example-market")) {
    const cmd = deployExampleMarketCommand(cliIo);
    cmd.copyInheritedSettings(program);
    program.addCommand(cmd);
  }
  try {
    await program.parseAsync(args, { from: "user" });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    return reportCliError(e, cliIo.err);
  }
}

function io(env: NodeJS.ProcessEnv) {
  const captured = { out: "", err: "" };
  const value: CliIo = { out: (t) => void (captured.out += t), err: (t) => void (captured.err += t), env };
  return { io: value, captured };
}

/** `key: value` lines of a command's text output. */
function fields(out: string): Record<string, string> {
  return Object.fromEntries(
    out
      .trim()
      .split("\n")
      .map((l) => [l.slice(0, l.indexOf(":")), l.slice(l.indexOf(":") + 2)]),
  );
}

/** Split a printed shell command into argv (no quoting is needed: ids, addresses and URLs only). */
const argv = (command: string) => command.trim().split(/\s+/);

describe("vigil market commands (real contracts on anvil)", function () {
  this.timeout(180_000);
  let anvil: Anvil;
  let provider: JsonRpcProvider;
  let guard: Contract, registry: Contract;
  let serviceId: string;
  let env: NodeJS.ProcessEnv;

  before(async function () {
    for (const n of NEEDED) if (!(await hre.artifacts.artifactExists(n))) this.skip();
    anvil = await Anvil.start();
    provider = anvil.provider(100);
    const admin = new Wallet(ANVIL_KEYS[0], provider);
    const oracle = await deployArtifact("HealthOracle", [admin.address, 10, 15, 500_000, POLICY], admin);
    registry = await deployArtifact("EndpointRegistry", [await oracle.getAddress()], admin);
    guard = await deployArtifact(
      "MarketGuard",
      [admin.address, await oracle.getAddress(), await registry.getAddress(), 200_000],
      admin,
    );
    serviceId = await registry.registerService.staticCall("eth-rpc", { cooldown: 0, recoveryPeriod: 0 });
    await (await registry.registerService("eth-rpc", { cooldown: 0, recoveryPeriod: 0 })).wait();
    for (const [i, uri] of ["http://primary.invalid", "http://backup.invalid"].entries())
      await (await registry.addEndpoint(serviceId, 0, uri, i)).wait();
    env = {
      VIGIL_RPC_URL: anvil.url,
      VIGIL_ORACLE: await oracle.getAddress(),
      VIGIL_REGISTRY: await registry.getAddress(),
      VIGIL_GUARD: await guard.getAddress(),
      VIGIL_ADMIN_KEY: ANVIL_KEYS[0],
    };
  });

  after(async function () {
    provider?.destroy();
    await anvil?.stop();
  });

  let marketAddress: string;

  it("deploys the example market wired to the guard and prints the register-market command to run next", async function () {
    const { io: i, captured } = io(env);
    expect(await runCli(["deploy-example-market"], i), captured.err).to.equal(0);
    const out = fields(captured.out);
    marketAddress = out.market;
    const a = await hre.artifacts.readArtifact("GuardedPerpMarket");
    const market = new Contract(marketAddress, a.abi, provider);
    expect(await market.guard()).to.equal(await guard.getAddress());
    expect(await market.markPrice()).to.equal(2_000n * 10n ** 18n);
    expect(await market.owner()).to.equal(new Wallet(ANVIL_KEYS[0]).address);
    expect(await provider.getCode(await market.collateral())).to.not.equal("0x");
    expect(out.next).to.equal(
      `vigil register-market --rpc-url ${anvil.url} --guard ${await guard.getAddress()} ` +
        `--market ${marketAddress} --service ${serviceId} --threshold 5000 --grace 300`,
    );
  });

  it("registers the market with the printed command and pauses it at once, saying its dependencies are UNKNOWN", async function () {
    const { io: dio, captured: deployed } = io(env);
    expect(await runCli(["deploy-example-market"], dio), deployed.err).to.equal(0);
    const next = fields(deployed.out).next;
    // The printed command alone (no environment but the key) is enough.
    const { io: i, captured } = io({ VIGIL_ADMIN_KEY: ANVIL_KEYS[0] });
    expect(await runCli(argv(next).slice(1), i), captured.err).to.equal(0);
    const out = fields(captured.out);
    const id = BigInt(out.marketId);
    expect(await guard.isPaused(id)).to.equal(true);
    expect(out.paused).to.equal("true");
    expect(out.pauseTx).to.match(/^0x[0-9a-f]{64}$/);
    expect(out.dependencies).to.equal(`${serviceId} UNKNOWN`);
    expect(out.note).to.contain("are UNKNOWN: the market is paused");
    expect(out.note).to.contain("silence counts as failure");
    expect(out.note).to.contain("for the grace period (300 s)");
    const a = await hre.artifacts.readArtifact("GuardedPerpMarket");
    expect(await new Contract(fields(deployed.out).market, a.abi, provider).paused()).to.equal(true);
    expect((await guard.marketState(id)).cause).to.equal(serviceId);
  });

  it("refuses a market contract that is already registered, naming its market id, before sending anything", async function () {
    const { io: i, captured } = io(env);
    const args = ["register-market", "--market", marketAddress, "--service", serviceId];
    expect(await runCli(args, i), captured.err).to.equal(0);
    const id = fields(captured.out).marketId;
    const count = await guard.marketCount();
    const again = io(env);
    expect(await runCli(args, again.io)).to.equal(2);
    expect(again.captured.err).to.match(
      new RegExp(`^error VIGIL_CONFIG: --market 0x[0-9a-fA-F]{40} is already registered as market ${id} \\(`),
    );
    expect(again.captured.err.trim().split("\n")).to.have.length(1);
    expect(await guard.marketCount()).to.equal(count);
  });

  it("refuses a --market without contract code", async function () {
    const { io: i, captured } = io(env);
    const eoa = Wallet.createRandom().address;
    expect(await runCli(["register-market", "--market", eoa, "--service", serviceId], i)).to.equal(2);
    expect(captured.err).to.match(
      /^error VIGIL_CONFIG: --market 0x[0-9a-fA-F]{40} has no contract code on chain 31337/,
    );
    expect(captured.err).to.contain("vigil deploy-example-market");
  });

  it("refuses a --guard without contract code, or one that is not a MarketGuard", async function () {
    for (const [address, message] of [
      [Wallet.createRandom().address, "has no contract code on chain 31337"],
      [await registry.getAddress(), "does not answer as a MarketGuard"],
    ]) {
      const { io: i, captured } = io({ ...env, VIGIL_GUARD: address });
      expect(await runCli(["deploy-example-market"], i)).to.equal(2);
      expect(captured.err).to.match(new RegExp(`^error VIGIL_CONFIG: --guard 0x[0-9a-fA-F]{40} ${message}`));
    }
  });

  it("refuses add-endpoint --kind websocket, naming the option and the http(s) alternative, and sends nothing", async function () {
    const before = (await registry.endpointsOf(serviceId)).length;
    const { io: i, captured } = io(env);
    const args = [
      "add-endpoint",
      "--service",
      serviceId,
      "--kind",
      "websocket",
      "--uri",
      "wss://node.example/ws",
    ];
    expect(await runCli(args, i)).to.equal(2);
    expect(captured.err).to.match(
      /^error VIGIL_CONFIG: --kind websocket is not supported: no attestor probes WebSocket/,
    );
    expect(captured.err).to.contain("http(s) JSON-RPC URL with --kind json-rpc");
    expect((await registry.endpointsOf(serviceId)).length).to.equal(before);
  });

  it("is exported as a command factory for the CLI", function () {
    expect(deployExampleMarketCommand(io({}).io).name()).to.equal("deploy-example-market");
  });
});

describe("explainRegistration", function () {
  const svc = (status: Status): DependencyState => ({
    id: "0x" + "11".repeat(32),
    kind: "service",
    endpointId: "0x" + "22".repeat(32),
    status,
  });
  const ep = (status: Status): DependencyState => ({
    id: "0x" + "33".repeat(32),
    kind: "endpoint",
    endpointId: "0x" + "33".repeat(32),
    status,
  });

  it("says nothing when every dependency is HEALTHY", function () {
    expect(
      explainRegistration(
        [svc(Status.HEALTHY), ep(Status.HEALTHY)],
        GuardCheck.DEPENDENCIES_USABLE,
        false,
        5000,
        60,
      ),
    ).to.equal("");
  });

  it("names the UNKNOWN dependencies, the pause and the resume rule when paused", function () {
    const note = explainRegistration(
      [svc(Status.UNKNOWN), ep(Status.HEALTHY)],
      GuardCheck.DUE,
      true,
      6000,
      120,
    );
    expect(note).to.equal(
      `Dependencies service ${svc(0).id} (active endpoint ${svc(0).endpointId}) are UNKNOWN: the market is paused. ` +
        "UNKNOWN means no quorum of attestors has reported it yet (or its heartbeat lapsed); silence counts as failure. " +
        "It resumes once every dependency has been HEALTHY, with a quorum of attestors at or above 6000 bps, " +
        "for the grace period (120 s): the responder calls resume, and so may anyone.",
    );
  });

  it("says the first keeper will pause a market that is due but not paused yet", function () {
    const note = explainRegistration([ep(Status.DOWN)], GuardCheck.DUE, false, 5000, 60);
    expect(note).to.contain(`endpoint ${ep(0).id} are DOWN: the market is due to pause; the first keeper`);
    expect(note).to.not.contain("silence");
  });

  it("explains a silent active endpoint that fails over instead of pausing", function () {
    const note = explainRegistration([svc(Status.UNKNOWN)], GuardCheck.DEPENDENCIES_USABLE, false, 5000, 60);
    expect(note).to.contain("are UNKNOWN, but the market is not due to pause");
    expect(note).to.contain("fails over to a HEALTHY backup");
  });
});
