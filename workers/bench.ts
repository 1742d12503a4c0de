/**
 * Memory per hosted machine: the heap a worker's shard host grows by for each machine it hosts
 * (actor, model state, entity bookkeeping), over 10,000 machines ticked into steady state.
 * The snapshot store and the MQTT sink are stand-ins that keep nothing (in production they are
 * NATS and the publisher, counted elsewhere). The reference, measured in the same run: a bare
 * XState actor of the same model.
 *
 *   node --expose-gc --import tsx workers/bench.ts [--machines 10000]
 */

import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import {
  createMachineModel,
  fleetTypes,
  loadFleet,
  type MachineActor,
  startMachineActor,
} from '../actors/index.js';
import { reconcile } from '../actors/registry.js';
import { silentLogger } from '../common/log.js';
import { ShardHost, type SnapshotPort, type TelemetryPort } from './shard-host.js';

function forceGc(): () => void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) return g;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

export interface HostBenchResult {
  machines: number;
  /** Heap growth per hosted machine (actor + state + bookkeeping), after ticking. */
  bytesPerHostedMachine: number;
  /** Reference: a bare XState actor of the same model, after the same ticks. */
  bytesPerBareActor: number;
  ratioToBareActor: number;
  node: string;
}

export async function runHostBench(machines: number): Promise<HostBenchResult> {
  const gc = forceGc();
  const heap = () => {
    gc();
    gc();
    return process.memoryUsage().heapUsed;
  };
  const file = loadFleet();
  if (!file.ok) throw new Error(file.reason);
  const types = fleetTypes(file.fleet);
  const registered = reconcile([], file.fleet, { machines, now: 0 }).changes;
  const models = new Map([...types].map(([name, params]) => [name, createMachineModel(params)]));
  const clock = { now: Date.UTC(2026, 0, 1) };
  const periods = 5;

  // Reference: bare actors, ticked as often.
  let before = heap();
  const bare: MachineActor[] = registered.map((m) =>
    startMachineActor(models.get(m.type)!, { input: { seed: m.seed, ts: clock.now } }),
  );
  for (let p = 1; p <= periods; p++) for (const a of bare) a.send({ type: 'TICK', ts: clock.now + p * 1000 });
  const bytesPerBareActor = (heap() - before) / bare.length;
  for (const a of bare) a.stop();
  bare.length = 0;

  const revisions = new Map<string, number>();
  const store: SnapshotPort = {
    read: async () => undefined,
    revisionOf: async (id) => revisions.get(id) ?? 0,
    write: async (e) => {
      const r = (revisions.get(e.machineId) ?? 0) + 1;
      revisions.set(e.machineId, r);
      return r;
    },
  };
  let emitted = 0;
  const sink: TelemetryPort = {
    telemetry: () => {
      emitted++;
    },
    event: () => {},
    unsettled: () => undefined,
    forget: () => {},
  };
  for (const m of registered) revisions.set(m.machineId, 0);
  before = heap();
  const host = new ShardHost({
    workerId: 'bench',
    shards: 16,
    store,
    sink,
    model: (t) => models.get(t),
    periodMs: 1_000,
    snapshotEveryMs: 10_000,
    block: 60,
    fenced: () => false,
    workerAlive: () => false,
    handoffWaitMs: 0,
    settleWaitMs: 0,
    clock: () => clock.now,
    log: silentLogger,
  });
  for (const m of registered) await host.registered(m);
  await host.assign(Array.from({ length: 16 }, (_, i) => i));
  for (let i = 0; i < periods * 10; i++) {
    clock.now += 100;
    host.tickDue();
    await new Promise((r) => setImmediate(r));
  }
  if (host.size !== registered.length || emitted === 0)
    throw new Error('the host did not host and tick every machine');
  const bytesPerHostedMachine = (heap() - before) / host.size;
  return {
    machines: host.size,
    bytesPerHostedMachine: Math.round(bytesPerHostedMachine),
    bytesPerBareActor: Math.round(bytesPerBareActor),
    ratioToBareActor: bytesPerHostedMachine / bytesPerBareActor,
    node: process.version,
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({ options: { machines: { type: 'string', default: '10000' } } });
  const machines = Number(values.machines);
  if (!Number.isInteger(machines) || machines < 1) {
    console.error('--machines must be a positive integer');
    process.exit(2);
  }
  console.log(JSON.stringify(await runHostBench(machines)));
}
