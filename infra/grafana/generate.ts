/**
 * `npm run dashboards`: writes each dashboard of ./dashboards.ts to
 * `infra/grafana/dashboards/<uid>.json`, the directory the provisioning file provider reads.
 * The files are committed; a unit test fails when they differ from what this would write.
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { dashboardJson, factoryDashboards } from './dashboards.js';

export const DASHBOARDS_DIR = join(import.meta.dirname, 'dashboards');

/** File name → JSON of every dashboard (2-space indented, trailing newline). */
export function dashboardFiles(): Map<string, string> {
  return new Map(factoryDashboards().map((d) => [`${d.uid}.json`, dashboardJson(d)]));
}

function main(): void {
  const files = dashboardFiles();
  mkdirSync(DASHBOARDS_DIR, { recursive: true });
  // A dashboard removed from the code must leave the directory too, or Grafana keeps showing it.
  for (const name of readdirSync(DASHBOARDS_DIR))
    if (name.endsWith('.json') && !files.has(name)) rmSync(join(DASHBOARDS_DIR, name));
  for (const [name, json] of files) writeFileSync(join(DASHBOARDS_DIR, name), json);
  console.log(`wrote ${[...files.keys()].join(', ')} to ${DASHBOARDS_DIR}`);
}

// Run as a script only; the unit test imports dashboardFiles to compare with the committed files.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
