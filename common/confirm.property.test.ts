/**
 * Properties of the confirmation channel's parsers (ADR 0003): confirmKeyOf reads the key a
 * bridge confirms from any MQTT topic and payload, and confirmationSchema is what a gateway
 * reads back. Whatever arrives, a key of the topic's own machine or none, never a throw; and
 * every key a bridge collects comes back out of the messages it sends, as the gateway parses them.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { validateTelemetry } from '../pipeline/validate.js';
import {
  anyValue,
  inheritedNamesMatching,
  RUNS,
  telemetryReading,
  viaJson,
} from '../test/support/properties.js';
import { ConfirmationBuffer, type ConfirmKey, confirmationSchema, confirmKeyOf } from './confirm.js';
import { toRanges } from './ranges.js';
import { idSchema } from './telemetry.js';

const now = 1_800_000_000_000;

const id = fc.stringMatching(/^[A-Za-z0-9._-]{1,64}$/);
const topic = fc.oneof(
  fc.string(),
  fc
    .tuple(
      fc.oneof(id, fc.string()),
      fc.oneof(id, fc.string()),
      fc.oneof(id, fc.string()),
      fc.constantFrom('telemetry', 'events', 'x'),
    )
    .map((p) => `factory/${p.join('/')}`),
);
const payload = fc.oneof(
  fc.uint8Array({ maxLength: 500 }).map((a) => Buffer.from(a)),
  fc.json().map((s) => Buffer.from(s)),
  fc
    .record(
      {
        machineId: fc.oneof(id, fc.anything()),
        site: fc.anything(),
        line: fc.anything(),
        seq: fc.anything(),
        epoch: fc.anything(),
      },
      { requiredKeys: [] },
    )
    .map((o) => Buffer.from(JSON.stringify(o) ?? 'null')),
);

describe('confirmKeyOf (properties)', () => {
  it('never throws on any topic and payload; a key is always of the topic’s own machine', () => {
    fc.assert(
      fc.property(topic, payload, (t, raw) => {
        const r = confirmKeyOf(t, raw);
        if (!r) return;
        const m = /^factory\/([^/]+)\/([^/]+)\/([^/]+)\/(telemetry|events)$/.exec(t);
        expect(m).not.toBeNull();
        expect([r.site, r.line, r.key.machineId]).toEqual([m?.[1], m?.[2], m?.[3]]);
        expect(r.key.kind).toBe(m?.[4] === 'events' ? 'e' : 't');
        expect(Number.isSafeInteger(r.key.n) && r.key.n >= 0).toBe(true);
      }),
      RUNS.small,
    );
  });

  it('agrees with the bridge’s validation: a reading it accepts is confirmed by its seq', () => {
    fc.assert(
      fc.property(telemetryReading(fc.constant(now)), (r) => {
        const t = `factory/${r.site}/${r.line}/${r.machineId}/telemetry`;
        const raw = Buffer.from(JSON.stringify(r));
        expect(validateTelemetry(t, raw, now).ok).toBe(true);
        expect(confirmKeyOf(t, raw)).toEqual({
          site: r.site,
          line: r.line,
          key: { machineId: r.machineId, kind: 't', n: r.seq },
        });
      }),
      RUNS.small,
    );
  });
});

describe('ConfirmationBuffer and confirmationSchema (properties)', () => {
  /** Machine ids as idSchema allows them, names Object.prototype has included ("__proto__": below). */
  const inherited = inheritedNamesMatching(/^[A-Za-z0-9._-]{1,64}$/).filter((m) => m !== '__proto__');
  const machineId = fc.oneof(
    { weight: 5, arbitrary: id.filter((m) => m !== '__proto__') },
    { weight: 1, arbitrary: fc.constantFrom(...inherited) },
  );
  const keyOf = (ids: fc.Arbitrary<string>): fc.Arbitrary<ConfirmKey> =>
    fc.record({
      machineId: ids,
      kind: fc.constantFrom('t' as const, 'e' as const),
      n: fc.nat({ max: 1_000_000 }),
    });
  const key = keyOf(machineId);

  /** The machine/kind → numbers that the messages drained from `b` confirm, as a gateway reads them. */
  function confirmed(b: ConfirmationBuffer): Map<string, Set<number>> {
    const got = new Map<string, Set<number>>();
    for (const { message } of b.drain('bridge-1', now)) {
      const parsed = confirmationSchema.safeParse(viaJson(message));
      expect(parsed.success).toBe(true);
      if (!parsed.success) continue;
      for (const kind of ['t', 'e'] as const)
        for (const [m, ranges] of Object.entries(parsed.data[kind])) {
          const set = got.get(`${kind}:${m}`) ?? new Set<number>();
          for (const [a, z] of ranges) for (let n = a; n <= z; n++) set.add(n);
          got.set(`${kind}:${m}`, set);
        }
    }
    return got;
  }

  it('every key collected comes back out of the drained messages, as a gateway parses them', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom('s1', 's2'), fc.constantFrom('l1', 'l2'), key), { maxLength: 60 }),
        (adds) => {
          const b = new ConfirmationBuffer(7, 2_048);
          for (const [site, line, k] of adds) b.add(site, line, k);
          const got = confirmed(b);
          for (const [, , k] of adds)
            expect(got.get(`${k.kind}:${k.machineId}`)?.has(k.n), JSON.stringify(k)).toBe(true);
        },
      ),
      RUNS.small,
    );
  });

  // `message.t["__proto__"] = ranges` used to set the object's prototype instead of adding a key,
  // and JSON parsers do the same on the way in: "__proto__" is no machine id at all now
  // (idSchema), and a buffer handed one anyway keeps every other machine's confirmations whole.
  it('refuses "__proto__" as a machine id, and a buffer handed one keeps the others whole', () => {
    expect(idSchema.safeParse('__proto__').success).toBe(false);
    fc.assert(
      fc.property(
        fc.array(keyOf(fc.constant('__proto__')), { minLength: 1, maxLength: 5 }),
        fc.array(keyOf(fc.constantFrom('M-1', 'M-2')), { minLength: 1, maxLength: 20 }),
        (bad, good) => {
          const b = new ConfirmationBuffer();
          for (const k of [...bad, ...good]) b.add('s1', 'l1', k);
          const got = confirmed(b);
          for (const k of good) expect(got.get(`${k.kind}:${k.machineId}`)?.has(k.n)).toBe(true);
        },
      ),
      { numRuns: 50 },
    );
  });

  it('confirmationSchema never throws on fc.anything(); ranges it accepts are ordered', () => {
    fc.assert(
      fc.property(anyValue, (x) => {
        const r = confirmationSchema.safeParse(x);
        if (!r.success) {
          expect(r.error.issues.length).toBeGreaterThan(0);
          return;
        }
        for (const kind of ['t', 'e'] as const)
          for (const ranges of Object.values(r.data[kind]))
            for (const [a, z] of ranges) expect(z).toBeGreaterThanOrEqual(a);
      }),
      RUNS.small,
    );
  });

  it('toRanges covers exactly the numbers it was given, in order', () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 1_000 }), { maxLength: 100 }), (ns) => {
        const ranges = toRanges([...ns]);
        const covered: number[] = [];
        for (const [a, z] of ranges) for (let n = a; n <= z; n++) covered.push(n);
        expect(covered).toEqual([...new Set(ns)].sort((x, y) => x - y));
      }),
      RUNS.small,
    );
  });
});
