import { describe, expect, it } from 'vitest';
import { machineHash, parseRoute, routeHash } from './route.js';

describe('hash routing', () => {
  it('opens the floor for an empty, root or unknown hash', () => {
    for (const hash of ['', '#', '#/', '#/nowhere', '#/machine/', '#token=abc']) {
      expect(parseRoute(hash)).toEqual({ page: 'floor' });
    }
  });

  it('names the pages', () => {
    expect(parseRoute('#/alarms')).toEqual({ page: 'alarms' });
    expect(parseRoute('#/shards')).toEqual({ page: 'shards' });
    expect(parseRoute('#/pipeline')).toEqual({ page: 'pipeline' });
  });

  it('reads a machine id, decoded, and round-trips it', () => {
    expect(parseRoute('#/machine/M-0001')).toEqual({ page: 'machine', machineId: 'M-0001' });
    expect(parseRoute(machineHash('odd id/2'))).toEqual({ page: 'machine', machineId: 'odd id/2' });
    expect(parseRoute('#/machine/%E0%A4%A')).toEqual({ page: 'floor' });
  });

  it('turns a route back into its hash', () => {
    expect(routeHash({ page: 'floor' })).toBe('#/');
    expect(routeHash({ page: 'alarms' })).toBe('#/alarms');
    expect(routeHash({ page: 'machine', machineId: 'M-0007' })).toBe('#/machine/M-0007');
  });
});
