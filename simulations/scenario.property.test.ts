/**
 * Properties of the scenario parser (`parseScenario`): people write these files by hand, so
 * whatever the text, it answers a typed scenario or problems that each name the file, a line, a
 * column and the field; it never throws and never hangs.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { FAULT_KINDS } from '../actors/commands.js';
import type { YamlResult } from '../common/yaml-file.js';
import {
  defined,
  expectProblemsWithin,
  expectRefusedAt,
  expectYamlResult,
  faultParams,
  hostileValue,
  opt,
  PROTO_KEYS,
  RUNS,
  writeDoc,
} from '../test/support/properties.js';
import {
  NETWORK_LINKS,
  PROCESS_ROLES,
  parseScenario,
  type Scenario,
  SERVERS,
  type TimelineEntry,
} from './scenario.js';

/** Not `<name>.yaml`, so the generated name need not match the file's. */
const FILE = 'generated.yml';

// ---------------------------------------------------------------------------------------------
// Valid scenarios, as written (`doc`) and as parsed (`value`)

interface Case {
  doc: Record<string, unknown>;
  value: Scenario;
}

const seconds = (s: number) => `${s}s`;
// Whole numbers, and faults of at most an hour: what fits in a run of a scenario.
const params = faultParams({
  positive: (max) => fc.integer({ min: 1, max }),
  ratePerMin: fc.integer({ min: -100, max: 100 }),
  maxDurationS: 3600,
  maxSigma: 50,
});

/** One timeline entry that fits a run of `durationS` seconds on `machines` machines and `workers` workers. */
const entry = (durationS: number, machines: number, workers: number) =>
  fc.integer({ min: 0, max: durationS - 2 }).chain((at) => {
    const forS = fc.integer({ min: 1, max: durationS - at });
    const fault = fc
      .record({
        fault: fc.constantFrom(...FAULT_KINDS),
        target: fc.oneof(
          fc.integer({ min: 1, max: machines }).map((n) => `M-${String(n).padStart(4, '0')}`),
          fc.constantFrom('*', 'line-1/*', 'M-00*'),
        ),
        forS: opt(forS),
      })
      .chain((f) =>
        params[f.fault].map((p) => ({
          doc: defined({
            at: seconds(at),
            fault: f.fault,
            machines: f.target,
            params: p,
            for: f.forS === undefined ? undefined : seconds(f.forS),
          }),
          value: {
            kind: 'fault',
            atMs: at * 1000,
            ...(f.forS === undefined ? {} : { forMs: f.forS * 1000 }),
            target: { pattern: f.target },
            inject: { type: 'INJECT_FAULT', fault: f.fault, params: p },
          } as TimelineEntry,
        })),
      );
    const process = fc.oneof(
      fc.integer({ min: 1, max: workers }).map((i) => ({ role: 'worker' as const, index: i })),
      fc.constantFrom(
        { role: 'bridge' as const, index: 1 },
        { role: 'bridge' as const, index: 2 },
        { role: 'writer' as const, index: 1 },
        { role: 'analytics' as const, index: 1 },
        { role: 'workflows' as const, index: 1 },
      ),
    );
    const kill = process.map((p) => ({
      doc: { at: seconds(at), kill: `${p.role}-${p.index}` },
      value: {
        kind: 'kill',
        atMs: at * 1000,
        process: { ...p, name: `${p.role}-${p.index}` },
      } as TimelineEntry,
    }));
    const pause = fc.tuple(process, forS).map(([p, f]) => ({
      doc: { at: seconds(at), pause: `${p.role}-${p.index}`, for: seconds(f) },
      value: {
        kind: 'pause',
        atMs: at * 1000,
        forMs: f * 1000,
        process: { ...p, name: `${p.role}-${p.index}` },
      } as TimelineEntry,
    }));
    const stop = fc
      .tuple(fc.constantFrom(...SERVERS), forS, opt(fc.boolean()))
      .map(([server, f, graceful]) => ({
        doc: defined({ at: seconds(at), stop: server, for: seconds(f), graceful }),
        value: {
          kind: 'stop',
          atMs: at * 1000,
          forMs: f * 1000,
          server,
          graceful: graceful ?? false,
        } as TimelineEntry,
      }));
    const link = fc
      .constantFrom(...PROCESS_ROLES)
      .chain((from) => fc.constantFrom(...NETWORK_LINKS[from]).map((to) => ({ from, to })));
    const effect = fc.oneof(
      fc
        .tuple(fc.integer({ min: 1, max: 60_000 }), opt(fc.integer({ min: 0, max: 60_000 })))
        .map(([latencyMs, jitterMs]) => ({
          doc: defined({ latencyMs, jitterMs }),
          value: { kind: 'latency' as const, latencyMs, jitterMs: jitterMs ?? 0 },
        })),
      fc.integer({ min: 1, max: 1_000_000 }).map((kBps) => ({
        doc: { bandwidthKBps: kBps },
        value: { kind: 'bandwidth' as const, kBps },
      })),
      fc.constant({ doc: { partition: true }, value: { kind: 'partition' as const } }),
    );
    const network = fc.tuple(link, effect, forS).map(([l, e, f]) => ({
      doc: { at: seconds(at), network: { ...l, ...e.doc }, for: seconds(f) },
      value: {
        kind: 'network',
        atMs: at * 1000,
        forMs: f * 1000,
        network: { ...l, effect: e.value },
      } as TimelineEntry,
    }));
    return fc.oneof(fault, kill, pause, stop, network);
  });

const validCase: fc.Arbitrary<Case> = fc
  .record({
    name: fc.stringMatching(/^[a-z0-9]{1,8}(-[a-z0-9]{1,8}){0,3}$/),
    title: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9 ,.:()-]{0,60}$/),
    description: fc.string({ minLength: 1, maxLength: 200 }).filter((s) => s.trim() !== ''),
    machines: fc.constantFrom(10, 30),
    workers: fc.integer({ min: 1, max: 4 }),
    minutes: fc.integer({ min: 10, max: 60 }),
    seed: fc.integer({ min: 0, max: 0xffff_ffff }),
  })
  .chain((s) =>
    fc.array(entry(s.minutes * 60, s.machines, s.workers), { maxLength: 6 }).map(
      (entries): Case => ({
        doc: {
          name: s.name,
          title: s.title,
          description: s.description,
          fleet: { machines: s.machines, workers: s.workers },
          duration: `${s.minutes}m`,
          seed: s.seed,
          clock: 'wall',
          timeline: entries.map((e) => e.doc),
          expect: { noLoss: true },
        },
        value: {
          version: 1,
          name: s.name,
          title: s.title,
          description: s.description,
          fleet: { machines: s.machines, workers: s.workers },
          durationMs: s.minutes * 60_000,
          seed: s.seed,
          clock: 'wall',
          timeline: entries.map((e) => e.value),
          expect: { noLoss: true, noAlarms: false },
        },
      }),
    ),
  );

// ---------------------------------------------------------------------------------------------
// Hostile input

// Durations that are not quite durations, and processes, servers and patterns that do not exist.
const hostile = hostileValue({
  via: 'text',
  longest: 20_000,
  also: [
    1e300,
    '0s',
    '-5m',
    '9999999d',
    '1.5h',
    'worker-0',
    'worker-999',
    'kafka',
    'a/b/c',
    '*/*/*',
    { __proto__: null },
  ],
});

/** YAML texts that have broken parsers: alias bombs, deep nesting, tags, merges, odd keys. */
const hostileYaml = fc.oneof(
  fc.constant(
    [
      'a: &a ["x","x","x","x","x","x","x","x","x"]',
      'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]',
      'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]',
      'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]',
      'e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]',
      'f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]',
      'g: [*f,*f,*f,*f,*f,*f,*f,*f,*f]',
    ].join('\n'),
  ),
  // Deeper than a few hundred levels the YAML library overflows the stack (caught, and reported
  // as a problem at its line): a test of its own below, with fewer runs, as each takes ~100 ms.
  fc.nat({ max: 300 }).map((n) => `timeline: ${'['.repeat(n)}${']'.repeat(n)}`),
  fc.nat({ max: 300 }).map((n) => `${'- '.repeat(n)}x`),
  fc.constantFrom(
    'a: !!js/function "function () { return 1 }"',
    'a: !!binary aGVsbG8=',
    'a: !!set { x, y }',
    'a: !!omap [ { x: 1 } ]',
    'base: &b { name: x }\nmerged: { <<: *b }',
    'name: a\nname: b',
    '__proto__: { polluted: true }',
    '? [complex, key]\n: value',
    'a: *undefined',
    '%YAML 9.9\n---\na: 1',
    '---\na: 1\n---\nb: 2',
    '\t\ta: 1',
    '',
    '~',
    '"\\ud800"',
  ),
  fc.string(),
  fc.string({ unit: 'binary', maxLength: 500 }),
  fc.json(),
);

// ---------------------------------------------------------------------------------------------

/** Located problems (see expectYamlResult), each with its field, and one line of the reason for each. */
function expectResult(r: YamlResult<Scenario>): void {
  expectYamlResult(r, FILE);
  if (r.ok) return;
  for (const p of r.problems) expect(typeof p.field).toBe('string');
  expect(r.reason.split('\n')).toHaveLength(r.problems.length);
}

describe('parseScenario (properties)', () => {
  it('never throws on any text, hostile YAML included: a scenario, or problems with file, line, column', () => {
    fc.assert(
      fc.property(hostileYaml, (text) => expectResult(parseScenario(text, FILE))),
      RUNS.yaml,
    );
  });

  it('never throws on YAML nested thousands deep: a problem at its line, not a stack overflow', () => {
    const deep = fc
      .integer({ min: 1_000, max: 5_000 })
      .chain((n) =>
        fc.constantFrom(
          `timeline: ${'['.repeat(n)}${']'.repeat(n)}`,
          `${'- '.repeat(n)}x`,
          `${'a: {'.repeat(n)}${'}'.repeat(n)}`,
        ),
      );
    fc.assert(
      fc.property(deep, (text) => {
        const r = parseScenario(text, FILE);
        expectResult(r);
        expect(r.ok).toBe(false);
      }),
      { numRuns: 6 },
    );
  });

  it('accepts every valid scenario, written as YAML or as JSON, and gives the same typed value', () => {
    fc.assert(
      fc.property(validCase, fc.boolean(), ({ doc, value }, asJson) => {
        expect(parseScenario(writeDoc(doc, asJson), FILE)).toEqual({ ok: true, value });
      }),
      RUNS.yamlRoundTrip,
    );
  });

  it('a valid scenario with one top-level field made hostile is refused with located problems, or still parses', () => {
    const keys = ['name', 'title', 'description', 'fleet', 'duration', 'seed', 'clock', 'timeline', 'expect'];
    fc.assert(
      fc.property(validCase, fc.constantFrom(...keys, ...PROTO_KEYS), hostile, ({ doc }, key, value) => {
        const text = `${stringify({ ...doc, [key]: undefined }).trimEnd()}\n${stringify({ [key]: value })}`;
        const r = parseScenario(text, FILE);
        expectResult(r);
        if (PROTO_KEYS.includes(key) && value !== undefined) expect(r.ok).toBe(false);
      }),
      RUNS.yaml,
    );
  });

  it('a good entry beside a bad one is untouched: every problem is in the bad entry', () => {
    const badEntry = fc.oneof(
      fc.constantFrom('at', 'for', 'fault', 'machines', 'params', 'kill', 'stop', 'network', ...PROTO_KEYS),
      fc.string({ minLength: 1, maxLength: 10 }),
    );
    fc.assert(
      fc.property(
        validCase.filter((c) => (c.doc.timeline as unknown[]).length > 0),
        fc.nat(),
        badEntry,
        hostile,
        ({ doc }, i, key, value) => {
          const timeline = [...(doc.timeline as Record<string, unknown>[])];
          const k = i % timeline.length;
          const bad = { ...timeline[k], [key]: value };
          timeline[k] = bad;
          const r = parseScenario(stringify({ ...doc, timeline }), FILE);
          expectResult(r);
          expectProblemsWithin(r, `timeline[${k}]`);
        },
      ),
      RUNS.yaml,
    );
  });

  it('a timeline entry at or after the end of the run is refused at that entry', () => {
    fc.assert(
      fc.property(validCase, fc.integer({ min: 0, max: 3 * 3600 }), ({ doc, value }, extraS) => {
        const at = value.durationMs / 1000 + extraS;
        const timeline = [...(doc.timeline as unknown[]), { at: `${at}s`, kill: 'worker-1' }];
        const r = parseScenario(stringify({ ...doc, timeline }), FILE);
        expectResult(r);
        expectRefusedAt(r, `timeline[${timeline.length - 1}].at`);
      }),
      RUNS.yaml,
    );
  });
});
