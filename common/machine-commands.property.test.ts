/**
 * Properties of the command envelope (`machine-commands` records, parsed by a worker with
 * commandEnvelopeSchema before the command inside goes to parseCommand) and of the answers and
 * heartbeats that come back over NATS. Whatever bytes arrive, the parse answers a typed value or
 * issues with messages; it never throws.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type CommandRecord,
  commandAnswerSchema,
  commandEnvelopeSchema,
  heartbeatSchema,
} from './machine-commands.js';
import { safeJson } from './nats.js';

const RUNS = { numRuns: 200 };

const id = fc.stringMatching(/^[A-Za-z0-9][\w.-]{0,99}$/);
const envelope: fc.Arbitrary<CommandRecord> = fc
  .record({
    commandId: id,
    machineId: id,
    command: fc.jsonValue(),
    replyTo: fc.option(fc.stringMatching(/^[\w.-]{1,200}$/), { nil: undefined }),
    by: fc.option(fc.string({ maxLength: 100 }), { nil: undefined }),
    ts: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  })
  .map((e) => {
    const out: Record<string, unknown> = { v: 1, commandId: e.commandId, machineId: e.machineId };
    out.command = e.command;
    if (e.replyTo !== undefined) out.replyTo = e.replyTo;
    if (e.by !== undefined) out.by = e.by;
    out.ts = e.ts;
    return out as CommandRecord;
  });

const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(
    Number.NaN,
    Number.POSITIVE_INFINITY,
    -1,
    Number.MAX_VALUE,
    null,
    true,
    '',
    '__proto__',
    'constructor',
    'a b',
    'x.*',
    'x>',
    [],
    {},
    Object.create(null),
  ),
  fc.nat({ max: 100_000 }).map((n) => 'x'.repeat(n)),
  fc.anything({ withNullPrototype: true, withBoxedValues: true }),
);
const PROTO_KEYS = ['__proto__', 'constructor', 'toString', 'valueOf'];

function withOwn(o: object, key: string, value: unknown): Record<string, unknown> {
  const copy = { ...o } as Record<string, unknown>;
  Object.defineProperty(copy, key, { value, enumerable: true, configurable: true, writable: true });
  return copy;
}

type Safe = { success: true; data: unknown } | { success: false; error: { issues: { message: string }[] } };
function expectParsed(r: Safe): void {
  if (r.success) return;
  expect(r.error.issues.length).toBeGreaterThan(0);
  for (const i of r.error.issues) expect(i.message.trim()).not.toBe('');
}

/** What an accepted envelope guarantees (the worker keys, routes and answers by these). */
function expectSaneEnvelope(e: CommandRecord): void {
  expect(e.v).toBe(1);
  for (const k of ['commandId', 'machineId'] as const) expect(e[k]).toMatch(/^[A-Za-z0-9][\w.-]{0,99}$/);
  if (e.replyTo !== undefined) expect(e.replyTo).toMatch(/^[\w.-]{1,200}$/);
  if (e.by !== undefined) expect(e.by.length).toBeLessThanOrEqual(100);
  expect(typeof e.ts).toBe('number');
}

describe('commandEnvelopeSchema (properties)', () => {
  it('never throws on any bytes read as a record value (safeJson, then the schema)', () => {
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 1_000 }),
      fc.json().map((s) => new TextEncoder().encode(s)),
      fc.string({ unit: 'binary' }).map((s) => new TextEncoder().encode(s)),
    );
    fc.assert(
      fc.property(bytes, (raw) => {
        const r = commandEnvelopeSchema.safeParse(safeJson(raw));
        expectParsed(r);
        if (r.success) expectSaneEnvelope(r.data);
      }),
      RUNS,
    );
  });

  it('never throws on fc.anything()', () => {
    fc.assert(
      fc.property(fc.anything({ withNullPrototype: true, withBoxedValues: true, withMap: true }), (x) => {
        const r = commandEnvelopeSchema.safeParse(x);
        expectParsed(r);
        if (r.success) expectSaneEnvelope(r.data);
      }),
      RUNS,
    );
  });

  it('accepts every valid envelope and round-trips it through JSON unchanged', () => {
    fc.assert(
      fc.property(envelope, (e) => {
        const text = JSON.stringify(e);
        // The command inside is any JSON value: JSON itself writes -0 as 0, so compare with what it reads back.
        const read = JSON.parse(text) as CommandRecord;
        expect(commandEnvelopeSchema.safeParse(read)).toEqual({ success: true, data: read });
        expect(commandEnvelopeSchema.safeParse(safeJson(new TextEncoder().encode(text)))).toEqual({
          success: true,
          data: read,
        });
        expect({ ...read, command: undefined }).toEqual({ ...e, command: undefined });
      }),
      RUNS,
    );
  });

  it('a valid envelope with one field made hostile is refused with issues, or still sane', () => {
    const keys = ['v', 'commandId', 'machineId', 'replyTo', 'by', 'ts', ...PROTO_KEYS];
    fc.assert(
      fc.property(envelope, fc.constantFrom(...keys), hostileValue, (e, key, value) => {
        const r = commandEnvelopeSchema.safeParse(withOwn(e, key, value));
        expectParsed(r);
        if (r.success) expectSaneEnvelope(r.data);
      }),
      RUNS,
    );
  });

  it('ids and reply subjects that could break a NATS subject or a Kafka key are refused', () => {
    const bad = fc.oneof(
      fc.constantFrom('', ' ', '*', '>', 'a b', 'a*', 'a>', '.a', '-a', 'a\n', 'a/b'),
      fc.string({ minLength: 101, maxLength: 300 }).map((s) => `a${s.replace(/[^\w]/g, 'x')}`),
    );
    fc.assert(
      fc.property(envelope, fc.constantFrom('commandId', 'machineId'), bad, (e, key, value) => {
        expect(commandEnvelopeSchema.safeParse({ ...e, [key]: value }).success).toBe(false);
      }),
      RUNS,
    );
  });

  it('a good envelope beside bad ones is untouched: its verdict does not depend on its neighbours', () => {
    const bad = fc.oneof(
      fc.anything(),
      envelope.chain((e) => hostileValue.map((v) => withOwn(e, 'ts', v))),
    );
    fc.assert(
      fc.property(
        fc.array(bad, { maxLength: 4 }),
        envelope,
        fc.array(bad, { maxLength: 4 }),
        (xs, good, ys) => {
          const alone = commandEnvelopeSchema.safeParse(good);
          const batch = [...xs, good, ...ys].map((x) => commandEnvelopeSchema.safeParse(x));
          expect(batch[xs.length]).toEqual(alone);
          expect(alone.success).toBe(true);
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('commandAnswerSchema and heartbeatSchema (properties)', () => {
  const answer = fc.record(
    {
      commandId: fc.string(),
      machineId: fc.string(),
      ok: fc.boolean(),
      reason: fc.string(),
      duplicate: fc.boolean(),
      owner: fc.string(),
      shard: fc.integer(),
      state: fc.string(),
      seq: fc.maxSafeNat(),
      ticketId: fc.option(fc.string(), { nil: null }),
    },
    { requiredKeys: ['commandId', 'machineId', 'ok', 'owner', 'shard'] },
  );
  const heartbeat = fc.record(
    {
      workerId: fc.string(),
      pid: fc.nat(),
      shards: fc.array(fc.nat({ max: 1_000 })),
      actors: fc.nat(),
      fenced: fc.boolean(),
      ts: fc.maxSafeNat(),
      counters: fc.dictionary(
        fc.string().filter((k) => k !== '__proto__'),
        fc.integer(),
      ),
    },
    { requiredKeys: ['workerId', 'pid', 'shards', 'actors', 'fenced', 'ts'] },
  );

  it('never throw on any bytes read off NATS', () => {
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 1_000 }),
      fc.json().map((s) => new TextEncoder().encode(s)),
    );
    fc.assert(
      fc.property(bytes, (raw) => {
        expectParsed(commandAnswerSchema.safeParse(safeJson(raw)));
        expectParsed(heartbeatSchema.safeParse(safeJson(raw)));
      }),
      RUNS,
    );
  });

  it('accept every valid answer and heartbeat, round-tripped through JSON', () => {
    fc.assert(
      fc.property(answer, heartbeat, (a, h) => {
        expect(commandAnswerSchema.safeParse(JSON.parse(JSON.stringify(a)))).toEqual({
          success: true,
          data: a,
        });
        expect(heartbeatSchema.safeParse(JSON.parse(JSON.stringify(h)))).toEqual({ success: true, data: h });
      }),
      RUNS,
    );
  });
});
