/**
 * The telemetry v1 message of the contract, read off a machine's context. The zod schema that
 * validates it at the edges lives with the other shared schemas; this is the producing side.
 */
import type { MachineContext } from './model.js';
import type { MachineState } from './params.js';

export interface MachineIds {
  site: string;
  line: string;
  machineId: string;
}

export interface TelemetryV1 {
  v: 1;
  site: string;
  line: string;
  machineId: string;
  ts: number;
  seq: number;
  state: MachineState;
  temperatureC: number;
  speedRpm: number;
  vibrationMmS: number;
  powerKw: number;
  productionCount: number;
  goodCount: number;
  oee: number;
}

function round(x: number, decimals: number): number {
  const f = 10 ** decimals;
  const r = Math.round(x * f) / f;
  return r === 0 ? 0 : r; // no -0 in JSON output
}

/**
 * The message for the last tick, or null when that tick emitted none (a sensor dropout, a tick
 * with `emit: false`, or a command since). Calling it twice gives the same message: same seq,
 * same data. Readings are what the sensors report (sensor faults included), rounded to 2
 * decimals (speed to 1, OEE to 3).
 */
export function telemetryOf(c: MachineContext, ids: MachineIds): TelemetryV1 | null {
  if (!c.emitted) return null;
  const r = c.reading;
  return {
    v: 1,
    site: ids.site,
    line: ids.line,
    machineId: ids.machineId,
    ts: c.ts,
    seq: c.seq,
    state: c.state,
    temperatureC: round(r.temperatureC, 2),
    speedRpm: round(r.speedRpm, 1),
    vibrationMmS: round(r.vibrationMmS, 2),
    powerKw: round(r.powerKw, 2),
    productionCount: c.productionCount,
    goodCount: c.goodCount,
    oee: round(c.oee.oee, 3),
  };
}
