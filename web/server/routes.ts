/**
 * A small router whose route table is also the API's description: each route names its
 * method, path, parameters, body and response schemas. Every route needs the bearer token
 * unless the caller names it public: a route added without thought is closed, not open.
 * Requests are parsed at the edge; a handler only ever sees valid input. The OpenAPI document
 * (openapi.ts) is generated from the same table.
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';

/** An error with its HTTP status and one sentence for the caller. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** Headers the answer carries besides its body (`retry-after`, `connection: close`). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/**
 * A refusal sent before the body was read: the connection closes after it, so that Node does
 * not read (and discard) the rest of an unwanted body on the caller's terms.
 */
export const CLOSE = { connection: 'close' };

export interface Route<
  P extends z.ZodType = z.ZodType,
  Q extends z.ZodType = z.ZodType,
  B extends z.ZodType = z.ZodType,
> {
  method: 'GET' | 'POST';
  /** `/api/machines/{machineId}`: braces name a path parameter. */
  path: string;
  summary: string;
  params?: P;
  query?: Q;
  body?: B;
  /** The success response (200), or `stream` for Server-Sent Events. */
  response: z.ZodType | 'stream';
  handle(
    input: { params: z.output<P>; query: z.output<Q>; body: z.output<B> },
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<unknown>;
}

/** Declares a route with its types inferred from its schemas. */
export const route = <P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType>(r: Route<P, Q, B>) =>
  r as unknown as Route;

/** `GET /api/machines/{machineId}`: how a list of public routes names a route. */
export const routeKey = (r: Pick<Route, 'method' | 'path'>): string => `${r.method} ${r.path}`;

export interface RouterLimits {
  /** A body over this many bytes is refused (413), unread when its length is declared. */
  maxBodyBytes: number;
  /** A body must arrive within this many milliseconds of its head (408), or the connection closes. */
  bodyTimeoutMs: number;
  /** Event streams open at once; one more is refused (503) until one closes. */
  maxStreams: number;
}

export const ROUTER_LIMITS: RouterLimits = { maxBodyBytes: 64 * 1024, bodyTimeoutMs: 10_000, maxStreams: 64 };

/** What a refused event stream is told to wait before it tries again. */
const STREAM_RETRY_AFTER_S = 5;

/** The first problem of a failed parse as "field: message". */
export function reasonOf(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid input';
  const at = issue.path.length ? `${issue.path.join('.')}: ` : '';
  return `${at}${issue.message}`;
}

async function readBody(req: IncomingMessage, limits: RouterLimits): Promise<unknown> {
  const type = req.headers['content-type'] ?? '';
  if (!/^application\/json\b/i.test(type))
    throw new HttpError(415, 'Send the body as application/json.', CLOSE);
  // A declared length over the cap is refused at once: there is no point reading it.
  if (Number(req.headers['content-length']) > limits.maxBodyBytes) throw tooLarge(limits);
  const text = (await collect(req, limits)).toString('utf8');
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, 'The body is not valid JSON.');
  }
}

const tooLarge = (limits: RouterLimits) =>
  new HttpError(413, `The body is over ${limits.maxBodyBytes / 1024} KiB.`, CLOSE);

/**
 * The body's bytes, given up on past the size cap (a chunked body has no declared length) or
 * after the body timeout: a client that trickles a byte at a time would otherwise hold its
 * socket, and a place in the server, for as long as it likes.
 */
function collect(req: IncomingMessage, limits: RouterLimits): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (err?: HttpError) => {
      clearTimeout(timer);
      req.off('data', onData).off('end', onEnd).off('close', onClose);
      if (!err) return resolve(Buffer.concat(chunks));
      // Read no more of it; the answer closes the connection.
      req.pause();
      reject(err);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limits.maxBodyBytes) finish(tooLarge(limits));
      else chunks.push(chunk);
    };
    const onEnd = () => finish();
    const onClose = () => finish(new HttpError(400, 'The connection closed before the body arrived.', CLOSE));
    const timer = setTimeout(
      () =>
        finish(new HttpError(408, `The body did not arrive within ${limits.bodyTimeoutMs / 1000} s.`, CLOSE)),
      limits.bodyTimeoutMs,
    );
    req.on('data', onData).on('end', onEnd).on('close', onClose);
  });
}

const sameSecret = (a: string, b: string) => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

function matcher(path: string): { re: RegExp; names: string[] } {
  const names: string[] = [];
  const re = path.replace(/\{(\w+)\}/g, (_m, name: string) => {
    names.push(name);
    return '([^/]+)';
  });
  return { re: new RegExp(`^${re}$`), names };
}

function parse<T extends z.ZodType>(schema: T | undefined, value: unknown, what: string): z.output<T> {
  if (!schema) return undefined as z.output<T>;
  const r = schema.safeParse(value);
  if (!r.success) throw new HttpError(400, `Invalid ${what}: ${reasonOf(r.error)}.`);
  return r.data;
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

export interface RouterOptions {
  /** Routes anyone may call, by `routeKey`; every other route needs the bearer token. */
  publicRoutes: ReadonlySet<string>;
  token: () => string;
  onError: (err: unknown, req: IncomingMessage) => void;
  limits?: Partial<RouterLimits>;
}

/** A public route must exist and must not change state: a typo would otherwise go unseen. */
function checkPublic(routes: Route[], publicRoutes: ReadonlySet<string>): void {
  const keys = new Set(routes.map(routeKey));
  for (const key of publicRoutes) {
    if (!keys.has(key)) throw new Error(`The public route "${key}" is not in the route table.`);
    if (!key.startsWith('GET '))
      throw new Error(`The public route "${key}" is not a GET; only reads may be public.`);
  }
}

function requireToken(req: IncomingMessage, token: () => string): void {
  const given = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
  if (!given)
    throw new HttpError(401, 'This request needs the API token: send it as "Authorization: Bearer <token>".');
  if (!sameSecret(given, token())) throw new HttpError(403, 'The API token is wrong.');
}

/** Counts open event streams, so that followers cannot take every socket the process has. */
function streamGate(max: number) {
  let open = 0;
  return {
    enter(res: ServerResponse): void {
      if (open >= max)
        throw new HttpError(
          503,
          `${max} event streams are open, the most this server serves; try again in ${STREAM_RETRY_AFTER_S} s.`,
          { 'retry-after': String(STREAM_RETRY_AFTER_S) },
        );
      open++;
      res.once('close', () => open--);
    },
  };
}

/**
 * Dispatches `/api/...` requests. Answers true when it handled the request (a route matched,
 * or the path is under /api and nothing matched: 404/405).
 */
export function router(routes: Route[], opts: RouterOptions) {
  checkPublic(routes, opts.publicRoutes);
  const limits = { ...ROUTER_LIMITS, ...opts.limits };
  const streams = streamGate(limits.maxStreams);
  const table = routes.map((r) => ({ r, open: opts.publicRoutes.has(routeKey(r)), ...matcher(r.path) }));
  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      // An absolute request target Node let through but URL cannot read (`http://[`).
      sendJson(res, 400, { error: 'The request target is not a valid URL.' });
      return true;
    }
    if (!url.pathname.startsWith('/api/')) return false;
    const candidates = table.flatMap((t) => {
      const m = t.re.exec(url.pathname);
      return m ? [{ ...t, values: m.slice(1) }] : [];
    });
    try {
      if (candidates.length === 0) throw new HttpError(404, `No such API path: ${url.pathname}.`);
      const hit = candidates.find((c) => c.r.method === req.method);
      if (!hit) {
        res.setHeader('allow', candidates.map((c) => c.r.method).join(', '));
        throw new HttpError(405, `${req.method} is not allowed on ${url.pathname}.`);
      }
      const { r } = hit;
      // Before anything is read or parsed: a caller without the token learns nothing more.
      if (!hit.open) requireToken(req, opts.token);
      let raw: Record<string, string>;
      try {
        raw = Object.fromEntries(hit.names.map((n, i) => [n, decodeURIComponent(hit.values[i] ?? '')]));
      } catch {
        throw new HttpError(400, 'The path is not valid percent-encoding.');
      }
      const input = {
        params: parse(r.params, raw, 'path parameter'),
        query: parse(r.query, Object.fromEntries(url.searchParams), 'query'),
        body: r.body ? parse(r.body, await readBody(req, limits), 'body') : undefined,
      };
      if (r.response === 'stream') streams.enter(res);
      const result = await r.handle(input, req, res);
      if (r.response !== 'stream') sendJson(res, 200, result);
    } catch (err) {
      if (!(err instanceof HttpError)) opts.onError(err, req);
      if (res.headersSent) res.end();
      else if (err instanceof HttpError) sendJson(res, err.status, { error: err.message }, err.headers);
      else sendJson(res, 500, { error: `Internal error: ${(err as Error).message}` });
    }
    return true;
  };
}
