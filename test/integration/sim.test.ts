import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../common/config.js';
import { sendCommand } from '../../infra/cli/command.js';
import { status } from '../../infra/supervisor/stack.js';
import { factory, testConfig } from './stack-env.js';

/**
 * The two CI scenarios end to end with `factory sim --reuse` on the suite's stack, as an
 * operator would run them: one machine fault, one platform fault, each under three minutes,
 * each with a passing report whose charts are there to read.
 */
const out = join(projectRoot, '.test-data', 'sim-reports');
/** Getting the first scenario's mill back in service, while the second scenario runs. */
let cooling: Promise<void> = Promise.resolve();
afterAll(async () => {
  rmSync(out, { recursive: true, force: true });
  await cooling;
}, 150_000);

interface ReportJson {
  pass: boolean;
  verdicts: { expectation: string; pass: boolean; figure: string; value?: number | null }[];
  detections: { machineId: string; latencyMs: number | null }[];
  platform: { target: string; restartMs: number | null; recoveryMs: number | null }[];
  charts: string[];
}

async function run(name: string) {
  const started = Date.now();
  const r = await factory(['sim', name, '--reuse', '--out', out], {}, 240_000);
  const seconds = (Date.now() - started) / 1000;
  const where = /report in (\S+report\.md)/.exec(r.stdout)?.[1];
  expect(where, `${r.stdout}\n${r.stderr}`).toBeDefined();
  const dir = dirname(where!);
  const json = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as ReportJson;
  return { r, seconds, dir, json, md: readFileSync(where!, 'utf8') };
}

/**
 * The mill may have tripped and still be too hot to reset when the run ended: the files after
 * this one get it back in service (CLEAR_FAULT is refused until it has cooled, 1–2 min).
 */
async function leaveCool(machineId: string) {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const a = await sendCommand(
      testConfig(),
      machineId,
      { type: 'CLEAR_FAULT' },
      { timeoutMs: 15_000 },
    ).catch(() => undefined);
    if (a?.ok && a.state !== 'FAULT') return;
    await new Promise((r) => setTimeout(r, 5_000));
  }
}

/** A chart that says something: an SVG of some size naming what it shows. */
function expectChart(dir: string, file: string, mentions: string) {
  const svg = readFileSync(join(dir, file), 'utf8');
  expect(svg.startsWith('<svg')).toBe(true);
  expect(statSync(join(dir, file)).size).toBeGreaterThan(5_000);
  expect(svg).toContain(mentions);
}

describe('factory sim on the suite stack', { timeout: 420_000 }, () => {
  it('ci-machine-fault: the overheating mill alarms within a minute, nothing lost', async () => {
    const { r, seconds, dir, json, md } = await run('ci-machine-fault');
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(seconds).toBeLessThan(180);
    expect(json.pass).toBe(true);
    expect(json.verdicts.map((v) => [v.expectation, v.pass])).toEqual([
      ['noLoss', true],
      ['alarms', true],
      ['recall', true],
    ]);
    expect(json.verdicts.find((v) => v.expectation === 'noLoss')!.value).toBe(0);
    const [d] = json.detections;
    expect(d!.machineId).toBe('M-0001');
    // The mill passes 78 °C 25-50 s after the injection (the scenario's comment); a few seconds either way.
    expect(d!.latencyMs).toBeGreaterThan(10_000);
    expect(d!.latencyMs).toBeLessThanOrEqual(60_000);
    expect(md).toMatch(/^# CI: one overheating machine\n\n\*\*PASSED\*\*/);
    expect(json.charts).toEqual(['machine-M-0001.svg', 'alarms.svg', 'throughput.svg']);
    expectChart(dir, 'machine-M-0001.svg', 'M-0001');
    expectChart(dir, 'alarms.svg', 'M-0001');
    expectChart(dir, 'throughput.svg', 'Storage through the run');
    expect(readdirSync(dir).sort()).toEqual([
      'alarms.svg',
      'machine-M-0001.svg',
      'report.json',
      'report.md',
      'throughput.svg',
    ]);
    cooling = leaveCool('M-0001');
  });

  it('ci-platform-fault: a killed worker is restarted, every machine reports within 30 s, and the stack stays healthy', async () => {
    const { r, seconds, dir, json, md } = await run('ci-platform-fault');
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(seconds).toBeLessThan(180);
    expect(json.verdicts.map((v) => [v.expectation, v.pass])).toEqual([
      ['noLoss', true],
      ['recovery', true],
    ]);
    const [p] = json.platform;
    expect(p!.target).toBe('worker-1');
    expect(p!.restartMs).toBeGreaterThan(0);
    expect(p!.recoveryMs).toBeGreaterThan(0);
    expect(p!.recoveryMs).toBeLessThanOrEqual(30_000);
    expect(md).toMatch(/\| kill \| worker-1 \|/);
    expect(json.charts).toContain('throughput.svg');
    expectChart(dir, 'throughput.svg', 'worker-1');
    // The keeper restarted worker-1: the suite's stack is as healthy as before.
    const rows = await status(testConfig());
    expect(rows.filter((row) => !row.healthy).map((row) => `${row.name}: ${row.detail}`)).toEqual([]);
  });
});
