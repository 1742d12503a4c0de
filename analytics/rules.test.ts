import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadRuleBook, RULES_DIR, RulesError } from './rules.js';

describe('the real rules directory', () => {
  const book = loadRuleBook();

  it('loads every file and knows its types', () => {
    const files = readdirSync(RULES_DIR)
      .filter((f) => f.endsWith('.yaml'))
      .map((f) => f.replace(/\.yaml$/, ''))
      .sort();
    expect([...book.types].sort()).toEqual(files);
    expect(book.types).toContain('default');
    expect(loadRuleBook(RULES_DIR).types).toEqual(book.types);
  });

  it('every type has a comms-loss silence rule and a fault state rule', () => {
    for (const type of book.types) {
      const rules = book.forType(type);
      expect(rules.find((r) => r.id === 'comms-loss')?.kind, type).toBe('silence');
      expect(
        rules.find((r) => r.id === 'fault'),
        type,
      ).toMatchObject({ kind: 'state', state: 'FAULT' });
    }
  });

  it('applies schema defaults', () => {
    const rules = book.forType('default');
    const flat = rules.find((r) => r.id === 'temperature-stuck');
    expect(flat).toMatchObject({ kind: 'flatline', onDelayS: 0, offDelayS: 0, epsilon: 0 });
    for (const type of book.types) {
      const ids = book.forType(type).map((r) => r.id);
      expect(new Set(ids).size, type).toBe(ids.length);
    }
  });

  it('an unknown type gets the default rules', () => {
    expect(book.forType('unknown-type')).toBe(book.forType('default'));
    expect(book.forType('unknown-type').length).toBeGreaterThan(0);
  });

  it('a type with its own file gets its own rules', () => {
    const own = book.types.find((t) => t !== 'default');
    expect(own).toBeDefined();
    expect(book.forType(own!)).not.toBe(book.forType('default'));
  });
});

describe('invalid rule files', () => {
  let dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    dirs = [];
  });

  function ruleDir(files: Record<string, string>): string {
    const dir = mkdtempSync(join(tmpdir(), 'rules-test-'));
    dirs.push(dir);
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    return dir;
  }

  function loadError(dir: string): RulesError {
    try {
      loadRuleBook(dir);
    } catch (e) {
      expect(e).toBeInstanceOf(RulesError);
      return e as RulesError;
    }
    throw new Error('expected loadRuleBook to throw');
  }

  /** A valid file; `extra` lines are appended to the rules list. Lines: 1 version, 2 machineType, 3 rules:, 4.. rules. */
  const file = (machineType: string, rules: string) =>
    `version: 1\nmachineType: ${machineType}\nrules:\n${rules}`;

  const silence = (id = 'comms-loss') =>
    `  - id: ${id}\n    kind: silence\n    afterS: 15\n    severity: high\n`;
  const GOOD_DEFAULT = file('default', silence());

  it('a valid minimal directory loads', () => {
    const book = loadRuleBook(ruleDir({ 'default.yaml': GOOD_DEFAULT, 'notes.txt': 'ignored' }));
    expect(book.types).toEqual(['default']);
    expect(book.forType('x')).toEqual([
      { id: 'comms-loss', kind: 'silence', afterS: 15, severity: 'high', onDelayS: 0, offDelayS: 0 },
    ]);
  });

  it('a wrong field value names file:line and the field path', () => {
    const text = file(
      'default',
      // line 4..7: rules[0]; line 8..12: rules[1], `high` on line 11
      `${silence()}  - id: temperature-high\n    kind: limit\n    field: temperatureC\n    high: hot\n    severity: high\n`,
    );
    expect(text.split('\n')[10]).toBe('    high: hot');
    const dir = ruleDir({ 'default.yaml': text });
    const err = loadError(dir);
    expect(err.message).toContain(`${join(dir, 'default.yaml')}:11:`);
    expect(err.message).toContain('default.yaml:11:11: rules[1].high:');
  });

  it('an unknown key names its line and the key', () => {
    const text = file(
      'default',
      `${silence()}  - id: fault\n    kind: state\n    state: FAULT\n    colour: red\n    severity: high\n`,
    );
    expect(text.split('\n')[10]).toBe('    colour: red');
    const err = loadError(ruleDir({ 'default.yaml': text }));
    expect(err.message).toContain('default.yaml:11:5: rules[1].colour:');
  });

  it('an unknown top-level key', () => {
    const text = `version: 1\nmachineType: default\nowner: me\nrules:\n${silence()}`;
    const err = loadError(ruleDir({ 'default.yaml': text }));
    expect(err.message).toContain('default.yaml:3:1: owner:');
  });

  it('a limit rule with both high and low', () => {
    const text = file(
      'default',
      `  - id: t\n    kind: limit\n    field: temperatureC\n    high: 80\n    low: 10\n    severity: high\n`,
    );
    const err = loadError(ruleDir({ 'default.yaml': text }));
    expect(err.message).toContain('default.yaml:7:');
    expect(err.message).toContain('rules[0].high: a limit rule needs exactly one of "high" or "low"');
  });

  it('a limit rule with neither high nor low', () => {
    const text = file('default', `  - id: t\n    kind: limit\n    field: temperatureC\n    severity: high\n`);
    const err = loadError(ruleDir({ 'default.yaml': text }));
    // `high` is missing: the problem points at the rule that lacks it.
    expect(err.message).toContain('default.yaml:4:');
    expect(err.message).toContain('rules[0].high: a limit rule needs exactly one of "high" or "low"');
  });

  it('a duplicate rule id names rules[2].id', () => {
    const text = file('default', `${silence('a')}${silence('b')}${silence('a')}`);
    expect(text.split('\n')[11]).toBe('  - id: a');
    const err = loadError(ruleDir({ 'default.yaml': text }));
    expect(err.message).toContain('default.yaml:12:9: rules[2].id: duplicate rule id "a"');
    expect(err.message).not.toContain('rules[0].id');
  });

  it('a machineType that does not match the file name', () => {
    const dir = ruleDir({ 'default.yaml': GOOD_DEFAULT, 'conveyor.yaml': file('cnc-mill', silence()) });
    const err = loadError(dir);
    expect(err.message).toContain(`${join(dir, 'conveyor.yaml')}:`);
    expect(err.message).toContain('machineType:');
    expect(err.message).toContain('cnc-mill');
    expect(err.message).toContain('conveyor.yaml');
  });

  it('a directory without default.yaml', () => {
    const dir = ruleDir({ 'conveyor.yaml': file('conveyor', silence()) });
    const err = loadError(dir);
    expect(err.message).toContain('No default.yaml');
    expect(err.message).toContain(dir);
  });

  it('an empty directory', () => {
    expect(loadError(ruleDir({})).message).toContain('No default.yaml');
  });

  it('invalid YAML syntax names the file and a line', () => {
    const err = loadError(ruleDir({ 'default.yaml': 'version: 1\nrules: [\n' }));
    expect(err.message).toMatch(/default\.yaml:\d+:\d+: /);
  });

  it('problems in two files are reported together in one message', () => {
    const dir = ruleDir({
      'default.yaml': file('default', `  - id: BAD\n    kind: silence\n    afterS: 15\n    severity: high\n`),
      'conveyor.yaml': file('conveyor', `  - id: x\n    kind: silence\n    afterS: -1\n    severity: high\n`),
      'cnc-mill.yaml': file('cnc-mill', silence()),
    });
    const err = loadError(dir);
    expect(err.message).toContain('default.yaml:4:9: rules[0].id:');
    expect(err.message).toContain('conveyor.yaml:6:13: rules[0].afterS:');
    expect(err.message).not.toContain('cnc-mill.yaml');
    expect(err.message.split('\n')).toHaveLength(3);
  });
});
