/**
 * `vigil dashboard` against a running system, looked at in a real headless Chromium (Debian's `chromium`
 * driven by puppeteer-core): the page must show what the chain says before and after a fault. Every wait
 * is for a state on the page, with a deadline that only ends a hang.
 */
import { expect } from "chai";
import type { Page } from "puppeteer-core";
import { runDashboard, type RunningDashboard } from "../../keepers/dashboard/run";
import { dashboardConfigSchema } from "../../keepers/dashboard/config";
import type { DashboardState } from "../../keepers/dashboard/state";
import { parseConfig } from "../../keepers/shared/config";
import { createLogger } from "../../keepers/shared/logger";
import { launchChromium } from "./dashboard/browser";
import { BACKUP_URI, DashboardStack, PRIMARY_URI, XSS_NAME, XSS_URI } from "./dashboard/stack";

const logger = createLogger("test", { level: process.env.VIGIL_TEST_LOG ?? "silent" });
const WAIT = { timeout: 60_000, polling: 100 };

/** As much of the page's DOM as these tests read (tsconfig has no DOM lib: the keepers are Node code).
 *  Used inside functions that run in the page, where `globalThis` is the window. */
interface PageNode {
  textContent: string | null;
  getAttribute(name: string): string | null;
  querySelectorAll(selector: string): { length: number };
}
interface PageGlobals {
  document: {
    querySelector(selector: string): PageNode | null;
    querySelectorAll(selector: string): { length: number };
    getElementById(id: string): PageNode | null;
  };
  __xss?: number;
}

describe("vigil dashboard in a real Chromium", function () {
  this.timeout(240_000);
  let stack: DashboardStack;
  let dashboard: RunningDashboard;
  let chrome: Awaited<ReturnType<typeof launchChromium>>;
  let page: Page;
  const pageErrors: string[] = [];

  /** The text of the first element matching `selector`, once `holds(text)`; fails after the deadline. */
  const textOnceIt = async (selector: string, holds: string, what: string) => {
    try {
      await page.waitForFunction(
        (sel: string, want: string) =>
          (globalThis as unknown as PageGlobals).document.querySelector(sel)?.textContent?.includes(want) ??
          false,
        WAIT,
        selector,
        holds,
      );
    } catch (e) {
      const seen = await page.$eval(selector, (n) => n.textContent).catch(() => "(no such element)");
      throw new Error(`${what}: waited for "${holds}" in ${selector}, saw ${JSON.stringify(seen)}`, {
        cause: e,
      });
    }
  };

  before(async function () {
    chrome = await launchChromium(); // fails, naming `apt-get install -y chromium`, without the browser
    stack = await DashboardStack.start({ hostile: true });
    await stack.warmUp(4);
    const config = parseConfig(dashboardConfigSchema, await stack.dashboardConfig());
    dashboard = await runDashboard(config, logger);
    page = await chrome.browser.newPage();
    await page.setViewport({ width: 1440, height: 1000 });
    page.on("pageerror", (e) => pageErrors.push(String(e)));
    page.on("console", (m) => {
      if (m.type() === "error") pageErrors.push(m.text());
    });
    await page.goto(dashboard.url, { waitUntil: "load" });
  });

  after(async function () {
    await chrome?.close();
    await dashboard?.stop();
    await stack?.stop();
  });

  it("shows each service's endpoints with status, health and the active endpoint", async function () {
    const primary = `[data-endpoint-id="${stack.ids.primary}"]`;
    await textOnceIt(`${primary} .status`, "HEALTHY", "primary status");
    await textOnceIt(`[data-endpoint-id="${stack.ids.backup}"] .status`, "HEALTHY", "backup status");
    expect(await page.$eval(primary, (n) => n.getAttribute("data-active"))).to.equal("true");
    await textOnceIt(
      `[data-service-id="${stack.ids.rpcService}"] [data-active-uri]`,
      PRIMARY_URI,
      "active uri",
    );
    // The health bar and the timeline come from the oracle's events: HEALTHY now, UNKNOWN before the first rounds.
    const segments = await page.$$eval(`[data-timeline="${stack.ids.primary}"] i`, (ns) =>
      ns.map((n) => n.getAttribute("data-segment")),
    );
    expect(segments.at(-1)).to.equal("HEALTHY");
    expect(segments).to.include("UNKNOWN");
    await textOnceIt(`${primary}`, "9800 bps", "health in bps");
  });

  it("shows attestor participation per round from ReportAccepted's signer bitmap", async function () {
    await page.waitForFunction(
      () => (globalThis as unknown as PageGlobals).document.querySelectorAll("[data-round]").length >= 4,
      WAIT,
    );
    const rows = await page.$$eval("[data-round]", (rs) =>
      rs.map((r) => ({ on: r.querySelectorAll(".dot.on").length, all: r.querySelectorAll(".dot").length })),
    );
    expect(rows.every((r) => r.all === 4)).to.equal(true);
    // warmUp's third round had attestor 3 missing: one row with 3 of 4 signers.
    expect(rows.some((r) => r.on === 3)).to.equal(true);
    expect(rows.some((r) => r.on === 4)).to.equal(true);
  });

  it("renders attacker-chosen names and URIs as text, never as markup", async function () {
    await textOnceIt(`[data-endpoint-id="${stack.ids.hostile}"] .uri`, XSS_URI, "hostile uri as text");
    await textOnceIt(`[data-service-id="${stack.ids.hostileService}"] h3`, XSS_NAME, "hostile name as text");
    expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).__xss)).to.equal(undefined);
    expect(await page.$$eval("main img, main script, main svg", (ns) => ns.length)).to.equal(0);
  });

  it("after a fault shows the endpoint DOWN, the new active endpoint, the migration's tx and the paused market", async function () {
    const { migrateTx, tripTx } = await stack.injectFault();
    await textOnceIt(`[data-endpoint-id="${stack.ids.primary}"] .status`, "DOWN", "primary after the fault");
    await textOnceIt(`[data-endpoint-id="${stack.ids.feed}"] .status`, "DOWN", "feed after the fault");
    await textOnceIt(
      `[data-service-id="${stack.ids.rpcService}"] [data-active-uri]`,
      BACKUP_URI,
      "active after failover",
    );
    expect(
      await page.$eval(`[data-endpoint-id="${stack.ids.backup}"]`, (n) => n.getAttribute("data-active")),
    ).to.equal("true");
    // The migration, with the hash of the transaction that made it.
    await page.waitForSelector(`[data-migration="${migrateTx}"]`, WAIT);
    await textOnceIt(`[data-migration="${migrateTx}"]`, "FAILOVER", "migration row");
    expect(
      await page.$eval(`[data-migration="${migrateTx}"] [data-tx]`, (n) => n.getAttribute("data-tx")),
    ).to.equal(migrateTx);
    // Market #2 (the feed cannot fail over) paused with its cause; market #1 stayed open thanks to the failover.
    await textOnceIt(`[data-market-id="2"] .state`, "PAUSED", "market 2");
    await textOnceIt(`[data-market-id="2"] .cause`, "service eth-usd-feed", "market 2 cause");
    await textOnceIt(`[data-market-id="1"] .state`, "OPEN", "market 1");
    // Recent actions carry the trip's transaction; the timeline ends DOWN.
    await page.waitForSelector(`#actions [data-tx="${tripTx}"]`, WAIT);
    const segments = await page.$$eval(`[data-timeline="${stack.ids.primary}"] i`, (ns) =>
      ns.map((n) => n.getAttribute("data-segment")),
    );
    // HEALTHY, then DEGRADED at the first bad round (below upAtBps, streak not long enough), then DOWN.
    expect(segments.slice(-3)).to.deep.equal(["HEALTHY", "DEGRADED", "DOWN"]);
  });

  it("serves the same facts as JSON on /api/state", async function () {
    const res = await fetch(new URL("api/state", dashboard.url));
    expect(res.status).to.equal(200);
    expect(res.headers.get("content-security-policy")).to.contain("script-src 'self'");
    const s = (await res.json()) as DashboardState;
    const rpc = s.services.find((x) => x.id === stack.ids.rpcService)!;
    expect(rpc.activeEndpoint).to.equal(stack.ids.backup);
    expect(rpc.migrations[0]).to.include({ from: stack.ids.primary, to: stack.ids.backup, failback: false });
    expect(s.markets.map((m) => m.paused)).to.deep.equal([false, true]);
  });

  it("says how many services the maxServices cap left out", async function () {
    const capped = await runDashboard(
      parseConfig(dashboardConfigSchema, { ...(await stack.dashboardConfig()), maxServices: 2 }),
      logger,
    );
    const other = await chrome.browser.newPage();
    try {
      await other.goto(capped.url, { waitUntil: "load" });
      await other.waitForFunction(
        () =>
          (globalThis as unknown as PageGlobals).document
            .querySelector("[data-services-not-shown]")
            ?.textContent?.includes("1 more services not shown (set services to choose)") ?? false,
        WAIT,
      );
      expect(await other.$$eval("[data-service-id]", (ns) => ns.length)).to.equal(2);
    } finally {
      await other.close();
      await capped.stop();
    }
  });

  it("says the page is stale, keeping the last state, when the chain stops answering", async function () {
    await stack.stopChain();
    await page.waitForFunction(
      () =>
        (globalThis as unknown as PageGlobals).document.getElementById("live")?.getAttribute("data-state") ===
        "stale",
      WAIT,
    );
    await textOnceIt(`[data-endpoint-id="${stack.ids.primary}"] .status`, "DOWN", "last state kept");
    expect(pageErrors.filter((e) => !/Failed to load resource/.test(e))).to.deep.equal([]);
  });
});

describe("launchChromium", function () {
  it("fails naming `apt-get install -y chromium` when the browser is missing", async function () {
    const err = await launchChromium("/nonexistent/chromium").then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).to.contain("apt-get install -y chromium").and.contain("/nonexistent/chromium");
  });
});
