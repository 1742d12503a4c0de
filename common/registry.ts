/**
 * The fleet registry in NATS KV (bucket `fleet-registry`): one key per machine
 * (`machine.M-0001`) and the fleet's definition (`fleet.definition`: seed and machine types).
 * The only writer is `factory up` (under the stack lock); workers, bridges and `verify` read it.
 */
import type { KV, NatsConnection } from 'nats';
import { z } from 'zod';
import { type Fleet, fleetSchema } from '../actors/fleet.js';
import {
  type Reconciled,
  type RegisteredMachine,
  reconcile,
  registeredMachineSchema,
} from '../actors/registry.js';
import { bindBucket, followKv, type KvValue, readKv } from './kv.js';

export const REGISTRY_BUCKET = 'fleet-registry';
const MACHINES = 'machine.>';
const DEFINITION = 'fleet.definition';
const machineKey = (id: string) => `machine.${id}`;

const definitionSchema = z.object({ v: z.literal(1), fleet: fleetSchema });

export const parseRegistered = (raw: unknown): RegisteredMachine | undefined => {
  const r = registeredMachineSchema.safeParse(raw);
  return r.success ? r.data : undefined;
};

export class FleetRegistry {
  private constructor(readonly kv: KV) {}

  static async open(nc: NatsConnection, opts: { create?: boolean } = {}): Promise<FleetRegistry> {
    const kv = opts.create
      ? await nc.jetstream().views.kv(REGISTRY_BUCKET, { history: 5 })
      : await bindBucket(nc, REGISTRY_BUCKET);
    return new FleetRegistry(kv);
  }

  /** Every machine ever registered (retired ones too), by id. */
  async machines(): Promise<Map<string, RegisteredMachine>> {
    const all = await readKv(this.kv, MACHINES, parseRegistered);
    return new Map([...all.values()].map((e) => [e.value.machineId, e.value]));
  }

  /** One machine, read directly (for an id a watcher has not seen yet). */
  async machine(machineId: string): Promise<RegisteredMachine | undefined> {
    const e = await this.kv.get(machineKey(machineId));
    return e && e.operation === 'PUT' ? parseRegistered(e.json()) : undefined;
  }

  /** The fleet definition the machines were registered from (machine types and seed). */
  async definition(): Promise<Fleet | undefined> {
    const e = await this.kv.get(DEFINITION);
    if (e?.operation !== 'PUT') return undefined;
    const r = definitionSchema.safeParse(e.json());
    return r.success ? r.data.fleet : undefined;
  }

  /** Makes the registry hold `fleet` (scaled to `machines` when given); returns what changed. */
  async apply(fleet: Fleet, options: { machines?: number; now?: number } = {}): Promise<Reconciled> {
    const registered = [...(await this.machines()).values()];
    const result = reconcile(registered, fleet, {
      machines: options.machines,
      now: options.now ?? Date.now(),
    });
    await this.kv.put(DEFINITION, JSON.stringify({ v: 1, fleet }));
    // In batches: 20,000 machines registered one round trip at a time would take a minute.
    for (let i = 0; i < result.changes.length; i += 256) {
      await Promise.all(
        result.changes.slice(i, i + 256).map((m) => this.kv.put(machineKey(m.machineId), JSON.stringify(m))),
      );
    }
    return result;
  }

  /**
   * Registers machines whose telemetry a device outside the workers publishes (a benchmark, a
   * test rig, a plant's own gateway): the bridge then accepts them for their line.
   */
  async registerExternal(machines: { machineId: string; site: string; line: string }[]): Promise<void> {
    const now = Date.now();
    const records = machines.map(
      (m): RegisteredMachine => ({
        v: 1,
        ...m,
        type: 'external',
        seed: 0,
        serial: 0,
        external: true,
        addedAt: now,
        retiredAt: null,
      }),
    );
    for (let i = 0; i < records.length; i += 256) {
      await Promise.all(
        records.slice(i, i + 256).map((r) => this.kv.put(machineKey(r.machineId), JSON.stringify(r))),
      );
    }
  }

  /** Removes external machines (a benchmark's, when it is done); fleet machines are only ever retired. */
  async unregisterExternal(machineIds: string[]): Promise<void> {
    for (const id of machineIds) {
      const m = await this.machine(id);
      if (m?.external) await this.kv.delete(machineKey(id));
    }
  }

  /** Follows the machines: all current ones, then every change (for bridges and workers). */
  follow(onMachine: (m: RegisteredMachine) => void) {
    return followKv(this.kv, MACHINES, parseRegistered, (_k, e: KvValue<RegisteredMachine> | undefined) => {
      if (e) onMachine(e.value);
    });
  }
}
