import { appendFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../common/log.js';
import { Publisher } from './publisher.js';
import { DiskSpool } from './spool.js';

const dirs: string[] = [];
const scratch = () => {
  const d = mkdtempSync(join(tmpdir(), 'spool-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const lines = (from: number, n: number) => Array.from({ length: n }, (_, i) => `m${from + i}`);

function drain(spool: DiskSpool): string[] {
  const out: string[] = [];
  for (let seg = spool.take(); seg; seg = spool.take()) {
    out.push(...seg.lines);
    spool.release(seg.id);
  }
  return out;
}

describe('DiskSpool', () => {
  it('hands lines back in order, segment by segment, and survives a reopen', () => {
    const dir = scratch();
    const a = new DiskSpool({ dir, maxBytes: 1 << 20, segmentBytes: 64 });
    for (let i = 0; i < 100; i += 10) a.append(lines(i, 10));
    expect(a.stats.segments).toBeGreaterThan(3);
    const b = new DiskSpool({ dir, maxBytes: 1 << 20, segmentBytes: 64 });
    expect(drain(b)).toEqual(lines(0, 100));
    expect(readdirSync(dir)).toEqual([]);
  });

  it('keeps a taken segment on disk until it is released', () => {
    const dir = scratch();
    const s = new DiskSpool({ dir, maxBytes: 1 << 20, segmentBytes: 1 << 10 });
    s.append(lines(0, 5));
    const seg = s.take()!;
    s.append(lines(5, 5)); // goes to a new segment: the taken one is closed
    const reopened = new DiskSpool({ dir, maxBytes: 1 << 20, segmentBytes: 1 << 10 });
    expect(drain(reopened)).toEqual(lines(0, 10)); // a crash now replays, never loses
    s.release(seg.id);
  });

  it('drops the oldest segments past its size and counts what it dropped', () => {
    const s = new DiskSpool({ dir: scratch(), maxBytes: 200, segmentBytes: 50 });
    for (let i = 0; i < 1000; i += 10) s.append(lines(i, 10));
    expect(s.stats.bytes).toBeLessThanOrEqual(200 + 60);
    const kept = drain(s);
    expect(kept.length + s.stats.dropped).toBe(1000);
    expect(s.stats.dropped).toBeGreaterThan(900);
    expect(kept).toEqual(lines(1000 - kept.length, kept.length)); // the newest survive, in order
  });

  it('never appends to a segment an earlier run left, which may end in a line torn by a crash', () => {
    const dir = scratch();
    const a = new DiskSpool({ dir, maxBytes: 1 << 20, segmentBytes: 1 << 10 });
    a.append(lines(0, 3));
    const [file] = readdirSync(dir);
    appendFileSync(join(dir, file!), '["torn'); // SIGKILL in the middle of an append
    const b = new DiskSpool({ dir, maxBytes: 1 << 20, segmentBytes: 1 << 10 });
    b.append(lines(3, 2));
    expect(readdirSync(dir)).toHaveLength(2);
    const got = drain(b);
    expect(got.slice(-2)).toEqual(lines(3, 2)); // the new lines stand whole, after the torn one
    expect(got.slice(0, 3)).toEqual(lines(0, 3));
  });

  it('puts prepended lines before everything on disk', () => {
    const s = new DiskSpool({ dir: scratch(), maxBytes: 1 << 20, segmentBytes: 1 << 10 });
    s.append(lines(10, 5));
    s.prepend(lines(0, 10));
    expect(drain(s)).toEqual(lines(0, 15));
  });
});

describe('Publisher while the broker is unreachable', () => {
  it('keeps memory bounded, spools to disk within its limit and counts drops', async () => {
    const dir = scratch();
    const p = new Publisher({
      url: 'mqtt://127.0.0.1:1', // nothing listens: every attempt fails at once
      clientId: 'unit',
      username: 'u',
      password: 'p',
      spool: { dir, maxBytes: 512 * 1024, segmentBytes: 32 * 1024 },
      maxInflight: 10,
      maxMemory: 100,
      backoffMinMs: 1_000,
      backoffMaxMs: 1_000,
      statusTopic: 'factory/s/l/status/unit',
      birth: () => ({ online: true }),
      will: { online: false },
      log: silentLogger,
    });
    p.start();
    const heapBefore = process.memoryUsage().heapUsed;
    const payload = 'x'.repeat(200);
    for (let i = 0; i < 20_000; i++) p.publish('factory/s/l/M-1/telemetry', `${i}:${payload}`);
    const s = p.stats;
    expect(s.connected).toBe(false);
    expect(s.queued + s.inflight).toBe(0); // nothing piles up in memory
    expect(s.spoolBytes).toBeLessThanOrEqual(512 * 1024 + 32 * 1024);
    expect(s.dropped).toBeGreaterThan(15_000);
    expect(s.published).toBe(20_000);
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(64 * 1024 * 1024);
    await p.stop(0, { online: false });
  });
});
