/**
 * Fault-injection scenarios, `simulations/scenarios/*.yaml`: a fleet, a duration, a seed, a
 * timeline of machine and platform faults, and the expectations a run is judged by. A file is
 * parsed here once into a typed value, and every problem names the file, the line and the field
 * (common/yaml-file.ts). The runner (`factory sim`) trusts what it gets from here.
 * docs/simulations.md documents every field for the people who write these files.
 */
import { readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { z } from 'zod';
import {
  FAULT_KINDS,
  type FaultKind,
  faultParamsSchemas,
  type InjectFault,
  injectFaultSchema,
} from '../actors/commands.js';
import { DEFAULT_FLEET_FILE, deriveFleet, type FleetMachine, loadFleet } from '../actors/fleet.js';
import { loadRuleBook } from '../analytics/rules.js';
import { type Config, loadConfig } from '../common/config.js';
import { formatDuration, parseDuration } from '../common/duration.js';
import { machineMatcher, machinePatternProblem } from '../common/machine-pattern.js';
import { loadYamlFile, parseYamlText, type YamlResult } from '../common/yaml-file.js';

export { formatDuration, parseDuration };

export const SCENARIOS_DIR = join(import.meta.dirname, 'scenarios');

/**
 * `wall`: real time against the live stack. `simulated`: the headless machine model and the same
 * analytics code on simulated time (a week in minutes), so there is no platform to fault.
 */
export const CLOCKS = ['wall', 'simulated'] as const;
export type Clock = (typeof CLOCKS)[number];

/** Servers a scenario may stop and restart (the names `factory status` shows). */
export const SERVERS = ['mosquitto', 'kafka', 'nats', 'influxdb', 'temporal'] as const;
export type ServerName = (typeof SERVERS)[number];

/** Platform processes a scenario may kill or pause; instance n is named `<role>-<n>`. */
export const PROCESS_ROLES = ['worker', 'bridge', 'writer', 'analytics', 'workflows'] as const;
export type ProcessRole = (typeof PROCESS_ROLES)[number];

/** Which server each role talks to: the links a network fault can be put on (a proxy in between). */
export const NETWORK_LINKS = {
  bridge: ['kafka', 'mosquitto'],
  worker: ['mosquitto'],
  writer: ['influxdb', 'kafka'],
  analytics: ['kafka'],
  workflows: ['temporal'],
} as const satisfies Record<ProcessRole, readonly ServerName[]>;

export const MAX_MACHINES = 20_000;
export const MAX_WORKERS = 16;

/**
 * For precision: an alarm on a faulted machine up to this long after its fault was cleared
 * still counts as caused by it (the same grace as `factory bench --alarms`).
 */
export const PRECISION_GRACE_MS = 60_000;

/** Machines a fault goes to: those `pattern` matches, or a random `share` of them drawn with the seed. */
export interface Target {
  pattern: string;
  share?: number;
}

/** One platform process, as `factory status` names it (`worker-1`). */
export interface ProcessRef {
  role: ProcessRole;
  index: number;
  name: string;
}

export type NetworkEffect =
  | { kind: 'latency'; latencyMs: number; jitterMs: number }
  | { kind: 'bandwidth'; kBps: number }
  | { kind: 'partition' };

export interface NetworkFault {
  from: ProcessRole;
  to: ServerName;
  effect: NetworkEffect;
}

/** One step of the timeline, by kind; times in ms from the start of the run. */
export type TimelineEntry =
  /** INJECT_FAULT to the target's machines; CLEAR_FAULT after `forMs` when given. */
  | { kind: 'fault'; atMs: number; forMs?: number; target: Target; inject: InjectFault }
  /** SIGKILL; the keeper restarts the process. */
  | { kind: 'kill'; atMs: number; process: ProcessRef }
  /** SIGSTOP, then SIGCONT after `forMs`. */
  | { kind: 'pause'; atMs: number; forMs: number; process: ProcessRef }
  /** SIGKILL (SIGTERM when graceful), then started again after `forMs`. */
  | { kind: 'stop'; atMs: number; forMs: number; server: ServerName; graceful: boolean }
  /** Latency, a bandwidth limit or a partition on one link, removed after `forMs`. */
  | { kind: 'network'; atMs: number; forMs: number; network: NetworkFault };

export type TimelineKind = TimelineEntry['kind'];

export interface Expectations {
  /** `factory verify` passes at the end (duplicates allowed). */
  noLoss: boolean;
  /** No alarm at all is raised during the run. */
  noAlarms: boolean;
  /** Faulted machines raise an alarm (one of `rules`, when given) within `withinMs` of their fault. */
  alarms?: { withinMs: number; rules?: string[] };
  /** Share of machine alarms raised on faulted machines, during the fault or PRECISION_GRACE_MS after. */
  precision?: number;
  /** Share of faulted machines that must meet `alarms`: 1 unless the file says less. */
  recall?: number;
  /** At least this many maintenance tickets opened, and closed, during the run. */
  tickets?: { opened: number; closed: number };
  /** After each platform fault ends, every machine's readings reach InfluxDB again within this. */
  recovery?: { withinMs: number };
  /** A flood alarm on each of `lines` (default: every line with a faulted machine) within this of its first fault. */
  flood?: { withinMs: number; lines?: string[] };
}

export interface Scenario {
  version: 1;
  name: string;
  title: string;
  description: string;
  fleet: { machines: number; workers: number };
  durationMs: number;
  seed: number;
  clock: Clock;
  /** In file order; the runner orders by time. */
  timeline: TimelineEntry[];
  expect: Expectations;
}

/** How many of each pipeline process the stack runs (the bridge-N, writer-N … a scenario may name). */
export type PipelineCounts = Pick<
  Config['pipeline'],
  'bridges' | 'writers' | 'analytics' | 'workflowWorkers'
>;

export interface ScenarioOptions {
  /** The fleet file the scenario's machines come from (the runner passes config.fleetFile). */
  fleetFile?: string;
  /** The stack's process counts (the runner passes config.pipeline); default: the configuration's defaults. */
  pipeline?: PipelineCounts;
}

// ---------------------------------------------------------------------------------------------
// The shape of a file. Checks that need one field are here; checks across fields, or against
// the fleet and the stack, follow in `crossCheck`.

const DURATION_HINT = 'a whole number and a unit, such as 90s, 4m, 2h or 7d';

const duration = z.string({ error: `expected a duration: ${DURATION_HINT}` }).transform((text, ctx) => {
  const ms = parseDuration(text);
  if (ms !== undefined) return ms;
  ctx.addIssue({ code: 'custom', message: `"${text}" is not a duration: expected ${DURATION_HINT}` });
  return z.NEVER;
});
const positiveDuration = duration.refine((ms) => ms > 0, 'expected a duration longer than 0s');

const share = (what: string) =>
  z
    .number({ error: `expected ${what} as a number from 0 to 1` })
    .min(0)
    .max(1, `expected ${what} ≤ 1`);

const TARGET_HINT =
  'expected a machine id or pattern ("M-0003", "line-2/*", "line-1/M-00*") or { pattern, share }';
const SHARE_HINT = 'expected a share of the matched machines, 0 < share ≤ 1';

/**
 * A target is written as a pattern or as { pattern, share }. Shapes first, then one check of the
 * pattern wherever it was written (a union of two refined branches would hide which one failed).
 */
const targetSchema = z
  .union(
    [
      z.string(),
      z.strictObject({
        pattern: z.string({ error: TARGET_HINT }),
        share: z.number({ error: SHARE_HINT }).gt(0, SHARE_HINT).max(1, SHARE_HINT).optional(),
      }),
    ],
    { error: TARGET_HINT },
  )
  .transform((t, ctx): Target => {
    const target = typeof t === 'string' ? { pattern: t } : t;
    const at = typeof t === 'string' ? [] : ['pattern'];
    const problem = machinePatternProblem(target.pattern);
    if (problem) ctx.addIssue({ code: 'custom', path: at, message: problem });
    if (target.share !== undefined && !target.pattern.includes('*'))
      ctx.addIssue({
        code: 'custom',
        path: ['share'],
        message: `a share is drawn from the machines a pattern matches; "${target.pattern}" is one machine`,
      });
    return ctx.issues.length > 0 ? z.NEVER : target;
  });

const PROCESS_NAME = new RegExp(`^(${PROCESS_ROLES.join('|')})-([1-9]\\d{0,2})$`);
const PROCESS_HINT = `expected a platform process: ${PROCESS_ROLES.map((r) => `${r}-N`).join(', ')}`;
const isServer = (s: string): s is ServerName => (SERVERS as readonly string[]).includes(s);

const processRef = z.string({ error: PROCESS_HINT }).transform((name, ctx): ProcessRef => {
  const m = PROCESS_NAME.exec(name);
  if (m) return { role: m[1] as ProcessRole, index: Number(m[2]), name };
  ctx.addIssue({
    code: 'custom',
    message: isServer(name) ? `${name} is a server: write "stop: ${name}" (with for)` : PROCESS_HINT,
  });
  return z.NEVER;
});

const SERVER_HINT = `expected a server: ${SERVERS.join(', ')}`;
const serverName = z.string({ error: SERVER_HINT }).transform((name, ctx): ServerName => {
  if (isServer(name)) return name;
  ctx.addIssue({
    code: 'custom',
    message: PROCESS_NAME.test(name)
      ? `${name} is a process: write "kill: ${name}" or "pause: ${name}"`
      : SERVER_HINT,
  });
  return z.NEVER;
});

const LINKS_HINT = Object.entries(NETWORK_LINKS)
  .flatMap(([from, tos]) => tos.map((to) => `${from}→${to}`))
  .join(', ');

const networkSchema = z
  .strictObject({
    from: z.enum(PROCESS_ROLES, { error: `expected one of ${PROCESS_ROLES.join(', ')}` }),
    to: z.enum(SERVERS, { error: SERVER_HINT }),
    latencyMs: z.number().int().min(1).max(60_000).optional(),
    jitterMs: z.number().int().min(0).max(60_000).optional(),
    bandwidthKBps: z.number().int().min(1).max(1_000_000).optional(),
    partition: z.literal(true, { error: 'partition: true cuts the link; leave it out otherwise' }).optional(),
  })
  .transform((n, ctx): NetworkFault => {
    if (!(NETWORK_LINKS[n.from] as readonly string[]).includes(n.to))
      ctx.addIssue({
        code: 'custom',
        path: ['to'],
        message: `${n.from} does not talk to ${n.to}; links: ${LINKS_HINT}`,
      });
    const effects = (['latencyMs', 'bandwidthKBps', 'partition'] as const).filter((k) => n[k] !== undefined);
    if (effects.length !== 1)
      ctx.addIssue({
        code: 'custom',
        path: effects.length > 1 ? [effects[1]!] : [],
        message: 'expected one effect per entry: latencyMs (with jitterMs), bandwidthKBps or partition: true',
      });
    if (n.jitterMs !== undefined && n.latencyMs === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['jitterMs'],
        message: 'jitterMs varies a latency: give latencyMs too',
      });
    const effect: NetworkEffect =
      n.latencyMs !== undefined
        ? { kind: 'latency', latencyMs: n.latencyMs, jitterMs: n.jitterMs ?? 0 }
        : n.bandwidthKBps !== undefined
          ? { kind: 'bandwidth', kBps: n.bandwidthKBps }
          : { kind: 'partition' };
    return { from: n.from, to: n.to, effect };
  });

const ACTIONS = ['fault', 'kill', 'pause', 'stop', 'network'] as const satisfies readonly TimelineKind[];

/** What each action takes besides `at` and itself; any other key in its entry is a mistake. */
const ACTION_KEYS: Record<TimelineKind, readonly string[]> = {
  fault: ['machines', 'params', 'for'],
  kill: [],
  pause: ['for'],
  stop: ['for', 'graceful'],
  network: ['for'],
};

/** Why `for` is required where it is: the thing taken away comes back after it. */
const FOR_NEEDED: Partial<Record<TimelineKind, string>> = {
  pause: 'how long the process stays stopped before SIGCONT',
  stop: 'how long the server stays down before it is started again',
  network: 'how long the link stays impaired',
};

const unknownFault = (input: unknown) =>
  `unknown fault ${JSON.stringify(input)}; expected one of ${FAULT_KINDS.join(', ')}`;

const entrySchema = z
  .strictObject({
    at: duration,
    fault: z.enum(FAULT_KINDS, { error: (iss) => unknownFault(iss.input) }).optional(),
    machines: targetSchema.optional(),
    params: z
      .record(z.string(), z.unknown(), { error: 'expected parameters, such as { extraC: 150 }' })
      .optional(),
    kill: processRef.optional(),
    pause: processRef.optional(),
    stop: serverName.optional(),
    graceful: z.boolean().optional(),
    network: networkSchema.optional(),
    for: positiveDuration.optional(),
  })
  .transform((e, ctx): TimelineEntry => {
    const fail = (path: PropertyKey[], message: string) => ctx.addIssue({ code: 'custom', path, message });
    const actions = ACTIONS.filter((a) => e[a] !== undefined);
    if (actions.length === 0) {
      fail([], `an entry needs one action: ${ACTIONS.join(', ')}`);
      return z.NEVER;
    }
    if (actions.length > 1) {
      fail(
        [actions[1]!],
        `one action per entry, this one has ${actions.join(' and ')}: write one entry each`,
      );
      return z.NEVER;
    }
    const kind = actions[0]!;
    for (const key of Object.keys(e)) {
      if (key === 'at' || key === kind || ACTION_KEYS[kind].includes(key)) continue;
      const why =
        kind === 'kill' && key === 'for'
          ? ': the keeper restarts a killed process; to stop one for a while, use pause'
          : `; a ${kind} entry takes ${['at', kind, ...ACTION_KEYS[kind]].join(', ')}`;
      fail([key], `"${key}" does not belong to a ${kind} entry${why}`);
    }
    const forNeeded = FOR_NEEDED[kind];
    if (forNeeded && e.for === undefined) fail(['for'], `required for ${kind}: ${forNeeded}`);
    if (kind === 'fault') {
      if (e.machines === undefined)
        fail(
          ['machines'],
          'required for a fault: a machine id (M-0003), a pattern (line-2/*) or { pattern, share }',
        );
      const inject = parseInjection(e.fault!, e.params ?? {});
      for (const issue of inject.issues) fail(issue.path, issue.message);
      if (ctx.issues.length > 0 || !inject.command) return z.NEVER;
      return {
        kind,
        atMs: e.at,
        ...(e.for === undefined ? {} : { forMs: e.for }),
        target: e.machines!,
        inject: inject.command,
      };
    }
    if (ctx.issues.length > 0) return z.NEVER;
    switch (kind) {
      case 'kill':
        return { kind, atMs: e.at, process: e.kill! };
      case 'pause':
        return { kind, atMs: e.at, forMs: e.for!, process: e.pause! };
      case 'stop':
        return { kind, atMs: e.at, forMs: e.for!, server: e.stop!, graceful: e.graceful ?? false };
      case 'network':
        return { kind, atMs: e.at, forMs: e.for!, network: e.network! };
    }
  });

/**
 * The INJECT_FAULT command exactly as the machine will parse it (actors/commands.ts owns the
 * parameters and their limits); problems come back with paths relative to the entry.
 */
function parseInjection(
  fault: FaultKind,
  params: Record<string, unknown>,
): { command?: InjectFault; issues: { path: PropertyKey[]; message: string }[] } {
  const parsed = injectFaultSchema.safeParse({ type: 'INJECT_FAULT', fault, params });
  if (parsed.success) return { command: parsed.data, issues: [] };
  const known = Object.keys(faultParamsSchemas[fault].shape);
  return {
    issues: parsed.error.issues.flatMap((issue) =>
      issue.code === 'unrecognized_keys'
        ? issue.keys.map((key) => ({
            path: [...issue.path, key],
            message: `${fault} has no parameter "${key}"${known.length ? `; it takes ${known.join(', ')}` : ''}`,
          }))
        : [{ path: issue.path, message: issue.message }],
    ),
  };
}

const count = z.number({ error: 'expected a whole number' }).int('expected a whole number').min(0);

const expectSchema = z.strictObject({
  noLoss: z.boolean().default(false),
  noAlarms: z.boolean().default(false),
  alarms: z
    .strictObject({ within: positiveDuration, rules: z.array(z.string()).min(1).optional() })
    .optional(),
  precision: share('a precision').optional(),
  recall: share('a recall').optional(),
  tickets: z
    .strictObject({ opened: count.optional(), closed: count.optional() })
    .refine((t) => t.opened !== undefined || t.closed !== undefined, 'expected opened, closed or both')
    .optional(),
  recovery: z.strictObject({ within: positiveDuration }).optional(),
  flood: z
    .strictObject({ within: positiveDuration, lines: z.array(z.string()).min(1).optional() })
    .optional(),
});

const scenarioInput = z.strictObject({
  version: z.literal(1).default(1),
  name: z
    .string({ error: 'expected a name' })
    .regex(/^[a-z0-9]+(-[a-z0-9]+)*$/, 'expected kebab-case: lower-case letters, digits and "-"'),
  title: z
    .string({ error: 'expected a one-line title' })
    .min(1)
    .max(100)
    .refine((t) => !t.includes('\n'), 'expected one line'),
  description: z.string({ error: 'expected a description of what the scenario shows' }).min(1),
  fleet: z
    .strictObject({
      machines: z.number().int().min(1).max(MAX_MACHINES).optional(),
      workers: z.number().int().min(1).max(MAX_WORKERS).optional(),
    })
    .prefault({}),
  duration: positiveDuration,
  seed: z.number({ error: 'expected a whole number' }).int().min(0).max(0xffff_ffff),
  clock: z.enum(CLOCKS, { error: `expected ${CLOCKS.join(' or ')}` }).default('wall'),
  timeline: z.array(entrySchema).default([]),
  expect: expectSchema,
});
type ScenarioInput = z.output<typeof scenarioInput>;

// ---------------------------------------------------------------------------------------------
// Checks across fields, and against the fleet, the stack and the alarm rules.

/** What a scenario is checked against; built once per set of options. */
interface Context {
  machinesOf(count: number | undefined): { machines: FleetMachine[]; count: number } | { reason: string };
  defaultWorkers: number;
  pipeline: PipelineCounts;
  ruleIds(): ReadonlySet<string> | { reason: string };
}

function buildContext(options: ScenarioOptions): Context {
  const defaults = loadConfig({});
  const fleet = loadFleet(options.fleetFile ?? DEFAULT_FLEET_FILE);
  const derived = new Map<number | undefined, FleetMachine[]>();
  let rules: ReadonlySet<string> | { reason: string } | undefined;
  return {
    // The ids and lines `factory up --machines N` gives on a new stack (the registry assigns them
    // in this same order); a stack of its own is what the runner starts.
    machinesOf(n) {
      if (!fleet.ok) return { reason: fleet.reason };
      let machines = derived.get(n);
      if (!machines) {
        machines = deriveFleet(fleet.fleet, n === undefined ? {} : { machines: n }).machines;
        derived.set(n, machines);
      }
      return { machines, count: machines.length };
    },
    defaultWorkers: defaults.workers.count,
    pipeline: options.pipeline ?? defaults.pipeline,
    ruleIds() {
      if (!rules) {
        try {
          const book = loadRuleBook();
          rules = new Set(book.types.flatMap((t) => book.forType(t).map((r) => r.id)));
        } catch (e) {
          rules = { reason: (e as Error).message };
        }
      }
      return rules;
    },
  };
}

const PROCESS_COUNT: Record<
  Exclude<ProcessRole, 'worker'>,
  { key: keyof PipelineCounts; variable: string }
> = {
  bridge: { key: 'bridges', variable: 'FACTORY_BRIDGES' },
  writer: { key: 'writers', variable: 'FACTORY_WRITERS' },
  analytics: { key: 'analytics', variable: 'FACTORY_ANALYTICS' },
  workflows: { key: 'workflowWorkers', variable: 'FACTORY_WORKFLOW_WORKERS' },
};

/** When a platform fault is over: a kill at once (the keeper takes it from there), the others after `for`. */
const platformEnd = (e: Exclude<TimelineEntry, { kind: 'fault' }>) =>
  e.kind === 'kill' ? e.atMs : e.atMs + e.forMs;

/** The machines a target's pattern matches (before any share is drawn). */
export function targetMachines<M extends { machineId: string; line: string }>(
  target: Target,
  machines: M[],
): M[] {
  const matches = machineMatcher([target.pattern]);
  return machines.filter(matches);
}

/** Why a target reaches no machine of the fleet, or undefined when it reaches some. */
function targetProblem(target: Target, machines: FleetMachine[]): string | undefined {
  if (targetMachines(target, machines).length > 0) return undefined;
  const lines = [...new Set(machines.map((m) => m.line))];
  const fleet = `a fleet of ${machines.length} (${machines[0]?.machineId} … ${machines.at(-1)?.machineId} on ${lines.join(', ')})`;
  if (target.pattern.includes('*')) return `"${target.pattern}" matches no machine of ${fleet}`;
  const [line, id] = target.pattern.includes('/') ? target.pattern.split('/') : [undefined, target.pattern];
  const elsewhere = machines.find((m) => m.machineId === id);
  if (elsewhere && line !== undefined) return `${id} is on ${elsewhere.line}, not ${line}`;
  return `no machine ${id} in ${fleet}`;
}

function crossCheck(
  s: ScenarioInput,
  ctx: z.RefinementCtx,
  context: Context,
  expectedName?: string,
): Scenario {
  const fail = (path: PropertyKey[], message: string) => ctx.addIssue({ code: 'custom', path, message });
  const d = formatDuration;
  if (expectedName !== undefined && s.name !== expectedName)
    fail(['name'], `is "${s.name}" but the file is named ${expectedName}.yaml; they must agree`);

  const fleet = context.machinesOf(s.fleet.machines);
  if ('reason' in fleet) fail(['fleet'], fleet.reason);
  const machines = 'reason' in fleet ? [] : fleet.machines;
  const workers = s.fleet.workers ?? context.defaultWorkers;
  const x = s.expect;
  const durationMs = s.duration;
  const simulated = s.clock === 'simulated';

  for (const [i, e] of s.timeline.entries()) {
    const at = (key: string) => ['timeline', i, key];
    if (e.atMs >= durationMs)
      fail(at('at'), `${d(e.atMs)} is not before the end of the scenario (duration ${d(durationMs)})`);
    else if (e.kind !== 'kill' && e.forMs !== undefined && e.atMs + e.forMs > durationMs)
      fail(
        at('for'),
        `at ${d(e.atMs)} + for ${d(e.forMs)} ends after the scenario (duration ${d(durationMs)})`,
      );

    if (e.kind === 'fault') {
      const problem = 'reason' in fleet ? undefined : targetProblem(e.target, machines);
      if (problem) fail(at('machines'), problem);
      if (x.alarms && e.atMs + x.alarms.within > durationMs)
        fail(
          at('at'),
          `at ${d(e.atMs)} + alarms.within ${d(x.alarms.within)} ends after the scenario (duration ${d(durationMs)}): it stops before this fault's alarm is judged`,
        );
      continue;
    }
    if (simulated) {
      fail(
        at(e.kind),
        `clock: simulated runs the machine model and analytics only, with no platform to ${e.kind}; use clock: wall`,
      );
      continue;
    }
    if (e.kind === 'kill' || e.kind === 'pause') {
      const { role, index, name } = e.process;
      const runs =
        role === 'worker'
          ? { n: workers, by: `fleet.workers is ${workers}` }
          : {
              n: context.pipeline[PROCESS_COUNT[role].key],
              by: `${PROCESS_COUNT[role].variable}=${context.pipeline[PROCESS_COUNT[role].key]}`,
            };
      if (index > runs.n)
        fail(
          at(e.kind),
          runs.n === 0
            ? `no ${role} runs (${runs.by})`
            : `${name} does not run: ${runs.by}, so ${runs.n === 1 ? `only ${role}-1` : `${role}-1 … ${role}-${runs.n}`}`,
        );
    }
    if (x.recovery && platformEnd(e) + x.recovery.within > durationMs)
      fail(
        at(e.kind === 'kill' ? 'at' : 'for'),
        `this fault ends at ${d(platformEnd(e))}, and recovery.within ${d(x.recovery.within)} runs past the end of the scenario (duration ${d(durationMs)})`,
      );
  }

  const faults = s.timeline.filter((e) => e.kind === 'fault');
  const platform = s.timeline.some((e) => e.kind !== 'fault');
  const ex = (key: string, ...rest: PropertyKey[]) => ['expect', key, ...rest];
  if (simulated) {
    if (x.noLoss) fail(ex('noLoss'), 'clock: simulated has no pipeline to lose data in; use clock: wall');
    if (x.recovery) fail(ex('recovery'), 'clock: simulated has no platform to recover; use clock: wall');
    if (x.tickets) fail(ex('tickets'), 'clock: simulated runs no workflows to open tickets; use clock: wall');
  }
  const judged =
    x.noLoss ||
    x.noAlarms ||
    ['alarms', 'precision', 'recall', 'tickets', 'recovery', 'flood'].some(
      (k) => x[k as keyof typeof x] !== undefined,
    );
  if (!judged)
    fail(['expect'], 'expects nothing, so a run would have no verdict: give noLoss, noAlarms, alarms, …');
  if (x.noAlarms)
    for (const key of ['alarms', 'precision', 'recall', 'tickets', 'flood'] as const)
      if (x[key] !== undefined) fail(ex(key), `contradicts noAlarms: true`);
  if (faults.length === 0)
    for (const key of ['alarms', 'precision', 'recall', 'flood'] as const)
      if (x[key] !== undefined)
        fail(ex(key), 'is about faulted machines, and the timeline has no machine fault');
  if (x.recall !== undefined && x.alarms === undefined)
    fail(ex('recall'), 'needs alarms: its within (and rules) say what counts as detected in time');
  if (x.recovery && !platform) fail(ex('recovery'), 'is about platform faults, and the timeline has none');
  if (
    x.tickets?.opened !== undefined &&
    x.tickets.closed !== undefined &&
    x.tickets.closed > x.tickets.opened
  )
    fail(
      ex('tickets', 'closed'),
      `expects more tickets closed (${x.tickets.closed}) than opened (${x.tickets.opened})`,
    );

  if (x.alarms?.rules) {
    const known = context.ruleIds();
    for (const [j, rule] of x.alarms.rules.entries()) {
      if ('reason' in known) fail(ex('alarms', 'rules', j), `cannot check the rule: ${known.reason}`);
      else if (rule === 'flood')
        fail(ex('alarms', 'rules', j), 'a flood alarm belongs to a line, not a machine: use expect.flood');
      else if (!known.has(rule))
        fail(
          ex('alarms', 'rules', j),
          `no alarm rule "${rule}" in analytics/rules; rules: ${[...known].join(', ')}`,
        );
    }
  }
  if (x.flood) {
    const lines = new Set(machines.map((m) => m.line));
    for (const [j, line] of (x.flood.lines ?? []).entries())
      if (machines.length > 0 && !lines.has(line))
        fail(ex('flood', 'lines', j), `no line "${line}" in the fleet; lines: ${[...lines].join(', ')}`);
    const first = Math.min(...faults.map((e) => e.atMs));
    if (faults.length > 0 && first + x.flood.within > durationMs)
      fail(
        ex('flood', 'within'),
        `the first fault at ${d(first)} + ${d(x.flood.within)} ends after the scenario (duration ${d(durationMs)})`,
      );
  }

  return {
    version: s.version,
    name: s.name,
    title: s.title,
    description: s.description,
    fleet: { machines: 'reason' in fleet ? (s.fleet.machines ?? 0) : fleet.count, workers },
    durationMs,
    seed: s.seed,
    clock: s.clock,
    timeline: s.timeline,
    expect: {
      noLoss: x.noLoss,
      noAlarms: x.noAlarms,
      ...(x.alarms && {
        alarms: { withinMs: x.alarms.within, ...(x.alarms.rules && { rules: x.alarms.rules }) },
      }),
      ...(x.precision !== undefined && { precision: x.precision }),
      ...((x.recall !== undefined || x.alarms) && { recall: x.recall ?? 1 }),
      ...(x.tickets && { tickets: { opened: x.tickets.opened ?? 0, closed: x.tickets.closed ?? 0 } }),
      ...(x.recovery && { recovery: { withinMs: x.recovery.within } }),
      ...(x.flood && { flood: { withinMs: x.flood.within, ...(x.flood.lines && { lines: x.flood.lines }) } }),
    },
  };
}

// ---------------------------------------------------------------------------------------------

const contexts = new Map<string, Context>();
const contextOf = (options: ScenarioOptions): Context => {
  const key = JSON.stringify([options.fleetFile ?? DEFAULT_FLEET_FILE, options.pipeline ?? null]);
  let c = contexts.get(key);
  if (!c) {
    c = buildContext(options);
    contexts.set(key, c);
  }
  return c;
};

/** The schema of one file; a file named `<name>.yaml` must say `name: <name>`. */
export function scenarioSchema(options: ScenarioOptions = {}, expectedName?: string) {
  const context = contextOf(options);
  return scenarioInput.transform((s, ctx) => {
    const scenario = crossCheck(s, ctx, context, expectedName);
    return ctx.issues.length > 0 ? z.NEVER : scenario;
  });
}

const nameOfFile = (file: string): string | undefined =>
  file.endsWith('.yaml') ? basename(file, '.yaml') : undefined;

/** Parses scenario text; `file` names it in problems, and `<name>.yaml` fixes its name. */
export function parseScenario(
  text: string,
  file: string,
  options: ScenarioOptions = {},
): YamlResult<Scenario> {
  return parseYamlText(text, file, scenarioSchema(options, nameOfFile(file)));
}

export function loadScenario(file: string, options: ScenarioOptions = {}): YamlResult<Scenario> {
  return loadYamlFile(file, scenarioSchema(options, nameOfFile(file)));
}

/** One line of `factory sim --list`: a good file's summary, or a bad file with its first problem. */
export type ScenarioListing =
  | { ok: true; file: string; name: string; title: string; durationMs: number; clock: Clock }
  | { ok: false; file: string; name: string; problem: string };

/** Every `*.yaml` of `dir`, by name; a bad file is listed with its first problem, never thrown. */
export function listScenarios(dir: string = SCENARIOS_DIR, options: ScenarioOptions = {}): ScenarioListing[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f): ScenarioListing => {
      const file = join(dir, f);
      const r = loadScenario(file, options);
      if (!r.ok) return { ok: false, file, name: basename(f, '.yaml'), problem: r.reason.split('\n')[0]! };
      const { name, title, durationMs, clock } = r.value;
      return { ok: true, file, name, title, durationMs, clock };
    });
}

/** The machines a scenario runs: the fleet file scaled to `fleet.machines`, ids as a new stack assigns them. */
export function scenarioMachines(scenario: Scenario, options: ScenarioOptions = {}): FleetMachine[] {
  const fleet = contextOf(options).machinesOf(scenario.fleet.machines);
  if ('reason' in fleet) throw new Error(fleet.reason);
  return fleet.machines;
}
