import { describe, expect, it } from 'vitest';
import { loadFleet } from './fleet.js';
import { type RegisteredMachine, reconcile } from './registry.js';

const fleet = (() => {
  const r = loadFleet();
  if (!r.ok) throw new Error(r.reason);
  return r.fleet;
})();

function applied(
  registered: RegisteredMachine[],
  machines: number | undefined,
  now = 1,
): RegisteredMachine[] {
  const r = reconcile(registered, fleet, { machines, now });
  const byId = new Map(registered.map((m) => [m.machineId, m]));
  for (const c of r.changes) byId.set(c.machineId, c);
  return [...byId.values()];
}

const active = (ms: RegisteredMachine[]) => ms.filter((m) => m.retiredAt === null);
const identity = (m: RegisteredMachine) => `${m.machineId} ${m.site}/${m.line} ${m.type} ${m.seed}`;

describe('fleet registry reconcile', () => {
  it('registers the fleet file once, M-0001 onwards, and changes nothing the second time', () => {
    const first = applied([], undefined);
    expect(first.map((m) => m.machineId)).toEqual(
      Array.from({ length: 10 }, (_, i) => `M-${String(i + 1).padStart(4, '0')}`),
    );
    expect(reconcile(first, fleet, { now: 2 }).changes).toEqual([]);
  });

  it('growing adds new ids; shrinking retires the newest of each line and type; nobody changes line or type', () => {
    const ten = applied([], undefined);
    const big = applied(ten, 200, 2);
    expect(active(big)).toHaveLength(200);
    for (const m of ten) expect(identity(big.find((b) => b.machineId === m.machineId)!)).toBe(identity(m));
    const small = applied(big, 20, 3);
    expect(active(small)).toHaveLength(20);
    // Every original machine survives a shrink to 20 with its identity.
    for (const m of ten) expect(active(small).map(identity)).toContain(identity(m));
    // Lines keep their proportions: the default fleet is half line-1, half line-2.
    expect(active(small).filter((m) => m.line === 'line-1')).toHaveLength(10);
  });

  it('growing again revives the retired machines before minting new ids', () => {
    const big = applied(applied([], undefined), 100, 2);
    const small = applied(big, 10, 3);
    const again = applied(small, 100, 4);
    expect(active(again).map(identity).sort()).toEqual(active(big).map(identity).sort());
    expect(again).toHaveLength(100);
  });

  it('leaves external machines alone', () => {
    const ext: RegisteredMachine = {
      v: 1,
      machineId: 'BENCH-1',
      site: 'plant-1',
      line: 'line-1',
      type: 'external',
      seed: 0,
      serial: 0,
      external: true,
      addedAt: 0,
      retiredAt: null,
    };
    const r = reconcile([ext, ...applied([], undefined)], fleet, { machines: 4, now: 5 });
    expect(r.changes.some((c) => c.machineId === 'BENCH-1')).toBe(false);
    expect(r.retired).toBe(6);
  });
});
