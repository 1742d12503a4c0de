/**
 * A small router whose route table is also the API's description: each route names its
 * method, path, parameters, body and response schemas, and whether it changes state (then it
 * needs the bearer token). Requests are parsed at the edge; a handler only ever sees valid
 * input. The OpenAPI document (openapi.ts) is generated from the same table.
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';

/** An error with its HTTP status and one sentence for the caller. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface Route<
  P extends z.ZodType = z.ZodType,
  Q extends z.ZodType = z.ZodType,
  B extends z.ZodType = z.ZodType,
> {
  method: 'GET' | 'POST';
  /** `/api/machines/{machineId}`: braces name a path parameter. */
  path: string;
  summary: string;
  /** State-changing: needs `Authorization: Bearer <api token>`. */
  auth?: boolean;
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

const MAX_BODY = 64 * 1024;

/** The first problem of a failed parse as "field: message". */
export function reasonOf(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid input';
  const at = issue.path.length ? `${issue.path.join('.')}: ` : '';
  return `${at}${issue.message}`;
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const type = req.headers['content-type'] ?? '';
  if (!/^application\/json\b/i.test(type)) throw new HttpError(415, 'Send the body as application/json.');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new HttpError(413, `The body is over ${MAX_BODY / 1024} KiB.`);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, 'The body is not valid JSON.');
  }
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

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

/**
 * Dispatches `/api/...` requests. Answers true when it handled the request (a route matched,
 * or the path is under /api and nothing matched: 404/405).
 */
export function router(
  routes: Route[],
  token: () => string,
  onError: (err: unknown, req: IncomingMessage) => void,
) {
  const table = routes.map((r) => ({ r, ...matcher(r.path) }));
  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
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
      if (r.auth) {
        const given = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
        if (!given)
          throw new HttpError(
            401,
            'This request changes state: send the API token as "Authorization: Bearer <token>".',
          );
        if (!sameSecret(given, token())) throw new HttpError(403, 'The API token is wrong.');
      }
      let raw: Record<string, string>;
      try {
        raw = Object.fromEntries(hit.names.map((n, i) => [n, decodeURIComponent(hit.values[i] ?? '')]));
      } catch {
        throw new HttpError(400, 'The path is not valid percent-encoding.');
      }
      const input = {
        params: parse(r.params, raw, 'path parameter'),
        query: parse(r.query, Object.fromEntries(url.searchParams), 'query'),
        body: r.body ? parse(r.body, await readBody(req), 'body') : undefined,
      };
      const result = await r.handle(input, req, res);
      if (r.response !== 'stream') sendJson(res, 200, result);
    } catch (err) {
      if (!(err instanceof HttpError)) onError(err, req);
      if (res.headersSent) res.end();
      else if (err instanceof HttpError) sendJson(res, err.status, { error: err.message });
      else sendJson(res, 500, { error: `Internal error: ${(err as Error).message}` });
    }
    return true;
  };
}
