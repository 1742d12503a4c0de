/**
 * Properties of the escalation file (`workflows/escalation.yaml`, parsed by parseYamlText with
 * escalationConfigSchema, as loadEscalationConfig does): whatever the text, a typed
 * configuration in which every rung names a declared role and declared channels, or problems
 * that each name the file, a line, a column and the field; never a throw.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parseYamlText, type YamlResult } from '../common/yaml-file.js';
import {
  expectProblemsWithin,
  expectRefusedAt,
  expectYamlResult,
  hostileValue,
  inheritedNamesMatching,
  opt,
  setOwn,
  writeDoc,
  yamlText,
} from '../test/support/properties.js';
import { type EscalationConfig, escalationConfigSchema, NOTIFICATIONS_SUBJECT } from './config.js';

// A whole escalation file takes the YAML library ~5-10 ms to read on this box: fewer runs than
// the other YAML files (RUNS.yaml), so that the unit project stays fast.
const ESCALATION_RUNS = { numRuns: 30 };
const FILE = 'generated-escalation.yaml';
const parse = (text: string) => parseYamlText(text, FILE, escalationConfigSchema);
const SEVERITIES = ['low', 'medium', 'high', 'critical'] as const;
const NAME = /^[a-z][a-z0-9-]{0,39}$/;
/** Names every plain object inherits that a role or channel name may spell. */
const INHERITED_NAMES = inheritedNamesMatching(NAME);

// ---------------------------------------------------------------------------------------------
// Valid configurations, as written and as parsed

const name = fc.stringMatching(NAME).filter((n) => !INHERITED_NAMES.includes(n));
const seconds = (min: number) => fc.integer({ min, max: 7 * 86_400 });

type Doc = Record<string, unknown>;
const channel: fc.Arbitrary<{ doc: Doc; value: Doc }> = fc.oneof(
  fc.constant({ doc: { kind: 'log' }, value: { kind: 'log' } }),
  fc
    .record({
      host: fc.stringMatching(/^[a-z][a-z0-9-]{0,20}(\.[a-z]{2,6})?$/),
      port: fc.integer({ min: 1, max: 65535 }),
      scheme: fc.constantFrom('http', 'https'),
      timeoutS: opt(fc.integer({ min: 1, max: 60 })),
    })
    .map(({ host, port, scheme, timeoutS }) => {
      const url = `${scheme}://${host}:${port}/notify`;
      return {
        doc: { kind: 'webhook', url, ...(timeoutS === undefined ? {} : { timeoutS }) },
        value: { kind: 'webhook', url, timeoutS: timeoutS ?? 5 },
      };
    }),
  fc
    .stringMatching(/^(\.[\w-]{1,12}){0,3}$/)
    .map((below) => `${NOTIFICATIONS_SUBJECT}${below}`)
    .map((subject) => ({ doc: { kind: 'nats', subject }, value: { kind: 'nats', subject } })),
);

const validConfig: fc.Arbitrary<{ doc: Doc; value: EscalationConfig }> = fc
  .record({
    channels: fc.uniqueArray(fc.tuple(name, channel), { selector: ([n]) => n, maxLength: 3 }),
    roles: fc.uniqueArray(
      fc.tuple(
        name,
        fc.record({
          title: fc.string({ minLength: 1, maxLength: 80 }),
          contacts: fc.array(fc.string({ minLength: 1, maxLength: 30 }), { minLength: 1, maxLength: 3 }),
        }),
      ),
      { selector: ([n]) => n, minLength: 1, maxLength: 3 },
    ),
  })
  .chain(({ channels, roles }) => {
    const channelNames = ['log', ...channels.map(([n]) => n)];
    const roleName = fc.constantFrom(...roles.map(([n]) => n));
    const channelList = fc.uniqueArray(fc.constantFrom(...channelNames), { minLength: 1 });
    const rung = fc.record({ role: roleName, afterS: seconds(0), channels: channelList });
    const ladder = fc.array(rung, { minLength: 1, maxLength: 2 });
    return fc
      .record({
        ladders: fc.record({ low: ladder, medium: ladder, high: ladder, critical: ladder }),
        machines: fc.option(
          fc.array(fc.constantFrom('*', 'line-1/*', 'M-0009', 'line-1/M-00*'), {
            minLength: 1,
            maxLength: 3,
          }),
          { nil: undefined },
        ),
        severities: fc.uniqueArray(fc.constantFrom(...SEVERITIES)),
        repeats: fc.integer({ min: 2, max: 100 }),
        repeatWindowS: seconds(60),
        respondWithinS: seconds(5),
        repairWithinS: seconds(60),
        checkEveryS: seconds(5),
        escalateTo: fc.record({ role: roleName, channels: channelList }),
      })
      .map(({ ladders, machines, ...tickets }) => {
        const ticketsDoc = { ...(machines === undefined ? {} : { machines }), ...tickets };
        return {
          doc: {
            version: 1,
            channels: Object.fromEntries(channels.map(([n, c]) => [n, c.doc])),
            roles: Object.fromEntries(roles),
            ladders,
            tickets: ticketsDoc,
          },
          value: {
            version: 1,
            channels: Object.fromEntries(channels.map(([n, c]) => [n, c.value])),
            roles: Object.fromEntries(roles),
            ladders,
            tickets: { ...tickets, machines: machines ?? ['*'] },
          } as EscalationConfig,
        };
      });
  });

// Just past a week, a role's title, and paths and links where a channel or pattern goes.
const hostile = hostileValue({
  via: 'text',
  longest: 20_000,
  also: [1.5, 7 * 86_400 + 1, 'Operator', 'a/b/c', 'javascript:alert(1)', 'file:///etc/passwd', ['']],
});

const expectResult = (r: YamlResult<EscalationConfig>) => expectYamlResult(r, FILE, expectSaneConfig);

/** What the workflows rely on: every rung (and escalateTo) names a declared role and channels. */
function expectSaneConfig(c: EscalationConfig): void {
  const channels = new Set(['log', ...Object.keys(c.channels)]);
  const rungs = [...SEVERITIES.flatMap((s) => c.ladders[s]), c.tickets.escalateTo];
  for (const r of rungs) {
    expect(Object.hasOwn(c.roles, r.role), `role ${r.role}`).toBe(true);
    for (const ch of r.channels) expect(channels.has(ch), `channel ${ch}`).toBe(true);
  }
}

// ---------------------------------------------------------------------------------------------

describe('escalation files (properties)', () => {
  it('never throws on any text: a configuration, or problems with file, line and column', () => {
    fc.assert(
      fc.property(yamlText(), (t) => expectResult(parse(t))),
      ESCALATION_RUNS,
    );
  });

  it('accepts every valid configuration, as YAML or as JSON, with the defaults filled in', () => {
    fc.assert(
      fc.property(validConfig, fc.boolean(), ({ doc, value }, asJson) => {
        expect(parse(writeDoc(doc, asJson))).toEqual({ ok: true, value });
      }),
      { numRuns: 40 },
    );
  });

  it('a valid configuration with one ticket or rung field made hostile is refused with located problems, or still sane', () => {
    const ticketKeys = ['machines', 'severities', 'repeats', 'repeatWindowS', 'checkEveryS', 'escalateTo'];
    const rungKeys = ['role', 'afterS', 'channels', 'constructor', '__proto__'];
    fc.assert(
      fc.property(
        validConfig,
        fc.constantFrom(...SEVERITIES),
        fc.oneof(
          fc.constantFrom(...ticketKeys).map((k) => ['tickets', k] as const),
          fc.constantFrom(...rungKeys).map((k) => ['rung', k] as const),
        ),
        hostile,
        ({ doc }, severity, [where, key], value) => {
          const d = structuredClone(doc) as {
            tickets: Record<string, unknown>;
            ladders: Record<string, Record<string, unknown>[]>;
          };
          if (where === 'tickets') d.tickets[key] = value;
          else {
            const rung = d.ladders[severity]?.[0];
            if (rung) setOwn(rung, key, value);
          }
          expectResult(parse(stringify(d)));
        },
      ),
      ESCALATION_RUNS,
    );
  });

  it('a rung naming an undeclared role or channel is refused at that rung, whatever the name', () => {
    fc.assert(
      fc.property(
        validConfig,
        fc.constantFrom(...SEVERITIES),
        fc.constantFrom('role', 'channels'),
        fc.oneof(name, fc.constantFrom(...INHERITED_NAMES)),
        ({ doc }, severity, what, unknown) => {
          const d = structuredClone(doc) as {
            roles: Record<string, unknown>;
            channels: Record<string, unknown>;
            ladders: Record<string, Record<string, unknown>[]>;
          };
          fc.pre(!Object.hasOwn(what === 'role' ? d.roles : d.channels, unknown) && unknown !== 'log');
          const rung = d.ladders[severity]![0]!;
          rung[what] = what === 'role' ? unknown : [unknown];
          expectRefusedAt(
            parse(stringify(d)),
            what === 'role' ? `ladders.${severity}[0].role` : `ladders.${severity}[0].channels[0]`,
          );
        },
      ),
      ESCALATION_RUNS,
    );
  });

  it('a NATS channel outside factory.notifications is refused at its subject (the server would drop it)', () => {
    fc.assert(
      fc.property(validConfig, fc.stringMatching(/^[\w-]{1,12}(\.[\w-]{1,12}){0,3}$/), ({ doc }, subject) => {
        fc.pre(subject !== NOTIFICATIONS_SUBJECT && !subject.startsWith(`${NOTIFICATIONS_SUBJECT}.`));
        const d = structuredClone(doc) as { channels: Record<string, unknown> };
        d.channels.elsewhere = { kind: 'nats', subject };
        expectRefusedAt(parse(stringify(d)), 'channels.elsewhere.subject');
      }),
      ESCALATION_RUNS,
    );
  });

  it('a good rung beside a bad one is untouched: every problem is in the bad rung', () => {
    const breakIt = fc.constantFrom<Record<string, unknown>>(
      { afterS: -1 },
      { afterS: 1.5 },
      { channels: [] },
      { role: 'Not A Name' },
      { extra: true },
    );
    fc.assert(
      fc.property(
        validConfig,
        fc.constantFrom(...SEVERITIES),
        fc.nat(),
        breakIt,
        ({ doc }, severity, i, patch) => {
          const d = structuredClone(doc) as { ladders: Record<string, Record<string, unknown>[]> };
          const ladder = d.ladders[severity]!;
          const k = i % ladder.length;
          ladder[k] = { ...ladder[k], ...patch };
          const r = parse(stringify(d));
          expectResult(r);
          expect(r.ok).toBe(false);
          expectProblemsWithin(r, `ladders.${severity}[${k}]`);
        },
      ),
      ESCALATION_RUNS,
    );
  });
});
