import { paths } from '../../common/config.js';
import { connectOperator } from '../../common/mqtt.js';
import { mqttTopics } from '../../common/topics-mqtt.js';
import { readPidFile } from '../supervisor/process.js';
import { type Component, type ComponentContext, projectProcess, withTimeout } from './component.js';
import { perSecond } from './pipeline.js';

export interface GatewaySpec {
  site: string;
  line: string;
  /** Machines this gateway serves (for display). */
  machines: number;
  fleetFile: string;
  /** `up --machines N`: the fleet scaled to N machines in all. */
  fleetTotal: number | undefined;
}

/** A status heartbeat older than this means the gateway is stuck or cut off. */
const STALE_MS = 30_000;

/**
 * A line gateway as a supervised process. Healthy means: its own retained status on the broker
 * says online, was written by this very process (pid), and is fresh.
 */
export function gateway(ctx: ComponentContext, spec: GatewaySpec): Component {
  const { config } = ctx;
  const gatewayId = `gw-${spec.site}-${spec.line}`;
  const name = `gateway-${spec.site}-${spec.line}`;
  const topic = mqttTopics.status(spec.site, spec.line, gatewayId);

  const readStatus = async (): Promise<Record<string, unknown>> => {
    const c = await withTimeout(name, 5_000, connectOperator(config, 'health'));
    try {
      const got = new Promise<Record<string, unknown>>((resolve) =>
        c.on('message', (_t, payload) => resolve(JSON.parse(payload.toString()))),
      );
      await c.subscribeAsync(topic, { qos: 1 });
      return await withTimeout(`${name} retained status`, 3_000, got);
    } finally {
      await c.endAsync(true);
    }
  };

  const check = async () => {
    const status = await readStatus();
    const record = readPidFile(paths(config).pid(name));
    if (status.online !== true)
      throw new Error(`status says offline (${String(status.reason ?? 'no reason')})`);
    if (record && status.pid !== record.pid)
      throw new Error(`status is from pid ${status.pid}, not ${record.pid}`);
    const age = Date.now() - Number(status.ts);
    if (!(age < STALE_MS)) throw new Error(`last status is ${Math.round(age / 1000)}s old`);
    return status;
  };

  return {
    name,
    address: `mqtt factory/${spec.site}/${spec.line}/# (${spec.machines} machines)`,
    binds: [],
    async prepare() {},
    spawn: () =>
      projectProcess(config, 'firmware/main.ts', [
        '--line',
        `${spec.site}/${spec.line}`,
        '--gateway-id',
        gatewayId,
        '--fleet',
        spec.fleetFile,
        ...(spec.fleetTotal ? ['--machines', String(spec.fleetTotal)] : []),
      ]),
    ping: async () => void (await check()),
    async health() {
      const s = await check();
      const rates = (s.rates ?? {}) as { published?: number; confirmed?: number };
      const confirmed =
        s.confirmed === undefined ? '' : `, ${s.confirmed} confirmed, ${s.unconfirmed} unconfirmed`;
      return {
        detail: `online, ${s.published} published, ${s.acked} acked${confirmed}, ${s.spooled} spooled, ${s.dropped} dropped`,
        rate: `${perSecond(rates.published)} published/s, ${perSecond(rates.confirmed)} confirmed/s`,
      };
    },
  };
}
