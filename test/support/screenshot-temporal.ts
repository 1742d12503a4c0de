/**
 * Screenshots the running stack's open alarms in the Temporal Web UI:
 *
 *   npx tsx test/support/screenshot-temporal.ts <out.png> [visibility query]
 *
 * The newest workflow Temporal itself lists for the query is the row the UI must show before
 * the picture is taken, so the PNG is known to hold the live list. Addresses come from the
 * usual FACTORY_* settings.
 */
import { Client } from '@temporalio/client';
import { formatAddress, loadConfig } from '../../common/config.js';
import { connectTemporal, openAlarmsQuery } from '../../infra/servers/temporal.js';
import { launchBrowser, screenshotTemporalAlarms } from './browser.js';

const [file, query = openAlarmsQuery] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: npx tsx test/support/screenshot-temporal.ts <out.png> [visibility query]\n');
  process.exit(2);
}
const config = loadConfig();
const seconds = (since: number) => `${((Date.now() - since) / 1000).toFixed(1)}s`;

const connection = await connectTemporal(config);
let newest: string | undefined;
try {
  const client = new Client({ connection, namespace: config.temporalNamespace });
  for await (const wf of client.workflow.list({ query, pageSize: 1 })) {
    newest = wf.workflowId;
    break;
  }
} finally {
  await connection.close();
}
if (!newest) {
  process.stderr.write(`No workflow in ${config.temporalNamespace} matches ${query}: nothing to show.\n`);
  process.exit(1);
}

let t0 = Date.now();
const browser = await launchBrowser();
process.stdout.write(`chromium ${browser.version()} ready in ${seconds(t0)}\n`);
try {
  t0 = Date.now();
  await screenshotTemporalAlarms({
    uiUrl: `http://${formatAddress(config.temporalUi)}`,
    namespace: config.temporalNamespace,
    query,
    file,
    expectText: newest,
    browser,
  });
  process.stdout.write(`${file} (showing ${newest}) in ${seconds(t0)}\n`);
} finally {
  await browser.close();
}
