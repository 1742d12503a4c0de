/**
 * Benchmark of the machine model: ticks per second and memory per actor for a fleet of N
 * machines (default 10,000), through XState actors and headless, plus one machine's simulated
 * week both ways. Prints one JSON object.
 *
 *   node --expose-gc --import tsx actors/bench.ts [--machines 10000] [--seconds 20] [--no-week]
 *   npx tsx actors/bench.ts          (GC is then enabled at run time, see forceGc)
 */

import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { deriveFleet, loadFleet } from './fleet.js';
import { createHeadless, runTicks } from './headless.js';
import { createMachineModel, type MachineActor, type MachineModel, startMachineActor } from './machine.js';
import type { MachineContext, TickEvent } from './model.js';
import type { MachineParams } from './params.js';
import { stepInPlace } from './step.js';
import { telemetryOf } from './telemetry.js';

export interface BenchOptions {
  machines: number;
  /** Simulated seconds (one tick each) per machine in the throughput runs. */
  seconds: number;
  week: boolean;
}

export interface BenchResult {
  machines: number;
  /** XState actors: TICK + telemetryOf per machine and second, all machines. */
  ticksPerSecond: number;
  /** Heap per started actor (snapshot, context, actor object), after GC. */
  bytesPerActor: number;
  headless: { ticksPerSecond: number; bytesPerMachine: number };
  /** One machine, 604,800 one-second ticks. */
  simulatedWeekMs: { actor: number | null; headless: number };
  gc: boolean;
  node: string;
}

const T0 = 1_700_000_000_000;
const WEEK_TICKS = 7 * 24 * 3600;

/** A real collection before each heap reading: --expose-gc if given, else switched on at run time. */
function forceGc(): (() => void) | null {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) return g;
  try {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  } catch {
    return null;
  }
}

function heapAfterGc(gc: (() => void) | null): number {
  gc?.();
  gc?.();
  return process.memoryUsage().heapUsed;
}

export function runBench(options: BenchOptions): BenchResult {
  const gc = forceGc();
  const fleetFile = loadFleet();
  if (!fleetFile.ok) throw new Error(fleetFile.reason);
  const fleet = deriveFleet(fleetFile.fleet, { machines: options.machines });
  const models = new Map<MachineParams, MachineModel>();
  for (const params of fleet.types.values()) models.set(params, createMachineModel(params));

  // XState actors: memory, then throughput.
  let before = heapAfterGc(gc);
  const actors: MachineActor[] = fleet.machines.map((m) =>
    startMachineActor(models.get(m.params)!, { input: { seed: m.seed, ts: T0 } }),
  );
  const bytesPerActor = (heapAfterGc(gc) - before) / actors.length;

  let emitted = 0;
  let started = performance.now();
  for (let s = 1; s <= options.seconds; s++) {
    const tick: TickEvent = { type: 'TICK', ts: T0 + s * 1000 };
    for (let i = 0; i < actors.length; i++) {
      const a = actors[i]!;
      a.send(tick);
      if (telemetryOf(a.getSnapshot().context, fleet.machines[i]!)) emitted++;
    }
  }
  const ticksPerSecond = (actors.length * options.seconds) / ((performance.now() - started) / 1000);
  for (const a of actors) a.stop();
  actors.length = 0;

  // Headless: the same fleet as plain contexts.
  before = heapAfterGc(gc);
  const contexts: MachineContext[] = fleet.machines.map((m) =>
    createHeadless({ seed: m.seed, ts: T0 }, m.params),
  );
  const bytesPerMachine = (heapAfterGc(gc) - before) / contexts.length;
  const tick: TickEvent = { type: 'TICK', ts: T0 };
  started = performance.now();
  for (let s = 1; s <= options.seconds; s++) {
    tick.ts = T0 + s * 1000;
    for (let i = 0; i < contexts.length; i++) {
      const c = contexts[i]!;
      stepInPlace(c, tick, fleet.machines[i]!.params);
      if (telemetryOf(c, fleet.machines[i]!)) emitted++;
    }
  }
  const headlessTicksPerSecond = (contexts.length * options.seconds) / ((performance.now() - started) / 1000);
  if (emitted === 0) throw new Error('no telemetry emitted'); // keeps the work observable

  // One machine's week.
  const first = fleet.machines[0]!;
  started = performance.now();
  runTicks(createHeadless({ seed: first.seed, ts: T0 }, first.params), WEEK_TICKS, 1000, first.params);
  const weekHeadless = performance.now() - started;
  let weekActor: number | null = null;
  if (options.week) {
    const actor = startMachineActor(models.get(first.params)!, { input: { seed: first.seed, ts: T0 } });
    started = performance.now();
    for (let s = 1; s <= WEEK_TICKS; s++) actor.send({ type: 'TICK', ts: T0 + s * 1000 });
    weekActor = performance.now() - started;
  }

  const round = (x: number) => Math.round(x);
  return {
    machines: fleet.machines.length,
    ticksPerSecond: round(ticksPerSecond),
    bytesPerActor: round(bytesPerActor),
    headless: { ticksPerSecond: round(headlessTicksPerSecond), bytesPerMachine: round(bytesPerMachine) },
    simulatedWeekMs: { actor: weekActor === null ? null : round(weekActor), headless: round(weekHeadless) },
    gc: gc !== null,
    node: process.version,
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({
    options: {
      machines: { type: 'string', default: '10000' },
      seconds: { type: 'string', default: '20' },
      'no-week': { type: 'boolean', default: false },
    },
  });
  const machines = Number(values.machines);
  const seconds = Number(values.seconds);
  if (!Number.isInteger(machines) || machines < 1 || !Number.isInteger(seconds) || seconds < 1) {
    console.error('--machines and --seconds must be positive integers');
    process.exit(2);
  }
  console.log(JSON.stringify(runBench({ machines, seconds, week: !values['no-week'] })));
}
