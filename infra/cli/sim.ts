/**
 * `factory sim`: runs a scenario file and writes its report. A wall-clock scenario runs
 * against a stack of its own (simulations/stack.ts) or, with --reuse, the running one; a
 * simulated one needs no stack at all. The verdicts decide the exit code: 0 when every
 * expectation passed, 1 otherwise.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Config } from '../../common/config.js';
import { renderCharts } from '../../simulations/charts.js';
import { resolveTargets } from '../../simulations/injectors.js';
import { judge } from '../../simulations/judge.js';
import type { RunRecord } from '../../simulations/record.js';
import { verdictTable, writeReport } from '../../simulations/report.js';
import { runWall } from '../../simulations/runner.js';
import {
  formatDuration,
  listScenarios,
  loadScenario,
  SCENARIOS_DIR,
  type Scenario,
  type ScenarioOptions,
} from '../../simulations/scenario.js';
import { runSimulated } from '../../simulations/simulated.js';
import {
  freshStack,
  liveMachines,
  releaseStack,
  reusedStack,
  SIM_ENV,
  type SimStack,
} from '../../simulations/stack.js';
import { type Output, table } from '../supervisor/output.js';
import { components, StackError } from '../supervisor/stack.js';

const scenarioOptions = (config: Config): ScenarioOptions => ({
  fleetFile: config.fleetFile,
  pipeline: config.pipeline,
});

/** `factory sim --list`: every scenario of the library; a bad file with its first problem. */
export function renderScenarioList(config: Config): string {
  const rows = listScenarios(SCENARIOS_DIR, scenarioOptions(config));
  const good = rows.flatMap((r) => (r.ok ? [[r.name, formatDuration(r.durationMs), r.clock, r.title]] : []));
  const bad = rows.flatMap((r) => (r.ok ? [] : [`  ${r.name}: ${r.problem}`]));
  return [
    table([['NAME', 'DURATION', 'CLOCK', 'TITLE'], ...good]),
    ...(bad.length ? ['', `${bad.length} file${bad.length > 1 ? 's' : ''} cannot be run:`, ...bad] : []),
    '',
    `Run one with: factory sim <name> (files in ${SCENARIOS_DIR})`,
  ].join('\n');
}

/** A scenario named on the command line: a file path, or the name of one in the library. */
export function scenarioFile(arg: string): string | undefined {
  if (arg.endsWith('.yaml') || arg.includes('/')) return existsSync(arg) ? resolve(arg) : undefined;
  const file = join(SCENARIOS_DIR, `${arg}.yaml`);
  return existsSync(file) ? file : undefined;
}

/** The file, checked completely; the problems (file:line:column) as the error otherwise. */
export function loadForRun(
  config: Config,
  file: string,
): { ok: true; scenario: Scenario } | { ok: false; reason: string } {
  const r = loadScenario(file, scenarioOptions(config));
  return r.ok ? { ok: true, scenario: r.value } : { ok: false, reason: r.reason };
}

export interface SimRequest {
  scenario: Scenario;
  reuse: boolean;
  keep: boolean;
  outDir: string;
}

/** Runs the scenario, writes the report, prints the verdicts; 0 when all passed, 1 otherwise. */
export async function sim(config: Config, req: SimRequest, out: Output): Promise<number> {
  const { scenario } = req;
  out.line(
    `Scenario ${scenario.name}: ${scenario.title} (${formatDuration(scenario.durationMs)}, ${scenario.clock} clock).`,
  );
  const record =
    scenario.clock === 'simulated'
      ? await runSimulated(scenario, config, out)
      : await onStack(config, req, out);
  const verdicts = judge(scenario.expect, record.facts);
  out.line('Rendering the charts…');
  const charts = await renderCharts(record);
  const report = writeReport(req.outDir, record, verdicts, charts);
  out.line('');
  out.line(verdictTable(verdicts));
  out.line('');
  out.line(
    `${report.pass ? 'PASSED' : 'FAILED'}: report in ${join(report.dir, 'report.md')} (and report.json).`,
  );
  return report.pass ? 0 : 1;
}

async function onStack(config: Config, req: SimRequest, out: Output): Promise<RunRecord> {
  const { scenario } = req;
  const stack: SimStack = req.reuse ? await reusedStack(config) : await freshStack(scenario.fleet, out);
  try {
    checkProcesses(stack.config, scenario);
    if (scenario.timeline.some((e) => e.kind === 'network') && !stack.config.linkProxies.enabled)
      throw new StackError(
        `${scenario.name} impairs a network link, and the running stack has no proxies on its links: run it on a stack of its own (without --reuse), or start the stack with FACTORY_LINK_PROXIES=1.`,
      );
    const machines = await liveMachines(stack.config);
    if (req.reuse && machines.length !== scenario.fleet.machines)
      out.line(
        `Note: the running stack has ${machines.length} machines, the scenario was written for ${scenario.fleet.machines}; targets are drawn from the running fleet.`,
      );
    for (const [i, reached] of resolveTargets(scenario, machines)) {
      const e = scenario.timeline[i]!;
      if (reached.length === 0 && e.kind === 'fault')
        throw new StackError(
          `timeline[${i}] targets ${e.target.pattern}, which matches no machine of the running fleet (${machines.length} machines): run it on a stack of its own (without --reuse).`,
        );
    }
    out.line(`Running the timeline against ${machines.length} machines…`);
    return await runWall(stack.config, scenario, machines, out);
  } finally {
    if (req.keep && stack.own)
      out.line(
        `The simulation stack keeps running (--keep). Take it down with:\n  ${Object.entries(SIM_ENV)
          .map(([k, v]) => `${k}=${v}`)
          .join(' ')} factory down`,
      );
    else await releaseStack(stack, out);
  }
}

/** Every process the timeline kills or pauses must be one the stack runs. */
function checkProcesses(config: Config, scenario: Scenario): void {
  const names = new Set(components(config).map((c) => c.name));
  for (const e of scenario.timeline) {
    const name =
      e.kind === 'kill' || e.kind === 'pause' ? e.process.name : e.kind === 'stop' ? e.server : undefined;
    if (name !== undefined && !names.has(name))
      throw new StackError(
        `The scenario acts on ${name}, which this stack does not run (it runs ${[...names].join(', ')}).`,
      );
  }
}
