import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { type Confirmation, type ConfirmKey, confirmationSchema } from '../common/confirm.js';
import type { Logger } from '../common/log.js';
import { DiskSpool, type SpoolOptions } from './spool.js';

export interface ConfirmOptions {
  /** The line's confirmation topic (`factory/_confirm/{site}/{line}`). */
  topic: string;
  /**
   * Messages acknowledged by the broker and not yet confirmed, at most: past this the
   * publisher stops sending (new data waits in the spool) until confirmations catch up.
   */
  maxUnconfirmed: number;
  /** A message acknowledged this long ago and still unconfirmed is published again. */
  timeoutMs: number;
  /** Longest wait between two replays while confirmations stay away (backoff doubles up to it). */
  maxTimeoutMs: number;
}

export interface PublisherOptions {
  url: string;
  clientId: string;
  username: string;
  password: string;
  spool: SpoolOptions;
  /** QoS 1 messages sent and not yet acknowledged, at most. */
  maxInflight: number;
  /** Messages held in memory before new ones go to the spool. */
  maxMemory: number;
  /** Reconnection: full-jitter exponential backoff between these bounds. */
  backoffMinMs: number;
  backoffMaxMs: number;
  /** Retained status topic: a birth message on connect, the last will on loss. */
  statusTopic: string;
  birth: () => Record<string, unknown>;
  will: Record<string, unknown>;
  /** End-to-end confirmation; without it a message is done once the broker acknowledges it. */
  confirm?: ConfirmOptions;
  log: Logger;
  random?: () => number;
  clock?: () => number;
  /**
   * A keyed message is settled: delivered (confirmed, or acknowledged without confirmations)
   * or dropped (the spool overflowed). A host uses it to know which seq numbers are safe.
   */
  onSettled?: (key: ConfirmKey, how: 'delivered' | 'dropped') => void;
  /** How a connection is made (mqtt.js by default; a unit test hands in a fake broker). */
  connect?: (url: string, options: IClientOptions) => MqttClient;
}

export interface PublisherStats {
  connected: boolean;
  /** How long it has been without a connection (0 while connected). */
  disconnectedMs: number;
  published: number;
  acked: number;
  /** Messages the pipeline confirmed durable in Kafka. */
  confirmed: number;
  inflight: number;
  /** Acknowledged by the broker, waiting for the pipeline's confirmation. */
  unconfirmed: number;
  /** Age of the oldest unconfirmed message, in ms (0 when none). */
  confirmLagMs: number;
  /** Messages published again because their confirmation did not come. */
  replayed: number;
  queued: number;
  spoolBytes: number;
  spooled: number;
  dropped: number;
  reconnects: number;
}

interface Entry {
  topic: string;
  payload: string;
  key?: ConfirmKey;
  /** The spool segment it came from, released once all of that segment's entries are done. */
  segment?: number;
  /** Publish order, so entries interrupted in flight go back in the order they were sent. */
  order: number;
  state: 'queued' | 'inflight' | 'acked' | 'done';
  ackedAt: number;
}

const indexKey = (k: ConfirmKey) => `${k.kind}\u0000${k.machineId}`;

/** A spool line: [topic, payload] or [topic, payload, machineId, kind, n]. */
type SpoolLine = [string, string] | [string, string, string, ConfirmKey['kind'], number];

/**
 * One MQTT connection with store and forward. QoS 1 messages go out in order with a bounded
 * number in flight; while the broker is unreachable they go to a bounded on-disk spool and are
 * replayed, oldest first, once it is back.
 *
 * With `confirm`, a message the broker acknowledged is still kept (in memory, or in its spool
 * segment on disk) until a bridge confirms that Kafka holds it: a broker that crashes with
 * acknowledged messages in its memory costs a replay, never a loss. After every reconnect the
 * unconfirmed tail is published again in order, and so is anything the pipeline skipped or
 * left unconfirmed while the connection stays up (see replayOverdue). Memory stays bounded by
 * maxMemory + maxInflight + maxUnconfirmed + one segment.
 */
export class Publisher {
  private client: MqttClient | undefined;
  private generation = 0;
  private connected = false;
  private stopping = false;
  private queue: Entry[] = [];
  private readonly inflight = new Map<number, Entry>();
  /** Acknowledged and awaiting confirmation, in acknowledgement order. */
  private readonly unconfirmed = new Map<number, Entry>();
  /** Every keyed entry not yet done, by kind+machine and then n: how confirmations find them. */
  private readonly byKey = new Map<string, Map<number, Entry>>();
  private readonly segmentOutstanding = new Map<number, number>();
  private readonly spool: DiskSpool;
  private order = 0;
  private attempt = 0;
  private replayAttempt = 0;
  /** When a confirmation last released something, and the newest acknowledgement it released. */
  private lastConfirmedAt = 0;
  private newestConfirmedAck = 0;
  private skipAttempt = 0;
  private lastSkipReplayAt = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private replayTimer: NodeJS.Timeout | undefined;
  private counters = {
    published: 0,
    acked: 0,
    confirmed: 0,
    replayed: 0,
    reconnects: 0,
    badConfirmations: 0,
    unreadable: 0,
  };
  private readonly random: () => number;
  private readonly clock: () => number;
  /** When the connection was last lost (or the publisher started, before its first connect). */
  private disconnectedAt = Date.now();

  constructor(private readonly opts: PublisherOptions) {
    this.spool = new DiskSpool({
      ...opts.spool,
      onDrop: (lines) => {
        for (const line of lines) {
          try {
            const [, , machineId, kind, n] = JSON.parse(line) as SpoolLine;
            if (machineId !== undefined && kind && n !== undefined)
              opts.onSettled?.({ machineId, kind, n }, 'dropped');
          } catch {
            // a torn line: nothing to name
          }
        }
      },
    });
    this.random = opts.random ?? Math.random;
    this.clock = opts.clock ?? Date.now;
  }

  start(): void {
    this.connect();
    if (this.opts.confirm) this.replayTimer = setInterval(() => this.replayOverdue(), 1_000);
  }

  get stats(): PublisherStats {
    const s = this.spool.stats;
    const oldest = this.unconfirmed.values().next().value as Entry | undefined;
    return {
      connected: this.connected,
      disconnectedMs: this.connected ? 0 : this.clock() - this.disconnectedAt,
      published: this.counters.published,
      acked: this.counters.acked,
      confirmed: this.counters.confirmed,
      replayed: this.counters.replayed,
      reconnects: this.counters.reconnects,
      inflight: this.inflight.size,
      unconfirmed: this.unconfirmed.size,
      confirmLagMs: oldest ? this.clock() - oldest.ackedAt : 0,
      queued: this.queue.length,
      spoolBytes: s.bytes,
      spooled: s.spooled,
      dropped: s.dropped + this.counters.unreadable,
    };
  }

  /** Everything handed in is done: acknowledged, and confirmed where confirmation is on. */
  get drained(): boolean {
    return (
      this.queue.every((e) => e.state === 'done') &&
      this.inflight.size === 0 &&
      this.unconfirmed.size === 0 &&
      !this.spool.hasUntaken
    );
  }

  /**
   * Queues a message. `key` names it for confirmations (a machine's telemetry seq or event
   * epoch); a message without a key is done once the broker acknowledges it.
   */
  publish(topic: string, payload: string, key?: ConfirmKey): void {
    this.counters.published++;
    // Anything already on disk is older: new data queues behind it to keep the order.
    if (!this.connected || this.spool.hasUntaken || this.queue.length >= this.opts.maxMemory) {
      const line: SpoolLine = key ? [topic, payload, key.machineId, key.kind, key.n] : [topic, payload];
      this.spool.append([JSON.stringify(line)]);
    } else {
      this.enqueue({ topic, payload, key, order: this.order++, state: 'queued', ackedAt: 0 });
    }
    this.pump();
  }

  /** Re-publishes the retained status (a heartbeat with fresh figures) while connected. */
  publishStatus(): void {
    if (this.connected) {
      this.client?.publish(this.opts.statusTopic, JSON.stringify(this.opts.birth()), {
        qos: 1,
        retain: true,
      });
    }
  }

  /** A confirmation message from a bridge: every entry it names is done. */
  confirm(message: Confirmation): number {
    let done = 0;
    for (const kind of ['t', 'e'] as const) {
      for (const [machineId, ranges] of Object.entries(message[kind])) {
        const entries = this.byKey.get(indexKey({ machineId, kind, n: 0 }));
        if (!entries) continue;
        for (const [a, b] of ranges) {
          // Walk whichever is smaller: the range, or what this machine has outstanding.
          if (b - a + 1 <= entries.size) {
            for (let n = a; n <= b; n++) {
              const e = entries.get(n);
              if (e && this.finish(e)) done++;
            }
          } else {
            for (const [n, e] of entries) if (n >= a && n <= b && this.finish(e)) done++;
          }
        }
      }
    }
    if (done > 0) {
      this.counters.confirmed += done;
      this.lastConfirmedAt = this.clock();
      this.replayAttempt = 0;
      this.pump();
    }
    return done;
  }

  private enqueue(entry: Entry) {
    if (entry.key) {
      const k = indexKey(entry.key);
      let entries = this.byKey.get(k);
      if (!entries) {
        entries = new Map();
        this.byKey.set(k, entries);
      }
      // The same machine and seq again (a replay of an earlier run's spool): the same data by
      // the contract, so one confirmation settles both.
      const older = entries.get(entry.key.n);
      if (older && older !== entry) this.finish(older);
      entries.set(entry.key.n, entry);
    }
    this.queue.push(entry);
  }

  /** Marks an entry done and releases what it held; false if it already was. */
  private finish(entry: Entry): boolean {
    if (entry.state === 'done') return false;
    if (entry.state === 'acked') this.newestConfirmedAck = Math.max(this.newestConfirmedAck, entry.ackedAt);
    entry.state = 'done';
    this.unconfirmed.delete(entry.order);
    if (entry.key) {
      const k = indexKey(entry.key);
      const entries = this.byKey.get(k);
      if (entries?.get(entry.key.n) === entry) {
        entries.delete(entry.key.n);
        if (entries.size === 0) this.byKey.delete(k);
      }
    }
    if (entry.segment !== undefined) this.settle(entry.segment);
    if (entry.key) this.opts.onSettled?.(entry.key, 'delivered');
    return true;
  }

  private connect() {
    const generation = ++this.generation;
    const options: IClientOptions = {
      clientId: this.opts.clientId,
      username: this.opts.username,
      password: this.opts.password,
      protocolVersion: 5,
      clean: true,
      keepalive: 10,
      connectTimeout: 5_000,
      reconnectPeriod: 0, // our own backoff with jitter, below
      will: {
        topic: this.opts.statusTopic,
        payload: Buffer.from(JSON.stringify(this.opts.will)),
        qos: 1,
        retain: true,
      },
    };
    const client = (this.opts.connect ?? mqtt.connect)(this.opts.url, options);
    this.client = client;
    client.on('connect', () => {
      if (generation !== this.generation) return;
      if (this.opts.confirm) {
        // Subscribed before anything is published on this connection: the broker handles a
        // connection's packets in order, so no confirmation of what follows can be missed.
        client.subscribe(this.opts.confirm.topic, { qos: 1 }, (err, granted) => {
          const refused =
            err ?? (granted?.[0] && granted[0].qos > 2 ? new Error('refused by ACL') : undefined);
          if (refused && generation === this.generation) {
            // Without confirmations the window fills and sending stops: better to try again.
            this.opts.log.error('cannot subscribe to confirmations; reconnecting', {
              topic: this.opts.confirm?.topic,
              error: refused.message,
            });
            client.end(true);
          }
        });
      }
      this.connected = true;
      if (this.attempt > 0) this.counters.reconnects++;
      this.attempt = 0;
      this.opts.log.info('mqtt connected', {
        url: this.opts.url,
        spoolBytes: this.spool.stats.bytes,
        replaying: this.queue.length,
      });
      client.publish(this.opts.statusTopic, JSON.stringify(this.opts.birth()), { qos: 1, retain: true });
      this.pump();
    });
    client.on('message', (topic, payload) => {
      if (generation !== this.generation || topic !== this.opts.confirm?.topic) return;
      let parsed: ReturnType<typeof confirmationSchema.safeParse> | undefined;
      try {
        parsed = confirmationSchema.safeParse(JSON.parse(payload.toString('utf8')));
      } catch {
        parsed = undefined;
      }
      if (!parsed?.success) {
        if (this.counters.badConfirmations++ % 1_000 === 0) {
          this.opts.log.warn('ignoring a malformed confirmation', { topic, bytes: payload.length });
        }
        return;
      }
      this.confirm(parsed.data);
    });
    client.on('error', (err) => {
      if (generation === this.generation) this.opts.log.warn('mqtt error', { error: err.message });
    });
    client.on('close', () => {
      if (generation !== this.generation) return;
      this.onConnectionLost(client);
    });
  }

  /** Puts entries back at the front of the queue, oldest first, to be published again. */
  private requeue(entries: Entry[]) {
    for (const e of entries) {
      this.inflight.delete(e.order);
      this.unconfirmed.delete(e.order);
    }
    const back = entries.filter((e) => e.state !== 'done');
    if (back.length === 0) return;
    for (const e of back) e.state = 'queued';
    this.queue = [...back, ...this.queue].sort((a, b) => a.order - b.order);
  }

  private onConnectionLost(client: MqttClient) {
    const wasConnected = this.connected;
    if (wasConnected) this.disconnectedAt = this.clock();
    this.connected = false;
    this.generation++; // late callbacks of this client are ignored from now on
    client.end(true);
    // Everything not confirmed goes back in the order it was first sent: the broker that
    // acknowledged it may have died with it (QoS 1 allows duplicates; we never lose one).
    const back = [...this.inflight.values(), ...this.unconfirmed.values()];
    this.counters.replayed += this.unconfirmed.size;
    this.requeue(back);
    if (this.stopping) return;
    const ceiling = Math.min(this.opts.backoffMaxMs, this.opts.backoffMinMs * 2 ** this.attempt++);
    const delay = Math.round(this.opts.backoffMinMs / 2 + this.random() * ceiling);
    if (wasConnected) {
      this.opts.log.warn('mqtt connection lost; spooling to disk, unconfirmed data will be replayed', {
        retryInMs: delay,
        replay: back.length,
      });
    }
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  /**
   * While connected, two signs that the broker lost acknowledged messages (or a bridge's
   * subscription went quiet), and the answer to each: publish them again.
   * - Skipped: confirmations arrive for messages acknowledged more than `timeoutMs` after some
   *   still unconfirmed. The pipeline is moving and passed those by. Repeated skip-replays
   *   need ever larger gaps (doubling up to `maxTimeoutMs`).
   * - Stalled: nothing at all was confirmed for `timeoutMs` while messages wait. Consecutive
   *   replays of this kind back off up to `maxTimeoutMs`, so a pipeline that is merely down
   *   (its data held in the broker's queues) is not flooded with copies.
   * A pipeline that is merely slow confirms in about the order it was sent: neither applies, so
   * an overloaded pipeline is not handed extra copies on top of its backlog.
   */
  private replayOverdue() {
    const c = this.opts.confirm;
    if (!c || !this.connected || this.unconfirmed.size === 0) return;
    const now = this.clock();
    const oldest = this.unconfirmed.values().next().value as Entry;
    const wait = Math.min(c.maxTimeoutMs, c.timeoutMs * 2 ** this.replayAttempt);
    const stalled = now - Math.max(this.lastConfirmedAt, oldest.ackedAt) >= wait;
    // Lanes drain at slightly different speeds: a gap must exceed `timeoutMs`, doubling with
    // each skip-replay in a row (back to one after `maxTimeoutMs` without any).
    if (now - this.lastSkipReplayAt > c.maxTimeoutMs) this.skipAttempt = 0;
    const skippedBefore =
      this.newestConfirmedAck - Math.min(c.maxTimeoutMs, c.timeoutMs * 2 ** this.skipAttempt);
    const overdue: Entry[] = [];
    for (const e of this.unconfirmed.values()) {
      // Acknowledgement order: once one is not overdue, the rest are younger.
      if (stalled ? now - e.ackedAt < wait : e.ackedAt >= skippedBefore) break;
      overdue.push(e);
    }
    if (overdue.length === 0) return;
    if (stalled) this.replayAttempt++;
    else {
      this.skipAttempt++;
      this.lastSkipReplayAt = now;
    }
    this.counters.replayed += overdue.length;
    this.opts.log.warn(
      stalled
        ? 'confirmations stalled; publishing again'
        : 'confirmations skipped messages; publishing them again',
      {
        messages: overdue.length,
        oldestMs: now - overdue[0]!.ackedAt,
        ...(stalled ? { nextWaitMs: Math.min(c.maxTimeoutMs, c.timeoutMs * 2 ** this.replayAttempt) } : {}),
      },
    );
    this.requeue(overdue);
    this.pump();
  }

  private pump() {
    const client = this.client;
    if (!this.connected || !client) return;
    const generation = this.generation;
    const window = this.opts.confirm?.maxUnconfirmed ?? Number.POSITIVE_INFINITY;
    while (
      this.inflight.size < this.opts.maxInflight &&
      this.inflight.size + this.unconfirmed.size < window
    ) {
      if (this.queue.length === 0 && !this.refill()) return;
      const entry = this.queue.shift()!;
      if (entry.state === 'done') continue; // confirmed while it waited for a replay
      entry.state = 'inflight';
      this.inflight.set(entry.order, entry);
      client.publish(entry.topic, entry.payload, { qos: 1 }, (err) => {
        if (generation !== this.generation || err) return; // requeued by onConnectionLost
        if (this.inflight.get(entry.order) !== entry) return;
        this.inflight.delete(entry.order);
        this.counters.acked++;
        if (entry.state === 'inflight') {
          if (this.opts.confirm && entry.key) {
            entry.state = 'acked';
            entry.ackedAt = this.clock();
            this.unconfirmed.set(entry.order, entry);
          } else {
            this.finish(entry);
          }
        }
        this.pump();
      });
    }
  }

  /** Moves the oldest spooled segment into memory; false when the spool is empty. */
  private refill(): boolean {
    const seg = this.spool.take();
    if (!seg) return false;
    this.segmentOutstanding.set(seg.id, seg.lines.length);
    for (const line of seg.lines) {
      const [topic, payload, machineId, kind, n] = JSON.parse(line) as SpoolLine;
      const key = machineId !== undefined && kind && n !== undefined ? { machineId, kind, n } : undefined;
      this.enqueue({
        topic,
        payload,
        key,
        segment: seg.id,
        order: this.order++,
        state: 'queued',
        ackedAt: 0,
      });
    }
    return true;
  }

  private settle(segment: number) {
    const left = (this.segmentOutstanding.get(segment) ?? 1) - 1;
    if (left > 0) {
      this.segmentOutstanding.set(segment, left);
      return;
    }
    this.segmentOutstanding.delete(segment);
    this.spool.release(segment);
  }

  /**
   * Graceful stop: waits (up to the deadline) for everything to be done, publishes the offline
   * status, and closes. What is not done by then goes back to the spool, oldest first.
   */
  async stop(deadlineMs: number, offline: Record<string, unknown>): Promise<void> {
    const until = Date.now() + deadlineMs;
    while (this.connected && !this.drained && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    this.stopping = true;
    this.generation++; // acks arriving from here on are ignored: their messages are on disk again
    clearInterval(this.replayTimer);
    // Everything not done, in order, goes back to disk ahead of what is spooled (it is older);
    // the segments it came from are then released. A crash in between duplicates.
    const pending = [...this.inflight.values(), ...this.unconfirmed.values(), ...this.queue]
      .filter((e) => e.state !== 'done')
      .sort((a, b) => a.order - b.order);
    this.spool.prepend(
      pending.map((e) =>
        JSON.stringify(
          e.key ? [e.topic, e.payload, e.key.machineId, e.key.kind, e.key.n] : [e.topic, e.payload],
        ),
      ),
    );
    for (const id of this.spool.takenIds()) this.spool.release(id);
    this.inflight.clear();
    this.unconfirmed.clear();
    this.byKey.clear();
    this.queue = [];
    clearTimeout(this.reconnectTimer);
    const client = this.client;
    if (client && this.connected) {
      await client
        .publishAsync(this.opts.statusTopic, JSON.stringify(offline), { qos: 1, retain: true })
        .catch(() => {});
      await client.endAsync();
    } else {
      client?.end(true);
    }
    this.connected = false;
  }
}
