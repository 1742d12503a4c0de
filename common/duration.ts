/**
 * Durations as operators write them, in CLI flags (`--since 15m`, `--for 2h`) and in files
 * (simulation scenarios): one whole number and one unit, `90s`, `15m`, `2h`, `7d`. One grammar
 * for both, so what works on the command line works in a file.
 */
const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
type Unit = keyof typeof UNIT_MS;

/** Milliseconds, or undefined when the text is not a duration. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d{1,6})(s|m|h|d)$/.exec(text.trim());
  if (!m) return undefined;
  return Number(m[1]) * UNIT_MS[m[2] as Unit];
}

/** For messages and listings: 270 000 → "4m30s", 604 800 000 → "7d", 0 → "0s" (whole seconds). */
export function formatDuration(ms: number): string {
  let left = Math.round(ms / 1000) * 1000;
  let out = '';
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    const n = Math.floor(left / UNIT_MS[unit]);
    if (n > 0) out += `${n}${unit}`;
    left -= n * UNIT_MS[unit];
  }
  return out === '' ? '0s' : out;
}
