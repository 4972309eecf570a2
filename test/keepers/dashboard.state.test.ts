/** The dashboard's pure state building: timelines, signer bitmaps, attestor sets per round, actions. */
import { expect } from "chai";
import {
  actionsOf,
  buildState,
  clip,
  decodeSigners,
  MAX_TEXT,
  setAt,
  timelineOf,
  type History,
  type Snapshot,
  type StatusChange,
} from "../../keepers/dashboard/state";

const A = "0x" + "a".repeat(64);
const B = "0x" + "b".repeat(64);
const S = "0x" + "5".repeat(64);
const change = (at: number, previous: string, current: string, block = at): StatusChange => ({
  endpointId: A,
  previous,
  current,
  at,
  block,
  tx: "0x" + block.toString(16).padStart(64, "0"),
});

const snapshot = (): Snapshot => ({
  chainId: 31337,
  block: { number: 100, timestamp: 1000 },
  contracts: { oracle: "0x1", registry: "0x2", guard: "0x3" },
  attestorSet: {
    version: 2,
    quorum: 2,
    attestors: [
      { address: "0xA1", jailed: false },
      { address: "0xA2", jailed: false },
      { address: "0xA3", jailed: true },
    ],
  },
  services: [
    {
      id: S,
      name: "rpc",
      owner: "0x9",
      activeEndpoint: B,
      lastMigrationAt: 900,
      migration: { check: "ACTIVE_USABLE", to: "0x" + "0".repeat(64), notBefore: 0 },
      endpoints: [A, B].map((id, i) => ({
        id,
        kind: "JSON_RPC",
        priority: i,
        uri: `https://${i}.example`,
        status: i === 0 ? "DOWN" : "HEALTHY",
        healthBps: i === 0 ? 0 : 9800,
        floorBps: 0,
        ceilingBps: 0,
        since: 950,
        round: 99,
        updatedAt: 990,
      })),
    },
  ],
  servicesNotShown: 0,
  unregisteredServices: [],
  markets: [
    {
      id: 1,
      market: "0xM",
      guardian: "0x0",
      pauseThresholdBps: 5000,
      gracePeriod: 60,
      services: [S],
      endpoints: [],
      paused: true,
      pausedAt: 960,
      cause: S,
      delivery: "NONE",
      trip: { check: "ALREADY_PAUSED", cause: "0x0" },
      resume: { check: "DEPENDENCY_UNHEALTHY", notBefore: 0 },
    },
  ],
});

const history = (): History => ({
  fromBlock: 10,
  fromTime: 100,
  statusChanges: [change(400, "UNKNOWN", "HEALTHY"), change(950, "HEALTHY", "DOWN")],
  migrations: [{ serviceId: S, from: A, to: B, failback: false, at: 951, block: 951, tx: "0xmig" }],
  marketEvents: [{ marketId: 1, kind: "paused", cause: S, at: 960, block: 960, tx: "0xpause" }],
  rounds: [
    { round: 1, observedAt: 10, signers: 0b011n, updated: 2, skipped: 0, block: 20, tx: "0xr1" },
    { round: 2, observedAt: 20, signers: 0b101n, updated: 2, skipped: 0, block: 60, tx: "0xr2" },
  ],
  attestorSets: [
    { fromBlock: 10, version: 1, quorum: 2, attestors: ["0xA1", "0xA2", "0xA0"] },
    { fromBlock: 50, version: 2, quorum: 2, attestors: ["0xA1", "0xA2", "0xA3"] },
  ],
  jails: [],
  gaps: [],
});

describe("dashboard state", function () {
  it("decodes the ReportAccepted signer bitmap by attestor-set index", function () {
    expect(decodeSigners(0b101n, 3)).to.deep.equal([true, false, true]);
    expect(decodeSigners(0n, 2)).to.deep.equal([false, false]);
    expect(decodeSigners(1n << 200n, 3)).to.deep.equal([false, false, false]); // bits past the set are not signers
  });

  it("reads a round's signers against the attestor set in force at its block", function () {
    const h = history();
    expect(setAt(h.attestorSets, 20)!.version).to.equal(1);
    expect(setAt(h.attestorSets, 50)!.version).to.equal(2);
    const s = buildState(snapshot(), h);
    // Newest first; round 1 was under set v1, whose third member was 0xA0.
    expect(s.rounds.map((r) => r.round)).to.deep.equal([2, 1]);
    expect(s.rounds[1].signers).to.deep.equal([
      { address: "0xA1", signed: true },
      { address: "0xA2", signed: true },
      { address: "0xA0", signed: false },
    ]);
    // Participation counts only the rounds a member was in the set for.
    expect(s.attestors.members.map((m) => [m.signed, m.rounds])).to.deep.equal([
      [2, 2],
      [1, 2],
      [1, 1],
    ]);
  });

  it("builds a health timeline from status changes, starting with the first change's previous status", function () {
    expect(
      timelineOf([change(400, "UNKNOWN", "HEALTHY"), change(950, "HEALTHY", "DOWN")], "DOWN", 100, 1000),
    ).to.deep.equal([
      { status: "UNKNOWN", from: 100, to: 400 },
      { status: "HEALTHY", from: 400, to: 950 },
      { status: "DOWN", from: 950, to: 1000 },
    ]);
    // No change in the window: the current status throughout.
    expect(timelineOf([], "HEALTHY", 100, 1000)).to.deep.equal([{ status: "HEALTHY", from: 100, to: 1000 }]);
    // A change dated before the window (its `since`) is clamped to the window's start.
    expect(timelineOf([change(50, "UNKNOWN", "HEALTHY", 120)], "HEALTHY", 100, 1000)).to.deep.equal([
      { status: "HEALTHY", from: 100, to: 1000 },
    ]);
  });

  it("marks the active endpoint, names a pause's cause and lists the service's migrations", function () {
    const s = buildState(snapshot(), history());
    expect(s.services[0].endpoints.map((e) => e.active)).to.deep.equal([false, true]);
    expect(s.services[0].migrations.map((m) => m.tx)).to.deep.equal(["0xmig"]);
    expect(s.markets[0].causeLabel).to.equal("service rpc");
    const guardian = snapshot();
    guardian.markets[0].cause = "0x" + "0".repeat(64);
    expect(buildState(guardian, history()).markets[0].causeLabel).to.equal("guardian");
  });

  it("lists recent actions newest first, each with its transaction, at most `limit`", function () {
    const label = (id: string) => (id === S ? "service rpc" : id === A ? "endpoint a" : "endpoint b");
    const actions = actionsOf(history(), label);
    expect(actions.map((a) => [a.kind, a.tx])).to.deep.equal([
      ["market paused", "0xpause"],
      ["failover", "0xmig"],
      ["status", change(950, "", "").tx],
      ["status", change(400, "", "").tx],
    ]);
    expect(actions[0].summary).to.equal("market 1 (cause: service rpc)");
    expect(actions[1].summary).to.equal("service rpc: endpoint a → endpoint b");
    expect(actionsOf(history(), label, 2)).to.have.length(2);
  });

  it(`cuts service names and endpoint URIs to ${MAX_TEXT} characters, in the services and in the labels`, function () {
    const snap = snapshot();
    snap.services[0].name = "n".repeat(100_000); // a registry name has no length limit
    snap.services[0].endpoints[0].uri = "u".repeat(256);
    const s = buildState(snap, history());
    expect(s.services[0].name).to.equal("n".repeat(MAX_TEXT - 1) + "…");
    expect(s.services[0].endpoints[0].uri).to.have.length(MAX_TEXT);
    expect(s.services[0].endpoints[1].uri).to.equal("https://1.example"); // short ones unchanged
    expect(s.markets[0].causeLabel).to.equal(`service ${"n".repeat(MAX_TEXT - 1)}…`);
    expect(s.actions.find((a) => a.kind === "status")!.summary).to.have.length.below(2 * MAX_TEXT);
    expect(JSON.stringify(s).length).to.be.below(10_000);
    // Counted in code points: an emoji is never split in half.
    expect(Array.from(clip("😀".repeat(300)))).to.deep.equal([...Array(MAX_TEXT - 1).fill("😀"), "…"]);
  });
});
