import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { confirmTopic } from '../common/confirm.js';
import { silentLogger } from '../common/log.js';
import { Publisher } from './publisher.js';

/**
 * A broker stand-in: it records what the publisher sends and lets the test decide when each
 * message is acknowledged (PUBACK) and what the bridges confirm. Time is vitest's fake clock.
 */
class FakeBroker extends EventEmitter {
  readonly sent: { topic: string; payload: string; ack: () => void }[] = [];
  /** Every payload ever published, in order. */
  readonly history: string[] = [];
  connected = true;

  publish(topic: string, payload: string, _opts: unknown, cb?: (err?: Error) => void) {
    this.sent.push({ topic, payload, ack: () => cb?.() });
    this.history.push(payload);
    return this;
  }
  subscribe(topic: string, _opts: unknown, cb: (err: Error | null, granted: unknown[]) => void) {
    cb(null, [{ topic, qos: 1 }]);
    return this;
  }
  end() {
    return this;
  }
  /** PUBACKs every telemetry message not yet acknowledged. */
  ackAll() {
    for (const m of this.sent.splice(0)) m.ack();
  }
  confirm(machineId: string, from: number, to: number) {
    const body = { v: 1, bridge: 'b', ts: Date.now(), t: { [machineId]: [[from, to]] } };
    this.emit('message', TOPIC, Buffer.from(JSON.stringify(body)));
  }
}

const TOPIC = confirmTopic('p', 'l');
const dirs: string[] = [];
afterEach(() => {
  vi.useRealTimers();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(1_800_000_000_000);
});

function start() {
  const broker = new FakeBroker();
  const dir = mkdtempSync(join(tmpdir(), 'publisher-'));
  dirs.push(dir);
  const p = new Publisher({
    url: 'mqtt://fake',
    clientId: 'gw',
    username: 'u',
    password: 'p',
    spool: { dir, maxBytes: 1 << 20, segmentBytes: 1 << 14 },
    maxInflight: 1_000,
    maxMemory: 10_000,
    backoffMinMs: 100,
    backoffMaxMs: 1_000,
    statusTopic: 'factory/p/l/status/gw',
    birth: () => ({ online: true }),
    will: { online: false },
    confirm: { topic: TOPIC, maxUnconfirmed: 10_000, timeoutMs: 15_000, maxTimeoutMs: 300_000 },
    log: silentLogger,
    connect: () => {
      setImmediate(() => broker.emit('connect', { sessionPresent: false }));
      return broker as unknown as MqttClient;
    },
  });
  p.start();
  const publish = (seq: number) =>
    p.publish(`factory/p/l/M-1/telemetry`, `{"seq":${seq}}`, { machineId: 'M-1', kind: 't', n: seq });
  return { broker, p, publish };
}

/** One simulated second: a reading published and acknowledged. */
async function second(broker: FakeBroker, publish: (seq: number) => void, seq: number) {
  publish(seq);
  broker.ackAll();
  await vi.advanceTimersByTimeAsync(1_000);
}

describe('Publisher confirmations (fake broker, fake clock)', () => {
  it('an overloaded pipeline confirming in order, ever further behind, gets no copies', async () => {
    const { broker, p, publish } = start();
    await vi.advanceTimersByTimeAsync(10);
    broker.sent.splice(0); // the birth status
    let confirmed = 0;
    for (let s = 1; s <= 120; s++) {
      await second(broker, publish, s);
      // Confirmations keep coming, in order, but at half the rate: the backlog grows to 60 s.
      if (s % 2 === 0) broker.confirm('M-1', ++confirmed, confirmed);
    }
    expect(p.stats.replayed).toBe(0);
    expect(p.stats.unconfirmed).toBe(60);
  });

  it('republishes a message the confirmations skipped, and only that one', async () => {
    const { broker, p, publish } = start();
    await vi.advanceTimersByTimeAsync(10);
    broker.sent.splice(0);
    for (let s = 1; s <= 30; s++) {
      await second(broker, publish, s);
      // Everything is confirmed a second later, except seq 3: the broker lost it.
      if (s - 1 >= 1 && s - 1 !== 3) broker.confirm('M-1', s - 1, s - 1);
    }
    expect(p.stats.replayed).toBe(1);
    const seqs = broker.history.filter((x) => x.startsWith('{"seq"'));
    expect(seqs.filter((x) => x === '{"seq":3}')).toHaveLength(2); // first sent, then once more
    expect(seqs).toHaveLength(31);
    broker.ackAll();
    broker.confirm('M-1', 3, 3);
    expect(p.stats.unconfirmed).toBe(1); // seq 30, confirmed next second
  });

  it('after a total stall republishes what waited 15 s, backing off between rounds', async () => {
    const { broker, p, publish } = start();
    await vi.advanceTimersByTimeAsync(10);
    broker.sent.splice(0);
    for (let s = 1; s <= 5; s++) publish(s);
    broker.ackAll();
    // Nothing is ever confirmed: the first round after 15 s, the next only after 30 s more.
    await vi.advanceTimersByTimeAsync(14_000);
    expect(p.stats.replayed).toBe(0);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(p.stats.replayed).toBe(5);
    broker.ackAll();
    await vi.advanceTimersByTimeAsync(20_000);
    expect(p.stats.replayed).toBe(5);
    await vi.advanceTimersByTimeAsync(12_000);
    expect(p.stats.replayed).toBe(10);
    broker.ackAll();
    broker.confirm('M-1', 1, 5);
    expect(p.drained).toBe(true);
  });

  it('publishes the whole unconfirmed tail again, in order, after a reconnect', async () => {
    const { broker, p, publish } = start();
    await vi.advanceTimersByTimeAsync(10);
    broker.sent.splice(0);
    for (let s = 1; s <= 4; s++) await second(broker, publish, s);
    broker.confirm('M-1', 1, 2);
    broker.emit('close'); // the broker died with 3 and 4 acknowledged but never delivered
    await vi.advanceTimersByTimeAsync(2_000);
    expect(broker.sent.map((m) => m.payload).filter((x) => x.startsWith('{"seq"'))).toEqual([
      '{"seq":3}',
      '{"seq":4}',
    ]);
    expect(p.stats.replayed).toBe(2);
  });
});
