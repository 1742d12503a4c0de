/**
 * The dispatcher: consumes `alarms` (group `alarm-dispatcher`) and hands each event to its
 * escalation workflow (workflows/client.ts). At least once: a batch's offsets are committed after
 * every event in it reached Temporal, and a redelivery starts nothing new (id policies) and
 * changes nothing (the workflow drops an event id it has seen). Events of one alarm keep their
 * order; different alarms of a batch go to Temporal side by side.
 *
 * A record that is not an alarm event, or that Temporal refuses as an invalid request, goes to
 * `telemetry.dlq` (a bounded copy, key `alarms`) with the reason: it never holds up the others.
 */
import type { Client } from '@temporalio/client';
import type { Admin, Consumer, EachBatchPayload, Kafka, KafkaMessage, Message, Producer } from 'kafkajs';
import { type AlarmEvent, alarmEventSchema } from '../analytics/events.js';
import type { Logger } from '../common/log.js';
import { classifyTemporal, DeadLetters, writeIsolating } from '../common/poison.js';
import type { Metrics } from '../common/runtime.js';
import { GROUPS, TOPICS } from '../common/topics.js';
import { GroupLag } from '../pipeline/group-lag.js';
import { reliableProducer } from '../pipeline/kafka.js';
import { dispatchAlarmEvent } from './client.js';
import type { EscalationConfig } from './config.js';

export const DISPATCHER_GROUP = GROUPS.dispatcher;

/** How many alarms of one batch go to Temporal at once. */
const PARALLEL = 16;

/** Events committed together; a crash redoes at most this many (harmlessly: ids and event ids). */
const SLICE = 64;

export interface DispatcherOptions {
  kafka: Kafka;
  client: Client;
  config: EscalationConfig;
  metrics: Metrics;
  log: Logger;
  lagWindowMs?: number;
  onFatal?: (err: Error) => void;
  /** The alarm owner's open view (analytics' `alarms-open`), asked only about old events. */
  isOpen?: (alarmId: string) => Promise<boolean>;
  /** Older than this, an event starts an escalation only for an alarm still open. */
  staleAfterMs?: number;
}

export class Dispatcher {
  private readonly consumer: Consumer;
  private readonly dlq: Producer;
  private readonly admin: Admin;
  private readonly lag: GroupLag;
  private running = false;
  private temporalFailingSince: number | undefined;
  private lagTimer: NodeJS.Timeout | undefined;
  private readonly deadLetters: DeadLetters;

  constructor(private readonly opts: DispatcherOptions) {
    this.consumer = opts.kafka.consumer({
      groupId: DISPATCHER_GROUP,
      sessionTimeout: 10_000,
      heartbeatInterval: 1_000,
      maxWaitTimeInMs: 100,
      allowAutoTopicCreation: false,
    });
    this.dlq = reliableProducer(opts.kafka);
    this.deadLetters = new DeadLetters({
      stage: 'dispatcher',
      producer: () => this.dlq,
      metrics: opts.metrics,
      log: opts.log,
    });
    this.admin = opts.kafka.admin();
    this.lag = new GroupLag(this.admin, DISPATCHER_GROUP, [TOPICS.alarms]);
  }

  get healthy(): { ok: boolean; detail: string } {
    const failingMs = this.temporalFailingSince === undefined ? 0 : Date.now() - this.temporalFailingSince;
    const behind = this.lag.growing(this.opts.lagWindowMs ?? 30_000);
    return {
      ok: this.running && failingMs < 10_000 && !behind,
      detail: [
        `dispatcher ${this.running ? 'consuming' : 'not consuming'}, Temporal ${failingMs > 0 ? `failing for ${Math.round(failingMs / 1000)}s` : 'ok'}, lag ${this.lag.current}`,
        ...(behind ? ['lag keeps growing (falling behind)'] : []),
      ].join('; '),
    };
  }

  async start(): Promise<void> {
    await this.dlq.connect();
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [TOPICS.alarms], fromBeginning: true });
    this.consumer.on(this.consumer.events.CRASH, (e) => {
      this.opts.log.error('dispatcher consumer crashed', {
        error: String(e.payload.error),
        restart: e.payload.restart,
      });
      if (!e.payload.restart) {
        this.running = false;
        this.opts.onFatal?.(e.payload.error);
      }
    });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 6,
      eachBatch: (payload) => this.batch(payload),
    });
    this.running = true;
    await this.admin.connect();
    this.lagTimer = setInterval(() => {
      this.lag
        .probe()
        .then((lag) => this.opts.metrics.set('lag', lag))
        .catch((err: Error) => this.opts.log.warn('lag probe failed', { error: err.message }));
    }, 5_000);
  }

  async stop(): Promise<void> {
    this.running = false;
    clearInterval(this.lagTimer);
    await this.consumer.disconnect().catch(() => undefined);
    await this.dlq.disconnect().catch(() => undefined);
    await this.admin.disconnect().catch(() => undefined);
  }

  /**
   * A batch goes to Temporal in slices: each slice's offsets are committed as soon as every event
   * in it reached its workflow, and the group hears a heartbeat after each event, so a long
   * backlog (a first start, a flood) neither gets this member evicted mid-batch nor redoes more
   * than a slice after a crash.
   */
  private async batch({
    batch,
    heartbeat,
    isRunning,
    isStale,
    resolveOffset,
  }: EachBatchPayload): Promise<void> {
    const m = this.opts.metrics;
    const keepGoing = () => isRunning() && !isStale();
    const onRetry = async (what: string, err: Error, attempt: number, delayMs: number) => {
      m.inc('retried');
      if (what === 'temporal') this.temporalFailingSince ??= Date.now();
      const cause = (err as Error & { cause?: Error }).cause?.message;
      this.opts.log.warn(`${what} failed; retrying`, { error: err.message, cause, attempt, delayMs });
      await heartbeat().catch(() => undefined);
    };
    for (let i = 0; i < batch.messages.length && keepGoing(); i += SLICE) {
      const slice = batch.messages.slice(i, i + SLICE);
      m.inc('received', slice.length);
      const { byAlarm, rejects } = this.sort(slice, `${batch.topic}/${batch.partition}`);
      const queue = [...byAlarm.values()];
      const lane = async () => {
        for (let events = queue.shift(); events; events = queue.shift()) {
          for (const entry of events) {
            await this.dispatch(entry, keepGoing, onRetry, (m) => rejects.push(m));
            await heartbeat().catch(() => undefined);
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(PARALLEL, queue.length) }, lane));
      // Before the offsets that passed them are committed.
      await this.deadLetters.send(rejects, keepGoing, (e, a, d) => onRetry('dead-letter', e, a, d));
      if (!keepGoing()) return; // a rebalance took the partition: its new owner redoes the slice
      const last = slice[slice.length - 1]!.offset;
      resolveOffset(last);
      await this.consumer.commitOffsets([
        { topic: batch.topic, partition: batch.partition, offset: String(BigInt(last) + 1n) },
      ]);
    }
  }

  private sort(messages: KafkaMessage[], source: string) {
    const byAlarm = new Map<string, Dispatchable[]>();
    const rejects: Message[] = [];
    for (const msg of messages) {
      const parsed = parseAlarmEvent(msg.value);
      const at = `${source}@${msg.offset}`;
      if (!parsed.ok) {
        rejects.push(
          this.deadLetters.refuse({
            key: TOPICS.alarms,
            raw: msg.value,
            code: parsed.code,
            reason: parsed.reason,
            source: at,
          }),
        );
        continue;
      }
      const list = byAlarm.get(parsed.event.alarmId) ?? [];
      list.push({ e: parsed.event, kafkaTs: Number(msg.timestamp), raw: msg.value, source: at });
      byAlarm.set(parsed.event.alarmId, list);
    }
    return { byAlarm, rejects };
  }

  private async dispatch(
    d: Dispatchable,
    keepGoing: () => boolean,
    onRetry: (what: string, err: Error, attempt: number, delayMs: number) => Promise<void>,
    reject: (m: Message) => void,
  ): Promise<void> {
    const { e, kafkaTs } = d;
    // A first deployment, or a dispatcher back after a long outage, reads old events: an alarm
    // long back to normal gets no escalation (its owner, analytics, says which are open).
    const old = Date.now() - kafkaTs > (this.opts.staleAfterMs ?? 300_000);
    const mayStart = !old || !this.opts.isOpen || (await this.opts.isOpen(e.alarmId).catch(() => true));
    let outcome: Awaited<ReturnType<typeof dispatchAlarmEvent>> | undefined;
    // Temporal down or slow: retried for as long as we run. Temporal refusing the request as
    // invalid (a search attribute too large, say): dead-lettered, once.
    await writeIsolating([e], {
      write: async () => {
        outcome = await dispatchAlarmEvent(this.opts.client, e, this.opts.config, mayStart);
      },
      classify: classifyTemporal,
      onPoison: (_e, failure) =>
        reject(this.deadLetters.refuse({ key: TOPICS.alarms, raw: d.raw, source: d.source, ...failure })),
      keepGoing,
      onRetry: (err, a, delay) => onRetry('temporal', err, a, delay),
    });
    this.temporalFailingSince = undefined;
    if (!outcome) return;
    this.opts.metrics.inc(outcome);
    // From the event's append to Kafka to its workflow started: the target's measure.
    if (outcome === 'started') this.opts.metrics.observe('startMs', Math.max(0, Date.now() - kafkaTs));
  }
}

/** An alarm event on its way to Temporal, with what its dead-letter copy would need. */
interface Dispatchable {
  e: AlarmEvent;
  kafkaTs: number;
  raw: Buffer | null;
  source: string;
}

export function parseAlarmEvent(
  value: Buffer | null,
): { ok: true; event: AlarmEvent } | { ok: false; code: 'not-json' | 'schema'; reason: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(value?.toString() ?? '');
  } catch {
    return { ok: false, code: 'not-json', reason: 'not JSON' };
  }
  const e = alarmEventSchema.safeParse(raw);
  if (e.success) return { ok: true, event: e.data };
  const issue = e.error.issues[0]!;
  return {
    ok: false,
    code: 'schema',
    reason: `not an alarm event: ${issue.path.join('.') || '(root)'}: ${issue.message}`,
  };
}
