/**
 * The shard host of a region (worker): the machine actors (entities) of the shards the worker
 * owns, by id. It acquires a shard's entities from the snapshot store when the coordinator
 * (the Kafka group on machine-commands) assigns the shard, ticks them, applies their commands,
 * and hands them over (snapshot first) when the shard is taken away.
 *
 * Seq numbers come from a block reserved in the entity's snapshot key: a machine emits only
 * while its seq stays within the reservation, and extends it (compare-and-set) half a block
 * ahead. A new owner that did not get a clean hand-off starts above the old reservation and
 * records the skipped range as a gap in the same key. No clock is involved.
 */

import { type AnyActorRef, createActor, fromCallback } from 'xstate';
import {
  applyCommand,
  type CommandResult,
  type MachineActor,
  type MachineContext,
  type MachineModel,
  type MachineState,
  startMachineActor,
  stopMachineActor,
  telemetryOf,
} from '../actors/index.js';
import { isHosted, type RegisteredMachine } from '../actors/registry.js';
import { isRevisionConflict } from '../common/kv.js';
import type { Logger } from '../common/log.js';
import { murmur2, partitionOf } from '../common/partitioner.js';
import { MODEL_VERSION, type SnapshotEntry } from './snapshot-store.js';

export interface SnapshotPort {
  read(machineId: string): Promise<{ value: SnapshotEntry; revision: number } | undefined>;
  revisionOf(machineId: string): Promise<number>;
  write(entry: SnapshotEntry, revision: number): Promise<number>;
}

/** Where telemetry and lifecycle events go (the firmware publisher, one connection per line). */
export interface TelemetryPort {
  telemetry(machine: RegisteredMachine, payload: string, seq: number): void;
  event(machine: RegisteredMachine, payload: string, epoch: number): void;
  /** The machine's lowest seq not yet confirmed durable (or dropped); undefined when none. */
  unsettled(machineId: string): number | undefined;
  forget(machineId: string): void;
}

export interface ShardHostOptions {
  workerId: string;
  /** Partitions of machine-commands: the shard count. */
  shards: number;
  store: SnapshotPort;
  sink: TelemetryPort;
  /** The XState machine for a machine type; undefined for a type the registry does not define. */
  model: (type: string) => MachineModel | undefined;
  /** Telemetry period per machine. */
  periodMs: number;
  snapshotEveryMs: number;
  /** Seq numbers reserved at a time; also the largest failover gap a machine can have. */
  block: number;
  /** True while this worker may not tick or publish (no confirmed ownership, or mid-rebalance). */
  fenced: () => boolean;
  /** True while it may not write snapshots (ownership unconfirmed); defaults to `fenced`. */
  writesFenced?: () => boolean;
  /** Whether another worker is alive (seen on the heartbeat subject lately). */
  workerAlive: (workerId: string) => boolean;
  /** How long a new owner waits for a live previous owner's hand-off before taking over. */
  handoffWaitMs: number;
  /** How long a hand-off waits for the machine's last messages to be confirmed. */
  settleWaitMs: number;
  onStateChange?: (e: Entity, from: MachineState) => void;
  /** A machine saved by an earlier version's gateway, for its first acquisition here. */
  legacy?: (machineId: string, now: number) => SnapshotEntry | undefined;
  clock?: () => number;
  log: Logger;
}

export interface Entity {
  machine: RegisteredMachine;
  shard: number;
  actor: MachineActor;
  /** The last entry this owner wrote, and its revision: the fence for the next write. */
  saved: SnapshotEntry;
  revision: number;
  writing: Promise<boolean> | undefined;
  lastSavedAt: number;
  slot: number;
  /** When it last ticked: one tick per millisecond at most (see tick). */
  tickedAt: number;
  /**
   * The last command applied to the actor, durable or not: `saved.commands` says what the store
   * has. A command applied here whose save did not land is answered only once a save carries it.
   */
  commands: { offset: number; applied: number; unanswered?: Unanswered };
}

export interface CommandEnvelope {
  commandId: string;
  machineId: string;
  command: unknown;
}

/** A command applied to the actor and not yet answered: what to answer, and what it changed. */
interface Unanswered {
  result: CommandResult;
  from: MachineState;
  ticketId: string | null | undefined;
}

export type CommandAnswer = CommandResult & { duplicate?: boolean; owner: string; shard: number };

const SLOT_MS = 100;

/**
 * Machines taken on at once. Most of an acquisition is waiting (for the previous owner's
 * hand-off, up to seconds; for a KV round trip), so this is wide: a joining worker taking on
 * hundreds of machines waits for their hand-offs side by side, not 32 at a time.
 */
const ACQUIRE_AT_ONCE = 256;

/** The command's shard is no longer this worker's: its next owner will apply the command. */
export class ShardMoved extends Error {
  constructor(readonly shard: number) {
    super(`shard ${shard} moved to another worker`);
  }
}

/**
 * The command was applied to the actor but no save carries it yet (the worker is fenced, or the
 * store did not answer): it may not be answered, nor its record acknowledged. Read again, it is
 * answered once a save lands; if the shard moves meanwhile, the next owner applies it.
 */
export class CommandNotSaved extends Error {
  constructor(readonly machineId: string) {
    super(`command for ${machineId} applied but not yet saved`);
  }
}

export class ShardHost {
  private readonly entities = new Map<string, Entity>();
  /** The region's own actor: every machine actor is its child and shares its actor system. */
  private readonly root: AnyActorRef;
  /** Machines known from the registry, by id (retired ones too: they are never hosted). */
  private readonly machines = new Map<string, RegisteredMachine>();
  private readonly owned = new Set<number>();
  private readonly shards = new Map<string, number>();
  private readonly permits = new Permits(ACQUIRE_AT_ONCE);
  /** Acquisitions in progress per machine (a re-acquisition after a stale copy was dropped). */
  private readonly acquisitions = new Map<string, Promise<void>>();
  /** Acquisitions in progress per shard: commands for a shard wait for it. */
  private readonly acquiring = new Map<number, Promise<void>>();
  private readonly slots: number;
  private nextSlotAt = 0;
  private slotCursor = 0;
  private readonly clock: () => number;
  readonly counters = {
    ticks: 0,
    emitted: 0,
    held: 0,
    acquired: 0,
    released: 0,
    lost: 0,
    gaps: 0,
    writes: 0,
  };

  constructor(private readonly opts: ShardHostOptions) {
    this.clock = opts.clock ?? Date.now;
    this.root = createActor(fromCallback(() => () => {})).start();
    this.slots = Math.max(1, Math.round(opts.periodMs / SLOT_MS));
  }

  get ownedShards(): number[] {
    return [...this.owned].sort((a, b) => a - b);
  }

  get size(): number {
    return this.entities.size;
  }

  entity(machineId: string): Entity | undefined {
    return this.entities.get(machineId);
  }

  shardOf(machineId: string): number {
    let s = this.shards.get(machineId);
    if (s === undefined) {
      s = partitionOf(machineId, this.opts.shards);
      this.shards.set(machineId, s);
    }
    return s;
  }

  /** A machine added, retired or revived in the registry. */
  async registered(m: RegisteredMachine): Promise<void> {
    this.machines.set(m.machineId, m);
    const shard = this.shardOf(m.machineId);
    const hosted = this.entities.get(m.machineId);
    if (!isHosted(m) && hosted) await this.release(hosted);
    else if (isHosted(m) && !hosted && this.owned.has(shard)) await this.acquire(m, shard);
  }

  private writesFenced(): boolean {
    return (this.opts.writesFenced ?? this.opts.fenced)();
  }

  /**
   * The coordinator's new assignment: hand over what went away, then take what came. After a
   * fence (`recheck`), each machine kept is checked against the store first: if anyone wrote
   * it meanwhile (the shard was given away and has come back), it is taken over afresh.
   */
  async assign(shards: number[], recheck = false): Promise<void> {
    const next = new Set(shards);
    const gone = [...this.owned].filter((s) => !next.has(s));
    const came = shards.filter((s) => !this.owned.has(s));
    for (const s of gone) this.owned.delete(s);
    await Promise.all(
      [...this.entities.values()].filter((e) => !next.has(e.shard)).map((e) => this.release(e)),
    );
    if (recheck) {
      const kept = [...this.entities.values()];
      await runLimited(kept, 32, async (e) => {
        if ((await this.opts.store.revisionOf(e.machine.machineId)) !== e.revision) this.lost(e);
      });
    }
    for (const s of came) this.owned.add(s);
    // Every owned shard, not only the new ones: a machine whose acquisition was cut short (a
    // fence in the middle of it) is taken on now.
    for (const s of this.owned) {
      const missing = this.missingIn(s);
      if (missing.length === 0) continue;
      const work = runLimited(missing, ACQUIRE_AT_ONCE, (m) => this.acquire(m, s)).then(() => undefined);
      this.acquiring.set(s, work);
      void work.finally(() => {
        if (this.acquiring.get(s) === work) this.acquiring.delete(s);
      });
    }
    await Promise.all([...this.owned].map((s) => this.acquiring.get(s)));
    if (gone.length || came.length)
      this.opts.log.info('shards assigned', { shards: this.ownedShards, gone, came, actors: this.size });
  }

  /** Machines of an owned shard that should be hosted here and are not (nor being taken on). */
  private missingIn(shard: number): RegisteredMachine[] {
    return [...this.machines.values()].filter(
      (m) =>
        isHosted(m) &&
        !this.entities.has(m.machineId) &&
        !this.acquisitions.has(m.machineId) &&
        this.shardOf(m.machineId) === shard,
    );
  }

  /**
   * Takes on every machine of the owned shards that is not hosted yet: run now and then, it
   * repairs what an interrupted acquisition (a fence, a store that was down) left undone.
   * Returns how many it took on.
   */
  async reconcile(): Promise<number> {
    if (this.writesFenced()) return 0;
    const missing = [...this.owned].flatMap((s) => this.missingIn(s).map((m) => [m, s] as const));
    if (missing.length === 0) return 0;
    this.opts.log.warn('taking on machines of owned shards that were not hosted', { count: missing.length });
    await runLimited(missing, ACQUIRE_AT_ONCE, ([m, s]) => this.acquire(m, s));
    return missing.length;
  }

  /** Resolves once the shard's entities are acquired (immediately if it is not being acquired). */
  ready(shard: number): Promise<void> {
    return this.acquiring.get(shard) ?? Promise.resolve();
  }

  /**
   * Takes a machine over: continues exactly after a clean hand-off; otherwise starts above the
   * previous reservation under a new epoch and records the skipped range. Compare-and-set on
   * the key's revision, retried on conflict, so two would-be owners cannot both win.
   */
  private acquire(m: RegisteredMachine, shard: number): Promise<void> {
    const running = this.acquisitions.get(m.machineId);
    if (running) return running;
    // A bounded number at once: a fleet grown by thousands arrives as thousands of registry updates.
    const p = this.permits
      .run(() => this.takeOver(m, shard))
      .finally(() => this.acquisitions.delete(m.machineId));
    this.acquisitions.set(m.machineId, p);
    return p;
  }

  private async takeOver(m: RegisteredMachine, shard: number): Promise<void> {
    const model = this.opts.model(m.type);
    if (!model) {
      this.opts.log.error('machine type not defined in the registry', {
        machineId: m.machineId,
        type: m.type,
      });
      return;
    }
    const deadline = this.clock() + this.opts.handoffWaitMs;
    for (let attempt = 0; attempt < 20; attempt++) {
      // Out of touch with the coordinator: not ours to take; the next assignment says.
      if (!this.owned.has(shard) || this.entities.has(m.machineId) || this.writesFenced()) return;
      const found = await this.opts.store.read(m.machineId);
      const revision = found?.revision ?? (await this.opts.store.revisionOf(m.machineId));
      const prev =
        found?.value ?? (revision === 0 ? this.opts.legacy?.(m.machineId, this.clock()) : undefined);
      // A live previous owner is handing over right now: give it a moment to write its last snapshot.
      if (
        prev &&
        !prev.released &&
        prev.owner !== this.opts.workerId &&
        this.opts.workerAlive(prev.owner) &&
        this.clock() < deadline
      ) {
        await sleep(100);
        attempt--;
        continue;
      }
      const now = this.clock();
      const restored = prev ? restoreContext(prev) : undefined;
      // A saved state this model cannot read (another model version) starts afresh, but its seq
      // numbering never goes back.
      const actor = restored
        ? startMachineActor(model, { context: restored }, { parent: this.root })
        : startMachineActor(
            model,
            { input: { seed: m.seed, ts: now, seq: prev?.seq ?? 0 } },
            { parent: this.root },
          );
      const before = actor.getSnapshot().context;
      let gaps = prev?.gaps ?? [];
      // Continue after a clean hand-off (the old owner stopped the machine and said where);
      // otherwise above anything the old reservation allowed. Either way, what lies between
      // the last settled seq and the start is announced as a gap: the old owner may have
      // published it, or lost it in a crash, and nobody will ever publish it again.
      const start = prev ? (prev.released ? prev.seq : Math.max(prev.reservedUpTo, before.seq)) : before.seq;
      const gapFrom = prev ? prev.published + 1 : before.seq + 1;
      const clean = start < gapFrom;
      if (!clean) {
        const epoch = Math.max(before.epoch, prev?.epoch ?? 0) + 1;
        actor.send({ type: 'RESUME', epoch, seqSkip: start - before.seq });
        gaps = [...gaps, [gapFrom, start, epoch] as [number, number, number]].slice(-1_000);
      }
      const ctx = actor.getSnapshot().context;
      const entry: SnapshotEntry = {
        v: 1,
        machineId: m.machineId,
        type: m.type,
        modelVersion: MODEL_VERSION,
        owner: this.opts.workerId,
        shard,
        epoch: ctx.epoch,
        seq: ctx.seq,
        published: ctx.seq,
        reservedUpTo: ctx.seq + this.opts.block,
        gaps,
        commands: prev?.commands ?? { offset: -1, applied: 0 },
        released: false,
        savedAt: now,
        context: ctx as unknown as Record<string, unknown>,
      };
      try {
        const rev = await this.opts.store.write(entry, revision);
        const entity: Entity = {
          machine: m,
          shard,
          actor,
          saved: withoutContext(entry),
          revision: rev,
          writing: undefined,
          lastSavedAt: now,
          slot: (murmur2(m.machineId) & 0x7fffffff) % this.slots,
          tickedAt: Number.NEGATIVE_INFINITY,
          commands: { ...entry.commands },
        };
        this.entities.set(m.machineId, entity);
        this.counters.acquired++;
        // The first reading at once (the write just succeeded: the machine is ours), then in its
        // slot: a machine that moved does not wait up to a period to be heard from again.
        this.tick(entity, Math.max(now, this.clock()));
        if (!clean) {
          this.counters.gaps++;
          this.opts.sink.event(
            m,
            JSON.stringify({
              v: 1,
              type: 'resume',
              machineId: m.machineId,
              epoch: ctx.epoch,
              skippedFrom: gapFrom,
              skippedTo: start,
              ts: now,
              owner: this.opts.workerId,
            }),
            ctx.epoch,
          );
        }
        return;
      } catch (err) {
        stopMachineActor(actor);
        if (!isRevisionConflict(err)) throw err;
        // Someone wrote since we read (the old owner's last save, or a rival): read again.
      }
    }
    this.opts.log.warn('could not acquire machine after 20 attempts', { machineId: m.machineId, shard });
  }

  /** Stops a machine and writes its last snapshot marked released: the next owner continues exactly. */
  private async release(e: Entity): Promise<void> {
    this.entities.delete(e.machine.machineId);
    await e.writing;
    // Give what it published a moment to be confirmed: then the next owner continues with no gap.
    const until = this.clock() + this.opts.settleWaitMs;
    while (this.opts.sink.unsettled(e.machine.machineId) !== undefined && this.clock() < until)
      await sleep(50);
    if (!this.writesFenced()) {
      const ok = await this.save(e, { released: true });
      if (ok) this.counters.released++;
    }
    stopMachineActor(e.actor);
    this.opts.sink.forget(e.machine.machineId);
  }

  /** Every machine due in the slots that came round since the last call. */
  tickDue(): void {
    const now = this.clock();
    if (this.nextSlotAt === 0) this.nextSlotAt = now;
    let rounds = 0;
    while (now >= this.nextSlotAt && rounds < this.slots) {
      if (!this.opts.fenced()) this.tickSlot(this.slotCursor, now);
      this.slotCursor = (this.slotCursor + 1) % this.slots;
      this.nextSlotAt += SLOT_MS;
      rounds++;
    }
    // Far behind (the process was stopped): skip ahead rather than tick a backlog in a burst.
    if (now - this.nextSlotAt > this.opts.periodMs) this.nextSlotAt = now + SLOT_MS;
  }

  private tickSlot(slot: number, now: number) {
    for (const e of this.entities.values()) if (e.slot === slot) this.tick(e, now);
  }

  private tick(e: Entity, now: number) {
    // InfluxDB keeps one point per series and timestamp: a second reading in the same
    // millisecond (the one at acquisition, then its slot's tick) would replace the first, and
    // its seq would be lost. The slot's reading comes a period later instead.
    if (now <= e.tickedAt) return;
    e.tickedAt = now;
    const ctx = e.actor.getSnapshot().context;
    const from = ctx.state;
    const canEmit = ctx.seq < e.saved.reservedUpTo;
    e.actor.send({ type: 'TICK', ts: now, emit: canEmit });
    this.counters.ticks++;
    if (!canEmit) this.counters.held++;
    const after = e.actor.getSnapshot().context;
    const t = telemetryOf(after, e.machine);
    if (t) {
      this.opts.sink.telemetry(e.machine, JSON.stringify(t), t.seq);
      this.counters.emitted++;
    }
    if (after.state !== from) this.opts.onStateChange?.(e, from);
    const reserveLow = e.saved.reservedUpTo - after.seq < this.opts.block / 2;
    if ((reserveLow || now - e.lastSavedAt >= this.opts.snapshotEveryMs) && !e.writing) void this.save(e);
  }

  /**
   * Writes the entity's snapshot (and a fresh reservation) fenced by its revision. A conflict
   * means another owner took the machine: it is dropped here, never written over.
   */
  save(e: Entity, opts: { released?: boolean } = {}): Promise<boolean> {
    const run = async (): Promise<boolean> => {
      if (this.writesFenced()) return false;
      const ctx = e.actor.getSnapshot().context;
      const unsettled = this.opts.sink.unsettled(e.machine.machineId);
      const { offset, applied } = e.commands;
      const entry: SnapshotEntry = {
        ...e.saved,
        commands: { offset, applied },
        epoch: ctx.epoch,
        seq: ctx.seq,
        published: Math.max(e.saved.published, unsettled === undefined ? ctx.seq : unsettled - 1),
        reservedUpTo: opts.released ? ctx.seq : Math.max(e.saved.reservedUpTo, ctx.seq + this.opts.block),
        released: opts.released === true,
        savedAt: this.clock(),
        context: ctx as unknown as Record<string, unknown>,
      };
      try {
        e.revision = await this.opts.store.write(entry, e.revision);
        e.saved = withoutContext(entry);
        e.lastSavedAt = entry.savedAt;
        this.counters.writes++;
        return true;
      } catch (err) {
        if (isRevisionConflict(err)) this.lost(e);
        else
          this.opts.log.warn('snapshot write failed', { machineId: e.machine.machineId, error: String(err) });
        return false;
      }
    };
    const p = (e.writing ?? Promise.resolve(true)).then(run);
    e.writing = p;
    void p.finally(() => {
      if (e.writing === p) e.writing = undefined;
    });
    return p;
  }

  /**
   * Someone else wrote the machine since we did: our copy is stale and is dropped unsaved. If
   * the shard is ours by the latest assignment (it moved away and back while we were out of
   * touch), the machine is taken over afresh from the store.
   */
  private lost(e: Entity) {
    if (this.entities.get(e.machine.machineId) !== e) return;
    this.entities.delete(e.machine.machineId);
    stopMachineActor(e.actor);
    this.opts.sink.forget(e.machine.machineId);
    this.counters.lost++;
    const again =
      this.owned.has(e.shard) &&
      !this.writesFenced() &&
      isHosted(this.machines.get(e.machine.machineId) ?? e.machine);
    this.opts.log.warn('machine written by another owner since our last save; our copy is dropped', {
      machineId: e.machine.machineId,
      shard: e.shard,
      reacquire: again,
    });
    if (again) void this.acquire(this.machines.get(e.machine.machineId) ?? e.machine, e.shard);
  }

  /**
   * Applies a command read at `offset` of the machine's shard. The snapshot (with the offset)
   * is written before the answer: a command is applied once even when the shard moves while
   * it is in flight, because the next owner reads the offset with the state. If this worker's
   * copy turns out stale (the machine moved away and back), the command is applied to the
   * machine as taken over afresh. Throws ShardMoved when the shard is no longer ours, and
   * CommandNotSaved when no save could carry the command: either way the record is not
   * acknowledged, and whoever owns the shard next reads it again.
   */
  async command(env: CommandEnvelope, offset: number): Promise<CommandAnswer> {
    const shard = this.shardOf(env.machineId);
    const base = { owner: this.opts.workerId, shard };
    for (let attempt = 0; attempt < 3; attempt++) {
      await this.ready(shard);
      await this.acquisitions.get(env.machineId);
      const e = this.entities.get(env.machineId);
      if (!e) {
        const m = this.machines.get(env.machineId);
        if (!this.owned.has(shard)) throw new ShardMoved(shard);
        const reason = !m
          ? `machine ${env.machineId} is not in the fleet registry`
          : m.external
            ? `machine ${env.machineId} is external: its own device publishes it, no worker hosts it`
            : m.retiredAt !== null
              ? `machine ${env.machineId} was retired from the fleet`
              : `machine ${env.machineId} could not be taken on by ${this.opts.workerId} (see its log)`;
        return { ok: false, reason, ...base };
      }
      let done = e.commands.unanswered;
      if (offset > e.commands.offset) {
        const before = e.actor.getSnapshot().context;
        const result = applyCommand(e.actor, env.command);
        done = { result, from: before.state, ticketId: before.ticketId };
        e.commands = { offset, applied: e.commands.applied + 1, unanswered: done };
      }
      // Applied here and saved (by this call, an earlier one, or a periodic save), or saved by
      // the previous owner (then there is nothing to tell beyond "applied once").
      if (offset <= e.saved.commands.offset || ((await this.save(e)) && e.saved.commands.offset >= offset)) {
        if (!done || offset !== e.commands.offset) return { ok: true, duplicate: true, ...base };
        e.commands = { offset: e.commands.offset, applied: e.commands.applied };
        const after = e.actor.getSnapshot().context;
        // A ticket taking over a planned stop changes no state, but it is news (alarm suppression).
        if (after.state !== done.from || after.ticketId !== done.ticketId)
          this.opts.onStateChange?.(e, done.from);
        return { ...done.result, ...base };
      }
      // Still ours, so the save was refused by a fence or failed: not answered, read again later.
      if (this.entities.get(env.machineId) === e) throw new CommandNotSaved(env.machineId);
      // Our copy was stale (dropped, and re-acquired if the shard is still ours): apply it there.
    }
    throw new ShardMoved(shard);
  }

  /** Hands every machine over (graceful stop or scale-down). */
  async releaseAll(): Promise<void> {
    this.owned.clear();
    await runLimited([...this.entities.values()], 64, (e) => this.release(e));
  }
}

/**
 * What an entity keeps of its last write: everything but the context, which lives in the actor.
 * (Keeping the written context too would hold a second copy of every machine's state.)
 */
const withoutContext = (e: SnapshotEntry): SnapshotEntry => ({ ...e, context: {} });

/** The domain context of a saved entry, migrated to this model version; undefined if unusable. */
function restoreContext(entry: SnapshotEntry): MachineContext | undefined {
  if (entry.modelVersion !== MODEL_VERSION) return undefined;
  const c = entry.context as unknown as MachineContext;
  return typeof c.state === 'string' && typeof c.seq === 'number' ? c : undefined;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A counting semaphore: at most `n` tasks run at once, the rest wait in order. */
class Permits {
  private waiting: (() => void)[] = [];
  constructor(private free: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    }
  }
}

async function runLimited<T>(items: T[], limit: number, work: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await work(items[next++]!);
  });
  await Promise.all(lanes);
}
