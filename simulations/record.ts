/**
 * What a run recorded, on either clock: the facts the judge reads, the timeline as it was
 * executed (actual times), and the series the charts draw. The report is written from this
 * alone, so a report can be rebuilt from its own JSON.
 */
import type { RunFacts } from './judge.js';
import { type Clock, formatDuration, type Scenario, type TimelineEntry } from './scenario.js';

/** One thing that happened, `atMs` after the start of the timeline. */
export interface ExecutedStep {
  /** The timeline entry it belongs to (index in the file), or null for the run's own steps. */
  entry: number | null;
  atMs: number;
  /** When the timeline meant it to happen, for the steps it plans (an injection, a clear, a resume). */
  plannedMs?: number;
  what: string;
}

/** The writers' counters at `t` ms into the run (null: no writer answered). */
export interface Sample {
  t: number;
  /** Readings written to InfluxDB since the writer started (a counter). */
  written: number | null;
  /** The writers' Kafka lag, in records. */
  lag: number | null;
}

/** One reading of a faulted machine, `t` ms into the run. */
export interface Series {
  machineId: string;
  t: number;
  state: string;
  temperature: number;
  vibration: number;
}

export interface RunRecord {
  scenario: Scenario;
  clock: Clock;
  /** Where it ran, in words. */
  stack: string;
  facts: RunFacts;
  steps: ExecutedStep[];
  samples: Sample[];
  series: Series[];
  machines: number;
}

/** A timeline entry in words, as the report and the progress line show it. */
export function timelineText(e: TimelineEntry): string {
  switch (e.kind) {
    case 'fault': {
      const t = e.target.share === undefined ? e.target.pattern : `${e.target.share} of ${e.target.pattern}`;
      const params = Object.entries(e.inject.params ?? {})
        .map(([k, v]) => `${k} ${v}`)
        .join(', ');
      return `${e.inject.fault}${params ? ` (${params})` : ''} on ${t}${e.forMs ? ` for ${formatDuration(e.forMs)}` : ''}`;
    }
    case 'kill':
      return `kill ${e.process.name}`;
    case 'pause':
      return `pause ${e.process.name} for ${formatDuration(e.forMs)}`;
    case 'stop':
      return `stop ${e.server}${e.graceful ? ' (graceful)' : ''} for ${formatDuration(e.forMs)}`;
    case 'network':
      return `network ${e.network.from}→${e.network.to} ${e.network.effect.kind} for ${formatDuration(e.forMs)}`;
  }
}
