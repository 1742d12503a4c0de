import { existsSync } from 'node:fs';
import { aptInstall } from './debian.js';
import { InstallError, type Progress } from './exec.js';

/**
 * Where Debian's `chromium` package puts the browser. Headless browser tooling launches this
 * one (playwright-core with `executablePath`), never a browser build downloaded by Playwright.
 */
export const chromiumBinary = '/usr/bin/chromium';

/**
 * Installs Debian's `chromium` package when it is missing and returns the executable's path;
 * a no-op (milliseconds) when it is present. Only browser tooling calls this: `factory up`
 * does not need a browser.
 */
export async function ensureChromium(logFile: string, progress: Progress): Promise<string> {
  if (existsSync(chromiumBinary)) return chromiumBinary;
  await aptInstall(['chromium'], logFile, progress);
  if (!existsSync(chromiumBinary)) {
    throw new InstallError(
      `apt-get installed chromium but ${chromiumBinary} did not appear; see ${logFile}.`,
    );
  }
  return chromiumBinary;
}
