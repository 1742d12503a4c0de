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

/** Where worker n serves /metrics and /healthz: from the metrics base + 41. */
export const workerMetricsAddress = (config: Config, n: number): Address => ({
  host: '127.0.0.1',
  port: config.pipeline.metricsPortBase + 40 + n,
});

export const readWorkerHealthz = (config: Config, n: number): Promise<Healthz> =>
  readHealthzAt(`worker-${n}`, workerMetricsAddress(config, n));

/**
 * A worker (region) process hosting the machine actors of the shards the worker group gives
 * it. Healthy: a member of the group, not fenced, and emitting telemetry when it hosts machines.
 */
export function worker(ctx: ComponentContext, n: number): Component {
  const { config } = ctx;
  const id = `worker-${n}`;
  const metrics = workerMetricsAddress(config, n);
  const healthz = async () => healthyOrThrow(await readWorkerHealthz(config, n), id);
  return {
    ...servedProcess(config, 'worker', id, 'workers/main.ts', metrics),
    // Stricter than health: `up` waits until the worker's MQTT connections are up again (after a
    // broker restart they come back within their reconnect backoff, at most 10 s).
    ping: async () => {
      const body = await healthz();
      if ((body.counters.mqttDisconnectedMs ?? 0) > 0) throw new Error('its MQTT connections are not up yet');
    },
    async health() {
      const { detail, counters: c, rates: r = {} } = await healthz();
      return {
        detail: `${detail}; ${c.emitted ?? 0} emitted, ${c.commandsApplied ?? 0} commands applied, ${deadLetterText(c)}`,
        rate: `${perSecond(r.emitted)} emitted/s`,
      };
    },
  };
}
