import { z } from 'zod';
import { toRanges } from './ranges.js';
import { idSchema } from './telemetry.js';

/**
 * The confirmation channel (ADR 0003): bridges tell a line's gateways which of their messages
 * Kafka holds durably, so a gateway keeps each message until it is confirmed, not merely
 * acknowledged by the broker. One topic per line, outside every line's own subtree, so a
 * gateway account can read its line's confirmations but never forge one.
 */
export const confirmTopic = (site: string, line: string) => `factory/_confirm/${site}/${line}`;

/** What a confirmation names: a machine's telemetry by `seq`, or its resume event by `epoch`. */
export type ConfirmKind = 't' | 'e';

export interface ConfirmKey {
  machineId: string;
  kind: ConfirmKind;
  n: number;
}

const ranges = z
  .array(
    z
      .tuple([z.number().int().nonnegative(), z.number().int().nonnegative()])
      .refine(([a, b]) => b >= a, 'a range must not end before it starts'),
  )
  .max(100_000);

export const confirmationSchema = z.strictObject({
  v: z.literal(1),
  /** The bridge that wrote these records to Kafka (for logs and counters). */
  bridge: z.string().min(1).max(64),
  ts: z.number().int().positive(),
  /** machineId → inclusive seq ranges of telemetry now in Kafka. */
  t: z.record(idSchema, ranges).default({}),
  /** machineId → inclusive epoch ranges of resume events now in Kafka. */
  e: z.record(idSchema, ranges).default({}),
});
export type Confirmation = z.infer<typeof confirmationSchema>;

/**
 * Collects the keys a bridge wrote to Kafka, per line, and hands them out as confirmation
 * messages of at most `maxMachines` machines each (a message stays far below the broker's
 * packet limit even for a line of thousands of machines).
 */
export class ConfirmationBuffer {
  private lines = new Map<
    string,
    { site: string; line: string; t: Map<string, number[]>; e: Map<string, number[]> }
  >();

  constructor(private readonly maxMachines = 2_000) {}

  get size(): number {
    return this.lines.size;
  }

  add(site: string, line: string, key: ConfirmKey): void {
    const id = `${site}/${line}`;
    let entry = this.lines.get(id);
    if (!entry) {
      entry = { site, line, t: new Map(), e: new Map() };
      this.lines.set(id, entry);
    }
    const byMachine = key.kind === 't' ? entry.t : entry.e;
    const list = byMachine.get(key.machineId);
    if (list) list.push(key.n);
    else byMachine.set(key.machineId, [key.n]);
  }

  /** Everything collected so far as (topic, message) pairs; the buffer is empty afterwards. */
  drain(bridge: string, ts: number): { topic: string; message: Confirmation }[] {
    const out: { topic: string; message: Confirmation }[] = [];
    for (const { site, line, t, e } of this.lines.values()) {
      const entries = [
        ...[...t].map(([m, ns]) => ['t', m, ns] as const),
        ...[...e].map(([m, ns]) => ['e', m, ns] as const),
      ];
      for (let i = 0; i < entries.length; i += this.maxMachines) {
        const message: Confirmation = { v: 1, bridge, ts, t: {}, e: {} };
        for (const [kind, machineId, ns] of entries.slice(i, i + this.maxMachines)) {
          message[kind][machineId] = toRanges(ns);
        }
        out.push({ topic: confirmTopic(site, line), message });
      }
    }
    this.lines = new Map();
    return out;
  }
}

/**
 * The key a bridge confirms for a message it received, read leniently from the topic and the
 * payload: even a reading that failed validation (and went to the dead-letter topic) is
 * durable in Kafka and must not be replayed by its gateway forever.
 */
export function confirmKeyOf(
  topic: string,
  raw: Buffer,
): { site: string; line: string; key: ConfirmKey } | undefined {
  const m = /^factory\/([^/]+)\/([^/]+)\/([^/]+)\/(telemetry|events)$/.exec(topic);
  if (!m) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(raw.toString('utf8'));
  } catch {
    return undefined;
  }
  const kind: ConfirmKind = m[4] === 'events' ? 'e' : 't';
  const n = (json as Record<string, unknown> | null)?.[kind === 't' ? 'seq' : 'epoch'];
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) return undefined;
  return { site: m[1]!, line: m[2]!, key: { machineId: m[3]!, kind, n } };
}
