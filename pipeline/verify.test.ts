import type { InfluxDB } from 'influx';
import { describe, expect, it } from 'vitest';
import { type Expectation, SeqSet, verifyLoss } from './verify.js';

/** An InfluxDB stand-in whose stored telemetry grows from one query to the next. */
function fakeInflux(snapshots: number[][]): InfluxDB {
  let calls = 0;
  return {
    query: async () => {
      const seqs = snapshots[Math.min(calls++, snapshots.length - 1)]!;
      return seqs.map((seq) => ({ seq, machine: 'M-1' }));
    },
  } as unknown as InfluxDB;
}

const expect5 = (e: Partial<Expectation> = {}) =>
  new Map<string, Expectation>([['M-1', { published: 5, gaps: [], reservedUpTo: 100, ...e }]]);

describe('verifyLoss', () => {
  it('waits for a late straggler below the high-water mark, whatever arrives above it', async () => {
    // Published up to 5. Seq 4 comes late (out of order after a replay); 6-9 are newer readings.
    const influx = fakeInflux([
      [1, 2, 3, 5, 6, 7, 8, 9],
      [1, 2, 3, 5, 6, 7, 8, 9],
      [1, 2, 3, 4, 5, 6, 7, 8, 9],
    ]);
    const report = await verifyLoss({ influx, expected: expect5(), waitMs: 10_000 });
    expect(report.machines[0]).toMatchObject({ published: 5, stored: 5, lost: [] });
    expect(report.ok).toBe(true);
  });

  it('reports what is still missing below the high-water mark when the wait runs out', async () => {
    const influx = fakeInflux([[1, 2, 3, 5, 6, 7, 8, 9]]);
    const report = await verifyLoss({ influx, expected: expect5(), waitMs: 1_200 });
    expect(report.machines[0]?.lost).toEqual([[4, 4]]);
    expect(report.ok).toBe(false);
  });

  it('accepts a missing seq inside an announced gap, and only there', async () => {
    const influx = fakeInflux([[1, 2, 5]]);
    const gapped = await verifyLoss({ influx, expected: expect5({ gaps: [[3, 4]] }), waitMs: 0 });
    expect(gapped.ok).toBe(true);
    expect(gapped.totals.gaps).toBe(2);
    const other = await verifyLoss({ influx, expected: expect5({ gaps: [[4, 4]] }), waitMs: 0 });
    expect(other.machines[0]?.lost).toEqual([[3, 3]]);
  });

  it('counts a reading of an announced gap that was stored after all as published, never stored beyond published', async () => {
    // The crashed owner had sent seq 3 before it died; 4 it never sent.
    const influx = fakeInflux([[1, 2, 3, 5]]);
    const report = await verifyLoss({ influx, expected: expect5({ gaps: [[3, 4]] }), waitMs: 0 });
    expect(report.ok).toBe(true);
    expect(report.totals).toMatchObject({ published: 4, stored: 4, lost: 0, gaps: 2 });
  });

  it('fails for a machine without an owner even when nothing is missing', async () => {
    const influx = fakeInflux([[1, 2, 3, 4, 5]]);
    const report = await verifyLoss({
      influx,
      expected: expect5({ unhosted: 'no owner: last saved by worker-2 95 s ago' }),
      waitMs: 0,
    });
    expect(report.ok).toBe(false);
    expect(report.totals.unhosted).toBe(1);
  });
});

describe('SeqSet', () => {
  it('holds sparse and descending seqs in a bitmap', () => {
    const s = new SeqSet();
    for (const n of [1000, 5, 999_999, 6, 5]) s.add(n);
    expect(s.size).toBe(4);
    expect([5, 6, 7, 1000, 999_999].map((n) => s.has(n))).toEqual([true, true, false, true, true]);
    expect(s.countIn(1, 1000)).toBe(3);
  });
});
