import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { murmur2, partitionOf } from './partitioner.js';

const require = createRequire(import.meta.url);
const kafkajsMurmur2 = require('kafkajs/src/producer/partitioners/default/murmur2.js') as (
  k: string,
) => number;

describe('partitionOf', () => {
  it('agrees with the kafkajs default partitioner for machine ids and odd lengths', () => {
    const keys = [
      '',
      'a',
      'ab',
      'abc',
      'abcd',
      'M-0001',
      'M-12345',
      'käse',
      ...Array.from({ length: 500 }, (_, i) => `M-${i}`),
    ];
    for (const k of keys) expect(murmur2(k), k).toBe(kafkajsMurmur2(k));
  });

  it('spreads 10,000 machines over 16 shards within 10% of even', () => {
    const counts = new Array(16).fill(0);
    for (let i = 1; i <= 10_000; i++) counts[partitionOf(`M-${String(i).padStart(4, '0')}`, 16)]++;
    for (const c of counts) expect(Math.abs(c - 625)).toBeLessThan(63);
  });
});
