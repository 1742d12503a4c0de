import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { factory } from '../../test/integration/stack-env.js';

// These runs stop before any server starts: they need no stack.
const scratch = mkdtempSync(join(tmpdir(), 'factory-cli-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const oneSentence = (stderr: string) => {
  expect(stderr.trim().split('\n')).toHaveLength(1);
  expect(stderr).not.toMatch(/\n\s+at /);
};

// Each case starts the real CLI (a Node process with tsx): seconds on a busy 2-core machine.
describe('factory CLI', { timeout: 30_000 }, () => {
  it('lists every contract command in --help', async () => {
    const r = await factory(['--help']);
    expect(r.code).toBe(0);
    for (const c of [
      'up',
      'down',
      'status',
      'scale',
      'inject',
      'verify',
      'alarm',
      'ticket',
      'sim',
      'bench',
    ]) {
      expect(r.stdout).toMatch(new RegExp(`^  ${c}\\b`, 'm'));
    }
  });

  it('refuses a malformed alarm id before reaching any server', async () => {
    const r = await factory(['alarm', 'ack', 'not-an-alarm']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/"not-an-alarm" is not an alarm id/);
    oneSentence(r.stderr);
  });

  it('lists the scenario library', async () => {
    const r = await factory(['sim', '--list']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ci-machine-fault\s+2m\s+wall\s+CI: one overheating machine$/m);
    expect(r.stdout).toMatch(/^bearing-wear-week\s+7d\s+simulated\s/m);
  });

  it('gives each command its own --help', async () => {
    const r = await factory(['status', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Usage: factory status \[--json\]/);
    expect(r.stdout).toMatch(/--json/);
  });

  it.each([
    [['launch'], /unknown command "launch"/],
    [['status', '--colour'], /Unknown option '--colour'/],
    [['up', '--machines', 'many'], /--machines must be a whole number/],
    [['up', '--workers', '0'], /--workers must be a whole number/],
    [['alarm', 'silence', 'M-0001.fault.1'], /expected "list", "ack", "shelve" or "unshelve"/],
    [['alarm', 'ack'], /takes exactly one alarm id/],
    [['sim'], /sim takes one scenario/],
    [['sim', 'no-such-scenario'], /No scenario "no-such-scenario"/],
    [['sim', '--list', 'flood'], /--list takes no scenario/],
    [
      ['sim', 'bearing-wear-week', '--reuse'],
      /simulated time, with no stack: --reuse and --keep do not apply/,
    ],
    [['alarm', 'shelve', 'M-0001.fault.1'], /shelve needs --for/],
    [['alarm', 'shelve', 'M-0001.fault.1', '--for', '8d'], /at most 7d/],
    [['alarm', 'ack', 'M-0001.fault.1', '--for', '1h'], /--for applies to shelve/],
    [['bench', '--minutes', '5'], /apply to --alarms/],
  ])('rejects %j with exit 2 and one sentence', async (args, message) => {
    const r = await factory(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    oneSentence(r.stderr);
  });

  it('stops with one sentence naming what to install when a prerequisite is missing', async () => {
    // A PATH with node alone: no java, mvn, go or apt-get; an empty tool cache.
    const bin = join(scratch, 'bin');
    mkdirSync(bin);
    symlinkSync(process.execPath, join(bin, 'node'));
    const r = await factory(['up'], {
      PATH: bin,
      FACTORY_CACHE_DIR: join(scratch, 'cache'),
      FACTORY_DATA_DIR: join(scratch, 'data'),
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/(is not on PATH|apt-get is not available).*install/);
    oneSentence(r.stderr);
  });
});
