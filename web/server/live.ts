/**
 * The live picture of the fleet that the web view shows, kept in memory by the web server from
 * NATS: the fleet registry (which machines exist), the snapshot store (each machine's last
 * saved state, owner and shard, read once at start), state events (`factory.machine.*.state`),
 * worker heartbeats and the open-alarm view the analytics processors keep.
 *
 * Browsers follow it over Server-Sent Events. A burst of changes to one machine costs one
 * update: changes are collected by machine and sent in one batch every `batchMs`.
 */
import type { NatsConnection, Subscription } from 'nats';
import { z } from 'zod';
import type { AlarmEvent } from '../../analytics/events.js';
import { AnalyticsStore } from '../../analytics/store.js';
import type { Logger } from '../../common/log.js';
import { heartbeatSchema, subjects } from '../../common/machine-commands.js';
import { safeJson } from '../../common/nats.js';
import type { FleetRegistry } from '../../common/registry.js';
import { SnapshotStore } from '../../workers/snapshot-store.js';
import type {
  Alarm,
  LiveSnapshot,
  MachineSummary,
  MachinesDelta,
  Worker,
  WorkersResponse,
} from '../api/schemas.js';
import { FleetPicture } from './picture.js';

/** What the web server reads of an owner's state event. */
const stateEventSchema = z.object({
  machineId: z.string(),
  to: z.string(),
  ticketId: z.string().nullable().optional(),
  ts: z.number(),
  seq: z.number().int().nonnegative(),
  owner: z.string(),
  shard: z.number().int(),
});

/** One browser (or script) following the live events. */
export interface LiveClient {
  send(event: string, data: unknown): void;
}

export interface LiveFleetOptions {
  nc: NatsConnection;
  registry: FleetRegistry;
  log: Logger;
  /** Shards there are (partitions of machine-commands). */
  shards: number;
  /** The Temporal UI page of a workflow id. */
  workflowUrl: (workflowId: string) => string;
  batchMs?: number;
  /** A worker unheard of for this long leaves the shard map. */
  workerExpiryMs?: number;
}

export class LiveFleet {
  private readonly picture = new FleetPicture();
  private readonly alarms = new Map<string, Alarm>();
  private readonly workers = new Map<string, Worker>();
  private alarmsChanged = false;
  private workersChanged = false;
  private readonly clients = new Set<LiveClient>();
  private readonly subs: Subscription[] = [];
  private readonly stops: (() => void)[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** Epoch ms of the latest state event or heartbeat: "healthy" means these arrive. */
  lastEventAt: number | null = null;
  /** False while the NATS connection is down and reconnecting. */
  natsConnected = true;
  stateEvents = 0;

  constructor(private readonly o: LiveFleetOptions) {}

  async start(): Promise<void> {
    const { nc, registry } = this.o;
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'disconnect') this.natsConnected = false;
        else if (s.type === 'reconnect') this.natsConnected = true;
      }
    })();
    // State events first, so none is missed between reading the snapshots and following.
    this.subs.push(
      nc.subscribe(subjects.state('*'), { callback: (_e, msg) => this.onState(safeJson(msg.data)) }),
      nc.subscribe(subjects.heartbeat, { callback: (_e, msg) => this.onHeartbeat(safeJson(msg.data)) }),
    );
    const follow = await registry.follow((m) => this.picture.register(m));
    this.stops.push(follow.stop);
    await follow.initialized;
    for (const [id, { value: s }] of await (await SnapshotStore.open(nc)).all())
      this.picture.report(id, {
        state: String(s.context.state),
        owner: s.released ? null : s.owner,
        shard: s.shard,
        ticketId: typeof s.context.ticketId === 'string' ? s.context.ticketId : null,
        since: null,
        seq: s.seq,
      });
    const alarms = await (await AnalyticsStore.open(nc)).followOpenAlarms((id, e) => this.onAlarm(id, e));
    this.stops.push(alarms.stop);
    await alarms.initialized;
    // Followers start from a snapshot: what came in while starting is in it.
    this.picture.takeChanges();
    this.timer = setInterval(() => this.flush(), this.o.batchMs ?? 250);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    for (const s of this.subs) s.unsubscribe();
    for (const stop of this.stops) stop();
  }

  get size(): number {
    return this.picture.size;
  }

  listMachines(): MachineSummary[] {
    return this.picture.list();
  }

  machine(id: string): MachineSummary | undefined {
    return this.picture.get(id);
  }

  /** Open alarms, most severe then oldest first. */
  listAlarms(): Alarm[] {
    const rank = { critical: 0, high: 1, medium: 2, low: 3 } as const;
    return [...this.alarms.values()].sort(
      (a, b) => rank[a.severity] - rank[b.severity] || (a.raisedAt ?? 0) - (b.raisedAt ?? 0),
    );
  }

  listWorkers(now = Date.now()): WorkersResponse {
    const expiry = this.o.workerExpiryMs ?? 15_000;
    for (const [id, w] of this.workers)
      if (now - w.lastSeen > expiry) {
        this.workers.delete(id);
        this.workersChanged = true;
      }
    return {
      workers: [...this.workers.values()].sort((a, b) => a.workerId.localeCompare(b.workerId)),
      shards: this.o.shards,
    };
  }

  snapshot(): LiveSnapshot {
    return { machines: this.listMachines(), alarms: this.listAlarms(), workers: this.listWorkers() };
  }

  /** Adds a follower: the whole picture at once, then batches of changes. Returns its removal. */
  follow(client: LiveClient): () => void {
    client.send('snapshot', this.snapshot());
    this.clients.add(client);
    return () => this.clients.delete(client);
  }

  get followers(): number {
    return this.clients.size;
  }

  /** Sends something to every follower now (the pipeline counters, for one). */
  broadcast(event: string, data: unknown): void {
    for (const c of this.clients) c.send(event, data);
  }

  private onState(raw: unknown): void {
    const e = stateEventSchema.safeParse(raw);
    if (!e.success) return;
    this.lastEventAt = Date.now();
    this.stateEvents++;
    const { machineId, to, owner, shard, ticketId, ts, seq } = e.data;
    this.picture.report(machineId, { state: to, owner, shard, ticketId: ticketId ?? null, since: ts, seq });
  }

  private onHeartbeat(raw: unknown): void {
    const hb = heartbeatSchema.safeParse(raw);
    if (!hb.success) return;
    const now = Date.now();
    this.lastEventAt = now;
    const { workerId, pid, shards, actors, fenced } = hb.data;
    const before = this.workers.get(workerId);
    this.workers.set(workerId, { workerId, pid, shards, actors, fenced, lastSeen: now });
    if (
      !before ||
      before.actors !== actors ||
      before.fenced !== fenced ||
      before.pid !== pid ||
      before.shards.join() !== shards.join()
    )
      this.workersChanged = true;
  }

  private onAlarm(key: string, e: AlarmEvent | undefined): void {
    if (e) this.alarms.set(key, { ...e, workflowUrl: this.o.workflowUrl(`alarm-${e.alarmId}`) });
    else this.alarms.delete(key);
    this.alarmsChanged = true;
  }

  private flush(): void {
    const now = Date.now();
    // Workers that stopped heartbeating leave the map even when nothing else changes.
    const workers = this.listWorkers(now);
    const { machines, removed } = this.picture.takeChanges();
    if (machines.length || removed.length) {
      const delta: MachinesDelta = { machines, removed, at: now };
      this.broadcast('machines', delta);
    }
    if (this.alarmsChanged) {
      this.alarmsChanged = false;
      this.broadcast('alarms', { alarms: this.listAlarms() });
    }
    if (this.workersChanged) {
      this.workersChanged = false;
      this.broadcast('workers', workers);
    }
  }
}
