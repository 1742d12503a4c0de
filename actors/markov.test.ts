import { describe, expect, it } from 'vitest';
import { createHeadless, runTicks } from './headless.js';
import { stationaryDistribution, transitionMatrix } from './markov.js';
import { CHAIN_STATES, type MachineParams, type MachineState, mergeParams } from './params.js';

/** χ² critical values at α = 0.001 by degrees of freedom: a correct chain fails one in a thousand seeds. */
const CHI2_CRITICAL_001: Record<number, number> = { 1: 10.828, 2: 13.816 };

/** Physics that cannot trip (no wear, no over-temperature), so that the chain runs pure. */
function pureChain(overrides: Parameters<typeof mergeParams>[0] = {}): MachineParams {
  const p = mergeParams(overrides);
  return { ...p, physics: { ...p.physics, naturalWearPerHour: 0, tripC: 1e9, resetC: 1e9 - 1 } };
}

interface ChainRun {
  counts: number[][];
  timeIn: number[];
  faults: number;
}

function runChain(params: MachineParams, seed: number, ticks: number): ChainRun {
  const index = new Map<MachineState, number>(CHAIN_STATES.map((s, i) => [s, i]));
  const counts = CHAIN_STATES.map(() => CHAIN_STATES.map(() => 0));
  const timeIn = CHAIN_STATES.map(() => 0);
  let faults = 0;
  const c = createHeadless({ seed, ts: 1_700_000_000_000 }, params);
  let from = c.state;
  runTicks(c, ticks, 1000, params, (ctx) => {
    const i = index.get(from);
    const j = index.get(ctx.state);
    if (i === undefined || j === undefined) faults++;
    else {
      counts[i]![j]! += 1;
      timeIn[j]! += 1;
    }
    from = ctx.state;
  });
  return { counts, timeIn, faults };
}

function expectRowsMatch(run: ChainRun, P: number[][]): void {
  P.forEach((row, i) => {
    const observed = run.counts[i]!;
    const n = observed.reduce((a, b) => a + b, 0);
    expect(n).toBeGreaterThan(1000);
    let chi2 = 0;
    let cells = 0;
    row.forEach((p, j) => {
      if (p === 0) {
        expect(observed[j], `${CHAIN_STATES[i]}→${CHAIN_STATES[j]} has probability 0`).toBe(0);
        return;
      }
      const expected = n * p;
      chi2 += (observed[j]! - expected) ** 2 / expected;
      cells++;
    });
    const critical = CHI2_CRITICAL_001[cells - 1]!;
    expect(chi2, `row ${CHAIN_STATES[i]}: χ²=${chi2.toFixed(2)} with ${cells - 1} df`).toBeLessThan(critical);
  });
}

function expectStationary(run: ChainRun, P: number[][], tolerance: number): void {
  const pi = stationaryDistribution(P);
  const total = run.timeIn.reduce((a, b) => a + b, 0);
  run.timeIn.forEach((t, i) => {
    expect(Math.abs(t / total - pi[i]!), `time in ${CHAIN_STATES[i]}`).toBeLessThan(tolerance);
  });
}

describe('stationary distribution', () => {
  it('solves πP = π for the default matrix', () => {
    const P = transitionMatrix(pureChain().transitions);
    const pi = stationaryDistribution(P);
    // Balance: π_I = π_R·0.05/0.3, π_M = π_R·0.02/0.1.
    const r = 1 / (1 + 0.05 / 0.3 + 0.02 / 0.1);
    expect(pi[0]).toBeCloseTo(r, 12);
    expect(pi[1]).toBeCloseTo((r * 0.05) / 0.3, 12);
    expect(pi[2]).toBeCloseTo((r * 0.02) / 0.1, 12);
    const piP = P[0]!.map((_, j) => P.reduce((s, row, i) => s + pi[i]! * row[j]!, 0));
    expect(piP.map((v, j) => Math.abs(v - pi[j]!))).toEqual([0, 0, 0].map(() => expect.closeTo(0, 12)));
  });

  it('fills the diagonal with what stays', () => {
    const expected = [
      [0.93, 0.05, 0.02],
      [0.3, 0.7, 0],
      [0.1, 0, 0.9],
    ];
    expect(transitionMatrix(pureChain().transitions)).toEqual(
      expected.map((row) => row.map((p) => expect.closeTo(p, 12))),
    );
  });
});

describe('the chain over 200,000 ticks', () => {
  it('moves with the default per-tick matrix and spends the stationary share of time in each state', () => {
    const params = pureChain();
    const run = runChain(params, 12345, 200_000);
    expect(run.faults).toBe(0);
    const P = transitionMatrix(params.transitions);
    expectRowsMatch(run, P);
    expectStationary(run, P, 0.015);
  });

  it('follows a machine type whose matrix overrides the default', () => {
    const params = pureChain({
      transitions: {
        RUNNING: { IDLE: 0.1, MAINTENANCE: 0.01 },
        IDLE: { RUNNING: 0.2, MAINTENANCE: 0.05 },
        MAINTENANCE: { RUNNING: 0.15, IDLE: 0.05 },
      },
    });
    const run = runChain(params, 777, 150_000);
    expect(run.faults).toBe(0);
    const P = transitionMatrix(params.transitions);
    expect(P[1]).toEqual([0.2, 0.75, 0.05].map((p) => expect.closeTo(p, 12)));
    expectRowsMatch(run, P);
    expectStationary(run, P, 0.015);
  });

  it('never trips with the default physics either', () => {
    const run = runChain(mergeParams(), 99, 100_000);
    expect(run.faults).toBe(0);
  });
});
