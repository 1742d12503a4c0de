import type { InfluxDB, IPoint } from 'influx';
import type { Admin, Consumer, EachBatchPayload, Kafka, Message, Producer } from 'kafkajs';
import { alarmEventSchema } from '../analytics/events.js';
import { STORE_MAX_AGE_MS, timeRefusal } from '../common/bounds.js';
import type { Logger } from '../common/log.js';
import { classifyInflux, DeadLetters, type PoisonCode, writeIsolating } from '../common/poison.js';
import type { Metrics } from '../common/runtime.js';
import { idSchema, telemetryV1Schema } from '../common/telemetry.js';
import { GROUPS, TOPICS } from '../common/topics.js';
import { GroupLag } from './group-lag.js';
import { alarmPoint, eventPoint, telemetryPoint, writeRaw } from './influx.js';
import { reliableProducer } from './kafka.js';
import { machineEventSchema } from './validate.js';

export const WRITER_GROUP = GROUPS.writer;

/** A point and the record it came from (for its dead-letter copy, should InfluxDB refuse it). */
interface Stored {
  point: IPoint;
  msg: { key: Buffer | null; value: Buffer | null; offset: string };
}

const issue = (e: { issues: { path: PropertyKey[]; message: string }[] }) => {
  const i = e.issues[0];
  return i ? `${i.path.length ? `${i.path.join('.')}: ` : ''}${i.message}` : 'invalid';
};

export interface WriterOptions {
  kafka: Kafka;
  influx: InfluxDB;
  metrics: Metrics;
  log: Logger;
  /** Points per InfluxDB request (the server takes 5,000-10,000 well). */
  chunk: number;
  /** How often the group's lag is read from Kafka, and how long a steady rise makes it unhealthy. */
  lagProbeMs?: number;
  lagWindowMs?: number;
  /** The consumer stopped for good. */
  onFatal?: (err: Error) => void;
}

/**
 * Kafka → InfluxDB (telemetry, machine events, alarm events). Each fetched batch is written in chunks and its offsets are committed only
 * after InfluxDB accepted every point: a crash re-reads, never skips. While InfluxDB is down
 * or slow the batch is retried with backoff (the consumer fetches nothing meanwhile and keeps
 * its group membership by heartbeating). A rewrite after a retry is harmless: a point with the
 * same series and timestamp replaces itself.
 */
export class Writer {
  private readonly consumer: Consumer;
  private readonly dlq: Producer;
  private influxFailingSince: number | undefined;
  private running = false;
  private readonly admin: Admin;
  private lagTimer: NodeJS.Timeout | undefined;
  private readonly lag: GroupLag;
  /** The slowest reading of the current and of the previous window (see `recordSlowest`). */
  private readonly slowest = { windowStart: 0, current: 0, previous: 0 };
  private readonly deadLetters: DeadLetters;

  constructor(private readonly opts: WriterOptions) {
    this.consumer = opts.kafka.consumer({
      groupId: WRITER_GROUP,
      // Short: a writer that died hands its partitions to its successor within 10 s. It keeps
      // heartbeating while it retries InfluxDB, so a slow database does not cost membership.
      sessionTimeout: 10_000,
      heartbeatInterval: 1_000,
      maxBytesPerPartition: 2 * 1024 * 1024,
      allowAutoTopicCreation: false,
    });
    this.dlq = reliableProducer(opts.kafka);
    this.deadLetters = new DeadLetters({
      stage: 'writer',
      producer: () => this.dlq,
      metrics: opts.metrics,
      log: opts.log,
    });
    this.admin = opts.kafka.admin();
    this.lag = new GroupLag(this.admin, WRITER_GROUP, [
      TOPICS.telemetry,
      TOPICS.machineEvents,
      TOPICS.alarms,
    ]);
  }

  get healthy(): { ok: boolean; detail: string; restartable: boolean } {
    const lag = this.lag.current;
    const failingMs = this.influxFailingSince === undefined ? 0 : Date.now() - this.influxFailingSince;
    const window = this.opts.lagWindowMs ?? 30_000;
    const behind = this.lag.growing(window);
    return {
      // A single failed write is a retry, not an outage: unhealthy after 10 s of failures.
      ok: this.running && failingMs < 10_000 && !behind,
      // Falling behind while still writing is a capacity problem: a restart (and the group's
      // rebalance) would only make it worse. A writer that stores nothing may be restarted.
      restartable: !(
        behind &&
        this.running &&
        failingMs === 0 &&
        (this.opts.metrics.rates().written ?? 0) > 0
      ),
      detail: [
        `${this.running ? 'consuming' : 'not consuming'}, InfluxDB ${failingMs > 0 ? `failing for ${Math.round(failingMs / 1000)}s` : 'ok'}, lag ${lag}`,
        ...(behind ? [`lag has grown for ${window / 1000}s (falling behind)`] : []),
      ].join('; '),
    };
  }

  private async probeLag(): Promise<void> {
    this.opts.metrics.set('lag', await this.lag.probe());
  }

  async start(): Promise<void> {
    await this.dlq.connect();
    await this.consumer.connect();
    await this.consumer.subscribe({
      topics: [TOPICS.telemetry, TOPICS.machineEvents, TOPICS.alarms],
      fromBeginning: true,
    });
    this.consumer.on(this.consumer.events.CRASH, (e) => {
      this.opts.log.error('consumer crashed', { error: String(e.payload.error), restart: e.payload.restart });
      // kafkajs restarts itself after retriable errors; after any other the process exits
      // (nothing uncommitted is lost) so that `factory status` shows it and `factory up` restarts it.
      if (!e.payload.restart) {
        this.running = false;
        this.opts.onFatal?.(e.payload.error);
      }
    });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 4,
      eachBatch: (payload) => this.batch(payload),
    });
    this.running = true;
    await this.admin.connect();
    this.lagTimer = setInterval(() => {
      this.probeLag().catch((err: Error) => this.opts.log.warn('lag probe failed', { error: err.message }));
    }, this.opts.lagProbeMs ?? 5_000);
  }

  private async batch({
    batch,
    heartbeat,
    isRunning,
    isStale,
    resolveOffset,
  }: EachBatchPayload): Promise<void> {
    if (batch.messages.length === 0) return;
    const m = this.opts.metrics;
    m.inc('received', batch.messages.length);
    const now = Date.now();
    const points: Stored[] = [];
    const rejects: Message[] = [];
    const source = (msg: { offset: string }) => `${batch.topic}/${batch.partition}@${msg.offset}`;
    for (const msg of batch.messages) {
      const refusal = this.toPoint(batch.topic, msg, points, now);
      if (refusal)
        rejects.push(
          this.deadLetters.refuse({
            key: msg.key?.toString() ?? batch.topic,
            raw: msg.value,
            source: source(msg),
            ...refusal,
          }),
        );
    }
    const keepGoing = () => isRunning() && !isStale();
    const onRetry = async (what: string, err: Error, attempt: number, delayMs: number) => {
      m.inc('retried');
      if (what === 'influx') this.influxFailingSince ??= Date.now();
      this.opts.log.warn(`${what} write failed; retrying`, { error: err.message, attempt, delayMs });
      await heartbeat().catch(() => undefined);
    };
    for (let i = 0; i < points.length; i += this.opts.chunk) {
      const chunk = points.slice(i, i + this.opts.chunk);
      let refused = 0;
      // A point InfluxDB refuses (400) is found by halving the chunk, dead-lettered, and passed.
      await writeIsolating(chunk, {
        write: (part) =>
          writeRaw(
            this.opts.influx,
            part.map((p) => p.point),
          ),
        classify: classifyInflux,
        onPoison: (p, failure) => {
          refused++;
          rejects.push(
            this.deadLetters.refuse({
              key: p.msg.key?.toString() ?? batch.topic,
              raw: p.msg.value,
              source: source(p.msg),
              code: failure.code,
              reason: failure.reason,
            }),
          );
        },
        keepGoing,
        onRetry: (e, a, d) => onRetry('influx', e, a, d),
      });
      this.influxFailingSince = undefined;
      m.inc('written', chunk.length - refused);
      // End to end: from the reading's timestamp (taken when the gateway published it) to now.
      const now = Date.now();
      let slowest = 0;
      for (const { point: p } of chunk) {
        if (p.measurement !== 'telemetry') continue;
        const ms = Math.max(0, now - Number(p.timestamp));
        m.observe('endToEndMs', ms);
        slowest = Math.max(slowest, ms);
      }
      this.recordSlowest(slowest, now);
      await heartbeat().catch(() => undefined);
    }
    // Dead letters reach their topic before the offsets that passed them are committed.
    await this.deadLetters.send(rejects, keepGoing, (e, a, d) => onRetry('dead-letter', e, a, d));
    const last = batch.lastOffset();
    resolveOffset(last);
    await this.consumer.commitOffsets([
      { topic: batch.topic, partition: batch.partition, offset: String(BigInt(last) + 1n) },
    ]);
    m.inc('batches');
  }

  /**
   * The `endToEndMaxMs` gauge: the slowest reading of the last 10-20 s rather than of the
   * process's whole life, so a reader polling every few seconds sees every peak, and an old
   * peak does not stand for today's latency. The histogram gives the shape, this the exact top.
   */
  private recordSlowest(ms: number, now: number) {
    const s = this.slowest;
    if (now - s.windowStart >= 10_000) {
      s.previous = now - s.windowStart >= 20_000 ? 0 : s.current;
      s.current = 0;
      s.windowStart = now;
    }
    s.current = Math.max(s.current, ms);
    this.opts.metrics.set('endToEndMaxMs', Math.max(s.current, s.previous));
  }

  /**
   * Adds the record's point; returns why not when the record is not valid or lies outside what
   * InfluxDB keeps (older than the raw retention less an hour, or from the future).
   */
  private toPoint(
    topic: string,
    msg: Stored['msg'],
    points: Stored[],
    now: number,
  ): { code: PoisonCode; reason: string } | undefined {
    let json: unknown;
    try {
      json = JSON.parse(msg.value?.toString('utf8') ?? '');
    } catch {
      return { code: 'not-json', reason: 'not JSON' };
    }
    let point: IPoint;
    if (topic === TOPICS.alarms) {
      const a = alarmEventSchema.safeParse(json);
      if (!a.success) return { code: 'schema', reason: `not an alarm event: ${issue(a.error)}` };
      point = alarmPoint(a.data);
    } else if (topic === TOPICS.machineEvents) {
      const { site, line, ...event } = (json ?? {}) as { site?: unknown; line?: unknown };
      const e = machineEventSchema.safeParse(event);
      const place = idSchema.safeParse(site).success && idSchema.safeParse(line).success;
      if (!e.success || !place)
        return {
          code: 'schema',
          reason: `not a machine event: ${e.success ? 'site or line' : issue(e.error)}`,
        };
      point = eventPoint({ ...e.data, site: site as string, line: line as string });
    } else {
      const t = telemetryV1Schema.safeParse(json);
      if (!t.success) return { code: 'schema', reason: `schema: ${issue(t.error)}` };
      point = telemetryPoint(t.data);
    }
    const late = timeRefusal(Number(point.timestamp), now, STORE_MAX_AGE_MS);
    if (late) return late;
    points.push({ point, msg });
    return undefined;
  }

  async stop(): Promise<void> {
    this.running = false;
    clearInterval(this.lagTimer);
    await this.admin.disconnect().catch(() => undefined);
    await this.consumer.disconnect(); // waits for the batch in progress, which commits
    await this.dlq.disconnect();
  }
}
