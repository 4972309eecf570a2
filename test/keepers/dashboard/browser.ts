/**
 * A real headless Chromium for the dashboard tests: Debian's `chromium` package driven by
 * `puppeteer-core` (never `puppeteer`, whose install downloads a browser). The browser is a requirement
 * of the test, not an option: without it the test fails and says how to install it.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import puppeteer, { type Browser } from "puppeteer-core";

/** Where the browser is looked for: `VIGIL_CHROMIUM`, else Debian's `/usr/bin/chromium`. */
export function chromiumPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.VIGIL_CHROMIUM || "/usr/bin/chromium";
}

/**
 * Launch headless Chromium with a fresh profile and no background networking (the machines have no
 * internet; Chromium's own connections would only fail).
 * @throws Error naming the path and `apt-get install -y chromium` when the executable is missing.
 */
export async function launchChromium(
  executablePath = chromiumPath(),
): Promise<{ browser: Browser; close(): Promise<void> }> {
  if (!fs.existsSync(executablePath)) {
    throw new Error(
      `no Chromium at ${executablePath}: the dashboard tests need a real browser; ` +
        "install Debian's with `apt-get install -y chromium` (or set VIGIL_CHROMIUM to a Chromium binary)",
    );
  }
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "vigil-chromium-"));
  const browser = await puppeteer.launch({
    executablePath,
    headless: true,
    userDataDir: profile,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  return {
    browser,
    close: async () => {
      await browser.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}
