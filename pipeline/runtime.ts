import { createServer, type Server } from 'node:http';
import type { Address } from '../common/config.js';
import type { Logger } from '../common/log.js';

/** Counters and gauges of one pipeline process, served as Prometheus text and JSON. */
export class Metrics {
  private readonly values = new Map<string, number>();
  private readonly kinds = new Map<string, 'counter' | 'gauge'>();

  constructor(
    readonly role: string,
    readonly instance: string,
  ) {}

  inc(name: string, by = 1) {
    this.kinds.set(name, 'counter');
    this.values.set(name, (this.values.get(name) ?? 0) + by);
  }

  set(name: string, value: number) {
    this.kinds.set(name, 'gauge');
    this.values.set(name, value);
  }

  get(name: string): number {
    return this.values.get(name) ?? 0;
  }

  snapshot(): Record<string, number> {
    return Object.fromEntries(this.values);
  }

  prometheus(): string {
    const lines: string[] = [];
    for (const [name, value] of this.values) {
      const kind = this.kinds.get(name)!;
      const metric = `factory_${this.role}_${name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}${kind === 'counter' ? '_total' : ''}`;
      lines.push(`# TYPE ${metric} ${kind}`, `${metric}{instance="${this.instance}"} ${value}`);
    }
    return `${lines.join('\n')}\n`;
  }
}

/**
 * GET /metrics (Prometheus text), GET /healthz (JSON counters; 503 while `healthy` says no).
 * Port 0 picks a free one; the bound address is returned.
 */
export async function serveMetrics(
  metrics: Metrics,
  addr: Address,
  healthy: () => { ok: boolean; detail?: string },
): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    if (req.url === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(metrics.prometheus());
    } else if (req.url === '/healthz') {
      const h = healthy();
      res.writeHead(h.ok ? 200 : 503, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          ok: h.ok,
          detail: h.detail,
          role: metrics.role,
          instance: metrics.instance,
          pid: process.pid,
          counters: metrics.snapshot(),
        }),
      );
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(addr.port, addr.host, resolve);
  });
  const bound = server.address();
  return { server, port: typeof bound === 'object' && bound ? bound.port : addr.port };
}

/**
 * One graceful-shutdown path for every process: on the first SIGTERM/SIGINT run `stop` (which
 * finishes what the process holds), bounded by a deadline; a second signal exits at once.
 */
export function onShutdown(log: Logger, deadlineMs: number, stop: () => Promise<void>): Promise<number> {
  return new Promise((resolve) => {
    let stopping = false;
    const handler = (signal: NodeJS.Signals) => {
      if (stopping) {
        log.warn('second signal: exiting now', { signal });
        process.exit(1);
      }
      stopping = true;
      log.info('stopping', { signal, deadlineMs });
      const timer = setTimeout(() => {
        log.error('graceful stop exceeded its deadline; exiting', { deadlineMs });
        resolve(1);
      }, deadlineMs);
      stop().then(
        () => {
          clearTimeout(timer);
          log.info('stopped');
          resolve(0);
        },
        (err: Error) => {
          clearTimeout(timer);
          log.error('error while stopping', { error: err.message });
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', handler);
    process.on('SIGINT', handler);
  });
}
