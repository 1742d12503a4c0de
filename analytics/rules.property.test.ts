/**
 * Properties of the alarm rule files (`analytics/rules/<type>.yaml`, parsed by parseYamlText
 * with ruleFileSchema, as loadRuleBook does for each file): whatever the text, a typed rule file
 * or problems that each name the file, a line, a column and the field; never a throw.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parseYamlText, type YamlResult } from '../common/yaml-file.js';
import {
  defined,
  expectProblemsWithin,
  expectRefusedAt,
  expectYamlResult,
  finite,
  hostileValue,
  opt,
  PROTO_KEYS,
  RUNS,
  writeDoc,
  yamlText,
} from '../test/support/properties.js';
import {
  COUNTER_FIELDS,
  RULE_FIELDS,
  type Rule,
  type RuleFile,
  ruleFileSchema,
  SEVERITIES,
} from './rules.js';

const FILE = 'rules/generated.yaml';
const parse = (text: string) => parseYamlText(text, FILE, ruleFileSchema);

// ---------------------------------------------------------------------------------------------
// Valid rules, as written and as parsed (defaults filled in)

/** A positive double up to `max`, no smaller than a millionth. */
const pos = (max: number) => finite(1e-6, max);
const delay = opt(fc.integer({ min: 0, max: 86_400 }));
const states = opt(
  fc.uniqueArray(fc.constantFrom('RUNNING', 'IDLE', 'MAINTENANCE', 'FAULT'), { minLength: 1 }),
);

interface RuleCase {
  doc: Record<string, unknown>;
  value: Rule;
}

const common = fc.record({
  severity: fc.constantFrom(...SEVERITIES),
  description: opt(fc.string({ maxLength: 200 })),
  onDelayS: delay,
  offDelayS: delay,
  states,
});
const withCommon = (
  c: {
    severity: Rule['severity'];
    description: string | undefined;
    onDelayS: number | undefined;
    offDelayS: number | undefined;
    states: Rule['states'];
  },
  doc: Record<string, unknown>,
  value: Record<string, unknown>,
): Omit<RuleCase, 'doc' | 'value'> & { doc: Record<string, unknown>; value: Record<string, unknown> } => ({
  doc: defined({
    ...doc,
    severity: c.severity,
    description: c.description,
    onDelayS: c.onDelayS,
    offDelayS: c.offDelayS,
    states: c.states,
  }),
  value: defined({
    ...value,
    severity: c.severity,
    description: c.description,
    onDelayS: c.onDelayS ?? 0,
    offDelayS: c.offDelayS ?? 0,
    states: c.states,
  }),
});

/** A rule body of `kind` as written (optional fields given or left out) and as parsed (defaults filled in). */
const body =
  (kind: string, defaults: Record<string, unknown> = {}) =>
  (r: Record<string, unknown>) => ({
    doc: defined({ kind, ...r }),
    value: { kind, ...defaults, ...defined(r) },
  });

const field = fc.constantFrom(...RULE_FIELDS);
const ruleBody: fc.Arbitrary<{ doc: Record<string, unknown>; value: Record<string, unknown> }> = fc.oneof(
  fc
    .record({
      field,
      side: fc.constantFrom('high', 'low'),
      limit: finite(-1e6, 1e6),
      deadband: opt(finite(0, 100)),
    })
    .map((r) => body('limit', { deadband: 0 })({ field: r.field, [r.side]: r.limit, deadband: r.deadband })),
  fc.record({ field, maxPerS: pos(1e6) }).map(body('rate')),
  fc
    .record({
      field,
      sigmas: pos(100),
      minDeviation: opt(finite(0, 1000)),
      halfLifeS: opt(pos(1e6)),
      minSamples: opt(fc.integer({ min: 2, max: 100_000 })),
      settleS: opt(fc.integer({ min: 0, max: 86_400 })),
    })
    .map(body('baseline', { minDeviation: 0, halfLifeS: 1800, minSamples: 120, settleS: 15 })),
  fc
    .record({
      field,
      forS: pos(1e6),
      minReadings: opt(fc.integer({ min: 2, max: 1000 })),
      epsilon: opt(finite(0, 10)),
    })
    .map(body('flatline', { minReadings: 5, epsilon: 0 })),
  fc.record({ afterS: pos(1e6) }).map(body('silence')),
  fc.record({ state: fc.constantFrom('RUNNING', 'IDLE', 'MAINTENANCE', 'FAULT') }).map(body('state')),
  fc
    .record({ field: fc.constantFrom(...COUNTER_FIELDS), holdS: opt(pos(1e6)) })
    .map(body('counter', { holdS: 60 })),
);

const rule = (id: string): fc.Arbitrary<RuleCase> =>
  fc.tuple(common, ruleBody).map(([c, b]) => {
    const r = withCommon(c, { id, ...b.doc }, { id, ...b.value });
    return r as RuleCase;
  });

const validFile: fc.Arbitrary<{ doc: Record<string, unknown>; value: RuleFile }> = fc
  .record({
    machineType: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,30}$/),
    ids: fc.uniqueArray(fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,47}$/), { minLength: 1, maxLength: 8 }),
  })
  .chain(({ machineType, ids }) =>
    fc.tuple(...ids.map(rule)).map((rules) => ({
      doc: { version: 1, machineType, rules: rules.map((r) => r.doc) },
      value: { version: 1 as const, machineType, rules: rules.map((r) => r.value) },
    })),
  );

// Just past a delay's bound, numbers as strings and YAML's infinity, and a rule named like a kind.
const hostile = hostileValue({
  via: 'text',
  longest: 20_000,
  also: [-1e-9, 86_401, '5', 'Infinity', '.inf', 'Temperature-High'],
});

const expectResult = (r: YamlResult<RuleFile>) => expectYamlResult(r, FILE, expectSaneFile);

/** What loadRuleBook and the detectors rely on in an accepted file. */
function expectSaneFile(f: RuleFile): void {
  expect(new Set(f.rules.map((r) => r.id)).size).toBe(f.rules.length);
  for (const r of f.rules) {
    expect(r.onDelayS).toBeGreaterThanOrEqual(0);
    if (r.kind === 'limit') expect((r.high === undefined) !== (r.low === undefined)).toBe(true);
  }
}

// ---------------------------------------------------------------------------------------------

describe('rule files (properties)', () => {
  it('never throws on any text: a rule file, or problems with file, line and column', () => {
    const text = yamlText('version: 1\nmachineType: x\nrules: *r', 'rules: [&a {}, *a, *a]', '__proto__: {}');
    fc.assert(
      fc.property(text, (t) => expectResult(parse(t))),
      RUNS.yaml,
    );
  });

  it('accepts every valid rule file, as YAML or as JSON, with the defaults filled in', () => {
    fc.assert(
      fc.property(validFile, fc.boolean(), ({ doc, value }, asJson) => {
        expect(parse(writeDoc(doc, asJson))).toEqual({ ok: true, value });
      }),
      RUNS.yamlRoundTrip,
    );
  });

  it('a valid rule with one field made hostile is refused with located problems, or still sane', () => {
    const keys = [
      'id',
      'kind',
      'severity',
      'field',
      'high',
      'low',
      'onDelayS',
      'states',
      'sigmas',
      'afterS',
      'holdS',
    ];
    fc.assert(
      fc.property(
        validFile,
        fc.nat(),
        fc.constantFrom(...keys, ...PROTO_KEYS),
        hostile,
        ({ doc }, i, key, value) => {
          const rules = [...(doc.rules as Record<string, unknown>[])];
          const k = i % rules.length;
          rules[k] = { ...rules[k], [key]: value };
          const r = parse(stringify({ ...doc, rules }));
          expectResult(r);
          // An unknown key, named like a prototype member or not, is refused where it is written.
          if (PROTO_KEYS.includes(key)) expectRefusedAt(r, `rules[${k}].${key}`);
        },
      ),
      RUNS.yaml,
    );
  });

  it('a good rule beside a bad one is untouched: every problem is in the bad rule', () => {
    const breakIt = fc.oneof(
      fc.constant({ kind: 'nonsense' }),
      fc.constant({ severity: 'urgent' }),
      fc.constant({ onDelayS: -1 }),
      fc.constant({ id: 'Not An Id' }),
      fc.string({ minLength: 1, maxLength: 8 }).map((k) => ({ [`x-${k}`]: 1 })),
    );
    fc.assert(
      fc.property(validFile, fc.nat(), breakIt, ({ doc }, i, patch) => {
        const rules = [...(doc.rules as Record<string, unknown>[])];
        const k = i % rules.length;
        rules[k] = { ...rules[k], ...patch };
        const r = parse(stringify({ ...doc, rules }));
        expectResult(r);
        expect(r.ok).toBe(false);
        expectProblemsWithin(r, `rules[${k}]`);
      }),
      RUNS.yaml,
    );
  });

  it('two rules with the same id are refused at the second one', () => {
    fc.assert(
      fc.property(validFile, fc.nat(), ({ doc }, i) => {
        const rules = doc.rules as Record<string, unknown>[];
        const copy = { ...rules[i % rules.length] };
        const r = parse(stringify({ ...doc, rules: [...rules, copy] }));
        expectRefusedAt(r, `rules[${rules.length}].id`);
      }),
      RUNS.yaml,
    );
  });
});
