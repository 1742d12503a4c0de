/**
 * Properties of the flags every long-running process takes (`parseProcessArgs`: --id,
 * --metrics-addr, --data-dir and a process's extra ones). Whatever the argv, typed flags, or an
 * error that runProcess turns into exit 2 with one line: a UsageError or node's ERR_PARSE_ARGS_*.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { expectSentence, opt, RUNS } from '../test/support/properties.js';
import { parseProcessArgs, UsageError } from './runtime.js';

/** What runProcess would do with what parseProcessArgs threw: a usage error is one line, exit 2. */
function expectUsageError(err: unknown): void {
  const e = err as Error & { code?: string };
  const usage = e instanceof UsageError || e.code?.startsWith('ERR_PARSE_ARGS') === true;
  expect(usage, `not a usage error: ${String(e?.stack ?? e)}`).toBe(true);
  expectSentence(e.message);
}

function parsed(argv: string[], extra: readonly string[] = []) {
  try {
    return parseProcessArgs(argv, extra);
  } catch (err) {
    expectUsageError(err);
    return undefined;
  }
}

const id = fc.stringMatching(/^[\w.-]{1,64}$/);
const addr = fc
  .tuple(fc.stringMatching(/^[\w.-]{1,20}$/), fc.integer({ min: 0, max: 99_999 }))
  .map(([h, p]) => `${h}:${p}`);
const word = fc.oneof(
  fc.constantFrom(
    '--id',
    '--metrics-addr',
    '--data-dir',
    '--rules',
    '--',
    '-',
    '--unknown',
    '-x',
    '--id=',
    '--help',
  ),
  fc.string({ maxLength: 20 }),
  id,
  addr,
);

describe('parseProcessArgs (properties)', () => {
  it('never throws anything but a usage error on any argv; what it accepts is well-formed', () => {
    fc.assert(
      fc.property(fc.array(word, { maxLength: 8 }), (argv) => {
        const r = parsed(argv, ['rules']);
        if (!r) return;
        expect(r.args.id).toMatch(/^[\w.-]{1,64}$/);
        expect(r.args['metrics-addr']).toMatch(/^[\w.-]+:\d{1,5}$/);
        expect(typeof r.config.dataDir).toBe('string');
      }),
      RUNS.parse,
    );
  });

  it('reads every valid --id, --metrics-addr and --data-dir, in any order and either spelling', () => {
    fc.assert(
      fc.property(
        id,
        opt(addr),
        opt(fc.stringMatching(/^\/[\w./-]{0,30}$/)),
        fc.boolean(),
        fc.boolean(),
        (i, a, dir, equals, reverse) => {
          // node's parseArgs takes a value that starts with "-" only as --name=value (else: ambiguous).
          const flag = (name: string, v: string) =>
            equals || v.startsWith('-') ? [`--${name}=${v}`] : [`--${name}`, v];
          const parts = [
            flag('id', i),
            ...(a === undefined ? [] : [flag('metrics-addr', a)]),
            ...(dir === undefined ? [] : [flag('data-dir', dir)]),
          ];
          const argv = (reverse ? parts.reverse() : parts).flat();
          const r = parsed(argv);
          expect(r).toBeDefined();
          if (!r) return;
          expect(r.args.id).toBe(i);
          expect(r.args['metrics-addr']).toBe(a ?? '127.0.0.1:0');
          if (dir !== undefined) expect(r.config.dataDir).toBe(dir);
        },
      ),
      RUNS.parse,
    );
  });

  it('refuses an id that could not name a process (empty, too long, separators), with a usage error', () => {
    const bad = fc.oneof(
      fc.constantFrom('', 'a b', 'a/b', 'a:b', '*', '>', 'ä'),
      fc.stringMatching(/^[\w.-]{65,100}$/),
    );
    fc.assert(
      fc.property(bad, (i) => {
        expect(parsed(['--id', i])).toBeUndefined();
      }),
      RUNS.parse,
    );
  });
});
