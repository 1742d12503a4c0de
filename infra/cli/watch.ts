import { type Config, formatAddress } from '../../common/config.js';
import { connectOperator } from '../../common/mqtt.js';
import { idSchema, telemetryV1Schema } from '../../common/telemetry.js';
import type { Output } from '../supervisor/output.js';

/** `factory watch [machineId]`: live telemetry from the broker, one line per reading. */
export async function watch(config: Config, machineId: string | undefined, json: boolean, out: Output) {
  if (machineId !== undefined && !idSchema.safeParse(machineId).success) {
    throw new Error(`"${machineId}" is not a machine id (for example M-0001)`);
  }
  // A long-lived watcher rides out broker restarts.
  const client = await connectOperator(config, 'watch', { reconnectPeriod: 1_000, connectTimeout: 30_000 });
  const topic = `factory/+/+/${machineId ?? '+'}/telemetry`;
  client.on('message', (_t, payload) => {
    if (json) return out.line(payload.toString());
    const parsed = telemetryV1Schema.safeParse(JSON.parse(payload.toString()));
    if (!parsed.success) return out.line(`invalid: ${payload.toString().slice(0, 120)}`);
    const t = parsed.data;
    out.line(
      `${new Date(t.ts).toISOString().slice(11, 19)}  ${t.site}/${t.line}/${t.machineId}  #${t.seq}  ${t.state.padEnd(11)}` +
        `  ${t.temperatureC.toFixed(1).padStart(6)} °C  ${t.speedRpm.toFixed(0).padStart(5)} rpm` +
        `  ${t.vibrationMmS.toFixed(2).padStart(5)} mm/s  ${t.powerKw.toFixed(1).padStart(5)} kW` +
        `  ${t.goodCount}/${t.productionCount} good  OEE ${(t.oee * 100).toFixed(1)}%`,
    );
  });
  await client.subscribeAsync(topic, { qos: 0 });
  out.line(`Watching ${topic} on ${formatAddress(config.mqtt)} (Ctrl-C to stop)`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await client.endAsync();
}
