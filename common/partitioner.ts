/**
 * Which partition Kafka's default partitioner (Java's, and kafkajs's DefaultPartitioner) puts
 * a keyed record on: murmur2 of the key bytes, made positive, modulo the partition count.
 * A worker uses it to know which machines live in the shards (partitions of
 * `machine-commands`) it owns, without asking anyone.
 */
export function murmur2(key: string | Uint8Array): number {
  const data = typeof key === 'string' ? Buffer.from(key) : key;
  const m = 0x5bd1e995;
  const length = data.length;
  let h = (0x9747b28c ^ length) | 0;
  const length4 = length >>> 2;
  for (let i = 0; i < length4; i++) {
    const i4 = i * 4;
    let k = data[i4]! | (data[i4 + 1]! << 8) | (data[i4 + 2]! << 16) | (data[i4 + 3]! << 24);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m) ^ k;
  }
  // The 1-3 bytes left over are folded in highest first, as the reference's fall-through does.
  const tail = length & ~3;
  const rest = length % 4;
  if (rest >= 3) h ^= data[tail + 2]! << 16;
  if (rest >= 2) h ^= data[tail + 1]! << 8;
  if (rest >= 1) {
    h ^= data[tail]!;
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}

/** The shard (partition) of a key among `partitions`, as the producer will choose it. */
export const partitionOf = (key: string, partitions: number): number =>
  (murmur2(key) & 0x7fffffff) % partitions;
