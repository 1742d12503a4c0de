/**
 * Puts one machine's readings back in seq order. The bridge's lanes may deliver them out of
 * order, QoS 1 and replays may deliver them twice. A reading beyond the next expected seq is
 * held while the gap is open, for `maxHoldMs` at most (wall clock), then the gap is given up
 * and what is held is delivered. A range its owner announced as skipped after a failover
 * (machine-events) is a gap by design: nothing is held for it. Plain JSON, persisted with the
 * machine's analytics state, so a restart neither loses what was held nor re-delivers.
 */
export interface Sequenced {
  seq: number;
}

export interface ReorderState<T extends Sequenced> {
  /** The next seq to deliver; null before the first reading. */
  next: number | null;
  /** Held readings, ascending by seq. */
  held: T[];
  /** Wall-clock time the oldest open gap began to be held. */
  heldSince: number | null;
  /** Announced skip ranges [from, to] at or beyond `next`. */
  skips: [number, number][];
}

export interface ReorderStats {
  duplicates: number;
  /** Seqs given up as missing (a gap that never filled). */
  missing: number;
  /** Seqs passed over because their owner announced them skipped. */
  skipped: number;
}

/** Held readings are bounded: a machine that skips far ahead cannot make us hold without end. */
export const MAX_HELD = 256;

export const newReorder = <T extends Sequenced>(): ReorderState<T> => ({
  next: null,
  held: [],
  heldSince: null,
  skips: [],
});

export const newStats = (): ReorderStats => ({ duplicates: 0, missing: 0, skipped: 0 });

/** Moves `next` past any announced range that begins at it. */
function passSkips<T extends Sequenced>(s: ReorderState<T>, stats: ReorderStats) {
  let moved = true;
  while (moved && s.next !== null) {
    moved = false;
    for (const [from, to] of s.skips) {
      if (from <= s.next && s.next <= to) {
        stats.skipped += to + 1 - s.next;
        s.next = to + 1;
        moved = true;
      }
    }
  }
  s.skips = s.skips.filter(([, to]) => s.next === null || to >= s.next);
}

/** Held readings that `next` has passed (a skip range covered them): already decided, dropped. */
function dropPassed<T extends Sequenced>(s: ReorderState<T>, stats: ReorderStats) {
  while (s.held.length > 0 && s.next !== null && s.held[0]!.seq < s.next) {
    s.held.shift();
    stats.duplicates += 1;
  }
}

/** Delivers held readings that are now next in line. */
function drain<T extends Sequenced>(s: ReorderState<T>, out: T[], stats: ReorderStats) {
  passSkips(s, stats);
  dropPassed(s, stats);
  while (s.held.length > 0 && s.held[0]!.seq === s.next) {
    out.push(s.held.shift()!);
    s.next! += 1;
    passSkips(s, stats);
    dropPassed(s, stats);
  }
  if (s.held.length === 0) s.heldSince = null;
}

/** Gives up the open gap: delivers everything held, in order. */
function giveUp<T extends Sequenced>(s: ReorderState<T>, out: T[], stats: ReorderStats) {
  for (const r of s.held) {
    // Never backwards: a held reading that a skip range passed over is not delivered late.
    if (s.next !== null && r.seq < s.next) {
      stats.duplicates += 1;
      continue;
    }
    if (s.next !== null && r.seq > s.next) stats.missing += r.seq - s.next;
    out.push(r);
    s.next = r.seq + 1;
  }
  s.held = [];
  s.heldSince = null;
  passSkips(s, stats);
}

/** Offers a reading; returns what can be delivered now, in seq order. */
export function offer<T extends Sequenced>(s: ReorderState<T>, r: T, now: number, stats: ReorderStats): T[] {
  const out: T[] = [];
  // The first reading ever seen: seq 1 is surely the first; any other may have a predecessor
  // still on its way, so it waits like a gap (the machine's start is not known).
  if (s.next === null && r.seq === 1) s.next = 1;
  if (s.next === null) {
    hold(s, r, now, out, stats);
    return out;
  }
  passSkips(s, stats);
  if (r.seq < s.next) {
    stats.duplicates += 1;
    return out;
  }
  if (r.seq === s.next) {
    out.push(r);
    s.next += 1;
    drain(s, out, stats);
    return out;
  }
  // Ahead of the next expected: hold it (once) while the gap is open.
  hold(s, r, now, out, stats);
  return out;
}

function hold<T extends Sequenced>(s: ReorderState<T>, r: T, now: number, out: T[], stats: ReorderStats) {
  let i = s.held.length;
  while (i > 0 && s.held[i - 1]!.seq > r.seq) i--;
  if (i > 0 && s.held[i - 1]!.seq === r.seq) {
    stats.duplicates += 1;
    return;
  }
  s.held.splice(i, 0, r);
  s.heldSince ??= now;
  if (s.held.length > MAX_HELD) giveUp(s, out, stats);
}

/** An owner announced [from, to] as never used: a gap by design, not a loss to wait for. */
export function announceSkip<T extends Sequenced>(
  s: ReorderState<T>,
  from: number,
  to: number,
  stats: ReorderStats,
): T[] {
  const out: T[] = [];
  if (to < from || (s.next !== null && to < s.next)) return out;
  s.skips.push([from, to]);
  if (s.skips.length > 16) s.skips.shift();
  drain(s, out, stats);
  return out;
}

/** Called on the processor's clock: a gap held for `maxHoldMs` is given up. */
export function expire<T extends Sequenced>(
  s: ReorderState<T>,
  now: number,
  maxHoldMs: number,
  stats: ReorderStats,
): T[] {
  const out: T[] = [];
  if (s.heldSince !== null && now - s.heldSince >= maxHoldMs) giveUp(s, out, stats);
  return out;
}
