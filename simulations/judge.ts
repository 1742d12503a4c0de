/**
 * The verdicts of a run: each expectation of the scenario judged pass or fail from what the run
 * recorded, with the measured figure a person reads next to it. Pure: the wall-clock runner and
 * the simulated one record the same things (faults with their times, alarm events) and are
 * judged by the same code here, so a verdict means the same on either clock.
 */
import type { FaultKind } from '../actors/commands.js';
import type { AlarmEvent } from '../analytics/events.js';
import type { Transition as AlarmTransition } from '../analytics/lifecycle.js';
import { type Expectations, formatDuration, PRECISION_GRACE_MS, type TimelineEntry } from './scenario.js';

type FaultEntry = Extract<TimelineEntry, { kind: 'fault' }>;

/** One machine fault as it happened to one machine. Times are epoch ms on the run's clock. */
export interface FaultRecord {
  /** Index of the timeline entry in the file. */
  entry: number;
  machineId: string;
  line: string;
  type: string;
  fault: FaultKind;
  /** When INJECT_FAULT was accepted (null: it never was). */
  injectedAt: number | null;
  /** When CLEAR_FAULT was accepted (null: never sent, or never accepted before the end). */
  clearedAt: number | null;
  /** Why injecting or clearing went wrong, if it did. */
  problem?: string;
}

/** One platform fault as it happened. */
export interface PlatformRecord {
  entry: number;
  kind: 'kill' | 'pause' | 'stop' | 'network';
  /** The process or server. */
  target: string;
  startedAt: number;
  /** When the fault ended: at once for a kill, after `for` for the others (null: it never ended). */
  endedAt: number | null;
  /** When the process or server was healthy again (null: not seen within the run). */
  healthyAgainAt: number | null;
  /** When every machine's readings were stored again after `endedAt` (null: not within the run). */
  recoveredAt: number | null;
  problem?: string;
}

/** An alarm event as the judge needs it; `at` is when the plant heard of it. */
export interface SeenAlarm {
  alarmId: string;
  machineId: string | null;
  line: string;
  rule: string;
  severity: string;
  transition: AlarmTransition;
  value: number | null;
  limit: number | null;
  at: number;
}

/** An alarm event as the judge keeps it, heard at `at` (Kafka's time live, the event's own simulated). */
export const seenAlarm = (e: AlarmEvent, at: number): SeenAlarm => ({
  alarmId: e.alarmId,
  machineId: e.machineId,
  line: e.line,
  rule: e.rule,
  severity: e.severity,
  transition: e.transition,
  value: e.value,
  limit: e.limit,
  at,
});

export interface Verdict {
  /** The expectation's key in the scenario file (`alarms`, `noLoss` …). */
  expectation: string;
  /** What was expected, in words. */
  expected: string;
  pass: boolean;
  /** What was measured, in words. */
  figure: string;
  /** The measured number behind the figure, where there is one (ms, a share, a count). */
  value?: number | null;
}

/**
 * When a fault injected at `injectedAt` ends by itself (a sensor fault's `durationS`), if it does
 * before the timeline's `for` would clear it: its record's clearedAt from the start.
 */
export function selfClearedAt(e: FaultEntry, injectedAt: number): number | null {
  const { durationS } = e.inject.params as { durationS?: number };
  if (durationS === undefined || (e.forMs !== undefined && e.forMs <= durationS * 1000)) return null;
  return injectedAt + durationS * 1000;
}

/** Raised, or active again while not yet acknowledged: an alarm the operator is told about. */
export const isAnnunciation = (a: SeenAlarm) => a.transition === 'RAISED' || a.transition === 'REACTIVATED';

const d = formatDuration;
const pct = (x: number) => `${Math.round(x * 1000) / 10}%`;

/** Per faulted machine: its first fault and the first matching alarm after it (the detection). */
export interface Detection {
  machineId: string;
  line: string;
  fault: FaultKind;
  injectedAt: number;
  alarmId: string | null;
  rule: string | null;
  detectedAt: number | null;
  /** detectedAt − injectedAt. */
  latencyMs: number | null;
  /** When the machine tripped to FAULT after the injection (its `fault` alarm), if it did. */
  trippedAt: number | null;
}

export function detections(faults: FaultRecord[], alarms: SeenAlarm[], rules?: string[]): Detection[] {
  const first = new Map<string, FaultRecord>();
  for (const f of faults) {
    if (f.injectedAt === null) continue;
    const seen = first.get(f.machineId);
    if (!seen || f.injectedAt < seen.injectedAt!) first.set(f.machineId, f);
  }
  return [...first.values()]
    .sort((a, b) => a.injectedAt! - b.injectedAt! || a.machineId.localeCompare(b.machineId))
    .map((f) => {
      const hit = alarms
        .filter(
          (a) =>
            isAnnunciation(a) &&
            a.machineId === f.machineId &&
            a.at >= f.injectedAt! &&
            (rules === undefined || rules.includes(a.rule)),
        )
        .sort((a, b) => a.at - b.at)[0];
      const trip = alarms
        .filter((a) => a.rule === 'fault' && a.machineId === f.machineId && a.at >= f.injectedAt!)
        .sort((a, b) => a.at - b.at)[0];
      return {
        machineId: f.machineId,
        line: f.line,
        fault: f.fault,
        injectedAt: f.injectedAt!,
        alarmId: hit?.alarmId ?? null,
        rule: hit?.rule ?? null,
        detectedAt: hit?.at ?? null,
        latencyMs: hit ? hit.at - f.injectedAt! : null,
        trippedAt: trip?.at ?? null,
      };
    });
}

/** Machine alarms caused by a fault: on a faulted machine, during its fault or the grace after. */
export function isCaused(a: SeenAlarm, faults: FaultRecord[], endAt: number): boolean {
  return faults.some(
    (f) =>
      f.injectedAt !== null &&
      f.machineId === a.machineId &&
      a.at >= f.injectedAt &&
      a.at <= (f.clearedAt ?? endAt) + PRECISION_GRACE_MS,
  );
}

export interface RunFacts {
  startedAt: number;
  endedAt: number;
  faults: FaultRecord[];
  platform: PlatformRecord[];
  alarms: SeenAlarm[];
  /** From `factory verify` over the run; absent where not measured. */
  loss?: {
    ok: boolean;
    lost: number;
    published: number;
    stored: number;
    duplicates: number;
    problem?: string;
  };
  tickets?: { opened: number; closed: number; machines: string[]; problem?: string };
}

/** Every expectation of `expect`, judged. The order is the file's documented order. */
export function judge(expect: Expectations, facts: RunFacts): Verdict[] {
  const out: Verdict[] = [];
  const machineAlarms = facts.alarms.filter((a) => isAnnunciation(a) && a.machineId !== null);

  if (expect.noLoss) {
    const l = facts.loss;
    out.push({
      expectation: 'noLoss',
      expected: 'every published reading stored (duplicates allowed)',
      pass: l?.ok === true,
      figure: !l
        ? 'not measured'
        : l.problem
          ? `not measured: ${l.problem}`
          : `${l.lost} lost of ${l.published} published (${l.stored} stored, ${l.duplicates} duplicates)`,
      value: l?.lost ?? null,
    });
  }

  if (expect.noAlarms) {
    const raised = facts.alarms.filter(isAnnunciation);
    out.push({
      expectation: 'noAlarms',
      expected: 'no alarm raised',
      pass: raised.length === 0,
      figure:
        raised.length === 0
          ? 'no alarm raised'
          : `${raised.length} raised: ${[...new Set(raised.map((a) => `${a.machineId ?? a.line} ${a.rule}`))].slice(0, 5).join(', ')}`,
      value: raised.length,
    });
  }

  if (expect.alarms) {
    const { withinMs, rules } = expect.alarms;
    const ds = detections(facts.faults, facts.alarms, rules);
    const inTime = ds.filter((x) => x.latencyMs !== null && x.latencyMs <= withinMs);
    const share = ds.length ? inTime.length / ds.length : 0;
    const needed = expect.recall ?? 1;
    const latencies = inTime.map((x) => x.latencyMs!);
    const missed = ds.filter((x) => !inTime.includes(x)).map((x) => x.machineId);
    const pass = ds.length > 0 && share >= needed;
    out.push({
      expectation: 'alarms',
      expected: `${needed === 1 ? 'every' : `${pct(needed)} of`} faulted machine${needed === 1 ? '' : 's'} alarmed within ${d(withinMs)}${rules ? ` (${rules.join(', ')})` : ''}`,
      pass,
      figure:
        ds.length === 0
          ? 'no fault was injected'
          : `${inTime.length}/${ds.length} within ${d(withinMs)}${latencies.length ? `, slowest ${d(Math.max(...latencies))}` : ''}${missed.length ? `; missed ${missed.slice(0, 5).join(', ')}` : ''}`,
      value: latencies.length ? Math.max(...latencies) : null,
    });
    if (expect.recall !== undefined)
      out.push({
        expectation: 'recall',
        expected: `≥ ${pct(expect.recall)} of faulted machines alarmed in time`,
        pass,
        figure: `${pct(share)} (${inTime.length}/${ds.length})`,
        value: share,
      });
  }

  if (expect.precision !== undefined) {
    const caused = machineAlarms.filter((a) => isCaused(a, facts.faults, facts.endedAt));
    const precision = machineAlarms.length ? caused.length / machineAlarms.length : 1;
    const wrong = machineAlarms.filter((a) => !caused.includes(a));
    out.push({
      expectation: 'precision',
      expected: `≥ ${pct(expect.precision)} of machine alarms on faulted machines (${d(PRECISION_GRACE_MS)} grace)`,
      pass: precision >= expect.precision,
      figure:
        machineAlarms.length === 0
          ? 'no machine alarm raised'
          : `${pct(precision)} (${caused.length}/${machineAlarms.length})${
              wrong.length
                ? `; false: ${wrong
                    .slice(0, 4)
                    .map((a) => `${a.machineId} ${a.rule}`)
                    .join(', ')}`
                : ''
            }`,
      value: precision,
    });
  }

  if (expect.flood) {
    const firstFault = Math.min(
      ...facts.faults.filter((f) => f.injectedAt !== null).map((f) => f.injectedAt!),
    );
    const lines = expect.flood.lines ?? [...new Set(facts.faults.map((f) => f.line))];
    const found = lines.map((line) => {
      const a = facts.alarms.find((x) => x.rule === 'flood' && x.transition === 'RAISED' && x.line === line);
      return { line, latency: a && Number.isFinite(firstFault) ? a.at - firstFault : null };
    });
    const ok = found.filter((f) => f.latency !== null && f.latency <= expect.flood!.withinMs);
    out.push({
      expectation: 'flood',
      expected: `a flood alarm on ${lines.join(', ')} within ${d(expect.flood.withinMs)} of the first fault`,
      pass: ok.length === lines.length,
      figure: found
        .map((f) => `${f.line}: ${f.latency === null ? 'none' : `after ${d(f.latency)}`}`)
        .join(', '),
      value: found.every((f) => f.latency !== null) ? Math.max(...found.map((f) => f.latency!)) : null,
    });
  }

  if (expect.tickets) {
    const t = facts.tickets;
    const { opened, closed } = expect.tickets;
    const pass =
      t !== undefined &&
      t.problem === undefined &&
      (opened === undefined || t.opened >= opened) &&
      (closed === undefined || t.closed >= closed);
    out.push({
      expectation: 'tickets',
      expected: [opened !== undefined && `≥ ${opened} opened`, closed !== undefined && `≥ ${closed} closed`]
        .filter(Boolean)
        .join(', '),
      pass,
      figure: !t
        ? 'not measured'
        : t.problem
          ? `not measured: ${t.problem}`
          : `${t.opened} opened, ${t.closed} closed${t.machines.length ? ` (${t.machines.join(', ')})` : ''}`,
      value: t?.opened ?? null,
    });
  }

  if (expect.recovery) {
    const within = expect.recovery.withinMs;
    const times = facts.platform.map((p) =>
      p.endedAt !== null && p.recoveredAt !== null ? p.recoveredAt - p.endedAt : null,
    );
    const pass = times.length > 0 && times.every((t) => t !== null && t <= within);
    out.push({
      expectation: 'recovery',
      expected: `every machine's readings stored again within ${d(within)} of each platform fault's end`,
      pass,
      figure: facts.platform
        .map(
          (p, i) =>
            `${p.target}: ${times[i] === null ? 'not recovered' : `${(times[i]! / 1000).toFixed(1)} s`}`,
        )
        .join(', '),
      value: times.every((t) => t !== null) && times.length ? Math.max(...(times as number[])) : null,
    });
  }
  return out;
}
