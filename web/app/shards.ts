/** The shard map's health, read off the workers' heartbeats. */
import type { Worker } from '../api/schemas.js';

export interface ShardCoverage {
  /** Shards (0..shards-1) that no worker owns: their machines are not hosted. */
  unowned: number[];
  /** Shards more than one worker claims (a fenced or stale worker not yet gone). */
  contested: number[];
}

export function shardCoverage(workers: readonly Worker[], shards: number): ShardCoverage {
  const owners = new Array<number>(Math.max(0, shards)).fill(0);
  for (const w of workers) for (const s of w.shards) if (s >= 0 && s < shards) owners[s]! += 1;
  const unowned: number[] = [];
  const contested: number[] = [];
  owners.forEach((n, shard) => {
    if (n === 0) unowned.push(shard);
    else if (n > 1) contested.push(shard);
  });
  return { unowned, contested };
}
