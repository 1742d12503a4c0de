/**
 * Opening the provisioned NATS KV buckets, and reading them whole: every key's latest value
 * through one ordered consumer (a watch), not a request per key, so 20,000 machines load in one
 * pass.
 */
import type { JetStreamManager, KV, KvEntry, NatsConnection } from 'nats';

/**
 * A bucket that `factory up` provisioned, opened without looking it up or creating it: the
 * process needs no right to create or change streams (common/nats-permissions.ts). Gets are
 * direct, as nats.js made the bucket (`allow_direct`) and as it reads a bucket it creates.
 */
export const bindBucket = (nc: NatsConnection, bucket: string): Promise<KV> =>
  nc.jetstream().views.kv(bucket, { bindOnly: true, allow_direct: true });

export interface KvValue<T> {
  value: T;
  revision: number;
}

/** What followKv needs of the client's bucket beyond the KV interface (nats.js's Bucket). */
interface BucketInternals {
  jsm: JetStreamManager;
  stream: string;
  fullKeyName(key: string): string;
}

/** The stream sequence of the newest message under `key` (a key or pattern), 0 if there is none. */
async function lastSeqOf(kv: KV, key: string): Promise<number> {
  const b = kv as unknown as BucketInternals;
  try {
    return (await b.jsm.streams.getMessage(b.stream, { last_by_subj: b.fullKeyName(key) })).seq;
  } catch (err) {
    if ((err as { api_error?: { err_code?: number } }).api_error?.err_code === NO_MESSAGE_FOUND) return 0;
    throw err;
  }
}
const NO_MESSAGE_FOUND = 10037;

/**
 * Follows the keys matching `key`: every current value first (then `initialized` resolves),
 * then each change as it happens. `parse` turns a value into a typed one or undefined (a value
 * that is not ours is skipped, never thrown on). Deletes arrive as `undefined`.
 *
 * "Every current value" is decided by stream sequence, not by the server's pending count: on a
 * bucket written while we read, a delivered message can say "0 pending" with keys still to
 * come (a loss check missed machines that way, in about a third of reads under load). The
 * watch delivers in stream order, so once it has passed the newest sequence there was when it
 * began, every key that existed then has arrived, except one whose value was replaced before
 * the watch reached it: that replacement lies below the newest sequence at that moment, so a
 * second pass up to there completes the set.
 */
export async function followKv<T>(
  kv: KV,
  key: string,
  parse: (raw: unknown) => T | undefined,
  onEntry: (key: string, entry: KvValue<T> | undefined) => void,
): Promise<{ initialized: Promise<void>; stop: () => void }> {
  let highest = 0;
  let stopped = false;
  /** Why the watch ended, once it has (stopped, or the connection closed under it). */
  let ended: Error | undefined;
  let wake = () => {};
  const first = await lastSeqOf(kv, key);
  const iter = await kv.watch({ key });
  void (async () => {
    try {
      for await (const e of iter) {
        highest = Math.max(highest, e.revision);
        onEntry(e.key, decode(e, parse));
        wake();
      }
      ended = new Error(`the watch of ${key} ended`);
    } catch (err) {
      ended = err instanceof Error ? err : new Error(String(err));
    }
    wake();
  })();
  // Waits until the watch has passed `target`. With no progress for a second it looks again: a
  // target removed without a successor (a purge, an expiry) is lowered to the newest sequence
  // there still is; a failed look (NATS reconnecting) keeps waiting, the watch resumes by itself.
  const reach = async (target: number): Promise<void> => {
    while (highest < target) {
      if (ended) throw new Error(`Reading ${key} stopped before it caught up: ${ended.message}`);
      const idle = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(true), 1_000);
        wake = () => {
          clearTimeout(timer);
          resolve(false);
        };
      });
      wake = () => {};
      if (idle && highest < target && !ended)
        target = Math.min(target, await lastSeqOf(kv, key).catch(() => target));
    }
  };
  const initialized = (async () => {
    await reach(first);
    await reach(await lastSeqOf(kv, key));
  })();
  // Whoever awaits it sees a failure; one nobody awaits (a follow stopped early) is no crash.
  initialized.catch(() => {});
  return {
    initialized,
    stop: () => {
      if (stopped) return;
      stopped = true;
      ended ??= new Error('stopped');
      iter.stop();
      wake();
    },
  };
}

function decode<T>(e: KvEntry, parse: (raw: unknown) => T | undefined): KvValue<T> | undefined {
  if (e.operation !== 'PUT') return undefined;
  try {
    const value = parse(e.json());
    return value === undefined ? undefined : { value, revision: e.revision };
  } catch {
    return undefined;
  }
}

/** Every current value under `key` (for example `machine.>`), by key. */
export async function readKv<T>(
  kv: KV,
  key: string,
  parse: (raw: unknown) => T | undefined,
): Promise<Map<string, KvValue<T>>> {
  const out = new Map<string, KvValue<T>>();
  const f = await followKv(kv, key, parse, (k, e) => {
    if (e) out.set(k, e);
    else out.delete(k);
  });
  try {
    await f.initialized;
  } finally {
    f.stop();
  }
  return out;
}

/** A NATS "wrong last sequence" answer: someone else wrote the key since we read it. */
export const isRevisionConflict = (err: unknown): boolean =>
  err instanceof Error && /wrong last sequence|key exists/i.test(err.message);
