/**
 * A scenario on wall-clock time against a running stack: the timeline played at its times
 * (machine faults through the command path, signals to processes), alarm events followed from
 * before the first entry, the writers' counters sampled every second, and the platform's
 * recovery measured from InfluxDB after each platform fault. What it records is judged by
 * judge.ts and written by report.ts; nothing here decides a verdict.
 */
import type { Consumer } from 'kafkajs';
import { followAlarmEvents } from '../analytics/alarm-feed.js';
import { type Config, formatAddress } from '../common/config.js';
import { MEASUREMENTS, RETENTION } from '../common/influx-schema.js';
import { sendCommand } from '../infra/cli/command.js';
import { checkLoss } from '../infra/cli/verify.js';
import { readHealthz } from '../infra/servers/pipeline.js';
import type { Output } from '../infra/supervisor/output.js';
import { components, probe } from '../infra/supervisor/stack.js';
import { pipelineInflux } from '../pipeline/influx.js';
import { pidOf, platformTarget, resolveTargets, signal } from './injectors.js';
import {
  type FaultRecord,
  type PlatformRecord,
  type RunFacts,
  type SeenAlarm,
  seenAlarm,
  selfClearedAt,
} from './judge.js';
import { impair } from './network.js';
import { type ExecutedStep, type RunRecord, type Sample, type Series, timelineText } from './record.js';
import { formatDuration, type Scenario, type TimelineEntry } from './scenario.js';
import type { LiveMachine } from './stack.js';
import { countTickets } from './tickets.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const POLL_MS = 500;
/** How long storage may take to catch up before a reading counts as lost (as `factory verify`). */
const LOSS_WAIT_MS = 30_000;

export async function runWall(
  config: Config,
  scenario: Scenario,
  machines: LiveMachine[],
  out: Output,
): Promise<RunRecord> {
  const targets = resolveTargets(scenario, machines);
  const alarms: SeenAlarm[] = [];
  const steps: ExecutedStep[] = [];
  const faults: FaultRecord[] = [];
  const platform: PlatformRecord[] = [];
  const samples: Sample[] = [];
  let last = scenario.timeline.length === 0 ? 'nothing injected' : 'waiting for the first entry';
  let consumer: Consumer | undefined;
  let startedAt = Date.now();
  const note = (entry: number | null, what: string, plannedMs?: number) => {
    steps.push({
      entry,
      atMs: Date.now() - startedAt,
      ...(plannedMs === undefined ? {} : { plannedMs }),
      what,
    });
    last = what;
  };

  consumer = await followAlarmEvents(config, 'factory-sim', (e) => alarms.push(seenAlarm(e, e.kafkaTs)));
  /** Processes this run holds stopped (SIGSTOP): resumed whatever happens, so the stack is left running. */
  const held = new Set<number>();
  /** Links this run holds impaired: healed whatever happens. */
  const healers = new Set<() => Promise<void>>();
  try {
    startedAt = Date.now();
    const endAt = startedAt + scenario.durationMs;
    const sampler = setInterval(() => {
      sample(config).then((s) => samples.push({ t: s.t - startedAt, ...s.values }));
    }, 1000);
    const progress = setInterval(() => {
      const el = Date.now() - startedAt;
      out.progress(
        `${formatDuration(Math.min(el, scenario.durationMs))} of ${formatDuration(scenario.durationMs)} · ${alarms.filter((a) => a.transition === 'RAISED').length} alarms raised · last: ${last}`,
      );
    }, 1000);
    const order = scenario.timeline.map((e, i) => ({ e, i })).sort((a, b) => a.e.atMs - b.e.atMs);
    const tasks = order.map(({ e, i }) =>
      sleep(Math.max(0, startedAt + e.atMs - Date.now())).then(() =>
        play(i, e).catch((err: Error) => note(i, `${timelineText(e)} failed: ${err.message}`)),
      ),
    );

    /** One timeline entry, to its end (a fault's clear, a pause's resume). */
    async function play(i: number, e: TimelineEntry): Promise<void> {
      switch (e.kind) {
        case 'fault': {
          const ms = targets.get(i) ?? [];
          note(i, `${e.inject.fault} injected into ${ms.map((m) => m.machineId).join(', ')}`, e.atMs);
          await Promise.all(ms.map((m) => machineFault(i, e, m)));
          return;
        }
        case 'kill': {
          const r = platformRecord(i, e);
          signal(pidOf(config, r.target), 'SIGKILL');
          r.startedAt = r.endedAt = Date.now();
          note(i, `${r.target} killed (SIGKILL)`, e.atMs);
          await afterPlatformFault(r);
          return;
        }
        case 'pause': {
          const r = platformRecord(i, e);
          const pid = pidOf(config, r.target);
          signal(pid, 'SIGSTOP');
          held.add(pid);
          note(i, `${r.target} paused (SIGSTOP)`, e.atMs);
          await sleep(e.forMs);
          signal(pid, 'SIGCONT');
          held.delete(pid);
          r.endedAt = Date.now();
          note(i, `${r.target} resumed (SIGCONT)`, e.atMs + e.forMs);
          await afterPlatformFault(r);
          return;
        }
        case 'stop': {
          const r = platformRecord(i, e);
          // The keeper would restart the server at once: it is held (SIGSTOP) for the outage.
          const keeper = pidOf(config, 'keeper');
          const server = pidOf(config, r.target);
          process.kill(keeper, 'SIGSTOP');
          held.add(keeper);
          signal(server, e.graceful ? 'SIGTERM' : 'SIGKILL');
          note(i, `${r.target} stopped (${e.graceful ? 'SIGTERM' : 'SIGKILL'}), keeper held`, e.atMs);
          await sleep(e.forMs);
          process.kill(keeper, 'SIGCONT');
          held.delete(keeper);
          r.endedAt = Date.now();
          note(i, `keeper resumed: it restarts ${r.target}`, e.atMs + e.forMs);
          await afterPlatformFault(r);
          return;
        }
        case 'network': {
          const r = platformRecord(i, e);
          const heal = await impair(config, e.network);
          healers.add(heal);
          note(i, `${timelineText(e)}: link impaired through its proxy`, e.atMs);
          await sleep(e.forMs);
          await heal();
          healers.delete(heal);
          r.endedAt = Date.now();
          note(i, `${r.target} link healed`, e.atMs + e.forMs);
          await afterPlatformFault(r);
          return;
        }
      }
    }

    async function machineFault(i: number, e: Extract<TimelineEntry, { kind: 'fault' }>, m: LiveMachine) {
      const rec: FaultRecord = {
        entry: i,
        machineId: m.machineId,
        line: m.line,
        type: m.type,
        fault: e.inject.fault,
        injectedAt: null,
        clearedAt: null,
      };
      faults.push(rec);
      const sentAt = Date.now();
      const a = await sendCommand(config, m.machineId, e.inject, {
        by: 'factory-sim',
        timeoutMs: 15_000,
      }).catch((err: Error) => ({ ok: false as const, reason: err.message }));
      if (!a.ok) {
        rec.problem = `INJECT_FAULT refused: ${a.reason}`;
        note(i, `${m.machineId}: ${rec.problem}`);
        return;
      }
      rec.injectedAt = sentAt;
      rec.clearedAt = selfClearedAt(e, sentAt);
      if (e.forMs === undefined) return;
      await sleep(Math.max(0, startedAt + e.atMs + e.forMs - Date.now()));
      // A machine that tripped clears only once it has cooled: try until it takes or the run ends.
      let reason = '';
      while (Date.now() < endAt) {
        const c = await sendCommand(
          config,
          m.machineId,
          { type: 'CLEAR_FAULT', fault: e.inject.fault },
          { by: 'factory-sim', timeoutMs: 15_000 },
        ).catch((err: Error) => ({ ok: false as const, reason: err.message }));
        if (c.ok) {
          rec.clearedAt ??= Date.now();
          note(i, `${m.machineId}: ${e.inject.fault} cleared`, e.atMs + e.forMs);
          return;
        }
        reason = c.reason ?? '';
        await sleep(5_000);
      }
      rec.problem = `CLEAR_FAULT not accepted before the end of the run${reason ? `: ${reason}` : ''}`;
    }

    function platformRecord(i: number, e: Exclude<TimelineEntry, { kind: 'fault' }>) {
      const r: PlatformRecord = {
        entry: i,
        kind: e.kind,
        target: platformTarget(e),
        startedAt: Date.now(),
        endedAt: null,
        healthyAgainAt: null,
        recoveredAt: null,
      };
      platform.push(r);
      return r;
    }

    /** Until the end of the run: when the component is healthy again, and when storage has every machine again. */
    async function afterPlatformFault(r: PlatformRecord): Promise<void> {
      const component = components(config).find((c) => c.name === r.target);
      const since = r.endedAt!;
      const health = (async () => {
        while (component && Date.now() < endAt) {
          const s = await probe(config, component);
          if (s.healthy && s.pid !== null) {
            r.healthyAgainAt = Date.now();
            note(r.entry, `${r.target} healthy again`);
            return;
          }
          await sleep(POLL_MS);
        }
      })();
      const ids = machines.map((m) => m.machineId);
      const influx = pipelineInflux(config, 'reader');
      while (Date.now() < endAt) {
        const stored = await machinesStoredSince(influx, since).catch(() => new Set<string>());
        if (ids.every((id) => stored.has(id))) {
          r.recoveredAt = Date.now();
          note(
            r.entry,
            `every machine stored again ${((r.recoveredAt - since) / 1000).toFixed(1)} s after ${r.target}'s fault ended`,
          );
          break;
        }
        await sleep(POLL_MS);
      }
      await health;
    }

    await Promise.all(tasks);
    await sleep(Math.max(0, endAt - Date.now()));
    clearInterval(progress);
    clearInterval(sampler);
    const endedAt = Date.now();
    note(null, 'end of the timeline');
    out.line(
      `Timeline done (${formatDuration(endedAt - startedAt)}); checking for loss (storage may take ${LOSS_WAIT_MS / 1000} s to catch up)…`,
    );
    const facts: RunFacts = { startedAt, endedAt, faults, platform, alarms: [] };
    if (scenario.expect.noLoss) facts.loss = await lossFigures(config, startedAt, out);
    // Judged over the run: alarms heard while the loss check waited came after it.
    facts.alarms = alarms.filter((a) => a.at <= endedAt);
    if (scenario.expect.tickets) facts.tickets = await countTickets(config, startedAt, machines);
    const faulted = [...new Set(faults.map((f) => f.machineId))];
    const series = await telemetrySeries(config, faulted.slice(0, 6), startedAt, endedAt + 5_000);
    return {
      scenario,
      clock: 'wall',
      stack: `data ${config.dataDir}, MQTT ${formatAddress(config.mqtt)}`,
      facts,
      steps,
      samples,
      series,
      machines: machines.length,
    };
  } finally {
    for (const heal of healers) await heal().catch(() => undefined);
    for (const pid of held) {
      try {
        signal(pid, 'SIGCONT');
      } catch {
        // gone meanwhile: nothing left to resume
      }
    }
    await consumer?.disconnect().catch(() => undefined);
  }
}

async function lossFigures(config: Config, since: number, out: Output): Promise<RunFacts['loss']> {
  try {
    const r = await checkLoss(config, {
      waitMs: LOSS_WAIT_MS,
      sinceMs: since,
      onProgress: (done, total) =>
        out.progress(`waiting for storage to catch up: ${done}/${total} machines complete`),
    });
    const t = r.totals;
    return { ok: r.ok, lost: t.lost, published: t.published, stored: t.stored, duplicates: t.duplicates };
  } catch (err) {
    return { ok: false, lost: 0, published: 0, stored: 0, duplicates: 0, problem: (err as Error).message };
  }
}

/** Machines with at least one reading stamped after `since` in raw telemetry. */
async function machinesStoredSince(
  influx: ReturnType<typeof pipelineInflux>,
  since: number,
): Promise<Set<string>> {
  const rows = await influx.query<{ machine: string }>(
    `SELECT count("seq") FROM "${RETENTION.raw.name}"."${MEASUREMENTS.telemetry}" WHERE time > ${since}ms GROUP BY "machine"`,
  );
  return new Set(rows.map((r) => r.machine));
}

/** The writers' counters now: readings written so far and Kafka lag, summed over writers. */
async function sample(config: Config): Promise<{ t: number; values: Omit<Sample, 't'> }> {
  const t = Date.now();
  const all = await Promise.all(
    Array.from({ length: config.pipeline.writers }, (_, i) =>
      readHealthz(config, 'writer', i + 1).catch(() => undefined),
    ),
  );
  const ok = all.filter((h) => h !== undefined);
  if (ok.length === 0) return { t, values: { written: null, lag: null } };
  return {
    t,
    values: {
      written: ok.reduce((n, h) => n + (h.counters.written ?? 0), 0),
      lag: ok.reduce((n, h) => n + (h.counters.lag ?? 0), 0),
    },
  };
}

/** Temperature, vibration and state of the given machines over the run, from raw telemetry. */
async function telemetrySeries(config: Config, ids: string[], from: number, to: number): Promise<Series[]> {
  if (ids.length === 0) return [];
  const influx = pipelineInflux(config, 'reader');
  const rows = await influx
    .query<{ time: Date; machine: string; state: string; temperature: number; vibration: number }>(
      `SELECT "temperature", "vibration", "state", "machine" FROM "${RETENTION.raw.name}"."${MEASUREMENTS.telemetry}" WHERE time >= ${from}ms AND time <= ${to}ms AND (${ids.map((id) => `"machine" = '${id}'`).join(' OR ')})`,
    )
    .catch(() => []);
  return rows.map((r) => ({
    machineId: r.machine,
    t: new Date(r.time).getTime() - from,
    state: r.state,
    temperature: r.temperature,
    vibration: r.vibration,
  }));
}
