import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../common/config.js';
import type { Output } from '../infra/supervisor/output.js';
import { renderCharts } from './charts.js';
import { resolveTargets } from './injectors.js';
import { type FaultRecord, judge, type SeenAlarm } from './judge.js';
import { writeReport } from './report.js';
import { loadScenario, parseScenario, SCENARIOS_DIR, type Scenario, scenarioMachines } from './scenario.js';
import { runSimulated } from './simulated.js';

const scratch = mkdtempSync(join(tmpdir(), 'factory-sim-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const quiet: Output = { line() {}, progress() {} };

function scenario(text: string): Scenario {
  const r = parseScenario(text, 'case.yaml');
  if (!r.ok) throw new Error(r.reason);
  return r.value;
}
const library = (name: string): Scenario => {
  const r = loadScenario(join(SCENARIOS_DIR, `${name}.yaml`));
  if (!r.ok) throw new Error(r.reason);
  return r.value;
};

describe('targets', () => {
  it('draws a share with the seed: the same machines every time, round(share × matched)', () => {
    const s = library('flood');
    const machines = scenarioMachines(s);
    const a = resolveTargets(s, machines).get(0)!;
    const b = resolveTargets(s, machines).get(0)!;
    expect(a.map((m) => m.machineId)).toEqual(b.map((m) => m.machineId));
    expect(a).toHaveLength(10); // 0.33 of line-2's 30
    expect(new Set(a.map((m) => m.line))).toEqual(new Set(['line-2']));
    const other = resolveTargets({ ...s, seed: s.seed + 1 }, machines).get(0)!;
    expect(other.map((m) => m.machineId)).not.toEqual(a.map((m) => m.machineId));
  });
});

describe('the judge', () => {
  const t0 = 1_000_000;
  const fault = (machineId: string, at: number, cleared: number | null): FaultRecord => ({
    entry: 0,
    machineId,
    line: 'line-1',
    type: 'cnc-mill',
    fault: 'overheat',
    injectedAt: t0 + at,
    clearedAt: cleared === null ? null : t0 + cleared,
  });
  const alarm = (machineId: string | null, rule: string, at: number, line = 'line-1'): SeenAlarm => ({
    alarmId: `${machineId ?? `plant-1/${line}`}.${rule}.1`,
    machineId,
    line,
    rule,
    severity: 'high',
    transition: 'RAISED',
    value: 80,
    limit: 78,
    at: t0 + at,
  });
  const facts = (alarms: SeenAlarm[]) => ({
    startedAt: t0,
    endedAt: t0 + 300_000,
    faults: [fault('M-0001', 30_000, 120_000), fault('M-0002', 30_000, null)],
    platform: [],
    alarms,
  });
  const verdict = (v: ReturnType<typeof judge>, key: string) => v.find((x) => x.expectation === key)!;

  it('passes alarms within the limit and fails a late or wrong-rule one, with the figure', () => {
    const expect_ = {
      noLoss: false,
      noAlarms: false,
      alarms: { withinMs: 60_000, rules: ['temperature-high'] },
    };
    const ok = judge(
      expect_,
      facts([alarm('M-0001', 'temperature-high', 70_000), alarm('M-0002', 'temperature-high', 85_000)]),
    );
    expect(verdict(ok, 'alarms')).toMatchObject({
      pass: true,
      figure: '2/2 within 1m, slowest 55s',
      value: 55_000,
    });
    const late = judge(
      expect_,
      facts([alarm('M-0001', 'temperature-high', 70_000), alarm('M-0002', 'fault', 50_000)]),
    );
    expect(verdict(late, 'alarms')).toMatchObject({
      pass: false,
      figure: '1/2 within 1m, slowest 40s; missed M-0002',
    });
    const recall = judge({ ...expect_, recall: 0.5 }, facts([alarm('M-0001', 'temperature-high', 70_000)]));
    expect(verdict(recall, 'alarms').pass).toBe(true);
    expect(verdict(recall, 'recall')).toMatchObject({ pass: true, figure: '50% (1/2)' });
  });

  it('counts alarms on healthy machines, or after the grace, against precision', () => {
    const v = judge(
      { noLoss: false, noAlarms: false, precision: 0.9 },
      facts([
        alarm('M-0001', 'temperature-high', 70_000),
        alarm('M-0001', 'fault', 170_000), // 50 s after the clear: within the 60 s grace
        alarm('M-0001', 'fault', 200_000), // 80 s after: not caused
        alarm('M-0009', 'comms-loss', 100_000),
      ]),
    );
    expect(verdict(v, 'precision')).toMatchObject({ pass: false, value: 0.5 });
    expect(verdict(v, 'precision').figure).toMatch(/^50% \(2\/4\); false: M-0001 fault, M-0009 comms-loss$/);
  });

  it('judges noAlarms, flood and recovery', () => {
    const v = judge(
      { noLoss: false, noAlarms: true, flood: { withinMs: 180_000 }, recovery: { withinMs: 30_000 } },
      {
        ...facts([alarm(null, 'flood', 100_000)]),
        platform: [
          {
            entry: 1,
            kind: 'kill',
            target: 'worker-1',
            startedAt: t0 + 60_000,
            endedAt: t0 + 60_000,
            healthyAgainAt: t0 + 70_000,
            recoveredAt: t0 + 72_500,
          },
        ],
      },
    );
    expect(verdict(v, 'noAlarms')).toMatchObject({ pass: false, value: 1 });
    expect(verdict(v, 'flood')).toMatchObject({ pass: true, figure: 'line-1: after 1m10s' });
    expect(verdict(v, 'recovery')).toMatchObject({ pass: true, figure: 'worker-1: 12.5 s', value: 12_500 });
  });

  it('fails noLoss and tickets when they could not be measured', () => {
    const v = judge({ noLoss: true, noAlarms: false, tickets: { opened: 1, closed: 0 } }, facts([]));
    expect(verdict(v, 'noLoss')).toMatchObject({ pass: false, figure: 'not measured' });
    expect(verdict(v, 'tickets')).toMatchObject({ pass: false, figure: 'not measured' });
  });
});

describe('a scenario on simulated time', { timeout: 120_000 }, () => {
  it('runs the headless model through the analytics, and reports with charts', async () => {
    const s = scenario(
      [
        'name: case',
        'title: Two mills overheat',
        'description: On simulated time.',
        'fleet: { machines: 10 }',
        'duration: 15m',
        'seed: 11',
        'clock: simulated',
        'timeline:',
        '  - { at: 2m, fault: overheat, machines: line-1/M-0001, params: { extraC: 300 }, for: 8m }',
        '  - { at: 3m, fault: sensor_stuck, machines: M-0002, params: { field: temperature }, for: 2m }',
        'expect:',
        '  alarms: { within: 2m, rules: [temperature-high, temperature-stuck] }',
        '  precision: 0.9',
      ].join('\n'),
    );
    const record = await runSimulated(s, loadConfig({}), quiet);
    const again = await runSimulated(s, loadConfig({}), quiet);
    expect(again.facts.alarms).toEqual(record.facts.alarms); // it replays exactly
    const verdicts = judge(s.expect, record.facts);
    expect(verdicts.map((v) => [v.expectation, v.pass])).toEqual([
      ['alarms', true],
      ['recall', true],
      ['precision', true],
    ]);
    const charts = await renderCharts(record);
    expect(charts.map((c) => c.file)).toEqual(['machine-M-0001.svg', 'machine-M-0002.svg', 'alarms.svg']);
    const report = writeReport(scratch, record, verdicts, charts);
    expect(report.pass).toBe(true);
    const json = JSON.parse(readFileSync(join(report.dir, 'report.json'), 'utf8'));
    expect(json.verdicts).toHaveLength(3);
    expect(json.detections.map((d: { rule: string }) => d.rule)).toEqual([
      'temperature-high',
      'temperature-stuck',
    ]);
    const md = readFileSync(join(report.dir, 'report.md'), 'utf8');
    expect(md).toMatch(/^# Two mills overheat\n\n\*\*PASSED\*\*/);
    expect(md.indexOf('## Verdicts')).toBeLessThan(md.indexOf('## Timeline as executed'));
    const svg = readFileSync(join(report.dir, 'machine-M-0001.svg'), 'utf8');
    expect(svg).toMatch(/^<svg/);
    expect(svg).toContain('M-0001');
    expect(existsSync(join(report.dir, 'alarms.svg'))).toBe(true);
  });

  it('a fault that ends by itself closes its window then, and the chart breaks its line over the silence', async () => {
    const s = scenario(
      [
        'name: case',
        'title: A silent conveyor',
        'description: On simulated time.',
        'fleet: { machines: 10 }',
        'duration: 6m',
        'seed: 12',
        'clock: simulated',
        'timeline:',
        '  - { at: 2m, fault: sensor_dropout, machines: M-0008, params: { durationS: 60 } }',
        'expect:',
        '  alarms: { within: 1m, rules: [comms-loss] }',
      ].join('\n'),
    );
    const record = await runSimulated(s, loadConfig({}), quiet);
    const [f] = record.facts.faults;
    expect(f!.clearedAt! - f!.injectedAt!).toBe(60_000);
    expect(judge(s.expect, record.facts).every((v) => v.pass)).toBe(true);
    const chart = (await renderCharts(record)).find((c) => c.file === 'machine-M-0008.svg')!;
    // One line path before the silence and one after it, not one drawn across it.
    expect(chart.svg.match(/stroke="#1f4e79"/g)).toHaveLength(2);
  });
});
