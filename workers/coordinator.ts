/**
 * The shard coordinator, in Akka's words: which region (worker) owns which shard. Here the
 * Kafka group on `machine-commands` decides it; this module is a worker's membership in that
 * group. It reports every new assignment, feeds each command record to the shard host, and
 * fences the worker: once no heartbeat has succeeded for `fenceAfterMs` (a safe fraction of
 * the session timeout), the worker must assume its shards are being given away and stop
 * ticking, publishing and writing, before the group can hand them to another worker.
 *
 * The lease is measured from when the proving request was *sent*, not from when its answer was
 * read: an answer that waited in the socket while the process was stopped (SIGSTOP, a long GC)
 * proves membership as of the moment the request left, and no later. And after any gap of the
 * event loop the worker stays fenced until a heartbeat sent after the gap has been answered.
 */
import type { Consumer, Kafka } from 'kafkajs';
import type { Logger } from '../common/log.js';
import { GROUPS, TOPICS } from '../common/topics.js';

export const WORKER_GROUP = GROUPS.workers;

export interface CoordinatorOptions {
  kafka: Kafka;
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  /** Fence after this long without a successful heartbeat; well under the session timeout. */
  fenceAfterMs: number;
  /**
   * A new assignment. `wasFenced`: the worker had lost touch before this join, so what it
   * still holds may have been given away and taken back meanwhile; the host re-checks it.
   */
  onAssign: (shards: number[], wasFenced: boolean) => Promise<void>;
  /**
   * A command record; resolve to let its offset be committed. `heartbeat` proves membership
   * from inside a long wait, and throws when the group is rebalancing (the record is then
   * left to whoever owns the shard after the rebalance).
   */
  onRecord: (
    value: Buffer | null,
    shard: number,
    offset: number,
    heartbeat: () => Promise<void>,
  ) => Promise<void>;
  /** Monotonic milliseconds (a stopped process's wall clock may jump; this one does not lie). */
  now?: () => number;
  /** Wall-clock milliseconds, the clock kafkajs stamps its requests with. */
  wall?: () => number;
  /** A gap this long between two turns of the event loop fences until a fresh heartbeat. */
  loopGapMs?: number;
  log: Logger;
}

/** How often the loop-gap watch turns; a gap is measured against it. */
const TURN_MS = 100;
/** Requests that prove membership when answered: their send time starts the lease. */
const PROVING = { Heartbeat: 'heartbeat', SyncGroup: 'sync' } as const;

export class ShardCoordinator {
  private consumer: Consumer;
  private readonly now: () => number;
  /** Monotonic time at which the last answered proof of membership was sent. */
  private confirmedAt = Number.NEGATIVE_INFINITY;
  /** Monotonic send times of the newest answered heartbeat and sync requests (kafkajs events). */
  private readonly sentAt = { heartbeat: Number.NEGATIVE_INFINITY, sync: Number.NEGATIVE_INFINITY };
  /** The loop-gap watch: when the loop last turned, and when a gap was last seen. */
  private lastTurn: number;
  private gapAt = Number.NEGATIVE_INFINITY;
  private turnTimer: NodeJS.Timeout | undefined;
  private readonly wall: () => number;
  private assigned: Promise<void> = Promise.resolve();
  /** Between a join and the host having applied its assignment: no ticking meanwhile. */
  private assigning = 0;
  private memberId = '';
  private stopping = false;
  private restarts = 0;
  generation = 0;

  constructor(private readonly opts: CoordinatorOptions) {
    this.now = opts.now ?? (() => performance.now());
    this.wall = opts.wall ?? Date.now;
    this.lastTurn = this.now();
    this.consumer = this.create();
  }

  /**
   * Marks a turn of the event loop. A turn that comes long after the previous one means the
   * process was stopped or stalled: everything it believed about its membership is stale.
   */
  private turn(): void {
    const t = this.now();
    if (t - this.lastTurn > (this.opts.loopGapMs ?? 1_000)) {
      this.gapAt = t;
      this.opts.log.warn('event loop gap: fenced until a fresh heartbeat is answered', {
        gapMs: Math.round(t - this.lastTurn),
      });
    }
    this.lastTurn = t;
  }

  /** A kafkajs request's wall-clock send time, on the monotonic clock. */
  private monotonicOf(wallSentAt: number): number {
    return this.now() - Math.max(0, this.wall() - wallSentAt);
  }

  /** A proof sent before the last loop gap proves nothing. */
  private prove(sentAt: number): void {
    this.turn();
    if (sentAt > this.gapAt) this.confirmedAt = Math.max(this.confirmedAt, sentAt);
  }

  private create(): Consumer {
    const { opts } = this;
    const consumer = opts.kafka.consumer({
      groupId: WORKER_GROUP,
      sessionTimeout: opts.sessionTimeoutMs,
      rebalanceTimeout: Math.max(opts.sessionTimeoutMs * 2, 5_000),
      heartbeatInterval: opts.heartbeatIntervalMs,
      // Heartbeats ride on the fetch loop: a short wait keeps them on time when no commands come.
      maxWaitTimeInMs: Math.min(250, opts.heartbeatIntervalMs),
      allowAutoTopicCreation: false,
      retry: { retries: 10, initialRetryTime: 200, maxRetryTime: 2_000 },
    });
    const { HEARTBEAT, GROUP_JOIN, CRASH, REQUEST } = consumer.events;
    // Emitted when a request's answer arrives, just before kafkajs reports the heartbeat or join.
    consumer.on(REQUEST, (e) => {
      const which = PROVING[e.payload.apiName as keyof typeof PROVING];
      if (which) this.sentAt[which] = this.monotonicOf(e.payload.sentAt);
    });
    consumer.on(HEARTBEAT, () => {
      this.prove(this.sentAt.heartbeat);
      this.restarts = 0;
    });
    consumer.on(GROUP_JOIN, (e) => {
      const wasFenced = this.writesFenced();
      this.prove(this.sentAt.sync);
      this.generation++;
      this.memberId = e.payload.memberId;
      const shards = (e.payload.memberAssignment[TOPICS.machineCommands] ?? []).slice().sort((a, b) => a - b);
      this.assigning++;
      // Assignments apply in order: a release must finish before a later acquire of the same shard.
      this.assigned = this.assigned
        .then(() => opts.onAssign(shards, wasFenced))
        .catch((err) => {
          opts.log.error('applying a shard assignment failed', { error: String(err) });
        })
        .finally(() => {
          this.assigning--;
        });
    });
    consumer.on(CRASH, (e) => {
      const restart = (e.payload as { restart?: boolean }).restart === true;
      opts.log.error(
        restart
          ? 'command consumer crashed; kafkajs restarts it'
          : 'command consumer crashed; starting a new one',
        { error: String(e.payload.error) },
      );
      // kafkajs gives up on errors it deems final (Kafka gone long enough that the group
      // coordinator cannot be found): without a new consumer the worker would stay fenced
      // for good after Kafka comes back.
      if (!restart) void this.replace(consumer);
    });
    return consumer;
  }

  /** A new consumer in place of one kafkajs gave up on, retried with backoff until it runs. */
  private async replace(dead: Consumer): Promise<void> {
    if (this.stopping || dead !== this.consumer) return;
    for (;;) {
      const waitMs = Math.min(10_000, 500 * 2 ** this.restarts++);
      await new Promise((r) => setTimeout(r, waitMs));
      if (this.stopping) return;
      await this.consumer.disconnect().catch(() => undefined);
      this.consumer = this.create();
      try {
        await this.run();
        this.opts.log.info('command consumer running again');
        return;
      } catch (err) {
        this.opts.log.warn('command consumer could not start yet', {
          error: String(err),
          retryInMs: waitMs * 2,
        });
      }
    }
  }

  /** No saving: membership unconfirmed for longer than the safe fraction of the session. */
  writesFenced(): boolean {
    this.turn();
    return this.leaseExpired() || this.confirmedAt <= this.gapAt;
  }

  /**
   * Out of touch with the group: no proof of membership sent within the safe fraction of the
   * session. What health reports; a loop gap alone fences only until the next heartbeat (a
   * fraction of a second), and is no sign of a worker that lost its group.
   */
  leaseExpired(): boolean {
    return this.now() - this.confirmedAt > this.opts.fenceAfterMs;
  }

  /** No ticking or publishing: fenced, or a new assignment is still being applied. */
  fenced(): boolean {
    return this.assigning > 0 || this.writesFenced();
  }

  get member(): string {
    return this.memberId;
  }

  start(): Promise<void> {
    this.turnTimer ??= setInterval(() => this.turn(), TURN_MS);
    this.turnTimer.unref();
    return this.run();
  }

  private async run(): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: TOPICS.machineCommands, fromBeginning: true });
    await this.consumer.run({
      autoCommitInterval: 500,
      eachMessage: async ({ partition, message, heartbeat }) => {
        await this.assigned;
        await this.opts.onRecord(message.value, partition, Number(message.offset), heartbeat);
      },
    });
  }

  /** Leaves the group (its shards move at once); call after the host handed its machines over. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.turnTimer);
    await this.consumer.disconnect();
  }
}
