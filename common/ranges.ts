/** Inclusive ranges, the compact way to print and send sets of seq numbers. */
export type Ranges = [number, number][];

/** The inclusive ranges of a set of whole numbers, ascending, repeats ignored. */
export function toRanges(values: Iterable<number>): Ranges {
  const sorted = [...new Set(values)].sort((a, b) => a - b);
  const out: Ranges = [];
  for (const n of sorted) {
    const last = out.at(-1);
    if (last && n === last[1] + 1) last[1] = n;
    else out.push([n, n]);
  }
  return out;
}
