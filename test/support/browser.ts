import { join } from 'node:path';
import { type Browser, chromium, type Locator, type Page } from 'playwright-core';
import { projectRoot } from '../../common/config.js';
import { ensureChromium } from '../../infra/install/chromium.js';
import type { Progress } from '../../infra/install/exec.js';
import { workflowListUrl } from '../../infra/servers/temporal.js';
import { searchAttributes } from '../../workflows/definitions.js';

/** apt-get's output when Chromium has to be installed (nothing is written when it is present). */
export const chromiumInstallLog = join(projectRoot, '.test-data', 'logs', 'chromium-install.log');

const stderrProgress: Progress = (message) => process.stderr.write(`[chromium] ${message}\n`);

/**
 * Launches Debian's Chromium headless, installing the package first when it is missing (never a
 * browser build of Playwright's own). `--no-sandbox` because tests may run as root, where
 * Chromium's sandbox refuses to start; it only ever opens the project's own local pages.
 */
export async function launchBrowser(progress: Progress = stderrProgress): Promise<Browser> {
  const executablePath = await ensureChromium(chromiumInstallLog, progress);
  return chromium.launch({ executablePath, headless: true, args: ['--no-sandbox'] });
}

export interface TemporalListShot {
  /** The Temporal Web UI's base URL, e.g. http://127.0.0.1:8233. */
  uiUrl: string;
  namespace: string;
  /** A visibility query, e.g. WorkflowType="alarmEscalation". */
  query: string;
  /** Where the PNG goes. */
  file: string;
  /** Text a row of the list must show before the screenshot, e.g. a workflow id. */
  expectText: string;
  /** How long the list may take to show it; 30 s by default. */
  timeoutMs?: number;
  /** Columns to add to the table, by their UI name; the alarms' search attributes by default. */
  addColumns?: readonly string[];
  /** Columns to take out of the table; the Run ID by default (long and of no use in a picture). */
  hideColumns?: readonly string[];
  /** A browser to open the page in; by default one is launched and closed again. */
  browser?: Browser;
}

const alarmColumns = [
  searchAttributes.severity.name,
  searchAttributes.machine.name,
  searchAttributes.rule.name,
];

/**
 * Screenshots the Temporal Web UI's workflow list filtered by `query`, once a row showing
 * `expectText` is on screen, with the table's columns set for alarms. Returns the PNG's path.
 * Column settings live in the fresh browser's local storage, so nobody else's UI changes.
 */
export async function screenshotTemporalAlarms(opts: TemporalListShot): Promise<string> {
  const browser = opts.browser ?? (await launchBrowser());
  try {
    const page = await browser.newPage({ viewport: { width: 1600, height: 800 } });
    const url = workflowListUrl(opts.uiUrl, opts.namespace, opts.query);
    const timeout = opts.timeoutMs ?? 30_000;
    await page.goto(url, { waitUntil: 'domcontentloaded', timeout });
    const row = page.getByRole('row').filter({ hasText: opts.expectText }).first();
    await seen(row, `a workflow row containing "${opts.expectText}"`, page, url, timeout);
    await configureColumns(page, url, opts.hideColumns ?? ['Run ID'], opts.addColumns ?? alarmColumns);
    await page.screenshot({ path: opts.file, type: 'png' });
    await page.close();
    return opts.file;
  } finally {
    if (!opts.browser) await browser.close();
  }
}

/**
 * Waits until `locator` is visible, else fails naming what was missing, the URL and the
 * page's heading (which tells "0 Workflows" from a page that never loaded).
 */
async function seen(locator: Locator, what: string, page: Page, url: string, timeout: number) {
  try {
    await locator.waitFor({ state: 'visible', timeout });
  } catch (err) {
    const heading = await page
      .getByRole('heading', { level: 1 })
      .first()
      .textContent({ timeout: 1_000 })
      .catch(() => undefined);
    const shown = heading ? `; the page's heading says "${heading.trim()}"` : '';
    throw new Error(`The Temporal UI did not show ${what} within ${timeout / 1000}s at ${url}${shown}.`, {
      cause: err,
    });
  }
}

/**
 * Folds away the saved-views panel and sets the table's columns through the UI's own
 * "Configure Workflows Table" drawer, found by its accessible names.
 */
async function configureColumns(page: Page, url: string, hide: readonly string[], add: readonly string[]) {
  const timeout = 5_000;
  await page.getByRole('button', { name: 'Collapse saved views' }).click({ timeout });
  await page.getByTestId('workflows-summary-table-configuration-button').click({ timeout });
  const drawer = page.getByRole('region').filter({ hasText: 'Configure Workflows Table' });
  await seen(drawer, 'the "Configure Workflows Table" drawer', page, url, timeout);
  const buttons = [...hide.map((c) => `Remove ${c} column`), ...add.map((c) => `Add ${c} column`)];
  for (const name of buttons) {
    const button = drawer.getByRole('button', { name, exact: true });
    await seen(button, `the table settings' "${name}" button`, page, url, timeout);
    await button.click({ timeout });
  }
  await drawer.getByRole('button', { name: 'Close Workflows Table configuration' }).click({ timeout });
  await drawer.waitFor({ state: 'hidden', timeout });
  for (const c of add) {
    await seen(
      page.getByRole('columnheader', { name: c, exact: true }),
      `a "${c}" column`,
      page,
      url,
      timeout,
    );
  }
}
