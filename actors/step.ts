/**
 * The transition function of one machine: `step(context, event, params)` → next context.
 * The XState machine runs it inside `assign`; a headless simulator runs `stepInPlace` on a
 * private context for speed. Both give bit-identical results: there is one implementation.
 *
 * Mutation discipline: `stepInPlace` writes only scalar fields and the scalars of `reading`
 * and `oee` (which `cloneContext` copies); arrays and the other objects (`oee.ring`, `faults`,
 * `trip`, `lastRejection`) are replaced, never edited, so a previous snapshot that shares them
 * stays intact.
 */
import {
  type Command,
  type FAULT_KINDS,
  type InjectFault,
  parseCommand,
  type SensorField,
} from './commands.js';
import { type CompiledChain, chainNext, compileChain } from './markov.js';
import type {
  ActiveFaults,
  MachineContext,
  MachineEvent,
  ResumeEvent,
  SensorFault,
  TickEvent,
  TripCause,
} from './model.js';
import { NO_FAULTS } from './model.js';
import { recordInterval, updateFactors } from './oee.js';
import { DEFAULT_PARAMS, type MachineParams, type MachineState } from './params.js';
import {
  bearingVibration,
  goodParts,
  idealPartsPerS,
  loadStep,
  partsOver,
  powerOf,
  qualityOf,
  rampSpeed,
  temperatureSetpoint,
  thermalStep,
  vibrationOf,
  wearStep,
} from './physics.js';
import { gaussian, gaussianPair, uniform } from './random.js';

interface Compiled {
  chain: CompiledChain;
  idealPartsPerS: number;
}

const compiledCache = new WeakMap<MachineParams, Compiled>();

function compiled(params: MachineParams): Compiled {
  let c = compiledCache.get(params);
  if (!c) {
    c = { chain: compileChain(params.transitions), idealPartsPerS: idealPartsPerS(params.physics) };
    compiledCache.set(params, c);
  }
  return c;
}

/** Defaults of sensor faults, per field: what a visible but plausible fault looks like. */
const DRIFT_PER_MIN: Record<SensorField, number> = {
  temperatureC: 0.5,
  speedRpm: 10,
  vibrationMmS: 0.2,
  powerKw: 0.2,
};
const BURST_SIGMA: Record<SensorField, number> = {
  temperatureC: 5,
  speedRpm: 80,
  vibrationMmS: 2,
  powerKw: 2,
};
const DEFAULT_OVERHEAT_C = 70;
const DEFAULT_WEAR_PER_HOUR = 1;
const DEFAULT_DROPOUT_S = 60;
const DEFAULT_BURST_S = 30;

/** Scratch for pairs of normals within one tick (never carried between ticks). */
const Z = new Float64Array(2);

/** A copy that `stepInPlace` may mutate without touching the original. */
export function cloneContext(c: MachineContext): MachineContext {
  return { ...c, reading: { ...c.reading }, oee: { ...c.oee } };
}

/** The next context after `event`; `context` is left untouched. Never throws. */
export function step(context: MachineContext, event: MachineEvent, params: MachineParams = DEFAULT_PARAMS) {
  const next = cloneContext(context);
  stepInPlace(next, event, params);
  return next;
}

/** `step` without the copy: for a simulator that owns its context. Never throws. */
export function stepInPlace(
  c: MachineContext,
  event: MachineEvent,
  params: MachineParams = DEFAULT_PARAMS,
): void {
  const type = (event as { type?: unknown } | null)?.type;
  if (type === 'TICK') {
    const reason = tickProblem(c, event as TickEvent);
    if (reason === null) tick(c, event as TickEvent, params);
    else reject(c, 'TICK', reason);
    return;
  }
  c.emitted = false;
  if (type === 'RESUME') {
    const reason = resumeProblem(c, event as ResumeEvent);
    if (reason === null) {
      c.epoch = (event as ResumeEvent).epoch;
      c.seq += (event as ResumeEvent).seqSkip;
    } else reject(c, 'RESUME', reason);
    return;
  }
  if (type === 'INVALID_COMMAND') {
    const e = event as { command?: unknown; reason?: unknown };
    reject(c, String(e.command ?? 'unknown'), String(e.reason ?? 'invalid command'));
    return;
  }
  const parsed = parseCommand(event);
  if (!parsed.ok) {
    reject(c, parsed.command, parsed.reason);
    return;
  }
  const reason = commandProblem(c, parsed.command, params);
  if (reason === null) applyCommand(c, parsed.command, params);
  else reject(c, parsed.command.type, reason);
}

/** Why `event` would be rejected in `context`, or null if it would be accepted. Pure. */
export function rejectionOf(
  context: MachineContext,
  event: MachineEvent,
  params: MachineParams = DEFAULT_PARAMS,
): string | null {
  switch ((event as { type?: unknown } | null)?.type) {
    case 'TICK':
      return tickProblem(context, event as TickEvent);
    case 'RESUME':
      return resumeProblem(context, event as ResumeEvent);
    case 'INVALID_COMMAND':
      return String((event as { reason?: unknown }).reason ?? 'invalid command');
  }
  const parsed = parseCommand(event);
  return parsed.ok ? commandProblem(context, parsed.command, params) : parsed.reason;
}

function reject(c: MachineContext, command: string, reason: string): void {
  c.emitted = false;
  c.lastRejection = { command, reason, ts: c.ts };
}

function tickProblem(c: MachineContext, e: TickEvent): string | null {
  if (!Number.isSafeInteger(e.ts)) return `TICK needs ts as integer epoch milliseconds, got ${String(e.ts)}`;
  if (e.ts < c.ts) return `TICK at ${e.ts} is earlier than the last tick at ${c.ts}; time only moves forward`;
  if (e.emit !== undefined && typeof e.emit !== 'boolean') return 'TICK emit must be true or false';
  return null;
}

function resumeProblem(c: MachineContext, e: ResumeEvent): string | null {
  if (!Number.isSafeInteger(e.epoch) || e.epoch <= c.epoch)
    return `RESUME needs an integer epoch above the current ${c.epoch}, got ${String(e.epoch)}`;
  if (!Number.isSafeInteger(e.seqSkip) || e.seqSkip < 0)
    return `RESUME needs seqSkip as a non-negative integer, got ${String(e.seqSkip)}`;
  return null;
}

// ─── Ticks: physics over the elapsed interval, then the state at its end ─────────────────────

function tick(c: MachineContext, e: TickEvent, params: MachineParams): void {
  const p = params.physics;
  const cp = compiled(params);
  const ts = e.ts;
  const dtMs = ts - c.ts;
  const dtS = dtMs / 1000;
  const prev = c.state;
  const faults = c.faults;

  if (faults.sensors.length > 0) expireSensorFaults(c, ts);

  // 1. True physics over (c.ts, ts], spent in `prev`.
  const speed0 = c.speedRpm;
  const speed1 = rampSpeed(speed0, prev === 'RUNNING' ? c.setpointRpm : 0, dtS, p.rampRpmPerS);
  const avgSpeed = (speed0 + speed1) / 2;
  gaussianPair(c, Z);
  const zTemperature = Z[1]!;
  c.load = loadStep(c.load, p, dtS, Z[0]!);
  const setpointC = temperatureSetpoint(p, prev, c.load, avgSpeed, faults.overheatC);
  c.temperatureC = thermalStep(c.temperatureC, setpointC, dtS, p.thermalTauS);
  c.wear = wearStep(p, c.wear, faults.wearPerHour, avgSpeed, dtS);
  c.speedRpm = speed1;

  let made = 0;
  let good = 0;
  if (prev === 'RUNNING') {
    const carry = c.partsCarry + partsOver(p, avgSpeed, dtS);
    made = Math.floor(carry);
    c.partsCarry = carry - made;
    good = goodParts(made, qualityOf(p, c.wear), c);
    c.productionCount += made;
    c.goodCount += good;
  }
  recordInterval(c.oee, params.oee, ts, prev, dtMs, made, good);
  updateFactors(c.oee, cp.idealPartsPerS);

  // 2. The state at ts: a physical trip wins over the chain. One draw per tick either way,
  //    so the stream stays aligned whatever happens.
  const u = uniform(c);
  const cause = prev === 'RUNNING' || prev === 'IDLE' ? tripCause(c, params) : null;
  if (cause !== null) {
    enterFault(c, cause, ts, tripDetail(c, cause, params));
  } else if (
    prev === 'RUNNING' ||
    (prev === 'IDLE' && !c.stopped) ||
    (prev === 'MAINTENANCE' && c.ticketId === null)
  ) {
    c.state = chainNext(cp.chain, prev, u);
  }

  // 3. What is true and what is reported at ts.
  c.vibrationMmS = vibrationOf(p, c.speedRpm, c.wear);
  c.powerKw = powerOf(p, c.state, c.speedRpm, c.load);
  const r = c.reading;
  r.temperatureC = c.temperatureC + p.temperatureNoiseC * zTemperature;
  gaussianPair(c, Z);
  r.speedRpm = c.speedRpm > 0 ? nonNegative(c.speedRpm + p.speedNoiseRpm * Z[0]!) : 0;
  r.vibrationMmS = nonNegative(c.vibrationMmS * (1 + p.vibrationNoise * Z[1]!));
  r.powerKw = nonNegative(c.powerKw * (1 + p.powerNoise * gaussian(c)));
  const dropout = c.faults.sensors.length > 0 && applySensorFaults(c, ts);

  c.ts = ts;
  c.emitted = e.emit !== false && !dropout;
  if (c.emitted) c.seq += 1;
}

function nonNegative(x: number): number {
  return Math.max(x, 0);
}

function tripCause(c: MachineContext, params: MachineParams): TripCause | null {
  const p = params.physics;
  if (c.faults.jam) return 'jam';
  if (c.temperatureC >= p.tripC) return 'overtemperature';
  if (vibrationOf(p, c.speedRpm, c.wear) >= p.vibrationTripMmS) return 'vibration';
  return null;
}

function tripDetail(c: MachineContext, cause: TripCause, params: MachineParams): string {
  const p = params.physics;
  switch (cause) {
    case 'jam':
      return 'jam: the drive stalled';
    case 'overtemperature':
      return `temperature ${c.temperatureC.toFixed(1)} °C reached the trip level ${p.tripC} °C`;
    case 'vibration':
      return `vibration ${vibrationOf(p, c.speedRpm, c.wear).toFixed(1)} mm/s reached the trip level ${p.vibrationTripMmS} mm/s`;
  }
}

/** A trip cuts the drive at once: FAULT with speed 0. */
function enterFault(c: MachineContext, cause: TripCause, ts: number, detail: string): void {
  c.state = 'FAULT';
  c.speedRpm = 0;
  c.stopped = false;
  if (c.trip === null) c.trip = { cause, ts, detail };
}

function expireSensorFaults(c: MachineContext, ts: number): void {
  const s = c.faults.sensors;
  let live = 0;
  for (const f of s) if (f.until === null || f.until > ts) live++;
  if (live < s.length) c.faults = { ...c.faults, sensors: s.filter((f) => f.until === null || f.until > ts) };
}

/** Falsifies `c.reading` in place; returns true when a dropout suppresses the message. */
function applySensorFaults(c: MachineContext, ts: number): boolean {
  const r = c.reading;
  let dropout = false;
  for (const f of c.faults.sensors) {
    if (f.kind === 'sensor_dropout') dropout = true;
    else if (f.kind === 'sensor_drift' && f.field) r[f.field] += (f.value * (ts - f.since)) / 60_000;
    else if (f.kind === 'noise_burst' && f.field) r[f.field] += f.value * gaussian(c);
  }
  // A stuck sensor wins over everything else on its field: it reports what it reported when it froze.
  for (const f of c.faults.sensors) if (f.kind === 'sensor_stuck' && f.field) r[f.field] = f.value;
  if (r.speedRpm < 0) r.speedRpm = 0;
  if (r.vibrationMmS < 0) r.vibrationMmS = 0;
  if (r.powerKw < 0) r.powerKw = 0;
  return dropout;
}

// ─── Commands: a check that explains a refusal, then the effect ──────────────────────────────

/** Trip conditions that would remain with `faults` in place; empty when the machine may be reset. */
function remainingTripConditions(c: MachineContext, faults: ActiveFaults, params: MachineParams): string[] {
  const p = params.physics;
  const left: string[] = [];
  if (faults.jam) left.push('the jam is still there (CLEAR_FAULT with fault jam or no fault clears it)');
  if (c.temperatureC >= p.resetC)
    left.push(
      `temperature ${c.temperatureC.toFixed(1)} °C is not below the reset level ${p.resetC} °C; let it cool`,
    );
  const bearing = bearingVibration(p, c.wear);
  if (bearing >= p.vibrationResetMmS)
    left.push(
      `bearing vibration ${bearing.toFixed(1)} mm/s at nominal speed is not below the reset level ` +
        `${p.vibrationResetMmS} mm/s; the bearing needs maintenance (START_MAINTENANCE)`,
    );
  return left;
}

function withoutFaults(faults: ActiveFaults, kind: (typeof FAULT_KINDS)[number] | undefined): ActiveFaults {
  if (kind === undefined) return NO_FAULTS;
  if (kind === 'overheat') return { ...faults, overheatC: 0 };
  if (kind === 'bearing_wear') return { ...faults, wearPerHour: 0 };
  if (kind === 'jam') return { ...faults, jam: false };
  return { ...faults, sensors: faults.sensors.filter((f) => f.kind !== kind) };
}

function hasAnyFault(f: ActiveFaults): boolean {
  return f.overheatC > 0 || f.wearPerHour > 0 || f.jam || f.sensors.length > 0;
}

function commandProblem(c: MachineContext, cmd: Command, params: MachineParams): string | null {
  const state: MachineState = c.state;
  switch (cmd.type) {
    case 'START_MAINTENANCE':
      if (state === 'MAINTENANCE' && c.ticketId !== null && c.ticketId !== cmd.ticketId)
        return `already in MAINTENANCE for ticket ${c.ticketId}`;
      return null;
    case 'COMPLETE_MAINTENANCE': {
      if (state !== 'MAINTENANCE')
        return `COMPLETE_MAINTENANCE applies in MAINTENANCE; the machine is ${state}`;
      if (cmd.ticketId !== undefined && c.ticketId !== null && cmd.ticketId !== c.ticketId)
        return `the machine is held by ticket ${c.ticketId}, not ${cmd.ticketId}`;
      const p = params.physics;
      if (c.temperatureC >= p.resetC)
        return `temperature ${c.temperatureC.toFixed(1)} °C is not below the reset level ${p.resetC} °C; let it cool before returning to service`;
      return null;
    }
    case 'INJECT_FAULT':
      // Accepted in every state, so that a scenario's timeline never depends on the chain's luck;
      // a physical fault on a machine in MAINTENANCE acts once it runs again.
      return null;
    case 'CLEAR_FAULT': {
      const after = withoutFaults(c.faults, cmd.fault);
      if (state === 'FAULT') {
        const left = remainingTripConditions(c, after, params);
        return left.length ? `cannot leave FAULT: ${left.join('; ')}` : null;
      }
      if (!hasAnyFault(c.faults) || sameFaults(after, c.faults))
        return `no active ${cmd.fault ?? 'fault'} to clear; the machine is ${state}`;
      return null;
    }
    case 'SET_SPEED': {
      const p = params.physics;
      if (cmd.rpm < p.minRpm || cmd.rpm > p.maxRpm)
        return `speed ${cmd.rpm} rpm is outside this machine's range ${p.minRpm}–${p.maxRpm} rpm`;
      return null;
    }
    case 'STOP':
      if (state === 'RUNNING' || state === 'IDLE') return null;
      return `STOP applies to a RUNNING or IDLE machine; it is in ${state}`;
    case 'START':
      if (state === 'IDLE') return null;
      if (state === 'RUNNING') return 'the machine is already RUNNING';
      if (state === 'MAINTENANCE')
        return 'the machine is in MAINTENANCE; COMPLETE_MAINTENANCE returns it to service';
      return 'the machine is in FAULT; CLEAR_FAULT first';
  }
}

function sameFaults(a: ActiveFaults, b: ActiveFaults): boolean {
  return (
    a.overheatC === b.overheatC &&
    a.wearPerHour === b.wearPerHour &&
    a.jam === b.jam &&
    a.sensors.length === b.sensors.length
  );
}

function applyCommand(c: MachineContext, cmd: Command, params: MachineParams): void {
  switch (cmd.type) {
    case 'START_MAINTENANCE':
      c.state = 'MAINTENANCE';
      c.ticketId = cmd.ticketId;
      c.stopped = false;
      return;
    case 'COMPLETE_MAINTENANCE':
      // The repair: a new bearing, the cause of any fault removed, sensors recalibrated.
      c.state = 'RUNNING';
      c.ticketId = null;
      c.stopped = false;
      c.trip = null;
      c.wear = 0;
      c.faults = NO_FAULTS;
      return;
    case 'INJECT_FAULT':
      injectFault(c, cmd, params);
      return;
    case 'CLEAR_FAULT':
      c.faults = withoutFaults(c.faults, cmd.fault);
      if (c.state === 'FAULT') {
        c.state = 'IDLE';
        c.trip = null;
        c.stopped = false;
      }
      return;
    case 'SET_SPEED':
      c.setpointRpm = cmd.rpm;
      return;
    case 'STOP':
      c.state = 'IDLE';
      c.stopped = true;
      return;
    case 'START':
      c.state = 'RUNNING';
      c.stopped = false;
      return;
  }
}

function injectFault(c: MachineContext, cmd: InjectFault, params: MachineParams): void {
  switch (cmd.fault) {
    case 'overheat':
      c.faults = { ...c.faults, overheatC: cmd.params.extraC ?? DEFAULT_OVERHEAT_C };
      return;
    case 'bearing_wear':
      c.faults = { ...c.faults, wearPerHour: cmd.params.ratePerHour ?? DEFAULT_WEAR_PER_HOUR };
      return;
    case 'jam':
      c.faults = { ...c.faults, jam: true };
      if (c.state === 'RUNNING' || c.state === 'IDLE')
        enterFault(c, 'jam', c.ts, tripDetail(c, 'jam', params));
      else if (c.state === 'FAULT') c.speedRpm = 0;
      // In MAINTENANCE the drive is locked out: the jam trips it as soon as it runs again.
      return;
    case 'sensor_stuck': {
      const field = cmd.params.field ?? 'temperatureC';
      addSensorFault(c, {
        kind: cmd.fault,
        field,
        since: c.ts,
        until: until(c.ts, cmd.params.durationS),
        value: c.reading[field],
      });
      return;
    }
    case 'sensor_drift': {
      const field = cmd.params.field ?? 'temperatureC';
      addSensorFault(c, {
        kind: cmd.fault,
        field,
        since: c.ts,
        until: until(c.ts, cmd.params.durationS),
        value: cmd.params.ratePerMin ?? DRIFT_PER_MIN[field],
      });
      return;
    }
    case 'noise_burst': {
      const field = cmd.params.field ?? 'temperatureC';
      addSensorFault(c, {
        kind: cmd.fault,
        field,
        since: c.ts,
        until: until(c.ts, cmd.params.durationS ?? DEFAULT_BURST_S),
        value: cmd.params.sigma ?? BURST_SIGMA[field],
      });
      return;
    }
    case 'sensor_dropout':
      addSensorFault(c, {
        kind: cmd.fault,
        field: null,
        since: c.ts,
        until: until(c.ts, cmd.params.durationS ?? DEFAULT_DROPOUT_S),
        value: 0,
      });
      return;
  }
}

function until(ts: number, durationS: number | undefined): number | null {
  return durationS === undefined ? null : ts + Math.round(durationS * 1000);
}

/** A new sensor fault replaces one of the same kind on the same field. */
function addSensorFault(c: MachineContext, f: SensorFault): void {
  const others = c.faults.sensors.filter((s) => !(s.kind === f.kind && s.field === f.field));
  c.faults = { ...c.faults, sensors: [...others, f] };
}
