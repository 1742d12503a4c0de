/**
 * The analytics processor: Kafka `telemetry` + `alarm-commands` → alarm events on `alarms`,
 * KPI points in InfluxDB `kpi`. Several instances share the partitions (consumer group
 * `analytics`, co-partitioned assignment); each machine's state lives with the instance that
 * owns its partition and is saved in NATS KV, fenced by revision.
 *
 * Exactly-once in effect, without transactions:
 * - every reading is applied in seq order once: a replay after a crash brings readings whose
 *   seq the saved state has already passed, and they are dropped as duplicates;
 * - a machine's state is saved before any alarm event it caused is produced, so a restart can
 *   never raise an episode again (an alarm id is `<machine>.<rule>.<seq of the raising reading>`);
 * - offsets are committed only after every state they cover was saved (checkpoints).
 *
 * Everything that touches state runs one step at a time (batches, the clock tick, checkpoints):
 * a queue of promises, not locks.
 */
import type { InfluxDB, IPoint } from 'influx';
import type { Admin, Consumer, EachBatchPayload, Kafka, Producer } from 'kafkajs';
import type { NatsConnection, Subscription } from 'nats';
import { z } from 'zod';
import { resolveParams } from '../actors/params.js';
import type { RegisteredMachine } from '../actors/registry.js';
import { isRevisionConflict } from '../common/kv.js';
import type { Logger } from '../common/log.js';
import { subjects } from '../common/machine-commands.js';
import { partitionOf } from '../common/partitioner.js';
import { DeadLetters } from '../common/poison.js';
import type { FleetRegistry } from '../common/registry.js';
import { retryUntil } from '../common/retry.js';
import type { Metrics } from '../common/runtime.js';
import { type TelemetryV1, telemetryV1Schema } from '../common/telemetry.js';
import { GROUPS, TOPICS } from '../common/topics.js';
import { GroupLag } from '../pipeline/group-lag.js';
import { reliableProducer } from '../pipeline/kafka.js';
import { machineEventSchema } from '../pipeline/validate.js';
import { CoPartitionedAssigner } from './assigner.js';
import {
  type AlarmAnswer,
  type AlarmCommand,
  type AlarmEvent,
  alarmCommandSchema,
  alarmEventSchema,
  subjectOf,
} from './events.js';
import {
  type FloodState,
  floodCommand,
  floodFacts,
  floodRaise,
  floodTick,
  lineSubject,
  newFloodState,
} from './flood.js';
import type { KpiOptions, KpiWindow } from './kpi.js';
import { KPI_RETENTION, kpiPoint } from './kpi-points.js';
import type { Change, CommandOutcome } from './lifecycle.js';
import { linePoints } from './line-kpi.js';
import { alarmEvent, MachineAnalytics, type MachineInfo, newMachineState, type Output } from './machine.js';
import type { Rule, RuleBook } from './rules.js';
import type { AnalyticsStore } from './store.js';

export const ANALYTICS_GROUP = GROUPS.analytics;

/**
 * What the processor reads of an owner's state event (`factory.machine.<id>.state`). The
 * transition and owner are required although only the ticket is used: a client allowed to
 * watch a KV bucket can have its entries delivered on this subject, and a snapshot must not
 * pass for an event (docs/security.md, NATS).
 */
const stateEventSchema = z.object({
  machineId: z.string(),
  from: z.string(),
  to: z.string(),
  owner: z.string(),
  seq: z.number().int().nonnegative(),
  ticketId: z.string().nullable().optional(),
});

export interface ProcessorOptions {
  id: string;
  kafka: Kafka;
  nc: NatsConnection;
  store: AnalyticsStore;
  registry: FleetRegistry;
  influx: InfluxDB;
  rules: RuleBook;
  metrics: Metrics;
  log: Logger;
  telemetryPartitions: number;
  /** The machines' telemetry period: silence is never judged shorter than three of them. */
  periodMs: number;
  checkpointMs?: number;
  kpiFlushMs?: number;
  /** How long a seq gap may hold a machine's later readings. */
  maxHoldMs?: number;
  shiftOffsetMs?: number;
  onFatal?: (err: Error) => void;
  clock?: () => number;
  /**
   * Whether the machine's owner recorded this skip in `actor-snapshots` (the fenced store only
   * owners write). A skip announcement nobody recorded is a forgery or a mistake: applying it
   * would make every later reading of the machine look like a duplicate. Absent: trusted.
   */
  recordedGap?: (machineId: string, from: number, to: number, epoch: number) => Promise<boolean>;
}

/** A line's flood state with the revision that fences its next save. */
interface FloodEntry {
  state: FloodState;
  revision: number;
}

interface Entry {
  m: MachineAnalytics;
  revision: number;
  partition: number;
}

/** Readings newer than this, received by the instance, mean the pipeline flows (silence is judged). */
const FLOWING_MS = 3_000;

export class Processor {
  private readonly consumer: Consumer;
  private readonly events: Consumer;
  private readonly producer: Producer;
  private readonly admin: Admin;
  private readonly lag: GroupLag;
  private readonly machines = new Map<string, Entry>();
  private readonly registered = new Map<string, RegisteredMachine>();
  private readonly idealRate = new Map<string, number>();
  private owned = new Set<number>();
  /** Next offset to commit per topic-partition, for what has been applied. */
  private readonly processed = new Map<string, { topic: string; partition: number; offset: string }>();
  private pendingEvents: { entry: Entry | null; event: AlarmEvent }[] = [];
  /** Lines whose flood alarm this instance owns (their key's partition is ours). */
  private readonly floods = new Map<string, FloodEntry>();
  /** Every line's active flood alarm, as the alarms topic tells (all instances follow it). */
  private readonly flooding = new Map<string, string>();
  private pendingAnswers: { replyTo: string; answer: AlarmAnswer }[] = [];
  private closedKpi: IPoint[] = [];
  private readonly kpiDirty = new Set<Entry>();
  private lastReadingAt = 0;
  /** When readings began to arrive again after a time with none (an outage upstream, or the start). */
  private flowingSince = 0;
  private queue: Promise<void> = Promise.resolve();
  private readonly timers: NodeJS.Timeout[] = [];
  private running = false;
  private influxFailingSince: number | undefined;
  private stopFollow: (() => void) | undefined;
  private stateSub: Subscription | undefined;
  private readonly now: () => number;
  private readonly deadLetters: DeadLetters;

  constructor(private readonly opts: ProcessorOptions) {
    this.now = opts.clock ?? Date.now;
    this.deadLetters = new DeadLetters({
      stage: 'analytics',
      producer: () => this.producer,
      metrics: opts.metrics,
      log: opts.log,
      clock: this.now,
    });
    this.consumer = opts.kafka.consumer({
      groupId: ANALYTICS_GROUP,
      partitionAssigners: [CoPartitionedAssigner],
      sessionTimeout: 10_000,
      heartbeatInterval: 1_000,
      // Detection latency: a fetch returns as soon as anything arrives, or after 100 ms.
      maxWaitTimeInMs: 100,
      allowAutoTopicCreation: false,
    });
    // Skip announcements and alarm events reach every instance (they are few, and keyed to
    // another partitioning): the first fill seq gaps, the second count toward line floods.
    this.events = opts.kafka.consumer({
      groupId: `${GROUPS.analyticsEventsPrefix}${opts.id}`,
      maxWaitTimeInMs: 500,
      allowAutoTopicCreation: false,
    });
    this.producer = reliableProducer(opts.kafka);
    this.admin = opts.kafka.admin();
    this.lag = new GroupLag(this.admin, ANALYTICS_GROUP, [TOPICS.telemetry, TOPICS.alarmCommands]);
  }

  private kpiOptions(type: string): KpiOptions {
    return {
      idealRatePerS: this.idealRate.get(type) ?? this.idealRate.get('') ?? 1,
      maxGapMs: Math.max(30_000, 5 * this.opts.periodMs),
      shiftOffsetMs: this.opts.shiftOffsetMs ?? 6 * 3600_000,
    };
  }

  get healthy(): { ok: boolean; detail: string; restartable: boolean } {
    const failingMs = this.influxFailingSince === undefined ? 0 : this.now() - this.influxFailingSince;
    const behind = this.lag.growing(30_000);
    // Counted by the tick each second; a health request does not walk every machine again.
    const open = this.opts.metrics.get('openAlarms');
    return {
      ok: this.running && !behind,
      restartable: !(behind && this.running),
      detail: [
        `${this.running ? 'consuming' : 'not consuming'} ${this.owned.size} partitions, ${this.machines.size} machines, ${open} open alarms, lag ${this.lag.current}`,
        ...(failingMs > 0 ? [`InfluxDB failing for ${Math.round(failingMs / 1000)}s (KPIs wait)`] : []),
        ...(behind ? ['lag has grown for 30s (falling behind)'] : []),
      ].join('; '),
    };
  }

  async start(): Promise<void> {
    const o = this.opts;
    const follow = await o.registry.follow((m) => this.registered.set(m.machineId, m));
    await follow.initialized;
    this.stopFollow = follow.stop;
    const fleet = await o.registry.definition();
    for (const [type, overrides] of Object.entries(fleet?.machineTypes ?? {})) {
      const p = resolveParams(overrides);
      if (p.ok) this.idealRate.set(type, (p.params.physics.maxRpm * p.params.physics.partsPerRev) / 60);
    }
    const d = resolveParams({});
    if (d.ok) this.idealRate.set('', (d.params.physics.maxRpm * d.params.physics.partsPerRev) / 60);

    await this.producer.connect();
    await this.admin.connect();
    await this.consumer.connect();
    // A new group starts at the end: a first start (or an upgrade) does not raise a week of
    // history as alarms. On a new stack analytics subscribes before any bridge forwards.
    await this.consumer.subscribe({ topics: [TOPICS.telemetry, TOPICS.alarmCommands], fromBeginning: false });
    const { GROUP_JOIN, CRASH } = this.consumer.events;
    this.consumer.on(GROUP_JOIN, (e) => {
      const parts = e.payload.memberAssignment[TOPICS.telemetry] ?? [];
      void this.serial(() => this.assign(parts));
    });
    // A consumer kafkajs will not restart (an authorization error while a restarted broker has
    // no ACLs yet is one) ends the process, and the keeper starts a new one: never a stage that
    // looks healthy while it reads nothing.
    const onCrash = (which: string) => (e: { payload: { error: Error; restart: boolean } }) => {
      o.log.error(`${which} consumer crashed`, {
        error: String(e.payload.error),
        restart: e.payload.restart,
      });
      if (!e.payload.restart) {
        this.running = false;
        o.onFatal?.(e.payload.error);
      }
    };
    this.consumer.on(CRASH, onCrash('telemetry'));
    await this.consumer.run({
      autoCommit: false,
      eachBatch: (p) => this.serial(() => this.batch(p)),
    });
    this.events.on(this.events.events.CRASH, onCrash('events'));
    await this.events.connect();
    await this.events.subscribe({ topics: [TOPICS.machineEvents, TOPICS.alarms], fromBeginning: false });
    await this.events.run({
      eachMessage: async ({ topic, partition, message }) =>
        this.serial(() =>
          topic === TOPICS.alarms
            ? this.alarmSeen(message.value)
            : this.skipEvent(message.value, `${topic}/${partition}@${message.offset}`),
        ),
    });
    // The owners' state events tell which machines a maintenance ticket holds (suppression).
    this.stateSub = o.nc.subscribe(subjects.state('*'), {
      callback: (_err, msg) => {
        try {
          const e = stateEventSchema.safeParse(msg.json());
          if (e.success && msg.subject === subjects.state(e.data.machineId))
            this.machines.get(e.data.machineId)?.m.setTicket(e.data.ticketId ?? null, e.data.seq);
        } catch {
          // not JSON: not an owner's event
        }
      },
    });
    this.running = true;
    const every = (ms: number, what: string, fn: () => Promise<void>) =>
      this.timers.push(
        setInterval(() => {
          fn().catch((err: Error) => o.log.warn(`${what} failed`, { error: err.message }));
        }, ms),
      );
    every(1_000, 'tick', () => this.serial(() => this.tick()));
    every(o.checkpointMs ?? 5_000, 'checkpoint', () => this.serial(() => this.checkpoint()));
    every(o.kpiFlushMs ?? 10_000, 'KPI flush', () => this.flushKpi());
    every(5_000, 'lag probe', async () => o.metrics.set('lag', await this.lag.probe()));
  }

  /** Runs `work` after everything queued before it; a failure is logged, never breaks the queue. */
  private serial(work: () => Promise<void>): Promise<void> {
    const run = this.queue.then(work);
    this.queue = run.catch((err: Error) =>
      this.opts.log.error('analytics step failed', { error: err.message }),
    );
    return run;
  }

  private partitionOfMachine(machineId: string) {
    return partitionOf(machineId, this.opts.telemetryPartitions);
  }

  /** A new assignment: forget machines that moved away, load those that moved here. */
  private async assign(partitions: number[]): Promise<void> {
    this.owned = new Set(partitions);
    for (const [id, e] of this.machines) if (!this.owned.has(e.partition)) this.machines.delete(id);
    for (const key of [...this.floods.keys()]) {
      if (!this.owned.has(this.partitionOfMachine(key))) this.floods.delete(key);
    }
    for (const k of [...this.processed.keys()]) {
      if (!this.owned.has(this.processed.get(k)!.partition)) this.processed.delete(k);
    }
    // Every registered machine of these partitions, so a machine silent since before we came is noticed.
    const ids = [...this.registered.values()]
      .filter((m) => m.retiredAt === null && this.owned.has(this.partitionOfMachine(m.machineId)))
      .map((m) => m.machineId);
    await this.loadMany(ids, new Map());
    this.opts.metrics.set('machines', this.machines.size);
    this.opts.log.info('partitions assigned', { partitions, machines: this.machines.size });
  }

  private readonly ruleCache = new Map<string, Rule[]>();

  /** A type's rules, with silence never judged shorter than three telemetry periods. */
  private rulesFor(type: string): Rule[] {
    let rules = this.ruleCache.get(type);
    if (!rules) {
      const floorS = (3 * this.opts.periodMs) / 1000;
      rules = this.opts.rules
        .forType(type)
        .map((r) => (r.kind === 'silence' && r.afterS < floorS ? { ...r, afterS: floorS } : r));
      this.ruleCache.set(type, rules);
    }
    return rules;
  }

  private info(machineId: string, seen?: { site: string; line: string }): MachineInfo {
    const r = this.registered.get(machineId);
    return {
      machineId,
      site: r?.site ?? seen?.site ?? '-',
      line: r?.line ?? seen?.line ?? '-',
      type: r?.type ?? 'default',
    };
  }

  /** Loads (or creates) the state of machines not in memory, 64 at a time. */
  private async loadMany(ids: string[], seen: Map<string, { site: string; line: string }>): Promise<void> {
    const missing = [...new Set(ids)].filter((id) => !this.machines.has(id));
    for (let i = 0; i < missing.length; i += 64) {
      await Promise.all(
        missing.slice(i, i + 64).map(async (id) => {
          const { state, revision } = await this.opts.store.load(id);
          const info = this.info(id, seen.get(id));
          const s = state ?? newMachineState(info);
          s.machine = info;
          const m = new MachineAnalytics(
            s,
            this.rulesFor(info.type),
            {
              kpi: this.kpiOptions(info.type),
              maxHoldMs: this.opts.maxHoldMs ?? 3_000,
              floodOf: (site, line) => this.flooding.get(lineSubject(site, line)) ?? null,
            },
            this.now(),
          );
          const entry = { m, revision, partition: this.partitionOfMachine(id) };
          this.machines.set(id, entry);
          // Events saved but perhaps never sent (a crash between the two): send them now; a
          // consumer that got them already recognises their ids.
          for (const event of s.outbox ?? []) this.pendingEvents.push({ entry, event });
        }),
      );
    }
  }

  private async batch({ batch, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    if (batch.messages.length === 0 || !isRunning() || isStale()) return;
    const m = this.opts.metrics;
    const now = this.now();
    if (batch.topic === TOPICS.telemetry) {
      const readings: TelemetryV1[] = [];
      for (const msg of batch.messages) {
        const t = parseRecord(msg.value);
        if (t) readings.push(t);
        else m.inc('invalid');
      }
      m.inc('received', readings.length);
      await this.loadMany(
        readings.map((t) => t.machineId),
        new Map(readings.map((t) => [t.machineId, t])),
      );
      if (readings.length) {
        // Readings again after none at all: the pipeline was down, not each machine.
        if (now - this.lastReadingAt >= FLOWING_MS) this.flowingSince = now;
        this.lastReadingAt = now;
      }
      for (const t of readings) {
        const e = this.machines.get(t.machineId);
        if (!e) continue;
        this.collect(e, e.m.receive(t, now));
        this.kpiDirty.add(e);
      }
    } else {
      for (const msg of batch.messages)
        await this.command(msg.value, now, `${batch.topic}/${batch.partition}@${msg.offset}`);
    }
    this.processed.set(`${batch.topic}/${batch.partition}`, {
      topic: batch.topic,
      partition: batch.partition,
      offset: String(BigInt(batch.lastOffset()) + 1n),
    });
    await this.flush();
    await heartbeat().catch(() => undefined);
  }

  private collect(e: Entry, out: Output) {
    for (const event of out.events) this.pendingEvents.push({ entry: e, event });
    for (const w of out.closed) this.closedKpi.push(this.point(e, w, true));
  }

  private point(e: Entry, w: KpiWindow, complete: boolean): IPoint {
    // Rates (alarms per hour) are over the time the machine was observed in the window.
    const span = w.sums.pbtMs + w.sums.plannedDownMs;
    const { machineId, site, line } = e.m.state.machine;
    return kpiPoint({ machineId, site, line }, w, span, complete);
  }

  /** An acknowledge/shelve/unshelve record: validated, applied by the alarm's owner (us), answered. */
  private async command(raw: Buffer | null, now: number, source: string): Promise<void> {
    const m = this.opts.metrics;
    const parsed = alarmCommandSchema.safeParse(jsonOf(raw));
    if (!parsed.success) {
      m.inc('commandsInvalid');
      const issue = parsed.error.issues[0];
      await this.deadLetter({
        key: TOPICS.alarmCommands,
        raw,
        code: 'schema',
        reason: `not an alarm command: ${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'invalid'}`,
        source,
      });
      return;
    }
    const c: AlarmCommand = parsed.data;
    const subject = subjectOf(c.alarmId)!;
    if (subject.includes('/')) {
      await this.floodCommand(c, now);
      return;
    }
    // Only machines of the registry have state here: a typo must not create one.
    if (this.registered.has(subject)) await this.loadMany([subject], new Map());
    const e = this.machines.get(subject);
    const { outcome, out } = e
      ? e.m.command(c.alarmId, c.action, c.by, now, c.forMs)
      : {
          outcome: { ok: false as const, reason: `there is no machine ${subject} in the fleet registry` },
          out: undefined,
        };
    m.inc(outcome.ok ? 'commands' : 'commandsRefused');
    if (e && out) this.collect(e, out);
    if (c.replyTo) this.answer(c, outcome);
  }

  private answer(c: AlarmCommand, outcome: CommandOutcome) {
    this.pendingAnswers.push({
      replyTo: c.replyTo!,
      answer: {
        commandId: c.commandId,
        alarmId: c.alarmId,
        ok: outcome.ok,
        ...(outcome.ok ? { state: outcome.change.alarm.state } : { reason: outcome.reason }),
        owner: this.opts.id,
      },
    });
  }

  private async skipEvent(raw: Buffer | null, source: string): Promise<void> {
    const { site: _s, line: _l, ...rest } = (jsonOf(raw) ?? {}) as Record<string, unknown>;
    const e = machineEventSchema.safeParse(rest);
    if (!e.success) return;
    const entry = this.machines.get(e.data.machineId);
    if (!entry) return;
    const { machineId, skippedFrom, skippedTo, epoch } = e.data;
    if (this.opts.recordedGap && !(await this.opts.recordedGap(machineId, skippedFrom, skippedTo, epoch))) {
      await this.deadLetter({
        key: machineId,
        raw,
        code: 'skip-range',
        reason: `no owner of ${machineId} recorded a skip of ${skippedFrom}-${skippedTo} in epoch ${epoch} (actor-snapshots): not applied`,
        source,
      });
      return;
    }
    this.collect(entry, entry.m.skip(skippedFrom, skippedTo));
    await this.flush();
  }

  /** A record refused here, copied to the dead-letter topic (retried while we run). */
  private async deadLetter(d: Parameters<DeadLetters['refuse']>[0]): Promise<void> {
    await this.deadLetters.send(
      [this.deadLetters.refuse(d)],
      () => this.running,
      (err, attempt) =>
        this.opts.log.warn('dead-letter send failed; retrying', { error: err.message, attempt }),
    );
  }

  private async tick(): Promise<void> {
    const now = this.now();
    const flowing = now - this.lastReadingAt < FLOWING_MS;
    for (const e of this.machines.values()) {
      const r = this.registered.get(e.m.id);
      // Retired or unknown machines are not expected to speak.
      const expected = flowing && r !== undefined && r.retiredAt === null;
      this.collect(e, e.m.tick(now, expected, this.flowingSince));
    }
    for (const f of this.floods.values()) for (const c of floodTick(f.state, now)) this.floodEvent(f, c);
    let open = 0;
    for (const e of this.machines.values()) open += e.m.openAlarms().length;
    this.opts.metrics.set('openAlarms', open);
    await this.flush();
  }

  /** A line's flood state, loaded on first need (only for lines whose partition is ours). */
  private async flood(site: string, line: string) {
    const key = lineSubject(site, line);
    let f = this.floods.get(key);
    if (!f) {
      const { state, revision } = await this.opts.store.loadFlood(site, line);
      f = { state: state ?? newFloodState(site, line), revision };
      this.floods.set(key, f);
    }
    return f;
  }

  private floodEvent(f: FloodEntry, c: Change) {
    const { site, line } = f.state;
    this.pendingFloods.add(f);
    this.pendingEvents.push({
      entry: null,
      event: alarmEvent(c, floodFacts(f.state.raises.length), {
        machineId: null,
        site,
        line,
        machineType: null,
        flood: null,
      }),
    });
  }

  /** An alarm event from the topic: follow floods, and count raises on lines we own. */
  private async alarmSeen(raw: Buffer | null): Promise<void> {
    const e = alarmEventSchema.safeParse(jsonOf(raw));
    if (!e.success) return;
    const a = e.data;
    const key = lineSubject(a.site, a.line);
    if (a.rule === 'flood') {
      if (a.state === 'NORMAL' || a.state === 'CLEARED_UNACK') this.flooding.delete(key);
      else this.flooding.set(key, a.alarmId);
      return;
    }
    if (a.transition !== 'RAISED' || !this.owned.has(this.partitionOfMachine(key))) return;
    const f = await this.flood(a.site, a.line);
    const c = floodRaise(f.state, a.ts);
    this.pendingFloods.add(f);
    if (c) this.floodEvent(f, c);
    await this.flush();
  }

  private async floodCommand(c: AlarmCommand, now: number): Promise<void> {
    const [site, line] = subjectOf(c.alarmId)!.split('/') as [string, string];
    const mine = this.owned.has(this.partitionOfMachine(lineSubject(site, line)));
    const f = mine ? await this.flood(site, line) : undefined;
    const outcome = f
      ? floodCommand(f.state, c.alarmId, c.action, c.by, now, c.forMs)
      : { ok: false as const, reason: `line ${site}/${line} is not owned here` };
    this.opts.metrics.inc(outcome.ok ? 'commands' : 'commandsRefused');
    if (f && outcome.ok) this.floodEvent(f, outcome.change);
    if (c.replyTo) this.answer(c, outcome);
  }

  /**
   * Saves the machines that caused events, then produces the events, then updates the open-alarm
   * view and answers commands. A machine whose save is refused (another instance took it over)
   * is dropped with its events: its new owner will raise them from the same readings.
   */
  private async flush(): Promise<void> {
    if (this.pendingFloods.size > 0) await this.saveFloods();
    if (this.pendingEvents.length === 0 && this.pendingAnswers.length === 0) return;
    const events = this.pendingEvents;
    const answers = this.pendingAnswers;
    this.pendingEvents = [];
    this.pendingAnswers = [];
    const toSave = new Set(events.map((e) => e.entry).filter((e): e is Entry => e !== null));
    // The outbox: a machine's events are saved with its state before they are sent, so a crash
    // between the two sends them after the restart instead of losing them (see loadMany).
    for (const e of toSave) {
      // Append: events of an earlier flush that failed are still unsent.
      const mine = events.filter((p) => p.entry === e).map((p) => p.event);
      const ids = new Set(mine.map((ev) => ev.eventId));
      e.m.state.outbox = [...(e.m.state.outbox ?? []).filter((ev) => !ids.has(ev.eventId)), ...mine];
    }
    const lost = new Set<Entry>();
    try {
      await Promise.all([...toSave].map(async (e) => (await this.save(e)) || lost.add(e)));
    } catch (err) {
      // The store failed (not a conflict): keep everything for the next flush, unsent.
      this.pendingEvents = [...events, ...this.pendingEvents];
      this.pendingAnswers = [...answers, ...this.pendingAnswers];
      throw err;
    }
    const kept = events.filter((e) => e.entry === null || !lost.has(e.entry));
    if (kept.length) {
      await retryUntil(
        () =>
          this.producer.send({
            topic: TOPICS.alarms,
            acks: -1,
            messages: kept.map(({ event }) => ({
              key: event.machineId ?? `${event.site}/${event.line}`,
              value: JSON.stringify(event),
              headers: { eventId: event.eventId },
            })),
          }),
        {
          keepGoing: () => this.running,
          onRetry: (err, attempt) =>
            this.opts.log.warn('alarm events not sent; retrying', { error: err.message, attempt }),
        },
      );
      for (const e of toSave) {
        e.m.state.outbox = [];
        e.m.dirty = true;
      }
      const sentAt = this.now();
      for (const { event } of kept) {
        if (event.transition === 'RAISED' && event.conditionSince !== null)
          this.opts.metrics.observe('detectionMs', Math.max(0, sentAt - event.conditionSince));
        if (event.transition === 'RAISED') this.opts.metrics.inc('raised');
      }
      this.opts.metrics.inc('events', kept.length);
      // One alarm's events in order; different alarms in parallel.
      const byAlarm = new Map<string, AlarmEvent[]>();
      for (const { event } of kept)
        byAlarm.set(event.alarmId, [...(byAlarm.get(event.alarmId) ?? []), event]);
      await Promise.all(
        [...byAlarm.values()].map(async (list) => {
          for (const ev of list) await this.opts.store.project(ev);
        }),
      ).catch((err: Error) => this.opts.log.warn('open-alarm view not updated', { error: err.message }));
    }
    for (const { replyTo, answer } of answers) this.opts.nc.publish(replyTo, JSON.stringify(answer));
  }

  private readonly pendingFloods = new Set<FloodEntry>();

  /** Saves changed flood states (fenced like machines'; a line taken over is dropped). */
  private async saveFloods(): Promise<void> {
    const list = [...this.pendingFloods];
    this.pendingFloods.clear();
    for (const f of list) {
      try {
        f.revision = await this.opts.store.saveFlood(f.state, f.revision);
      } catch (err) {
        if (!isRevisionConflict(err)) throw err;
        this.floods.delete(lineSubject(f.state.site, f.state.line));
        this.pendingEvents = this.pendingEvents.filter(
          (p) => !(p.entry === null && p.event.site === f.state.site && p.event.line === f.state.line),
        );
      }
    }
  }

  /** Saves one machine's state, fenced; false when another instance owns it now (it is dropped). */
  private async save(e: Entry): Promise<boolean> {
    try {
      e.revision = await this.opts.store.save(e.m.state, e.revision);
      e.m.dirty = false;
      this.opts.metrics.inc('saved');
      return true;
    } catch (err) {
      if (!isRevisionConflict(err)) throw err;
      this.opts.metrics.inc('conflicts');
      this.opts.log.warn('machine taken over by another instance; dropping it', { machineId: e.m.id });
      this.machines.delete(e.m.id);
      return false;
    }
  }

  /** Saves every changed machine, then commits the offsets those states cover. */
  private async checkpoint(): Promise<void> {
    const offsets = [...this.processed.values()];
    const dirty = [...this.machines.values()].filter((e) => e.m.dirty);
    for (let i = 0; i < dirty.length; i += 256)
      await Promise.all(dirty.slice(i, i + 256).map((e) => this.save(e)));
    const mine = offsets.filter((o) => this.owned.has(o.partition));
    if (mine.length) await this.consumer.commitOffsets(mine);
    this.opts.metrics.set('machines', this.machines.size);
  }

  /** Current windows of machines that changed, and windows that closed, to InfluxDB `kpi`. */
  private async flushKpi(): Promise<void> {
    let points: IPoint[] = [];
    await this.serial(async () => {
      points = this.closedKpi;
      this.closedKpi = [];
      for (const e of this.kpiDirty) {
        if (this.machines.get(e.m.id) !== e) continue; // dropped (moved away) since
        for (const w of Object.values(e.m.state.kpi.windows)) if (w) points.push(this.point(e, w, false));
      }
      this.kpiDirty.clear();
    });
    // Lines whose key is ours: summed from the machines' points already written.
    const lines = new Map<string, { site: string; line: string }>();
    for (const r of this.registered.values()) {
      const key = lineSubject(r.site, r.line);
      if (this.owned.has(this.partitionOfMachine(key))) lines.set(key, { site: r.site, line: r.line });
    }
    try {
      for (let i = 0; i < points.length; i += 5_000) {
        await this.opts.influx.writePoints(points.slice(i, i + 5_000), {
          precision: 'ms',
          retentionPolicy: KPI_RETENTION,
        });
      }
      const linesPoints = await linePoints(this.opts.influx, [...lines.values()], this.now());
      if (linesPoints.length)
        await this.opts.influx.writePoints(linesPoints, { precision: 'ms', retentionPolicy: KPI_RETENTION });
      this.influxFailingSince = undefined;
      this.opts.metrics.inc('kpiPoints', points.length + linesPoints.length);
    } catch (err) {
      this.influxFailingSince ??= this.now();
      // Closed windows are written once: keep them for the next attempt (bounded); current
      // windows are rewritten at the next flush anyway.
      const closed = points.filter((p) => p.fields?.complete === true).slice(-200_000);
      this.closedKpi = [...closed, ...this.closedKpi];
      throw err;
    }
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    // Save and commit what was applied while the group still holds our partitions.
    await this.serial(() => this.checkpoint()).catch((err: Error) =>
      this.opts.log.warn('last checkpoint failed', { error: err.message }),
    );
    await this.consumer.disconnect().catch(() => undefined);
    await this.events.disconnect().catch(() => undefined);
    await this.flushKpi().catch(() => undefined);
    this.running = false;
    this.stopFollow?.();
    this.stateSub?.unsubscribe();
    await this.admin.disconnect().catch(() => undefined);
    await this.producer.disconnect();
  }
}

/** A record's JSON, or undefined when it is none (counted or ignored by the caller, never thrown). */
function jsonOf(raw: Buffer | null): unknown {
  try {
    return JSON.parse(raw?.toString('utf8') ?? '');
  } catch {
    return undefined;
  }
}

function parseRecord(raw: Buffer | null): TelemetryV1 | undefined {
  const t = telemetryV1Schema.safeParse(jsonOf(raw));
  return t.success ? t.data : undefined;
}
