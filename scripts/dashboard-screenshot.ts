/**
 * `npx hardhat run scripts/dashboard-screenshot.ts`: run a small Vigil system on anvil (the dashboard
 * test's stack: two services, two guarded markets, four attestors signing real reports), inject a fault
 * (the primary RPC endpoint and the price feed go DOWN, the keeper migrates the RPC service to its backup
 * and trips the feed's market), serve `vigil dashboard` on it and save what headless Chromium shows to
 * docs/dashboard.png (or `VIGIL_SCREENSHOT`). Needs Debian's chromium: `apt-get install -y chromium`.
 *
 * With `VIGIL_SCREENSHOT_URL` set (e.g. `http://127.0.0.1:9480/` of a running `vigil devnet`), it starts
 * nothing: it waits until that dashboard shows a migration, then saves the page.
 */
import path from "node:path";
import { runDashboard } from "../keepers/dashboard/run";
import { dashboardConfigSchema } from "../keepers/dashboard/config";
import { parseConfig } from "../keepers/shared/config";
import { createLogger } from "../keepers/shared/logger";
import { launchChromium } from "../test/keepers/dashboard/browser";
import { DashboardStack } from "../test/keepers/dashboard/stack";

/** Save a running dashboard once it shows a migration (a failover happened). */
async function shootRunning(url: string, out: string): Promise<void> {
  const chrome = await launchChromium();
  try {
    const page = await chrome.browser.newPage();
    await page.setViewport({ width: 1480, height: 900, deviceScaleFactor: 1 });
    await page.goto(url, { waitUntil: "load" });
    await page.waitForSelector("[data-migration]", { timeout: 300_000 });
    await page.screenshot({ path: out, fullPage: true });
    process.stdout.write(`wrote ${out}\n`);
  } finally {
    await chrome.close();
  }
}

async function main(): Promise<void> {
  const out = process.env.VIGIL_SCREENSHOT ?? path.join(__dirname, "..", "docs", "dashboard.png");
  if (process.env.VIGIL_SCREENSHOT_URL) return shootRunning(process.env.VIGIL_SCREENSHOT_URL, out);
  const chrome = await launchChromium();
  const stack = await DashboardStack.start();
  const logger = createLogger("dashboard-screenshot", { level: "warn" });
  let dashboard: Awaited<ReturnType<typeof runDashboard>> | undefined;
  try {
    await stack.warmUp(8);
    const { migrateTx, tripTx } = await stack.injectFault();
    await stack.round({ who: [0, 1, 2] });
    dashboard = await runDashboard(parseConfig(dashboardConfigSchema, await stack.dashboardConfig()), logger);
    const page = await chrome.browser.newPage();
    await page.setViewport({ width: 1480, height: 900, deviceScaleFactor: 1 });
    await page.goto(dashboard.url, { waitUntil: "load" });
    // Wait for the state the picture is about, not for a time.
    await page.waitForSelector(`[data-migration="${migrateTx}"]`, { timeout: 60_000 });
    await page.waitForSelector(`#actions [data-tx="${tripTx}"]`, { timeout: 60_000 });
    await page.screenshot({ path: out, fullPage: true });
    process.stdout.write(`wrote ${out}\n`);
  } finally {
    await chrome.close();
    await dashboard?.stop();
    await stack.stop();
  }
}

main().catch((e) => {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
