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
  COUNTER_FIELDS,
  RULE_FIELDS,
  type Rule,
  type RuleFile,
  ruleFileSchema,
  SEVERITIES,
} from './rules.js';

// Each case is a YAML document read by the yaml library (about a millisecond or two): fewer runs
// than the JSON parsers, so that the whole unit project stays fast.
const RUNS = { numRuns: 40 };
const FILE = 'rules/generated.yaml';
const parse = (text: string) => parseYamlText(text, FILE, ruleFileSchema);

// ---------------------------------------------------------------------------------------------
// Valid rules, as written and as parsed (defaults filled in)

const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
function defined<T extends Record<string, unknown>>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
const num = (min: number, max: number) =>
  fc.double({ min, max, noNaN: true, noDefaultInfinity: true }).map((x) => x + 0);
const pos = (max: number) => fc.double({ min: 1e-6, max, noNaN: true, noDefaultInfinity: true });
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

const field = fc.constantFrom(...RULE_FIELDS);
const ruleBody: fc.Arbitrary<{ doc: Record<string, unknown>; value: Record<string, unknown> }> = fc.oneof(
  fc
    .record({
      field,
      side: fc.constantFrom('high', 'low'),
      limit: num(-1e6, 1e6),
      deadband: opt(num(0, 100)),
    })
    .map((r) => ({
      doc: defined({ kind: 'limit', field: r.field, [r.side]: r.limit, deadband: r.deadband }),
      value: { kind: 'limit', field: r.field, [r.side]: r.limit, deadband: r.deadband ?? 0 },
    })),
  fc
    .record({ field, maxPerS: pos(1e6) })
    .map((r) => ({ doc: { kind: 'rate', ...r }, value: { kind: 'rate', ...r } })),
  fc
    .record({
      field,
      sigmas: pos(100),
      minDeviation: opt(num(0, 1000)),
      halfLifeS: opt(pos(1e6)),
      minSamples: opt(fc.integer({ min: 2, max: 100_000 })),
      settleS: opt(fc.integer({ min: 0, max: 86_400 })),
    })
    .map((r) => ({
      doc: defined({ kind: 'baseline', ...r }),
      value: {
        kind: 'baseline',
        field: r.field,
        sigmas: r.sigmas,
        minDeviation: r.minDeviation ?? 0,
        halfLifeS: r.halfLifeS ?? 1800,
        minSamples: r.minSamples ?? 120,
        settleS: r.settleS ?? 15,
      },
    })),
  fc
    .record({
      field,
      forS: pos(1e6),
      minReadings: opt(fc.integer({ min: 2, max: 1000 })),
      epsilon: opt(num(0, 10)),
    })
    .map((r) => ({
      doc: defined({ kind: 'flatline', ...r }),
      value: {
        kind: 'flatline',
        field: r.field,
        forS: r.forS,
        minReadings: r.minReadings ?? 5,
        epsilon: r.epsilon ?? 0,
      },
    })),
  pos(1e6).map((afterS) => ({ doc: { kind: 'silence', afterS }, value: { kind: 'silence', afterS } })),
  fc
    .constantFrom('RUNNING', 'IDLE', 'MAINTENANCE', 'FAULT')
    .map((state) => ({ doc: { kind: 'state', state }, value: { kind: 'state', state } })),
  fc.record({ field: fc.constantFrom(...COUNTER_FIELDS), holdS: opt(pos(1e6)) }).map((r) => ({
    doc: defined({ kind: 'counter', ...r }),
    value: { kind: 'counter', field: r.field, holdS: r.holdS ?? 60 },
  })),
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

const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(
    -1,
    -1e-9,
    0,
    86_401,
    1e308,
    0.5,
    null,
    true,
    '',
    '5',
    'Infinity',
    '.inf',
    '__proto__',
    'constructor',
    'Temperature-High',
    [],
    {},
  ),
  fc.nat({ max: 20_000 }).map((n) => 'x'.repeat(n)),
  fc.jsonValue({ maxDepth: 4 }),
);
const PROTO_KEYS = ['__proto__', 'constructor', 'toString', 'valueOf'];

function expectResult(r: YamlResult<RuleFile>): void {
  if (r.ok) return;
  expect(r.problems.length).toBeGreaterThan(0);
  for (const p of r.problems) {
    expect(p.file).toBe(FILE);
    expect(Number.isInteger(p.line) && p.line >= 1).toBe(true);
    expect(Number.isInteger(p.column) && p.column >= 1).toBe(true);
    expect(p.message.trim()).not.toBe('');
  }
}

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
    const text = fc.oneof(
      fc.string(),
      fc.json(),
      fc.jsonValue().map((v) => stringify(v)),
      fc.constantFrom('version: 1\nmachineType: x\nrules: *r', 'rules: [&a {}, *a, *a]', '__proto__: {}'),
    );
    fc.assert(
      fc.property(text, (t) => {
        const r = parse(t);
        expectResult(r);
        if (r.ok) expectSaneFile(r.value);
      }),
      RUNS,
    );
  });

  it('accepts every valid rule file, as YAML or as JSON, with the defaults filled in', () => {
    fc.assert(
      fc.property(validFile, fc.boolean(), ({ doc, value }, asJson) => {
        expect(parse(asJson ? JSON.stringify(doc) : stringify(doc))).toEqual({ ok: true, value });
      }),
      { numRuns: 80 },
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
        hostileValue,
        ({ doc }, i, key, value) => {
          const rules = [...(doc.rules as Record<string, unknown>[])];
          const k = i % rules.length;
          rules[k] = { ...rules[k], [key]: value };
          const r = parse(stringify({ ...doc, rules }));
          expectResult(r);
          if (r.ok) expectSaneFile(r.value);
          // An unknown key, named like a prototype member or not, is refused where it is written.
          if (PROTO_KEYS.includes(key)) {
            expect(r.ok).toBe(false);
            if (!r.ok) expect(r.problems.map((p) => p.field)).toContain(`rules[${k}].${key}`);
          }
        },
      ),
      RUNS,
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
        if (!r.ok) for (const p of r.problems) expect(p.field.startsWith(`rules[${k}]`), p.field).toBe(true);
      }),
      RUNS,
    );
  });

  it('two rules with the same id are refused at the second one', () => {
    fc.assert(
      fc.property(validFile, fc.nat(), ({ doc }, i) => {
        const rules = doc.rules as Record<string, unknown>[];
        const copy = { ...rules[i % rules.length] };
        const r = parse(stringify({ ...doc, rules: [...rules, copy] }));
        expect(r.ok).toBe(false);
        if (!r.ok) expect(r.problems.map((p) => p.field)).toContain(`rules[${rules.length}].id`);
      }),
      RUNS,
    );
  });
});
