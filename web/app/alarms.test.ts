import { describe, expect, it } from 'vitest';
import type { Alarm } from '../api/schemas.js';
import { changedRings, ringsOf, sortAlarms } from './alarms.js';

let seq = 0;
function alarm(over: Partial<Alarm>): Alarm {
  seq += 1;
  const machineId = over.machineId === undefined ? 'M-0001' : over.machineId;
  return {
    v: 1,
    eventId: `x#${seq}`,
    alarmId: `${machineId ?? 'S1/L1'}.temperature-high.${seq}`,
    transition: 'RAISED',
    state: 'ACTIVE_UNACK',
    machineId,
    site: 'S1',
    line: 'L1',
    machineType: 'press',
    rule: 'temperature-high',
    kind: 'threshold',
    severity: 'high',
    field: 'temperatureC',
    value: 90,
    limit: 85,
    ts: 1000,
    raisedAt: 1000,
    conditionSince: 1000,
    by: null,
    shelvedUntil: null,
    flood: null,
    message: 'hot',
    workflowUrl: 'http://127.0.0.1:8233/x',
    ...over,
  };
}

describe('alarm order and rings', () => {
  it('sorts most severe first, then oldest first', () => {
    const a = alarm({ severity: 'low', raisedAt: 1 });
    const b = alarm({ severity: 'critical', raisedAt: 50 });
    const c = alarm({ severity: 'critical', raisedAt: 10 });
    const d = alarm({ severity: 'medium', raisedAt: null, ts: 5 });
    expect(sortAlarms([a, b, c, d]).map((x) => x.alarmId)).toEqual([c, b, d, a].map((x) => x.alarmId));
  });

  it('rings red for any unacknowledged alarm, amber for acknowledged active ones only', () => {
    const rings = ringsOf([
      alarm({ machineId: 'M-1', state: 'ACTIVE_ACKED' }),
      alarm({ machineId: 'M-1', state: 'CLEARED_UNACK' }),
      alarm({ machineId: 'M-2', state: 'ACTIVE_ACKED' }),
      alarm({ machineId: 'M-3', state: 'NORMAL' }),
      alarm({ machineId: 'M-4', state: 'ACTIVE_UNACK' }),
      alarm({ machineId: null, state: 'ACTIVE_UNACK' }),
    ]);
    expect([...rings].sort()).toEqual([
      ['M-1', 'unacked'],
      ['M-2', 'acked'],
      ['M-4', 'unacked'],
    ]);
  });

  it('lists the machines whose ring changed', () => {
    const before = new Map([
      ['M-1', 'unacked'],
      ['M-2', 'acked'],
      ['M-3', 'acked'],
    ] as const);
    const after = new Map([
      ['M-1', 'acked'],
      ['M-3', 'acked'],
      ['M-4', 'unacked'],
    ] as const);
    expect(changedRings(before, after).sort()).toEqual(['M-1', 'M-2', 'M-4']);
  });
});
