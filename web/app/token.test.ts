import { describe, expect, it } from 'vitest';
import { extractToken } from './token.js';

describe('token from the hash', () => {
  it('takes the token of the link factory up prints, leaving no hash', () => {
    expect(extractToken('#token=abc123')).toEqual({ token: 'abc123', hash: '' });
  });

  it('keeps a route that comes with the token', () => {
    expect(extractToken('#/alarms&token=abc')).toEqual({ token: 'abc', hash: '#/alarms' });
    expect(extractToken('#token=abc&/machine/M-1')).toEqual({ token: 'abc', hash: '#/machine/M-1' });
  });

  it('decodes the token', () => {
    expect(extractToken('#token=a%2Bb%3D').token).toBe('a+b=');
  });

  it('leaves a hash with no token (or an empty one) alone', () => {
    expect(extractToken('')).toEqual({ token: null, hash: '' });
    expect(extractToken('#/shards')).toEqual({ token: null, hash: '#/shards' });
    expect(extractToken('#token=')).toEqual({ token: null, hash: '#token=' });
  });
});
