import { describe, expect, it } from 'vitest';
import type { MachineSummary } from '../api/schemas.js';
import { Fleet, type FleetChange } from './fleet.js';

function machine(machineId: string, state: MachineSummary['state'], line = 'L1'): MachineSummary {
  return {
    machineId,
    site: 'S1',
    line,
    type: 'press',
    state,
    owner: 'w1',
    shard: 0,
    ticketId: null,
    since: 1,
  };
}

describe('fleet', () => {
  it('counts states through snapshots and deltas', () => {
    const fleet = new Fleet();
    fleet.applySnapshot([machine('M-1', 'RUNNING'), machine('M-2', 'RUNNING'), machine('M-3', 'FAULT')]);
    expect(fleet.stateCounts()).toMatchObject({ RUNNING: 2, FAULT: 1, IDLE: 0 });
    fleet.applyDelta({ machines: [machine('M-1', 'IDLE')], removed: ['M-3'], at: 2 });
    expect(fleet.stateCounts()).toMatchObject({ RUNNING: 1, IDLE: 1, FAULT: 0 });
    expect(fleet.machines.size).toBe(2);
  });

  it('calls a change structural only when the floor must be laid out again', () => {
    const fleet = new Fleet();
    const seen: FleetChange[] = [];
    fleet.subscribe((c) => seen.push(c));
    fleet.applySnapshot([machine('M-1', 'RUNNING'), machine('M-2', 'IDLE')]);
    fleet.applyDelta({ machines: [machine('M-1', 'FAULT')], removed: [], at: 1 });
    fleet.applyDelta({ machines: [machine('M-3', 'IDLE')], removed: [], at: 2 });
    fleet.applyDelta({ machines: [machine('M-2', 'IDLE', 'L2')], removed: [], at: 3 });
    fleet.applyDelta({ machines: [], removed: ['M-404'], at: 4 });
    fleet.applySnapshot([machine('M-1', 'RUNNING'), machine('M-2', 'IDLE', 'L2'), machine('M-3', 'IDLE')]);
    expect(seen.map((c) => [c.structural, c.changed])).toEqual([
      [true, ['M-1', 'M-2']],
      [false, ['M-1']],
      [true, ['M-3']],
      [true, ['M-2']],
      [false, ['M-1', 'M-2', 'M-3']],
    ]);
  });
});
