import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Logger } from '../common/log.js';
import { DiskSpool, type SpoolOptions } from './spool.js';

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
  log: Logger;
  random?: () => number;
}

export interface PublisherStats {
  connected: boolean;
  published: number;
  acked: number;
  inflight: number;
  queued: number;
  spoolBytes: number;
  spooled: number;
  dropped: number;
  reconnects: number;
}

interface Entry {
  topic: string;
  payload: string;
  /** The spool segment it came from, released once all of that segment's entries are acked. */
  segment?: number;
  /** Publish order, so entries interrupted in flight go back in the order they were sent. */
  order: number;
}

/**
 * One MQTT connection with store and forward: QoS 1 messages go out in order with a bounded
 * number in flight; while the broker is unreachable they go to a bounded on-disk spool and are
 * replayed, oldest first, once it is back. Memory stays bounded by maxMemory + one segment.
 */
export class Publisher {
  private client: MqttClient | undefined;
  private generation = 0;
  private connected = false;
  private stopping = false;
  private readonly queue: Entry[] = [];
  private readonly inflight = new Map<number, Entry>();
  private readonly segmentOutstanding = new Map<number, number>();
  private readonly spool: DiskSpool;
  private order = 0;
  private attempt = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private counters = { published: 0, acked: 0, reconnects: 0 };
  private readonly random: () => number;

  constructor(private readonly opts: PublisherOptions) {
    this.spool = new DiskSpool(opts.spool);
    this.random = opts.random ?? Math.random;
  }

  start(): void {
    this.connect();
  }

  get stats(): PublisherStats {
    const s = this.spool.stats;
    return {
      connected: this.connected,
      ...this.counters,
      inflight: this.inflight.size,
      queued: this.queue.length,
      spoolBytes: s.bytes,
      spooled: s.spooled,
      dropped: s.dropped,
    };
  }

  /** Everything handed in has been acknowledged by the broker. */
  get drained(): boolean {
    return this.queue.length === 0 && this.inflight.size === 0 && !this.spool.hasUntaken;
  }

  publish(topic: string, payload: string): void {
    this.counters.published++;
    // Anything already on disk is older: new data queues behind it to keep the order.
    if (!this.connected || this.spool.hasUntaken || this.queue.length >= this.opts.maxMemory) {
      this.spool.append([JSON.stringify([topic, payload])]);
    } else {
      this.queue.push({ topic, payload, order: this.order++ });
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
    const client = mqtt.connect(this.opts.url, options);
    this.client = client;
    client.on('connect', () => {
      if (generation !== this.generation) return;
      this.connected = true;
      if (this.attempt > 0) this.counters.reconnects++;
      this.attempt = 0;
      this.opts.log.info('mqtt connected', { url: this.opts.url, spoolBytes: this.spool.stats.bytes });
      client.publish(this.opts.statusTopic, JSON.stringify(this.opts.birth()), { qos: 1, retain: true });
      this.pump();
    });
    client.on('error', (err) => {
      if (generation === this.generation) this.opts.log.warn('mqtt error', { error: err.message });
    });
    client.on('close', () => {
      if (generation !== this.generation) return;
      this.onConnectionLost(client);
    });
  }

  private onConnectionLost(client: MqttClient) {
    const wasConnected = this.connected;
    this.connected = false;
    this.generation++; // late callbacks of this client are ignored from now on
    client.end(true);
    // Unacknowledged messages go back to the front, in the order they were sent (QoS 1 allows
    // the broker to see some twice; it never loses one).
    const back = [...this.inflight.values()].sort((a, b) => a.order - b.order);
    this.inflight.clear();
    this.queue.unshift(...back);
    if (this.stopping) return;
    const ceiling = Math.min(this.opts.backoffMaxMs, this.opts.backoffMinMs * 2 ** this.attempt++);
    const delay = Math.round(this.opts.backoffMinMs / 2 + this.random() * ceiling);
    if (wasConnected) this.opts.log.warn('mqtt connection lost; spooling to disk', { retryInMs: delay });
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  private pump() {
    const client = this.client;
    if (!this.connected || !client) return;
    const generation = this.generation;
    while (this.inflight.size < this.opts.maxInflight) {
      if (this.queue.length === 0 && !this.refill()) return;
      const entry = this.queue.shift()!;
      this.inflight.set(entry.order, entry);
      client.publish(entry.topic, entry.payload, { qos: 1 }, (err) => {
        if (generation !== this.generation || err) return; // requeued by onConnectionLost
        this.inflight.delete(entry.order);
        this.counters.acked++;
        if (entry.segment !== undefined) this.settle(entry.segment);
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
      const [topic, payload] = JSON.parse(line) as [string, string];
      this.queue.push({ topic, payload, segment: seg.id, order: this.order++ });
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
   * Graceful stop: waits (up to the deadline) for what is queued to be acknowledged, publishes
   * the offline status, and closes. What is not delivered by then stays in the spool.
   */
  async stop(deadlineMs: number, offline: Record<string, unknown>): Promise<void> {
    const until = Date.now() + deadlineMs;
    while (this.connected && !this.drained && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    this.stopping = true;
    this.generation++; // acks arriving from here on are ignored: their messages are on disk again
    // Everything unacknowledged, in order, goes back to disk ahead of what is spooled (it is
    // older); the segments it came from are then released. A crash in between duplicates.
    const unacked = [...[...this.inflight.values()].sort((a, b) => a.order - b.order), ...this.queue];
    this.spool.prepend(unacked.map((e) => JSON.stringify([e.topic, e.payload])));
    for (const id of this.spool.takenIds()) this.spool.release(id);
    this.inflight.clear();
    this.queue.length = 0;
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
