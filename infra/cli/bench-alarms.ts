/**
 * `factory bench --alarms`: injects random faults into the running stack's machines for a
 * while and scores the analytics against them.
 * - Detection latency: from the first out-of-limit reading (its timestamp, taken when the
 *   worker publishes it on MQTT) to the alarm event's Kafka timestamp, for rules without an
 *   on-delay (limits, rates, states, counters). Reference measured in the same run: the
 *   writer's end-to-end latency (reading → InfluxDB) over the same minutes.
 * - Precision and recall: an alarm raised (or reactivated while unacknowledged) on a machine while a fault was injected into it (or
 *   within the grace after it was cleared) is a true positive; any other machine alarm is a
 *   false one. A fault with no alarm on its machine in that span is missed.
 * - Chatter: a rule of a machine raised three times or more within ten minutes.
 */
import { followAlarmEvents, type SeenAlarmEvent } from '../../analytics/alarm-feed.js';
import type { Config } from '../../common/config.js';
import { connectNats } from '../../common/nats.js';
import { FleetRegistry } from '../../common/registry.js';
import { quantile } from '../../common/runtime.js';
import { readAnalyticsHealthz } from '../servers/analytics.js';
import { readHealthz } from '../servers/pipeline.js';
import type { Output } from '../supervisor/output.js';
import { StackError } from '../supervisor/stack.js';
import { sendCommand } from './command.js';

export interface AlarmsBenchRequest {
  minutes: number;
  /** A new fault every this many seconds. */
  everyS: number;
  /** How long each fault stays before it is cleared. */
  holdS: number;
  /** After the clear, alarms on the machine still count as caused by the fault. */
  graceS: number;
  seed?: number;
}

/** The faults injected, with parameters that make each one show within its hold. */
const FAULTS: { fault: string; params: Record<string, string>; needsRepair?: boolean }[] = [
  { fault: 'overheat', params: { extraC: '150' } },
  { fault: 'jam', params: {} },
  { fault: 'sensor_stuck', params: { field: 'temperature' } },
  { fault: 'sensor_dropout', params: { durationS: '60' } },
  { fault: 'noise_burst', params: { field: 'temperature', sigma: '8', durationS: '30' } },
  { fault: 'bearing_wear', params: { ratePerHour: '40' }, needsRepair: true },
  { fault: 'sensor_drift', params: { field: 'speed', ratePerMin: '30' } },
];

interface Injection {
  machineId: string;
  fault: string;
  at: number;
  clearedAt: number | null;
  detectedAt: number | null;
}

const ANNUNCIATED = new Set(['RAISED', 'REACTIVATED']);

/** Rules whose first alarm follows the first out-of-limit reading at once (no on-delay, no window). */
const IMMEDIATE_KINDS = new Set(['limit', 'rate', 'state', 'counter']);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function stats(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => (s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))]! : null);
  return { samples: s.length, p50: q(0.5), p90: q(0.9), p99: q(0.99), max: s.at(-1) ?? null };
}

export interface AlarmsBenchResult {
  machines: number;
  minutes: number;
  injections: number;
  byFault: Record<string, { injected: number; detected: number }>;
  recall: number;
  precision: number;
  alarmsRaised: number;
  truePositives: number;
  falsePositives: { alarmId: string; rule: string; at: string }[];
  chattering: { machineId: string; rule: string; raises: number }[];
  floodAlarms: number;
  detectionMs: ReturnType<typeof stats>;
  /** Reference from the same minutes: reading → InfluxDB, from the writer's histogram. */
  pipelineEndToEndMs: { p50: number | null; p99: number | null };
  ratioDetectionToPipelineP50: number | null;
  analytics: { lagAtEnd: number; receivedPerSecond: number };
}

type Hist = { le: number | '+Inf'; count: number }[];
const asHist = (h: Hist | undefined) =>
  (h ?? []).map((b) => ({ le: b.le === '+Inf' ? Number.POSITIVE_INFINITY : b.le, count: b.count }));

/** The writer's end-to-end histogram between two readings of it. */
function histDelta(before: Hist | undefined, after: Hist | undefined) {
  const a = asHist(after);
  const b = asHist(before);
  return a.map((x, i) => ({ le: x.le, count: x.count - (b[i]?.count ?? 0) }));
}

export async function benchAlarms(
  config: Config,
  req: AlarmsBenchRequest,
  out: Output,
): Promise<AlarmsBenchResult> {
  const nc = await connectNats(config, 'factory-bench-alarms', 'admin').catch(() => {
    throw new StackError('Cannot reach NATS: run "factory up --machines 200" first.');
  });
  const registry = await FleetRegistry.open(nc);
  const machines = [...(await registry.machines()).values()]
    .filter((m) => m.retiredAt === null && !m.external)
    .map((m) => m.machineId);
  await nc.close();
  if (machines.length < 10)
    throw new StackError('The alarm benchmark needs at least 10 machines (factory up --machines 200).');

  const events: SeenAlarmEvent[] = [];
  const consumer = await followAlarmEvents(config, 'factory-bench-alarms', (e) => events.push(e));

  const writerBefore = await readHealthz(config, 'writer', 1).catch(() => undefined);
  const analyticsBefore = await readAnalyticsHealthz(config, 1).catch(() => undefined);
  let rnd = req.seed ?? 20261124;
  const random = () => {
    rnd = (rnd * 1103515245 + 12345) % 2 ** 31;
    return rnd / 2 ** 31;
  };
  const started = Date.now();
  const end = started + req.minutes * 60_000;
  const injections: Injection[] = [];
  const busy = new Set<string>();
  const command = (id: string, c: Record<string, unknown>) =>
    sendCommand(config, id, c, { by: 'bench', timeoutMs: 15_000 }).catch(() => undefined);

  const clear = async (inj: Injection, needsRepair: boolean) => {
    await command(inj.machineId, { type: 'CLEAR_FAULT' });
    if (needsRepair) {
      // Wear stays in the bearing until maintenance repairs it (a ticket, as a plant would).
      const ticketId = `BENCH-${inj.at}`;
      await command(inj.machineId, { type: 'START_MAINTENANCE', ticketId });
      await sleep(5_000);
      await command(inj.machineId, { type: 'COMPLETE_MAINTENANCE', ticketId });
    }
    // A machine that tripped resets once it has cooled (a few tries).
    for (let i = 0; i < 12; i++) {
      const a = await command(inj.machineId, { type: 'CLEAR_FAULT' });
      if (a?.state !== 'FAULT') break;
      await sleep(10_000);
    }
    inj.clearedAt = Date.now();
    setTimeout(() => busy.delete(inj.machineId), req.graceS * 1000);
  };

  const pending: Promise<void>[] = [];
  while (Date.now() < end) {
    const free = machines.filter((m) => !busy.has(m));
    if (free.length > 0) {
      const machineId = free[Math.floor(random() * free.length)]!;
      const f = FAULTS[Math.floor(random() * FAULTS.length)]!;
      busy.add(machineId);
      const a = await sendCommand(
        config,
        machineId,
        { type: 'INJECT_FAULT', fault: f.fault, params: f.params },
        { by: 'bench', timeoutMs: 15_000 },
      ).catch(() => undefined);
      if (a?.ok) {
        const inj: Injection = {
          machineId,
          fault: f.fault,
          at: Date.now(),
          clearedAt: null,
          detectedAt: null,
        };
        injections.push(inj);
        pending.push(sleep(req.holdS * 1000).then(() => clear(inj, f.needsRepair === true)));
      } else busy.delete(machineId);
    }
    const elapsed = Math.round((Date.now() - started) / 1000);
    out.progress(
      `  ${elapsed}s of ${req.minutes * 60}s: ${injections.length} faults injected, ${events.filter((e) => ANNUNCIATED.has(e.transition)).length} alarms raised`,
    );
    await sleep(req.everyS * 1000);
  }
  out.line(`  injection over; clearing the last faults and waiting ${req.graceS}s of grace…`);
  await Promise.all(pending);
  await sleep(req.graceS * 1000);
  const writerAfter = await readHealthz(config, 'writer', 1).catch(() => undefined);
  const analyticsAfter = await readAnalyticsHealthz(config, 1).catch(() => undefined);
  await consumer.disconnect();

  // Score. An alarm is annunciated when it is raised, or when an episode not yet acknowledged
  // becomes active again (ISA-18.2: the same alarm, back to "active, unacknowledged").
  const raised = events.filter((e) => ANNUNCIATED.has(e.transition) && e.machineId !== null);
  let tp = 0;
  const falsePositives: AlarmsBenchResult['falsePositives'] = [];
  for (const e of raised) {
    const cause = injections.find(
      (i) =>
        i.machineId === e.machineId &&
        e.kafkaTs >= i.at &&
        e.kafkaTs <= (i.clearedAt ?? Date.now()) + req.graceS * 1000,
    );
    if (cause) {
      tp++;
      cause.detectedAt ??= e.kafkaTs;
    } else falsePositives.push({ alarmId: e.alarmId, rule: e.rule, at: new Date(e.kafkaTs).toISOString() });
  }
  const byFault: AlarmsBenchResult['byFault'] = {};
  for (const i of injections) {
    const b = byFault[i.fault] ?? { injected: 0, detected: 0 };
    byFault[i.fault] = b;
    b.injected++;
    if (i.detectedAt !== null) b.detected++;
  }
  const chattering: AlarmsBenchResult['chattering'] = [];
  const byRule = new Map<string, number[]>();
  for (const e of raised)
    byRule.set(`${e.machineId}|${e.rule}`, [...(byRule.get(`${e.machineId}|${e.rule}`) ?? []), e.kafkaTs]);
  for (const [k, ts] of byRule) {
    for (let i = 0; i + 2 < ts.length; i++) {
      if (ts[i + 2]! - ts[i]! <= 600_000) {
        const [machineId, rule] = k.split('|') as [string, string];
        chattering.push({ machineId, rule, raises: ts.length });
        break;
      }
    }
  }
  const detection = stats(
    raised
      .filter((e) => IMMEDIATE_KINDS.has(e.kind) && e.conditionSince !== null)
      .map((e) => e.kafkaTs - e.conditionSince!),
  );
  const hist = histDelta(writerBefore?.histograms?.endToEndMs, writerAfter?.histograms?.endToEndMs);
  const pipeP50 = quantile(hist, 0.5);
  const pipeP99 = quantile(hist, 0.99);
  const seconds = (Date.now() - started) / 1000;
  const received = (analyticsAfter?.counters.received ?? 0) - (analyticsBefore?.counters.received ?? 0);
  return {
    machines: machines.length,
    minutes: req.minutes,
    injections: injections.length,
    byFault,
    recall: injections.length
      ? injections.filter((i) => i.detectedAt !== null).length / injections.length
      : 0,
    precision: raised.length ? tp / raised.length : 0,
    alarmsRaised: raised.length,
    truePositives: tp,
    falsePositives,
    chattering,
    floodAlarms: events.filter((e) => e.transition === 'RAISED' && e.rule === 'flood').length,
    detectionMs: detection,
    pipelineEndToEndMs: { p50: pipeP50, p99: pipeP99 },
    ratioDetectionToPipelineP50: detection.p50 !== null && pipeP50 ? detection.p50 / pipeP50 : null,
    analytics: { lagAtEnd: analyticsAfter?.counters.lag ?? -1, receivedPerSecond: received / seconds },
  };
}
