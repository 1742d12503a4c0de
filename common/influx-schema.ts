/** InfluxDB layout of the contract: raw data 7 days, 1-minute roll-ups 90 days. */
export const RETENTION = {
  raw: { name: 'raw', duration: '7d' },
  rollup: { name: 'rollup_1m', duration: '90d' },
} as const;

export const MEASUREMENTS = {
  telemetry: 'telemetry',
  kpi: 'kpi',
  alarms: 'alarms',
  tickets: 'tickets',
  /** Each pipeline process's counters every 10 s (the keeper records them): the pipeline-health dashboard. */
  pipeline: 'pipeline',
} as const;

/** The continuous query that fills the 1-minute roll-up from raw telemetry. */
export function rollupQuery(db: string): { name: string; query: string } {
  const q = (s: string) => `"${s}"`;
  const select = [
    ...['temperature', 'speed', 'vibration', 'power', 'oee'].map((f) => `mean(${q(f)}) AS ${q(f)}`),
    `max(${q('temperature')}) AS ${q('temperature_max')}`,
    `max(${q('vibration')}) AS ${q('vibration_max')}`,
    `last(${q('production_count')}) AS ${q('production_count')}`,
    `last(${q('good_count')}) AS ${q('good_count')}`,
    `count(${q('seq')}) AS ${q('readings')}`,
  ].join(', ');
  return {
    name: 'telemetry_1m',
    query:
      `SELECT ${select} INTO ${q(db)}.${q(RETENTION.rollup.name)}.${q('telemetry_1m')} ` +
      `FROM ${q(db)}.${q(RETENTION.raw.name)}.${q(MEASUREMENTS.telemetry)} GROUP BY time(1m), *`,
  };
}
