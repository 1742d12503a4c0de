import { describe, expect, it } from 'vitest';
import { commandInPlace, createHeadless, runTicks } from './headless.js';
import type { MachineContext } from './model.js';
import { DEFAULT_PARAMS, DEFAULT_PHYSICS as P } from './params.js';
import { rampSpeed, thermalStep, vibrationOf } from './physics.js';
import { type TelemetryV1, telemetryOf } from './telemetry.js';

const T0 = 1_700_000_000_000;
const IDS = { site: 'plant-1', line: 'line-1', machineId: 'M-0001' };

function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

function sd(xs: number[]): number {
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1));
}

/** Runs `ticks` one-second ticks and collects what each produced. */
function collect(c: MachineContext, ticks: number) {
  const out: { telemetry: TelemetryV1 | null; state: string; trueC: number; speed: number; wear: number }[] =
    [];
  runTicks(c, ticks, 1000, DEFAULT_PARAMS, (x) =>
    out.push({
      telemetry: telemetryOf(x, IDS),
      state: x.state,
      trueC: x.temperatureC,
      speed: x.speedRpm,
      wear: x.wear,
    }),
  );
  return out;
}

describe('pure physics', () => {
  it('integrates the thermal model exactly: two half steps equal one step, and it settles at the set point', () => {
    const once = thermalStep(20, 60, 10, 300);
    const twice = thermalStep(thermalStep(20, 60, 5, 300), 60, 5, 300);
    expect(twice).toBeCloseTo(once, 12);
    expect(thermalStep(20, 60, 300 * 20, 300)).toBeCloseTo(60, 6);
    expect(thermalStep(80, 22, 1, 300)).toBeLessThan(80);
  });

  it('ramps speed at a bounded rate and never overshoots', () => {
    expect(rampSpeed(0, 1000, 1, 250)).toBe(250);
    expect(rampSpeed(900, 1000, 1, 250)).toBe(1000);
    expect(rampSpeed(1000, 0, 2, 250)).toBe(500);
  });

  it('makes vibration grow with bearing wear and with speed', () => {
    expect(vibrationOf(P, 1000, 1)).toBeGreaterThan(vibrationOf(P, 1000, 0));
    expect(vibrationOf(P, 1000, 0)).toBeGreaterThan(vibrationOf(P, 500, 0));
    expect(vibrationOf(P, 0, 3)).toBe(0);
  });
});

describe('invariants over two simulated days', () => {
  it('keeps temperatures physical, counters monotone, OEE in [0,1] and equal to its factors', () => {
    const c = createHeadless({ seed: 4242, ts: T0 });
    // Checked per tick without `expect` (350k calls would dominate the run); the first few breaches are reported.
    const breaches: string[] = [];
    const check = (ok: boolean, what: string, x: MachineContext) => {
      if (!ok && breaches.length < 5) breaches.push(`${what} at seq ${x.seq}`);
    };
    let prev = { production: 0, good: 0, seq: 0 };
    let runningFor = 0;
    let stoppedFor = 0;
    const hottest = P.ambientC + P.idleRiseC + P.runRiseC * (P.maxRpm / P.nominalRpm);
    let ticks = 0;
    runTicks(c, 2 * 86_400, 1000, DEFAULT_PARAMS, (x) => {
      ticks++;
      // True temperature stays between ambient and the hottest steady state; the sensor adds little.
      check(x.temperatureC >= P.ambientC && x.temperatureC <= hottest, 'temperature out of bounds', x);
      check(
        Math.abs(x.reading.temperatureC - x.temperatureC) < 8 * P.temperatureNoiseC,
        'sensor noise too big',
        x,
      );

      check(x.productionCount >= prev.production && x.goodCount >= prev.good, 'a counter went down', x);
      check(x.goodCount <= x.productionCount, 'more good parts than parts', x);
      check(Number.isInteger(x.productionCount) && Number.isInteger(x.goodCount), 'fractional count', x);
      check(x.seq === prev.seq + 1, 'seq not consecutive', x);

      const o = x.oee;
      for (const f of [o.availability, o.performance, o.quality, o.oee])
        check(f >= 0 && f <= 1, 'OEE factor out of [0,1]', x);
      check(o.oee === o.availability * o.performance * o.quality, 'OEE is not the product of its factors', x);

      // Once the drive has had time to ramp, speed sits in its range while running and at 0 otherwise.
      if (runningFor >= 5)
        check(x.speedRpm >= P.minRpm && x.speedRpm <= P.maxRpm, 'running speed out of range', x);
      if (stoppedFor >= 5) check(x.speedRpm === 0, 'stopped machine turning', x);
      if (x.state === 'MAINTENANCE') check(x.powerKw === 0, 'power drawn in maintenance', x);
      if (x.state === 'IDLE' && x.speedRpm === 0)
        check(x.powerKw === P.idleKw, 'idle power is not the baseline', x);
      if (x.state === 'RUNNING' && x.speedRpm > 0)
        check(x.powerKw > P.idleKw, 'running power not above idle', x);
      check(x.state !== 'FAULT', 'tripped without a fault', x);

      runningFor = x.state === 'RUNNING' ? runningFor + 1 : 0;
      stoppedFor = x.state === 'RUNNING' ? 0 : stoppedFor + 1;
      prev = { production: x.productionCount, good: x.goodCount, seq: x.seq };
    });
    expect(breaches).toEqual([]);
    expect(ticks).toBe(172_800);
    // Two days at ~73% running and ~0.83 parts/s: production and OEE land where the parameters say.
    expect(c.productionCount).toBeGreaterThan(90_000);
    expect(c.goodCount / c.productionCount).toBeGreaterThan(0.97);
    expect(c.oee.oee).toBeGreaterThan(0.3);
  });
});

describe('fault signatures', () => {
  it('overheat: the temperature passes the trip level, the machine enters FAULT and resets only once cool', () => {
    const c = createHeadless({ seed: 1, ts: T0 });
    runTicks(c, 60, 1000);
    expect(commandInPlace(c, { type: 'INJECT_FAULT', fault: 'overheat' })).toEqual({ ok: true });
    const run = collect(c, 1800);
    const tripAt = run.findIndex((r) => r.state === 'FAULT');
    expect(tripAt).toBeGreaterThan(0);
    expect(run[tripAt]!.trueC).toBeGreaterThanOrEqual(P.tripC);
    expect(run[tripAt]!.telemetry!.temperatureC).toBeGreaterThan(P.tripC - 1);
    expect(run[tripAt]!.telemetry!.speedRpm).toBe(0);
    expect(c.trip?.cause).toBe('overtemperature');
    expect(run.slice(tripAt).every((r) => r.state === 'FAULT')).toBe(true);

    // Still hot right after the trip: the reset is refused with the reason.
    const c2 = createHeadless({ seed: 1, ts: T0 });
    runTicks(c2, 60, 1000);
    commandInPlace(c2, { type: 'INJECT_FAULT', fault: 'overheat' });
    runTicks(c2, tripAt + 1, 1000);
    expect(c2.state).toBe('FAULT');
    const refused = commandInPlace(c2, { type: 'CLEAR_FAULT' });
    expect(refused.ok).toBe(false);
    expect(refused.ok === false && refused.reason).toMatch(/temperature .* not below the reset level/);
    expect(c2.state).toBe('FAULT');
    // Powered off in FAULT, it cools; below the reset level the reset is taken.
    let ticks = 0;
    while (c2.temperatureC >= P.resetC && ticks++ < 3600) runTicks(c2, 1, 1000);
    expect(commandInPlace(c2, { type: 'CLEAR_FAULT' })).toEqual({ ok: true });
    expect(c2.state).toBe('IDLE');
    expect(c2.faults.overheatC).toBe(0);
  });

  it('bearing wear: vibration rises over time', () => {
    const c = createHeadless({ seed: 2, ts: T0 });
    const running = (rows: ReturnType<typeof collect>) =>
      rows.filter((r) => r.state === 'RUNNING' && r.speed >= P.minRpm).map((r) => r.telemetry!.vibrationMmS);
    const before = mean(running(collect(c, 600)));
    expect(
      commandInPlace(c, { type: 'INJECT_FAULT', fault: 'bearing_wear', params: { ratePerHour: 4 } }).ok,
    ).toBe(true);
    const during = collect(c, 1800);
    const firstThird = mean(running(during.slice(0, 600)));
    const lastThird = mean(running(during.slice(1200)));
    expect(firstThird).toBeGreaterThan(before);
    expect(lastThird).toBeGreaterThan(firstThird + 1);
    expect(lastThird).toBeGreaterThan(before + 3);
    expect(during.at(-1)!.wear).toBeGreaterThan(0.5);
  });

  it('bearing wear long enough trips on vibration, and only maintenance brings it back', () => {
    const c = createHeadless({ seed: 3, ts: T0 });
    commandInPlace(c, { type: 'INJECT_FAULT', fault: 'bearing_wear', params: { ratePerHour: 20 } });
    let ticks = 0;
    while (c.state !== 'FAULT' && ticks++ < 7200) runTicks(c, 1, 1000);
    expect(c.trip?.cause).toBe('vibration');
    const refused = commandInPlace(c, { type: 'CLEAR_FAULT' });
    expect(refused.ok === false && refused.reason).toMatch(/bearing needs maintenance/);
    expect(commandInPlace(c, { type: 'START_MAINTENANCE', ticketId: 'T-9' })).toEqual({ ok: true });
    runTicks(c, 600, 1000);
    expect(c.state).toBe('MAINTENANCE');
    expect(commandInPlace(c, { type: 'COMPLETE_MAINTENANCE', ticketId: 'T-9' })).toEqual({ ok: true });
    expect(c.state).toBe('RUNNING');
    expect(c.wear).toBe(0);
    expect(c.trip).toBeNull();
  });

  it('jam: FAULT at once with speed 0', () => {
    const c = createHeadless({ seed: 4, ts: T0 });
    runTicks(c, 10, 1000);
    expect(commandInPlace(c, { type: 'INJECT_FAULT', fault: 'jam' })).toEqual({ ok: true });
    expect(c.state).toBe('FAULT');
    expect(c.speedRpm).toBe(0);
    const [next] = collect(c, 1);
    expect(next!.telemetry).toMatchObject({ state: 'FAULT', speedRpm: 0 });
    expect(c.trip?.cause).toBe('jam');
    expect(commandInPlace(c, { type: 'CLEAR_FAULT' })).toEqual({ ok: true });
    expect(c.state).toBe('IDLE');
  });

  it('sensor stuck: the reported value freezes while the true one moves', () => {
    const c = createHeadless({ seed: 5, ts: T0 });
    runTicks(c, 30, 1000);
    const frozen = c.reading.temperatureC;
    commandInPlace(c, { type: 'INJECT_FAULT', fault: 'sensor_stuck', params: { field: 'temperature' } });
    const run = collect(c, 300);
    expect(new Set(run.map((r) => r.telemetry!.temperatureC))).toEqual(
      new Set([Math.round(frozen * 100) / 100]),
    );
    expect(sd(run.map((r) => r.trueC))).toBeGreaterThan(0.1);
  });

  it('sensor drift: the offset from the truth grows steadily', () => {
    const c = createHeadless({ seed: 6, ts: T0 });
    runTicks(c, 30, 1000);
    commandInPlace(c, {
      type: 'INJECT_FAULT',
      fault: 'sensor_drift',
      params: { field: 'temperatureC', ratePerMin: 1 },
    });
    const run = collect(c, 600);
    const offsets = run.map((r) => r.telemetry!.temperatureC - r.trueC);
    const early = mean(offsets.slice(0, 60));
    const late = mean(offsets.slice(540));
    expect(early).toBeCloseTo(0.5, 0);
    expect(late).toBeCloseTo(9.5, 0);
    expect(offsets.at(-1)!).toBeCloseTo(10, 0);
  });

  it('sensor dropout: no messages for the duration, and seq carries on without a gap', () => {
    const c = createHeadless({ seed: 7, ts: T0 });
    runTicks(c, 30, 1000);
    const seqBefore = c.seq;
    commandInPlace(c, { type: 'INJECT_FAULT', fault: 'sensor_dropout', params: { durationS: 20 } });
    const run = collect(c, 40);
    // Suppressed on the ticks inside (since, since + 20 s); the tick at since + 20 s reports again.
    const silent = run.slice(0, 19);
    expect(silent.every((r) => r.telemetry === null)).toBe(true);
    const resumed = run.slice(19).map((r) => r.telemetry!);
    expect(resumed[0]!.seq).toBe(seqBefore + 1);
    expect(resumed.map((t) => t.seq)).toEqual(resumed.map((_, i) => seqBefore + 1 + i));
    expect(c.faults.sensors).toEqual([]);
  });

  it('noise burst: much larger variance for its duration, then back to normal', () => {
    const c = createHeadless({ seed: 8, ts: T0 });
    const quiet = collect(c, 120).map((r) => r.telemetry!.temperatureC - r.trueC);
    commandInPlace(c, { type: 'INJECT_FAULT', fault: 'noise_burst', params: { durationS: 120 } });
    const burst = collect(c, 120).map((r) => r.telemetry!.temperatureC - r.trueC);
    const after = collect(c, 120).map((r) => r.telemetry!.temperatureC - r.trueC);
    expect(sd(burst)).toBeGreaterThan(10 * sd(quiet));
    expect(sd(after)).toBeLessThan(2 * sd(quiet));
  });
});
