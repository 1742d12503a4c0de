/**
 * The web server: the page's files from web/dist and the API under /api, on one port (loopback
 * by default). The page is built by `npm run web` (also run by `factory up` when it is missing
 * or older than its sources). Every request first passes the guards (guards.ts); slow or
 * oversized requests are cut off by the limits below and the router's (routes.ts).
 */
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join } from 'node:path';
import type { Address } from '../../common/config.js';
import type { Logger } from '../../common/log.js';
import { knownHosts, refusal, setSecurityHeaders } from './guards.js';
import { ROUTER_LIMITS, type Route, type RouterLimits, router, sendJson } from './routes.js';

export const WEB_DIST = join(import.meta.dirname, '..', 'dist');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};
/** The page's own files; anything else under / is the page itself (hash routes need no more). */
const FILES = new Set(['/app.js', '/app.css', '/app.js.map', '/app.css.map']);

function serveFile(res: ServerResponse, name: string, dist: string): void {
  const path = join(dist, name);
  if (!existsSync(path)) {
    sendJson(res, 503, { error: `The page is not built (${path} is missing): run "npm run web".` });
    return;
  }
  const body = readFileSync(path);
  res.writeHead(200, {
    'content-type': TYPES[extname(name)] ?? 'application/octet-stream',
    'content-length': body.length,
    // The page loads nothing from elsewhere; nor may anything injected into it. No site frames it.
    'content-security-policy':
      "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
    'cache-control': name === 'index.html' ? 'no-cache' : 'no-cache, must-revalidate',
  });
  res.end(body);
}

export interface WebServerLimits extends RouterLimits {
  /** A request's head must arrive within this many milliseconds (a client sending it byte by byte). */
  headersTimeoutMs: number;
}

export const WEB_SERVER_LIMITS: WebServerLimits = { ...ROUTER_LIMITS, headersTimeoutMs: 10_000 };

/** Node's default cap on a request head, stated so that `--max-http-header-size` cannot raise it (431). */
const MAX_HEADER_BYTES = 16 * 1024;
/** Headers past this many are dropped by Node, not refused; a browser sends about twenty. */
const MAX_HEADERS = 100;
/** How often Node looks for requests over their time (its default, 30 s, would let 10 s be 40). */
const CHECK_TIMEOUTS_EVERY_MS = 1_000;

export interface WebServerOptions {
  addr: Address;
  routes: Route[];
  /** Routes anyone may call, by `routeKey` (api.ts PUBLIC_ROUTES); every other one needs the token. */
  publicRoutes: ReadonlySet<string>;
  token: () => string;
  log: Logger;
  dist?: string;
  /**
   * Names besides loopback and the listen address by which browsers reach this server (a
   * proxy's name, `name` or `name:port`); a request by any other name is refused.
   */
  allowedHosts?: readonly string[];
  limits?: Partial<WebServerLimits>;
}

export function startWebServer(opts: WebServerOptions): Promise<Server> {
  const dist = opts.dist ?? WEB_DIST;
  const limits = { ...WEB_SERVER_LIMITS, ...opts.limits };
  const api = router(opts.routes, {
    publicRoutes: opts.publicRoutes,
    token: opts.token,
    limits,
    onError: (err, req) =>
      opts.log.error('request failed', { method: req.method, url: req.url, error: (err as Error).stack }),
  });
  // Known once listening (the port may be 0 until then); empty, it refuses every request.
  let hosts: ReadonlySet<string> = new Set();
  const serve = async (req: IncomingMessage, res: ServerResponse) => {
    setSecurityHeaders(res);
    const refused = refusal(req, hosts);
    if (refused) {
      opts.log.warn('request refused', {
        method: req.method,
        url: req.url,
        host: req.headers.host,
        origin: req.headers.origin,
        status: refused.status,
      });
      sendJson(res, refused.status, { error: refused.message }, refused.headers);
      return;
    }
    if (await api(req, res)) return;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendJson(res, 405, { error: `${req.method} is not allowed here.` });
      return;
    }
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    serveFile(res, FILES.has(path) ? path.slice(1) : 'index.html', dist);
  };
  const server = createServer(
    {
      // A request without Host is refused by the guards, with a sentence, for HTTP/1.0 too.
      requireHostHeader: false,
      maxHeaderSize: MAX_HEADER_BYTES,
      connectionsCheckingInterval: CHECK_TIMEOUTS_EVERY_MS,
    },
    (req, res) =>
      void serve(req, res).catch((err: Error) => {
        opts.log.error('request failed', { url: req.url, error: err.stack });
        if (!res.headersSent) sendJson(res, 500, { error: err.message });
        else res.end();
      }),
  );
  server.headersTimeout = limits.headersTimeoutMs;
  // Node's request timeout runs until the request (not the answer) is complete, so an event
  // stream, whose GET has no body, outlives it. It backs up the router's body timer for a body
  // that no route reads (a POST to the page), which Node would otherwise read to its end.
  server.requestTimeout = limits.headersTimeoutMs + limits.bodyTimeoutMs + CHECK_TIMEOUTS_EVERY_MS;
  server.maxHeadersCount = MAX_HEADERS;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.addr.port, opts.addr.host, () => {
      hosts = knownHosts(opts.addr, (server.address() as AddressInfo).port, opts.allowedHosts);
      resolve(server);
    });
  });
}
