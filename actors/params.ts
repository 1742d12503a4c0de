import { z } from 'zod';

/** The four states of a machine (contract: telemetry `state`). */
export const MACHINE_STATES = ['RUNNING', 'IDLE', 'MAINTENANCE', 'FAULT'] as const;
export type MachineState = (typeof MACHINE_STATES)[number];

/** The states the Markov chain moves between. FAULT is never drawn: only physics or an injected fault enter it. */
export const CHAIN_STATES = ['RUNNING', 'IDLE', 'MAINTENANCE'] as const;
export type ChainState = (typeof CHAIN_STATES)[number];

/** Per-tick probabilities of leaving a state, by target. The rest of each row stays put. */
export type TransitionTable = Record<ChainState, Partial<Record<ChainState, number>>>;

export interface PhysicsParams {
  /** Ambient temperature; every state without a heat source cools toward it. */
  ambientC: number;
  /** Steady rise above ambient when running at full load and nominal speed. */
  runRiseC: number;
  /** Steady rise above ambient when powered but idle. */
  idleRiseC: number;
  /** Time constant of the first-order thermal model. */
  thermalTauS: number;
  /** Standard deviation of the temperature sensor. */
  temperatureNoiseC: number;
  /** Over-temperature trip (FAULT) and the level it must fall below before a reset. */
  tripC: number;
  resetC: number;
  nominalRpm: number;
  minRpm: number;
  maxRpm: number;
  /** Acceleration and deceleration of the drive. */
  rampRpmPerS: number;
  speedNoiseRpm: number;
  /** Vibration velocity (ISO 10816, mm/s RMS) of a healthy bearing at nominal speed. */
  baseVibrationMmS: number;
  /** Extra vibration per unit of bearing wear, at nominal speed. */
  wearVibrationMmS: number;
  /** Wear per running hour at nominal speed without an injected fault; only maintenance resets it. */
  naturalWearPerHour: number;
  maxWear: number;
  /** Relative standard deviation of the vibration sensor. */
  vibrationNoise: number;
  /** Vibration trip (FAULT) and the bearing condition (at nominal speed) needed to reset it. */
  vibrationTripMmS: number;
  vibrationResetMmS: number;
  /** Power drawn when powered and not producing. */
  idleKw: number;
  /** Power at full load and nominal speed. */
  ratedKw: number;
  /** Relative standard deviation of the power meter. */
  powerNoise: number;
  /** Parts per spindle revolution: production rate = rpm × partsPerRev per minute. */
  partsPerRev: number;
  /** Share of good parts with a healthy bearing; wear lowers it by wearQualityLoss per unit. */
  qualityRate: number;
  wearQualityLoss: number;
  /** Load (0..1) is an Ornstein–Uhlenbeck process around loadMean. */
  loadMean: number;
  loadSd: number;
  loadTauS: number;
}

export interface OeeParams {
  /** OEE is computed over the last windowBuckets buckets of bucketS seconds each. */
  bucketS: number;
  windowBuckets: number;
}

export interface MachineParams {
  transitions: TransitionTable;
  physics: PhysicsParams;
  oee: OeeParams;
}

export const DEFAULT_TRANSITIONS: TransitionTable = {
  RUNNING: { IDLE: 0.05, MAINTENANCE: 0.02 },
  IDLE: { RUNNING: 0.3 },
  MAINTENANCE: { RUNNING: 0.1 },
};

export const DEFAULT_PHYSICS: PhysicsParams = {
  ambientC: 22,
  runRiseC: 40,
  idleRiseC: 3,
  thermalTauS: 300,
  temperatureNoiseC: 0.15,
  tripC: 90,
  resetC: 80,
  nominalRpm: 1000,
  minRpm: 800,
  maxRpm: 1200,
  rampRpmPerS: 250,
  speedNoiseRpm: 2,
  baseVibrationMmS: 1.8,
  wearVibrationMmS: 6,
  naturalWearPerHour: 0.001,
  maxWear: 4,
  vibrationNoise: 0.04,
  vibrationTripMmS: 18,
  vibrationResetMmS: 11.2,
  idleKw: 1.5,
  ratedKw: 11,
  powerNoise: 0.01,
  partsPerRev: 0.05,
  qualityRate: 0.985,
  wearQualityLoss: 0.05,
  loadMean: 0.75,
  loadSd: 0.08,
  loadTauS: 900,
};

export const DEFAULT_OEE: OeeParams = { bucketS: 60, windowBuckets: 15 };

export const DEFAULT_PARAMS: MachineParams = {
  transitions: DEFAULT_TRANSITIONS,
  physics: DEFAULT_PHYSICS,
  oee: DEFAULT_OEE,
};

const num = z.number().finite();
const positive = num.positive();
const nonNegative = num.nonnegative();
const fraction = num.min(0).max(1);

const physicsShape = {
  ambientC: num.min(-50).max(60),
  runRiseC: nonNegative,
  idleRiseC: nonNegative,
  thermalTauS: positive,
  temperatureNoiseC: nonNegative,
  tripC: num,
  resetC: num,
  nominalRpm: positive,
  minRpm: positive,
  maxRpm: positive,
  rampRpmPerS: positive,
  speedNoiseRpm: nonNegative,
  baseVibrationMmS: nonNegative,
  wearVibrationMmS: nonNegative,
  naturalWearPerHour: nonNegative,
  maxWear: positive,
  vibrationNoise: nonNegative,
  vibrationTripMmS: positive,
  vibrationResetMmS: positive,
  idleKw: nonNegative,
  ratedKw: nonNegative,
  powerNoise: nonNegative,
  partsPerRev: positive,
  qualityRate: fraction,
  wearQualityLoss: fraction,
  loadMean: fraction,
  loadSd: nonNegative,
  loadTauS: positive,
} satisfies Record<keyof PhysicsParams, z.ZodType>;

const row = z.strictObject({
  RUNNING: fraction.optional(),
  IDLE: fraction.optional(),
  MAINTENANCE: fraction.optional(),
});

/** What a machine type may override (fleet file `machineTypes.<type>`); everything is optional. */
export const machineParamsOverridesSchema = z.strictObject({
  description: z.string().optional(),
  transitions: z
    .strictObject({ RUNNING: row.optional(), IDLE: row.optional(), MAINTENANCE: row.optional() })
    .optional(),
  physics: z.strictObject(physicsShape).partial().optional(),
  oee: z
    .strictObject({ bucketS: positive, windowBuckets: z.number().int().min(1).max(1440) })
    .partial()
    .optional(),
});
export type MachineParamsOverrides = z.input<typeof machineParamsOverridesSchema>;

/** Reasons why a complete parameter set is inconsistent; empty when it is fine. */
export function paramsProblems(p: MachineParams): string[] {
  const problems: string[] = [];
  for (const from of CHAIN_STATES) {
    const out = p.transitions[from];
    if (out[from] !== undefined)
      problems.push(`transitions.${from} may not name ${from} itself (the rest stays)`);
    const sum = CHAIN_STATES.reduce((s, to) => s + (to === from ? 0 : (out[to] ?? 0)), 0);
    if (sum > 1 + 1e-12) problems.push(`transitions.${from} leaves with probability ${sum}, more than 1`);
  }
  const ph = p.physics;
  if (!(ph.minRpm <= ph.nominalRpm && ph.nominalRpm <= ph.maxRpm))
    problems.push(
      `physics needs minRpm ≤ nominalRpm ≤ maxRpm (got ${ph.minRpm}, ${ph.nominalRpm}, ${ph.maxRpm})`,
    );
  if (!(ph.resetC < ph.tripC))
    problems.push(`physics.resetC (${ph.resetC}) must be below tripC (${ph.tripC})`);
  if (!(ph.vibrationResetMmS < ph.vibrationTripMmS))
    problems.push(
      `physics.vibrationResetMmS (${ph.vibrationResetMmS}) must be below vibrationTripMmS (${ph.vibrationTripMmS})`,
    );
  if (!(ph.idleKw <= ph.ratedKw))
    problems.push(`physics.idleKw (${ph.idleKw}) must not exceed ratedKw (${ph.ratedKw})`);
  return problems;
}

/** Defaults with a machine type's overrides laid over them (rows of the matrix merge entry by entry). */
export function mergeParams(
  overrides: MachineParamsOverrides = {},
  base: MachineParams = DEFAULT_PARAMS,
): MachineParams {
  const t = overrides.transitions ?? {};
  return {
    transitions: {
      RUNNING: { ...base.transitions.RUNNING, ...t.RUNNING },
      IDLE: { ...base.transitions.IDLE, ...t.IDLE },
      MAINTENANCE: { ...base.transitions.MAINTENANCE, ...t.MAINTENANCE },
    },
    physics: { ...base.physics, ...overrides.physics },
    oee: { ...base.oee, ...overrides.oee },
  };
}

/** Validated parameters from untrusted overrides: an error is a sentence a person can act on. */
export function resolveParams(
  overrides: unknown,
  base: MachineParams = DEFAULT_PARAMS,
): { ok: true; params: MachineParams } | { ok: false; reason: string } {
  const parsed = machineParamsOverridesSchema.safeParse(overrides ?? {});
  if (!parsed.success) return { ok: false, reason: z.prettifyError(parsed.error) };
  const params = mergeParams(parsed.data, base);
  const problems = paramsProblems(params);
  return problems.length ? { ok: false, reason: problems.join('; ') } : { ok: true, params };
}
