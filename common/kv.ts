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
 */
export async function followKv<T>(
  kv: KV,
  key: string,
  parse: (raw: unknown) => T | undefined,
  onEntry: (key: string, entry: KvValue<T> | undefined) => void,
): Promise<{ initialized: Promise<void>; stop: () => void }> {
  let ready!: () => void;
  const initialized = new Promise<void>((resolve) => {
    ready = resolve;
  });
  const iter = await kv.watch({ key, initializedFn: () => ready() });
  void (async () => {
    for await (const e of iter) onEntry(e.key, decode(e, parse));
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
