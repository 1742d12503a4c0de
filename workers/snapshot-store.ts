/**
 * The snapshot store: one key per machine in the KV bucket `actor-snapshots`, holding the
 * machine's versioned domain state and its seq reservation, always written with the revision
 * the writer last saw (compare-and-set). One key per machine makes the fence one fence: an
 * owner that lost the machine can neither save its state nor extend its seq block.
 */
import type { KV, NatsConnection } from 'nats';
import { z } from 'zod';
import { bindBucket, type KvValue, readKv } from '../common/kv.js';

export const SNAPSHOT_BUCKET = 'actor-snapshots';

/** Bumped when the model's context changes shape; a saved machine of another version is migrated. */
export const MODEL_VERSION = 1;

/** A seq range a new owner skipped, with the epoch that skipped it: a failover gap, not loss. */
const gapSchema = z.tuple([z.number().int(), z.number().int(), z.number().int()]);

export const snapshotEntrySchema = z.object({
  v: z.literal(1),
  machineId: z.string(),
  type: z.string(),
  modelVersion: z.number().int(),
  /** The worker that wrote it, and the shard (partition of machine-commands) it was hosted in. */
  owner: z.string(),
  shard: z.number().int(),
  /** Bumped each time an owner takes over without a clean hand-off. */
  epoch: z.number().int().nonnegative(),
  /** The last seq the machine had emitted when this was written. */
  seq: z.number().int().nonnegative(),
  /**
   * Every seq up to here is settled: confirmed durable in Kafka, or dropped at the edge (lost).
   * The loss check's high-water mark; what lies above it and below a new owner's start is a gap.
   */
  published: z.number().int().nonnegative(),
  /** No owner has used, or will use, a seq above this without first raising it here. */
  reservedUpTo: z.number().int().nonnegative(),
  /** Failover gaps, oldest first, each at most one reservation block. */
  gaps: z.array(gapSchema).max(1_000),
  /** The last machine-commands offset applied (its partition is the shard), and how many were. */
  commands: z.object({ offset: z.number().int(), applied: z.number().int().nonnegative() }),
  /** Written by an owner that stopped the machine and handed it over: seq is exact, no gap. */
  released: z.boolean(),
  savedAt: z.number(),
  /** The machine's domain state (actors/model.ts MachineContext), not a library's snapshot. */
  context: z.record(z.string(), z.unknown()),
});
export type SnapshotEntry = z.infer<typeof snapshotEntrySchema>;

export const parseSnapshot = (raw: unknown): SnapshotEntry | undefined => {
  const r = snapshotEntrySchema.safeParse(raw);
  return r.success ? r.data : undefined;
};

export class SnapshotStore {
  private constructor(readonly kv: KV) {}

  /** The bucket `factory up` provisioned (infra/servers/nats.ts). */
  static async open(nc: NatsConnection): Promise<SnapshotStore> {
    return new SnapshotStore(await bindBucket(nc, SNAPSHOT_BUCKET));
  }

  async read(machineId: string): Promise<KvValue<SnapshotEntry> | undefined> {
    const e = await this.kv.get(machineId);
    if (e?.operation !== 'PUT') return undefined;
    const value = parseSnapshot(e.json());
    // A value we cannot read still has a revision: a claim must be fenced against it.
    return value ? { value, revision: e.revision } : undefined;
  }

  /** The revision of the key whatever its content (0: never written). */
  async revisionOf(machineId: string): Promise<number> {
    return (await this.kv.get(machineId))?.revision ?? 0;
  }

  /**
   * Writes if nobody wrote since `revision` (0: the key must not exist). Throws a revision
   * conflict otherwise (see isRevisionConflict). Returns the new revision.
   */
  write(entry: SnapshotEntry, revision: number): Promise<number> {
    const data = JSON.stringify(entry);
    return revision === 0
      ? this.kv.create(entry.machineId, data)
      : this.kv.update(entry.machineId, data, revision);
  }

  all(): Promise<Map<string, KvValue<SnapshotEntry>>> {
    return readKv(this.kv, '>', parseSnapshot);
  }
}
