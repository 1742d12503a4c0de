import { describe, expect, it } from 'vitest';
import {
  classifyInflux,
  classifyKafka,
  classifyTemporal,
  DEAD_LETTER_MAX_BYTES,
  deadLetterMessage,
  writeIsolating,
} from './poison.js';

/** A store that refuses any batch holding a poisoned item, as InfluxDB answers 400. */
function store(poisoned: Set<number>, transientFailures = 0) {
  const written: number[] = [];
  let requests = 0;
  let failures = transientFailures;
  return {
    written,
    requests: () => requests,
    write: async (batch: number[]) => {
      requests++;
      if (failures-- > 0) throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
      const bad = batch.find((x) => poisoned.has(x));
      if (bad !== undefined)
        throw Object.assign(new Error(`partial write: points beyond retention policy dropped=1`), {
          res: { statusCode: 400 },
        });
      written.push(...batch);
    },
  };
}

const quick = { keepGoing: () => true, onRetry: () => {}, backoff: { minMs: 1, maxMs: 2 } };

describe('writeIsolating', () => {
  it('writes every good record and hands each poisoned one over, alone', async () => {
    const items = Array.from({ length: 5_000 }, (_, i) => i);
    const s = store(new Set([17, 4_242]));
    const poison: number[] = [];
    await writeIsolating(items, {
      write: s.write,
      classify: classifyInflux,
      onPoison: (x) => void poison.push(x),
      ...quick,
    });
    expect(poison).toEqual([17, 4_242]);
    expect(new Set(s.written).size).toBe(4_998);
    // Bounded: two poisons in 5,000 cost a few dozen requests, not thousands.
    expect(s.requests()).toBeLessThan(60);
  });

  it('retries a transient error with the whole batch, and never dead-letters for it', async () => {
    const s = store(new Set(), 3);
    const poison: number[] = [];
    let retries = 0;
    await writeIsolating([1, 2, 3], {
      write: s.write,
      classify: classifyInflux,
      onPoison: (x) => void poison.push(x),
      ...quick,
      onRetry: () => void retries++,
    });
    expect(retries).toBe(3);
    expect(poison).toEqual([]);
    expect(s.written).toEqual([1, 2, 3]);
  });

  it('gives the transient error back when the stage stops', async () => {
    const s = store(new Set(), 100);
    let calls = 0;
    await expect(
      writeIsolating([1], {
        write: s.write,
        classify: classifyInflux,
        onPoison: () => {},
        ...quick,
        keepGoing: () => calls++ < 2,
      }),
    ).rejects.toThrow(/ECONNREFUSED/);
  });
});

describe('classification', () => {
  it('InfluxDB: 400 and 413 and the client schema check are the data; the rest is the server', () => {
    expect(classifyInflux({ res: { statusCode: 400 }, message: 'x' }).kind).toBe('permanent');
    expect(classifyInflux({ res: { statusCode: 413 }, message: 'x' }).kind).toBe('permanent');
    expect(classifyInflux(new Error("Expected numeric value for telemetry.seq, but got 'x'!")).kind).toBe(
      'permanent',
    );
    expect(classifyInflux({ res: { statusCode: 500 }, message: 'x' }).kind).toBe('transient');
    expect(classifyInflux({ res: { statusCode: 401 }, message: 'x' }).kind).toBe('transient');
    expect(classifyInflux(new Error('No host available')).kind).toBe('transient');
  });

  it('Kafka: a record too large, however deeply kafkajs wrapped it, is permanent', () => {
    const inner = Object.assign(new Error('The request included a message larger than the max'), {
      type: 'MESSAGE_TOO_LARGE',
    });
    const wrapped = Object.assign(new Error('retries exceeded'), {
      name: 'KafkaJSNumberOfRetriesExceeded',
      cause: inner,
    });
    expect(classifyKafka(wrapped)).toMatchObject({ kind: 'permanent', code: 'refused-by-kafka' });
    expect(classifyKafka(Object.assign(new Error('x'), { type: 'NOT_LEADER_FOR_PARTITION' })).kind).toBe(
      'transient',
    );
    expect(classifyKafka(new Error('Connection error: ECONNREFUSED')).kind).toBe('transient');
    // A refused grant is the broker's configuration (a data directory lost its ACLs until the
    // next provision), never the record's fault: dead-lettering good readings for it would lose them.
    for (const type of [
      'TOPIC_AUTHORIZATION_FAILED',
      'GROUP_AUTHORIZATION_FAILED',
      'SASL_AUTHENTICATION_FAILED',
    ])
      expect(classifyKafka(Object.assign(new Error('x'), { type })).kind).toBe('transient');
  });

  it('Temporal: InvalidArgument is permanent, Unavailable is not', () => {
    expect(classifyTemporal(Object.assign(new Error('search attribute too long'), { code: 3 })).kind).toBe(
      'permanent',
    );
    expect(
      classifyTemporal(
        Object.assign(new Error('wrapped'), { cause: Object.assign(new Error('x'), { code: 3 }) }),
      ).kind,
    ).toBe('permanent');
    expect(classifyTemporal(Object.assign(new Error('unavailable'), { code: 14 })).kind).toBe('transient');
  });
});

describe('deadLetterMessage', () => {
  it('keeps at most 16 KiB, with the original size and hash, and bounded headers', () => {
    const raw = Buffer.alloc(1_000_000, 'x');
    const m = deadLetterMessage({
      key: 'k'.repeat(10_000),
      raw,
      code: 'oversized',
      reason: 'r'.repeat(50_000),
      stage: 'bridge',
      source: 's'.repeat(10_000),
      now: 1,
    });
    expect((m.value as Buffer).length).toBe(DEAD_LETTER_MAX_BYTES);
    const h = m.headers as Record<string, string>;
    expect(h.originalBytes).toBe('1000000');
    expect(h.truncated).toBe('true');
    expect(h.sha256).toMatch(/^[0-9a-f]{64}$/);
    const headerBytes = Object.values(h).reduce((n, v) => n + v.length, 0) + String(m.key).length;
    expect(headerBytes).toBeLessThan(4_096);
  });

  it('keeps a small payload whole', () => {
    const m = deadLetterMessage({
      key: 'M-1',
      raw: '{"a":1}',
      code: 'schema',
      reason: 'r',
      stage: 'writer',
      source: 's',
      now: 1,
    });
    expect(String(m.value)).toBe('{"a":1}');
    expect((m.headers as Record<string, string>).truncated).toBe('false');
  });
});
