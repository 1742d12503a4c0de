import { describe, expect, it } from 'vitest';
import { parseParams } from './params.js';

describe('fault params "k=v, k=v"', () => {
  it('reads numbers as numbers and the rest as strings', () => {
    expect(parseParams('extraC=80, mode=slow, rate=-0.5, big=1e3')).toEqual({
      ok: true,
      params: { extraC: 80, mode: 'slow', rate: -0.5, big: 1000 },
    });
  });

  it('accepts nothing, stray separators and spaces', () => {
    expect(parseParams('')).toEqual({ ok: true, params: {} });
    expect(parseParams(' , a = 1 ,, ')).toEqual({ ok: true, params: { a: 1 } });
  });

  it('keeps a value with = in it whole', () => {
    expect(parseParams('expr=a=b')).toEqual({ ok: true, params: { expr: 'a=b' } });
  });

  it('says what is wrong', () => {
    expect(parseParams('extraC')).toEqual({ ok: false, error: '"extraC" is not k=v.' });
    expect(parseParams('=5')).toMatchObject({ ok: false });
    expect(parseParams('a=')).toEqual({ ok: false, error: 'a has no value.' });
    expect(parseParams('a=1, a=2')).toEqual({ ok: false, error: 'a is given twice.' });
  });
});
