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

  constructor(
    private readonly maxMachines = 2_000,
    /** Half the broker's 64 KiB packet limit (infra/servers/mosquitto.ts), whatever the ranges look like. */
    private readonly maxBytes = 32 * 1024,
    /** Keys held at most (while the broker is away); past it new ones are dropped: replay covers them. */
    private readonly maxKeys = 500_000,
  ) {}

  private keys = 0;
  /** Keys dropped because the buffer was full. */
  dropped = 0;

  get size(): number {
    return this.lines.size;
  }

  add(site: string, line: string, key: ConfirmKey): void {
    if (this.keys >= this.maxKeys) {
      this.dropped++;
      return;
    }
    this.keys++;
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
      let message: Confirmation | undefined;
      let machines = 0;
      let bytes = 0;
      for (const [kind, machineId, ns] of entries) {
        const ranges = toRanges(ns);
        const size = machineId.length + 8 + ranges.length * 24; // generous JSON estimate
        if (!message || machines >= this.maxMachines || bytes + size > this.maxBytes) {
          message = { v: 1, bridge, ts, t: {}, e: {} };
          out.push({ topic: confirmTopic(site, line), message });
          machines = 0;
          bytes = 100;
        }
        // An own property whatever the id: `obj["__proto__"] = x` would set the prototype instead.
        Object.defineProperty(message[kind], machineId, {
          value: ranges,
          enumerable: true,
          writable: true,
          configurable: true,
        });
        machines++;
        bytes += size;
      }
    }
    this.lines = new Map();
    this.keys = 0;
    return out;
  }
}

/**
 * The key a bridge confirms for a message it received, read from the topic and the payload.
 * It is lenient about the rest of the payload: a reading that failed validation (a gateway
 * that was offline for more than a week, say) is durable in the dead-letter topic and must
 * not be replayed forever. It is strict about identity: ids must be valid and the payload
 * must name the same machine (and, for telemetry, site and line) as its topic, so one
 * malformed message can neither spoil a line's confirmation nor settle another machine's.
 */
export function confirmKeyOf(
  topic: string,
  raw: Buffer,
): { site: string; line: string; key: ConfirmKey } | undefined {
  const m = /^factory\/([^/]+)\/([^/]+)\/([^/]+)\/(telemetry|events)$/.exec(topic);
  if (!m) return undefined;
  const [, site, line, machineId] = m as unknown as [string, string, string, string];
  if (![site, line, machineId].every((id) => idSchema.safeParse(id).success)) return undefined;
  let json: Record<string, unknown> | null;
  try {
    json = JSON.parse(raw.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof json !== 'object' || json === null || json.machineId !== machineId) return undefined;
  const kind: ConfirmKind = m[4] === 'events' ? 'e' : 't';
  if (kind === 't' && (json.site !== site || json.line !== line)) return undefined;
  const n = json[kind === 't' ? 'seq' : 'epoch'];
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) return undefined;
  return { site, line, key: { machineId, kind, n } };
}
