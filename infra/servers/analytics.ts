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

/** Where analytics instance n serves /metrics and /healthz: from the metrics base + 61. */
export const analyticsMetricsAddress = (config: Config, n: number): Address => ({
  host: '127.0.0.1',
  port: config.pipeline.metricsPortBase + 60 + n,
});

export const readAnalyticsHealthz = (config: Config, n: number): Promise<Healthz> =>
  readHealthzAt(`analytics-${n}`, analyticsMetricsAddress(config, n));

/**
 * An analytics processor (alarms and KPIs). Healthy: consuming its partitions and keeping up
 * (its group's lag does not only grow).
 */
export function analytics(ctx: ComponentContext, n: number): Component {
  const { config } = ctx;
  const id = `analytics-${n}`;
  const metrics = analyticsMetricsAddress(config, n);
  const healthz = async () => healthyOrThrow(await readAnalyticsHealthz(config, n), id);
  return {
    ...servedProcess(config, 'analytics', id, 'analytics/main.ts', metrics),
    ping: async () => void (await healthz()),
    async health() {
      const { detail, counters: c, rates: r = {} } = await healthz();
      return {
        detail: `${detail}; ${c.received ?? 0} readings, ${c.raised ?? 0} alarms raised, ${deadLetterText(c)}`,
        rate: `${perSecond(r.received)} analysed/s`,
      };
    },
  };
}
