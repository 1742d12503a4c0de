/**
 * A machine-only scenario on simulated time: the headless machine model (actors/headless.ts)
 * feeds the analytics code itself (MachineAnalytics with the rule book, line floods as the
 * processor counts them), second by second, with no server at all. A week runs in minutes and
 * replays exactly: every machine's seed, the shares and the start time are fixed.
 * It records what the wall-clock runner records, so the same judge and report apply.
 */
import { commandInPlace, createHeadless, runTicks } from '../actors/headless.js';
import { telemetryOf } from '../actors/telemetry.js';
import type { AlarmEvent } from '../analytics/events.js';
import { floodFacts, floodRaise, floodTick, lineSubject, newFloodState } from '../analytics/flood.js';
import { alarmEvent, MachineAnalytics, newMachineState } from '../analytics/machine.js';
import { loadRuleBook } from '../analytics/rules.js';
import type { Config } from '../common/config.js';
import type { Output } from '../infra/supervisor/output.js';
import { resolveTargets } from './injectors.js';
import { type FaultRecord, type SeenAlarm, seenAlarm, selfClearedAt } from './judge.js';
import type { ExecutedStep, RunRecord, Series } from './record.js';
import { formatDuration, type Scenario, scenarioMachines, type TimelineEntry } from './scenario.js';

/** Monday 5 January 2026, 06:00 UTC, the start of a morning shift: a fixed start, so runs replay. */
export const SIMULATED_START = Date.UTC(2026, 0, 5, 6, 0, 0);
const TICK_MS = 1000;
/** Faulted machines' readings kept for the charts: about 1,500 points a machine, whatever the duration. */
const seriesEvery = (durationMs: number) =>
  Math.max(TICK_MS, Math.round(durationMs / 1_500 / TICK_MS) * TICK_MS);
/** A refused CLEAR_FAULT (a machine in FAULT, still hot) is tried again this much later. */
const CLEAR_RETRY_MS = 60_000;

export async function runSimulated(scenario: Scenario, config: Config, out: Output): Promise<RunRecord> {
  const fleet = scenarioMachines(scenario, { fleetFile: config.fleetFile, pipeline: config.pipeline });
  const book = loadRuleBook();
  const start = SIMULATED_START;
  const end = start + scenario.durationMs;
  const flooding = new Map<string, string>();
  const floods = new Map<string, ReturnType<typeof newFloodState>>();
  const machines = fleet.map((m) => {
    const info = { machineId: m.machineId, site: m.site, line: m.line, type: m.type };
    return {
      fleet: m,
      info,
      context: createHeadless({ seed: m.seed, ts: start }, m.params),
      analytics: new MachineAnalytics(
        newMachineState(info),
        book.forType(m.type),
        {
          kpi: { idealRatePerS: 1, maxGapMs: 30_000, shiftOffsetMs: 6 * 3_600_000 },
          maxHoldMs: 3_000,
          floodOf: (site, line) => flooding.get(lineSubject(site, line)) ?? null,
        },
        start,
      ),
    };
  });
  const byId = new Map(machines.map((m) => [m.info.machineId, m]));
  const targets = resolveTargets(
    scenario,
    machines.map((m) => m.info),
  );
  const faults: FaultRecord[] = [];
  const alarms: SeenAlarm[] = [];
  const steps: ExecutedStep[] = [];
  const series: Series[] = [];
  const note = (entry: number | null, now: number, what: string, plannedMs?: number) =>
    steps.push({ entry, atMs: now - start, ...(plannedMs === undefined ? {} : { plannedMs }), what });

  const seen = (e: AlarmEvent) => {
    alarms.push(seenAlarm(e, e.ts));
    // A machine alarm raised counts toward its line's flood, as the processor counts it.
    if (e.machineId === null || e.transition !== 'RAISED') return;
    const key = lineSubject(e.site, e.line);
    const f = floods.get(key) ?? newFloodState(e.site, e.line);
    floods.set(key, f);
    const c = floodRaise(f, e.ts);
    if (c) floodEvent(f, c);
  };
  const floodEvent = (f: ReturnType<typeof newFloodState>, c: NonNullable<ReturnType<typeof floodRaise>>) => {
    const key = lineSubject(f.site, f.line);
    if (c.transition === 'RAISED') flooding.set(key, c.alarmId);
    if (c.transition === 'CLEARED') flooding.delete(key);
    const event = alarmEvent(c, floodFacts(f.raises.length), {
      machineId: null,
      site: f.site,
      line: f.line,
      machineType: null,
      flood: null,
    });
    alarms.push(seenAlarm(event, event.ts));
  };

  // The timeline as actions at simulated times: injections, then clears (retried until taken).
  type Action = { at: number; run: (now: number) => number | null };
  const actions: Action[] = [];
  scenario.timeline.forEach((e: TimelineEntry, i) => {
    if (e.kind !== 'fault') return; // the scenario layer allows no platform fault on simulated time
    for (const target of targets.get(i) ?? []) {
      const m = byId.get(target.machineId)!;
      const rec: FaultRecord = {
        entry: i,
        machineId: m.info.machineId,
        line: m.info.line,
        type: m.info.type,
        fault: e.inject.fault,
        injectedAt: null,
        clearedAt: null,
      };
      faults.push(rec);
      actions.push({
        at: start + e.atMs,
        run: (now) => {
          const r = commandInPlace(m.context, e.inject, m.fleet.params);
          if (r.ok) {
            rec.injectedAt = now;
            rec.clearedAt = selfClearedAt(e, now);
          } else rec.problem = `INJECT_FAULT refused: ${r.reason}`;
          note(
            i,
            now,
            `${m.info.machineId}: ${e.inject.fault} ${r.ok ? 'injected' : `refused (${r.reason})`}`,
            e.atMs,
          );
          return null;
        },
      });
      if (e.forMs !== undefined)
        actions.push({
          at: start + e.atMs + e.forMs,
          run: (now) => {
            const r = commandInPlace(
              m.context,
              { type: 'CLEAR_FAULT', fault: e.inject.fault },
              m.fleet.params,
            );
            if (!r.ok) return now + CLEAR_RETRY_MS;
            rec.clearedAt ??= now;
            note(i, now, `${m.info.machineId}: ${e.inject.fault} cleared`, e.atMs + e.forMs!);
            return null;
          },
        });
    }
  });

  const faulted = new Set(faults.map((f) => f.machineId));
  const every = seriesEvery(scenario.durationMs);
  const wallStart = Date.now();
  let nextProgress = start;
  for (let now = start + TICK_MS; now <= end; now += TICK_MS) {
    for (const a of actions) {
      if (a.at > now - TICK_MS && a.at <= now) {
        const again = a.run(now);
        if (again !== null) a.at = again;
      }
    }
    for (const m of machines) {
      runTicks(m.context, 1, TICK_MS, m.fleet.params);
      const t = telemetryOf(m.context, m.info);
      if (t) {
        for (const e of m.analytics.receive(t, now).events) seen(e);
        if (faulted.has(m.info.machineId) && (now - start) % every === 0)
          series.push({
            machineId: t.machineId,
            t: now - start,
            state: t.state,
            temperature: t.temperatureC,
            vibration: t.vibrationMmS,
          });
      }
      for (const e of m.analytics.tick(now, true).events) seen(e);
    }
    if (now % 60_000 === 0)
      for (const f of floods.values()) for (const c of floodTick(f, now)) floodEvent(f, c);
    if (now >= nextProgress) {
      nextProgress = now + 3_600_000;
      out.progress(
        `simulated ${formatDuration(now - start)} of ${formatDuration(scenario.durationMs)} in ${Math.round((Date.now() - wallStart) / 1000)} s · ${alarms.filter((a) => a.transition === 'RAISED').length} alarms raised · last: ${steps.at(-1)?.what ?? 'no entry yet'}`,
      );
      // Let the progress line out (and a Ctrl-C in) once per simulated hour.
      await new Promise((r) => setImmediate(r));
    }
  }
  note(
    null,
    end,
    `end of the simulated ${formatDuration(scenario.durationMs)} (${Math.round((Date.now() - wallStart) / 1000)} s of wall-clock time)`,
  );
  return {
    scenario,
    clock: 'simulated',
    stack: `no stack: the headless machine model and the analytics code on simulated time from ${new Date(start).toISOString()}`,
    facts: { startedAt: start, endedAt: end, faults, platform: [], alarms },
    steps,
    samples: [],
    series,
    machines: machines.length,
  };
}
