import { randomUUID } from 'node:crypto';
import type { KV, NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { followKv, readKv } from '../../common/kv.js';
import { connectNats } from '../../common/nats.js';
import { waitFor } from '../../infra/supervisor/process.js';
import { testConfig } from './stack-env.js';

const config = testConfig();
const KEYS = 1_000;
let nc: NatsConnection;
let kv: KV;
const bucket = `kv-test-${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  nc = await connectNats(config, 'kv-test', 'admin');
  kv = await nc.jetstream().views.kv(bucket, { history: 1 });
  for (let i = 0; i < KEYS; i++) await kv.put(`machine.M-${i}`, JSON.stringify({ i, pad: 'x'.repeat(800) }));
  await kv.put('meta.fleet', JSON.stringify({ note: 'outside machine.>' }));
});

afterAll(async () => {
  await (await nc.jetstreamManager()).streams.delete(`KV_${bucket}`).catch(() => false);
  await nc.close();
});

/** Keeps rewriting random keys, as 1,000 machines saving their snapshots do, until stopped. */
function churn(writers = 4): () => Promise<number> {
  let stop = false;
  let writes = 0;
  const running = Array.from({ length: writers }, async () => {
    while (!stop) {
      const i = Math.floor(Math.random() * KEYS);
      await kv.put(`machine.M-${i}`, JSON.stringify({ i, t: Date.now(), pad: 'x'.repeat(800) }));
      writes++;
    }
  });
  return async () => {
    stop = true;
    await Promise.all(running);
    return writes;
  };
}

describe('reading a KV bucket whole (real NATS)', () => {
  it('finds every key on each of 40 reads while the bucket is rewritten underneath', async () => {
    const stop = churn();
    const sizes: number[] = [];
    try {
      for (let r = 0; r < 40; r++) sizes.push((await readKv(kv, 'machine.>', (x) => x)).size);
    } finally {
      const writes = await stop();
      process.stdout.write(`[kv] 40 reads of ${KEYS} keys during ${writes} concurrent writes\n`);
    }
    // The server's pending count said "caught up" early on about a third of such reads.
    expect(sizes.filter((n) => n !== KEYS)).toEqual([]);
  });

  it('answers at once for a pattern with no keys, and sees keys deleted before the read as gone', async () => {
    expect((await readKv(kv, 'nothing.>', (x) => x)).size).toBe(0);
    await kv.delete('machine.M-7');
    const all = await readKv(kv, 'machine.>', (x) => x);
    expect(all.size).toBe(KEYS - 1);
    expect(all.has('machine.M-7')).toBe(false);
    await kv.put('machine.M-7', JSON.stringify({ i: 7 }));
  });

  it('follows changes after the initial set, and values it cannot parse arrive as undefined', async () => {
    const seen = new Map<string, unknown>();
    const f = await followKv(
      kv,
      'machine.>',
      (raw) => ((raw as { i?: unknown }).i === -1 ? undefined : raw),
      (k, e) => seen.set(k, e?.value),
    );
    await f.initialized;
    expect([...seen.values()].filter((v) => v !== undefined)).toHaveLength(KEYS);
    await kv.put('machine.M-1', JSON.stringify({ i: -1 }));
    await kv.put('machine.new', JSON.stringify({ i: 'new' }));
    const arrived = await waitFor(
      () => seen.has('machine.new') && seen.get('machine.M-1') === undefined,
      10_000,
      50,
    );
    f.stop();
    expect(arrived).toBe(true);
    expect(seen.get('machine.new')).toEqual({ i: 'new' });
  });
});
