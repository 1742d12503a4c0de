import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../../common/config.js';
import { projectRoot } from '../../common/config.js';
import type { HostBenchResult } from '../../workers/bench.js';
import type { Output } from '../supervisor/output.js';
import { type AlarmsBenchRequest, type AlarmsBenchResult, benchAlarms } from './bench-alarms.js';
import {
  BROKER_CRASHES,
  type BrokerCrashKind,
  type BrokerCrashResult,
  benchBrokerCrash,
} from './bench-broker-crash.js';
import { benchPauseSoak, type PauseSoakResult } from './bench-pause.js';
import { benchPipeline, type PipelineBenchRequest, type PipelineBenchResult } from './bench-pipeline.js';
import { benchFailover, type FailoverBenchResult } from './bench-workers.js';
import { benchWorkflows, type WorkflowsBenchRequest, type WorkflowsBenchResult } from './bench-workflows.js';

export interface BenchRequest {
  machines: number;
  seconds: number;
  outDir: string;
  /** Also measure the running stack's ingestion capacity (needs `factory up`). */
  pipeline?: PipelineBenchRequest & { config: Config };
  /** Also kill workers of the running stack and measure failover and rebalance. */
  failover?: { config: Config; kills: number };
  /** Also pause workers of the running stack past their session and look for stale readings. */
  pauseSoak?: { config: Config; rounds: number };
  /** Also crash the running stack's MQTT broker, each way, round after round, and check for loss. */
  brokerCrash?: { config: Config; rounds: number };
  /** Also inject random faults into the running stack's machines and score the alarms. */
  alarms?: AlarmsBenchRequest & { config: Config };
  /** Also flood the running stack's dispatcher with alarm events and time the escalation starts. */
  workflows?: WorkflowsBenchRequest & { config: Config };
}

/** Runs a benchmark script in a fresh Node (with --expose-gc) and returns its JSON line. */
function runScript(script: string, args: string[]): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--expose-gc', '--import', 'tsx', join(projectRoot, script), ...args],
      {
        cwd: projectRoot,
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    child.stdout.on('data', (b) => {
      out += b;
    });
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`${script} exited with ${code}`));
      try {
        resolve(JSON.parse(out.trim().split('\n').at(-1) ?? ''));
      } catch {
        reject(new Error(`${script} printed no JSON result`));
      }
    });
  });
}

const n = (v: number, digits = 0) => v.toLocaleString('en', { maximumFractionDigits: digits });

/** What a backlog at each stage says about the pipeline. */
const STAGE_MEANING = {
  publishers:
    "readings waited in the bench's publishers: the broker (or this process, short of CPU) acknowledged them no faster",
  broker: 'readings waited in Mosquitto for the bridges: bridges → Kafka is the slowest step',
  kafka: 'readings waited in Kafka for the writers: writer → InfluxDB is the slowest step',
  none: 'no stage built up a backlog: the pipeline took all that was offered; offer more (--rate)',
} as const;

function latencyText(l: PipelineBenchResult['endToEndMs']): string {
  const ms = (k: 'p50' | 'p90' | 'p99') =>
    l[k] !== null
      ? `${n(l[k])} ms`
      : l.samples === 0
        ? '-'
        : `>${n(l.lastBucketMs ?? 0)} ms (beyond the last bucket)`;
  return `p50 ${ms('p50')}, p90 ${ms('p90')}, p99 ${ms('p99')}, max ${l.max === null ? '- (writer does not report it)' : `${n(l.max)} ms`}`;
}

/** The pipeline figures for people; the JSON holds the series. */
function pipelineLines(p: PipelineBenchResult): string[] {
  const grew = (k: keyof typeof p.backlog.limitedByGrowth) => `${k} +${n(p.backlog.limitedByGrowth[k])}`;
  return [
    `  ingestion capacity: ${n(p.capacityPerSecond, 1)} readings/s stored (${n(p.stored)}/${n(p.published)} in ${n(p.elapsedSeconds, 1)} s${p.complete ? '' : ', NOT all stored before the deadline'}; offered ${n(p.offeredPerSecond)}/s${p.offeredPerSecond < p.requestedPerSecond * 0.95 ? ` of ${n(p.requestedPerSecond)}/s asked` : ''} from ${p.publishers} publishers, confirmations ${p.confirmations ? 'on' : 'off'}${p.replayed > 0 ? `, ${n(p.replayed)} replayed for want of a confirmation` : ''}; the stack's workers added ~${n(p.gatewaysPerSecond, 1)}/s)`,
    `  end to end: ${latencyText(p.endToEndMs)}`,
    `  limited by: ${p.limitedBy} (${STAGE_MEANING[p.limitedBy]})`,
    `  backlog growth: ${grew('publishers')}, ${grew('broker')} (estimate), ${grew('kafka')}${p.replayed > 0 ? `; judged on the first ${n(p.backlog.limitedByJudgedUntilMs / 1000, 1)} s, before the publishers replayed` : ''}; writers peaked at ${n(p.backlog.writerPerSecond.peak)}/s`,
    `  raw MQTT QoS 1 on the same broker: ${n(p.rawMqttPerSecond)} messages/s; capacity is ${p.ratioToRawMqtt === null ? '-' : `${n(p.ratioToRawMqtt * 100, 1)}%`} of it`,
    ...(p.analytics
      ? [
          `  analytics (${p.analytics.instances} instance${p.analytics.instances > 1 ? 's' : ''}) on the same load: ${n(p.analytics.analysedPerSecond)} readings/s analysed (${n((p.analytics.analysedPerSecond / p.capacityPerSecond) * 100, 1)}% of the capacity); lag peaked at ${n(p.analytics.lagPeak)}, ${n(p.analytics.lagWhenStored)} when the last reading was stored, below 1,000 ${p.analytics.caughtUpMsAfterStored === null ? 'not within 2 min' : `${n(p.analytics.caughtUpMsAfterStored / 1000, 1)} s`} later`,
        ]
      : []),
  ];
}

function alarmLines(a: AlarmsBenchResult): string[] {
  const d = a.detectionMs;
  return [
    `  alarms: ${a.injections} faults injected into ${n(a.machines)} machines over ${a.minutes} min; recall ${n(a.recall, 3)}, precision ${n(a.precision, 3)} (${a.truePositives} of ${a.alarmsRaised} alarms caused by a fault), ${a.chattering.length} chattering, ${a.floodAlarms} flood alarms`,
    `  detection (first out-of-limit reading → alarm on Kafka), ${d.samples} alarms: p50 ${d.p50 ?? '-'} ms, p99 ${d.p99 ?? '-'} ms, max ${d.max ?? '-'} ms; p50 is ${a.ratioDetectionToPipelineP50 === null ? '-' : n(a.ratioDetectionToPipelineP50, 2)}× the pipeline's reading → InfluxDB p50 (${a.pipelineEndToEndMs.p50 === null ? '-' : n(a.pipelineEndToEndMs.p50)} ms) in the same minutes`,
    `  by fault: ${Object.entries(a.byFault)
      .map(([f, b]) => `${f} ${b.detected}/${b.injected}`)
      .join(
        ', ',
      )}; analytics lag at the end ${a.analytics.lagAtEnd}, ${n(a.analytics.receivedPerSecond)} readings/s analysed`,
  ];
}

function failoverLines(f: FailoverBenchResult): string[] {
  return [
    `  failover (SIGKILL of a worker → its machines publishing from new owners), ${f.kills.length} kills, ${n(f.failoverMs.samples)} machine moves: p50 ${n(f.failoverMs.p50)} ms, p90 ${n(f.failoverMs.p90)} ms, max ${n(f.failoverMs.max)} ms; p50 is ${n(f.ratioToSessionTimeout, 2)}× the ${n(f.sessionTimeoutMs)} ms group session`,
    `  rebalance (${f.workers} → ${f.workers + 1} → ${f.workers} workers, ${n(f.machines)} machines): a joining worker settled ${n(f.rebalance.joinMs)} ms after its first heartbeat (its process took ${n(f.rebalance.joinStartMs)} ms to start), a leaving one in ${n(f.rebalance.leaveMs)} ms; ${f.rebalance.gapsDuringRebalance} seq gaps announced`,
  ];
}

function pauseLines(p: PauseSoakResult): string[] {
  const took = p.rounds.map((r) => r.takenOverMs);
  const back = p.rounds.map((r) => r.rejoinedMs);
  return [
    `  pause soak (SIGSTOP of a worker until its machines moved, then SIGCONT), ${p.rounds.length} rounds: ${p.staleReadings} stale readings, ${p.overwrittenMachines} machines overwritten with older state; taken over in ${n(Math.min(...took))}-${n(Math.max(...took))} ms, rejoined ${n(Math.min(...back))}-${n(Math.max(...back))} ms after the resume`,
  ];
}

function brokerCrashLines(b: BrokerCrashResult): string[] {
  return (Object.keys(BROKER_CRASHES) as BrokerCrashKind[]).map((kind) => {
    const rs = b.rounds.filter((r) => r.kind === kind);
    const span = (v: number[]) => `${n(Math.min(...v) / 1000, 2)}-${n(Math.max(...v) / 1000, 2)} s`;
    return `  broker ${BROKER_CRASHES[kind]}, ${rs.length} rounds: back in ${span(rs.map((r) => r.restartedMs))}, flowing in ${span(rs.map((r) => r.recoveredMs))}, lost ${Math.max(...rs.map((r) => r.checked.lost))}`;
  });
}

const LIMITS = {
  'temporal-server':
    "Temporal limits, not the dispatcher: the server persists each escalation's start, tasks, timers and activities",
  'workflow-worker-cpu':
    'Temporal limits, not the dispatcher: the worker process (one Node thread) is busy running the escalations',
  dispatcher: 'the dispatcher limits (below 0.8 of the direct rate)',
} as const;

function workflowLines(w: WorkflowsBenchResult): string[] {
  const f = w.flood;
  return [
    `  workflows, flood of ${f.alarms} alarms over ${f.overS} s: alarm event on Kafka → alarmEscalation started p50 ${n(f.startMs.p50)} ms, p99 ${n(f.startMs.p99)} ms, max ${n(f.startMs.max)} ms (${f.targets.p99Under500Ms ? 'within' : 'OVER'} the 500 ms p99 target); the dispatcher fell behind by at most ${n(f.behindMaxS, 2)} s (${f.targets.behindUnder10s ? 'within' : 'OVER'} the 10 s target), lag at most ${n(f.lagMaxRecords)} records`,
    `  workflows, burst of ${w.burst.alarms} alarms at once: ${n(w.burst.startsPerSecond, 1)} starts/s through Kafka and the dispatcher, ${n(w.ratioToDirect, 2)}× the ${n(w.reference.direct.startsPerSecond, 1)}/s of the same escalations started straight from a client in the same run (a bare start: ${n(w.reference.bare.startsPerSecond, 1)}/s); the worker process used ${n(w.burst.workerCpu, 2)} and the Temporal server ${n(w.burst.serverCpu, 2)} CPU s/s of ${w.burst.cores} cores: ${LIMITS[w.limitedBy]}`,
  ];
}

const gitCommit = () =>
  spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: projectRoot, encoding: 'utf8' }).stdout.trim();

/**
 * `factory bench`: the machine-model benchmark (ticks per second and memory per actor for a
 * fleet), written as JSON with the machine it ran on, so runs can be compared over time.
 */
export async function bench(req: BenchRequest, out: Output): Promise<string> {
  out.line(
    `Benchmarking the machine model: ${req.machines} machines, ${req.seconds} simulated seconds each…`,
  );
  const actors = (await runScript('actors/bench.ts', [
    '--machines',
    String(req.machines),
    '--seconds',
    String(req.seconds),
  ])) as Record<string, unknown> & {
    ticksPerSecond: number;
    bytesPerActor: number;
    headless: { ticksPerSecond: number; bytesPerMachine: number };
    simulatedWeekMs: { actor: number | null; headless: number };
  };
  out.line(`Benchmarking a worker's shard host: memory per hosted machine over ${n(req.machines)} machines…`);
  const host = (await runScript('workers/bench.ts', ['--machines', String(req.machines)])) as HostBenchResult;
  let failover: FailoverBenchResult | undefined;
  if (req.failover) {
    out.line(
      `Benchmarking failover: ${req.failover.kills} worker kills (SIGKILL) on the running stack, then a worker joining and leaving…`,
    );
    failover = await benchFailover(req.failover.config, req.failover.kills, out);
  }
  let pauseSoak: PauseSoakResult | undefined;
  if (req.pauseSoak) {
    out.line(
      `Soaking the fence: ${req.pauseSoak.rounds} rounds of a worker stopped past its session (SIGSTOP), then resumed…`,
    );
    pauseSoak = await benchPauseSoak(req.pauseSoak.config, req.pauseSoak.rounds, out);
  }
  let brokerCrash: BrokerCrashResult | undefined;
  if (req.brokerCrash) {
    out.line(
      `Crashing the MQTT broker: ${req.brokerCrash.rounds} rounds of SIGKILL, SIGKILL with its data lost, and SIGTERM, each checked for loss…`,
    );
    brokerCrash = await benchBrokerCrash(req.brokerCrash.config, req.brokerCrash.rounds, out);
  }
  let alarms: AlarmsBenchResult | undefined;
  if (req.alarms) {
    const { config, ...load } = req.alarms;
    out.line(
      `Benchmarking alarms: a random fault every ${load.everyS}s for ${load.minutes} min, each held ${load.holdS}s, on the running stack…`,
    );
    alarms = await benchAlarms(config, load, out);
  }
  let workflows: WorkflowsBenchResult | undefined;
  if (req.workflows) {
    const { config, ...load } = req.workflows;
    out.line(
      'Benchmarking alarm escalations: alarm events on Kafka → workflows started, on the running stack…',
    );
    workflows = await benchWorkflows(config, load, out);
  }
  let pipeline: PipelineBenchResult | undefined;
  if (req.pipeline) {
    const { config, ...load } = req.pipeline;
    out.line(
      `Benchmarking ingestion MQTT → Kafka → InfluxDB: the raw broker first, then ${n(load.rate)} readings/s for ${load.seconds}s from ${load.publishers} publishers and ${n(load.machines)} machines…`,
    );
    pipeline = await benchPipeline(config, load, out);
  }
  const result = {
    kind: 'factory-bench',
    at: new Date().toISOString(),
    commit: gitCommit(),
    host: { cores: cpus().length, cpu: cpus()[0]?.model, memoryBytes: totalmem(), node: process.version },
    actors,
    shardHost: host,
    ...(failover ? { failover } : {}),
    ...(pauseSoak ? { pauseSoak } : {}),
    ...(brokerCrash ? { brokerCrash } : {}),
    ...(pipeline ? { pipeline } : {}),
    ...(alarms ? { alarms } : {}),
    ...(workflows ? { workflows } : {}),
  };
  mkdirSync(req.outDir, { recursive: true });
  const file = join(req.outDir, `bench-${result.at.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(join(req.outDir, 'latest.json'), `${JSON.stringify(result, null, 2)}\n`);
  out.line(
    [
      `  XState actors: ${Math.round(actors.ticksPerSecond).toLocaleString('en')} ticks/s on one core, ${Math.round(actors.bytesPerActor).toLocaleString('en')} bytes per actor`,
      `  headless step: ${Math.round(actors.headless.ticksPerSecond).toLocaleString('en')} ticks/s, ${Math.round(actors.headless.bytesPerMachine).toLocaleString('en')} bytes per machine`,
      `  one machine, simulated week: ${actors.simulatedWeekMs.actor ?? '-'} ms as an actor, ${actors.simulatedWeekMs.headless} ms headless`,
      `  hosted by a worker: ${n(host.bytesPerHostedMachine)} bytes per machine (${n(host.ratioToBareActor * 100, 1)}% of a bare actor's ${n(host.bytesPerBareActor)}, measured alongside)`,
      ...(failover ? failoverLines(failover) : []),
      ...(pauseSoak ? pauseLines(pauseSoak) : []),
      ...(brokerCrash ? brokerCrashLines(brokerCrash) : []),
      ...(pipeline ? pipelineLines(pipeline) : []),
      ...(alarms ? alarmLines(alarms) : []),
      ...(workflows ? workflowLines(workflows) : []),
      `Results: ${file}`,
    ].join('\n'),
  );
  return file;
}
