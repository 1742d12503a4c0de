/**
 * The shape of one machine's context and the events it takes. The context is plain JSON
 * (no Maps, no undefined, no Infinity) so that a persisted XState snapshot round-trips exactly.
 */
import type { Command, SensorFaultKind, SensorField } from './commands.js';
import { newOeeWindow, type OeeWindow } from './oee.js';
import type { ChainState, MachineParams, MachineState } from './params.js';
import { powerOf, temperatureSetpoint, vibrationOf } from './physics.js';

/** What the sensors report: the true values after noise and sensor faults. */
export interface Reading {
  temperatureC: number;
  speedRpm: number;
  vibrationMmS: number;
  powerKw: number;
}

/**
 * A fault of a sensor, not of the machine. `value` is the frozen reading (stuck), the drift
 * rate per minute (drift) or the noise sigma (noise burst); unused for a dropout.
 */
export interface SensorFault {
  kind: SensorFaultKind;
  field: SensorField | null;
  since: number;
  /** Epoch ms when it ends by itself; null = until cleared. */
  until: number | null;
  value: number;
}

export interface ActiveFaults {
  /** Injected cooling failure: extra °C on the temperature set point while powered; 0 = none. */
  overheatC: number;
  /** Injected bearing wear rate per running hour; 0 = none. */
  wearPerHour: number;
  jam: boolean;
  sensors: SensorFault[];
}

export const NO_FAULTS: ActiveFaults = { overheatC: 0, wearPerHour: 0, jam: false, sensors: [] };

export type TripCause = 'overtemperature' | 'vibration' | 'jam';

export interface Trip {
  cause: TripCause;
  ts: number;
  detail: string;
}

export interface Rejection {
  command: string;
  reason: string;
  /** Simulated now (the last tick) when it was rejected. */
  ts: number;
}

export interface MachineContext {
  /** Mirrors the state chart's value; the pure `step` reads and writes it. */
  state: MachineState;
  /** Simulated now: epoch ms of the last tick. */
  ts: number;
  /** seq of the last telemetry message emitted (0 before the first). */
  seq: number;
  /** Bumped by RESUME when a new owner takes over; recorded next to the seq gap it explains. */
  epoch: number;
  /** mulberry32 state word. */
  rng: number;
  /** Whether the last event produced a telemetry message (only ticks do, unless a dropout suppresses it). */
  emitted: boolean;
  // True physics.
  temperatureC: number;
  speedRpm: number;
  setpointRpm: number;
  load: number;
  wear: number;
  vibrationMmS: number;
  powerKw: number;
  productionCount: number;
  goodCount: number;
  /** Fraction of a part made but not yet counted. */
  partsCarry: number;
  reading: Reading;
  oee: OeeWindow;
  faults: ActiveFaults;
  trip: Trip | null;
  /** Maintenance ticket that holds the machine in MAINTENANCE (the chain may not end it). */
  ticketId: string | null;
  /** Stopped by an operator: the chain may not restart it from IDLE. */
  stopped: boolean;
  lastRejection: Rejection | null;
}

export interface MachineInput {
  /** Seed of the machine's generator (see `machineSeed`). */
  seed: number;
  /** Simulated now at creation, epoch ms. */
  ts: number;
  initialState?: ChainState;
  /** Continue numbering from here (seq of the last message already published). */
  seq?: number;
}

/** Advances simulated time to `ts`; `emit: false` advances without producing a telemetry message. */
export interface TickEvent {
  type: 'TICK';
  ts: number;
  emit?: boolean;
}

/**
 * Sent by a host that takes over a machine whose previous owner may have published messages
 * after its last snapshot: skips seqSkip numbers so that no seq is reused, and records the epoch.
 */
export interface ResumeEvent {
  type: 'RESUME';
  epoch: number;
  seqSkip: number;
}

/** A command that failed validation at the edge; the machine records the rejection. */
export interface InvalidCommandEvent {
  type: 'INVALID_COMMAND';
  command: string;
  reason: string;
}

export type MachineEvent = TickEvent | ResumeEvent | InvalidCommandEvent | Command;

/** A machine warmed up to the steady state of its initial state, so telemetry starts plausible. */
export function initialContext(params: MachineParams, input: MachineInput): MachineContext {
  const p = params.physics;
  const state = input.initialState ?? 'RUNNING';
  const speedRpm = state === 'RUNNING' ? p.nominalRpm : 0;
  const temperatureC = temperatureSetpoint(p, state, p.loadMean, speedRpm, 0);
  const vibrationMmS = vibrationOf(p, speedRpm, 0);
  const powerKw = powerOf(p, state, speedRpm, p.loadMean);
  return {
    state,
    ts: input.ts,
    seq: input.seq ?? 0,
    epoch: 0,
    rng: input.seed | 0,
    emitted: false,
    temperatureC,
    speedRpm,
    setpointRpm: p.nominalRpm,
    load: p.loadMean,
    wear: 0,
    vibrationMmS,
    powerKw,
    productionCount: 0,
    goodCount: 0,
    partsCarry: 0,
    reading: { temperatureC, speedRpm, vibrationMmS, powerKw },
    oee: newOeeWindow(params.oee, input.ts),
    faults: NO_FAULTS,
    trip: null,
    ticketId: null,
    stopped: false,
    lastRejection: null,
  };
}
