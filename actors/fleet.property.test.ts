/**
 * Properties of the fleet file parser (`parseFleet`, `validateFleet`): `factory up` reads the
 * fleet a person wrote, and the registry stores its definition. Whatever the text, a typed fleet
 * in which every machine's type is declared, or a reason; never a throw.
 */
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { stringify } from 'yaml';
import {
  anyValue,
  expectSentence,
  hostileValue,
  inheritedNamesMatching,
  opt,
  RUNS,
  setOwn,
  writeDoc,
  yamlText,
} from '../test/support/properties.js';
import { type Fleet, type FleetResult, parseFleet, validateFleet } from './fleet.js';

// Most cases are YAML documents read by the yaml library: fewer runs than the JSON parsers, more
// than the YAML-only files (RUNS.yaml), so that the whole unit project stays fast.
const FLEET_RUNS = { numRuns: 60 };
const ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,15}$/;
/** Names every plain object inherits that an id may spell. */
const INHERITED_NAMES = inheritedNamesMatching(ID);

const id = fc.stringMatching(ID).filter((s) => !INHERITED_NAMES.includes(s));

const validFleet: fc.Arbitrary<Fleet> = fc
  .record({
    seed: fc.oneof(fc.integer(), fc.string({ minLength: 1, maxLength: 20 })),
    types: fc.uniqueArray(
      fc.tuple(
        id,
        fc.record(
          {
            description: fc.string({ maxLength: 60 }),
            physics: fc.record({ ratedKw: fc.integer({ min: 2, max: 100 }) }),
          },
          { requiredKeys: [] },
        ),
      ),
      { selector: ([n]) => n, minLength: 1, maxLength: 4 },
    ),
  })
  .chain(({ seed, types }) => {
    const typeName = fc.constantFrom(...types.map(([n]) => n));
    const line = fc.record({
      id,
      name: opt(fc.string({ maxLength: 30 })),
      machines: fc.array(fc.record({ type: typeName, count: fc.nat({ max: 100 }) }), { maxLength: 4 }),
    });
    const site = fc.record({
      id,
      name: opt(fc.string({ maxLength: 30 })),
      lines: fc.uniqueArray(line, { selector: (l) => l.id, minLength: 1, maxLength: 3 }),
    });
    return fc
      .uniqueArray(site, { selector: (s) => s.id, minLength: 1, maxLength: 3 })
      .map(
        (sites): Fleet =>
          JSON.parse(JSON.stringify({ version: 1, seed, machineTypes: Object.fromEntries(types), sites })),
      );
  });

// Just past a count's bound, and ids with separators a topic or a tag cannot hold.
const hostile = hostileValue({
  via: 'text',
  longest: 20_000,
  also: [100_001, 'a/b', 'a b', 'M+1', '#', 'toString'],
});

function expectResult(r: FleetResult): void {
  if (!r.ok) expectSentence(r.reason);
}

/** What deriveFleet and the registry rely on in an accepted fleet. */
function expectSaneFleet(f: Fleet): void {
  for (const s of f.sites)
    for (const l of s.lines)
      for (const m of l.machines) {
        expect(Object.hasOwn(f.machineTypes, m.type), `type ${m.type}`).toBe(true);
        expect(Number.isSafeInteger(m.count) && m.count >= 0).toBe(true);
      }
  expect(new Set(f.sites.map((s) => s.id)).size).toBe(f.sites.length);
}

describe('fleet files (properties)', () => {
  it('parseFleet never throws on any text: a fleet whose machine types are all declared, or a reason', () => {
    const text = yamlText(
      '%FOO bar\n---\nseed: 1',
      '%YAML 1.1\n---\nseed: 1',
      'seed: &a 1\nmachineTypes: *a',
    );
    // The yaml library's parse() reports what it merely warns about (an unknown directive such as
    // "%FOO") with process.emitWarning, which node prints to stderr: kept quiet here.
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      fc.assert(
        fc.property(text, (t) => {
          const r = parseFleet(t);
          expectResult(r);
          if (r.ok) expectSaneFleet(r.fleet);
        }),
        FLEET_RUNS,
      );
    } finally {
      warn.mockRestore();
    }
  });

  it('validateFleet never throws on fc.anything()', () => {
    fc.assert(
      fc.property(anyValue, (x) => {
        const r = validateFleet(x);
        expectResult(r);
        if (r.ok) expectSaneFleet(r.fleet);
      }),
      RUNS.parse,
    );
  });

  it('accepts every valid fleet, as YAML or as JSON, unchanged', () => {
    fc.assert(
      fc.property(validFleet, fc.boolean(), (f, asJson) => {
        expect(parseFleet(writeDoc(f, asJson))).toEqual({ ok: true, fleet: f });
      }),
      FLEET_RUNS,
    );
  });

  it('a valid fleet with one machine entry made hostile is refused with a reason, or still sane', () => {
    fc.assert(
      fc.property(
        validFleet.filter((f) => f.sites[0]!.lines[0]!.machines.length > 0),
        fc.constantFrom('type', 'count', 'extra', '__proto__', 'constructor'),
        hostile,
        (f, key, value) => {
          const doc = structuredClone(f) as unknown as {
            sites: { lines: { machines: Record<string, unknown>[] }[] }[];
          };
          const m = doc.sites[0]!.lines[0]!.machines[0]!;
          setOwn(m, key, value);
          const r = parseFleet(stringify(doc));
          expectResult(r);
          if (r.ok) expectSaneFleet(r.fleet);
        },
      ),
      FLEET_RUNS,
    );
  });

  it('a machine type that machineTypes does not declare is refused, whatever its name', () => {
    fc.assert(
      fc.property(validFleet, fc.oneof(id, fc.constantFrom(...INHERITED_NAMES)), (f, type) => {
        fc.pre(!Object.hasOwn(f.machineTypes, type));
        const doc = structuredClone(f);
        doc.sites[0]!.lines[0]!.machines.push({ type, count: 1 });
        const r = validateFleet(doc);
        expect(r.ok).toBe(false);
        if (!r.ok) expect(r.reason).toContain(`'${type}'`);
      }),
      FLEET_RUNS,
    );
  });

  it('a good line beside a bad one is untouched: the reason names the bad line only', () => {
    fc.assert(
      fc.property(validFleet, fc.nat(), fc.nat(), (f, i, j) => {
        const doc = structuredClone(f);
        const site = doc.sites[i % doc.sites.length]!;
        const line = site.lines[j % site.lines.length]!;
        line.machines.push({ type: 'no-such-type-declared', count: 1 });
        const r = validateFleet(doc);
        expect(r.ok).toBe(false);
        if (r.ok) return;
        const problems = r.reason.split('; ');
        expect(problems).toEqual([
          `${site.id}/${line.id} uses machine type 'no-such-type-declared', which machineTypes does not define`,
        ]);
      }),
      FLEET_RUNS,
    );
  });
});
