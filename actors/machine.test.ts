import { describe, expect, it } from 'vitest';
import { createActor, fromCallback } from 'xstate';
import { commandSchema, FAULT_KINDS } from './commands.js';
import { commandInPlace, createHeadless, runTicks } from './headless.js';
import {
  applyCommand,
  createMachineModel,
  type MachineActor,
  startMachineActor,
  stopMachineActor,
} from './machine.js';
import type { MachineEvent } from './model.js';
import { DEFAULT_PARAMS, MACHINE_STATES } from './params.js';
import { uniform } from './random.js';
import { telemetryOf } from './telemetry.js';

const T0 = 1_700_000_000_000;
const IDS = { site: 'plant-1', line: 'line-1', machineId: 'M-0001' };
const model = createMachineModel(DEFAULT_PARAMS);

/** Ticks an actor once a second from its last tick; returns the JSON telemetry lines it emitted. */
function drive(actor: MachineActor, ticks: number, script: Record<number, unknown> = {}): string[] {
  const lines: string[] = [];
  for (let i = 0; i < ticks; i++) {
    const cmd = script[i];
    if (cmd !== undefined) applyCommand(actor, cmd);
    const ctx = actor.getSnapshot().context;
    actor.send({ type: 'TICK', ts: ctx.ts + 1000 });
    const snap = actor.getSnapshot();
    const t = telemetryOf(snap.context, IDS);
    if (t) lines.push(JSON.stringify(t));
  }
  return lines;
}

/** Commands along the way, so that the runs below cover faults, tickets and sensor faults too. */
const SCRIPT: Record<number, unknown> = {
  100: { type: 'SET_SPEED', rpm: 1150 },
  300: { type: 'INJECT_FAULT', fault: 'sensor_drift', params: { field: 'powerKw' } },
  500: { type: 'INJECT_FAULT', fault: 'noise_burst', params: { field: 'vibration', durationS: 60 } },
  700: { type: 'INJECT_FAULT', fault: 'sensor_dropout', params: { durationS: 15 } },
  900: { type: 'INJECT_FAULT', fault: 'jam' },
  920: { type: 'CLEAR_FAULT' },
  1000: { type: 'START_MAINTENANCE', ticketId: 'T-1' },
  1200: { type: 'COMPLETE_MAINTENANCE', ticketId: 'T-1' },
  1500: { type: 'INJECT_FAULT', fault: 'overheat', params: { extraC: '80' } },
  2600: { type: 'INJECT_FAULT', fault: 'sensor_stuck', params: { field: 'speedRpm' } },
  4000: { type: 'CLEAR_FAULT' },
};

describe('determinism', () => {
  it('gives byte-identical telemetry for the same seed and different telemetry for another', () => {
    const a = drive(startMachineActor(model, { input: { seed: 42, ts: T0 } }), 3000, SCRIPT);
    const b = drive(startMachineActor(model, { input: { seed: 42, ts: T0 } }), 3000, SCRIPT);
    const c = drive(startMachineActor(model, { input: { seed: 43, ts: T0 } }), 3000, SCRIPT);
    expect(a.length).toBeGreaterThan(2900);
    expect(a.join('\n')).toBe(b.join('\n'));
    expect(c.join('\n')).not.toBe(a.join('\n'));
  });

  it('runs the same numbers headless as in the actor', () => {
    const actor = startMachineActor(model, { input: { seed: 9, ts: T0 } });
    const c = createHeadless({ seed: 9, ts: T0 });
    for (let i = 0; i < 3000; i++) {
      const cmd = SCRIPT[i];
      if (cmd !== undefined) expect(commandInPlace(c, cmd)).toEqual(applyCommand(actor, cmd));
      drive(actor, 1);
      runTicks(c, 1, 1000);
    }
    expect(JSON.stringify(actor.getSnapshot().context)).toBe(JSON.stringify(c));
  });
});

describe('persistence', () => {
  it('round-trips a snapshot exactly: a restored actor continues as if never interrupted', () => {
    const uninterrupted = startMachineActor(model, { input: { seed: 7, ts: T0 } });
    const first = drive(uninterrupted, 2500, SCRIPT);

    const original = startMachineActor(model, { input: { seed: 7, ts: T0 } });
    expect(drive(original, 2500, SCRIPT)).toEqual(first);
    const stored = JSON.stringify(original.getPersistedSnapshot());
    original.stop();

    const restored = createActor(model, { snapshot: JSON.parse(stored), input: { seed: 0, ts: 0 } }).start();
    const ctx = restored.getSnapshot().context;
    expect(ctx.seq).toBe(uninterrupted.getSnapshot().context.seq);
    expect(ctx.rng).toBe(uninterrupted.getSnapshot().context.rng);
    expect(restored.getSnapshot().context.state).toBe(uninterrupted.getSnapshot().context.state);

    const later: Record<number, unknown> = {};
    for (const [k, v] of Object.entries(SCRIPT)) if (Number(k) >= 2500) later[Number(k) - 2500] = v;
    expect(drive(restored, 2500, later)).toEqual(drive(uninterrupted, 2500, later));
    expect(JSON.stringify(restored.getPersistedSnapshot())).toBe(
      JSON.stringify(uninterrupted.getPersistedSnapshot()),
    );
  });

  it('restores through startMachineActor too, mid-maintenance', () => {
    const a = startMachineActor(model, { input: { seed: 3, ts: T0 } });
    drive(a, 50, { 10: { type: 'START_MAINTENANCE', ticketId: 'T-7' } });
    const b = startMachineActor(model, { snapshot: JSON.parse(JSON.stringify(a.getPersistedSnapshot())) });
    expect(b.getSnapshot().context.state).toBe('MAINTENANCE');
    expect(applyCommand(b, { type: 'COMPLETE_MAINTENANCE', ticketId: 'T-7' })).toEqual({ ok: true });
    expect(b.getSnapshot().context.state).toBe('RUNNING');
  });
});

describe('commands', () => {
  const fresh = (seed = 1) => startMachineActor(model, { input: { seed, ts: T0 } });

  it('rejects invalid commands with a reason, records it, and never throws', () => {
    const bad: [unknown, RegExp][] = [
      [null, /must be an object/],
      [42, /must be an object/],
      ['START', /must be an object/],
      [{}, /unknown command/],
      [{ type: 'LAUNCH_ROCKET' }, /unknown command "LAUNCH_ROCKET"/],
      [{ type: 'START_MAINTENANCE' }, /ticketId: expected a ticket id/],
      [{ type: 'START_MAINTENANCE', ticketId: '' }, /ticketId/],
      [{ type: 'COMPLETE_MAINTENANCE' }, /applies in MAINTENANCE; the machine is RUNNING/],
      [{ type: 'SET_SPEED', rpm: 'fast' }, /rpm: expected a number/],
      [{ type: 'SET_SPEED', rpm: 5000 }, /outside this machine's range 800–1200 rpm/],
      [{ type: 'INJECT_FAULT', fault: 'gremlins' }, /unknown fault "gremlins"/],
      [{ type: 'INJECT_FAULT', fault: 'overheat', params: { extraC: -5 } }, /extraC/],
      [{ type: 'INJECT_FAULT', fault: 'overheat', params: { extra: 5 } }, /params/],
      [
        { type: 'INJECT_FAULT', fault: 'sensor_stuck', params: { field: 'humidity' } },
        /unknown sensor field/,
      ],
      [{ type: 'CLEAR_FAULT' }, /no active fault to clear/],
      [{ type: 'CLEAR_FAULT', fault: 'jam' }, /no active jam to clear/],
      [{ type: 'START' }, /already RUNNING/],
    ];
    const actor = fresh();
    drive(actor, 5);
    for (const [input, reason] of bad) {
      const before = actor.getSnapshot();
      const result = applyCommand(actor, input);
      expect(result.ok, JSON.stringify(input)).toBe(false);
      expect(result.ok === false && result.reason).toMatch(reason);
      const after = actor.getSnapshot();
      expect(after.status).toBe('active');
      expect(after.context.state).toBe(before.context.state);
      expect(after.context.lastRejection).toMatchObject({ ts: before.context.ts });
      expect(after.context.lastRejection?.reason).toMatch(reason);
      expect(after.context.seq).toBe(before.context.seq);
    }
  });

  it('records raw events that bypass applyCommand as rejections too', () => {
    const actor = fresh();
    drive(actor, 3);
    const raw = (e: unknown) => actor.send(e as MachineEvent);
    raw({ type: 'TICK', ts: T0 });
    expect(actor.getSnapshot().context.lastRejection?.reason).toMatch(/earlier than the last tick/);
    raw({ type: 'TICK', ts: 'soon' });
    expect(actor.getSnapshot().context.lastRejection?.reason).toMatch(/integer epoch milliseconds/);
    raw({ type: 'SET_SPEED' });
    expect(actor.getSnapshot().context.lastRejection).toMatchObject({ command: 'SET_SPEED' });
    raw({ type: 'STOP', extra: 1 });
    expect(actor.getSnapshot().context.state).toBe('IDLE');
    raw({ type: 'RESUME', epoch: 0, seqSkip: 5 });
    expect(actor.getSnapshot().context.lastRejection?.reason).toMatch(/epoch above the current 0/);
    raw({ type: 'NOPE' });
    expect(actor.getSnapshot().context.lastRejection?.reason).toMatch(/unknown command "NOPE"/);
    expect(actor.getSnapshot().status).toBe('active');
  });

  it('survives a storm of random commands without throwing or leaving a legal state', () => {
    const src = { rng: 123 };
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(uniform(src) * xs.length)]!;
    const types = [
      'START_MAINTENANCE',
      'COMPLETE_MAINTENANCE',
      'INJECT_FAULT',
      'CLEAR_FAULT',
      'SET_SPEED',
      'STOP',
      'START',
      'X',
      7,
    ];
    const values = [
      undefined,
      null,
      0,
      -1,
      1e9,
      Number.NaN,
      '',
      'T-1',
      '950',
      true,
      {},
      [],
      { extraC: 'hot' },
    ];
    const faults = [...FAULT_KINDS, 'meltdown', undefined];
    const actor = fresh(12);
    for (let i = 0; i < 3000; i++) {
      const cmd = {
        type: pick(types),
        ticketId: pick(values),
        rpm: uniform(src) < 0.5 ? pick(values) : 800 + uniform(src) * 400,
        fault: pick(faults),
        params: pick(values),
      };
      const r = applyCommand(actor, uniform(src) < 0.05 ? pick(values) : cmd);
      expect(typeof r.ok).toBe('boolean');
      drive(actor, 1);
      expect(actor.getSnapshot().status).toBe('active');
    }
    expect(MACHINE_STATES).toContain(actor.getSnapshot().context.state);
  });

  it('holds a ticketed MAINTENANCE until COMPLETE_MAINTENANCE with the right ticket', () => {
    const actor = fresh(5);
    expect(applyCommand(actor, { type: 'START_MAINTENANCE', ticketId: 'T-1' })).toEqual({ ok: true });
    expect(applyCommand(actor, { type: 'START_MAINTENANCE', ticketId: 'T-1' })).toEqual({ ok: true });
    const other = applyCommand(actor, { type: 'START_MAINTENANCE', ticketId: 'T-2' });
    expect(other.ok === false && other.reason).toMatch(/already in MAINTENANCE for ticket T-1/);
    drive(actor, 2000);
    expect(actor.getSnapshot().context.state).toBe('MAINTENANCE');
    const wrong = applyCommand(actor, { type: 'COMPLETE_MAINTENANCE', ticketId: 'T-2' });
    expect(wrong.ok === false && wrong.reason).toMatch(/held by ticket T-1/);
    expect(applyCommand(actor, { type: 'START' }).ok).toBe(false);
    expect(applyCommand(actor, { type: 'COMPLETE_MAINTENANCE', ticketId: 'T-1' })).toEqual({ ok: true });
    expect(actor.getSnapshot().context.state).toBe('RUNNING');
    expect(actor.getSnapshot().context.ticketId).toBeNull();
  });

  it('keeps an operator STOP in IDLE until START', () => {
    const actor = fresh(6);
    expect(applyCommand(actor, { type: 'STOP' })).toEqual({ ok: true });
    drive(actor, 1000);
    expect(actor.getSnapshot().context.state).toBe('IDLE');
    expect(actor.getSnapshot().context.speedRpm).toBe(0);
    expect(applyCommand(actor, { type: 'START' })).toEqual({ ok: true });
    expect(actor.getSnapshot().context.state).toBe('RUNNING');
  });

  it('emits no telemetry for a command, and RESUME skips seq numbers', () => {
    const actor = fresh(8);
    drive(actor, 10);
    expect(telemetryOf(actor.getSnapshot().context, IDS)?.seq).toBe(10);
    applyCommand(actor, { type: 'SET_SPEED', rpm: 900 });
    expect(telemetryOf(actor.getSnapshot().context, IDS)).toBeNull();
    actor.send({ type: 'RESUME', epoch: 1, seqSkip: 100 });
    const [line] = drive(actor, 1);
    expect(JSON.parse(line!)).toMatchObject({ seq: 111 });
    expect(actor.getSnapshot().context.epoch).toBe(1);
  });

  it('ticks with emit: false advance time without a message', () => {
    const actor = fresh(9);
    actor.send({ type: 'TICK', ts: T0 + 1000, emit: false });
    expect(telemetryOf(actor.getSnapshot().context, IDS)).toBeNull();
    actor.send({ type: 'TICK', ts: T0 + 2000 });
    expect(telemetryOf(actor.getSnapshot().context, IDS)).toMatchObject({ seq: 1, ts: T0 + 2000 });
  });

  it('exports one schema that accepts every valid command', () => {
    const valid = [
      { type: 'START_MAINTENANCE', ticketId: 'T-1' },
      { type: 'COMPLETE_MAINTENANCE' },
      { type: 'INJECT_FAULT', fault: 'overheat', params: { extraC: 50 } },
      { type: 'INJECT_FAULT', fault: 'jam' },
      { type: 'INJECT_FAULT', fault: 'noise_burst', params: { field: 'power', sigma: '3', durationS: 10 } },
      { type: 'CLEAR_FAULT', fault: 'sensor_drift' },
      { type: 'SET_SPEED', rpm: 1000 },
      { type: 'STOP' },
      { type: 'START' },
    ];
    for (const v of valid) expect(commandSchema.safeParse(v).success, JSON.stringify(v)).toBe(true);
    expect(commandSchema.parse(valid[4])).toEqual({
      type: 'INJECT_FAULT',
      fault: 'noise_burst',
      params: { field: 'powerKw', sigma: 3, durationS: 10 },
    });
    expect(commandSchema.parse(valid[3])).toEqual({ type: 'INJECT_FAULT', fault: 'jam', params: {} });
  });
});

describe('telemetry', () => {
  it('has exactly the contract fields, rounded', () => {
    const actor = startMachineActor(model, { input: { seed: 11, ts: T0 } });
    const [line] = drive(actor, 1);
    const t = JSON.parse(line!);
    expect(Object.keys(t)).toEqual([
      'v',
      'site',
      'line',
      'machineId',
      'ts',
      'seq',
      'state',
      'temperatureC',
      'speedRpm',
      'vibrationMmS',
      'powerKw',
      'productionCount',
      'goodCount',
      'oee',
    ]);
    expect(t).toMatchObject({ v: 1, ...IDS, ts: T0 + 1000, seq: 1, state: 'RUNNING' });
    expect(Math.round(t.temperatureC * 100)).toBe(t.temperatureC * 100);
    expect(Math.round(t.oee * 1000)).toBe(Math.round(t.oee * 1000));
  });
});

describe('hosting', () => {
  it('actors of one host share its system, and each can be stopped alone', () => {
    const root = createActor(fromCallback(() => () => {})).start();
    const [a, b] = [1, 2].map((seed) =>
      startMachineActor(model, { input: { seed, ts: T0 } }, { parent: root }),
    );
    expect(a!.system).toBe(b!.system);
    stopMachineActor(a!);
    a!.send({ type: 'TICK', ts: T0 + 1000 });
    expect(a!.getSnapshot().context.seq).toBe(0);
    b!.send({ type: 'TICK', ts: T0 + 1000 });
    expect(b!.getSnapshot().context.seq).toBe(1);
  });

  it('restores from saved domain state as exactly as from a persisted snapshot', () => {
    const a = startMachineActor(model, { input: { seed: 5, ts: T0 } });
    drive(a, 500, SCRIPT);
    const context = JSON.parse(JSON.stringify(a.getSnapshot().context));
    const b = startMachineActor(model, { context });
    expect(drive(b, 200)).toEqual(drive(a, 200));
  });
});
