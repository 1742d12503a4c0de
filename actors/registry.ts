/**
 * The fleet registry's rules, as pure functions: which machines exist, with an identity
 * (id, site, line, type, seed) assigned once. A fleet file says how many machines of each type
 * each line has; reconciling it against what is registered adds machines (reviving retired
 * ones of the same line and type first, so a shrink and a grow give the same ids back) and
 * retires the newest when a count shrinks. Nothing is derived from a position in the file.
 */
import { z } from 'zod';
import { type Fleet, machineIdOf, scaleFleetCounts } from './fleet.js';
import { machineSeed } from './random.js';

export const registeredMachineSchema = z.object({
  v: z.literal(1),
  machineId: z.string(),
  site: z.string(),
  line: z.string(),
  type: z.string(),
  seed: z.number().int(),
  /** Sequence number of the assignment (M-0007 has 7): new ids continue above the highest. 0: external. */
  serial: z.number().int().nonnegative(),
  /**
   * A machine whose telemetry comes from a device outside the workers (a plant's own gateway, a
   * benchmark, a test rig): the bridge accepts it for its line; no worker hosts it.
   */
  external: z.boolean().default(false),
  addedAt: z.number(),
  /** Epoch ms when shrinking the fleet retired it; null while it is part of the fleet. */
  retiredAt: z.number().nullable(),
});
export type RegisteredMachine = z.infer<typeof registeredMachineSchema>;

const groupOf = (m: { site: string; line: string; type: string }) => `${m.site}/${m.line}/${m.type}`;

export interface Reconciled {
  /** Records to write: new machines, revived ones and newly retired ones. */
  changes: RegisteredMachine[];
  added: number;
  revived: number;
  retired: number;
}

/**
 * What to change so that the registry holds `fleet` (scaled to `machines` in all when given).
 * Existing machines keep id, line, type and seed; only `retiredAt` ever changes.
 */
export function reconcile(
  registered: RegisteredMachine[],
  fleet: Fleet,
  options: { machines?: number; now: number },
): Reconciled {
  const wanted = scaleFleetCounts(fleet, options.machines);
  const byGroup = new Map<string, RegisteredMachine[]>();
  for (const m of [...registered].filter((r) => !r.external).sort((a, b) => a.serial - b.serial)) {
    const g = byGroup.get(groupOf(m)) ?? [];
    g.push(m);
    byGroup.set(groupOf(m), g);
  }
  let serial = registered.reduce((n, m) => Math.max(n, m.serial), 0);
  const out: Reconciled = { changes: [], added: 0, revived: 0, retired: 0 };
  const seen = new Set<string>();
  for (const w of wanted) {
    const key = groupOf(w);
    seen.add(key);
    const group = byGroup.get(key) ?? [];
    const active = group.filter((m) => m.retiredAt === null);
    if (active.length > w.count) {
      // Retire the newest first: the machines a plant added last are the ones it removes.
      for (const m of active.slice(w.count).reverse()) {
        out.changes.push({ ...m, retiredAt: options.now });
        out.retired++;
      }
      continue;
    }
    let missing = w.count - active.length;
    for (const m of group.filter((g) => g.retiredAt !== null)) {
      if (missing === 0) break;
      out.changes.push({ ...m, retiredAt: null });
      out.revived++;
      missing--;
    }
    for (; missing > 0; missing--) {
      serial++;
      const machineId = machineIdOf(serial - 1);
      out.changes.push({
        v: 1,
        machineId,
        site: w.site,
        line: w.line,
        type: w.type,
        seed: machineSeed(fleet.seed, machineId),
        serial,
        external: false,
        addedAt: options.now,
        retiredAt: null,
      });
      out.added++;
    }
  }
  // A line or type the fleet file no longer lists: its machines are retired.
  for (const [key, group] of byGroup) {
    if (seen.has(key)) continue;
    for (const m of group.filter((g) => g.retiredAt === null)) {
      out.changes.push({ ...m, retiredAt: options.now });
      out.retired++;
    }
  }
  return out;
}

/** Machines the workers host: part of the fleet now, not external, in id order. */
export const hostedMachines = (registered: Iterable<RegisteredMachine>): RegisteredMachine[] =>
  [...registered].filter((m) => m.retiredAt === null && !m.external).sort((a, b) => a.serial - b.serial);

export const isHosted = (m: RegisteredMachine): boolean => m.retiredAt === null && !m.external;
