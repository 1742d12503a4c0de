import { type Address, formatAddress } from '../../common/config.js';
import { type Component, type ComponentContext, projectProcess, withTimeout } from './component.js';

export type PipelineRole = 'bridge' | 'writer';

/** Where instance n of a role serves /metrics: bridges from base+1, writers from base+21. */
export function metricsAddress(ctx: ComponentContext, role: PipelineRole, n: number): Address {
  const { metricsPortBase } = ctx.config.pipeline;
  return { host: '127.0.0.1', port: metricsPortBase + (role === 'bridge' ? 0 : 20) + n };
}

/** A bridge or writer process; healthy when its /healthz says so (lanes, Kafka, InfluxDB). */
export function pipelineProcess(ctx: ComponentContext, role: PipelineRole, n: number): Component {
  const id = `${role}-${n}`;
  const metrics = metricsAddress(ctx, role, n);
  const url = `http://${formatAddress(metrics)}`;
  const healthz = async () => {
    const res = await withTimeout(id, 3_000, fetch(`${url}/healthz`));
    const body = (await res.json()) as { ok: boolean; detail?: string; counters: Record<string, number> };
    if (!body.ok) throw new Error(body.detail ?? `${id} reports unhealthy`);
    return body;
  };
  return {
    name: id,
    address: `${url}/metrics`,
    binds: [{ addr: metrics, variable: 'FACTORY_METRICS_PORT_BASE' }],
    async prepare() {},
    spawn: () =>
      projectProcess(ctx.config, 'pipeline/main.ts', [
        role,
        '--id',
        id,
        '--metrics-addr',
        formatAddress(metrics),
        ...(role === 'bridge' ? ['--lanes', String(ctx.config.pipeline.lanes)] : []),
      ]),
    ping: async () => void (await healthz()),
    async health() {
      const { detail, counters: c } = await healthz();
      const figures =
        role === 'bridge'
          ? `${c.received ?? 0} received, ${c.forwarded ?? 0} forwarded, ${c.deadLettered ?? 0} dead-lettered`
          : `${c.written ?? 0} written, ${c.deadLettered ?? 0} dead-lettered, lag ${c.lag ?? 0}`;
      return `${detail}; ${figures}`;
    },
  };
}
