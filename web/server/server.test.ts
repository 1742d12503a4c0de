import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { type IncomingHttpHeaders, request, type Server } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type Logger, silentLogger } from '../../common/log.js';
import { type ApiContext, apiRoutes, PUBLIC_ROUTES } from './api.js';
import { type Route, route, routeKey } from './routes.js';
import { startWebServer, type WebServerLimits } from './server.js';

const TOKEN = 'a-token-of-enough-length';
/** Short, so that a test sees a slow client cut off; far above what a local request needs. */
const LIMITS: Partial<WebServerLimits> = { headersTimeoutMs: 500, bodyTimeoutMs: 500 };

const pokes: unknown[] = [];
const routes: Route[] = [
  route({
    method: 'GET',
    path: '/api/things',
    summary: 'a public read',
    response: z.object({ ok: z.boolean() }),
    handle: async () => ({ ok: true }),
  }),
  route({
    method: 'GET',
    path: '/api/stream',
    summary: 'an event stream that ticks every 100 ms',
    response: 'stream',
    handle: async (_input, req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(': open\n\n');
      const tick = setInterval(() => res.write(': tick\n\n'), 100);
      req.on('close', () => clearInterval(tick));
    },
  }),
  route({
    method: 'POST',
    path: '/api/poke',
    summary: 'changes state',
    body: z.object({ n: z.number() }),
    response: z.object({ ok: z.boolean() }),
    handle: async ({ body }) => {
      pokes.push(body);
      return { ok: true };
    },
  }),
];
const PUBLIC = new Set(['GET /api/things', 'GET /api/stream']);

const dist = mkdtempSync(join(tmpdir(), 'web-dist-'));
writeFileSync(join(dist, 'index.html'), '<!doctype html><title>floor</title>');
writeFileSync(join(dist, 'app.js'), 'console.log(1);');

const warnings: Record<string, unknown>[] = [];
const log: Logger = { ...silentLogger, warn: (_msg, fields) => warnings.push(fields ?? {}) };

async function start(opts: { routes?: Route[]; publicRoutes?: ReadonlySet<string>; limits?: typeof LIMITS }) {
  const server = await startWebServer({
    addr: { host: '127.0.0.1', port: 0 },
    routes: opts.routes ?? routes,
    publicRoutes: opts.publicRoutes ?? PUBLIC,
    token: () => TOKEN,
    log,
    dist,
    allowedHosts: ['factory.example', 'Proxy.example:8443'],
    limits: { ...LIMITS, ...opts.limits },
  });
  return { server, port: (server.address() as AddressInfo).port };
}

const stop = (server: Server) =>
  new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });

let server: Server;
let port = 0;
beforeAll(async () => {
  ({ server, port } = await start({}));
});
afterAll(async () => {
  await stop(server);
  rmSync(dist, { recursive: true, force: true });
});

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** For an event stream: ends it. */
  close: () => void;
}

/** One request on its own connection; an event stream answers with its head and stays open. */
function send(
  path: string,
  opts: {
    method?: string;
    headers?: Record<string, string>;
    body?: string;
    setHost?: boolean;
    to?: number;
  } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: opts.to ?? port,
        path,
        method: opts.method ?? 'GET',
        headers: opts.headers,
        setHost: opts.setHost ?? true,
        agent: false,
      },
      (res) => {
        const answer = {
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: '',
          close: () => res.destroy(),
        };
        if (res.headers['content-type']?.startsWith('text/event-stream')) return resolve(answer);
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          answer.body += chunk;
        });
        res.on('end', () => resolve(answer));
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

const errorOf = (a: Answer) => (JSON.parse(a.body) as { error: string }).error;

const poke = (headers: Record<string, string> = {}) =>
  send('/api/poke', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}`, ...headers },
    body: '{"n": 1}',
  });

interface RawReply {
  reply: string;
  status: number;
  body: string;
  closed: boolean;
  elapsedMs: number;
}

/**
 * Writes `text` on a fresh connection, then lets `after` keep writing, and collects the reply
 * until the server closes the connection or `ms` pass.
 */
function raw(
  text: string,
  opts: { ms?: number; after?: (socket: Socket) => void; to?: number } = {},
): Promise<RawReply> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const socket = connect(opts.to ?? port, '127.0.0.1');
    let reply = '';
    const done = (closed: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(reply)?.[1] ?? 0);
      resolve({ reply, status, body: reply.split('\r\n\r\n')[1] ?? '', closed, elapsedMs: Date.now() - t0 });
    };
    const timer = setTimeout(() => done(false), opts.ms ?? 4_000);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      reply += chunk;
    });
    socket.on('close', () => done(true));
    socket.on('error', () => {});
    socket.write(text, () => opts.after?.(socket));
  });
}

const waitFor = async (check: () => Promise<boolean>, ms: number) => {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`not true within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

describe('the Host allow-list (DNS rebinding)', () => {
  it('answers to loopback, the listen address and the configured names', async () => {
    const names = [
      `127.0.0.1:${port}`,
      `localhost:${port}`,
      `LocalHost:${port}`,
      `[::1]:${port}`,
      'factory.example',
      `factory.example:${port}`,
      'proxy.example:8443',
    ];
    for (const host of names)
      expect((await send('/api/things', { headers: { host } })).status, host).toBe(200);
  });

  it('refuses any other name with 421 and a sentence, on every path, before any route runs', async () => {
    const before = pokes.length;
    const hosts = [
      `evil.example:${port}`,
      'evil.example',
      `127.0.0.1:${port + 1}`,
      `factory.example.evil.example:${port}`,
      'proxy.example',
    ];
    const paths = ['/', '/app.js', '/machines/M-0001', '/api/things', '/api/stream', '/api/nothing'];
    for (const host of hosts) {
      for (const path of paths) {
        const a = await send(path, { headers: { host } });
        expect(a.status, `${host} ${path}`).toBe(421);
        expect(errorOf(a)).toMatch(/^This server does not answer to the name ".+"; use its own address/);
      }
      const p = await poke({ host });
      expect(p.status).toBe(421);
      expect(p.headers.connection).toBe('close');
    }
    expect(pokes.length).toBe(before);
    expect(warnings).toContainEqual(expect.objectContaining({ host: 'evil.example', status: 421 }));
  });

  it('refuses a request without Host, HTTP/1.1 and HTTP/1.0 alike', async () => {
    const a = await send('/api/things', { setHost: false });
    expect(a.status).toBe(421);
    expect(errorOf(a)).toBe('The request has no Host header; name this server in it.');
    const old = await raw('GET / HTTP/1.0\r\n\r\n');
    expect(old.status).toBe(421);
    expect(JSON.parse(old.body)).toEqual({
      error: 'The request has no Host header; name this server in it.',
    });
  });
});

describe('cross-site requests (CSRF)', () => {
  it('refuses a state-changing request from another site’s page with 403, even with the token', async () => {
    const before = pokes.length;
    for (const origin of ['http://evil.example', `http://evil.example:${port}`, 'null', 'file://']) {
      const a = await poke({ origin });
      expect(a.status, origin).toBe(403);
      expect(errorOf(a)).toMatch(/^A page of ".+" may not change anything here\.$/);
    }
    expect(pokes.length).toBe(before);
  });

  it('lets the page’s own origin, a configured name and clients without Origin through', async () => {
    for (const origin of [`http://127.0.0.1:${port}`, `http://localhost:${port}`, 'https://factory.example'])
      expect((await poke({ origin })).status, origin).toBe(200);
    expect((await poke()).status).toBe(200);
    // fetch (undici) sends no Origin: scripts keep working with the token alone.
    const f = await fetch(`http://127.0.0.1:${port}/api/poke`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      body: '{"n": 2}',
    });
    expect(f.status).toBe(200);
    // Reads are not state-changing: another site's page cannot read the answer anyway (no CORS).
    expect((await send('/api/things', { headers: { origin: 'http://evil.example' } })).status).toBe(200);
  });
});

describe('headers on every answer', () => {
  const SAME = {
    'x-frame-options': 'DENY',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'cross-origin-resource-policy': 'same-origin',
  };

  it('forbids framing and sniffing and sends no referrer, on the page, the API, streams and refusals', async () => {
    const answers: [string, Answer][] = [
      ['page', await send('/')],
      ['page file', await send('/app.js')],
      ['read', await send('/api/things')],
      ['404', await send('/api/nothing')],
      ['401', await poke({ authorization: '' })],
      ['421', await send('/api/things', { headers: { host: 'evil.example' } })],
      ['405', await send('/', { method: 'DELETE' })],
      ['stream', await send('/api/stream')],
    ];
    for (const [what, a] of answers) {
      a.close();
      expect(a.headers, what).toMatchObject(SAME);
      expect(a.headers['content-security-policy'], what).toContain("frame-ancestors 'none'");
    }
    // The page's own policy says what it may load, and still that no one may frame it.
    expect(answers[0]![1].headers['content-security-policy']).toBe(
      "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
    );
    expect(answers[2]![1].headers['content-security-policy']).toBe(
      "default-src 'none'; frame-ancestors 'none'",
    );
  });
});

describe('event streams', () => {
  it('serves at most maxStreams at once: one more gets 503 with retry-after until one closes', async () => {
    const own = await start({ limits: { maxStreams: 2 } });
    const open = (to = own.port) => send('/api/stream', { to });
    const first = await open();
    const second = await open();
    expect([first.status, second.status]).toEqual([200, 200]);
    const over = await open();
    expect(over.status).toBe(503);
    expect(over.headers['retry-after']).toBe('5');
    expect(errorOf(over)).toBe('2 event streams are open, the most this server serves; try again in 5 s.');
    // Other requests are not counted.
    expect((await send('/api/things', { to: own.port })).status).toBe(200);
    first.close();
    let again: Answer | undefined;
    await waitFor(async () => {
      again = await open();
      return again.status === 200;
    }, 2_000);
    expect((await open()).status).toBe(503);
    second.close();
    again?.close();
    await stop(own.server);
  });

  it('stays open past the head, body and request timeouts that cut other requests off', async () => {
    // 500 + 500 + 1 000 ms (requestTimeout) and Node's 1 s check: a cut would come before 3.2 s.
    const r = await raw(`GET /api/stream HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`, { ms: 3_200 });
    expect(r.status).toBe(200);
    expect(r.closed).toBe(false);
    // Still ticking at the end.
    expect(r.reply.trimEnd().endsWith(': tick')).toBe(true);
  });
});

describe('slow and large requests', () => {
  /** Writes `bytes` every 50 ms once the head is sent, for as long as the connection lives. */
  const trickle = (bytes: string) => (socket: Socket) => {
    const drip = setInterval(() => socket.write(bytes), 50);
    socket.on('close', () => clearInterval(drip));
  };

  it('cuts off a client that sends its head slowly (408), after headersTimeout', async () => {
    // A long body timeout, so that the request timeout (head + body + 1 s) cannot be what cuts.
    const own = await start({ limits: { bodyTimeoutMs: 10_000 } });
    const r = await raw(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${own.port}\r\nX-Slow: `, {
      to: own.port,
      after: trickle('a'),
    });
    expect(r.closed).toBe(true);
    expect(r.status).toBe(408);
    // 500 ms and Node's check every second.
    expect(r.elapsedMs).toBeLessThan(3_000);
    await stop(own.server);
  });

  it('cuts off a body that no route reads (a POST to the page) at the request timeout', async () => {
    const r = await raw(
      `POST / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\n`,
      { ms: 4_500, after: trickle('x') },
    );
    expect(r.status).toBe(405);
    // 500 + 500 + 1 000 ms and Node's check every second.
    expect(r.closed).toBe(true);
  });

  it('cuts off a body that trickles (408 with a sentence) and closes the connection', async () => {
    const before = pokes.length;
    const r = await raw(
      `POST /api/poke HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${TOKEN}\r\n` +
        'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{',
      { after: trickle(' ') },
    );
    expect(r.status).toBe(408);
    expect(JSON.parse(r.body)).toEqual({ error: 'The body did not arrive within 0.5 s.' });
    expect(r.reply).toMatch(/\r\nconnection: close\r\n/i);
    expect(r.closed).toBe(true);
    expect(r.elapsedMs).toBeLessThan(2_000);
    expect(pokes.length).toBe(before);
  });

  it('refuses a declared body over 64 KiB at once (413), without waiting for it', async () => {
    const r = await raw(
      `POST /api/poke HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${TOKEN}\r\n` +
        'Content-Type: application/json\r\nContent-Length: 10000000\r\n\r\n',
    );
    expect(r.status).toBe(413);
    // 413, not the body timer's 408: nothing of the body was awaited.
    expect(JSON.parse(r.body)).toEqual({ error: 'The body is over 64 KiB.' });
    expect(r.closed).toBe(true);
  });

  it('refuses a chunked body once it passes 64 KiB (413)', async () => {
    const chunk = 'x'.repeat(70_000);
    const r = await raw(
      `POST /api/poke HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${TOKEN}\r\n` +
        `Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${chunk.length.toString(16)}\r\n${chunk}\r\n`,
    );
    expect(r.status).toBe(413);
    expect(r.closed).toBe(true);
  });

  it('refuses a head over 16 KiB (431, Node’s cap, pinned by maxHeaderSize)', async () => {
    const r = await raw(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nX-Pad: ${'a'.repeat(17_000)}\r\n\r\n`);
    expect(r.status).toBe(431);
  });
});

describe('the API’s route table', () => {
  /** Builds the routes only: no handler runs when the token is missing. */
  const api = apiRoutes({} as ApiContext);
  const pathOf = (r: Route) => r.path.replace(/\{\w+\}/g, 'M-0001');

  it('lists as public only reads', () => {
    for (const key of PUBLIC_ROUTES) expect(key).toMatch(/^GET /);
    // The POSTs the page sends with the token are not public.
    expect(PUBLIC_ROUTES.has('POST /api/tickets')).toBe(false);
  });

  it('answers 401 without the token on every route not listed as public', async () => {
    const own = await start({ routes: api, publicRoutes: PUBLIC_ROUTES });
    const closed = api.filter((r) => !PUBLIC_ROUTES.has(routeKey(r)));
    expect(closed.length).toBeGreaterThan(0);
    for (const r of closed) {
      const a = await send(pathOf(r), {
        to: own.port,
        method: r.method,
        headers: { 'content-type': 'application/json' },
        body: r.method === 'GET' ? undefined : '{}',
      });
      expect(a.status, routeKey(r)).toBe(401);
    }
    await stop(own.server);
  });
});
