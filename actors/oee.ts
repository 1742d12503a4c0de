/**
 * OEE after ISO 22400 over a rolling window of `windowBuckets` buckets of `bucketS` seconds:
 *
 *   availability = APT / PBT          (actual production time / planned busy time)
 *   performance  = made / (APT × ideal rate)
 *   quality      = good / made
 *   OEE          = availability × performance × quality
 *
 * MAINTENANCE is planned downtime (outside PBT); IDLE and FAULT are losses inside it.
 *
 * Layout, chosen for a cheap tick: the current bucket is four scalars; completed buckets sit in
 * a ring (4 numbers each) with running totals. A tick touches only scalars; the ring changes
 * once per bucket and is then replaced, not edited, so an immutable snapshot never shares a
 * mutated array. All sums are integers (ms and parts), so the running totals stay exact.
 */
import type { MachineState, OeeParams } from './params.js';

const FIELDS = 4;

export interface OeeWindow {
  /** Index of the current bucket: floor(ts / bucketMs). */
  bucket: number;
  /** Current bucket: planned busy ms, actual production ms, parts made, good parts. */
  pbtMs: number;
  aptMs: number;
  made: number;
  good: number;
  /** Completed buckets: bucket b at slot b mod (windowBuckets − 1), FIELDS numbers each. */
  ring: number[];
  /** Sums over the ring. */
  ringPbtMs: number;
  ringAptMs: number;
  ringMade: number;
  ringGood: number;
  availability: number;
  performance: number;
  quality: number;
  oee: number;
}

export function newOeeWindow(p: OeeParams, ts: number): OeeWindow {
  return {
    bucket: Math.floor(ts / (p.bucketS * 1000)),
    pbtMs: 0,
    aptMs: 0,
    made: 0,
    good: 0,
    ring: new Array<number>((p.windowBuckets - 1) * FIELDS).fill(0),
    ringPbtMs: 0,
    ringAptMs: 0,
    ringMade: 0,
    ringGood: 0,
    availability: 0,
    performance: 0,
    quality: 1,
    oee: 0,
  };
}

/** Moves the window forward to `bucket`: the current bucket joins the ring, skipped buckets count as empty. */
function advance(w: OeeWindow, p: OeeParams, bucket: number): void {
  const slots = p.windowBuckets - 1;
  const ring = w.ring.length === slots * FIELDS ? w.ring.slice() : new Array<number>(slots * FIELDS).fill(0);
  if (w.ring.length !== ring.length) {
    // The window was resized by a configuration change: start the ring afresh.
    w.ringPbtMs = w.ringAptMs = w.ringMade = w.ringGood = 0;
  }
  if (slots > 0) {
    const completed = Math.min(bucket - w.bucket, slots);
    for (let k = 0; k < completed; k++) {
      const b = bucket - completed + k; // the buckets that now fill the ring, oldest first
      const at = (b % slots) * FIELDS;
      w.ringPbtMs -= ring[at]!;
      w.ringAptMs -= ring[at + 1]!;
      w.ringMade -= ring[at + 2]!;
      w.ringGood -= ring[at + 3]!;
      const isCurrent = b === w.bucket;
      ring[at] = isCurrent ? w.pbtMs : 0;
      ring[at + 1] = isCurrent ? w.aptMs : 0;
      ring[at + 2] = isCurrent ? w.made : 0;
      ring[at + 3] = isCurrent ? w.good : 0;
      w.ringPbtMs += ring[at]!;
      w.ringAptMs += ring[at + 1]!;
      w.ringMade += ring[at + 2]!;
      w.ringGood += ring[at + 3]!;
    }
  }
  w.ring = ring;
  w.bucket = bucket;
  w.pbtMs = w.aptMs = w.made = w.good = 0;
}

/** Adds one interval ending at ts, spent in `state`, to the window (it belongs to the bucket of its end). */
export function recordInterval(
  w: OeeWindow,
  p: OeeParams,
  ts: number,
  state: MachineState,
  dtMs: number,
  made: number,
  good: number,
): void {
  const bucket = Math.floor(ts / (p.bucketS * 1000));
  if (bucket > w.bucket) advance(w, p, bucket);
  if (state !== 'MAINTENANCE') w.pbtMs += dtMs;
  if (state === 'RUNNING') w.aptMs += dtMs;
  w.made += made;
  w.good += good;
}

/** Recomputes the factors. Each is clamped to [0, 1]; OEE is exactly their product. */
export function updateFactors(w: OeeWindow, idealPartsPerS: number): void {
  const pbt = w.ringPbtMs + w.pbtMs;
  const apt = w.ringAptMs + w.aptMs;
  const made = w.ringMade + w.made;
  const good = w.ringGood + w.good;
  w.availability = pbt > 0 ? Math.min(1, apt / pbt) : 0;
  // Whole parts lag the fractional production by less than one: clamp the rare overshoot.
  w.performance = apt > 0 ? Math.min(1, made / ((apt / 1000) * idealPartsPerS)) : 0;
  w.quality = made > 0 ? good / made : 1;
  w.oee = w.availability * w.performance * w.quality;
}
