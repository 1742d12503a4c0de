import type { InfluxDB } from 'influx';
import type { Kafka } from 'kafkajs';
import { MEASUREMENTS } from '../common/influx-schema.js';
import { type Ranges, toRanges } from '../common/ranges.js';
import { sleep } from '../common/retry.js';
import { TOPICS } from '../common/topics.js';
import { EVENTS_MEASUREMENT } from './influx.js';

export type { Ranges };

export interface MachineReport {
  machineId: string;
  /** Highest seq the machine is known to have published. */
  published: number;
  stored: number;
  lost: Ranges;
  /** Ranges skipped under a new epoch after a crash: not loss. */
  failoverGaps: Ranges;
  duplicates: number;
  outOfOrder: number;
}

export interface LossReport {
  machines: MachineReport[];
  totals: {
    machines: number;
    published: number;
    stored: number;
    lost: number;
    gaps: number;
    duplicates: number;
    outOfOrder: number;
  };
  ok: boolean;
}

const rangeSize = (r: Ranges) => r.reduce((n, [a, b]) => n + b - a + 1, 0);

const regexOf = (ids: string[]) => `/^(${ids.map((id) => id.replace(/[.]/g, '\\.')).join('|')})$/`;

/** Distinct stored seq numbers per machine. */
export async function storedSeqs(influx: InfluxDB, ids: string[]): Promise<Map<string, Set<number>>> {
  const out = new Map(ids.map((id) => [id, new Set<number>()]));
  for (let i = 0; i < ids.length; i += 200) {
    const chunk = ids.slice(i, i + 200);
    const rows = await influx.query<{ seq: number; machine: string }>(
      `SELECT "seq", "machine" FROM "${MEASUREMENTS.telemetry}" WHERE "machine" =~ ${regexOf(chunk)}`,
    );
    for (const r of rows) out.get(r.machine)?.add(r.seq);
  }
  return out;
}

/** Recorded failover gaps per machine (events written by the pipeline). */
export async function failoverGaps(influx: InfluxDB, ids: string[]): Promise<Map<string, Ranges>> {
  const out = new Map<string, Ranges>();
  for (let i = 0; i < ids.length; i += 200) {
    const rows = await influx.query<{ machine: string; skipped_from: number; skipped_to: number }>(
      `SELECT "skipped_from", "skipped_to", "machine" FROM "${EVENTS_MEASUREMENT}" WHERE "machine" =~ ${regexOf(ids.slice(i, i + 200))}`,
    );
    for (const r of rows) {
      if (r.skipped_to >= r.skipped_from)
        out.set(r.machine, [...(out.get(r.machine) ?? []), [r.skipped_from, r.skipped_to]]);
    }
  }
  return out;
}

/**
 * Every record of `telemetry` in offset order, per machine: duplicates (a seq seen again) and
 * out-of-order arrivals (a seq below one already seen) as Kafka received them.
 */
export async function scanKafka(
  kafka: Kafka,
  ids: Set<string>,
): Promise<Map<string, { dup: number; ooo: number }>> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(TOPICS.telemetry);
  await admin.disconnect();
  const remaining = new Map(
    ends.filter((e) => BigInt(e.high) > BigInt(e.low)).map((e) => [e.partition, BigInt(e.high) - 1n]),
  );
  const seen = new Map<string, { seqs: Set<number>; max: number; dup: number; ooo: number }>();
  if (remaining.size === 0) return new Map();
  const consumer = kafka.consumer({
    groupId: `factory-verify-${process.pid}-${Date.now()}`,
    allowAutoTopicCreation: false,
  });
  await consumer.connect();
  await consumer.subscribe({ topic: TOPICS.telemetry, fromBeginning: true });
  const done = new Promise<void>((resolve) => {
    void consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        for (const msg of batch.messages) {
          const id = msg.key?.toString() ?? '';
          if (ids.has(id)) {
            const seq = (JSON.parse(msg.value?.toString() ?? '{}') as { seq?: number }).seq ?? 0;
            const s = seen.get(id) ?? { seqs: new Set<number>(), max: 0, dup: 0, ooo: 0 };
            if (s.seqs.has(seq)) s.dup++;
            else if (seq < s.max) s.ooo++;
            s.seqs.add(seq);
            s.max = Math.max(s.max, seq);
            seen.set(id, s);
          }
        }
        const end = remaining.get(batch.partition);
        if (end !== undefined && BigInt(batch.lastOffset()) >= end) remaining.delete(batch.partition);
        if (remaining.size === 0) resolve();
      },
    });
  });
  await done;
  await consumer.disconnect();
  return new Map([...seen].map(([id, s]) => [id, { dup: s.dup, ooo: s.ooo }]));
}

/**
 * Compares what each machine published (seq 1..high-water) with what InfluxDB stores. Waits up
 * to `waitMs` for the pipeline to catch up before calling anything lost.
 */
export async function verifyLoss(opts: {
  influx: InfluxDB;
  kafka?: Kafka;
  published: Map<string, number>;
  waitMs: number;
  onProgress?: (caughtUp: number, total: number) => void;
}): Promise<LossReport> {
  const ids = [...opts.published.keys()].sort();
  const deadline = Date.now() + opts.waitMs;
  let stored = await storedSeqs(opts.influx, ids);
  let gaps = await failoverGaps(opts.influx, ids);
  // Only seq numbers up to the high-water mark count: newer readings keep arriving while we
  // wait, and counting them would end the wait before a late straggler below it is stored.
  const storedUpTo = (id: string, hw: number) => {
    let n = 0;
    for (const seq of stored.get(id) ?? []) if (seq <= hw) n++;
    return n;
  };
  const missing = () =>
    ids.filter((id) => {
      const hw = opts.published.get(id)!;
      const inGaps = (gaps.get(id) ?? []).reduce((n, [a, b]) => n + Math.max(0, Math.min(b, hw) - a + 1), 0);
      return storedUpTo(id, hw) < hw - inGaps;
    });
  while (missing().length > 0 && Date.now() < deadline) {
    opts.onProgress?.(ids.length - missing().length, ids.length);
    await sleep(500);
    stored = await storedSeqs(opts.influx, ids);
    gaps = await failoverGaps(opts.influx, ids);
  }
  const kafkaView = opts.kafka ? await scanKafka(opts.kafka, new Set(ids)) : new Map();
  const machines = ids.map((machineId): MachineReport => {
    const hw = opts.published.get(machineId)!;
    const have = stored.get(machineId) ?? new Set<number>();
    const g = gaps.get(machineId) ?? [];
    const inGap = (n: number) => g.some(([a, b]) => n >= a && n <= b);
    const lost: number[] = [];
    for (let n = 1; n <= hw; n++) if (!have.has(n) && !inGap(n)) lost.push(n);
    const k = kafkaView.get(machineId);
    return {
      machineId,
      published: hw,
      stored: [...have].filter((n) => n <= hw).length,
      lost: toRanges(lost),
      failoverGaps: g,
      duplicates: k?.dup ?? 0,
      outOfOrder: k?.ooo ?? 0,
    };
  });
  const sum = (f: (m: MachineReport) => number) => machines.reduce((n, m) => n + f(m), 0);
  const totals = {
    machines: machines.length,
    published: sum((m) => m.published),
    stored: sum((m) => m.stored),
    lost: sum((m) => rangeSize(m.lost)),
    gaps: sum((m) => rangeSize(m.failoverGaps)),
    duplicates: sum((m) => m.duplicates),
    outOfOrder: sum((m) => m.outOfOrder),
  };
  return { machines, totals, ok: totals.lost === 0 };
}
