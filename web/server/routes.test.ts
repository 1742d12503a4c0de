import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { StackError } from '../../infra/supervisor/stack.js';
import { asHttp } from './api.js';
import { openApiDocument } from './openapi.js';
import { HttpError, type Route, route, router } from './routes.js';

const TOKEN = 'a-token-of-enough-length';
const calls: unknown[] = [];
const routes: Route[] = [
  route({
    method: 'GET',
    path: '/api/things/{id}',
    summary: 'one thing',
    params: z.object({ id: z.string().regex(/^T-\d+$/, 'expected T-<n>') }),
    query: z.object({ n: z.coerce.number().int().min(1).default(5) }),
    response: z.object({ id: z.string(), n: z.number() }),
    handle: async ({ params, query }) => ({ id: params.id, n: query.n }),
  }),
  route({
    method: 'POST',
    path: '/api/things/{id}/poke',
    summary: 'pokes a thing',
    params: z.object({ id: z.string() }),
    body: z.object({ minutes: z.number().int().positive() }).strict(),
    response: z.object({ ok: z.boolean() }),
    handle: async ({ params, body }) => {
      calls.push({ params, body });
      if (params.id === 'missing') throw new HttpError(404, 'No thing missing.');
      if (params.id === 'boom') throw new Error('kaput');
      return { ok: true };
    },
  }),
  route({
    method: 'GET',
    path: '/api/secrets',
    summary: 'a read nobody listed as public',
    response: z.object({ secret: z.string() }),
    handle: async () => ({ secret: 'hush' }),
  }),
];
const PUBLIC = new Set(['GET /api/things/{id}']);

let server: Server;
let base = '';
const errors: unknown[] = [];
beforeAll(async () => {
  const api = router(routes, {
    publicRoutes: PUBLIC,
    token: () => TOKEN,
    onError: (err) => errors.push(err),
  });
  server = createServer((req, res) => {
    void api(req, res).then((handled) => {
      if (!handled) res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const post = (path: string, body: string, headers: Record<string, string> = {}) =>
  fetch(`${base}${path}`, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}`, ...headers },
  });

describe('the API router', () => {
  it('parses path and query at the edge, with defaults', async () => {
    expect(await (await fetch(`${base}/api/things/T-1`)).json()).toEqual({ id: 'T-1', n: 5 });
    expect(await (await fetch(`${base}/api/things/T-1?n=7`)).json()).toEqual({ id: 'T-1', n: 7 });
  });

  it('answers bad input 400 with the field and the reason', async () => {
    const r = await fetch(`${base}/api/things/X-1`);
    expect(r.status).toBe(400);
    expect(await r.json()).toEqual({ error: 'Invalid path parameter: id: expected T-<n>.' });
    const q = await fetch(`${base}/api/things/T-1?n=0`);
    expect(q.status).toBe(400);
    expect(((await q.json()) as { error: string }).error).toMatch(/^Invalid query: n: /);
    const b = await post('/api/things/T-1/poke', '{"minutes": -3}');
    expect(b.status).toBe(400);
    expect(((await b.json()) as { error: string }).error).toMatch(/^Invalid body: minutes: /);
    const extra = await post('/api/things/T-1/poke', '{"minutes": 3, "sneaky": true}');
    expect(extra.status).toBe(400);
    const notJson = await post('/api/things/T-1/poke', '{"minutes": ');
    expect(notJson.status).toBe(400);
    expect(await notJson.json()).toEqual({ error: 'The body is not valid JSON.' });
  });

  it('refuses a state-changing request without the token (401) or with a wrong one (403), before reading it', async () => {
    const before = calls.length;
    const none = await post('/api/things/T-1/poke', '{"minutes": 3}', { authorization: '' });
    expect(none.status).toBe(401);
    expect(((await none.json()) as { error: string }).error).toMatch(/Authorization: Bearer/);
    const wrong = await post('/api/things/T-1/poke', '{"minutes": 3}', { authorization: 'Bearer nope' });
    expect(wrong.status).toBe(403);
    expect(calls.length).toBe(before);
    expect((await post('/api/things/T-1/poke', '{"minutes": 3}')).status).toBe(200);
    expect(calls.length).toBe(before + 1);
  });

  it('asks for the token on every route not listed as public, reads included', async () => {
    const none = await fetch(`${base}/api/secrets`);
    expect(none.status).toBe(401);
    expect(((await none.json()) as { error: string }).error).toMatch(/Authorization: Bearer/);
    const wrong = await fetch(`${base}/api/secrets`, { headers: { authorization: 'Bearer nope' } });
    expect(wrong.status).toBe(403);
    const right = await fetch(`${base}/api/secrets`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(await right.json()).toEqual({ secret: 'hush' });
  });

  it('refuses a public list that names no route or a route that changes state', () => {
    const make = (key: string) => () =>
      router(routes, { publicRoutes: new Set([key]), token: () => TOKEN, onError: () => {} });
    expect(make('GET /api/thing/{id}')).toThrow(
      'The public route "GET /api/thing/{id}" is not in the route table.',
    );
    expect(make('POST /api/things/{id}/poke')).toThrow(/only reads may be public/);
  });

  it('says 404 for unknown paths, 405 with Allow for a wrong method, 413 and 415 for bodies', async () => {
    expect((await fetch(`${base}/api/nothing`)).status).toBe(404);
    const m = await fetch(`${base}/api/things/T-1`, { method: 'DELETE' });
    expect(m.status).toBe(405);
    expect(m.headers.get('allow')).toBe('GET');
    expect(
      (await post('/api/things/T-1/poke', JSON.stringify({ minutes: 1, pad: 'x'.repeat(70_000) }))).status,
    ).toBe(413);
    expect((await post('/api/things/T-1/poke', '{}', { 'content-type': 'text/plain' })).status).toBe(415);
    // Not under /api: left to the caller.
    expect((await fetch(`${base}/floor`)).status).toBe(204);
  });

  it('passes a handler’s HttpError through, and hides nothing of an internal one but the stack', async () => {
    const nf = await post('/api/things/missing/poke', '{"minutes": 1}');
    expect(nf.status).toBe(404);
    expect(await nf.json()).toEqual({ error: 'No thing missing.' });
    const boom = await post('/api/things/boom/poke', '{"minutes": 1}');
    expect(boom.status).toBe(500);
    expect(await boom.json()).toEqual({ error: 'Internal error: kaput' });
    expect(errors.length).toBe(1);
  });
});

describe('CLI refusals as HTTP answers', () => {
  it('keeps the sentence and picks the status it amounts to', () => {
    const status = (m: string) => (asHttp(new StackError(m)) as HttpError).status;
    expect(status('No machine M-9 in the fleet registry (see "factory status").')).toBe(404);
    expect(status('Cannot reach NATS: is the stack running ("factory status")?')).toBe(503);
    expect(status("No answer from M-0001's owner within 10 s; the command stays queued for it.")).toBe(503);
    expect(status('Unknown fault "melt"; expected one of overheat, jam.')).toBe(400);
    expect((asHttp(new StackError('Unknown fault "melt".')) as HttpError).message).toBe(
      'Unknown fault "melt".',
    );
    const other = new Error('x');
    expect(asHttp(other)).toBe(other);
  });
});

describe('the OpenAPI document', () => {
  it('describes every route with its parameters, body, responses and the token it needs', () => {
    const doc = openApiDocument(routes, '1', PUBLIC) as {
      openapi: string;
      security: unknown;
      paths: Record<
        string,
        Record<
          string,
          {
            parameters: { name: string; in: string }[];
            security?: unknown;
            requestBody?: unknown;
            responses: Record<string, unknown>;
          }
        >
      >;
    };
    expect(doc.openapi).toBe('3.1.0');
    const get = doc.paths['/api/things/{id}']!.get!;
    expect(get.parameters.map((p) => `${p.in}:${p.name}`)).toEqual(['path:id', 'query:n']);
    // The token is the document's default; a public operation opts out.
    expect(doc.security).toEqual([{ apiToken: [] }]);
    expect(get.security).toEqual([]);
    expect(Object.keys(get.responses)).not.toContain('401');
    expect(doc.paths['/api/secrets']!.get!.security).toBeUndefined();
    expect(Object.keys(doc.paths['/api/secrets']!.get!.responses)).toEqual(
      expect.arrayContaining(['401', '403', '421']),
    );
    const poke = doc.paths['/api/things/{id}/poke']!.post!;
    expect(poke.security).toBeUndefined();
    expect(poke.requestBody).toMatchObject({
      content: { 'application/json': { schema: { properties: { minutes: { type: 'integer' } } } } },
    });
    expect(Object.keys(poke.responses)).toEqual(
      expect.arrayContaining(['200', '400', '401', '403', '408', '413', '415', '421']),
    );
  });
});
