import { describe, expect, it } from 'vitest';
import type { Worker } from '../api/schemas.js';
import { shardCoverage } from './shards.js';

const worker = (workerId: string, shards: number[]): Worker => ({
  workerId,
  pid: 1,
  shards,
  actors: 0,
  fenced: false,
  lastSeen: 0,
});

describe('shard coverage', () => {
  it('finds shards nobody owns and shards two workers claim', () => {
    expect(shardCoverage([worker('a', [0, 1, 2]), worker('b', [2, 4, 9])], 6)).toEqual({
      unowned: [3, 5],
      contested: [2],
    });
    expect(shardCoverage([], 3)).toEqual({ unowned: [0, 1, 2], contested: [] });
  });
});
