import { describe, expect, it } from 'vitest';
import { createHeadless, runTicks, telemetryOf } from '../actors/index.js';
import { TELEMETRY_EXAMPLE, telemetryV1Schema } from './telemetry.js';

const valid = TELEMETRY_EXAMPLE;

describe('telemetry v1 schema', () => {
  it('accepts the contract example', () => {
    expect(telemetryV1Schema.safeParse(valid).success).toBe(true);
  });

  it('accepts every message the machine model produces over a simulated day', () => {
    const c = createHeadless({ seed: 42, ts: 1763900000000 });
    let checked = 0;
    runTicks(c, 86_400, 1_000, undefined, (ctx) => {
      const t = telemetryOf(ctx, { site: 'plant-1', line: 'line-1', machineId: 'M-0001' });
      if (!t) return;
      const r = telemetryV1Schema.safeParse(t);
      if (!r.success) throw new Error(`${JSON.stringify(t)}: ${r.error.issues[0]?.message}`);
      checked++;
    });
    expect(checked).toBeGreaterThan(80_000);
  });

  it.each([
    ['unknown version', { v: 2 }, /unknown schema version/],
    ['wrong type', { seq: '12' }, /number/],
    ['NaN', { temperatureC: Number.NaN }, /finite|number/],
    ['infinite', { powerKw: Number.POSITIVE_INFINITY }, /finite|number/],
    ['wildcard in id', { machineId: 'M+1' }, /letters, digits/],
    ['unknown state', { state: 'BROKEN' }, /RUNNING/],
    ['extra field', { extra: 1 }, /Unrecognized key/],
    ['good above production', { goodCount: 2000 }, /cannot exceed/],
    ['fractional count', { productionCount: 1.5 }, /whole number/],
  ])('rejects %s with a reason', (_name, patch, reason) => {
    const r = telemetryV1Schema.safeParse({ ...valid, ...patch });
    expect(r.success).toBe(false);
    expect(r.error?.issues.map((i) => i.message).join('; ')).toMatch(reason);
  });

  it('rejects a missing field', () => {
    const { oee: _, ...rest } = valid;
    expect(telemetryV1Schema.safeParse(rest).success).toBe(false);
  });
});
