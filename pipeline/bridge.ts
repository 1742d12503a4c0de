import type { Kafka, Message, Producer } from 'kafkajs';
import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from '../common/log.js';
import { retryUntil } from '../common/retry.js';
import type { Metrics } from '../common/runtime.js';
import { TOPICS } from '../common/topics.js';
import { reliableProducer } from './kafka.js';
import { validateEvent, validateTelemetry } from './validate.js';

export const SHARE_GROUP = 'bridge';
/** How long Kafka may refuse sends before the bridge calls itself unhealthy. */
const KAFKA_GRACE_MS = 10_000;
export const BRIDGE_SUBSCRIPTIONS = [
  `$share/${SHARE_GROUP}/factory/+/+/+/telemetry`,
  `$share/${SHARE_GROUP}/factory/+/+/+/events`,
];

export interface BridgeOptions {
  id: string;
  mqttUrl: string;
  account: { username: string; password: string };
  /**
   * MQTT connections in the shared group. mqtt.js reads the next message of a connection only
   * after the previous one is acknowledged, and we acknowledge only after Kafka did: each
   * connection is one lane carrying one message at a time, so throughput comes from lanes.
   */
  lanes: number;
  kafka: Kafka;
  metrics: Metrics;
  log: Logger;
  /** How long a Kafka batch waits for more lanes' messages before it is sent. */
  lingerMs: number;
  clock?: () => number;
}

interface Pending {
  topic: string;
  message: Message;
  done: () => void;
}

/**
 * MQTT → Kafka. Each message is validated; good telemetry goes to `telemetry` (key
 * machineId), machine events to `machine-events`, anything else to `telemetry.dlq` with the
 * raw bytes and the reason. The MQTT acknowledgement is sent only once Kafka acknowledged
 * the record (acks=all), so a bridge killed at any moment loses nothing: the broker redelivers.
 */
export class Bridge {
  private readonly lanes: MqttClient[] = [];
  private producer: Producer;
  private pending: Pending[] = [];
  private flushing = false;
  private timer: NodeJS.Timeout | undefined;
  private stopping = false;
  private readonly clock: () => number;
  private started = false;
  private kafkaFailingSince: number | undefined;

  constructor(private readonly opts: BridgeOptions) {
    this.producer = reliableProducer(opts.kafka);
    this.clock = opts.clock ?? Date.now;
  }

  get healthy(): { ok: boolean; detail: string } {
    const connected = this.lanes.filter((l) => l.connected).length;
    // One failed send (a broker still loading after a restart) is not an outage: unhealthy
    // only once Kafka has been refusing for a while.
    const failingMs = this.kafkaFailingSince === undefined ? 0 : this.clock() - this.kafkaFailingSince;
    const kafkaOk = this.started && failingMs < KAFKA_GRACE_MS;
    const kafka =
      failingMs > 0 ? `failing for ${Math.round(failingMs / 1000)}s` : this.started ? 'ok' : 'connecting';
    return {
      ok: connected === this.lanes.length && kafkaOk,
      detail: `${connected}/${this.lanes.length} MQTT lanes, Kafka ${kafka}`,
    };
  }

  async start(): Promise<void> {
    await this.producer.connect();
    this.started = true;
    for (let k = 1; k <= this.opts.lanes; k++) this.lanes.push(this.lane(k));
  }

  private lane(k: number): MqttClient {
    const client = mqtt.connect(this.opts.mqttUrl, {
      ...this.opts.account,
      // Stable ids and persistent sessions: what a lane had in flight when it died is
      // redelivered to it when it comes back.
      clientId: `${this.opts.id}-lane-${k}`,
      protocolVersion: 5,
      clean: false,
      properties: { sessionExpiryInterval: 24 * 3600 },
      reconnectPeriod: 500 + Math.round(Math.random() * 1_000),
      connectTimeout: 5_000,
      // Long: a lane waiting for Kafka does not read the PINGRESP either, and must not give up early.
      keepalive: 60,
      customHandleAcks: (topic, message, _packet, ack) => {
        this.accept(topic, message).then(
          () => ack(0),
          () => {
            // Only when stopping: leave it unacknowledged for the broker to redeliver.
          },
        );
      },
    });
    client.on('connect', () => {
      this.opts.log.info('mqtt lane connected', { lane: k });
      client.subscribe(BRIDGE_SUBSCRIPTIONS, { qos: 1 }, (err) => {
        if (err) this.opts.log.error('subscribe failed', { lane: k, error: err.message });
      });
    });
    client.on('error', (err) => this.opts.log.warn('mqtt lane error', { lane: k, error: err.message }));
    return client;
  }

  /** Resolves once the record derived from this MQTT message is safely in Kafka. */
  private accept(topic: string, raw: Buffer): Promise<void> {
    const m = this.opts.metrics;
    m.inc('received');
    if (this.stopping) return Promise.reject(new Error('stopping'));
    const now = this.clock();
    let record: Omit<Pending, 'done'>;
    if (topic.endsWith('/events')) {
      const v = validateEvent(topic, raw);
      record = v.ok
        ? { topic: TOPICS.machineEvents, message: { key: v.value.machineId, value: JSON.stringify(v.value) } }
        : this.deadLetter(topic, raw, v.key, v.reason, now);
    } else {
      const v = validateTelemetry(topic, raw, now);
      record = v.ok
        ? { topic: TOPICS.telemetry, message: { key: v.value.machineId, value: JSON.stringify(v.value) } }
        : this.deadLetter(topic, raw, v.key, v.reason, now);
    }
    return new Promise((resolve) => {
      this.pending.push({ ...record, done: resolve });
      m.set('pending', this.pending.length);
      if (!this.flushing && !this.timer) this.timer = setTimeout(() => this.flush(), this.opts.lingerMs);
    });
  }

  private deadLetter(source: string, raw: Buffer, key: string, reason: string, now: number) {
    this.opts.metrics.inc('deadLettered');
    this.opts.log.warn('dead-lettered', { source, key, reason });
    return {
      topic: TOPICS.telemetryDlq,
      message: { key, value: raw, headers: { reason, source, receivedAt: String(now), stage: 'bridge' } },
    };
  }

  /** One Kafka request for everything the lanes handed in; repeated until Kafka takes it. */
  private async flush(): Promise<void> {
    this.timer = undefined;
    if (this.flushing || this.pending.length === 0) return;
    this.flushing = true;
    const batch = this.pending;
    this.pending = [];
    const byTopic = new Map<string, Message[]>();
    for (const p of batch) {
      const list = byTopic.get(p.topic);
      if (list) list.push(p.message);
      else byTopic.set(p.topic, [p.message]);
    }
    const started = this.clock();
    await retryUntil(
      () =>
        this.producer.sendBatch({
          acks: -1,
          topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
        }),
      {
        keepGoing: () => true, // holding unacknowledged MQTT messages is always safe
        onRetry: async (err, attempt, delayMs) => {
          this.kafkaFailingSince ??= this.clock();
          this.opts.metrics.inc('retried');
          this.opts.log.warn('kafka send failed; retrying', {
            error: err.message,
            attempt,
            delayMs,
            batch: batch.length,
          });
          // A producer that lost its broker sometimes stays broken: start a fresh one.
          if (attempt >= 2) {
            await this.producer.disconnect().catch(() => undefined);
            this.producer = reliableProducer(this.opts.kafka);
            await this.producer.connect().catch(() => undefined);
          }
        },
      },
    );
    this.kafkaFailingSince = undefined;
    const m = this.opts.metrics;
    m.inc('batches');
    m.inc('forwarded', batch.filter((p) => p.topic !== TOPICS.telemetryDlq).length);
    m.set('lastBatchMs', this.clock() - started);
    m.set('lastBatchSize', batch.length);
    for (const p of batch) p.done();
    this.flushing = false;
    m.set('pending', this.pending.length);
    if (this.pending.length > 0) void this.flush();
  }

  /**
   * Stops taking messages, delivers what it holds to Kafka, then disconnects. The lanes keep
   * their subscriptions: with persistent sessions the broker queues what arrives meanwhile
   * and redelivers anything received but not acknowledged, so a restart loses nothing.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    await this.flush();
    while (this.flushing || this.pending.length > 0) {
      await new Promise((r) => setTimeout(r, 20));
      if (!this.flushing) await this.flush();
    }
    await new Promise((r) => setTimeout(r, 50)); // let the last PUBACKs leave
    await Promise.all(this.lanes.map((l) => l.endAsync()));
    await this.producer.disconnect();
  }
}
