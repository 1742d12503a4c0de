import type { Kafka, Message, Producer } from 'kafkajs';
import mqtt, { type MqttClient } from 'mqtt';
import { ConfirmationBuffer, type ConfirmKey, confirmKeyOf } from '../common/confirm.js';
import type { Logger } from '../common/log.js';
import { classifyKafka, DeadLetters, type PoisonCode, writeIsolating } from '../common/poison.js';
import { KeyedRateLimit } from '../common/rate-limit.js';
import type { Metrics } from '../common/runtime.js';
import { TOPICS } from '../common/topics.js';
import type { MachineLines } from './fleet-view.js';
import { FlowWatch } from './flow.js';
import { reliableProducer } from './kafka.js';
import { validateEvent, validateTelemetry } from './validate.js';

export const SHARE_GROUP = 'bridge';
/** The topic of a record acknowledged but neither forwarded nor dead-lettered (junk over its allowance). */
const DROPPED = '';
const TOPIC_LINE = /^factory\/([^/]+\/[^/]+)\//;
/** Dead letters per line and second a bridge copies; a burst twice that. */
const JUNK_PER_LINE_PER_S = 100;
/** How long Kafka may refuse sends before the bridge calls itself unhealthy. */
const KAFKA_GRACE_MS = 10_000;
const STATUS_FILTER = 'factory/+/+/status/+';
export const BRIDGE_SUBSCRIPTIONS = [
  `$share/${SHARE_GROUP}/factory/+/+/+/telemetry`,
  `$share/${SHARE_GROUP}/factory/+/+/+/events`,
];

export interface BridgeOptions {
  id: string;
  mqttUrl: string;
  account: { username: string; password: string };
  /** The install's secret client-id suffix (credentials.json): nobody else can take our sessions. */
  clientIdSuffix?: string;
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
  /** Confirm to the gateways what Kafka holds (ADR 0003); off only to measure its cost. */
  confirmations?: boolean;
  /** How often confirmations go back to the gateways. */
  confirmEveryMs?: number;
  /** The fleet registry's view of which line each machine belongs to (none: no check). */
  machines?: MachineLines;
  /** Silence (no reading while gateways publish) longer than this makes the bridge unhealthy. */
  silenceMs?: number;
  clock?: () => number;
}

interface Pending {
  topic: string;
  message: Message;
  /** What to confirm to the gateway once Kafka holds the record. */
  confirm?: { site: string; line: string; key: ConfirmKey };
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
  /** Per lane: when it last received a message, or (re)subscribed. */
  private readonly laneHeard: number[] = [];
  /** Per lane: messages received; sampled each second for the quiet-lane check. */
  private readonly laneCounts: number[] = [];
  private laneSamples: { at: number; counts: number[] }[] = [];
  private sampleTimer: NodeJS.Timeout | undefined;
  private control: MqttClient | undefined;
  private readonly confirmations = new ConfirmationBuffer();
  private confirmTimer: NodeJS.Timeout | undefined;
  private readonly flow: FlowWatch;
  private producer: Producer;
  private pending: Pending[] = [];
  private flushing = false;
  private timer: NodeJS.Timeout | undefined;
  private stopping = false;
  private readonly clock: () => number;
  private started = false;
  private kafkaFailingSince: number | undefined;
  private readonly deadLetters: DeadLetters;
  private readonly junk: KeyedRateLimit;

  constructor(private readonly opts: BridgeOptions) {
    this.producer = reliableProducer(opts.kafka);
    this.junk = new KeyedRateLimit(JUNK_PER_LINE_PER_S, 2 * JUNK_PER_LINE_PER_S, opts.clock);
    this.deadLetters = new DeadLetters({
      stage: 'bridge',
      producer: () => this.producer,
      metrics: opts.metrics,
      log: opts.log,
      clock: opts.clock,
    });
    this.clock = opts.clock ?? Date.now;
    this.flow = new FlowWatch(this.clock);
  }

  get healthy(): { ok: boolean; detail: string } {
    const now = this.clock();
    const connected = this.lanes.filter((l) => l.connected).length;
    // One failed send (a broker still loading after a restart) is not an outage: unhealthy
    // only once Kafka has been refusing for a while.
    const failingMs = this.kafkaFailingSince === undefined ? 0 : now - this.kafkaFailingSince;
    const kafkaOk = this.started && failingMs < KAFKA_GRACE_MS;
    const kafka =
      failingMs > 0 ? `failing for ${Math.round(failingMs / 1000)}s` : this.started ? 'ok' : 'connecting';
    const problems: string[] = [];
    if (connected < this.lanes.length) problems.push(`${this.lanes.length - connected} lanes disconnected`);
    // While Kafka holds a batch the lanes wait for it: silence then is Kafka's, reported above.
    if (kafkaOk && failingMs === 0) problems.push(...this.silence(now));
    return {
      ok: kafkaOk && problems.length === 0,
      detail: [`${connected}/${this.lanes.length} MQTT lanes, Kafka ${kafka}`, ...problems].join('; '),
    };
  }

  /**
   * Flow, not sockets: gateways announce how much they publish (their status heartbeats); a
   * bridge that hears nothing while they publish, or a lane that hears nothing while its
   * siblings are busy, has lost its subscription somewhere, whatever its connection says.
   */
  private silence(now: number): string[] {
    const window = this.opts.silenceMs ?? 20_000;
    const published = this.flow.publishedWithin(window);
    const heard = this.laneHeard.filter((t) => now - t < window).length;
    if (published > 0 && heard === 0 && this.flow.watchingFor() >= window) {
      return [`received nothing for ${Math.round(window / 1000)}s while gateways published ${published}`];
    }
    // A share is spread over every lane of every bridge: with enough traffic each lane hears
    // some. Only then is a quiet lane a sign of a lost subscription rather than of chance.
    const base = this.laneSamples.find((x) => now - x.at <= window);
    if (!base || now - base.at < window * 0.75) return [];
    const deltas = this.laneCounts.map((c, i) => c - (base.counts[i] ?? 0));
    const median = [...deltas].sort((a, b) => a - b)[Math.floor(deltas.length / 2)] ?? 0;
    if (median < 20) return [];
    const quiet = deltas.flatMap((d, i) => (d === 0 ? [i + 1] : []));
    return quiet.length > 0
      ? [`lanes ${quiet.join(',')} received nothing for ${Math.round(window / 1000)}s while the others did`]
      : [];
  }

  async start(): Promise<void> {
    await this.producer.connect();
    this.started = true;
    this.forgetUnsuffixedSessions();
    this.control = this.controlConnection();
    for (let k = 1; k <= this.opts.lanes; k++) {
      this.laneHeard.push(this.clock());
      this.laneCounts.push(0);
      this.lanes.push(this.lane(k));
    }
    this.sampleTimer = setInterval(() => {
      const at = this.clock();
      this.laneSamples.push({ at, counts: [...this.laneCounts] });
      this.laneSamples = this.laneSamples.filter((x) => at - x.at <= 2 * (this.opts.silenceMs ?? 20_000));
    }, 1_000);
    this.confirmTimer = setInterval(() => this.sendConfirmations(), this.opts.confirmEveryMs ?? 200);
  }

  /**
   * One plain connection beside the lanes: it publishes confirmations to the gateways and
   * follows the gateways' status heartbeats (how much they publish) for the flow check.
   */
  private controlConnection(): MqttClient {
    const client = mqtt.connect(this.opts.mqttUrl, {
      ...this.opts.account,
      clientId: this.clientId('control'),
      protocolVersion: 5,
      clean: true,
      reconnectPeriod: 500 + Math.round(Math.random() * 1_000),
      connectTimeout: 5_000,
      keepalive: 15,
      resubscribe: false,
    });
    client.on('connect', () => {
      client.subscribe(STATUS_FILTER, { qos: 0 }, (err) => {
        if (err) this.opts.log.error('cannot follow gateway status', { error: err.message });
      });
    });
    client.on('message', (topic, payload) => this.flow.observe(topic, payload));
    client.on('error', (err) => this.opts.log.warn('mqtt control error', { error: err.message }));
    return client;
  }

  private clientId(part: string): string {
    const base = `${this.opts.id}-${part}`;
    return this.opts.clientIdSuffix ? `${base}-${this.opts.clientIdSuffix}` : base;
  }

  /**
   * Ends the persistent sessions of the guessable lane ids that versions before the secret
   * suffix used: left alone, they would stay in the shared group and be handed messages that
   * nobody reads until the broker expires them.
   */
  private forgetUnsuffixedSessions(): void {
    if (!this.opts.clientIdSuffix) return;
    for (let k = 1; k <= this.opts.lanes; k++) {
      const old = mqtt.connect(this.opts.mqttUrl, {
        ...this.opts.account,
        clientId: `${this.opts.id}-lane-${k}`,
        protocolVersion: 5,
        clean: true,
        properties: { sessionExpiryInterval: 0 },
        reconnectPeriod: 0,
        connectTimeout: 5_000,
      });
      old.on('connect', () => void old.endAsync());
      old.on('error', () => void old.endAsync(true));
    }
  }

  /** Tells each line's gateways what Kafka now holds (QoS 1; a lost one costs a replay, no more). */
  private sendConfirmations() {
    const control = this.control;
    if (!control?.connected || this.confirmations.size === 0) return;
    for (const { topic, message } of this.confirmations.drain(this.opts.id, this.clock())) {
      control.publish(topic, JSON.stringify(message), { qos: 1 });
      this.opts.metrics.inc('confirmationsSent');
    }
  }

  private lane(k: number): MqttClient {
    const client = mqtt.connect(this.opts.mqttUrl, {
      ...this.opts.account,
      // Stable ids and persistent sessions: what a lane had in flight when it died is
      // redelivered to it when it comes back. Secret-suffixed: a device cannot take them over.
      clientId: this.clientId(`lane-${k}`),
      protocolVersion: 5,
      clean: false,
      properties: { sessionExpiryInterval: 24 * 3600 },
      reconnectPeriod: 500 + Math.round(Math.random() * 1_000),
      connectTimeout: 5_000,
      // Long: a lane waiting for Kafka does not read the PINGRESP either, and must not give up early.
      keepalive: 60,
      // mqtt.js skips the SUBSCRIBE after a reconnect whose CONNACK says the session is present,
      // trusting the broker's copy; a broker restored from its last autosave may hold the session
      // without a working shared subscription. We subscribe on every connect ourselves.
      resubscribe: false,
      customHandleAcks: (topic, message, _packet, ack) => {
        this.laneHeard[k - 1] = this.clock();
        this.laneCounts[k - 1]!++;
        this.accept(topic, message).then(
          () => ack(0),
          () => {
            // Only when stopping: leave it unacknowledged for the broker to redeliver.
          },
        );
      },
    });
    client.on('connect', (connack) => {
      this.laneHeard[k - 1] = this.clock(); // a fresh start for the silence check
      this.opts.log.info('mqtt lane connected', { lane: k, sessionPresent: connack.sessionPresent });
      client.subscribe(BRIDGE_SUBSCRIPTIONS, { qos: 1 }, (err, granted) => {
        const refused = granted?.filter((g) => g.qos > 2) ?? [];
        if (err || refused.length > 0 || !granted?.length)
          this.opts.log.error('subscribe failed', { lane: k, error: err?.message, granted });
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
    let owner: { machineId: string; site: string; line: string } | undefined;
    if (topic.endsWith('/events')) {
      const v = validateEvent(topic, raw, now);
      record = v.ok
        ? { topic: TOPICS.machineEvents, message: { key: v.value.machineId, value: JSON.stringify(v.value) } }
        : this.deadLetter(topic, raw, v.key, v.code, v.reason);
      record.confirm = confirmKeyOf(topic, raw);
      if (v.ok) owner = v.value;
    } else {
      const v = validateTelemetry(topic, raw, now);
      // A valid reading already names its key (validation checked it against the topic): no
      // second parse on the hot path. Only a dead-lettered one is read again, leniently.
      record = v.ok
        ? {
            topic: TOPICS.telemetry,
            message: { key: v.value.machineId, value: JSON.stringify(v.value) },
            confirm: {
              site: v.value.site,
              line: v.value.line,
              key: { machineId: v.value.machineId, kind: 't', n: v.value.seq },
            },
          }
        : { ...this.deadLetter(topic, raw, v.key, v.code, v.reason), confirm: confirmKeyOf(topic, raw) };
      if (v.ok) owner = v.value;
    }
    const check = owner && this.opts.machines?.check(owner.machineId, owner.site, owner.line);
    if (check instanceof Promise) {
      return check.then(
        (c) => this.enqueue(c.ok ? record : this.refused(topic, raw, owner!.machineId, c.reason, record)),
        () => this.enqueue(record), // the registry unreachable: the line's ACL still holds
      );
    }
    if (check && !check.ok) record = this.refused(topic, raw, owner!.machineId, check.reason, record);
    return this.enqueue(record);
  }

  /** A record for a machine this line may not speak for: dead-lettered, and confirmed (never replayed). */
  private refused(
    topic: string,
    raw: Buffer,
    machineId: string,
    reason: string,
    record: Omit<Pending, 'done'>,
  ): Omit<Pending, 'done'> {
    return { ...this.deadLetter(topic, raw, machineId, 'not-in-fleet', reason), confirm: record.confirm };
  }

  private enqueue(record: Omit<Pending, 'done'>): Promise<void> {
    const m = this.opts.metrics;
    if (record.topic === DROPPED) {
      // Junk past its line's allowance: acknowledged and confirmed, never written anywhere.
      if (record.confirm && this.opts.confirmations !== false)
        this.confirmations.add(record.confirm.site, record.confirm.line, record.confirm.key);
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.pending.push({ ...record, done: resolve });
      m.set('pending', this.pending.length);
      if (!this.flushing && !this.timer) this.timer = setTimeout(() => this.flush(), this.opts.lingerMs);
    });
  }

  /**
   * The record's bounded copy for `telemetry.dlq` (at most 16 KiB of the payload). A line that
   * sends more junk than its allowance gets the rest dropped and counted (`junkDropped`): one
   * flooding device neither fills the dead-letter topic nor holds up the other lines' lanes.
   */
  private deadLetter(source: string, raw: Buffer, key: string, code: PoisonCode, reason: string) {
    const line = TOPIC_LINE.exec(source)?.[1] ?? 'unknown';
    if (!this.junk.take(line)) {
      this.opts.metrics.inc('junkDropped');
      return { topic: DROPPED, message: { key, value: null } };
    }
    return {
      topic: TOPICS.telemetryDlq,
      message: this.deadLetters.refuse({ key, raw, code, reason, source }),
    };
  }

  /** One Kafka request for everything the lanes handed in; repeated until Kafka takes it. */
  private async flush(): Promise<void> {
    this.timer = undefined;
    if (this.flushing || this.pending.length === 0) return;
    this.flushing = true;
    const batch = this.pending;
    this.pending = [];
    const started = this.clock();
    // A record Kafka will never take (too large, invalid) is found by halving the batch and
    // replaced by its bounded dead-letter copy; everything else is retried until Kafka takes it
    // (holding unacknowledged MQTT messages is always safe).
    await writeIsolating(batch, {
      write: (part) => this.send(part),
      classify: classifyKafka,
      onPoison: async (p, failure) => {
        const raw = p.message.value === null ? null : Buffer.from(p.message.value);
        p.message = this.deadLetters.refuse({
          key: String(p.message.key ?? p.topic),
          raw,
          code: failure.code,
          reason: failure.reason,
          source: `kafka:${p.topic}`,
        });
        p.topic = TOPICS.telemetryDlq;
        await writeIsolating([p], {
          write: (part) => this.send(part),
          classify: classifyKafka,
          onPoison: () => this.opts.log.error('Kafka refused even the bounded dead-letter copy', {}),
          keepGoing: () => true,
          onRetry: (e, a, d) => this.kafkaRetry(e, a, d, 1),
        });
      },
      keepGoing: () => true,
      onRetry: (e, a, d) => this.kafkaRetry(e, a, d, batch.length),
    });
    this.kafkaFailingSince = undefined;
    const m = this.opts.metrics;
    m.inc('batches');
    m.inc('forwarded', batch.filter((p) => p.topic !== TOPICS.telemetryDlq).length);
    m.set('lastBatchMs', this.clock() - started);
    m.set('lastBatchSize', batch.length);
    for (const p of batch) {
      if (p.confirm && this.opts.confirmations !== false)
        this.confirmations.add(p.confirm.site, p.confirm.line, p.confirm.key);
      p.done();
    }
    this.flushing = false;
    m.set('pending', this.pending.length);
    if (this.pending.length > 0) void this.flush();
  }

  /** One Kafka request for these records, grouped by topic. */
  private async send(part: Pending[]): Promise<void> {
    const byTopic = new Map<string, Message[]>();
    for (const p of part) {
      const list = byTopic.get(p.topic);
      if (list) list.push(p.message);
      else byTopic.set(p.topic, [p.message]);
    }
    await this.producer.sendBatch({
      acks: -1,
      topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
    });
  }

  private async kafkaRetry(err: Error, attempt: number, delayMs: number, batch: number) {
    this.kafkaFailingSince ??= this.clock();
    this.opts.metrics.inc('retried');
    this.opts.log.warn('kafka send failed; retrying', { error: err.message, attempt, delayMs, batch });
    // A producer that lost its broker sometimes stays broken: start a fresh one.
    if (attempt >= 2) {
      await this.producer.disconnect().catch(() => undefined);
      this.producer = reliableProducer(this.opts.kafka);
      await this.producer.connect().catch(() => undefined);
    }
  }

  /**
   * Stops taking messages, delivers what it holds to Kafka, then disconnects. The lanes keep
   * their subscriptions: with persistent sessions the broker queues what arrives meanwhile
   * and redelivers anything received but not acknowledged, so a restart loses nothing.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    clearInterval(this.confirmTimer);
    clearInterval(this.sampleTimer);
    await this.flush();
    while (this.flushing || this.pending.length > 0) {
      await new Promise((r) => setTimeout(r, 20));
      if (!this.flushing) await this.flush();
    }
    this.sendConfirmations();
    await new Promise((r) => setTimeout(r, 50)); // let the last PUBACKs and confirmations leave
    await Promise.all([...this.lanes, ...(this.control ? [this.control] : [])].map((l) => l.endAsync()));
    await this.producer.disconnect();
  }
}
