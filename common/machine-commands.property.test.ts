/**
 * Properties of the command envelope (`machine-commands` records, parsed by a worker with
 * commandEnvelopeSchema before the command inside goes to parseCommand) and of the answers and
 * heartbeats that come back over NATS. Whatever bytes arrive, the parse answers a typed value or
 * issues with messages; it never throws.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  amongBad,
  anyValue,
  expectParsed,
  expectRoundTrip,
  hostileValue,
  keyId,
  opt,
  PROTO_KEYS,
  RUNS,
  recordBytes,
  replySubject,
  withOwn,
} from '../test/support/properties.js';
import {
  type CommandRecord,
  commandAnswerSchema,
  commandEnvelopeSchema,
  heartbeatSchema,
} from './machine-commands.js';
import { safeJson } from './nats.js';

const envelope: fc.Arbitrary<CommandRecord> = fc
  .record({
    commandId: keyId,
    machineId: keyId,
    command: fc.jsonValue(),
    replyTo: replySubject,
    by: opt(fc.string({ maxLength: 100 })),
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

// Subjects NATS would read as wildcards, or that would break one.
const hostile = hostileValue({ via: 'process', longest: 100_000, also: ['a b', 'x.*', 'x>'] });

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
    fc.assert(
      fc.property(recordBytes(), (raw) =>
        expectParsed(commandEnvelopeSchema.safeParse(safeJson(raw)), expectSaneEnvelope),
      ),
      RUNS.parse,
    );
  });

  it('never throws on fc.anything()', () => {
    fc.assert(
      fc.property(anyValue, (x) => expectParsed(commandEnvelopeSchema.safeParse(x), expectSaneEnvelope)),
      RUNS.parse,
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
      RUNS.parse,
    );
  });

  it('a valid envelope with one field made hostile is refused with issues, or still sane', () => {
    const keys = ['v', 'commandId', 'machineId', 'replyTo', 'by', 'ts', ...PROTO_KEYS];
    fc.assert(
      fc.property(envelope, fc.constantFrom(...keys), hostile, (e, key, value) =>
        expectParsed(commandEnvelopeSchema.safeParse(withOwn(e, key, value)), expectSaneEnvelope),
      ),
      RUNS.parse,
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
      RUNS.parse,
    );
  });

  it('a good envelope beside bad ones is untouched: its verdict does not depend on its neighbours', () => {
    const bad = fc.oneof(
      fc.anything(),
      envelope.chain((e) => hostile.map((v) => withOwn(e, 'ts', v))),
    );
    fc.assert(
      fc.property(amongBad(envelope, bad, 4), ({ good, at, batch }) => {
        const alone = commandEnvelopeSchema.safeParse(good);
        expect(batch.map((x) => commandEnvelopeSchema.safeParse(x))[at]).toEqual(alone);
        expect(alone.success).toBe(true);
      }),
      RUNS.batch,
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
    fc.assert(
      fc.property(recordBytes(), (raw) => {
        expectParsed(commandAnswerSchema.safeParse(safeJson(raw)));
        expectParsed(heartbeatSchema.safeParse(safeJson(raw)));
      }),
      RUNS.parse,
    );
  });

  it('accept every valid answer and heartbeat, round-tripped through JSON', () => {
    fc.assert(
      fc.property(answer, heartbeat, (a, h) => {
        expectRoundTrip(commandAnswerSchema, a);
        expectRoundTrip(heartbeatSchema, h);
      }),
      RUNS.parse,
    );
  });
});
