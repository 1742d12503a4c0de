/**
 * Properties of the HTTP API's request shapes (web/api/schemas.ts): bodies, path parameters and
 * query strings are parsed with these at the edge. Whatever arrives, a typed value or issues
 * with messages; never a throw. (What an inject or command body lets through is then built by
 * the CLI's builders: infra/cli/command.property.test.ts.)
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  anyValue,
  expectParsed,
  expectRoundTrip,
  finite,
  hostileValue,
  keyId,
  opt,
  RUNS,
} from '../../test/support/properties.js';
import {
  acknowledgeBodySchema,
  commandBodySchema,
  injectBodySchema,
  machineIdParam,
  openTicketBodySchema,
  seriesQuerySchema,
  shelveBodySchema,
  ticketsQuerySchema,
} from './schemas.js';

const BODIES = {
  acknowledge: acknowledgeBodySchema,
  shelve: shelveBodySchema,
  openTicket: openTicketBodySchema,
  inject: injectBodySchema,
  command: commandBodySchema,
} as const;

/** A request body as the router reads it: JSON text, an empty body being {}. */
function readBody(text: string): { ok: true; value: unknown } | { ok: false } {
  if (text.trim() === '') return { ok: true, value: {} };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

const by = opt(fc.string({ minLength: 1, maxLength: 100 }).filter((s) => s.trim() === s && s !== ''));
const paramValue = fc.oneof(fc.string({ maxLength: 40 }), finite());
const params = fc.dictionary(
  fc.string({ maxLength: 20 }).filter((k) => k !== '__proto__'),
  paramValue,
  { maxKeys: 5 },
);
const withBy = <T extends object>(o: T, b: string | undefined) => (b === undefined ? o : { ...o, by: b });

const validBodies = {
  acknowledge: by.map((b) => withBy({}, b)),
  shelve: fc
    .tuple(fc.integer({ min: 1, max: 7 * 24 * 60 }), by)
    .map(([minutes, b]) => withBy({ minutes }, b)),
  openTicket: fc
    .tuple(
      keyId,
      fc.string({ minLength: 1, maxLength: 500 }).filter((s) => s.trim() === s && s !== ''),
      by,
    )
    .map(([m, reason, b]) => withBy({ machineId: m, reason }, b)),
  inject: fc
    .tuple(fc.string({ minLength: 1, maxLength: 40 }), params, by)
    .map(([fault, p, b]) => withBy({ fault, params: p }, b)),
  command: fc
    .tuple(fc.string({ minLength: 1, maxLength: 40 }), params, by)
    .map(([type, p, b]) => withBy({ type, params: p }, b)),
};

// Just past the longest shelve, a blank `by`, and a body that sets its own prototype.
const hostile = hostileValue({
  via: 'text',
  longest: 100_000,
  also: [1.5, 7 * 24 * 60 + 1, '   ', { __proto__: { polluted: 1 } }],
});

describe('request bodies (properties)', () => {
  it('never throw on any body text, for every body schema', () => {
    const text = fc.oneof(fc.json(), fc.string(), fc.string({ unit: 'binary' }), fc.constant(''));
    fc.assert(
      fc.property(text, fc.constantFrom(...(Object.keys(BODIES) as (keyof typeof BODIES)[])), (t, which) => {
        const body = readBody(t);
        if (body.ok) expectParsed(BODIES[which].safeParse(body.value));
      }),
      RUNS.small,
    );
  });

  it('never throw on fc.anything(), for every body schema', () => {
    fc.assert(
      fc.property(
        anyValue,
        fc.constantFrom(...(Object.keys(BODIES) as (keyof typeof BODIES)[])),
        (x, which) => expectParsed(BODIES[which].safeParse(x)),
      ),
      RUNS.small,
    );
  });

  it('accept every valid body and round-trip it through JSON unchanged', () => {
    const any = fc.oneof(
      ...(Object.keys(validBodies) as (keyof typeof validBodies)[]).map((k) =>
        validBodies[k].map((v) => [k, v] as const),
      ),
    );
    fc.assert(
      fc.property(any, ([which, body]) => {
        expectRoundTrip(BODIES[which], body);
      }),
      RUNS.small,
    );
  });

  it('a valid body with one field made hostile, or an unknown key added, is refused with issues or still valid', () => {
    const keys = [
      'by',
      'minutes',
      'machineId',
      'reason',
      'fault',
      'type',
      'params',
      '__proto__',
      'constructor',
    ];
    const any = fc.oneof(
      ...(Object.keys(validBodies) as (keyof typeof validBodies)[]).map((k) =>
        validBodies[k].map((v) => [k, v] as const),
      ),
    );
    fc.assert(
      fc.property(any, fc.constantFrom(...keys), hostile, ([which, body], key, value) => {
        // Written last into the JSON text (the last of two equal keys wins), so that "__proto__"
        // arrives as an own key, as JSON.parse makes it.
        const field = `${JSON.stringify(key)}:${JSON.stringify(value) ?? 'null'}`;
        const head = JSON.stringify(body).slice(0, -1);
        const parsed = readBody(`${head}${head === '{' ? '' : ','}${field}}`);
        expect(parsed.ok).toBe(true);
        if (!parsed.ok) return;
        const r = BODIES[which].safeParse(parsed.value);
        expectParsed(r);
        if (r.success) expect(BODIES[which].safeParse(r.data).success).toBe(true);
        // The body schemas are strict: a key they do not know is refused, prototype-ish or not.
        if (!(key in (BODIES[which].shape as object))) expect(r.success).toBe(false);
      }),
      RUNS.small,
    );
  });
});

describe('path parameters and query strings (properties)', () => {
  /** The query of a URL as the router reads it. */
  const queryOf = (search: string) =>
    Object.fromEntries(new URL(`http://localhost/api/x?${search}`).searchParams);

  it('never throw on any query string, and what they accept is in range', () => {
    const search = fc.oneof(
      fc.string(),
      fc.webQueryParameters(),
      fc
        .tuple(
          fc.constantFrom('minutes', 'all', 'minutes', 'x'),
          fc.oneof(fc.string(), fc.integer().map(String)),
        )
        .map(([k, v]) => `${k}=${encodeURIComponent(v)}`),
    );
    fc.assert(
      fc.property(search, (s) => {
        const q = queryOf(s);
        const series = seriesQuerySchema.safeParse(q);
        expectParsed(series);
        if (series.success) {
          expect(Number.isInteger(series.data.minutes)).toBe(true);
          expect(series.data.minutes).toBeGreaterThanOrEqual(1);
          expect(series.data.minutes).toBeLessThanOrEqual(24 * 60);
        }
        const tickets = ticketsQuerySchema.safeParse(q);
        expectParsed(tickets);
        if (tickets.success) expect(['true', 'false']).toContain(tickets.data.all);
      }),
      RUNS.small,
    );
  });

  it('take every valid minutes and all value, written as the page writes them', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 24 * 60 }), fc.constantFrom('true', 'false'), (minutes, all) => {
        const q = queryOf(`minutes=${minutes}&all=${all}`);
        expect(seriesQuerySchema.safeParse(q)).toEqual({ success: true, data: { minutes } });
        expect(ticketsQuerySchema.safeParse(q)).toEqual({ success: true, data: { all } });
      }),
      RUNS.small,
    );
  });

  it('a machine id path parameter: never throws on any decoded segment, accepts every valid id', () => {
    const segment = fc.oneof(fc.webSegment(), fc.string(), keyId);
    fc.assert(
      fc.property(segment, keyId, (s, good) => {
        let decoded: string | undefined;
        try {
          decoded = decodeURIComponent(s);
        } catch {
          decoded = undefined;
        }
        if (decoded !== undefined) {
          const r = machineIdParam.safeParse(decoded);
          expectParsed(r);
          // An id that reached a handler never holds a separator, a quote or a wildcard.
          if (r.success) expect(r.data).toMatch(/^[A-Za-z0-9][\w.-]{0,99}$/);
        }
        expect(machineIdParam.safeParse(decodeURIComponent(encodeURIComponent(good)))).toEqual({
          success: true,
          data: good,
        });
      }),
      RUNS.small,
    );
  });
});
