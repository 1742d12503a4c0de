/**
 * Reading NATS KV buckets whole: every key's latest value through one ordered consumer (a
 * watch), not a request per key, so 20,000 machines load in one pass.
 */
import type { KV, KvEntry } from 'nats';

export interface KvValue<T> {
  value: T;
  revision: number;
}

/**
 * Follows the keys matching `key`: every current value first (then `initialized` resolves),
 * then each change as it happens. `parse` turns a value into a typed one or undefined (a value
 * that is not ours is skipped, never thrown on). Deletes arrive as `undefined`.
 *
 * "Every current value" means the watch has caught up: an entry arrived with nothing pending
 * behind it. (The client's own signal counts messages against what was pending when the
 * watch began; on a bucket written while we read, updates of keys already seen make that
 * count come up before every key has arrived. A loss check missed a machine that way.)
 */
export async function followKv<T>(
  kv: KV,
  key: string,
  parse: (raw: unknown) => T | undefined,
  onEntry: (key: string, entry: KvValue<T> | undefined) => void,
): Promise<{ initialized: Promise<void>; stop: () => void }> {
  let received = 0;
  let caughtUp = false;
  let signalled = false;
  let ready!: () => void;
  const initialized = new Promise<void>((resolve) => {
    ready = resolve;
  });
  const check = () => {
    if (signalled && (caughtUp || received === 0)) ready();
  };
  const iter = await kv.watch({
    key,
    initializedFn: () => {
      signalled = true;
      check();
    },
  });
  void (async () => {
    for await (const e of iter) {
      received++;
      if (e.delta === 0) caughtUp = true;
      onEntry(e.key, decode(e, parse));
      check();
    }
  })();
  return { initialized, stop: () => iter.stop() };
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
  await f.initialized;
  f.stop();
  return out;
}

/** A NATS "wrong last sequence" answer: someone else wrote the key since we read it. */
export const isRevisionConflict = (err: unknown): boolean =>
  err instanceof Error && /wrong last sequence|key exists/i.test(err.message);
