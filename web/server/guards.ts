/**
 * What every request passes before a route or the page sees it, and the headers every answer
 * carries. The server binds to loopback, but a browser on this machine reaches loopback too:
 * a hostile page may rename this server through DNS (rebinding) to read it as its own origin,
 * send it a form, or frame the page to trick a click. The Host and Origin headers, which a
 * page cannot forge, say where a request really comes from.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Address } from '../../common/config.js';
import { CLOSE, HttpError } from './routes.js';

/** The names by which a browser on this machine reaches a loopback server. */
const LOOPBACK = ['127.0.0.1', 'localhost', '[::1]'];

const hasPort = (host: string) => /:\d+$/.test(host);

/**
 * The Host values this server answers to: the loopback names and its listen host, with the
 * port it listens on; and each extra name, as written and, when written without a port, with
 * that port too (a proxy in front may send the name alone).
 */
export function knownHosts(listen: Address, port: number, extra: readonly string[] = []): Set<string> {
  const hosts = new Set<string>();
  for (const name of [...LOOPBACK, listen.host]) {
    hosts.add(`${name}:${port}`.toLowerCase());
    // A browser leaves the default port out of Host.
    if (port === 80) hosts.add(name.toLowerCase());
  }
  for (const name of extra.map((n) => n.trim().toLowerCase()).filter(Boolean)) {
    hosts.add(name);
    if (!hasPort(name)) hosts.add(`${name}:${port}`);
  }
  return hosts;
}

const quoted = (s: string) => JSON.stringify(s.length > 100 ? `${s.slice(0, 100)}…` : s);

/** A Host that is not one of this server's names: the page that sent it reached it by another name. */
function hostRefusal(req: IncomingMessage, hosts: ReadonlySet<string>): HttpError | null {
  const host = req.headers.host?.toLowerCase();
  if (!host) return new HttpError(421, 'The request has no Host header; name this server in it.', CLOSE);
  if (hosts.has(host)) return null;
  return new HttpError(
    421,
    `This server does not answer to the name ${quoted(host)}; use its own address (a name another site points here is refused).`,
    CLOSE,
  );
}

const READS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The host part of an Origin header when it is a web origin, else null (`null`, `file:`). */
function originHost(origin: string): string | null {
  try {
    const url = new URL(origin);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.host.toLowerCase() : null;
  } catch {
    return null;
  }
}

/**
 * A state-changing request sent by another site's page (CSRF), refused even with the token.
 * A request without Origin (curl, the CLI, scripts) is no browser's: the token guards it.
 */
function originRefusal(req: IncomingMessage, hosts: ReadonlySet<string>): HttpError | null {
  const origin = req.headers.origin;
  if (READS.has(req.method ?? '') || origin === undefined) return null;
  const host = originHost(origin);
  if (host !== null && hosts.has(host)) return null;
  return new HttpError(403, `A page of ${quoted(origin)} may not change anything here.`, CLOSE);
}

/** Why the request is refused before any route sees it, or null when it may go on. */
export function refusal(req: IncomingMessage, hosts: ReadonlySet<string>): HttpError | null {
  return hostRefusal(req, hosts) ?? originRefusal(req, hosts);
}

/**
 * Headers on every answer, the page's and the API's, errors included. The page sets its own
 * content-security-policy (what it may load) over the one here, keeping `frame-ancestors`.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  // No other site may frame the page and trick a click on its buttons (old and new browsers).
  'x-frame-options': 'DENY',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  // A JSON answer is never run as a script or styled as a sheet by another site's page.
  'x-content-type-options': 'nosniff',
  'cross-origin-resource-policy': 'same-origin',
  // Addresses may carry a machine id or, once, the token: they leave with no link.
  'referrer-policy': 'no-referrer',
};

export function setSecurityHeaders(res: ServerResponse): void {
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
}
