import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import type { FleetMachine } from '../actors/fleet.js';
import {
  applyCommand,
  type CommandResult,
  createMachineModel,
  type MachineActor,
  type MachineModel,
  startMachineActor,
  telemetryOf,
} from '../actors/index.js';
import { confirmTopic } from '../common/confirm.js';
import type { Logger } from '../common/log.js';
import { mqttTopics } from '../common/topics-mqtt.js';
import { type ConfirmOptions, Publisher, type PublisherOptions } from './publisher.js';

export interface GatewayOptions {
  gatewayId: string;
  site: string;
  line: string;
  /** The machines this gateway serves (all of one line). */
  machines: FleetMachine[];
  publisher: Omit<PublisherOptions, 'statusTopic' | 'birth' | 'will' | 'log' | 'clientId' | 'confirm'> & {
    /** End-to-end confirmation from the bridges (on the line's confirmation topic). */
    confirm?: Omit<ConfirmOptions, 'topic'>;
  };
  /** Real time between ticks. */
  tickMs: number;
  /** Where the machines' snapshots are kept between runs. */
  snapshotFile: string;
  /**
   * Snapshot files of the other gateways of this data directory: a machine that moved here
   * (the fleet was rescaled) continues its seq from wherever it was saved last.
   */
  peerSnapshotFiles?: () => string[];
  snapshotEveryMs: number;
  clock?: () => number;
  log: Logger;
}

const savedSchema = z.object({
  savedAt: z.number(),
  clean: z.boolean(),
  tickMs: z.number().positive(),
  machines: z.record(z.string(), z.unknown()),
});

interface Hosted {
  machine: FleetMachine;
  actor: MachineActor;
}

/**
 * A line's edge gateway: hosts the line's machine actors, ticks them, and publishes their
 * telemetry over one MQTT connection with store and forward.
 */
export class Gateway {
  readonly publisher: Publisher;
  private readonly hosted = new Map<string, Hosted>();
  private timer: NodeJS.Timeout | undefined;
  private snapshotTimer: NodeJS.Timeout | undefined;
  private readonly clock: () => number;
  private readonly startedAt: number;
  private ticks = 0;
  private lastRates = { at: 0, published: 0, confirmed: 0, perSecond: { published: 0, confirmed: 0 } };

  constructor(private readonly opts: GatewayOptions) {
    this.clock = opts.clock ?? Date.now;
    this.startedAt = this.clock();
    const statusTopic = mqttTopics.status(opts.site, opts.line, opts.gatewayId);
    const { confirm, ...publisher } = opts.publisher;
    this.publisher = new Publisher({
      ...publisher,
      confirm: confirm && { ...confirm, topic: confirmTopic(opts.site, opts.line) },
      clientId: opts.gatewayId,
      statusTopic,
      will: { online: false, gatewayId: opts.gatewayId, reason: 'connection lost' },
      birth: () => ({
        online: true,
        gatewayId: opts.gatewayId,
        site: opts.site,
        line: opts.line,
        machines: [...this.hosted.keys()],
        pid: process.pid,
        startedAt: this.startedAt,
        ts: this.clock(),
        ticks: this.ticks,
        ...this.publisher.stats,
        rates: this.rates(),
        // Each machine's last seq: the high-water mark `factory verify` checks storage against.
        seqs: this.lastSeqs(),
      }),
      log: opts.log,
    });
  }

  /** Published and confirmed messages per second since the previous heartbeat. */
  rates(): { published: number; confirmed: number } {
    const now = this.clock();
    const { published, confirmed } = this.publisher.stats;
    const r = this.lastRates;
    if (now - r.at >= 1_000) {
      const dt = (now - r.at) / 1000;
      const perSecond =
        r.at === 0
          ? { published: 0, confirmed: 0 }
          : { published: (published - r.published) / dt, confirmed: (confirmed - r.confirmed) / dt };
      this.lastRates = { at: now, published, confirmed, perSecond };
    }
    return this.lastRates.perSecond;
  }

  get machineIds(): string[] {
    return [...this.hosted.keys()];
  }

  /** seq of the last message each machine emitted. */
  lastSeqs(): Record<string, number> {
    return Object.fromEntries([...this.hosted].map(([id, h]) => [id, h.actor.getSnapshot().context.seq]));
  }

  start(): void {
    this.restore();
    this.publisher.start();
    this.timer = setInterval(() => this.tick(), this.opts.tickMs);
    this.snapshotTimer = setInterval(() => {
      this.save(false);
      this.publisher.publishStatus();
    }, this.opts.snapshotEveryMs);
  }

  /** One tick of every machine; each emits at most one telemetry message. */
  tick(): void {
    const ts = this.clock();
    this.ticks++;
    for (const { machine, actor } of this.hosted.values()) {
      actor.send({ type: 'TICK', ts });
      this.emit(machine, actor);
    }
  }

  command(machineId: string, command: unknown): CommandResult {
    const h = this.hosted.get(machineId);
    if (!h)
      return { ok: false, reason: `machine ${machineId} is not served by gateway ${this.opts.gatewayId}` };
    return applyCommand(h.actor, command);
  }

  async stop(deadlineMs: number): Promise<void> {
    clearInterval(this.timer);
    clearInterval(this.snapshotTimer);
    this.save(true);
    // The last word keeps the high-water marks, so a loss check still knows what was published.
    await this.publisher.stop(deadlineMs, {
      online: false,
      gatewayId: this.opts.gatewayId,
      reason: 'shutdown',
      ts: this.clock(),
      seqs: this.lastSeqs(),
    });
    for (const h of this.hosted.values()) h.actor.stop();
  }

  private emit({ site, line, machineId }: FleetMachine, actor: MachineActor) {
    const t = telemetryOf(actor.getSnapshot().context, { site, line, machineId });
    if (t) {
      this.publisher.publish(mqttTopics.telemetry(site, line, machineId), JSON.stringify(t), {
        machineId,
        kind: 't',
        n: t.seq,
      });
    }
  }

  /**
   * Machines continue from their snapshots. After a crash (no clean save) each may have
   * published up to one message per tick since its last save: it skips that many seq numbers
   * under a new epoch and says so on its events topic, so a loss check can tell the gap apart.
   */
  private restore() {
    const saved = this.readSaved();
    const models = new Map<MachineFleetKey, MachineModel>();
    const now = this.clock();
    for (const m of this.opts.machines) {
      let model = models.get(m.params);
      if (!model) {
        model = createMachineModel(m.params);
        models.set(m.params, model);
      }
      const found = saved.get(m.machineId);
      const actor = found
        ? startMachineActor(model, { snapshot: found.snapshot as never })
        : startMachineActor(model, { input: { seed: m.seed, ts: now } });
      this.hosted.set(m.machineId, { machine: m, actor });
      if (found && !found.clean) {
        const before = actor.getSnapshot().context;
        const seqSkip = Math.ceil((now - found.savedAt) / found.tickMs) + 1;
        actor.send({ type: 'RESUME', epoch: before.epoch + 1, seqSkip });
        const after = actor.getSnapshot().context;
        this.publisher.publish(
          mqttTopics.events(m.site, m.line, m.machineId),
          JSON.stringify({
            v: 1,
            type: 'resume',
            machineId: m.machineId,
            epoch: after.epoch,
            skippedFrom: before.seq + 1,
            skippedTo: after.seq,
            ts: now,
          }),
          { machineId: m.machineId, kind: 'e', n: after.epoch },
        );
      }
    }
    this.opts.log.info('machines started', { restored: saved.size, machines: this.hosted.size });
  }

  /** The latest saved snapshot of each machine, across this gateway's file and its peers'. */
  private readSaved() {
    const best = new Map<
      string,
      { snapshot: unknown; seq: number; savedAt: number; clean: boolean; tickMs: number }
    >();
    const files = [this.opts.snapshotFile, ...(this.opts.peerSnapshotFiles?.() ?? [])];
    for (const file of new Set(files)) {
      let raw: unknown;
      try {
        raw = JSON.parse(readFileSync(file, 'utf8'));
      } catch {
        continue; // first start, or a peer that never saved
      }
      const parsed = savedSchema.safeParse(raw);
      if (!parsed.success) {
        this.opts.log.warn('ignoring malformed snapshot file', { file });
        continue;
      }
      const { savedAt, clean, tickMs } = parsed.data;
      for (const [id, snapshot] of Object.entries(parsed.data.machines)) {
        const seq = (snapshot as { context?: { seq?: unknown } }).context?.seq;
        if (typeof seq !== 'number') continue;
        if ((best.get(id)?.seq ?? -1) < seq) best.set(id, { snapshot, seq, savedAt, clean, tickMs });
      }
    }
    return best;
  }

  private save(clean: boolean) {
    const machines = Object.fromEntries(
      [...this.hosted].map(([id, h]) => [id, h.actor.getPersistedSnapshot()]),
    );
    const file = this.opts.snapshotFile;
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(
      `${file}.tmp`,
      JSON.stringify({ savedAt: this.clock(), clean, tickMs: this.opts.tickMs, machines }),
    );
    renameSync(`${file}.tmp`, file);
  }
}

type MachineFleetKey = FleetMachine['params'];
