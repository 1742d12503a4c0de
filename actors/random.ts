/**
 * Seeded randomness for the machine model. The generator is mulberry32: one 32-bit word of
 * state, which lives in the machine context (`rng`) so that a persisted snapshot carries it
 * and a restored actor continues the exact same stream. Nothing here reads a global source.
 */

/** Anything that carries a mulberry32 state word; `uniform` and friends advance it in place. */
export interface RandomSource {
  rng: number;
}

const TWO_PI = 2 * Math.PI;

/** Uniform in [0, 1); advances `src.rng` by one step. */
export function uniform(src: RandomSource): number {
  const a = (src.rng + 0x6d2b79f5) | 0;
  src.rng = a;
  let t = Math.imul(a ^ (a >>> 15), 1 | a);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

/**
 * Standard normal by Box–Muller. Only one of the pair is used, so that the generator state
 * stays a single word: no cached spare that a snapshot would have to carry.
 */
export function gaussian(src: RandomSource): number {
  const u1 = 1 - uniform(src); // (0, 1]: log stays finite
  const u2 = uniform(src);
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(TWO_PI * u2);
}

/**
 * Two independent standard normals from one Box–Muller draw (cosine and sine), written into
 * `out` so that the hot path allocates nothing. Both must be used at once: none is kept for later.
 */
export function gaussianPair(src: RandomSource, out: Float64Array): void {
  const r = Math.sqrt(-2 * Math.log(1 - uniform(src)));
  const theta = TWO_PI * uniform(src);
  out[0] = r * Math.cos(theta);
  out[1] = r * Math.sin(theta);
}

/** 32-bit FNV-1a followed by the murmur3 finaliser: a stable, well-mixed hash of a string. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The seed of one machine: derived from the fleet seed and its id, so adding machines moves no one. */
export function machineSeed(fleetSeed: number | string, machineId: string): number {
  return hash32(`${fleetSeed}:${machineId}`);
}
