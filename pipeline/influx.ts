import { FieldType, InfluxDB, type IPoint } from 'influx';
import type { AlarmEvent } from '../analytics/events.js';
import type { Config } from '../common/config.js';
import { type InfluxRole, influxAccount } from '../common/credentials.js';
import { MEASUREMENTS, RETENTION } from '../common/influx-schema.js';
import type { TelemetryV1 } from '../common/telemetry.js';
import type { MachineEvent } from './validate.js';

export const EVENTS_MEASUREMENT = 'machine_events';

/**
 * The `influx` client with the contract's field types (integers stay integers), signed in as
 * `role`: `writer` for what stores, `reader` for what only looks, `admin` to provision.
 */
export function pipelineInflux(config: Config, role: InfluxRole): InfluxDB {
  return new InfluxDB({
    host: config.influx.host,
    port: config.influx.port,
    ...influxAccount(config, role),
    database: config.influxDb,
    schema: [
      {
        measurement: MEASUREMENTS.telemetry,
        tags: ['site', 'line', 'machine', 'state'],
        fields: {
          temperature: FieldType.FLOAT,
          speed: FieldType.FLOAT,
          vibration: FieldType.FLOAT,
          power: FieldType.FLOAT,
          production_count: FieldType.INTEGER,
          good_count: FieldType.INTEGER,
          oee: FieldType.FLOAT,
          seq: FieldType.INTEGER,
        },
      },
      {
        measurement: MEASUREMENTS.alarms,
        tags: ['site', 'line', 'machine', 'rule', 'severity', 'transition'],
        fields: {
          alarm_id: FieldType.STRING,
          state: FieldType.STRING,
          kind: FieldType.STRING,
          value: FieldType.FLOAT,
          limit: FieldType.FLOAT,
          raised_at: FieldType.INTEGER,
          by: FieldType.STRING,
          flood: FieldType.STRING,
          message: FieldType.STRING,
        },
      },
      {
        // Maintenance tickets (workflows/activities.ts): opened, then repaired, cancelled or merged.
        measurement: MEASUREMENTS.tickets,
        tags: ['site', 'line', 'machine', 'event'],
        fields: {
          ticket_id: FieldType.STRING,
          reason: FieldType.STRING,
          by: FieldType.STRING,
          response_s: FieldType.FLOAT,
          repair_s: FieldType.FLOAT,
          open_s: FieldType.FLOAT,
        },
      },
      {
        measurement: MEASUREMENTS.pipeline,
        tags: ['component', 'role'],
        fields: {
          received: FieldType.INTEGER,
          forwarded: FieldType.INTEGER,
          written: FieldType.INTEGER,
          dead_lettered: FieldType.INTEGER,
          lag: FieldType.INTEGER,
        },
      },
      {
        measurement: EVENTS_MEASUREMENT,
        tags: ['site', 'line', 'machine', 'type'],
        fields: { epoch: FieldType.INTEGER, skipped_from: FieldType.INTEGER, skipped_to: FieldType.INTEGER },
      },
    ],
  });
}

/** Telemetry v1 as the contract's measurement: tags site, line, machine, state. */
export function telemetryPoint(t: TelemetryV1): IPoint {
  return {
    measurement: MEASUREMENTS.telemetry,
    tags: { site: t.site, line: t.line, machine: t.machineId, state: t.state },
    fields: {
      temperature: t.temperatureC,
      speed: t.speedRpm,
      vibration: t.vibrationMmS,
      power: t.powerKw,
      production_count: t.productionCount,
      good_count: t.goodCount,
      oee: t.oee,
      seq: t.seq,
    },
    timestamp: t.ts,
  };
}

export function eventPoint(e: MachineEvent & { site: string; line: string }): IPoint {
  return {
    measurement: EVENTS_MEASUREMENT,
    tags: { site: e.site, line: e.line, machine: e.machineId, type: e.type },
    fields: { epoch: e.epoch, skipped_from: e.skippedFrom, skipped_to: e.skippedTo },
    timestamp: e.ts,
  };
}

/**
 * An alarm transition as a point of the contract's `alarms` measurement. A line's own alarms
 * (flood) carry the machine tag "-". Absent values are left out, as InfluxDB wants.
 */
export function alarmPoint(e: AlarmEvent): IPoint {
  const fields: Record<string, string | number> = {
    alarm_id: e.alarmId,
    state: e.state,
    kind: e.kind,
    message: e.message,
  };
  if (e.value !== null) fields.value = e.value;
  if (e.limit !== null) fields.limit = e.limit;
  if (e.raisedAt !== null) fields.raised_at = e.raisedAt;
  if (e.by !== null) fields.by = e.by;
  if (e.flood !== null) fields.flood = e.flood;
  return {
    measurement: MEASUREMENTS.alarms,
    tags: {
      site: e.site,
      line: e.line,
      machine: e.machineId ?? '-',
      rule: e.rule,
      severity: e.severity,
      transition: e.transition,
    },
    fields,
    timestamp: e.ts,
  };
}

export const writeRaw = (influx: InfluxDB, points: IPoint[]) =>
  influx.writePoints(points, { precision: 'ms', retentionPolicy: RETENTION.raw.name });
