import type { InfluxDB, IPoint } from 'influx';
import type { Consumer, EachBatchPayload, Kafka, Message, Producer } from 'kafkajs';
import type { Logger } from '../common/log.js';
import { retryUntil } from '../common/retry.js';
import type { Metrics } from '../common/runtime.js';
import { telemetryV1Schema } from '../common/telemetry.js';
import { TOPICS } from '../common/topics.js';
import { eventPoint, telemetryPoint, writeRaw } from './influx.js';
import { reliableProducer } from './kafka.js';
import { machineEventSchema } from './validate.js';

export const WRITER_GROUP = 'influx-writer';

export interface WriterOptions {
  kafka: Kafka;
  influx: InfluxDB;
  metrics: Metrics;
  log: Logger;
  /** Points per InfluxDB request (the server takes 5,000-10,000 well). */
  chunk: number;
  /** The consumer stopped for good. */
  onFatal?: (err: Error) => void;
}

/**
 * Kafka → InfluxDB. Each fetched batch is written in chunks and its offsets are committed only
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
  private readonly lag = new Map<string, number>();

  constructor(private readonly opts: WriterOptions) {
    this.consumer = opts.kafka.consumer({
      groupId: WRITER_GROUP,
      sessionTimeout: 30_000,
      heartbeatInterval: 3_000,
      maxBytesPerPartition: 2 * 1024 * 1024,
      allowAutoTopicCreation: false,
    });
    this.dlq = reliableProducer(opts.kafka);
  }

  get healthy(): { ok: boolean; detail: string } {
    const lag = [...this.lag.values()].reduce((a, b) => a + b, 0);
    const failingMs = this.influxFailingSince === undefined ? 0 : Date.now() - this.influxFailingSince;
    return {
      // A single failed write is a retry, not an outage: unhealthy after 10 s of failures.
      ok: this.running && failingMs < 10_000,
      detail: `${this.running ? 'consuming' : 'not consuming'}, InfluxDB ${failingMs > 0 ? `failing for ${Math.round(failingMs / 1000)}s` : 'ok'}, lag ${lag}`,
    };
  }

  async start(): Promise<void> {
    await this.dlq.connect();
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [TOPICS.telemetry, TOPICS.machineEvents], fromBeginning: true });
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
    const points: IPoint[] = [];
    const rejects: Message[] = [];
    for (const msg of batch.messages) {
      const reason = this.toPoint(batch.topic, msg, points);
      if (reason) {
        rejects.push({
          key: msg.key ?? batch.topic,
          value: msg.value,
          headers: { reason, source: `${batch.topic}/${batch.partition}@${msg.offset}`, stage: 'writer' },
        });
      }
    }
    const keepGoing = () => isRunning() && !isStale();
    const onRetry = async (what: string, err: Error, attempt: number, delayMs: number) => {
      m.inc('retried');
      if (what === 'influx') this.influxFailingSince ??= Date.now();
      this.opts.log.warn(`${what} write failed; retrying`, { error: err.message, attempt, delayMs });
      await heartbeat().catch(() => undefined);
    };
    if (rejects.length > 0) {
      await retryUntil(() => this.dlq.send({ topic: TOPICS.telemetryDlq, acks: -1, messages: rejects }), {
        keepGoing,
        onRetry: (e, a, d) => onRetry('dead-letter', e, a, d),
      });
      m.inc('deadLettered', rejects.length);
    }
    for (let i = 0; i < points.length; i += this.opts.chunk) {
      const chunk = points.slice(i, i + this.opts.chunk);
      await retryUntil(() => writeRaw(this.opts.influx, chunk), {
        keepGoing,
        onRetry: (e, a, d) => onRetry('influx', e, a, d),
      });
      this.influxFailingSince = undefined;
      m.inc('written', chunk.length);
      // End to end: from the reading's timestamp (taken when the gateway published it) to now.
      const now = Date.now();
      for (const p of chunk) {
        if (p.measurement === 'telemetry') m.observe('endToEndMs', Math.max(0, now - Number(p.timestamp)));
      }
      await heartbeat().catch(() => undefined);
    }
    const last = batch.lastOffset();
    resolveOffset(last);
    await this.consumer.commitOffsets([
      { topic: batch.topic, partition: batch.partition, offset: String(BigInt(last) + 1n) },
    ]);
    this.lag.set(`${batch.topic}/${batch.partition}`, Number(batch.offsetLag()));
    m.set(
      'lag',
      [...this.lag.values()].reduce((a, b) => a + b, 0),
    );
    m.inc('batches');
  }

  /** Adds the record's point; returns the reason when the record is not valid. */
  private toPoint(topic: string, msg: { value: Buffer | null }, points: IPoint[]): string | undefined {
    let json: unknown;
    try {
      json = JSON.parse(msg.value?.toString('utf8') ?? '');
    } catch {
      return 'not JSON';
    }
    if (topic === TOPICS.machineEvents) {
      const { site, line, ...event } = (json ?? {}) as { site?: unknown; line?: unknown };
      const e = machineEventSchema.safeParse(event);
      if (!e.success || typeof site !== 'string' || typeof line !== 'string') return 'not a machine event';
      points.push(eventPoint({ ...e.data, site, line }));
      return undefined;
    }
    const t = telemetryV1Schema.safeParse(json);
    if (!t.success) return `schema: ${t.error.issues[0]?.message}`;
    points.push(telemetryPoint(t.data));
    return undefined;
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.consumer.disconnect(); // waits for the batch in progress, which commits
    await this.dlq.disconnect();
  }
}
