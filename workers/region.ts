/**
 * A region: one worker process. It joins the shard coordinator (the Kafka group on
 * machine-commands), hosts the entities of its shards (shard host), saves them (snapshot store),
 * publishes their telemetry (sink), and speaks the NATS control plane: queries answered by the
 * owner only, state changes, heartbeats.
 */
import type { Kafka, Producer } from 'kafkajs';
import type { NatsConnection, Subscription } from 'nats';
import { createMachineModel, type MachineModel, resolveParams } from '../actors/index.js';
import type { RegisteredMachine } from '../actors/registry.js';
import type { Logger } from '../common/log.js';
import {
  commandEnvelopeSchema,
  type Heartbeat,
  heartbeatSchema,
  subjects,
} from '../common/machine-commands.js';
import { safeJson } from '../common/nats.js';
import { DeadLetters, type PoisonCode } from '../common/poison.js';
import { toRanges } from '../common/ranges.js';
import type { FleetRegistry } from '../common/registry.js';
import type { Metrics } from '../common/runtime.js';
import { TOPICS } from '../common/topics.js';
import { reliableProducer } from '../pipeline/kafka.js';
import { ShardCoordinator } from './coordinator.js';
import type { LegacyLookup } from './legacy.js';
import { CommandNotSaved, type Entity, ShardHost, ShardMoved } from './shard-host.js';
import type { SnapshotStore } from './snapshot-store.js';
import type { TelemetrySink } from './telemetry-sink.js';

export interface RegionOptions {
  workerId: string;
  nc: NatsConnection;
  kafka: Kafka;
  registry: FleetRegistry;
  store: SnapshotStore;
  sink: (hostedOn: (site: string, line: string) => string[]) => TelemetrySink;
  shards: number;
  periodMs: number;
  snapshotEveryMs: number;
  block: number;
  sessionTimeoutMs: number;
  legacy?: LegacyLookup;
  metrics: Metrics;
  log: Logger;
}

const HEARTBEAT_MS = 1_000;
/** Attempts at a command that fails in a way no rebalance or save explains, before it is dead-lettered. */
const COMMAND_ATTEMPTS = 3;

export class Region {
  readonly host: ShardHost;
  readonly sink: TelemetrySink;
  private readonly coordinator: ShardCoordinator;
  private readonly models = new Map<string, MachineModel>();
  private readonly peers = new Map<string, number>();
  private readonly subs: Subscription[] = [];
  private timers: NodeJS.Timeout[] = [];
  private stopRegistry: (() => void) | undefined;
  private joined = false;
  private lastEmitted = { at: Date.now(), count: 0 };
  private readonly dlq: Producer;
  private readonly deadLetters: DeadLetters;

  constructor(private readonly opts: RegionOptions) {
    const { log } = opts;
    this.dlq = reliableProducer(opts.kafka);
    this.deadLetters = new DeadLetters({
      stage: 'worker',
      producer: () => this.dlq,
      metrics: opts.metrics,
      log,
    });
    this.sink = opts.sink((site, line) =>
      [...this.hostedIds()].filter((id) => {
        const e = this.host.entity(id);
        return e?.machine.site === site && e.machine.line === line;
      }),
    );
    this.coordinator = new ShardCoordinator({
      kafka: opts.kafka,
      sessionTimeoutMs: opts.sessionTimeoutMs,
      heartbeatIntervalMs: Math.max(100, Math.floor(opts.sessionTimeoutMs / 6)),
      // Half the session: the group evicts us after a full session without heartbeats, so we
      // stop well before anyone else can be given our shards.
      fenceAfterMs: Math.floor(opts.sessionTimeoutMs / 2),
      onAssign: async (shards, wasFenced) => {
        this.joined = true;
        await this.host.assign(shards, wasFenced);
        this.heartbeat();
      },
      onRecord: (value, shard, offset, heartbeat) => this.onCommand(value, shard, offset, heartbeat),
      log,
    });
    this.host = new ShardHost({
      workerId: opts.workerId,
      shards: opts.shards,
      store: opts.store,
      sink: this.sink,
      model: (type) => this.models.get(type),
      periodMs: opts.periodMs,
      snapshotEveryMs: opts.snapshotEveryMs,
      block: opts.block,
      fenced: () => this.coordinator.fenced(),
      writesFenced: () => this.coordinator.writesFenced(),
      // Heartbeats come every second: two missed, and the worker is gone (the group session is
      // 3 s). A worker that has only just started listening has heard nobody yet: it assumes
      // the previous owner alive, so that a hand-off to a joining worker waits for `released`.
      workerAlive: (id) =>
        Date.now() - this.listeningSince < 2_500 || Date.now() - (this.peers.get(id) ?? 0) < 2_000,
      // The old owner waits at most 2 s for its last readings' confirmations before it writes
      // `released`; the new owner waits longer than that for it, so a live hand-off is clean.
      handoffWaitMs: 5_000,
      settleWaitMs: 2_000,
      onStateChange: (e, from) => this.stateChanged(e, from),
      legacy: opts.legacy,
      log,
    });
  }

  private *hostedIds() {
    for (const id of this.allIds) if (this.host.entity(id)) yield id;
  }

  private allIds = new Set<string>();
  private listeningSince = Number.POSITIVE_INFINITY;

  async start(): Promise<void> {
    await this.loadModels();
    const follow = await this.opts.registry.follow((m) => {
      this.allIds.add(m.machineId);
      void this.onRegistered(m);
    });
    this.stopRegistry = follow.stop;
    await follow.initialized;
    const { nc } = this.opts;
    this.listeningSince = Date.now();
    this.subs.push(
      nc.subscribe(subjects.heartbeat, {
        callback: (_err, msg) => {
          const hb = heartbeatSchema.safeParse(safeJson(msg.data));
          if (hb.success) this.peers.set(hb.data.workerId, Date.now());
        },
      }),
      nc.subscribe(subjects.queryAll, {
        callback: (_err, msg) => {
          const id = msg.subject.split('.')[2] ?? '';
          const e = this.host.entity(id);
          // Only the owner answers: a requester hears exactly one voice or a timeout.
          if (e && msg.reply) msg.respond(new TextEncoder().encode(JSON.stringify(this.describe(e))));
        },
      }),
    );
    await this.dlq.connect();
    await this.coordinator.start();
    this.timers.push(
      setInterval(() => this.host.tickDue(), 50),
      setInterval(() => this.heartbeat(), HEARTBEAT_MS),
      setInterval(() => this.sink.publishStatus(), 5_000),
      setInterval(() => void this.host.reconcile(), 5_000),
    );
  }

  /** Graceful: stop ticking, hand every machine over (snapshot first), drain, leave the group. */
  async stop(deadlineMs: number): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.stopRegistry?.();
    await this.host.releaseAll();
    await this.sink.stop(Math.max(1_000, deadlineMs - 2_000));
    await this.coordinator.stop();
    await this.dlq.disconnect().catch(() => undefined);
    for (const s of this.subs) s.unsubscribe();
    this.heartbeat();
  }

  /**
   * Healthy = member of the group, not fenced, emitting (when it hosts machines), and its
   * telemetry leaving over MQTT. A lost broker is not cured by restarting the worker: it says so.
   */
  health(): { ok: boolean; detail: string; restartable?: boolean } {
    const sink = this.sink.stats;
    this.opts.metrics.set('mqttDisconnectedMs', sink.disconnectedMs);
    const c = this.host.counters;
    const now = Date.now();
    const flowing =
      this.host.size === 0 || c.emitted > this.lastEmitted.count || now - this.lastEmitted.at < 15_000;
    if (c.emitted > this.lastEmitted.count) this.lastEmitted = { at: now, count: c.emitted };
    // Out of touch with the group (a rebalance being applied is not a fence worth reporting).
    const fenced = this.coordinator.leaseExpired();
    const shards = this.host.ownedShards;
    const summary = `shards ${
      shards.length
        ? toRanges(shards)
            .map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`))
            .join(',')
        : 'none'
    }, ${this.host.size} machines`;
    if (!this.joined) return { ok: false, detail: 'not yet a member of the worker group' };
    if (fenced) return { ok: false, detail: `fenced: no group heartbeat lately (${summary})` };
    if (!flowing) return { ok: false, detail: `no telemetry emitted for 15 s (${summary})` };
    // A line's connection is opened when its first machine arrives: a moment to connect.
    if (sink.disconnectedMs > 5_000)
      return {
        ok: false,
        restartable: false,
        detail: `MQTT broker unreachable: ${sink.spooled} readings spooled to disk (${summary})`,
      };
    return { ok: true, detail: summary };
  }

  private async loadModels() {
    const fleet = await this.opts.registry.definition();
    for (const [name, overrides] of Object.entries(fleet?.machineTypes ?? {})) {
      if (this.models.has(name)) continue;
      const r = resolveParams(overrides);
      if (r.ok) this.models.set(name, createMachineModel(r.params));
      else this.opts.log.error('machine type does not resolve', { type: name, reason: r.reason });
    }
  }

  private async onRegistered(m: RegisteredMachine) {
    if (!this.models.has(m.type)) await this.loadModels();
    await this.host.registered(m);
  }

  private async onCommand(
    value: Buffer | null,
    shard: number,
    offset: number,
    heartbeat: () => Promise<void>,
  ) {
    const { metrics, log, nc } = this.opts;
    const source = `${TOPICS.machineCommands}/${shard}@${offset}`;
    const parsed = commandEnvelopeSchema.safeParse(safeJson(value ?? new Uint8Array()));
    if (!parsed.success) {
      metrics.inc('commandsRejected');
      const issue = parsed.error.issues[0];
      await this.deadLetter(heartbeat, {
        key: `shard-${shard}`,
        raw: value,
        code: 'schema',
        reason: `not a command record: ${issue ? `${issue.path.join('.')}: ${issue.message}` : 'invalid'}`,
        source,
      });
      return;
    }
    const env = parsed.data;
    /** Refused here for good: counted, dead-lettered, and answered so that nobody waits for it. */
    const refuse = async (code: PoisonCode, reason: string) => {
      metrics.inc('commandsRejected');
      await this.deadLetter(heartbeat, { key: env.machineId, raw: value, code, reason, source });
      if (env.replyTo)
        nc.publish(
          env.replyTo,
          JSON.stringify({
            commandId: env.commandId,
            machineId: env.machineId,
            ok: false,
            reason,
            owner: this.opts.workerId,
            shard,
          }),
        );
    };
    // A record on another machine's shard: its machine's owner never reads it, and this worker
    // must not act on a machine it does not own. Refused, answered, dead-lettered.
    const home = this.host.shardOf(env.machineId);
    if (home !== shard) {
      const reason = `a command for ${env.machineId} belongs on shard ${home}, not ${shard}`;
      await refuse('wrong-shard', reason);
      return;
    }
    let answer: Awaited<ReturnType<ShardHost['command']>> | undefined;
    let failures = 0;
    for (let waited = 0; !answer; waited++) {
      // Out of touch with the group: prove membership first. The heartbeat throws if the group
      // is rebalancing, and the record goes to whoever owns the shard afterwards.
      while (this.coordinator.writesFenced()) {
        await heartbeat();
        await new Promise((r) => setTimeout(r, 100));
      }
      try {
        answer = await this.host.command(env, offset);
      } catch (err) {
        // The shard moved while the command was in flight: not acknowledged here, so its next
        // owner reads it again and applies it.
        if (err instanceof ShardMoved) metrics.inc('commandsHandedOver');
        if (err instanceof ShardMoved) throw err;
        if (!(err instanceof CommandNotSaved)) {
          // Neither a move nor a save: a command the machine cannot take. A few tries (a store
          // that hiccuped), then it is refused and dead-lettered rather than crash-looping the
          // consumer (which would rebalance every worker, again and again).
          if (++failures < COMMAND_ATTEMPTS) {
            log.warn('command failed; retrying', {
              machineId: env.machineId,
              shard,
              offset,
              error: String(err),
            });
            await heartbeat();
            await new Promise((r) => setTimeout(r, 200 * failures));
            continue;
          }
          await refuse(
            'refused-by-model',
            `the command failed ${COMMAND_ATTEMPTS} times: ${String(err).slice(0, 300)}`,
          );
          return;
        }
        // Applied but not saved (fenced meanwhile, or the store did not answer): never answered
        // before a save carries it. Prove membership and save again.
        if (waited % 50 === 0)
          log.warn('command applied but not saved yet; retrying', {
            machineId: env.machineId,
            shard,
            offset,
          });
        metrics.inc('commandSaveRetries');
        await heartbeat();
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    metrics.inc(answer.ok ? 'commandsApplied' : 'commandsRefused');
    const e = this.host.entity(env.machineId);
    const ctx = e?.actor.getSnapshot().context;
    const body = {
      commandId: env.commandId,
      machineId: env.machineId,
      ...answer,
      state: ctx?.state,
      seq: ctx?.seq,
      ticketId: ctx?.ticketId ?? null,
    };
    log.info('command', {
      machineId: env.machineId,
      commandId: env.commandId,
      shard,
      ok: answer.ok,
      reason: answer.ok ? undefined : answer.reason,
      by: env.by,
    });
    if (env.replyTo) nc.publish(env.replyTo, JSON.stringify(body));
  }

  /** A refused command record, copied to the dead-letter topic before its offset is committed. */
  private async deadLetter(
    heartbeat: () => Promise<void>,
    d: { key: string; raw: Buffer | null; code: PoisonCode; reason: string; source: string },
  ): Promise<void> {
    const message = this.deadLetters.refuse(d);
    await this.deadLetters.send(
      [message],
      () => true,
      async (err, attempt) => {
        this.opts.log.warn('dead-letter send failed; retrying', { error: err.message, attempt });
        await heartbeat();
      },
    );
  }

  private describe(e: Entity) {
    const c = e.actor.getSnapshot().context;
    return {
      machineId: e.machine.machineId,
      site: e.machine.site,
      line: e.machine.line,
      type: e.machine.type,
      state: c.state,
      seq: c.seq,
      epoch: c.epoch,
      reservedUpTo: e.saved.reservedUpTo,
      faults: c.faults,
      trip: c.trip,
      ticketId: c.ticketId,
      stopped: c.stopped,
      commandsApplied: e.saved.commands.applied,
      owner: this.opts.workerId,
      shard: e.shard,
      ts: c.ts,
    };
  }

  private stateChanged(e: Entity, from: string) {
    const c = e.actor.getSnapshot().context;
    this.opts.nc.publish(
      subjects.state(e.machine.machineId),
      JSON.stringify({
        machineId: e.machine.machineId,
        site: e.machine.site,
        line: e.machine.line,
        from,
        to: c.state,
        /** The maintenance ticket holding the machine, if any. */
        ticketId: c.ticketId,
        seq: c.seq,
        ts: c.ts,
        owner: this.opts.workerId,
        shard: e.shard,
      }),
    );
  }

  heartbeat(): void {
    const hb: Heartbeat = {
      workerId: this.opts.workerId,
      pid: process.pid,
      shards: this.host.ownedShards,
      actors: this.host.size,
      fenced: this.coordinator.fenced(),
      ts: Date.now(),
      counters: { ...this.host.counters },
    };
    const { metrics } = this.opts;
    metrics.set('actors', hb.actors);
    metrics.set('shards', hb.shards.length);
    metrics.set('fenced', hb.fenced ? 1 : 0);
    // As counters (for rates): the increase since the last heartbeat.
    for (const [k, v] of Object.entries(this.host.counters)) metrics.inc(k, v - metrics.get(k));
    if (this.opts.nc.isClosed()) return;
    this.opts.nc.publish(subjects.heartbeat, JSON.stringify(hb));
  }
}
