import {
  appendFileSync,
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  statSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { rotateLogs } from './log-rotate.js';

describe('rotateLogs', () => {
  it('copies and truncates an outgrown log, keeps two copies, and the writer carries on at the new end', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rotate-'));
    const file = join(dir, 'writer-1.log');
    // As a supervised process writes: one descriptor opened for append, held throughout.
    const fd = openSync(file, 'a');
    const write = (s: string) => writeSync(fd, s);
    write('a'.repeat(2_000));
    appendFileSync(join(dir, 'small.log'), 'x');
    expect(rotateLogs(dir, { maxBytes: 1_000, keep: 2 })).toEqual(['writer-1.log']);
    expect(statSync(file).size).toBe(0);
    expect(readFileSync(`${file}.1`, 'utf8')).toHaveLength(2_000);
    write('b'.repeat(1_500));
    // The next line lands at the start of the cut file, not after a hole.
    expect(readFileSync(file, 'utf8')).toBe('b'.repeat(1_500));
    rotateLogs(dir, { maxBytes: 1_000, keep: 2 });
    write('c'.repeat(1_200));
    rotateLogs(dir, { maxBytes: 1_000, keep: 2 });
    expect(readFileSync(`${file}.1`, 'utf8')).toBe('c'.repeat(1_200));
    expect(readFileSync(`${file}.2`, 'utf8')).toBe('b'.repeat(1_500));
    expect(existsSync(`${file}.3`)).toBe(false);
    expect(readFileSync(join(dir, 'small.log'), 'utf8')).toBe('x');
    closeSync(fd);
  });
});
