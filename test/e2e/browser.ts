import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { dispose } from '../support/harness.js';

/** Debian's Chromium (`apt-get install chromium`); `.ci/run` installs it. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Starts headless Chromium, closed after the test. */
export async function launch(): Promise<Browser> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  dispose(() => browser.close());
  return browser;
}

/** Whether the browser is installed: page tests are skipped without it. */
export const hasChromium = existsSync(CHROMIUM);

/** A page test suite's name, saying why it is skipped when it is. */
export function browserSuite(name: string): string {
  return hasChromium
    ? name
    : `${name} (skipped: no Chromium at ${CHROMIUM}; apt-get install chromium, or set CHROMIUM_PATH)`;
}
