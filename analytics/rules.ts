/**
 * Alarm rules: one YAML file per machine type in `analytics/rules/` (`<type>.yaml`, or
 * `default.yaml` for a type without its own file). Parsed once, at start-up, by a zod schema;
 * an error names the file, the line and the field.
 */
import { readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { z } from 'zod';
import { loadYamlFile } from '../common/yaml-file.js';

export const RULES_DIR = join(import.meta.dirname, 'rules');

/** Telemetry fields a rule may watch (names of telemetry v1). */
export const RULE_FIELDS = ['temperatureC', 'speedRpm', 'vibrationMmS', 'powerKw'] as const;
export type RuleField = (typeof RULE_FIELDS)[number];
export const COUNTER_FIELDS = ['productionCount', 'goodCount'] as const;

export const SEVERITIES = ['low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

const MACHINE_STATES = ['RUNNING', 'IDLE', 'MAINTENANCE', 'FAULT'] as const;

const seconds = z.number().min(0, 'must be 0 or more seconds').max(86_400, 'must be at most a day');
const positive = z.number().positive('must be positive');

/** What every rule has: an id (part of alarm ids), a severity and on/off delays. */
const common = {
  id: z
    .string()
    .regex(
      /^[a-z0-9][a-z0-9-]{0,47}$/,
      'must be lower-case letters, digits and "-" (it is part of alarm ids)',
    ),
  severity: z.enum(SEVERITIES),
  description: z.string().max(200).optional(),
  /** The condition must hold this long before the alarm is raised (filters spikes). */
  onDelayS: seconds.default(0),
  /** ... and be gone this long before it clears (filters chatter). */
  offDelayS: seconds.default(0),
  /** Evaluated only in these states; in any other the condition is false. All states when absent. */
  states: z.array(z.enum(MACHINE_STATES)).min(1).optional(),
};

const limitRule = z
  .strictObject({
    ...common,
    kind: z.literal('limit'),
    field: z.enum(RULE_FIELDS),
    /** Raised above `high` (or below `low`); it clears only a deadband back inside. */
    high: z.number().optional(),
    low: z.number().optional(),
    deadband: z.number().min(0).default(0),
  })
  .refine((r) => (r.high === undefined) !== (r.low === undefined), {
    message: 'a limit rule needs exactly one of "high" or "low"',
    path: ['high'],
  });

const rateRule = z.strictObject({
  ...common,
  kind: z.literal('rate'),
  field: z.enum(RULE_FIELDS),
  /** Change per second, either direction, between consecutive readings. */
  maxPerS: positive,
});

const baselineRule = z.strictObject({
  ...common,
  kind: z.literal('baseline'),
  field: z.enum(RULE_FIELDS),
  /** Raised when the value lies this many standard deviations above the learned mean. */
  sigmas: positive,
  /** ... and at least this far above it in the field's units (a very steady signal is not alarmed for a trifle). */
  minDeviation: z.number().min(0).default(0),
  /** The baseline (EWMA of mean and variance) forgets with this half-life of RUNNING time. */
  halfLifeS: positive.default(1800),
  /** RUNNING readings it must have learned from before it judges. */
  minSamples: z.number().int().min(2).default(120),
  /** Readings this soon after the machine started running are neither learned nor judged (ramp-up). */
  settleS: seconds.default(15),
});

const flatlineRule = z.strictObject({
  ...common,
  kind: z.literal('flatline'),
  field: z.enum(RULE_FIELDS),
  /** The value changed by no more than `epsilon` for this long: a stuck sensor. */
  forS: positive,
  /** ... and over at least this many readings (at a 10 s period two equal readings prove nothing). */
  minReadings: z.number().int().min(2).default(5),
  epsilon: z.number().min(0).default(0),
});

const silenceRule = z.strictObject({
  ...common,
  kind: z.literal('silence'),
  /** No reading for this long (wall clock, while readings of other machines flow): communication loss. */
  afterS: positive,
});

const stateRule = z.strictObject({
  ...common,
  kind: z.literal('state'),
  state: z.enum(MACHINE_STATES),
});

const counterRule = z.strictObject({
  ...common,
  kind: z.literal('counter'),
  field: z.enum(COUNTER_FIELDS),
  /** After a counter went backwards the alarm stays active this long (it has no "normal" value to return to). */
  holdS: positive.default(60),
});

export const ruleSchema = z.discriminatedUnion('kind', [
  limitRule,
  rateRule,
  baselineRule,
  flatlineRule,
  silenceRule,
  stateRule,
  counterRule,
]);
export type Rule = z.output<typeof ruleSchema>;
export type RuleOf<K extends Rule['kind']> = Extract<Rule, { kind: K }>;

export const ruleFileSchema = z
  .strictObject({
    version: z.literal(1),
    /** The machine type these rules serve ("default": any type without its own file). */
    machineType: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'expected a machine type id'),
    rules: z.array(ruleSchema).min(1).max(64),
  })
  .superRefine((f, ctx) => {
    const seen = new Set<string>();
    for (const [i, r] of f.rules.entries()) {
      if (seen.has(r.id))
        ctx.addIssue({ code: 'custom', message: `duplicate rule id "${r.id}"`, path: ['rules', i, 'id'] });
      seen.add(r.id);
    }
  });
export type RuleFile = z.output<typeof ruleFileSchema>;

/** A rules directory could not be used; the message names every file, line and field at fault. */
export class RulesError extends Error {}

export interface RuleBook {
  /** The rules of a machine type (its own file, else default). */
  forType(type: string): Rule[];
  types: string[];
}

/** Loads and validates every `*.yaml` of the directory; throws RulesError listing all problems. */
export function loadRuleBook(dir: string = RULES_DIR): RuleBook {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort();
  const byType = new Map<string, Rule[]>();
  const problems: string[] = [];
  for (const f of files) {
    const path = join(dir, f);
    const parsed = loadYamlFile(path, ruleFileSchema);
    if (!parsed.ok) {
      problems.push(parsed.reason);
      continue;
    }
    const expected = basename(f, '.yaml');
    if (parsed.value.machineType !== expected) {
      problems.push(`${path}:1:1: machineType: is "${parsed.value.machineType}" but the file is named ${f}`);
      continue;
    }
    byType.set(parsed.value.machineType, parsed.value.rules);
  }
  if (problems.length) throw new RulesError(`Invalid alarm rules:\n${problems.join('\n')}`);
  const fallback = byType.get('default');
  if (!fallback) throw new RulesError(`No default.yaml in ${dir}: every machine type needs rules.`);
  return { forType: (type) => byType.get(type) ?? fallback, types: [...byType.keys()] };
}
