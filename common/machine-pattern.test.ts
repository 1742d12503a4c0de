import { describe, expect, it } from 'vitest';
import { machineMatcher, machinePatternProblem } from './machine-pattern.js';

const m9 = { machineId: 'M-0009', line: 'line-1' };
const m21 = { machineId: 'M-0021', line: 'line-2' };

describe('machine patterns', () => {
  it('match every machine, a line, one machine or an id pattern on a line', () => {
    expect([m9, m21].map(machineMatcher(['*']))).toEqual([true, true]);
    expect([m9, m21].map(machineMatcher(['line-2/*']))).toEqual([false, true]);
    expect([m9, m21].map(machineMatcher(['M-0009']))).toEqual([true, false]);
    expect([m9, m21].map(machineMatcher(['line-1/M-00*']))).toEqual([true, false]);
    expect([m9, m21].map(machineMatcher(['M-0009', 'line-2/*']))).toEqual([true, true]);
    expect([m9, m21].map(machineMatcher([]))).toEqual([false, false]);
  });

  it('a star stays within its part and nothing else is special', () => {
    expect(() => machineMatcher(['M-00.9'])).toThrow(/not a machine pattern/);
    expect(machinePatternProblem('M-00.9')).toMatch(/not a machine pattern/);
    expect(machinePatternProblem('a/b/c')).toMatch(/not a machine pattern/);
    expect(machinePatternProblem('line-1/*')).toBeUndefined();
  });
});
