import { describe, expect, it } from 'vitest';
import { ConfirmationBuffer, confirmationSchema, confirmKeyOf, confirmTopic } from './confirm.js';
import { toRanges } from './ranges.js';

describe('confirmations', () => {
  it('compresses seq numbers into sorted inclusive ranges, ignoring repeats', () => {
    expect(toRanges([5, 3, 4, 9, 4, 11, 10])).toEqual([
      [3, 5],
      [9, 11],
    ]);
    expect(toRanges([])).toEqual([]);
  });

  it('groups what a bridge wrote per line and machine, and empties itself when drained', () => {
    const b = new ConfirmationBuffer();
    b.add('plant-1', 'line-1', { machineId: 'M-1', kind: 't', n: 2 });
    b.add('plant-1', 'line-1', { machineId: 'M-1', kind: 't', n: 1 });
    b.add('plant-1', 'line-1', { machineId: 'M-1', kind: 'e', n: 3 });
    b.add('plant-1', 'line-2', { machineId: 'M-9', kind: 't', n: 7 });
    const out = b.drain('bridge-1', 1_800_000_000_000);
    expect(out.map((o) => o.topic).sort()).toEqual([
      confirmTopic('plant-1', 'line-1'),
      confirmTopic('plant-1', 'line-2'),
    ]);
    const line1 = out.find((o) => o.topic.endsWith('line-1'))!.message;
    expect(line1).toEqual({
      v: 1,
      bridge: 'bridge-1',
      ts: 1_800_000_000_000,
      t: { 'M-1': [[1, 2]] },
      e: { 'M-1': [[3, 3]] },
    });
    expect(confirmationSchema.safeParse(line1).success).toBe(true);
    expect(b.size).toBe(0);
    expect(b.drain('bridge-1', 1)).toEqual([]);
  });

  it('splits a large line into messages of bounded size', () => {
    const b = new ConfirmationBuffer(100);
    for (let i = 0; i < 250; i++) b.add('s', 'l', { machineId: `M-${i}`, kind: 't', n: 1 });
    const out = b.drain('b', 1);
    expect(out.map((o) => Object.keys(o.message.t).length)).toEqual([100, 100, 50]);
  });

  it('reads the key from topic and payload, even of a reading that failed validation', () => {
    const raw = (o: unknown) => Buffer.from(JSON.stringify(o));
    const ids = { site: 'p', line: 'l', machineId: 'M-1' };
    expect(confirmKeyOf('factory/p/l/M-1/telemetry', raw({ ...ids, seq: 7, oee: 'bad' }))).toEqual({
      site: 'p',
      line: 'l',
      key: { machineId: 'M-1', kind: 't', n: 7 },
    });
    expect(confirmKeyOf('factory/p/l/M-1/events', raw({ machineId: 'M-1', epoch: 2 }))?.key).toEqual({
      machineId: 'M-1',
      kind: 'e',
      n: 2,
    });
    expect(confirmKeyOf('factory/p/l/M-1/telemetry', Buffer.from('{"seq":'))).toBeUndefined();
    expect(confirmKeyOf('factory/p/l/M-1/telemetry', raw({ ...ids, seq: -1 }))).toBeUndefined();
    expect(confirmKeyOf('factory/p/l/M-1/telemetry', raw({ ...ids, seq: 1.5 }))).toBeUndefined();
    expect(confirmKeyOf('elsewhere/M-1/telemetry', raw({ ...ids, seq: 1 }))).toBeUndefined();
  });

  it('never confirms for another machine or with an invalid id', () => {
    const raw = (o: unknown) => Buffer.from(JSON.stringify(o));
    // A payload naming another machine, site or line than its topic settles nothing.
    expect(
      confirmKeyOf('factory/p/l/M-1/telemetry', raw({ site: 'p', line: 'l', machineId: 'M-2', seq: 1 })),
    ).toBeUndefined();
    expect(
      confirmKeyOf('factory/p/l/M-1/telemetry', raw({ site: 'p', line: 'x', machineId: 'M-1', seq: 1 })),
    ).toBeUndefined();
    expect(confirmKeyOf('factory/p/l/M-1/telemetry', raw({ seq: 1 }))).toBeUndefined();
    // An id the contract does not allow would spoil a whole confirmation message.
    expect(
      confirmKeyOf(
        'factory/p/l/bad id/telemetry',
        raw({ site: 'p', line: 'l', machineId: 'bad id', seq: 1 }),
      ),
    ).toBeUndefined();
  });

  it('keeps each message below a byte budget, and drops keys past its bound', () => {
    const b = new ConfirmationBuffer(10_000, 4_096, 5_000);
    for (let i = 0; i < 6_000; i++) b.add('s', 'l', { machineId: `M-${i % 3_000}`, kind: 't', n: i * 2 });
    expect(b.dropped).toBe(1_000);
    const out = b.drain('b', 1);
    for (const o of out) expect(JSON.stringify(o.message).length).toBeLessThan(4_096);
    expect(out.reduce((n, o) => n + Object.keys(o.message.t).length, 0)).toBe(3_000);
  });

  it('rejects malformed confirmations', () => {
    const ok = { v: 1, bridge: 'b', ts: 1, t: { 'M-1': [[1, 2]] } };
    expect(confirmationSchema.safeParse(ok).success).toBe(true);
    expect(confirmationSchema.safeParse({ ...ok, t: { 'M-1': [[3, 2]] } }).success).toBe(false);
    expect(confirmationSchema.safeParse({ ...ok, t: { 'M/1': [[1, 2]] } }).success).toBe(false);
    expect(confirmationSchema.safeParse({ ...ok, v: 2 }).success).toBe(false);
    expect(confirmationSchema.safeParse({ ...ok, extra: 1 }).success).toBe(false);
  });
});
