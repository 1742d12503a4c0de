/**
 * The physics of one machine as pure functions of state, elapsed time and random draws. Noise
 * comes in as standard normals drawn by the caller; only `goodParts` draws from the source itself,
 * because how many draws it needs depends on how many parts were made.
 */
import type { MachineState, PhysicsParams } from './params.js';
import { gaussian, type RandomSource, uniform } from './random.js';

/**
 * First-order thermal model dT/dt = (T∞ − T)/τ, integrated exactly over dt, so a long tick
 * lands where many short ones would.
 */
export function thermalStep(temperatureC: number, setpointC: number, dtS: number, tauS: number): number {
  return setpointC + (temperatureC - setpointC) * Math.exp(-dtS / tauS);
}

/** Where the temperature heads in a state: load-dependent when running, ambient when powered off. */
export function temperatureSetpoint(
  p: PhysicsParams,
  state: MachineState,
  load: number,
  speedRpm: number,
  overheatC: number,
): number {
  switch (state) {
    case 'RUNNING':
      return p.ambientC + p.idleRiseC + p.runRiseC * load * (speedRpm / p.nominalRpm) + overheatC;
    case 'IDLE':
      return p.ambientC + p.idleRiseC + overheatC;
    default:
      // MAINTENANCE is locked out and a FAULT trip cuts power: no heat source, not even an injected one.
      return p.ambientC;
  }
}

/** The drive accelerates or brakes toward its target at a bounded rate. */
export function rampSpeed(speedRpm: number, targetRpm: number, dtS: number, rampRpmPerS: number): number {
  const maxChange = rampRpmPerS * dtS;
  if (targetRpm > speedRpm) return Math.min(targetRpm, speedRpm + maxChange);
  return Math.max(targetRpm, speedRpm - maxChange);
}

/** Exact Ornstein–Uhlenbeck update of the load around its mean, kept in [0.05, 1]; z is a standard normal. */
export function loadStep(load: number, p: PhysicsParams, dtS: number, z: number): number {
  const decay = Math.exp(-dtS / p.loadTauS);
  const next = p.loadMean + (load - p.loadMean) * decay + p.loadSd * Math.sqrt(1 - decay * decay) * z;
  return next < 0.05 ? 0.05 : Math.min(next, 1);
}

/** Wear accrued over dt: natural plus injected rate, in proportion to how fast the shaft turns. */
export function wearStep(
  p: PhysicsParams,
  wear: number,
  injectedPerHour: number,
  avgSpeedRpm: number,
  dtS: number,
) {
  const next = wear + (p.naturalWearPerHour + injectedPerHour) * (avgSpeedRpm / p.nominalRpm) * (dtS / 3600);
  return Math.min(next, p.maxWear);
}

/** Vibration of the bearing at nominal speed: its condition, independent of whether it turns now. */
export function bearingVibration(p: PhysicsParams, wear: number): number {
  return p.baseVibrationMmS + p.wearVibrationMmS * wear;
}

/** Vibration velocity now: grows with wear and with speed, nothing when the shaft stands still. */
export function vibrationOf(p: PhysicsParams, speedRpm: number, wear: number): number {
  return bearingVibration(p, wear) * (speedRpm / p.nominalRpm);
}

/** Electrical power: an idle baseline while powered, plus the drive in proportion to speed and load. */
export function powerOf(p: PhysicsParams, state: MachineState, speedRpm: number, load: number): number {
  if (state === 'MAINTENANCE') return 0;
  const drive = state === 'RUNNING' ? (p.ratedKw - p.idleKw) * load * (speedRpm / p.nominalRpm) : 0;
  return p.idleKw + drive;
}

/** Parts made (fractional) at an average speed over dt. */
export function partsOver(p: PhysicsParams, avgSpeedRpm: number, dtS: number): number {
  return (avgSpeedRpm / 60) * p.partsPerRev * dtS;
}

/** The ideal rate behind OEE performance: parts per second at the top of the speed range. */
export function idealPartsPerS(p: PhysicsParams): number {
  return (p.maxRpm / 60) * p.partsPerRev;
}

/** Share of good parts: worn bearings make scrap. */
export function qualityOf(p: PhysicsParams, wear: number): number {
  const q = p.qualityRate * (1 - p.wearQualityLoss * wear);
  return Math.max(q, 0);
}

/**
 * Good parts among n made, with quality q. Small batches draw each part; large ones (after a
 * long tick) use the normal approximation of the binomial.
 */
export function goodParts(n: number, q: number, src: RandomSource): number {
  if (n <= 0) return 0;
  if (n <= 16) {
    let good = 0;
    for (let i = 0; i < n; i++) if (uniform(src) < q) good++;
    return good;
  }
  const g = Math.round(n * q + Math.sqrt(n * q * (1 - q)) * gaussian(src));
  return g < 0 ? 0 : Math.min(g, n);
}
