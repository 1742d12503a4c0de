/**
 * `factory bench --workflows`: alarm events on Kafka `alarms` → `alarmEscalation` started, on the
 * running stack, through the real dispatcher and workflow worker.
 * - Reference, measured first in the same run: the raw rate at which this Temporal server accepts
 *   workflow starts from one client with the dispatcher's parallelism (a workflow type no worker
 *   polls, which times out by itself).
 * - Flood: N high alarms spread evenly over S seconds (the target: 500 in a minute). Latency per
 *   alarm from its record's append (the producer's timestamp, as the dispatcher measures it) to its
 *   workflow's start time on the server; how far the dispatcher fell behind is the worst of these.
 * - Burst: N alarms at once, more than the dispatcher can start at a time: starts per second is
 *   its capacity; its ratio to the direct reference says whether the dispatcher or Temporal (the
 *   server and the worker running the escalations) limits it.
 * The bench's alarms are for machines outside the fleet; their workflows are terminated at the end.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import type { Producer } from 'kafkajs';
import type { AlarmEvent } from '../../analytics/events.js';
import { type Config, formatAddress, paths } from '../../common/config.js';
import { silentLogger } from '../../common/log.js';
import { sampleQuantile } from '../../common/runtime.js';
import { TOPICS } from '../../common/topics.js';
import { pipelineKafka, reliableProducer } from '../../pipeline/kafka.js';
import { dispatchAlarmEvent } from '../../workflows/client.js';
import { type EscalationConfig, loadEscalationConfig } from '../../workflows/config.js';
import { escalationId } from '../../workflows/definitions.js';
import { readWorkflowsHealthz } from '../servers/workflows.js';
import type { Output } from '../supervisor/output.js';
import { readPidFile } from '../supervisor/process.js';
import { StackError } from '../supervisor/stack.js';

export interface WorkflowsBenchRequest {
  /** Alarms in the flood, spread over `overS`. */
  flood: number;
  overS: number;
  /** Alarms sent at once for the capacity measure. */
  burst: number;
}

interface Latency {
  samples: number;
  p50: number;
  p99: number;
  max: number;
}

export interface WorkflowsBenchResult {
  reference: {
    parallel: number;
    /** Starts of a workflow nobody runs: the server's start rate alone. */
    bare: { starts: number; startsPerSecond: number };
    /** The same escalations started straight from a client, the worker running them. */
    direct: { starts: number; startsPerSecond: number };
  };
  flood: {
    alarms: number;
    overS: number;
    startMs: Latency;
    /** The worst time an alarm waited on Kafka before its workflow started. */
    behindMaxS: number;
    /** The ten slowest starts: seconds into the flood the alarm was sent, and its latency. */
    slowest: { atS: number; ms: number }[];
    /** The dispatcher group's lag in records, sampled every second. */
    lagMaxRecords: number;
    targets: { p99Under500Ms: boolean; behindUnder10s: boolean };
  };
  burst: {
    alarms: number;
    seconds: number;
    startsPerSecond: number;
    startMs: Latency;
    /** CPU seconds per second the workflow worker process (dispatcher and escalations) used meanwhile. */
    workerCpu: number;
    /** ... and the Temporal server (starts, and the escalations' own tasks, timers and activities). */
    serverCpu: number;
    cores: number;
  };
  /** Burst starts/s over the direct reference: near 1, Temporal limits, not the dispatcher. */
  ratioToDirect: number;
  /** Direct starts/s over bare ones: what an escalation's own work costs the server. */
  directToBare: number;
  /**
   * At 0.8 of direct or more: Temporal (the server, or the worker process when it kept its one Node
   * thread busy); below, the dispatcher.
   */
  limitedBy: 'temporal-server' | 'workflow-worker-cpu' | 'dispatcher';
}

/** Requests in flight for waiting and cleaning up. */
const PARALLEL = 16;
/** The dispatcher's most starts in flight (6 partitions at once × 16 lanes): the references use as many. */
const RAW_PARALLEL = 96;

const latency = (xs: number[]): Latency => ({
  samples: xs.length,
  p50: sampleQuantile(xs, 0.5),
  p99: sampleQuantile(xs, 0.99),
  max: xs.length ? Math.max(...xs) : 0,
});

/** Linux's USER_HZ, the unit of /proc/<pid>/stat times. */
const CLOCK_TICKS = 100;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Runs `work` over `items`, `parallel` at a time. */
async function inParallel<T>(items: T[], parallel: number, work: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(
    Array.from({ length: Math.min(parallel, queue.length) }, async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) await work(item);
    }),
  );
}

function benchAlarm(run: string, n: number): AlarmEvent {
  const machineId = `BENCH-WF-${run}-${String(n).padStart(4, '0')}`;
  const alarmId = `${machineId}.temperature-high.${n + 1}`;
  const now = Date.now();
  return {
    v: 1,
    eventId: `${alarmId}#1`,
    alarmId,
    transition: 'RAISED',
    state: 'ACTIVE_UNACK',
    machineId,
    site: 'plant-1',
    line: 'line-1',
    machineType: 'cnc-mill',
    rule: 'temperature-high',
    kind: 'limit',
    severity: 'high',
    field: 'temperatureC',
    value: 79.5,
    limit: 78,
    ts: now,
    raisedAt: now,
    conditionSince: now,
    by: null,
    shelvedUntil: null,
    flood: null,
    message: 'temperatureC 79.5 °C above high limit 78 °C (benchmark)',
  };
}

export async function benchWorkflows(
  config: Config,
  req: WorkflowsBenchRequest,
  out: Output,
): Promise<WorkflowsBenchResult> {
  await readWorkflowsHealthz(config, 1).catch(() => {
    throw new StackError('No workflow worker answers: start the stack first ("factory up").');
  });
  const connection = await Connection.connect({
    address: formatAddress(config.temporal),
    connectTimeout: 3_000,
  });
  const client = new Client({ connection, namespace: config.temporalNamespace });
  const producer = reliableProducer(pipelineKafka(config, 'bench-workflows', silentLogger, 'admin'));
  await producer.connect();
  const run = randomUUID().slice(0, 6);
  const started: string[] = [];
  try {
    const references = Math.max(200, req.burst);
    const bare = await bareStarts(client, run, references, out);
    const escalation = loadEscalationConfig(config.escalationFile);
    const direct = await directStarts(client, escalation, run, references, out);
    const reference = { parallel: RAW_PARALLEL, bare, direct };

    out.line(`  flood: ${req.flood} alarms over ${req.overS} s through Kafka and the dispatcher…`);
    const flood = Array.from({ length: req.flood }, (_, i) => benchAlarm(`${run}f`, i));
    let lagMax = 0;
    const lagProbe = setInterval(() => {
      readWorkflowsHealthz(config, 1)
        .then((h) => {
          lagMax = Math.max(lagMax, h.counters.lag ?? 0);
        })
        .catch(() => undefined);
    }, 1_000);
    const floodSent = new Map<string, number>();
    const t0 = Date.now();
    for (const [i, e] of flood.entries()) {
      await sleep(Math.max(0, t0 + (i * req.overS * 1000) / req.flood - Date.now()));
      floodSent.set(e.alarmId, await send(producer, [e]));
      if (i % 50 === 49) out.progress(`  flood: ${i + 1}/${req.flood} alarms sent`);
    }
    const floodStarts = await startLatencies(client, floodSent, out, 'flood');
    const floodMs = [...floodStarts.values()];
    const slowest = [...floodStarts]
      .map(([alarmId, ms]) => ({ atS: (floodSent.get(alarmId)! - t0) / 1000, ms }))
      .sort((a, b) => b.ms - a.ms)
      .slice(0, 10);
    clearInterval(lagProbe);
    started.push(...floodSent.keys());

    out.line(`  burst: ${req.burst} alarms at once…`);
    const burst = Array.from({ length: req.burst }, (_, i) => benchAlarm(`${run}b`, i));
    const burstSent = new Map<string, number>();
    const cpu0 = processCpuSeconds(config, 'workflows-1');
    const server0 = processCpuSeconds(config, 'temporal');
    const c0 = performance.now();
    for (let i = 0; i < burst.length; i += 100) {
      const slice = burst.slice(i, i + 100);
      const at = await send(producer, slice);
      for (const e of slice) burstSent.set(e.alarmId, at);
    }
    const burstMs = [...(await startLatencies(client, burstSent, out, 'burst')).values()];
    const burstWallS = (performance.now() - c0) / 1000;
    const workerCpu = (processCpuSeconds(config, 'workflows-1') - cpu0) / burstWallS;
    const serverCpu = (processCpuSeconds(config, 'temporal') - server0) / burstWallS;
    const cores = availableParallelism();
    started.push(...burstSent.keys());
    const burstS = Math.max(...burstMs) / 1000;
    const startsPerSecond = req.burst / burstS;
    const ratioToDirect = startsPerSecond / direct.startsPerSecond;
    const floodLatency = latency(floodMs);
    return {
      reference,
      flood: {
        alarms: req.flood,
        overS: req.overS,
        startMs: floodLatency,
        behindMaxS: floodLatency.max / 1000,
        slowest,
        lagMaxRecords: lagMax,
        targets: { p99Under500Ms: floodLatency.p99 < 500, behindUnder10s: floodLatency.max < 10_000 },
      },
      burst: {
        alarms: req.burst,
        seconds: burstS,
        startsPerSecond,
        startMs: latency(burstMs),
        workerCpu,
        serverCpu,
        cores,
      },
      ratioToDirect,
      directToBare: direct.startsPerSecond / bare.startsPerSecond,
      limitedBy:
        ratioToDirect < 0.8 ? 'dispatcher' : workerCpu >= 0.85 ? 'workflow-worker-cpu' : 'temporal-server',
    };
  } finally {
    out.progress(`  ending ${started.length} benchmark escalations…`);
    await inParallel(started, PARALLEL, async (alarmId) => {
      await client.workflow
        .getHandle(escalationId(alarmId))
        .terminate('benchmark over')
        .catch((err) => {
          if (!(err instanceof WorkflowNotFoundError)) throw err;
        });
    });
    await producer.disconnect();
    await connection.close();
  }
}

/** CPU seconds (user and system) a component's process has used, from /proc. */
function processCpuSeconds(config: Config, component: string): number {
  const record = readPidFile(paths(config).pid(component));
  if (!record) return Number.NaN;
  try {
    // Fields after the command's closing parenthesis: utime and stime are the 12th and 13th, in ticks.
    const stat = readFileSync(`/proc/${record.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return Number.NaN;
  }
}

/** Sends alarm events as the analytics processor does (key: the machine); returns the append time used. */
async function send(producer: Producer, events: AlarmEvent[]): Promise<number> {
  const at = Date.now();
  await producer.send({
    topic: TOPICS.alarms,
    acks: -1,
    messages: events.map((e) => ({ key: e.machineId, value: JSON.stringify(e), timestamp: String(at) })),
  });
  return at;
}

/** Waits for every alarm's escalation to exist; per alarm, from its append to its start on the server. */
async function startLatencies(
  client: Client,
  sent: Map<string, number>,
  out: Output,
  what: string,
): Promise<Map<string, number>> {
  const latencies = new Map<string, number>();
  const pending = [...sent.keys()];
  const deadline = Date.now() + 120_000 + sent.size * 200;
  while (pending.length > 0) {
    if (Date.now() > deadline)
      throw new StackError(
        `${pending.length} of ${sent.size} ${what} alarms never started an escalation: see the workflow worker's log (factory status).`,
      );
    const waiting: string[] = [];
    await inParallel(pending.splice(0), PARALLEL, async (alarmId) => {
      const d = await client.workflow
        .getHandle(escalationId(alarmId))
        .describe()
        .catch(() => undefined);
      if (d) latencies.set(alarmId, d.startTime.getTime() - sent.get(alarmId)!);
      else waiting.push(alarmId);
    });
    pending.push(...waiting);
    out.progress(`  ${what}: ${latencies.size}/${sent.size} escalations started`);
    if (pending.length > 0) await sleep(500);
  }
  return latencies;
}

/** Times `work` over `ids`, `RAW_PARALLEL` at a time; then ends the workflows it started. */
async function timedStarts(
  client: Client,
  ids: string[],
  what: string,
  out: Output,
  start: (id: string) => Promise<unknown>,
  workflowId: (id: string) => string = (id) => id,
) {
  out.line(`  reference: ${ids.length} ${what}, ${RAW_PARALLEL} at a time…`);
  const t0 = performance.now();
  await inParallel(ids, RAW_PARALLEL, async (id) => {
    await start(id);
  });
  const seconds = (performance.now() - t0) / 1000;
  out.progress(`  reference: ending ${ids.length} workflows…`);
  await inParallel(ids, PARALLEL, async (id) => {
    await client.workflow.getHandle(workflowId(id)).terminate('reference measured');
  });
  return { starts: ids.length, startsPerSecond: ids.length / seconds };
}

/** The server's own start rate: a workflow type nobody polls. */
const bareStarts = (client: Client, run: string, starts: number, out: Output) =>
  timedStarts(
    client,
    Array.from({ length: starts }, (_, i) => `bench-bare-${run}-${i}`),
    'bare workflow starts straight to Temporal',
    out,
    (workflowId) =>
      client.workflow.start('benchNoop', {
        taskQueue: 'factory-bench-noop',
        workflowId,
        args: [],
        // Should the bench die before it ends them, they time out.
        workflowExecutionTimeout: '10 minutes',
      }),
  );

/** The escalations themselves, started by the dispatcher's own code straight from a client. */
async function directStarts(
  client: Client,
  escalation: EscalationConfig,
  run: string,
  starts: number,
  out: Output,
) {
  const alarms = new Map(
    Array.from({ length: starts }, (_, i) => benchAlarm(`${run}d`, i)).map((e) => [e.alarmId, e]),
  );
  return timedStarts(
    client,
    [...alarms.keys()],
    'escalations started straight from a client (no Kafka, no dispatcher loop)',
    out,
    (alarmId) => dispatchAlarmEvent(client, alarms.get(alarmId)!, escalation),
    escalationId,
  );
}
