/**
 * The web server: the page's files from web/dist and the API under /api, on one port (loopback
 * by default). The page is built by `npm run web` (also run by `factory up` when it is missing
 * or older than its sources).
 */
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { extname, join } from 'node:path';
import type { Address } from '../../common/config.js';
import type { Logger } from '../../common/log.js';
import { type Route, router, sendJson } from './routes.js';

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
    // The page loads nothing from elsewhere; nor may anything injected into it.
    'content-security-policy': "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:",
    'x-content-type-options': 'nosniff',
    'cache-control': name === 'index.html' ? 'no-cache' : 'no-cache, must-revalidate',
  });
  res.end(body);
}

export function startWebServer(opts: {
  addr: Address;
  routes: Route[];
  token: () => string;
  log: Logger;
  dist?: string;
}): Promise<Server> {
  const dist = opts.dist ?? WEB_DIST;
  const api = router(opts.routes, opts.token, (err, req) =>
    opts.log.error('request failed', { method: req.method, url: req.url, error: (err as Error).stack }),
  );
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      if (await api(req, res)) return;
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        sendJson(res, 405, { error: `${req.method} is not allowed here.` });
        return;
      }
      const path = new URL(req.url ?? '/', 'http://localhost').pathname;
      serveFile(res, FILES.has(path) ? path.slice(1) : 'index.html', dist);
    })().catch((err: Error) => {
      opts.log.error('request failed', { url: req.url, error: err.stack });
      if (!res.headersSent) sendJson(res, 500, { error: err.message });
      else res.end();
    });
  });
  // Event streams stay open; only idle keep-alive sockets time out.
  server.requestTimeout = 0;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.addr.port, opts.addr.host, () => resolve(server));
  });
}
