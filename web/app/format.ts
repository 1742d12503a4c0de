/** How numbers and times read on the page; '—' stands for "not known" everywhere. */

export const NONE = '—';

/** A 0..1 fraction as a percentage. */
export function percent(fraction: number | null | undefined): string {
  if (fraction === null || fraction === undefined || !Number.isFinite(fraction)) return NONE;
  return `${(fraction * 100).toFixed(1)} %`;
}

/** A duration in seconds, in the two largest units that matter (`2 h 5 min`, `40 s`). */
export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return NONE;
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const minutes = Math.floor(s / 60);
  if (minutes < 60) return s % 60 === 0 ? `${minutes} min` : `${minutes} min ${s % 60} s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return minutes % 60 === 0 ? `${hours} h` : `${hours} h ${minutes % 60} min`;
  const days = Math.floor(hours / 24);
  return hours % 24 === 0 ? `${days} d` : `${days} d ${hours % 24} h`;
}

/** How long ago an epoch-ms instant was, relative to `now`. */
export function age(at: number | null | undefined, now: number): string {
  if (at === null || at === undefined) return NONE;
  const seconds = Math.max(0, (now - at) / 1000);
  return seconds < 1 ? 'just now' : `${duration(seconds)} ago`;
}

/** An epoch-ms instant in the browser's local time. */
export function localTime(at: number | null | undefined): string {
  if (at === null || at === undefined) return NONE;
  return new Date(at).toLocaleString();
}

/** A rate or counter, with digits only where they say something. */
export function amount(value: number): string {
  if (!Number.isFinite(value)) return NONE;
  if (Number.isInteger(value)) return value.toLocaleString('en-US');
  return Math.abs(value) >= 100 ? Math.round(value).toLocaleString('en-US') : value.toFixed(1);
}
