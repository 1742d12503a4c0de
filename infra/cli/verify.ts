import type { Config } from '../../common/config.js';
import { silentLogger } from '../../common/log.js';
import { connectOperator } from '../../common/mqtt.js';
import { sleep } from '../../common/retry.js';
import { pipelineInflux } from '../../pipeline/influx.js';
import { pipelineKafka } from '../../pipeline/kafka.js';
import { type LossReport, verifyLoss } from '../../pipeline/verify.js';
import type { Output } from '../supervisor/output.js';
import { table } from '../supervisor/output.js';

/** Each machine's published high-water mark, from the gateways' retained status messages. */
async function publishedHighWater(config: Config): Promise<Map<string, number>> {
  const client = await connectOperator(config, 'verify', { connectTimeout: 5_000 });
  const seqs = new Map<string, number>();
  client.on('message', (_t, payload) => {
    try {
      const status = JSON.parse(payload.toString()) as { seqs?: Record<string, number> };
      for (const [id, seq] of Object.entries(status.seqs ?? {})) {
        if (Number.isInteger(seq)) seqs.set(id, Math.max(seqs.get(id) ?? 0, seq));
      }
    } catch {
      // a status that is not JSON is not ours to judge here
    }
  });
  await client.subscribeAsync('factory/+/+/status/+', { qos: 1 });
  await sleep(1_000); // retained messages arrive at once
  await client.endAsync();
  return seqs;
}

export class VerifyError extends Error {}

export async function verify(
  config: Config,
  opts: { waitMs: number; json: boolean },
  out: Output,
): Promise<LossReport> {
  const published = await publishedHighWater(config);
  if (published.size === 0) {
    throw new VerifyError(
      'No gateway has reported what it published (retained status); is the stack up ("factory status")?',
    );
  }
  if (!opts.json)
    out.line(`Checking ${published.size} machines: published seq numbers against InfluxDB and Kafka…`);
  const report = await verifyLoss({
    influx: pipelineInflux(config),
    kafka: pipelineKafka(config, 'factory-verify', silentLogger),
    published,
    waitMs: opts.waitMs,
    // With --json, stdout carries the report alone.
    onProgress: opts.json
      ? undefined
      : (done, total) => out.progress(`waiting for storage to catch up: ${done}/${total} machines complete`),
  });
  if (opts.json) {
    out.line(JSON.stringify(report, null, 2));
    return report;
  }
  const t = report.totals;
  out.line(
    table([
      ['MACHINES', 'PUBLISHED', 'STORED', 'LOST', 'FAILOVER GAPS', 'DUPLICATES', 'OUT OF ORDER'],
      [t.machines, t.published, t.stored, t.lost, t.gaps, t.duplicates, t.outOfOrder].map(String),
    ]),
  );
  const bad = report.machines.filter((m) => m.lost.length > 0);
  for (const m of bad.slice(0, 20)) {
    out.line(`  ${m.machineId}: lost ${m.lost.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(', ')}`);
  }
  if (bad.length > 20) out.line(`  … and ${bad.length - 20} more machines with loss (use --json for all)`);
  out.line(
    report.ok
      ? 'No loss: every published reading is stored (duplicates and failover gaps are not loss).'
      : `LOSS: ${t.lost} readings of ${bad.length} machine${bad.length === 1 ? '' : 's'} are not stored.`,
  );
  return report;
}
