import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DEFAULT_FLEET_FILE, deriveFleet, type Fleet, loadFleet, parseFleet } from './fleet.js';
import { DEFAULT_PARAMS } from './params.js';
import { machineSeed } from './random.js';

const SMALL = fileURLToPath(new URL('./fleets/test-small.yaml', import.meta.url));

function load(file: string): Fleet {
  const r = loadFleet(file);
  if (!r.ok) throw new Error(r.reason);
  return r.fleet;
}

describe('the default fleet', () => {
  it('has one site, two lines and ten machines with stable ids and distinct seeds', () => {
    const derived = deriveFleet(load(DEFAULT_FLEET_FILE));
    const ms = derived.machines;
    expect(ms.map((m) => m.machineId)).toEqual(
      Array.from({ length: 10 }, (_, i) => `M-${String(i + 1).padStart(4, '0')}`),
    );
    expect(new Set(ms.map((m) => m.site))).toEqual(new Set(['plant-1']));
    expect(new Set(ms.map((m) => m.line))).toEqual(new Set(['line-1', 'line-2']));
    expect(new Set(ms.map((m) => m.seed)).size).toBe(10);
    expect(ms[0]).toMatchObject({ machineId: 'M-0001', line: 'line-1', type: 'cnc-mill' });
    expect(ms[9]).toMatchObject({ machineId: 'M-0010', line: 'line-2', type: 'conveyor' });
    expect(ms[0]!.seed).toBe(machineSeed(20251123, 'M-0001'));
    // Machines of one type share one parameter object (and so one XState machine).
    expect(ms[0]!.params).toBe(ms[1]!.params);
    expect(ms[9]!.params.physics.ratedKw).toBe(4);
    expect(ms[9]!.params.transitions.IDLE).toEqual({ RUNNING: 0.4 });
    expect(ms[3]!.params.transitions.RUNNING).toEqual({ IDLE: 0.04, MAINTENANCE: 0.02 });
  });

  it('derives the same fleet every time', () => {
    const a = deriveFleet(load(DEFAULT_FLEET_FILE)).machines.map(({ params: _, ...m }) => m);
    const b = deriveFleet(load(DEFAULT_FLEET_FILE)).machines.map(({ params: _, ...m }) => m);
    expect(a).toEqual(b);
  });

  it('scales to any number of machines keeping proportions and order', () => {
    const fleet = load(DEFAULT_FLEET_FILE);
    const big = deriveFleet(fleet, { machines: 10_000 }).machines;
    expect(big).toHaveLength(10_000);
    expect(big.at(-1)!.machineId).toBe('M-10000');
    expect(big.filter((m) => m.type === 'cnc-mill')).toHaveLength(5000);
    expect(big.filter((m) => m.line === 'line-1')).toHaveLength(5000);
    const odd = deriveFleet(fleet, { machines: 7 }).machines;
    expect(odd).toHaveLength(7);
    expect(odd.map((m) => `${m.line}/${m.type}`)).toEqual([
      'line-1/cnc-mill',
      'line-1/cnc-mill',
      'line-1/stamping-press',
      'line-1/stamping-press',
      'line-2/cnc-mill',
      'line-2/conveyor',
      'line-2/conveyor',
    ]);
  });
});

describe('fleet files', () => {
  it('reads the small test fleet', () => {
    const ms = deriveFleet(load(SMALL)).machines;
    expect(ms.map((m) => [m.machineId, m.site, m.line, m.type])).toEqual([
      ['M-0001', 'test-site', 'line-a', 'mill'],
      ['M-0002', 'test-site', 'line-a', 'mill'],
      ['M-0003', 'test-site', 'line-a', 'conveyor'],
    ]);
    expect(ms[0]!.params).toEqual(DEFAULT_PARAMS);
  });

  const base = (machineTypes: string, lines: string) =>
    `seed: 1\nmachineTypes:\n${machineTypes}\nsites:\n  - id: s\n    lines:\n${lines}\n`;
  const oneLine = '      - id: l\n        machines: [{ type: a, count: 1 }]';

  it.each([
    ['not: [valid', /not valid YAML/],
    [base('  a: {}', '      - id: l\n        machines: [{ type: b, count: 1 }]'), /machine type 'b'/],
    [base('  a: { transitions: { RUNNING: { IDLE: 0.7, MAINTENANCE: 0.5 } } }', oneLine), /more than 1/],
    [base('  a: { transitions: { IDLE: { IDLE: 0.5 } } }', oneLine), /may not name IDLE itself/],
    [base('  a: { physics: { tripC: 50, resetC: 60 } }', oneLine), /resetC \(60\) must be below tripC/],
    [base('  a: { physics: { turbo: true } }', oneLine), /turbo/],
    [base('  a: {}', `${oneLine}\n${oneLine}`), /line l appears twice/],
    [base('  a: {}', '      - id: l/1\n        machines: [{ type: a, count: 1 }]'), /MQTT topics/],
    [base('  a: {}', '      - id: l\n        machines: [{ type: a, count: -1 }]'), /count/],
  ])('rejects a bad fleet with a reason (%#)', (text, reason) => {
    const r = parseFleet(text);
    expect(r.ok).toBe(false);
    expect(r.ok === false && r.reason).toMatch(reason);
  });

  it('says which file it could not read', () => {
    const r = loadFleet('/nonexistent/fleet.yaml');
    expect(r.ok === false && r.reason).toMatch(/cannot read fleet file \/nonexistent\/fleet.yaml/);
  });

  it('keeps every seed when machines are added at the end', () => {
    const before = deriveFleet(load(SMALL)).machines;
    const fleet = load(SMALL);
    fleet.sites[0]!.lines[0]!.machines.push({ type: 'mill', count: 2 });
    const after = deriveFleet(fleet).machines;
    expect(after).toHaveLength(5);
    expect(after.slice(0, 3).map((m) => m.seed)).toEqual(before.map((m) => m.seed));
  });
});
