/**
 * Properties of the API router's parsing (web/server/routes.ts) over the real route table
 * (apiRoutes, with every handler replaced by one that echoes what it was given, so no server,
 * NATS or InfluxDB is needed): whatever the method, request target, headers and body, the
 * router answers once, with 200 and the parsed input, or with a 4xx and a sentence; it never
 * rejects, never answers 500, and a handler only ever sees valid input.
 *
 * Requests and answers are in-memory stand-ins for node's IncomingMessage and ServerResponse:
 * nothing listens on a port.
 */
import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Config } from '../../common/config.js';
import { amongBad, expectSentence, RUNS } from '../../test/support/properties.js';
import { type ApiContext, apiRoutes, PUBLIC_ROUTES } from './api.js';
import { type Route, router } from './routes.js';

const TOKEN = 'a-token-of-enough-length-for-tests';
const MAX_BODY = 4 * 1024;

// ---------------------------------------------------------------------------------------------
// The route table, with echoing handlers

const ctx = { config: {} as Config, live: {} } as unknown as ApiContext;
const routes: Route[] = apiRoutes(ctx).map((r) => ({
  ...r,
  handle: async (input, _req, res) => {
    handled.push({ route: `${r.method} ${r.path}`, input });
    // An event stream answers by itself (the router sends nothing after its handler).
    if (r.response === 'stream') res.writeHead(200).end(JSON.stringify({ echo: input }));
    return { echo: input };
  },
}));
const handled: { route: string; input: unknown }[] = [];
const errors: unknown[] = [];
const api = router(routes, {
  publicRoutes: PUBLIC_ROUTES,
  token: () => TOKEN,
  onError: (err) => errors.push(err),
  limits: { maxBodyBytes: MAX_BODY, bodyTimeoutMs: 2_000, maxStreams: 1_000_000 },
});

// ---------------------------------------------------------------------------------------------
// In-memory requests and answers

interface Answer {
  handled: boolean;
  status: number | undefined;
  body: string;
  writes: number;
}

class FakeResponse extends EventEmitter {
  headersSent = false;
  statusCode: number | undefined;
  headers: Record<string, unknown> = {};
  body = '';
  writes = 0;
  setHeader(name: string, value: unknown) {
    this.headers[name.toLowerCase()] = value;
    return this;
  }
  writeHead(status: number, headers: Record<string, unknown> = {}) {
    this.writes++;
    this.statusCode = status;
    this.headersSent = true;
    for (const [k, v] of Object.entries(headers)) this.headers[k.toLowerCase()] = v;
    return this;
  }
  write(chunk: string) {
    this.body += chunk;
    return true;
  }
  end(chunk?: string) {
    if (chunk) this.body += chunk;
    this.emit('close');
    return this;
  }
  flushHeaders() {}
}

interface Request {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: Buffer;
}

async function send(r: Request): Promise<Answer> {
  const req = Object.assign(Readable.from(r.body.length ? [r.body] : []), {
    method: r.method,
    url: r.url,
    headers: r.headers,
  }) as unknown as IncomingMessage;
  const res = new FakeResponse();
  const wasHandled = await api(req, res as unknown as ServerResponse);
  return { handled: wasHandled, status: res.statusCode, body: res.body, writes: res.writes };
}

/** What every answer must be: one status, and for a refusal a JSON sentence. */
function expectAnswer(a: Answer): void {
  if (!a.handled) return;
  expect(a.writes).toBe(1);
  expect(a.status).toBeDefined();
  expect(a.status, a.body).not.toBe(500);
  if (a.status !== 200) {
    expect(a.status).toBeGreaterThanOrEqual(400);
    expect(a.status).toBeLessThan(600);
    expectSentence((JSON.parse(a.body) as { error?: unknown }).error);
  }
}

// ---------------------------------------------------------------------------------------------
// Arbitraries

const machineId = fc.stringMatching(/^[A-Za-z0-9][\w.-]{0,40}$/);
const segment = fc.oneof(
  machineId,
  fc.webSegment(),
  fc.string({ maxLength: 30 }).map(encodeURIComponent),
  fc.constantFrom('%', '%zz', '%E0%A4%A', '..', '.', '%2F', '%00', '__proto__', 'constructor'),
);
const path = fc.oneof(
  fc.constantFrom(
    ...routes.map((r) => r.path),
    '/api/',
    '/api',
    '/api/machines/',
    '/api//machines',
    '/api/nothing',
    '/',
    '/index.html',
  ),
  fc.tuple(fc.constantFrom(...routes.map((r) => r.path)), segment).map(([p, s]) => p.replace(/\{\w+\}/g, s)),
  fc.webPath().map((p) => `/api${p.startsWith('/') ? p : `/${p}`}`),
);
const query = fc.oneof(
  fc.constant(''),
  fc.webQueryParameters().map((q) => `?${q}`),
  fc
    .tuple(
      fc.constantFrom('minutes', 'all', 'x', '__proto__'),
      fc.oneof(fc.string({ maxLength: 10 }), fc.integer().map(String)),
    )
    .map(([k, v]) => `?${k}=${encodeURIComponent(v)}`),
);
const body = fc.oneof(
  fc.constant(''),
  fc.json({ maxDepth: 3 }),
  fc.string({ maxLength: 200 }),
  fc.jsonValue({ maxDepth: 2 }).map((v) =>
    JSON.stringify({
      by: 'me',
      minutes: 5,
      fault: 'jam',
      type: 'STOP',
      params: {},
      reason: 'r',
      machineId: 'M-1',
      x: v,
    }),
  ),
  fc.nat({ max: 3 * MAX_BODY }).map((n) => `{"by":"${'x'.repeat(n)}"}`),
);
const headers = fc.record(
  {
    'content-type': fc.constantFrom(
      'application/json',
      'application/json; charset=utf-8',
      'text/plain',
      'APPLICATION/JSON',
      '',
    ),
    authorization: fc.oneof(
      fc.constant(`Bearer ${TOKEN}`),
      fc.constant(`bearer  ${TOKEN}`),
      fc.constant('Bearer wrong'),
      fc.constant('Bearer'),
      fc.string({ maxLength: 40 }),
    ),
    'content-length': fc.oneof(
      fc.nat({ max: 10 * MAX_BODY }).map(String),
      fc.constantFrom('-1', 'abc', '1e9'),
    ),
  },
  { requiredKeys: [] },
);
const request: fc.Arbitrary<Request> = fc
  .record({
    method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'get', 'CONSTRUCTOR'),
    path,
    query,
    headers,
    body,
  })
  .map((r) => ({
    method: r.method,
    url: `${r.path}${r.query}`,
    headers: r.headers,
    body: Buffer.from(r.body),
  }));

// ---------------------------------------------------------------------------------------------

describe('the API router over the real route table (properties)', () => {
  it('answers any request once: 200 with the parsed input, or a 4xx with a sentence; never a 500', async () => {
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        errors.length = 0;
        const a = await send(r);
        expectAnswer(a);
        expect(errors).toEqual([]);
        if (!r.url.startsWith('/api/')) expect(a.handled).toBe(false);
      }),
      RUNS.parse,
    );
  });

  it('a handler only ever sees a valid machine id, minutes in range and a strict body', async () => {
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        handled.length = 0;
        await send({ ...r, headers: { ...r.headers, authorization: `Bearer ${TOKEN}` } });
        for (const h of handled) {
          const input = h.input as { params?: { machineId?: unknown }; query?: { minutes?: unknown } };
          if (input.params?.machineId !== undefined)
            expect(input.params.machineId).toMatch(/^[A-Za-z0-9][\w.-]{0,99}$/);
          if (input.query?.minutes !== undefined) {
            expect(Number.isInteger(input.query.minutes)).toBe(true);
            expect(input.query.minutes as number).toBeGreaterThanOrEqual(1);
            expect(input.query.minutes as number).toBeLessThanOrEqual(24 * 60);
          }
        }
      }),
      RUNS.parse,
    );
  });

  it('takes every valid request of a state-changing route, with the token, and hands its parsed body over', async () => {
    const shelve = fc
      .record({
        alarm: fc.stringMatching(/^[A-Za-z0-9-]{1,20}\.[a-z-]{1,10}\.\d{1,5}$/),
        minutes: fc.integer({ min: 1, max: 7 * 24 * 60 }),
      })
      .map(({ alarm, minutes }) => ({
        request: {
          method: 'POST',
          url: `/api/alarms/${encodeURIComponent(alarm)}/shelve`,
          headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
          body: Buffer.from(JSON.stringify({ minutes, by: 'me' })),
        },
        input: { params: { alarmId: alarm }, body: { minutes, by: 'me' } },
      }));
    const series = fc
      .record({ id: machineId, minutes: fc.integer({ min: 1, max: 24 * 60 }) })
      .map(({ id, minutes }) => ({
        request: {
          method: 'GET',
          url: `/api/machines/${encodeURIComponent(id)}/series?minutes=${minutes}`,
          headers: {},
          body: Buffer.alloc(0),
        },
        input: { params: { machineId: id }, query: { minutes } },
      }));
    await fc.assert(
      fc.asyncProperty(fc.oneof(shelve, series), async ({ request: r, input }) => {
        const a = await send(r);
        expect(a.status, a.body).toBe(200);
        expect((JSON.parse(a.body) as { echo: unknown }).echo).toMatchObject(input);
      }),
      RUNS.parse,
    );
  });

  it('a good request beside bad ones is untouched: its answer does not depend on its neighbours', async () => {
    const good: Request = {
      method: 'POST',
      url: '/api/machines/M-0001/commands',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      body: Buffer.from(JSON.stringify({ type: 'STOP', params: {} })),
    };
    const alone = await send(good);
    expect(alone.status).toBe(200);
    await fc.assert(
      fc.asyncProperty(amongBad(fc.constant(good), request, 4), async ({ at, batch }) => {
        const answers = [];
        for (const r of batch) answers.push(await send(r));
        expect(answers[at]).toEqual(alone);
      }),
      { numRuns: 100 },
    );
  });

  // fails before the router reads the request target inside its try: `new URL(req.url)` throws
  // on a target such as "http://[" or "http://a:99999/", the promise rejects, and the server's
  // last-resort catch answers 500 with "Invalid URL" instead of a 400 with a sentence.
  it('answers a malformed absolute request target with a 4xx, not a rejected promise', async () => {
    const target = fc.oneof(
      fc.constantFrom('http://[', 'http://a:99999/api/machines', 'http://[::1/api/', 'http://%zz/api/health'),
      fc.string({ maxLength: 20 }).map((s) => `http://[${s}/api/health`),
    );
    await fc.assert(
      fc.asyncProperty(target, async (url) => {
        const a = await send({ method: 'GET', url, headers: {}, body: Buffer.alloc(0) }).catch(
          (err: Error) => err,
        );
        expect(a).not.toBeInstanceOf(Error);
        if (!(a instanceof Error)) expectAnswer(a);
      }),
      { numRuns: 50 },
    );
  });
});
