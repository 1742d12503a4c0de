import type { Address, Config } from '../../common/config.js';
import type { Component, ComponentContext } from './component.js';
import {
  deadLetterText,
  type Healthz,
  healthyOrThrow,
  perSecond,
  readHealthzAt,
  servedProcess,
} from './pipeline.js';

/** Where workflow worker n serves /metrics and /healthz: from the metrics base + 81. */
export const workflowsMetricsAddress = (config: Config, n: number): Address => ({
  host: '127.0.0.1',
  port: config.pipeline.metricsPortBase + 80 + n,
});

export const readWorkflowsHealthz = (config: Config, n: number): Promise<Healthz> =>
  readHealthzAt(`workflows-${n}`, workflowsMetricsAddress(config, n));

/**
 * A workflow worker: the Temporal worker on `factory-alarms`, the alarm dispatcher and the
 * state watch. Healthy: polling its task queue and keeping up with `alarms`.
 */
export function workflows(ctx: ComponentContext, n: number): Component {
  const { config } = ctx;
  const id = `workflows-${n}`;
  const metrics = workflowsMetricsAddress(config, n);
  const healthz = async () => healthyOrThrow(await readWorkflowsHealthz(config, n), id);
  return {
    ...servedProcess(config, 'workflows', id, 'workflows/main.ts', metrics),
    ping: async () => void (await healthz()),
    async health() {
      const { detail, counters: c, rates: r = {} } = await healthz();
      return {
        detail: `${detail}; ${c.started ?? 0} escalations started, ${c.signalled ?? 0} events signalled, ${deadLetterText(c)}`,
        rate: `${perSecond(r.received)} alarm events/s`,
      };
    },
  };
}
