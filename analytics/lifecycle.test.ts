import { describe, expect, it } from 'vitest';
import {
  type Alarm,
  acknowledge,
  type Change,
  type CommandOutcome,
  type Detail,
  expireShelving,
  newAlarm,
  onCondition,
  setSuppressed,
  shelve,
  unshelve,
} from './lifecycle.js';

const SUBJECT = 'm-001';
const RULE = 'temperature-high';
const T0 = Date.UTC(2024, 0, 15, 10, 0, 0);
const MIN = 60_000;

const detail = (seq: number, value: number | null = 80, limit: number | null = 78): Detail => ({
  seq,
  value,
  limit,
  since: T0 - 1000,
});

const on = (a: Alarm, ts: number, seq = 1, value: number | null = 80) =>
  onCondition(a, true, ts, detail(seq, value), SUBJECT);
const off = (a: Alarm, ts: number, seq = 2) => onCondition(a, false, ts, detail(seq, 70), SUBJECT);

function ok(out: CommandOutcome): Change {
  if (!out.ok) throw new Error(`expected ok, got: ${out.reason}`);
  return out.change;
}

function refused(out: CommandOutcome): string {
  if (out.ok) throw new Error(`expected a refusal, got ${out.change.transition}`);
  return out.reason;
}

/** An alarm raised by the reading of seq 7: `m-001.temperature-high.7`, ACTIVE_UNACK. */
function raised(): { a: Alarm; id: string } {
  const a = newAlarm(RULE);
  const c = on(a, T0, 7)!;
  return { a, id: c.alarmId };
}

function acked(): { a: Alarm; id: string } {
  const r = raised();
  ok(acknowledge(r.a, r.id, 'alice', T0 + MIN));
  return r;
}

function clearedUnack(): { a: Alarm; id: string } {
  const r = raised();
  off(r.a, T0 + MIN);
  return r;
}

const ANNUNCIATED = { ACTIVE_UNACK: raised, ACTIVE_ACKED: acked, CLEARED_UNACK: clearedUnack } as const;

const expectReset = (a: Alarm) => {
  expect(a).toMatchObject({
    state: 'NORMAL',
    alarmId: null,
    raisedAt: null,
    value: null,
    limit: null,
    ackedBy: null,
    ackedAt: null,
    shelvedBy: null,
    shelvedUntil: null,
    clearedAt: null,
    transitions: 0,
  });
};

describe('newAlarm', () => {
  it('starts NORMAL with no episode', () => {
    const a = newAlarm(RULE);
    expectReset(a);
    expect(a).toMatchObject({ ruleId: RULE, condition: false, suppressed: false, conditionSince: null });
  });
});

describe('legal transitions', () => {
  it('NORMAL → ACTIVE_UNACK on the condition: RAISED, alarmId <subject>.<rule>.<seq>', () => {
    const a = newAlarm(RULE);
    const c = onCondition(a, true, T0, detail(42, 81.5, 78), SUBJECT);
    expect(c).not.toBeNull();
    expect(c!.transition).toBe('RAISED');
    expect(c!.alarmId).toBe('m-001.temperature-high.42');
    expect(c!.ts).toBe(T0);
    expect(c!.by).toBeNull();
    expect(c!.alarm).toMatchObject({
      state: 'ACTIVE_UNACK',
      alarmId: 'm-001.temperature-high.42',
      condition: true,
      raisedAt: T0,
      value: 81.5,
      limit: 78,
      conditionSince: T0 - 1000,
      transitions: 1,
    });
    expect(a.state).toBe('ACTIVE_UNACK');
    expect(a.alarmId).toBe('m-001.temperature-high.42');
  });

  it('the change carries a copy, not the live record', () => {
    const a = newAlarm(RULE);
    const c = on(a, T0, 1)!;
    expect(c.alarm).not.toBe(a);
    ok(acknowledge(a, c.alarmId, 'alice', T0 + 1));
    expect(c.alarm.state).toBe('ACTIVE_UNACK');
  });

  it('a second condition while ACTIVE_UNACK raises nothing', () => {
    const { a, id } = raised();
    expect(on(a, T0 + 1000, 8)).toBeNull();
    expect(a.state).toBe('ACTIVE_UNACK');
    expect(a.alarmId).toBe(id);
    expect(a.transitions).toBe(1);
  });

  it('a second condition while ACTIVE_ACKED raises nothing', () => {
    const { a, id } = acked();
    expect(on(a, T0 + 2 * MIN, 9)).toBeNull();
    expect(a.state).toBe('ACTIVE_ACKED');
    expect(a.alarmId).toBe(id);
  });

  it('ACTIVE_UNACK → ACTIVE_ACKED on ack: ACKNOWLEDGED, ackedBy', () => {
    const { a, id } = raised();
    const c = ok(acknowledge(a, id, 'alice', T0 + MIN));
    expect(c.transition).toBe('ACKNOWLEDGED');
    expect(c.alarmId).toBe(id);
    expect(c.by).toBe('alice');
    expect(c.ts).toBe(T0 + MIN);
    expect(c.alarm).toMatchObject({ state: 'ACTIVE_ACKED', ackedBy: 'alice', ackedAt: T0 + MIN });
    expect(a.state).toBe('ACTIVE_ACKED');
    expect(a.ackedBy).toBe('alice');
  });

  it('ACTIVE_ACKED → NORMAL on clear: CLEARED, the record reset for the next episode', () => {
    const { a, id } = acked();
    const c = off(a, T0 + 2 * MIN);
    expect(c).not.toBeNull();
    expect(c!.transition).toBe('CLEARED');
    expect(c!.alarmId).toBe(id);
    expect(c!.alarm.state).toBe('NORMAL');
    expect(c!.alarm.alarmId).toBe(id);
    expect(c!.alarm.ackedBy).toBe('alice');
    expectReset(a);
    expect(a.condition).toBe(false);
  });

  it('ACTIVE_UNACK → CLEARED_UNACK on clear: CLEARED', () => {
    const { a, id } = raised();
    const c = off(a, T0 + MIN);
    expect(c).not.toBeNull();
    expect(c!.transition).toBe('CLEARED');
    expect(c!.alarmId).toBe(id);
    expect(c!.alarm).toMatchObject({ state: 'CLEARED_UNACK', condition: false, clearedAt: T0 + MIN });
    expect(a.state).toBe('CLEARED_UNACK');
    expect(a.alarmId).toBe(id);
  });

  it('CLEARED_UNACK → ACTIVE_UNACK when the condition returns: REACTIVATED, same alarmId', () => {
    const { a, id } = clearedUnack();
    const c = on(a, T0 + 2 * MIN, 99, 83);
    expect(c).not.toBeNull();
    expect(c!.transition).toBe('REACTIVATED');
    expect(c!.alarmId).toBe(id);
    expect(c!.alarm).toMatchObject({
      state: 'ACTIVE_UNACK',
      alarmId: id,
      value: 83,
      clearedAt: null,
      raisedAt: T0,
    });
  });

  it('CLEARED_UNACK → NORMAL on ack: ACKNOWLEDGED, the record reset', () => {
    const { a, id } = clearedUnack();
    const c = ok(acknowledge(a, id, 'bob', T0 + 2 * MIN));
    expect(c.transition).toBe('ACKNOWLEDGED');
    expect(c.alarmId).toBe(id);
    expect(c.by).toBe('bob');
    expect(c.alarm).toMatchObject({ state: 'NORMAL', ackedBy: 'bob', ackedAt: T0 + 2 * MIN });
    expectReset(a);
  });

  it('after an episode ends, the next condition raises a new episode named by its seq', () => {
    const { a, id } = acked();
    off(a, T0 + 2 * MIN);
    const c = on(a, T0 + 3 * MIN, 123)!;
    expect(c.transition).toBe('RAISED');
    expect(c.alarmId).toBe('m-001.temperature-high.123');
    expect(c.alarmId).not.toBe(id);
    expect(c.alarm.transitions).toBe(1);
    expect(c.alarm.ackedBy).toBeNull();
  });

  for (const [state, make] of Object.entries(ANNUNCIATED)) {
    it(`${state} → SHELVED on shelve: SHELVED, shelvedBy and shelvedUntil`, () => {
      const { a, id } = make();
      expect(a.state).toBe(state);
      const until = T0 + 60 * MIN;
      const c = ok(shelve(a, id, 'carol', until, T0 + 5 * MIN));
      expect(c.transition).toBe('SHELVED');
      expect(c.alarmId).toBe(id);
      expect(c.by).toBe('carol');
      expect(c.alarm).toMatchObject({ state: 'SHELVED', shelvedBy: 'carol', shelvedUntil: until });
      expect(a.state).toBe('SHELVED');
    });
  }

  describe('SHELVED', () => {
    const shelved = (make: () => { a: Alarm; id: string } = raised) => {
      const r = make();
      ok(shelve(r.a, r.id, 'carol', T0 + 60 * MIN, T0 + 5 * MIN));
      return r;
    };

    it('condition changes are silent but followed', () => {
      const { a, id } = shelved();
      expect(off(a, T0 + 6 * MIN)).toBeNull();
      expect(a.condition).toBe(false);
      expect(a.state).toBe('SHELVED');
      expect(on(a, T0 + 7 * MIN, 50)).toBeNull();
      expect(a.condition).toBe(true);
      expect(a.state).toBe('SHELVED');
      expect(a.alarmId).toBe(id);
    });

    it('→ ACTIVE_UNACK on unshelve while the condition holds: UNSHELVED, same alarmId', () => {
      const { a, id } = shelved(acked);
      const c = ok(unshelve(a, id, 'carol', T0 + 10 * MIN));
      expect(c.transition).toBe('UNSHELVED');
      expect(c.alarmId).toBe(id);
      expect(c.by).toBe('carol');
      expect(c.alarm).toMatchObject({
        state: 'ACTIVE_UNACK',
        alarmId: id,
        shelvedBy: null,
        shelvedUntil: null,
        ackedBy: null,
        ackedAt: null,
      });
    });

    it('→ NORMAL on unshelve when the condition is gone: UNSHELVED, record reset', () => {
      const { a, id } = shelved();
      off(a, T0 + 6 * MIN);
      const c = ok(unshelve(a, id, 'carol', T0 + 10 * MIN));
      expect(c.transition).toBe('UNSHELVED');
      expect(c.alarmId).toBe(id);
      expect(c.alarm.state).toBe('NORMAL');
      expectReset(a);
    });

    it('a cleared-unacknowledged alarm whose condition returned while shelved comes back active', () => {
      const { a, id } = shelved(clearedUnack);
      on(a, T0 + 6 * MIN, 60);
      const c = ok(unshelve(a, id, 'carol', T0 + 10 * MIN));
      expect(c.alarm.state).toBe('ACTIVE_UNACK');
      expect(c.alarmId).toBe(id);
    });

    it('expireShelving does nothing before shelvedUntil', () => {
      const { a } = shelved();
      expect(expireShelving(a, T0 + 60 * MIN - 1)).toBeNull();
      expect(a.state).toBe('SHELVED');
    });

    it('expireShelving at/after shelvedUntil unshelves (condition held → ACTIVE_UNACK, by null)', () => {
      const { a, id } = shelved();
      const c = expireShelving(a, T0 + 60 * MIN);
      expect(c).not.toBeNull();
      expect(c!.transition).toBe('UNSHELVED');
      expect(c!.by).toBeNull();
      expect(c!.alarmId).toBe(id);
      expect(c!.alarm.state).toBe('ACTIVE_UNACK');
      expect(expireShelving(a, T0 + 61 * MIN)).toBeNull();
    });

    it('expireShelving after shelvedUntil with the condition gone → NORMAL', () => {
      const { a, id } = shelved();
      off(a, T0 + 6 * MIN);
      const c = expireShelving(a, T0 + 90 * MIN);
      expect(c!.transition).toBe('UNSHELVED');
      expect(c!.alarmId).toBe(id);
      expect(c!.alarm.state).toBe('NORMAL');
      expectReset(a);
    });

    it('expireShelving ignores alarms that are not shelved', () => {
      const { a } = raised();
      expect(expireShelving(a, T0 + 1000 * MIN)).toBeNull();
      expect(a.state).toBe('ACTIVE_UNACK');
    });
  });

  describe('suppression', () => {
    for (const [state, make] of Object.entries(ANNUNCIATED)) {
      it(`${state} → SUPPRESSED when the machine goes out of service`, () => {
        const { a, id } = make();
        const c = setSuppressed(a, true, T0 + 5 * MIN, detail(20), SUBJECT);
        expect(c).not.toBeNull();
        expect(c!.transition).toBe('SUPPRESSED');
        expect(c!.alarmId).toBe(id);
        expect(c!.by).toBeNull();
        expect(c!.alarm).toMatchObject({ state: 'SUPPRESSED', suppressed: true });
      });
    }

    it('back in service with the condition present → ACTIVE_UNACK: UNSUPPRESSED, same alarmId', () => {
      const { a, id } = acked();
      setSuppressed(a, true, T0 + 5 * MIN, detail(20), SUBJECT);
      const c = setSuppressed(a, false, T0 + 10 * MIN, detail(21), SUBJECT);
      expect(c!.transition).toBe('UNSUPPRESSED');
      expect(c!.alarmId).toBe(id);
      expect(c!.alarm).toMatchObject({ state: 'ACTIVE_UNACK', suppressed: false, ackedBy: null });
    });

    it('back in service with the condition gone → NORMAL: UNSUPPRESSED, record reset', () => {
      const { a, id } = raised();
      setSuppressed(a, true, T0 + 5 * MIN, detail(20), SUBJECT);
      expect(off(a, T0 + 6 * MIN)).toBeNull();
      expect(a.condition).toBe(false);
      const c = setSuppressed(a, false, T0 + 10 * MIN, detail(21), SUBJECT);
      expect(c!.transition).toBe('UNSUPPRESSED');
      expect(c!.alarmId).toBe(id);
      expect(c!.alarm.state).toBe('NORMAL');
      expectReset(a);
      expect(a.suppressed).toBe(false);
    });

    it('while suppressed a condition raises nothing; back in service it raises a new episode with the given seq', () => {
      const a = newAlarm(RULE);
      expect(setSuppressed(a, true, T0, detail(1), SUBJECT)).toBeNull();
      expect(a.suppressed).toBe(true);
      expect(a.state).toBe('NORMAL');
      expect(on(a, T0 + MIN, 5)).toBeNull();
      expect(a.state).toBe('NORMAL');
      expect(a.condition).toBe(true);
      const c = setSuppressed(a, false, T0 + 2 * MIN, detail(77, 85, 78), SUBJECT);
      expect(c).not.toBeNull();
      expect(c!.transition).toBe('RAISED');
      expect(c!.alarmId).toBe('m-001.temperature-high.77');
      expect(c!.alarm).toMatchObject({ state: 'ACTIVE_UNACK', value: 85, limit: 78, transitions: 1 });
    });

    it('back in service in NORMAL without the condition raises nothing', () => {
      const a = newAlarm(RULE);
      setSuppressed(a, true, T0, detail(1), SUBJECT);
      expect(setSuppressed(a, false, T0 + MIN, detail(2), SUBJECT)).toBeNull();
      expectReset(a);
    });

    it('setting the same suppression twice is a no-op', () => {
      const { a } = raised();
      setSuppressed(a, true, T0 + MIN, detail(2), SUBJECT);
      expect(setSuppressed(a, true, T0 + 2 * MIN, detail(3), SUBJECT)).toBeNull();
      expect(a.state).toBe('SUPPRESSED');
    });

    it('a shelf that runs out during maintenance leaves the alarm suppressed, not annunciated', () => {
      // Shelved, then the machine goes into MAINTENANCE (stays SHELVED, suppressed=true), then
      // the shelf runs out while the machine is still in maintenance.
      const { a, id } = raised();
      ok(shelve(a, id, 'carol', T0 + 30 * MIN, T0 + MIN));
      expect(setSuppressed(a, true, T0 + 2 * MIN, detail(10), SUBJECT)).toBeNull();
      expect(a.suppressed).toBe(true);
      const c = expireShelving(a, T0 + 30 * MIN);
      // "Machine out of service (MAINTENANCE): nothing is annunciated."
      expect.soft(c?.alarm.state).toBe('SUPPRESSED');
      expect.soft(a.state).toBe('SUPPRESSED');
      // The condition goes away during maintenance; back in service the episode must end,
      // not stay ACTIVE_UNACK with condition false.
      off(a, T0 + 40 * MIN);
      setSuppressed(a, false, T0 + 50 * MIN, detail(11), SUBJECT);
      expect(a.condition).toBe(false);
      expect(a.state).toBe('NORMAL');
    });

    it('a manual unshelve during maintenance leaves the alarm suppressed, not annunciated', () => {
      const { a, id } = raised();
      ok(shelve(a, id, 'carol', T0 + 30 * MIN, T0 + MIN));
      setSuppressed(a, true, T0 + 2 * MIN, detail(10), SUBJECT);
      const c = ok(unshelve(a, id, 'carol', T0 + 3 * MIN));
      expect(c.alarm.state).toBe('SUPPRESSED');
    });
  });
});

describe('illegal commands are refused with a reason', () => {
  it('ack of an ACTIVE_ACKED alarm: already acknowledged, and by whom', () => {
    const { a, id } = acked();
    const reason = refused(acknowledge(a, id, 'bob', T0 + 2 * MIN));
    expect(reason).toContain('already acknowledged');
    expect(reason).toContain('alice');
    expect(a.ackedBy).toBe('alice');
    expect(a.transitions).toBe(2);
  });

  it('ack of a NORMAL alarm (no open episode)', () => {
    const a = newAlarm(RULE);
    const reason = refused(acknowledge(a, 'm-001.temperature-high.1', 'bob', T0));
    expect(reason).toContain('not open');
    expectReset(a);
  });

  it('ack of an unknown alarm id', () => {
    const { a } = raised();
    const reason = refused(acknowledge(a, 'nonsense', 'bob', T0 + MIN));
    expect(reason).toContain('nonsense');
    expect(reason).toContain('not the current episode');
    expect(a.state).toBe('ACTIVE_UNACK');
  });

  it('ack with the id of a past episode: not the current episode', () => {
    const { a, id: old } = acked();
    off(a, T0 + 2 * MIN);
    const { alarmId: current } = on(a, T0 + 3 * MIN, 200)!;
    const reason = refused(acknowledge(a, old, 'bob', T0 + 4 * MIN));
    expect(reason).toContain('not the current episode');
    expect(reason).toContain(current);
    expect(a.state).toBe('ACTIVE_UNACK');
  });

  it('shelve of a SHELVED alarm', () => {
    const { a, id } = raised();
    ok(shelve(a, id, 'carol', T0 + 60 * MIN, T0 + MIN));
    const reason = refused(shelve(a, id, 'dave', T0 + 120 * MIN, T0 + 2 * MIN));
    expect(reason).toContain('shelved');
    expect(reason).toContain('cannot be shelved');
    expect(a.shelvedBy).toBe('carol');
    expect(a.shelvedUntil).toBe(T0 + 60 * MIN);
  });

  it('shelve ending in the past (or now)', () => {
    const { a, id } = raised();
    expect(refused(shelve(a, id, 'carol', T0 - 1, T0 + MIN))).toContain('future');
    expect(refused(shelve(a, id, 'carol', T0 + MIN, T0 + MIN))).toContain('future');
    expect(a.state).toBe('ACTIVE_UNACK');
  });

  it('shelve of a NORMAL or SUPPRESSED alarm', () => {
    expect(refused(shelve(newAlarm(RULE), 'x', 'carol', T0 + MIN, T0))).toContain('not open');
    const { a, id } = raised();
    setSuppressed(a, true, T0 + MIN, detail(2), SUBJECT);
    expect(refused(shelve(a, id, 'carol', T0 + 60 * MIN, T0 + 2 * MIN))).toContain('suppressed');
  });

  it('unshelve of a non-shelved alarm', () => {
    const { a, id } = raised();
    const reason = refused(unshelve(a, id, 'carol', T0 + MIN));
    expect(reason).toContain('not shelved');
    expect(a.state).toBe('ACTIVE_UNACK');
  });

  it('ack of a SUPPRESSED alarm', () => {
    const { a, id } = raised();
    setSuppressed(a, true, T0 + MIN, detail(2), SUBJECT);
    const reason = refused(acknowledge(a, id, 'bob', T0 + 2 * MIN));
    expect(reason).toContain('suppressed');
    expect(reason).toContain('nothing to acknowledge');
    expect(a.state).toBe('SUPPRESSED');
  });

  it('ack of a SHELVED alarm', () => {
    const { a, id } = raised();
    ok(shelve(a, id, 'carol', T0 + 60 * MIN, T0 + MIN));
    expect(refused(acknowledge(a, id, 'bob', T0 + 2 * MIN))).toContain('shelved by carol');
  });
});

describe('transitions counter and event ids', () => {
  it('increases by one per annunciated change; <alarmId>#<n> is unique within the episode', () => {
    const a = newAlarm(RULE);
    const changes: Change[] = [];
    const push = (c: Change | null) => {
      if (c) changes.push(c);
    };
    push(on(a, T0, 3));
    const id = a.alarmId!;
    push(off(a, T0 + MIN)); // CLEARED → CLEARED_UNACK
    push(on(a, T0 + 2 * MIN, 4)); // REACTIVATED
    push(on(a, T0 + 2 * MIN + 1, 5)); // nothing
    push(ok(acknowledge(a, id, 'alice', T0 + 3 * MIN))); // ACKNOWLEDGED
    push(ok(shelve(a, id, 'carol', T0 + 60 * MIN, T0 + 4 * MIN))); // SHELVED
    push(off(a, T0 + 5 * MIN)); // silent
    push(on(a, T0 + 6 * MIN, 6)); // silent
    push(expireShelving(a, T0 + 60 * MIN)); // UNSHELVED → ACTIVE_UNACK
    push(setSuppressed(a, true, T0 + 61 * MIN, detail(7), SUBJECT)); // SUPPRESSED
    push(setSuppressed(a, false, T0 + 62 * MIN, detail(8), SUBJECT)); // UNSUPPRESSED → ACTIVE_UNACK
    push(ok(acknowledge(a, id, 'bob', T0 + 63 * MIN))); // ACKNOWLEDGED
    push(off(a, T0 + 64 * MIN)); // CLEARED → NORMAL

    expect(changes.map((c) => c.transition)).toEqual([
      'RAISED',
      'CLEARED',
      'REACTIVATED',
      'ACKNOWLEDGED',
      'SHELVED',
      'UNSHELVED',
      'SUPPRESSED',
      'UNSUPPRESSED',
      'ACKNOWLEDGED',
      'CLEARED',
    ]);
    expect(changes.every((c) => c.alarmId === id)).toBe(true);
    expect(changes.map((c) => c.alarm.transitions)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const eventIds = changes.map((c) => `${c.alarmId}#${c.alarm.transitions}`);
    expect(new Set(eventIds).size).toBe(eventIds.length);
    expectReset(a);

    // The next episode starts counting afresh under its own id.
    const next = on(a, T0 + 70 * MIN, 9)!;
    expect(next.alarmId).toBe('m-001.temperature-high.9');
    expect(next.alarm.transitions).toBe(1);
  });

  it('refused commands do not count', () => {
    const { a, id } = acked();
    refused(acknowledge(a, id, 'bob', T0 + 2 * MIN));
    refused(unshelve(a, id, 'bob', T0 + 2 * MIN));
    refused(shelve(a, id, 'bob', T0, T0 + 2 * MIN));
    expect(a.transitions).toBe(2);
  });
});
