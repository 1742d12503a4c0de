import { type Address, type Config, formatAddress } from '../../common/config.js';
import { type LinkRole, roleEnv } from '../../common/links.js';
import {
  type Component,
  type ComponentContext,
  NotCuredByRestart,
  projectProcess,
  withTimeout,
} from './component.js';

export type PipelineRole = 'bridge' | 'writer';

/** A rate as `factory status` shows it: whole numbers, one decimal below 10. */
export const perSecond = (n: number | undefined) => {
  const v = n ?? 0;
  return v >= 9.95 || v === 0 ? String(Math.round(v)) : v.toFixed(1);
};

/** A stage's dead letters as `factory status` shows them: the total and each reason's count. */
export function deadLetterText(c: Record<string, number>): string {
  const reasons = Object.entries(c)
    .filter(([k, v]) => k.startsWith('deadLettered:') && v > 0)
    .map(([k, v]) => `${k.slice('deadLettered:'.length)} ${v}`);
  return `${c.deadLettered ?? 0} dead-lettered${reasons.length ? ` (${reasons.join(', ')})` : ''}`;
}

/** Where instance n of a role serves /metrics: bridges from base+1, writers from base+21. */
export function metricsAddress(ctx: ComponentContext, role: PipelineRole, n: number): Address {
  const { metricsPortBase } = ctx.config.pipeline;
  return { host: '127.0.0.1', port: metricsPortBase + (role === 'bridge' ? 0 : 20) + n };
}

/** What a pipeline process serves at /healthz (common/runtime.ts serveMetrics). */
export interface Healthz {
  ok: boolean;
  restartable?: boolean;
  detail?: string;
  counters: Record<string, number>;
  /** Per second over the process's last 10 s, measured where the counting happens. */
  rates?: Record<string, number>;
  histograms?: Record<string, { le: number | '+Inf'; count: number }[]>;
}

/** A process's /healthz, healthy or not (a 503 still carries the counters). */
export async function readHealthzAt(id: string, metrics: Address): Promise<Healthz> {
  const res = await withTimeout(id, 3_000, fetch(`http://${formatAddress(metrics)}/healthz`));
  return (await res.json()) as Healthz;
}

/** Instance n of a role's /healthz. */
export const readHealthz = (config: Config, role: PipelineRole, n: number): Promise<Healthz> =>
  readHealthzAt(
    `${role}-${n}`,
    metricsAddress({ config, tools: { kafkaLib: '', temporal: '', toxiproxy: '' } }, role, n),
  );

/**
 * One of our processes serving /metrics and /healthz at `metrics`: how it is named, bound and
 * started. With link proxies on, its role's server addresses point at their proxies.
 */
export function servedProcess(
  config: Config,
  role: LinkRole,
  id: string,
  script: string,
  metrics: Address,
  args: string[] = [],
): Pick<Component, 'name' | 'address' | 'binds' | 'prepare' | 'spawn'> {
  return {
    name: id,
    address: `http://${formatAddress(metrics)}/metrics`,
    binds: [{ addr: metrics, variable: 'FACTORY_METRICS_PORT_BASE' }],
    async prepare() {},
    spawn: () => ({
      ...projectProcess(config, script, ['--id', id, '--metrics-addr', formatAddress(metrics), ...args]),
      env: roleEnv(config, role),
    }),
  };
}

/** A process's /healthz body when it says healthy; its reason as the error otherwise. */
export function healthyOrThrow(body: Healthz, id: string): Healthz {
  if (body.ok) return body;
  const reason = body.detail ?? `${id} reports unhealthy`;
  throw body.restartable === false ? new NotCuredByRestart(reason) : new Error(reason);
}

/** A bridge or writer process; healthy when its /healthz says so (lanes, Kafka, InfluxDB). */
export function pipelineProcess(ctx: ComponentContext, role: PipelineRole, n: number): Component {
  const id = `${role}-${n}`;
  const metrics = metricsAddress(ctx, role, n);
  const healthz = async () => healthyOrThrow(await readHealthz(ctx.config, role, n), id);
  return {
    ...servedProcess(ctx.config, role, id, 'pipeline/main.ts', metrics, [
      role,
      ...(role === 'bridge' ? ['--lanes', String(ctx.config.pipeline.lanes)] : []),
    ]),
    ping: async () => void (await healthz()),
    async health() {
      const { detail, counters: c, rates: r = {} } = await healthz();
      const figures =
        role === 'bridge'
          ? `${c.received ?? 0} received, ${c.forwarded ?? 0} forwarded, ${deadLetterText(c)}`
          : `${c.written ?? 0} written, ${deadLetterText(c)}, lag ${c.lag ?? 0}`;
      const rate =
        role === 'bridge'
          ? `${perSecond(r.received)} received/s, ${perSecond(r.forwarded)} forwarded/s`
          : `${perSecond(r.written)} written/s`;
      return { detail: `${detail}; ${figures}`, rate };
    },
  };
}
