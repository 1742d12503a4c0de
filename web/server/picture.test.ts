import { describe, expect, it } from 'vitest';
import type { RegisteredMachine } from '../../actors/registry.js';
import { FleetPicture, type StateReport } from './picture.js';

const machine = (machineId: string, over: Partial<RegisteredMachine> = {}): RegisteredMachine =>
  ({
    machineId,
    site: 'plant-1',
    line: 'line-1',
    type: 'cnc-mill',
    seed: 1,
    retiredAt: null,
    ...over,
  }) as RegisteredMachine;

const report = (state: string, seq: number, over: Partial<StateReport> = {}): StateReport => ({
  state,
  owner: 'worker-1',
  shard: 3,
  ticketId: null,
  since: 1_000 + seq,
  seq,
  ...over,
});

describe('the fleet picture', () => {
  it('shows a registered machine UNKNOWN until its owner reports, then in the reported state', () => {
    const p = new FleetPicture();
    p.register(machine('M-1'));
    expect(p.get('M-1')).toMatchObject({ state: 'UNKNOWN', owner: null, since: null });
    p.report('M-1', report('RUNNING', 10));
    expect(p.get('M-1')).toMatchObject({ state: 'RUNNING', owner: 'worker-1', shard: 3, since: 1_010 });
  });

  it('keeps the report with the highest seq: a late event from the previous owner changes nothing', () => {
    const p = new FleetPicture();
    p.register(machine('M-1'));
    expect(p.report('M-1', report('FAULT', 120, { owner: 'worker-2' }))).toBe(true);
    expect(p.report('M-1', report('RUNNING', 95, { owner: 'worker-1' }))).toBe(false);
    expect(p.get('M-1')).toMatchObject({ state: 'FAULT', owner: 'worker-2' });
  });

  it('holds a report that arrives before the registry delivers its machine', () => {
    const p = new FleetPicture();
    p.report('M-9', report('FAULT', 7));
    expect(p.get('M-9')).toBeUndefined();
    p.register(machine('M-9'));
    expect(p.get('M-9')).toMatchObject({ state: 'FAULT', since: 1_007 });
  });

  it('a save read at start knows the state but not since when; an older save loses to an event', () => {
    const p = new FleetPicture();
    p.register(machine('M-1'));
    p.report('M-1', report('IDLE', 50));
    p.report('M-1', report('IDLE', 60, { since: null }));
    expect(p.get('M-1')).toMatchObject({ state: 'IDLE', since: 1_050 });
    p.report('M-1', report('RUNNING', 70, { since: null }));
    expect(p.get('M-1')).toMatchObject({ state: 'RUNNING', since: null });
    expect(p.report('M-1', report('IDLE', 65, { since: null }))).toBe(false);
  });

  it('hands out each change once, and a retired machine as removed', () => {
    const p = new FleetPicture();
    p.register(machine('M-1'));
    p.register(machine('M-2'));
    p.report('M-1', report('RUNNING', 1));
    p.report('M-1', report('IDLE', 2));
    const first = p.takeChanges();
    expect(first.machines.map((m) => [m.machineId, m.state])).toEqual([
      ['M-1', 'IDLE'],
      ['M-2', 'UNKNOWN'],
    ]);
    expect(p.takeChanges()).toEqual({ machines: [], removed: [] });
    p.report('M-2', report('RUNNING', 3));
    p.register(machine('M-2', { retiredAt: 5 } as Partial<RegisteredMachine>));
    expect(p.takeChanges()).toEqual({ machines: [], removed: ['M-2'] });
    expect(p.size).toBe(1);
  });

  it('an unknown state word shows as UNKNOWN rather than a colour the page does not have', () => {
    const p = new FleetPicture();
    p.register(machine('M-1'));
    p.report('M-1', report('MELTING', 1));
    expect(p.get('M-1')?.state).toBe('UNKNOWN');
  });
});
