/**
 * The report of a run, in `reports/sim/<name>-<UTC time>/`: `report.json` for machines (the
 * scenario, the timings, every verdict with its figure, the timeline as executed, per-fault
 * detection times) and `report.md` for a plant engineer (the verdicts first, then what
 * happened when, then the details and the charts as SVG files next to it).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { table } from '../infra/supervisor/output.js';
import type { Chart } from './charts.js';
import { type Detection, detections, type Verdict } from './judge.js';
import type { RunRecord } from './record.js';
import { timelineText } from './record.js';
import { formatDuration } from './scenario.js';

export interface Report {
  dir: string;
  verdicts: Verdict[];
  pass: boolean;
}

/** `overheat-line-20261124T153012Z`: the scenario and when the run started (on the wall clock), sortable. */
export const reportDirName = (name: string, startedAt: number) =>
  `${name}-${new Date(startedAt).toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '')}`;

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
/** Seconds with a tenth for what a person compares (detection, recovery); whole units past ten minutes. */
const sec = (ms: number | null) =>
  ms === null ? '–' : ms < 600_000 ? `${(ms / 1000).toFixed(1)} s` : formatDuration(ms);

export function writeReport(outDir: string, record: RunRecord, verdicts: Verdict[], charts: Chart[]): Report {
  const { scenario, facts } = record;
  // A simulated run starts at a fixed simulated instant: its directory is named by the wall clock.
  const dir = join(
    outDir,
    reportDirName(scenario.name, scenario.clock === 'simulated' ? Date.now() : facts.startedAt),
  );
  mkdirSync(dir, { recursive: true });
  const pass = verdicts.every((v) => v.pass);
  const found: Detection[] = detections(facts.faults, facts.alarms, scenario.expect.alarms?.rules);
  const json = {
    scenario: {
      name: scenario.name,
      title: scenario.title,
      clock: record.clock,
      seed: scenario.seed,
      fleet: scenario.fleet,
      durationMs: scenario.durationMs,
      expect: scenario.expect,
    },
    stack: record.stack,
    machines: record.machines,
    startedAt: iso(facts.startedAt),
    endedAt: iso(facts.endedAt),
    ranForMs: facts.endedAt - facts.startedAt,
    pass,
    verdicts,
    timeline: record.steps,
    faults: facts.faults.map((f) => ({
      ...f,
      injectedAt: iso(f.injectedAt),
      clearedAt: iso(f.clearedAt),
    })),
    detections: found.map((x) => ({ ...x, injectedAt: iso(x.injectedAt), detectedAt: iso(x.detectedAt) })),
    platform: facts.platform.map((p) => ({
      ...p,
      startedAt: iso(p.startedAt),
      endedAt: iso(p.endedAt),
      healthyAgainAt: iso(p.healthyAgainAt),
      recoveredAt: iso(p.recoveredAt),
      restartMs: p.endedAt !== null && p.healthyAgainAt !== null ? p.healthyAgainAt - p.endedAt : null,
      recoveryMs: p.endedAt !== null && p.recoveredAt !== null ? p.recoveredAt - p.endedAt : null,
    })),
    alarms: facts.alarms.map((a) => ({ ...a, at: iso(a.at) })),
    loss: facts.loss ?? null,
    tickets: facts.tickets ?? null,
    charts: charts.map((c) => c.file),
  };
  writeFileSync(join(dir, 'report.json'), `${JSON.stringify(json, null, 2)}\n`);
  for (const c of charts) writeFileSync(join(dir, c.file), c.svg);
  writeFileSync(join(dir, 'report.md'), markdown(record, verdicts, charts, found));
  return { dir, verdicts, pass };
}

/** The verdicts as the CLI prints them at the end. */
export const verdictTable = (verdicts: Verdict[]) =>
  table([
    ['EXPECTATION', 'VERDICT', 'MEASURED'],
    ...verdicts.map((v) => [v.expectation, v.pass ? 'pass' : 'FAIL', v.figure]),
  ]);

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function markdown(record: RunRecord, verdicts: Verdict[], charts: Chart[], found: Detection[]): string {
  const { scenario, facts } = record;
  const pass = verdicts.every((v) => v.pass);
  const failed = verdicts.filter((v) => !v.pass).length;
  const lines: string[] = [
    `# ${scenario.title}`,
    '',
    `**${pass ? 'PASSED' : `FAILED: ${failed} of ${verdicts.length} expectations not met`}** · scenario \`${scenario.name}\` · ${record.clock === 'wall' ? 'wall-clock' : 'simulated'} time · ${formatDuration(scenario.durationMs)} · ${record.machines} machines · seed ${scenario.seed} · started ${new Date(facts.startedAt).toISOString()}`,
    '',
    scenario.description.trim(),
    '',
    '## Verdicts',
    '',
    '| expectation | expected | verdict | measured |',
    '| --- | --- | --- | --- |',
    ...verdicts.map(
      (v) =>
        `| ${v.expectation} | ${cell(v.expected)} | ${v.pass ? 'pass' : '**FAIL**'} | ${cell(v.figure)} |`,
    ),
    '',
    '## Timeline as executed',
    '',
    ...timelineOf(record),
    '',
  ];
  if (found.length > 0) {
    lines.push(
      '## Faulted machines',
      '',
      '| machine | line | fault | injected at | first alarm | rule | after | tripped to FAULT after | warning ahead of the trip |',
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
      ...found.map(
        (x) =>
          `| ${x.machineId} | ${x.line} | ${x.fault} | ${formatDuration(x.injectedAt - facts.startedAt)} | ${x.alarmId ?? 'none'} | ${x.rule ?? '–'} | ${sec(x.latencyMs)} | ${x.trippedAt === null ? 'no trip' : sec(x.trippedAt - x.injectedAt)} | ${x.trippedAt === null || x.detectedAt === null || x.rule === 'fault' ? '–' : sec(x.trippedAt - x.detectedAt)} |`,
      ),
      '',
    );
    const problems = facts.faults.filter((f) => f.problem);
    for (const f of problems) lines.push(`- ${f.machineId}: ${f.problem}`);
    if (problems.length) lines.push('');
  }
  if (facts.platform.length > 0) {
    lines.push(
      '## Platform faults',
      '',
      '| fault | target | started | ended | healthy again after | every machine stored again after |',
      '| --- | --- | --- | --- | --- | --- |',
      ...facts.platform.map(
        (p) =>
          `| ${p.kind} | ${p.target} | ${formatDuration(p.startedAt - facts.startedAt)} | ${p.endedAt === null ? '–' : formatDuration(p.endedAt - facts.startedAt)} | ${p.endedAt !== null && p.healthyAgainAt !== null ? sec(p.healthyAgainAt - p.endedAt) : 'not seen'} | ${p.endedAt !== null && p.recoveredAt !== null ? sec(p.recoveredAt - p.endedAt) : 'not within the run'} |`,
      ),
      '',
    );
  }
  const raised = facts.alarms.filter((a) => a.transition === 'RAISED');
  lines.push(
    '## Details',
    '',
    `- Alarms raised: ${raised.length}${raised.length ? ` (${[...new Set(raised.map((a) => a.rule))].join(', ')})` : ''}.`,
  );
  if (facts.loss)
    lines.push(
      facts.loss.problem
        ? `- Loss check: not measured (${facts.loss.problem}).`
        : `- Loss check over the run: ${facts.loss.published} published, ${facts.loss.stored} stored, ${facts.loss.lost} lost, ${facts.loss.duplicates} duplicates.`,
    );
  if (facts.tickets)
    lines.push(
      `- Maintenance tickets: ${facts.tickets.opened} opened, ${facts.tickets.closed} closed${facts.tickets.problem ? ` (${facts.tickets.problem})` : ''}.`,
    );
  lines.push(`- Ran on: ${record.stack}.`, '');
  if (charts.length) {
    lines.push('## Charts', '');
    for (const c of charts) lines.push(`### ${c.title}`, '', `![${c.title}](${c.file})`, '');
  }
  return `${lines.join('\n')}\n`;
}

/** Each step with its actual time; the entry it belongs to and that entry's planned time. */
function timelineOf(record: RunRecord): string[] {
  const { scenario, steps } = record;
  const at = (ms: number) => (record.clock === 'wall' ? `${(ms / 1000).toFixed(1)} s` : formatDuration(ms));
  return [
    '| at | planned | entry | what happened |',
    '| --- | --- | --- | --- |',
    ...steps.map((s) => {
      const e = s.entry === null ? undefined : scenario.timeline[s.entry];
      return `| ${at(s.atMs)} | ${s.plannedMs === undefined ? '–' : formatDuration(s.plannedMs)} | ${e ? cell(timelineText(e)) : '–'} | ${cell(s.what)} |`;
    }),
  ];
}
