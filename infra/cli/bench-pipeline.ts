import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { InfluxDB } from 'influx';
import type { MqttClient } from 'mqtt';
import { type Config, formatAddress } from '../../common/config.js';
import { confirmTopic } from '../../common/confirm.js';
import { type Account, CredentialsError, readCredentials } from '../../common/credentials.js';
import { silentLogger } from '../../common/log.js';
import { connectOperator } from '../../common/mqtt.js';
import { connectNats } from '../../common/nats.js';
import { FleetRegistry } from '../../common/registry.js';
import { sleep } from '../../common/retry.js';
import { quantile } from '../../common/runtime.js';
import type { TelemetryV1 } from '../../common/telemetry.js';
import { mqttTopics } from '../../common/topics-mqtt.js';
import { Publisher, type PublisherOptions, type PublisherStats } from '../../firmware/publisher.js';
import { pipelineInflux } from '../../pipeline/influx.js';
import { readAnalyticsHealthz } from '../servers/analytics.js';
import { type Healthz, type PipelineRole, readHealthz } from '../servers/pipeline.js';
import type { Output } from '../supervisor/output.js';

export interface PipelineBenchRequest {
  /** Readings per second offered, over all publishers together. */
  rate: number;
  seconds: number;
  machines: number;
  /** MQTT connections offering the load, each a gateway-like `Publisher`. */
  publishers: number;
}

/** Where a backlog can build up, in pipeline order. */
export type Stage = 'publishers' | 'broker' | 'kafka';

/** The pipeline once a second while the bench runs. */
export interface StageSample {
  /** Milliseconds since the first publish. */
  atMs: number;
  phase: 'load' | 'drain';
  /**
   * In the bench's publishers: `pending` not yet acknowledged by the broker (queue, spool, in
   * flight; replayed readings count again), `unconfirmed` acknowledged but not yet confirmed in Kafka (with confirmations on;
   * these sit in the broker or a bridge, so they overlap with `broker`).
   */
  publishers: { pending: number; unconfirmed: number };
  /**
   * Readings the publishers had sent again so far for want of a confirmation: each goes back
   * to their queue while a copy still waits in the broker.
   */
  replayed: number;
  /** Acknowledged by the broker during the run and not yet received by a bridge (estimate). */
  broker: number;
  /** Records in Kafka the writers have not stored yet (their `lag`). */
  kafka: number;
  /** Readings the writers stored per second since the previous sample (the gateways' too). */
  writerPerSecond: number;
}

export interface PipelineBenchResult {
  /** Asked for; `offeredPerSecond` is what the bench managed to hand its publishers. */
  requestedPerSecond: number;
  offeredPerSecond: number;
  publishers: number;
  seconds: number;
  machines: number;
  confirmations: boolean;
  published: number;
  stored: number;
  /** Every reading was stored before the deadline. */
  complete: boolean;
  /** From the first publish until the last reading was seen stored (or the deadline). */
  elapsedSeconds: number;
  /** The pipeline's capacity: readings stored per second over `elapsedSeconds`, as measured. */
  capacityPerSecond: number;
  /** Messages per second the stack's own gateways got acknowledged meanwhile (an estimate). */
  gatewaysPerSecond: number;
  /** Readings the bench's publishers sent again for want of a confirmation. */
  replayed: number;
  endToEndMs: Latency;
  backlog: {
    /** Per stage: at the first sample, the largest, at the end of the load, and at the last sample. */
    stages: Record<Stage, { start: number; peak: number; endOfLoad: number; final: number }>;
    /** `limitedBy` looks at the samples up to here: the last before the first replay. */
    limitedByJudgedUntilMs: number;
    /** How much each stage's backlog grew (peak over start) up to then. */
    limitedByGrowth: Record<Stage, number>;
    unconfirmedPeak: number;
    writerPerSecond: { peak: number; mean: number };
    brokerEstimate: string;
    samples: StageSample[];
  };
  /** The stage whose backlog grew most, or `none` when none grew by a second's worth of load. */
  limitedBy: Stage | 'none';
  rawMqttPerSecond: number;
  /** Capacity as a fraction of the raw broker rate (null if the broker carried nothing). */
  ratioToRawMqtt: number | null;
  bridges: number;
  lanesPerBridge: number;
  writers: number;
  /** The analytics processors on the same load (they read every reading the writers store). */
  analytics: AnalyticsFigures | null;
}

export interface AnalyticsFigures {
  instances: number;
  /** Readings analysed per second between the start of the load and the last reading stored. */
  analysedPerSecond: number;
  /** Their group's lag: the largest seen, when the last reading was stored, and how long after that it fell below 1,000. */
  lagPeak: number;
  lagWhenStored: number;
  caughtUpMsAfterStored: number | null;
}

/** Follows the analytics processors' counters and lag through a pipeline run. */
class AnalyticsWatch {
  private before = 0;
  private startedAt = 0;
  private lagPeak = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly config: Config) {}

  private async read(): Promise<{ received: number; lag: number } | undefined> {
    const n = this.config.pipeline.analytics;
    const parts = await Promise.all(
      Array.from({ length: n }, (_, i) => readAnalyticsHealthz(this.config, i + 1).catch(() => undefined)),
    );
    if (parts.some((p) => p === undefined)) return undefined;
    return {
      received: sum(parts.map((p) => p!.counters.received ?? 0)),
      lag: Math.max(0, ...parts.map((p) => p!.counters.lag ?? 0)),
    };
  }

  async start() {
    this.startedAt = Date.now();
    this.before = (await this.read())?.received ?? 0;
    this.timer = setInterval(() => {
      void this.read().then((r) => {
        if (r) this.lagPeak = Math.max(this.lagPeak, r.lag);
      });
    }, SAMPLE_EVERY_MS);
  }

  async finish(storedAt: number, out: Output): Promise<AnalyticsFigures | null> {
    clearInterval(this.timer);
    const at = await this.read();
    if (!at) return null;
    const analysedPerSecond =
      (at.received - this.before) / Math.max(0.001, (storedAt - this.startedAt) / 1000);
    // Its lag is sampled from Kafka every 5 s: wait for a sample below 1,000, two minutes at most.
    let caughtUpMsAfterStored: number | null = null;
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      const r = await this.read();
      if (r && r.lag < 1_000) {
        caughtUpMsAfterStored = Date.now() - storedAt;
        break;
      }
      out.progress(`waiting for analytics to catch up: lag ${r?.lag ?? '?'}`);
      await sleep(1_000);
    }
    return {
      instances: this.config.pipeline.analytics,
      analysedPerSecond,
      lagPeak: Math.max(this.lagPeak, at.lag),
      lagWhenStored: at.lag,
      caughtUpMsAfterStored,
    };
  }
}

export interface Latency {
  p50: number | null;
  p90: number | null;
  p99: number | null;
  /**
   * The slowest reading the writers saw during the run (their `endToEndMaxMs`, whose window
   * reaches 10-20 s back, so a slower reading just before the run could show); null from writers
   * that do not report it.
   */
  max: number | null;
  /** Readings stored meanwhile: the gateways' too, and a replayed reading once per copy. */
  samples: number;
  /** The histogram's last finite bound: a percentile beyond it is null and listed here. */
  lastBucketMs: number | null;
  beyondLastBucket: ('p50' | 'p90' | 'p99')[];
}

const SITE = 'plant-1';
/** The bench's publishers alternate between these lines, as a plant's gateways would. */
const LINES = ['line-1', 'line-2'] as const;
/** As firmware/main.ts configures real gateways (ADR 0003), so the bench pays what they pay. */
const GATEWAY_CONFIRM = { maxUnconfirmed: 50_000, timeoutMs: 15_000, maxTimeoutMs: 300_000 };
/** The raw broker reference: the size of a telemetry reading, four pairs, five seconds. */
const RAW = { pairs: 4, seconds: 5, payloadBytes: 228, inFlight: 1_000 };
const SAMPLE_EVERY_MS = 1_000;

type Histogram = { le: number; count: number }[];

/** Every instance of a role's /healthz (a 503 still carries the counters). */
function healthz(config: Config, role: PipelineRole): Promise<Healthz[]> {
  const count = role === 'bridge' ? config.pipeline.bridges : config.pipeline.writers;
  return Promise.all(Array.from({ length: count }, (_, i) => readHealthz(config, role, i + 1)));
}

const sum = (ns: number[]) => ns.reduce((a, b) => a + b, 0);
const en = (n: number) => n.toLocaleString('en');

/**
 * Progress at most once a second: off a terminal every changed line is printed, and the bench
 * must not spend its event loop writing logs.
 */
function throttled(out: Output): (text: string) => void {
  let last = 0;
  return (text) => {
    if (Date.now() - last < 1_000) return;
    last = Date.now();
    out.progress(text);
  };
}

interface WriterFigures {
  written: number;
  /** Written per second over the writers' last 10 s (their own clocks, not this sampler's). */
  writtenPerSecond: number;
  lag: number;
  /** Undefined from writers older than the `endToEndMaxMs` gauge. */
  slowestMs: number | undefined;
  histogram: Histogram;
}

/** The writers' counters and end-to-end histograms, summed over writers. */
async function writerFigures(config: Config): Promise<WriterFigures> {
  const parts = await healthz(config, 'writer');
  const histograms = parts.map((p) =>
    (p.histograms?.endToEndMs ?? []).map((b) => ({
      le: b.le === '+Inf' ? Number.POSITIVE_INFINITY : b.le,
      count: b.count,
    })),
  );
  const longest = histograms.reduce((a, b) => (b.length > a.length ? b : a), [] as Histogram);
  const slowest = parts.flatMap((p) =>
    p.counters.endToEndMaxMs === undefined ? [] : [p.counters.endToEndMaxMs],
  );
  return {
    written: sum(parts.map((p) => p.counters.written ?? 0)),
    writtenPerSecond: sum(parts.map((p) => p.rates?.written ?? 0)),
    // Each writer reports its whole group's lag (read from Kafka): the same figure, not a share.
    lag: Math.max(0, ...parts.map((p) => p.counters.lag ?? 0)),
    slowestMs: slowest.length > 0 ? Math.max(...slowest) : undefined,
    histogram: longest.map((b, i) => ({ le: b.le, count: sum(histograms.map((h) => h[i]?.count ?? 0)) })),
  };
}

/** MQTT messages the bridges took from the broker (redeliveries and replays included). */
async function bridgesReceived(config: Config): Promise<number> {
  return sum((await healthz(config, 'bridge')).map((b) => b.counters.received ?? 0));
}

/**
 * What the stack's own gateways got the broker to acknowledge: bridges receive their readings
 * beside ours, so the broker's backlog is only ours once theirs is taken off. Their retained
 * status heartbeats (every few seconds) carry `acked`; between two, each is carried forward at
 * its rate over the last two. An estimate, good to a few seconds of the gateways' traffic.
 */
class GatewayShare {
  private readonly last = new Map<string, { acked: number; ts: number; perSecond: number }>();

  observe(topic: string, payload: Buffer): void {
    if (/\/status\/bench-/.test(topic)) return; // ours are counted exactly, from the publishers
    let status: { acked?: unknown; ts?: unknown; rates?: { published?: unknown } } | null;
    try {
      status = JSON.parse(payload.toString('utf8'));
    } catch {
      return;
    }
    const { acked, ts } = status ?? {};
    const known = this.last.get(topic);
    if (typeof acked !== 'number' || typeof ts !== 'number') {
      if (known) known.perSecond = 0; // a last will: that gateway stopped publishing
      return;
    }
    // The acknowledged rate between two heartbeats; on the first (or after a restart), the
    // rate the gateway announces for what it published.
    const announced = status?.rates?.published;
    const perSecond =
      known && ts > known.ts && acked >= known.acked
        ? ((acked - known.acked) / (ts - known.ts)) * 1000
        : typeof announced === 'number'
          ? announced
          : 0;
    this.last.set(topic, { acked, ts, perSecond });
  }

  ackedAt(now: number): number {
    return sum([...this.last.values()].map((g) => g.acked + (g.perSecond * Math.max(0, now - g.ts)) / 1000));
  }
}

/**
 * The broker on its own: QoS 1 from `RAW.pairs` publishers to as many subscribers in this
 * process, each pair keeping at most `RAW.inFlight` messages between publish and receipt (more
 * would only overflow the broker's queues). Messages received per second: what the pipeline's
 * first hop could carry at best on this machine.
 */
async function rawMqttRate(config: Config, run: string, out: Output): Promise<number> {
  const payload = Buffer.alloc(RAW.payloadBytes, 'x');
  const clients: MqttClient[] = [];
  const connect = async (purpose: string) => {
    const c = await connectOperator(config, purpose);
    clients.push(c);
    return c;
  };
  try {
    const pairs = await Promise.all(
      Array.from({ length: RAW.pairs }, async (_, i) => {
        const topic = `factory/_bench/${run}/${i + 1}`;
        const sub = await connect(`bench-sub-${run}`);
        await sub.subscribeAsync(topic, { qos: 1 });
        return { topic, sub, pub: await connect(`bench-pub-${run}`), sent: 0, received: 0 };
      }),
    );
    let measuring = true;
    let counted = 0;
    for (const p of pairs) {
      const pump = () => {
        for (; measuring && p.sent - p.received < RAW.inFlight; p.sent++) {
          p.pub.publish(p.topic, payload, { qos: 1 });
        }
      };
      p.sub.on('message', () => {
        p.received++;
        if (measuring) counted++;
        pump();
      });
      pump();
    }
    const started = Date.now();
    const progress = throttled(out);
    while (Date.now() - started < RAW.seconds * 1000) {
      await sleep(250);
      progress(`raw MQTT QoS 1 reference: ${en(counted)} messages received`);
    }
    measuring = false;
    return counted / ((Date.now() - started) / 1000);
  } finally {
    await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
  }
}

interface BenchPublisher {
  publisher: Publisher;
  line: string;
  statusTopic: string;
  spool: string;
}

/** The gateway account of each line the bench publishes on; checked before anything starts. */
function lineAccounts(config: Config): { line: string; account: Account }[] {
  const accounts = readCredentials(config).mqttGateways;
  return LINES.map((line) => {
    const account = accounts[`${SITE}/${line}`];
    if (!account) {
      throw new CredentialsError(
        `No gateway account for ${SITE}/${line}: run "factory up" with the default fleet.`,
      );
    }
    return { line, account };
  });
}

/** The bench's machines in the fleet registry as external machines (no worker hosts them). */
async function registerBenchMachines(
  config: Config,
  machines: BenchMachine[],
  register = true,
): Promise<void> {
  const nc = await connectNats(config, 'factory-bench', 'admin');
  try {
    const registry = await FleetRegistry.open(nc);
    if (register)
      await registry.registerExternal(
        machines.map((m) => ({ machineId: m.id, site: SITE, line: m.owner.line })),
      );
    else await registry.unregisterExternal(machines.map((m) => m.id));
  } finally {
    await nc.close();
  }
}

/** `count` gateway-like publishers, alternating between the lines, each with its own spool. */
function startPublishers(
  config: Config,
  run: string,
  count: number,
  lines: { line: string; account: Account }[],
): BenchPublisher[] {
  const base: Omit<PublisherOptions, 'clientId' | 'username' | 'password' | 'spool' | 'statusTopic'> = {
    url: `mqtt://${formatAddress(config.mqtt)}`,
    maxInflight: 500,
    maxMemory: 100_000,
    backoffMinMs: 100,
    backoffMaxMs: 1_000,
    birth: () => ({ online: true, bench: true }),
    will: { online: false },
    log: silentLogger,
  };
  return Array.from({ length: count }, (_, i) => {
    const { line, account } = lines[i % lines.length]!;
    const clientId = `bench-${run}-${i + 1}`;
    const statusTopic = mqttTopics.status(SITE, line, clientId);
    const spool = mkdtempSync(join(tmpdir(), 'factory-bench-'));
    const publisher = new Publisher({
      ...base,
      ...account,
      clientId,
      statusTopic,
      spool: { dir: spool, maxBytes: 1 << 30, segmentBytes: 1 << 20 },
      confirm: config.pipeline.confirmations
        ? { ...GATEWAY_CONFIRM, topic: confirmTopic(SITE, line) }
        : undefined,
    });
    publisher.start();
    return { publisher, line, statusTopic, spool };
  });
}

/** A synthetic machine: one publisher's, with its own seq and never a repeated timestamp. */
interface BenchMachine {
  id: string;
  owner: BenchPublisher;
  seq: number;
  lastTs: number;
}

function publishReading(m: BenchMachine): void {
  // InfluxDB keeps one point per series and timestamp: a machine never reuses a millisecond.
  m.lastTs = Math.max(Date.now(), m.lastTs + 1);
  m.seq++;
  const t: TelemetryV1 = {
    v: 1,
    site: SITE,
    line: m.owner.line,
    machineId: m.id,
    ts: m.lastTs,
    seq: m.seq,
    state: 'RUNNING',
    temperatureC: 50,
    speedRpm: 1000,
    vibrationMmS: 2,
    powerKw: 10,
    productionCount: m.seq,
    goodCount: m.seq,
    oee: 0.9,
  };
  m.owner.publisher.publish(mqttTopics.telemetry(SITE, t.line, t.machineId), JSON.stringify(t), {
    machineId: m.id,
    kind: 't',
    n: m.seq,
  });
}

/** Follows every stage once a second; counters are taken relative to `start()`. */
class StageSampler {
  readonly samples: StageSample[] = [];
  phase: StageSample['phase'] = 'load';
  /** The slowest reading any writer reported while sampling. */
  slowestMs: number | undefined;
  private base = { at: 0, received: 0, gateways: 0 };
  private timer: NodeJS.Timeout | undefined;
  private busy = false;

  constructor(
    private readonly config: Config,
    private readonly publishers: Publisher[],
    private readonly gateways: GatewayShare,
  ) {}

  /** From here on, with the writers' figures just before the first publish. */
  async start(before: WriterFigures): Promise<void> {
    const at = Date.now();
    this.base = { at, received: await bridgesReceived(this.config), gateways: this.gateways.ackedAt(at) };
    // Nothing of ours is anywhere yet: the baseline every growth is measured from.
    this.samples.push({
      atMs: 0,
      phase: 'load',
      publishers: { pending: 0, unconfirmed: 0 },
      replayed: 0,
      broker: 0,
      kafka: before.lag,
      writerPerSecond: 0,
    });
    this.timer = setInterval(() => {
      if (this.busy) return; // a slow answer skips a second rather than piling up requests
      this.busy = true;
      this.sample()
        .catch(() => undefined) // a missed sample is a gap in the series, not a failed bench
        .finally(() => {
          this.busy = false;
        });
    }, SAMPLE_EVERY_MS);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** What the stack's gateways got acknowledged since `start()` (an estimate). */
  gatewaysAckedSinceStart(now: number): number {
    return this.gateways.ackedAt(now) - this.base.gateways;
  }

  get latest(): StageSample | undefined {
    return this.samples.at(-1);
  }

  /** Message counts of the bench's publishers; `pending` is what the broker has not acknowledged. */
  private publisherFigures() {
    const stats = this.publishers.map((p) => p.stats);
    // A reading is done once, when confirmed (or, without confirmations, acknowledged): what is
    // not done is held, in the queue, the spool, in flight or unconfirmed. Acknowledgements
    // cannot say it, since a replayed reading is acknowledged twice.
    const done = (s: PublisherStats) => (this.config.pipeline.confirmations ? s.confirmed : s.acked);
    const held = sum(stats.map((s) => s.published - done(s) - s.dropped));
    const unconfirmed = sum(stats.map((s) => s.unconfirmed));
    return {
      acked: sum(stats.map((s) => s.acked)),
      pending: held - unconfirmed,
      unconfirmed,
      replayed: sum(stats.map((s) => s.replayed)),
    };
  }

  private async sample(): Promise<void> {
    const [w, received] = await Promise.all([writerFigures(this.config), bridgesReceived(this.config)]);
    const now = Date.now();
    const p = this.publisherFigures();
    if (w.slowestMs !== undefined) this.slowestMs = Math.max(this.slowestMs ?? 0, w.slowestMs);
    const gateways = this.gatewaysAckedSinceStart(now);
    this.samples.push({
      atMs: now - this.base.at,
      phase: this.phase,
      publishers: { pending: p.pending, unconfirmed: p.unconfirmed },
      replayed: p.replayed,
      broker: Math.round(p.acked + gateways - (received - this.base.received)),
      kafka: w.lag,
      // The writers' own rate: a difference of two samples taken over HTTP would be skewed by
      // whichever answer came late.
      writerPerSecond: Math.round(w.writtenPerSecond),
    });
  }
}

const stageValue = (s: StageSample, stage: Stage) =>
  stage === 'publishers' ? s.publishers.pending : stage === 'broker' ? s.broker : s.kafka;

const STAGES: Stage[] = ['publishers', 'broker', 'kafka'];

function backlogSummary(samples: StageSample[]): PipelineBenchResult['backlog']['stages'] {
  const endOfLoad = samples.filter((s) => s.phase === 'load').at(-1);
  const figures = (stage: Stage) => {
    const values = samples.map((s) => stageValue(s, stage));
    return {
      start: values[0] ?? 0,
      peak: values.length > 0 ? Math.max(...values) : 0,
      endOfLoad: endOfLoad ? stageValue(endOfLoad, stage) : 0,
      final: values.at(-1) ?? 0,
    };
  };
  return { publishers: figures('publishers'), broker: figures('broker'), kafka: figures('kafka') };
}

/**
 * The stage whose backlog grew most: the readings waited there, so the step after it is the
 * slowest. Judged on the samples before the first replay: a replay puts readings the broker
 * still holds back into the publishers' queues, charging them with a later stage's delay.
 * Growth below `threshold` (a second of offered load) is noise, not a limit.
 */
function limitingStage(
  samples: StageSample[],
  threshold: number,
): { stage: Stage | 'none'; judgedUntilMs: number; growth: Record<Stage, number> } {
  const firstReplay = samples.findIndex((s) => s.replayed > 0);
  const judged = firstReplay > 1 ? samples.slice(0, firstReplay) : samples;
  const stages = backlogSummary(judged);
  const growth = STAGES.map((stage) => ({ stage, by: stages[stage].peak - stages[stage].start }));
  const most = growth.reduce((a, b) => (b.by > a.by ? b : a));
  return {
    stage: most.by >= threshold ? most.stage : 'none',
    judgedUntilMs: judged.at(-1)?.atMs ?? 0,
    growth: Object.fromEntries(growth.map((g) => [g.stage, g.by])) as Record<Stage, number>,
  };
}

/**
 * Percentiles of a cumulative histogram. One that falls beyond the last finite bucket is not a
 * number we know: it is null and named in `beyondLastBucket`, never the bucket's bound.
 */
function latency(hist: Histogram, max: number | undefined): Latency {
  const total = hist.at(-1)?.count ?? 0;
  const lastFinite = hist.filter((b) => Number.isFinite(b.le)).at(-1);
  const beyond = (q: number) => total > 0 && q * total > (lastFinite?.count ?? 0);
  const at = (q: number) => {
    const v = beyond(q) ? null : quantile(hist, q);
    if (v === null) return null;
    // Interpolating within a wide bucket (60-120 s) can land above the slowest reading seen.
    return Math.round(max === undefined ? v : Math.min(v, max));
  };
  const qs = { p50: 0.5, p90: 0.9, p99: 0.99 } as const;
  return {
    p50: at(qs.p50),
    p90: at(qs.p90),
    p99: at(qs.p99),
    max: max ?? null,
    samples: total,
    lastBucketMs: lastFinite?.le ?? null,
    beyondLastBucket: (Object.keys(qs) as (keyof typeof qs)[]).filter((k) => beyond(qs[k])),
  };
}

/** The run's end-to-end latency: the writers' histogram over the run, their slowest reading. */
function runLatency(before: WriterFigures, after: WriterFigures, sampler: StageSampler): Latency {
  const histogram = after.histogram.map((b, i) => ({
    le: b.le,
    count: b.count - (before.histogram[i]?.count ?? 0),
  }));
  const slowest = [sampler.slowestMs, after.slowestMs].filter((n): n is number => n !== undefined);
  return latency(histogram, slowest.length > 0 ? Math.max(...slowest) : undefined);
}

function backlogReport(
  samples: StageSample[],
  limit: ReturnType<typeof limitingStage>,
): PipelineBenchResult['backlog'] {
  const rates = samples.map((s) => s.writerPerSecond);
  return {
    stages: backlogSummary(samples),
    limitedByJudgedUntilMs: limit.judgedUntilMs,
    limitedByGrowth: limit.growth,
    unconfirmedPeak: Math.max(0, ...samples.map((s) => s.publishers.unconfirmed)),
    writerPerSecond: { peak: Math.max(0, ...rates), mean: rates.length > 0 ? sum(rates) / rates.length : 0 },
    brokerEstimate:
      "acknowledged to the bench's publishers, plus the stack's gateways' share (from their status heartbeats, carried forward at their recent rate), minus what the bridges received since the start (redeliveries and replays count on both sides)",
    samples,
  };
}

/** Readings of this run's machines in InfluxDB. */
async function countStored(influx: InfluxDB, run: string, since: number): Promise<number> {
  const rows = await influx.query<{ count: number }>(
    `SELECT count("seq") AS count FROM "telemetry" WHERE "machine" =~ /^BENCH-${run}-/ AND time >= ${since}ms`,
  );
  return rows[0]?.count ?? 0;
}

const backlogLine = (s: StageSample | undefined) =>
  s
    ? `backlog publishers ${en(s.publishers.pending)}, broker ~${en(s.broker)}, Kafka ${en(s.kafka)}; writers ${en(s.writerPerSecond)}/s`
    : '';

/**
 * Offers the load for `req.seconds` from the bench's publishers, as evenly as the event loop
 * allows; returns when the last reading was handed over.
 */
async function offer(
  req: PipelineBenchRequest,
  machines: BenchMachine[],
  sampler: StageSampler,
  out: Output,
): Promise<{ started: number; ended: number; total: number }> {
  const total = req.rate * req.seconds;
  // At most a tenth of a second's readings per turn: the sampler and the publishers' acks and
  // confirmations need the event loop too, or the bench would measure its own stall.
  const perTurn = Math.max(1, Math.ceil(req.rate / 10));
  const progress = throttled(out);
  const started = Date.now();
  let sent = 0;
  while (sent < total) {
    const due = Math.min(total, sent + perTurn, Math.floor(((Date.now() - started) / 1000) * req.rate));
    for (; sent < due; sent++) publishReading(machines[sent % machines.length]!);
    progress(
      `offering ${en(req.rate)}/s: ${en(sent)}/${en(total)} published; ${backlogLine(sampler.latest)}`,
    );
    await sleep(10);
  }
  return { started, ended: Date.now(), total };
}

/** Waits until InfluxDB holds all `total` readings, or the deadline; returns when it saw them. */
async function drain(
  config: Config,
  run: string,
  load: { started: number; total: number },
  deadline: number,
  sampler: StageSampler,
  out: Output,
): Promise<{ stored: number; finished: number }> {
  const influx = pipelineInflux(config, 'reader');
  const progress = throttled(out);
  for (;;) {
    const stored = await countStored(influx, run, load.started - 60_000);
    const finished = Date.now();
    if (stored >= load.total || finished > deadline) return { stored, finished };
    progress(`waiting for InfluxDB: ${en(stored)}/${en(load.total)} stored; ${backlogLine(sampler.latest)}`);
    // Close to the end, look more often: the moment the last one lands sets the capacity.
    await sleep(stored >= load.total * 0.95 ? 100 : 500);
  }
}

/** Publishers stopped, their spools and retained statuses removed: the bench leaves nothing. */
async function cleanUp(publishers: BenchPublisher[], operator: MqttClient): Promise<void> {
  await Promise.all(publishers.map((p) => p.publisher.stop(5_000, { online: false })));
  for (const p of publishers) rmSync(p.spool, { recursive: true, force: true });
  await Promise.all(
    publishers.map((p) =>
      operator.publishAsync(p.statusTopic, '', { qos: 1, retain: true }).catch(() => undefined),
    ),
  );
}

/**
 * The ingestion capacity of the running stack (MQTT → bridge → Kafka → writer → InfluxDB):
 * first the raw broker as a reference, then more load than the pipeline takes from
 * gateway-like publishers of its own, measured by what InfluxDB stores, with the backlog of
 * every stage followed to tell which one held the readings back.
 */
export async function benchPipeline(
  config: Config,
  req: PipelineBenchRequest,
  out: Output,
): Promise<PipelineBenchResult> {
  const run = randomUUID().slice(0, 6);
  const lines = lineAccounts(config);
  const rawMqttPerSecond = await rawMqttRate(config, run, out);

  const gateways = new GatewayShare();
  const operator = await connectOperator(config, `bench-${run}`);
  operator.on('message', (topic, payload) => gateways.observe(topic, payload));
  await operator.subscribeAsync('factory/+/+/status/+', { qos: 0 });
  // The retained statuses arrive at once; without them the gateways' share would start at zero.
  await sleep(1_000);
  const publishers = startPublishers(config, run, req.publishers, lines);
  let machines: BenchMachine[] = [];
  try {
    while (!publishers.every((p) => p.publisher.stats.connected)) await sleep(20);
    machines = Array.from({ length: req.machines }, (_, i) => ({
      id: `BENCH-${run}-${String(i + 1).padStart(4, '0')}`,
      owner: publishers[i % publishers.length]!,
      seq: 0,
      lastTs: 0,
    }));
    // The bridge accepts only registered machines, each on its own line.
    await registerBenchMachines(config, machines);
    const before = await writerFigures(config);
    const sampler = new StageSampler(
      config,
      publishers.map((p) => p.publisher),
      gateways,
    );
    await sampler.start(before);
    const analytics = new AnalyticsWatch(config);
    await analytics.start();
    const load = await offer(req, machines, sampler, out);
    sampler.phase = 'drain';
    const deadline = load.ended + Math.max(180_000, req.seconds * 10_000);
    const { stored, finished } = await drain(config, run, load, deadline, sampler, out);
    sampler.stop();
    const analysis = await analytics.finish(finished, out);
    const endToEndMs = runLatency(before, await writerFigures(config), sampler);
    const elapsedSeconds = (finished - load.started) / 1000;
    const capacityPerSecond = stored / elapsedSeconds;
    const limit = limitingStage(sampler.samples, req.rate);
    return {
      requestedPerSecond: req.rate,
      offeredPerSecond: load.total / Math.max(0.001, (load.ended - load.started) / 1000),
      publishers: req.publishers,
      seconds: req.seconds,
      machines: req.machines,
      confirmations: config.pipeline.confirmations,
      published: load.total,
      stored,
      complete: stored >= load.total,
      elapsedSeconds,
      capacityPerSecond,
      gatewaysPerSecond: sampler.gatewaysAckedSinceStart(finished) / elapsedSeconds,
      replayed: sum(publishers.map((p) => p.publisher.stats.replayed)),
      endToEndMs,
      backlog: backlogReport(sampler.samples, limit),
      limitedBy: limit.stage,
      rawMqttPerSecond,
      ratioToRawMqtt: rawMqttPerSecond > 0 ? capacityPerSecond / rawMqttPerSecond : null,
      bridges: config.pipeline.bridges,
      lanesPerBridge: config.pipeline.lanes,
      writers: config.pipeline.writers,
      analytics: analysis,
    };
  } finally {
    await cleanUp(publishers, operator);
    await registerBenchMachines(config, machines, false).catch(() => undefined);
    await operator.endAsync().catch(() => undefined);
  }
}
