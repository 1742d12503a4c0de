/**
 * Machines saved by the line gateways of earlier versions (`snapshots.json` under `<data dir>/gateways/`,
 * XState persisted snapshots). The first worker to host such a machine continues from there,
 * so an upgrade never numbers a machine's readings from 1 again (which would contradict what
 * Kafka and InfluxDB already hold). After an unclean stop it skips what the old gateway could
 * have published since its save, as that gateway would have.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { MODEL_VERSION, type SnapshotEntry } from './snapshot-store.js';

const savedSchema = z.object({
  savedAt: z.number(),
  clean: z.boolean(),
  tickMs: z.number().positive(),
  machines: z.record(z.string(), z.object({ context: z.record(z.string(), z.unknown()) }).passthrough()),
});

export type LegacyLookup = (machineId: string, now: number) => SnapshotEntry | undefined;

export function legacySnapshots(dataDir: string): LegacyLookup {
  const best = new Map<
    string,
    { context: Record<string, unknown>; savedAt: number; clean: boolean; tickMs: number }
  >();
  const root = join(dataDir, 'gateways');
  for (const dir of existsSync(root) ? readdirSync(root) : []) {
    let parsed: z.infer<typeof savedSchema>;
    try {
      const r = savedSchema.safeParse(JSON.parse(readFileSync(join(root, dir, 'snapshots.json'), 'utf8')));
      if (!r.success) continue;
      parsed = r.data;
    } catch {
      continue;
    }
    for (const [id, snap] of Object.entries(parsed.machines)) {
      const seq = snap.context.seq;
      if (typeof seq !== 'number') continue;
      const had = best.get(id);
      if (!had || (had.context.seq as number) < seq)
        best.set(id, {
          context: snap.context,
          savedAt: parsed.savedAt,
          clean: parsed.clean,
          tickMs: parsed.tickMs,
        });
    }
  }
  return (machineId, now) => {
    const l = best.get(machineId);
    if (!l) return undefined;
    const seq = l.context.seq as number;
    const skip = l.clean ? 0 : Math.ceil(Math.max(0, now - l.savedAt) / l.tickMs) + 1;
    return {
      v: 1,
      machineId,
      type: '',
      modelVersion: MODEL_VERSION,
      owner: 'legacy-gateway',
      shard: -1,
      epoch: typeof l.context.epoch === 'number' ? l.context.epoch : 0,
      seq,
      published: seq,
      reservedUpTo: seq + skip,
      gaps: [],
      commands: { offset: -1, applied: 0 },
      released: l.clean,
      savedAt: l.savedAt,
      context: l.context,
    };
  };
}
