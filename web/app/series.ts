/** The machine page's charts, as data: which limits go on which chart, and the state timeline. */
import type { Limit, SeriesResponse } from '../api/schemas.js';

export type SeriesKey = 'temperature' | 'speed' | 'vibration' | 'power';

export interface ChartSpec {
  key: SeriesKey;
  title: string;
  unit: string;
  color: string;
}

export const CHARTS: readonly ChartSpec[] = [
  { key: 'temperature', title: 'Temperature', unit: '°C', color: '#c2410c' },
  { key: 'speed', title: 'Speed', unit: 'rpm', color: '#2563eb' },
  { key: 'vibration', title: 'Vibration', unit: 'mm/s', color: '#7c3aed' },
  { key: 'power', title: 'Power', unit: 'kW', color: '#0f766e' },
];

/** Limits name the telemetry field (`temperatureC`), the series endpoint the signal (`temperature`). */
const SERIES_OF_FIELD: Record<string, SeriesKey> = {
  temperatureC: 'temperature',
  speedRpm: 'speed',
  vibrationMmS: 'vibration',
  powerKw: 'power',
  temperature: 'temperature',
  speed: 'speed',
  vibration: 'vibration',
  power: 'power',
};

export function limitsBySeries(limits: readonly Limit[]): Record<SeriesKey, Limit[]> {
  const out: Record<SeriesKey, Limit[]> = { temperature: [], speed: [], vibration: [], power: [] };
  for (const limit of limits) {
    const key = SERIES_OF_FIELD[limit.field];
    if (key !== undefined) out[key].push(limit);
  }
  return out;
}

export interface StateSegment {
  from: number;
  to: number;
  state: string;
}

/**
 * The state timeline clipped to [from, to]: each state lasts until the next change, the last one
 * until `to`. A change before `from` still colours the window's start with the state it set.
 */
export function stateSegments(changes: SeriesResponse['states'], from: number, to: number): StateSegment[] {
  const sorted = [...changes].sort((a, b) => a.t - b.t);
  const segments: StateSegment[] = [];
  sorted.forEach((change, i) => {
    const start = Math.max(change.t, from);
    const end = Math.min(sorted[i + 1]?.t ?? to, to);
    if (end > start) segments.push({ from: start, to: end, state: change.state });
  });
  return segments;
}

/** The y range of a chart: the data's, widened to show every limit line, with a little air. */
export function valueRange(
  min: number | null,
  max: number | null,
  limits: readonly number[],
): [number, number] {
  const values = [min, max, ...limits].filter((v): v is number => v !== null && Number.isFinite(v));
  if (values.length === 0) return [0, 1];
  const low = Math.min(...values);
  const high = Math.max(...values);
  const pad = high > low ? (high - low) * 0.08 : Math.max(1, Math.abs(high) * 0.1);
  return [low - pad, high + pad];
}
