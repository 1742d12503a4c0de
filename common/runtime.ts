import { createServer, type Server } from 'node:http';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { type Address, type Config, loadConfig } from './config.js';
import type { Logger } from './log.js';

/** Counters and gauges of one pipeline process, served as Prometheus text and JSON. */
/**
 * Latency buckets in milliseconds (upper bounds), for end-to-end and request times. They reach
 * half an hour: an overloaded pipeline holds readings for minutes, and a percentile beyond the
 * last bucket can only be reported as "more than", not as a number.
 */
export const LATENCY_BUCKETS_MS = [
  5, 10, 25, 50, 75, 100, 150, 200, 300, 500, 750, 1_000, 1_500, 2_000, 3_000, 5_000, 10_000, 30_000, 60_000,
  120_000, 300_000, 600_000, 1_800_000,
];

export class Metrics {
  private readonly values = new Map<string, number>();
  private readonly kinds = new Map<string, 'counter' | 'gauge'>();
  private readonly histograms = new Map<
    string,
    { buckets: number[]; counts: number[]; sum: number; count: number }
  >();

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

  /** Cumulative histogram (Prometheus style): bucket i counts observations <= buckets[i]. */
  observe(name: string, value: number, buckets: number[] = LATENCY_BUCKETS_MS) {
    let h = this.histograms.get(name);
    if (!h) {
      h = { buckets, counts: new Array(buckets.length + 1).fill(0), sum: 0, count: 0 };
      this.histograms.set(name, h);
    }
    let i = 0;
    while (i < buckets.length && value > buckets[i]!) i++;
    h.counts[i]!++;
    h.sum += value;
    h.count++;
  }

  /** Per bucket upper bound (Infinity last): how many observations fell at or below it. */
  histogram(name: string): { le: number; count: number }[] {
    const h = this.histograms.get(name);
    if (!h) return [];
    let running = 0;
    return h.counts.map((c, i) => {
      running += c;
      return { le: h.buckets[i] ?? Number.POSITIVE_INFINITY, count: running };
    });
  }

  get(name: string): number {
    return this.values.get(name) ?? 0;
  }

  private readonly history: { at: number; counters: Map<string, number> }[] = [];

  /** Records the counters (once a second, by serveMetrics) for rates(). */
  sample(now = Date.now(), keepMs = 10_000): void {
    const counters = new Map([...this.values].filter(([k]) => this.kinds.get(k) === 'counter'));
    this.history.push({ at: now, counters });
    while (this.history.length > 2 && now - this.history[0]!.at > keepMs) this.history.shift();
  }

  /** Each counter's increase per second over the sampled window (about the last 10 s). */
  rates(): Record<string, number> {
    const first = this.history[0];
    const last = this.history.at(-1);
    if (!first || !last || last.at === first.at) return {};
    const dt = (last.at - first.at) / 1000;
    return Object.fromEntries(
      [...last.counters].map(([k, v]) => [k, Math.max(0, v - (first.counters.get(k) ?? 0)) / dt]),
    );
  }

  snapshot(): Record<string, number> {
    return Object.fromEntries(this.values);
  }

  histogramsSnapshot(): Record<string, { le: number | '+Inf'; count: number }[]> {
    return Object.fromEntries(
      [...this.histograms.keys()].map((name) => [
        name,
        this.histogram(name).map((b) => ({
          le: Number.isFinite(b.le) ? b.le : ('+Inf' as const),
          count: b.count,
        })),
      ]),
    );
  }

  prometheus(): string {
    const lines: string[] = [];
    const typed = new Set<string>();
    for (const [key, value] of this.values) {
      const kind = this.kinds.get(key)!;
      // `name:reason` is one series of the family `name`, labelled with its reason.
      const [name = key, reason] = key.split(':', 2);
      const metric = `factory_${this.role}_${name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}${reason !== undefined ? '_by_reason' : ''}${kind === 'counter' ? '_total' : ''}`;
      if (!typed.has(metric)) lines.push(`# TYPE ${metric} ${kind}`);
      typed.add(metric);
      const labels = reason !== undefined ? `,reason="${reason.replace(/["\\\n]/g, '_')}"` : '';
      lines.push(`${metric}{instance="${this.instance}"${labels}} ${value}`);
    }
    for (const [name, h] of this.histograms) {
      const metric = `factory_${this.role}_${name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}`;
      lines.push(`# TYPE ${metric} histogram`);
      for (const b of this.histogram(name)) {
        const le = Number.isFinite(b.le) ? String(b.le) : '+Inf';
        lines.push(`${metric}_bucket{instance="${this.instance}",le="${le}"} ${b.count}`);
      }
      lines.push(
        `${metric}_sum{instance="${this.instance}"} ${h.sum}`,
        `${metric}_count{instance="${this.instance}"} ${h.count}`,
      );
    }
    return `${lines.join('\n')}\n`;
  }
}

/** The q-quantile (0..1) of a cumulative histogram, interpolated within its bucket. */
/** The q-quantile of raw samples (nearest rank); 0 for none. */
export function sampleQuantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0;
}

export function quantile(hist: { le: number; count: number }[], q: number): number | null {
  const total = hist.at(-1)?.count ?? 0;
  if (total === 0) return null;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const b of hist) {
    if (b.count >= rank) {
      if (!Number.isFinite(b.le)) return prevLe;
      const inBucket = b.count - prevCount;
      return inBucket === 0 ? b.le : prevLe + ((rank - prevCount) / inBucket) * (b.le - prevLe);
    }
    prevLe = b.le;
    prevCount = b.count;
  }
  return prevLe;
}

/**
 * GET /metrics (Prometheus text), GET /healthz (JSON counters; 503 while `healthy` says no).
 * Port 0 picks a free one; the bound address is returned.
 */
export async function serveMetrics(
  metrics: Metrics,
  addr: Address,
  healthy: () => { ok: boolean; detail?: string; restartable?: boolean },
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
          // False: unhealthy, but a restart would not cure it (the keeper leaves it alone).
          restartable: h.restartable ?? true,
          role: metrics.role,
          instance: metrics.instance,
          pid: process.pid,
          counters: metrics.snapshot(),
          rates: metrics.rates(),
          histograms: metrics.histogramsSnapshot(),
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
  const sampler = setInterval(() => metrics.sample(), 1_000);
  sampler.unref();
  server.on('close', () => clearInterval(sampler));
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

/** The flags every long-running process of ours takes: its id and where it serves /metrics. */
export const processArgs = {
  id: z.string().regex(/^[\w.-]{1,64}$/, '--id may use letters, digits, dot, dash and underscore'),
  'metrics-addr': z
    .string()
    .regex(/^[\w.-]+:\d{1,5}$/, '--metrics-addr must be host:port')
    .default('127.0.0.1:0'),
  'data-dir': z.string().optional(),
};
const commonArgs = z.object(processArgs);

/**
 * A process's flags: the common ones plus `extra` (optional strings), and the platform
 * configuration, its data directory moved by `--data-dir` when given.
 */
export function parseProcessArgs<K extends string>(
  argv: string[],
  extra: readonly K[] = [],
): { args: z.output<typeof commonArgs> & Partial<Record<K, string>>; config: Config } {
  const names = [...Object.keys(processArgs), ...extra];
  const { values } = parseArgs({
    args: argv,
    options: Object.fromEntries(names.map((n) => [n, { type: 'string' as const }])),
  });
  const parsed = commonArgs.passthrough().safeParse(values);
  if (!parsed.success) throw new UsageError(parsed.error.issues[0]!.message);
  const args = parsed.data as z.output<typeof commonArgs> & Partial<Record<K, string>>;
  const dataDir = args['data-dir'];
  return { args, config: loadConfig(dataDir ? { ...process.env, FACTORY_DATA_DIR: dataDir } : process.env) };
}

/** Thrown for bad flags or arguments: the process exits 2 with the message alone. */
export class UsageError extends Error {}

/**
 * The entry of every long-running process: runs `main`, exits with its code; an error the
 * operator can act on (`known`, or bad usage) is printed as one line, anything else with its
 * stack.
 */
export function runProcess(name: string, main: () => Promise<number>, known: (err: Error) => boolean): void {
  main().then(
    (code) => process.exit(code),
    (err: Error & { code?: string }) => {
      const usage = err instanceof UsageError || err.code?.startsWith('ERR_PARSE_ARGS') === true;
      process.stderr.write(`${name}: ${usage || known(err) ? err.message : err.stack}\n`);
      process.exit(usage ? 2 : 1);
    },
  );
}
