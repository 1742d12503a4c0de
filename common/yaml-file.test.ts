import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { loadYamlFile, parseYamlText } from './yaml-file.js';

const schema = z.strictObject({
  name: z.string(),
  rules: z.array(
    z.strictObject({
      metric: z.string(),
      limits: z.strictObject({ low: z.number(), high: z.number() }),
    }),
  ),
});

// Line numbers below are the point of these tests: keep each document exactly as written.
const valid = [
  'name: press-7', // 1
  'rules:', // 2
  '  - metric: temperature', // 3
  '    limits: { low: 10, high: 80 }', // 4
  '  - metric: pressure', // 5
  '    limits:', // 6
  '      low: 1', // 7
  '      high: 6', // 8
].join('\n');

describe('parseYamlText', () => {
  it('returns the typed value of a valid document', () => {
    const r = parseYamlText(valid, 'fleet.yaml', schema);
    expect(r).toEqual({
      ok: true,
      value: {
        name: 'press-7',
        rules: [
          { metric: 'temperature', limits: { low: 10, high: 80 } },
          { metric: 'pressure', limits: { low: 1, high: 6 } },
        ],
      },
    });
  });

  it('points a wrong type deep in an array at its line and field', () => {
    const r = parseYamlText(valid.replace('high: 6', 'high: six'), 'fleet.yaml', schema);
    if (r.ok) throw new Error('expected a problem');
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]).toMatchObject({
      file: 'fleet.yaml',
      line: 8,
      column: 13,
      field: 'rules[1].limits.high',
    });
    expect(r.reason).toMatch(/^fleet\.yaml:8:13: rules\[1\]\.limits\.high: /);
  });

  it('points a missing key at the map that lacks it', () => {
    const r = parseYamlText(valid.replace('\n      high: 6', ''), 'f.yaml', schema);
    if (r.ok) throw new Error('expected a problem');
    expect(r.problems[0]).toMatchObject({ line: 7, field: 'rules[1].limits.high' });
  });

  it('points an unknown key at the key itself', () => {
    const text = [
      'name: press-7',
      'rules:',
      '  - metric: temperature',
      '    limit: 3',
      '    limits: { low: 1, high: 2 }',
    ];
    const r = parseYamlText(text.join('\n'), 'f.yaml', schema);
    if (r.ok) throw new Error('expected a problem');
    expect(r.problems).toEqual([expect.objectContaining({ line: 4, column: 5, field: 'rules[0].limit' })]);
  });

  it('reports a syntax error at its own line', () => {
    const r = parseYamlText('name: press-7\nrules:\n  - metric: a: b\n', 'f.yaml', schema);
    if (r.ok) throw new Error('expected a problem');
    expect(r.problems).toEqual([expect.objectContaining({ line: 3, column: 13, field: '' })]);
    expect(r.reason).toMatch(/^f\.yaml:3:13: [A-Z]/);
  });

  it('reports every problem, not just the first', () => {
    const text = [
      'name: 7',
      'rules:',
      '  - metric: temperature',
      '    limits: { low: x, high: 2 }',
      '  - metric: []',
    ];
    const r = parseYamlText(text.join('\n'), 'f.yaml', schema);
    if (r.ok) throw new Error('expected a problem');
    expect(r.problems.map((p) => [p.line, p.field])).toEqual([
      [1, 'name'],
      [4, 'rules[0].limits.low'],
      [5, 'rules[1].metric'],
      [5, 'rules[1].limits'],
    ]);
    expect(r.reason.split('\n')).toHaveLength(4);
  });

  it('validates an empty document like any value, at line 1', () => {
    const r = parseYamlText('', 'empty.yaml', schema);
    if (r.ok) throw new Error('expected a problem');
    expect(r.problems).toEqual([expect.objectContaining({ line: 1, column: 1, field: '' })]);
    expect(parseYamlText('# only a comment\n', 'c.yaml', z.null()).ok).toBe(true);
  });
});

describe('loadYamlFile', () => {
  it('reads and validates a file, naming it in problems', () => {
    const dir = mkdtempSync(join(tmpdir(), 'yaml-file-'));
    try {
      const path = join(dir, 'fleet.yaml');
      writeFileSync(path, valid);
      expect(loadYamlFile(path, schema).ok).toBe(true);
      writeFileSync(path, 'name: 7\nrules: []\n');
      const r = loadYamlFile(path, schema);
      if (r.ok) throw new Error('expected a problem');
      expect(r.reason).toMatch(new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:1:7: name: `));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('turns a missing file into a problem naming the path', () => {
    const path = join(tmpdir(), `yaml-file-missing-${process.pid}.yaml`);
    const r = loadYamlFile(path, schema);
    if (r.ok) throw new Error('expected a problem');
    expect(r.problems).toEqual([expect.objectContaining({ file: path, line: 1, column: 1, field: '' })]);
    expect(r.problems[0]?.message).toContain(path);
    expect(r.problems[0]?.message).toContain('ENOENT');
  });
});
