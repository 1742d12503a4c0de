/**
 * The end-to-end loss check. What each machine must have published comes from where only its
 * owner can write (the snapshot store's settled mark, reservations and announced gaps), never
 * from a message a client could forge; what was stored comes from InfluxDB; what the pipeline
 * accepted (duplicates, order, conflicting content, seqs nobody reserved) from Kafka.
 */
import type { InfluxDB } from 'influx';
import type { Kafka } from 'kafkajs';
import { MEASUREMENTS } from '../common/influx-schema.js';
import { type Ranges, toRanges } from '../common/ranges.js';
import { sleep } from '../common/retry.js';
import { GROUPS, TOPICS } from '../common/topics.js';

export type { Ranges };

/** What a machine's owner vouches for. */
export interface Expectation {
  /** Every seq up to here was published (settled). */
  published: number;
  /** Announced failover gaps: a seq inside one may be missing. */
  gaps: Ranges;
  /** No seq above this was ever reserved: a stored one is a forgery or a bug. Infinity: unknown. */
  reservedUpTo: number;
  /** Why the machine is not being hosted (its worker died and nobody took over), if it is not. */
  unhosted?: string;
}

export interface MachineReport {
  machineId: string;
  published: number;
  /** The first seq checked (1, or the first in the --since window). */
  from: number;
  stored: number;
  lost: Ranges;
  failoverGaps: Ranges;
  duplicates: number;
  outOfOrder: number;
  /** Seqs that reached Kafka twice with different content. */
  conflicting: Ranges;
  /** Seqs that reached Kafka above every reservation. */
  unreserved: Ranges;
  unhosted?: string;
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
    conflicting: number;
    unreserved: number;
    unhosted: number;
  };
  ok: boolean;
}

/** How much earlier than its arrival in Kafka a reading's own timestamp may be, for --since. */
const INFLUX_MARGIN_MS = 3_600_000;

const rangeSize = (r: Ranges) => r.reduce((n, [a, b]) => n + b - a + 1, 0);
const inRange = (r: Ranges, from: number, to: number) =>
  r.reduce((n, [a, b]) => n + Math.max(0, Math.min(b, to) - Math.max(a, from) + 1), 0);

const regexOf = (ids: string[]) => `/^(${ids.map((id) => id.replace(/[.]/g, '\\.')).join('|')})$/`;

/**
 * A set of seq numbers as a bitmap over the range seen: one bit per reading, so a long history
 * of a large fleet stays small.
 */
export class SeqSet {
  private base = 0;
  private bits = new Uint8Array(0);
  private n = 0;

  add(seq: number): boolean {
    if (!Number.isSafeInteger(seq) || seq < 0) return false;
    if (this.bits.length === 0) this.base = seq;
    if (seq < this.base) {
      const shift = Math.ceil((this.base - seq) / 8) * 8;
      const grown = new Uint8Array(this.bits.length + shift / 8);
      grown.set(this.bits, shift / 8);
      this.bits = grown;
      this.base -= shift;
    }
    const i = seq - this.base;
    if (i >> 3 >= this.bits.length) {
      const grown = new Uint8Array(Math.max((i >> 3) + 1, this.bits.length * 2));
      grown.set(this.bits);
      this.bits = grown;
    }
    const had = (this.bits[i >> 3]! >> (i & 7)) & 1;
    if (had) return false;
    this.bits[i >> 3]! |= 1 << (i & 7);
    this.n++;
    return true;
  }

  has(seq: number): boolean {
    const i = seq - this.base;
    return i >= 0 && i >> 3 < this.bits.length && ((this.bits[i >> 3]! >> (i & 7)) & 1) === 1;
  }

  get size(): number {
    return this.n;
  }

  /** How many seqs in [from, to] are present. */
  countIn(from: number, to: number): number {
    let c = 0;
    for (let s = Math.max(from, this.base); s <= to; s++) if (this.has(s)) c++;
    return c;
  }
}

/** Distinct stored seq numbers per machine, since `sinceMs` (epoch ms) when given. */
export async function storedSeqs(
  influx: InfluxDB,
  ids: string[],
  sinceMs?: number,
): Promise<Map<string, SeqSet>> {
  const out = new Map(ids.map((id) => [id, new SeqSet()]));
  const time = sinceMs === undefined ? '' : ` AND time >= ${Math.floor(sinceMs)}ms`;
  for (let i = 0; i < ids.length; i += 100) {
    const chunk = ids.slice(i, i + 100);
    const rows = await influx.query<{ seq: number; machine: string }>(
      `SELECT "seq", "machine" FROM "${MEASUREMENTS.telemetry}" WHERE "machine" =~ ${regexOf(chunk)}${time}`,
    );
    for (const r of rows) out.get(r.machine)?.add(r.seq);
  }
  return out;
}

/** What Kafka's `telemetry` topic holds for one machine. */
export interface KafkaView {
  dup: number;
  ooo: number;
  conflicting: number[];
  /** Lowest and highest seq seen. */
  min: number;
  max: number;
}

/** 32-bit FNV-1a of a record's bytes: equal payloads, equal hashes. */
function fnv1a(buf: Buffer): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < buf.length; i++) h = Math.imul(h ^ buf[i]!, 0x01000193);
  return h >>> 0 || 1;
}

/**
 * Every record of `telemetry` (from `sinceMs` when given) in offset order, per machine:
 * duplicates (a seq seen again), out-of-order arrivals, and conflicting duplicates (a seq seen
 * again with different content). Memory: 4 bytes per reading in the window.
 */
export async function scanKafka(
  kafka: Kafka,
  ids: Set<string>,
  sinceMs?: number,
): Promise<Map<string, KafkaView>> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(TOPICS.telemetry);
  const starts =
    sinceMs === undefined
      ? ends.map((e) => ({ partition: e.partition, offset: e.low }))
      : await admin.fetchTopicOffsetsByTimestamp(TOPICS.telemetry, Math.floor(sinceMs));
  await admin.disconnect();
  const startOf = new Map(starts.map((s) => [s.partition, BigInt(s.offset)]));
  const remaining = new Map(
    ends
      .filter((e) => BigInt(e.high) > (startOf.get(e.partition) ?? BigInt(e.low)))
      .map((e) => [e.partition, BigInt(e.high) - 1n]),
  );
  const seen = new Map<string, { base: number; hashes: Uint32Array; view: KafkaView }>();
  if (remaining.size === 0) return new Map();
  const consumer = kafka.consumer({
    groupId: `${GROUPS.operatorPrefix}verify-${process.pid}-${Date.now()}`,
    allowAutoTopicCreation: false,
  });
  await consumer.connect();
  await consumer.subscribe({ topic: TOPICS.telemetry, fromBeginning: true });
  const done = new Promise<void>((resolve) => {
    void consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const from = startOf.get(batch.partition) ?? 0n;
        for (const msg of batch.messages) {
          if (BigInt(msg.offset) < from) continue; // before the window (fetched before the seek took)
          const id = msg.key?.toString() ?? '';
          if (!ids.has(id) || !msg.value) continue;
          let seq: number;
          try {
            seq = (JSON.parse(msg.value.toString()) as { seq?: number }).seq ?? -1;
          } catch {
            continue;
          }
          if (!Number.isSafeInteger(seq) || seq < 0) continue;
          record(seen, id, seq, fnv1a(msg.value));
        }
        const end = remaining.get(batch.partition);
        if (end !== undefined && BigInt(batch.lastOffset()) >= end) remaining.delete(batch.partition);
        if (remaining.size === 0) resolve();
      },
    });
  });
  consumer.on(consumer.events.GROUP_JOIN, () => {
    for (const [partition, offset] of startOf) {
      if (remaining.has(partition))
        consumer.seek({ topic: TOPICS.telemetry, partition, offset: String(offset) });
    }
  });
  await done;
  await consumer.disconnect();
  return new Map([...seen].map(([id, s]) => [id, s.view]));
}

function record(
  seen: Map<string, { base: number; hashes: Uint32Array; view: KafkaView }>,
  id: string,
  seq: number,
  hash: number,
) {
  let s = seen.get(id);
  if (!s) {
    s = {
      base: seq,
      hashes: new Uint32Array(64),
      view: { dup: 0, ooo: 0, conflicting: [], min: seq, max: seq },
    };
    seen.set(id, s);
  }
  if (seq < s.base) {
    const shift = s.base - seq;
    const grown = new Uint32Array(s.hashes.length + shift);
    grown.set(s.hashes, shift);
    s.hashes = grown;
    s.base = seq;
  }
  const i = seq - s.base;
  if (i >= s.hashes.length) {
    const grown = new Uint32Array(Math.max(i + 1, s.hashes.length * 2));
    grown.set(s.hashes);
    s.hashes = grown;
  }
  const v = s.view;
  const before = s.hashes[i]!;
  if (before !== 0) {
    v.dup++;
    if (before !== hash && v.conflicting.length < 1_000) v.conflicting.push(seq);
  } else {
    if (seq < v.max) v.ooo++;
    s.hashes[i] = hash;
  }
  v.min = Math.min(v.min, seq);
  v.max = Math.max(v.max, seq);
}

/**
 * Compares what each machine's owner vouches for with what InfluxDB stores and Kafka holds.
 * Waits up to `waitMs` for storage to catch up before calling anything lost.
 */
export async function verifyLoss(opts: {
  influx: InfluxDB;
  kafka?: Kafka;
  expected: Map<string, Expectation>;
  /** Re-reads the reservations after the scan (they only grow); defaults to `expected`'s. */
  reservations?: () => Promise<Map<string, number>>;
  waitMs: number;
  sinceMs?: number;
  onProgress?: (caughtUp: number, total: number) => void;
}): Promise<LossReport> {
  const ids = [...opts.expected.keys()].sort();
  const deadline = Date.now() + opts.waitMs;
  const kafkaView = opts.kafka
    ? await scanKafka(opts.kafka, new Set(ids), opts.sinceMs)
    : new Map<string, KafkaView>();
  // With a window, a machine is checked from its first reading in the window.
  const fromOf = (id: string) =>
    opts.sinceMs === undefined ? 1 : (kafkaView.get(id)?.min ?? opts.expected.get(id)!.published + 1);
  // The window opens on Kafka's clock (when the bridge produced a reading), InfluxDB keeps the
  // reading's own time, which is earlier by the pipeline's delay: read InfluxDB an hour wider.
  const influxSince = opts.sinceMs === undefined ? undefined : opts.sinceMs - INFLUX_MARGIN_MS;
  let stored = await storedSeqs(opts.influx, ids, influxSince);
  const lostOf = (id: string): number[] => {
    const e = opts.expected.get(id)!;
    const have = stored.get(id) ?? new SeqSet();
    const inGap = (n: number) => e.gaps.some(([a, b]) => n >= a && n <= b);
    const lost: number[] = [];
    for (let n = fromOf(id); n <= e.published; n++) if (!have.has(n) && !inGap(n)) lost.push(n);
    return lost;
  };
  let missing = ids.filter((id) => lostOf(id).length > 0);
  while (missing.length > 0 && Date.now() < deadline) {
    opts.onProgress?.(ids.length - missing.length, ids.length);
    await sleep(500);
    const again = await storedSeqs(opts.influx, missing, influxSince);
    stored = new Map([...stored, ...again]);
    missing = missing.filter((id) => lostOf(id).length > 0);
  }
  const reserved = opts.reservations ? await opts.reservations() : undefined;
  const machines = ids.map((machineId): MachineReport => {
    const e = opts.expected.get(machineId)!;
    const have = stored.get(machineId) ?? new SeqSet();
    const k = kafkaView.get(machineId);
    const reservedUpTo = reserved?.get(machineId) ?? e.reservedUpTo;
    const from = fromOf(machineId);
    return {
      machineId,
      published: e.published,
      from,
      stored: have.countIn(from, e.published),
      lost: toRanges(lostOf(machineId)),
      failoverGaps: e.gaps,
      duplicates: k?.dup ?? 0,
      outOfOrder: k?.ooo ?? 0,
      conflicting: toRanges(k?.conflicting ?? []),
      unreserved: k && k.max > reservedUpTo ? [[reservedUpTo + 1, k.max]] : [],
      ...(e.unhosted ? { unhosted: e.unhosted } : {}),
    };
  });
  const sum = (f: (m: MachineReport) => number) => machines.reduce((n, m) => n + f(m), 0);
  /** Readings inside an announced gap that reached storage all the same: the crashed owner sent them before it died. */
  const storedInGaps = (m: MachineReport) => {
    const have = stored.get(m.machineId) ?? new SeqSet();
    return m.failoverGaps.reduce(
      (n, [a, b]) => n + have.countIn(Math.max(a, m.from), Math.min(b, m.published)),
      0,
    );
  };
  const totals = {
    machines: machines.length,
    // What was published is every seq up to the high-water mark, less the announced gaps, plus
    // whatever of a gap was stored after all: so stored never exceeds published.
    published: sum(
      (m) =>
        Math.max(0, m.published - m.from + 1) -
        inRange(m.failoverGaps, m.from, m.published) +
        storedInGaps(m),
    ),
    stored: sum((m) => m.stored),
    lost: sum((m) => rangeSize(m.lost)),
    gaps: sum((m) => rangeSize(m.failoverGaps)),
    duplicates: sum((m) => m.duplicates),
    outOfOrder: sum((m) => m.outOfOrder),
    conflicting: sum((m) => rangeSize(m.conflicting)),
    unreserved: sum((m) => rangeSize(m.unreserved)),
    unhosted: sum((m) => (m.unhosted ? 1 : 0)),
  };
  const ok =
    totals.lost === 0 && totals.conflicting === 0 && totals.unreserved === 0 && totals.unhosted === 0;
  return { machines, totals, ok };
}
