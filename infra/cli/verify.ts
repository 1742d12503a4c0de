import type { Config } from '../../common/config.js';
import { silentLogger } from '../../common/log.js';
import { connectNats } from '../../common/nats.js';
import { FleetRegistry } from '../../common/registry.js';
import { pipelineInflux } from '../../pipeline/influx.js';
import { pipelineKafka } from '../../pipeline/kafka.js';
import { type Expectation, type LossReport, verifyLoss } from '../../pipeline/verify.js';
import { SnapshotStore } from '../../workers/snapshot-store.js';
import type { Output } from '../supervisor/output.js';
import { table } from '../supervisor/output.js';

export class VerifyError extends Error {}

/**
 * Every machine of the registry (retired ones too: their history still counts) with what its
 * owner vouches for in the snapshot store. An active machine whose snapshot has not been
 * refreshed for a while has no live owner: a failure, not a machine to skip.
 */
async function expectations(config: Config): Promise<{
  expected: Map<string, Expectation>;
  reservations: () => Promise<Map<string, number>>;
}> {
  const nc = await connectNats(config, 'factory-verify', 'operator').catch(() => {
    throw new VerifyError('Cannot reach NATS: is the stack running ("factory status")?');
  });
  try {
    const registry = await FleetRegistry.open(nc).catch(() => {
      throw new VerifyError('There is no fleet registry yet: run "factory up" first.');
    });
    const machines = await registry.machines();
    if (machines.size === 0) throw new VerifyError('The fleet registry is empty: run "factory up" first.');
    const snapshots = await (await SnapshotStore.open(nc)).all();
    const staleMs = 3 * config.workers.snapshotEveryMs + 2 * config.workers.sessionTimeoutMs + 10_000;
    const now = Date.now();
    const expected = new Map<string, Expectation>();
    for (const m of machines.values()) {
      const s = snapshots.get(m.machineId)?.value;
      const age = s ? now - s.savedAt : Number.POSITIVE_INFINITY;
      const unhosted =
        m.retiredAt !== null || m.external
          ? undefined
          : !s
            ? 'never hosted: no worker has taken it on'
            : s.released && age > staleMs
              ? `handed over by ${s.owner} ${Math.round(age / 1000)} s ago and not taken on since`
              : age > staleMs
                ? `no owner: last saved by ${s.owner} ${Math.round(age / 1000)} s ago`
                : undefined;
      expected.set(m.machineId, {
        published: s?.published ?? 0,
        gaps: (s?.gaps ?? []).map(([a, b]) => [a, b] as [number, number]),
        reservedUpTo: s?.reservedUpTo ?? 0,
        ...(unhosted ? { unhosted } : {}),
      });
    }
    return {
      expected,
      reservations: async () => {
        const c = await connectNats(config, 'factory-verify', 'operator');
        try {
          const all = await (await SnapshotStore.open(c)).all();
          return new Map([...all].map(([id, e]) => [id, e.value.reservedUpTo]));
        } finally {
          await c.close();
        }
      },
    };
  } finally {
    await nc.close();
  }
}

const shown = (r: [number, number][]) => r.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(', ');

/**
 * The loss check itself, with no printing: `factory verify` prints it, `factory sim` judges
 * its `noLoss` expectation by it. `sinceMs` is an epoch time: only readings after it count.
 */
export async function checkLoss(
  config: Config,
  opts: {
    waitMs: number;
    sinceMs?: number;
    /** Told how many machines are checked, before the wait for storage begins. */
    onStart?: (machines: number) => void;
    onProgress?: (done: number, total: number) => void;
  },
): Promise<LossReport> {
  const { expected, reservations } = await expectations(config);
  opts.onStart?.(expected.size);
  return verifyLoss({
    influx: pipelineInflux(config, 'reader'),
    kafka: pipelineKafka(config, 'factory-verify', silentLogger, 'operator'),
    expected,
    reservations,
    waitMs: opts.waitMs,
    sinceMs: opts.sinceMs,
    onProgress: opts.onProgress,
  });
}

export async function verify(
  config: Config,
  opts: { waitMs: number; json: boolean; sinceMs?: number },
  out: Output,
): Promise<LossReport> {
  const report = await checkLoss(config, {
    onStart: (machines) => {
      if (!opts.json)
        out.line(
          `Checking ${machines} machines of the fleet registry${opts.sinceMs ? ` over the last ${Math.round(opts.sinceMs / 1000)} s` : ''}: what their owners published against Kafka and InfluxDB…`,
        );
    },
    waitMs: opts.waitMs,
    sinceMs: opts.sinceMs === undefined ? undefined : Date.now() - opts.sinceMs,
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
      [
        'MACHINES',
        'PUBLISHED',
        'STORED',
        'LOST',
        'FAILOVER GAPS',
        'DUPLICATES',
        'OUT OF ORDER',
        'CONFLICTING',
        'UNHOSTED',
      ],
      [
        t.machines,
        t.published,
        t.stored,
        t.lost,
        t.gaps,
        t.duplicates,
        t.outOfOrder,
        t.conflicting,
        t.unhosted,
      ].map(String),
    ]),
  );
  const problems: string[] = [];
  for (const m of report.machines) {
    if (m.lost.length) problems.push(`  ${m.machineId}: lost ${shown(m.lost)}`);
    if (m.conflicting.length)
      problems.push(
        `  ${m.machineId}: conflicting duplicate (same seq, different content) at ${shown(m.conflicting)}`,
      );
    if (m.unreserved.length)
      problems.push(`  ${m.machineId}: seq ${shown(m.unreserved)} was never reserved by an owner`);
    if (m.unhosted) problems.push(`  ${m.machineId}: ${m.unhosted}`);
  }
  for (const p of problems.slice(0, 20)) out.line(p);
  if (problems.length > 20) out.line(`  … and ${problems.length - 20} more (use --json for all)`);
  out.line(
    report.ok
      ? 'No loss: every published reading is stored, every machine has an owner (duplicates and announced failover gaps are not loss).'
      : `FAILED: ${[
          t.lost && `${t.lost} readings lost`,
          t.conflicting && `${t.conflicting} conflicting duplicates`,
          t.unreserved && `${t.unreserved} unreserved seqs`,
          t.unhosted && `${t.unhosted} machines without an owner`,
        ]
          .filter(Boolean)
          .join(', ')}.`,
  );
  return report;
}
