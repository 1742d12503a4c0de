import { type Address, type Config, formatAddress } from '../../common/config.js';
import { type Component, type ComponentContext, projectProcess, withTimeout } from './component.js';
import { type Healthz, healthyOrThrow, perSecond } from './pipeline.js';

/** Where worker n serves /metrics and /healthz: from the metrics base + 41. */
export const workerMetricsAddress = (config: Config, n: number): Address => ({
  host: '127.0.0.1',
  port: config.pipeline.metricsPortBase + 40 + n,
});

export async function readWorkerHealthz(config: Config, n: number): Promise<Healthz> {
  const res = await withTimeout(
    `worker-${n}`,
    3_000,
    fetch(`http://${formatAddress(workerMetricsAddress(config, n))}/healthz`),
  );
  return (await res.json()) as Healthz;
}

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
    name: id,
    address: `http://${formatAddress(metrics)}/metrics`,
    binds: [{ addr: metrics, variable: 'FACTORY_METRICS_PORT_BASE' }],
    async prepare() {},
    spawn: () =>
      projectProcess(config, 'workers/main.ts', ['--id', id, '--metrics-addr', formatAddress(metrics)]),
    // Stricter than health: `up` waits until the worker's MQTT connections are up again (after a
    // broker restart they come back within their reconnect backoff, at most 10 s).
    ping: async () => {
      const body = await healthz();
      if ((body.counters.mqttDisconnectedMs ?? 0) > 0) throw new Error('its MQTT connections are not up yet');
    },
    async health() {
      const { detail, counters: c, rates: r = {} } = await healthz();
      return {
        detail: `${detail}; ${c.emitted ?? 0} emitted, ${c.commandsApplied ?? 0} commands applied`,
        rate: `${perSecond(r.emitted)} emitted/s`,
      };
    },
  };
}
