import type { InfluxDB } from 'influx';
import { describe, expect, it } from 'vitest';
import { verifyLoss } from './verify.js';

/** An InfluxDB stand-in whose stored telemetry grows from one query to the next. */
function fakeInflux(snapshots: number[][]): InfluxDB {
  let calls = 0;
  return {
    query: async (q: string) => {
      if (q.includes('machine_events')) return [];
      const seqs = snapshots[Math.min(calls++, snapshots.length - 1)]!;
      return seqs.map((seq) => ({ seq, machine: 'M-1' }));
    },
  } as unknown as InfluxDB;
}

describe('verifyLoss', () => {
  it('waits for a late straggler below the high-water mark, whatever arrives above it', async () => {
    // Published up to 5. Seq 4 comes late (out of order after a replay); 6-9 are newer readings.
    const influx = fakeInflux([
      [1, 2, 3, 5, 6, 7, 8, 9],
      [1, 2, 3, 5, 6, 7, 8, 9],
      [1, 2, 3, 4, 5, 6, 7, 8, 9],
    ]);
    const report = await verifyLoss({ influx, published: new Map([['M-1', 5]]), waitMs: 10_000 });
    expect(report.machines[0]).toMatchObject({ published: 5, stored: 5, lost: [] });
    expect(report.ok).toBe(true);
  });

  it('reports what is still missing below the high-water mark when the wait runs out', async () => {
    const influx = fakeInflux([[1, 2, 3, 5, 6, 7, 8, 9]]);
    const report = await verifyLoss({ influx, published: new Map([['M-1', 5]]), waitMs: 1_200 });
    expect(report.machines[0]?.lost).toEqual([[4, 4]]);
    expect(report.ok).toBe(false);
  });
});
