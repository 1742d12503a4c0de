import { describe, expect, it } from 'vitest';
import { MAX_AGE_MS, MAX_PAYLOAD_BYTES, validateEvent, validateTelemetry } from './validate.js';

const now = 1_800_000_000_000;
const reading = {
  v: 1,
  site: 'plant-1',
  line: 'line-1',
  machineId: 'M-0001',
  ts: now,
  seq: 1,
  state: 'IDLE',
  temperatureC: 30,
  speedRpm: 0,
  vibrationMmS: 0.1,
  powerKw: 1,
  productionCount: 0,
  goodCount: 0,
  oee: 0,
};
const topic = 'factory/plant-1/line-1/M-0001/telemetry';
const check = (payload: unknown, t = topic) =>
  validateTelemetry(t, Buffer.from(JSON.stringify(payload)), now);

describe('validateTelemetry', () => {
  it('accepts a reading whose topic matches it', () => {
    expect(check(reading)).toEqual({ ok: true, value: reading });
  });

  it('keys rejects by the machine of the topic, or the topic itself when it is not ours', () => {
    expect(check({ ...reading, v: 3 })).toMatchObject({ ok: false, key: 'M-0001' });
    expect(check({ ...reading, v: 3 }, 'elsewhere/x')).toMatchObject({ ok: false, key: 'mqtt:elsewhere/x' });
  });

  it.each([
    ['a timestamp 8 days old', { ts: now - 8 * 24 * 3600 * 1000 }, /older than/],
    // Exactly the retention age used to pass, and InfluxDB then refused it: the writer wedged.
    ['a timestamp at the retention age', { ts: now - 7 * 24 * 3600 * 1000 }, /older than/],
    ['a timestamp 10 minutes ahead', { ts: now + 10 * 60 * 1000 }, /in the future/],
    ['another machine than the topic', { machineId: 'M-0002' }, /does not match/],
    ['another line than the topic', { line: 'line-2' }, /does not match/],
  ])('rejects %s', (_what, patch, reason) => {
    const v = check({ ...reading, ...patch });
    expect(v.ok).toBe(false);
    if (!v.ok) expect(v.reason).toMatch(reason);
  });

  it('rejects oversized payloads before parsing them', () => {
    const v = validateTelemetry(topic, Buffer.alloc(MAX_PAYLOAD_BYTES + 1, 0x7b), now);
    expect(v).toMatchObject({ ok: false, reason: expect.stringMatching(/oversized/) });
  });
});

describe('validateEvent', () => {
  const event = {
    v: 1,
    type: 'resume',
    machineId: 'M-0001',
    epoch: 2,
    skippedFrom: 10,
    skippedTo: 14,
    ts: now,
  };
  it('accepts a resume event and adds where it came from', () => {
    const v = validateEvent('factory/plant-1/line-1/M-0001/events', Buffer.from(JSON.stringify(event)), now);
    expect(v).toEqual({ ok: true, value: { ...event, site: 'plant-1', line: 'line-1' } });
  });
  it('rejects an event for another machine than its topic', () => {
    const v = validateEvent('factory/plant-1/line-1/M-0002/events', Buffer.from(JSON.stringify(event)), now);
    expect(v).toMatchObject({ ok: false, code: 'topic-mismatch' });
  });
  it.each([
    ['from the epoch start', 1, 'too-old'],
    ['just older than retention less the margin', now - MAX_AGE_MS - 1, 'too-old'],
    ['an hour ahead', now + 3600_000, 'future'],
  ])('rejects an event whose ts is %s', (_what, ts, code) => {
    const v = validateEvent(
      'factory/plant-1/line-1/M-0001/events',
      Buffer.from(JSON.stringify({ ...event, ts })),
      now,
    );
    expect(v).toMatchObject({ ok: false, code });
  });
});
