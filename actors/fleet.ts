/**
 * Fleet files (YAML): sites → lines → machine types with counts. Machine types override the
 * default matrix and physics. `deriveFleet` turns a fleet into the list of machines with stable
 * ids (M-0001, in file order) and per-machine seeds (fleet seed + machine id, hashed).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { DEFAULT_PARAMS, type MachineParams, machineParamsOverridesSchema, resolveParams } from './params.js';
import { machineSeed } from './random.js';

/** The fleet that `factory up` runs unless told otherwise. */
export const DEFAULT_FLEET_FILE = fileURLToPath(new URL('./fleets/default.yaml', import.meta.url));

/** Ids end up in MQTT topics and Influx tags: no '/', '+', '#' or spaces. */
const id = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9_.-]*$/,
    'expected letters, digits, "-", "_" or "." (it becomes part of MQTT topics)',
  );

export const fleetSchema = z.strictObject({
  version: z.literal(1).default(1),
  /** Every machine's seed derives from this and its id. */
  seed: z.union([z.number().int(), z.string().min(1)]),
  machineTypes: z.record(id, machineParamsOverridesSchema),
  sites: z
    .array(
      z.strictObject({
        id,
        name: z.string().optional(),
        lines: z
          .array(
            z.strictObject({
              id,
              name: z.string().optional(),
              machines: z.array(z.strictObject({ type: id, count: z.number().int().min(0).max(100_000) })),
            }),
          )
          .min(1),
      }),
    )
    .min(1),
});
export type Fleet = z.output<typeof fleetSchema>;

export interface FleetMachine {
  machineId: string;
  site: string;
  line: string;
  type: string;
  seed: number;
  /** Shared by all machines of a type: one XState machine per type serves them all. */
  params: MachineParams;
}

export interface DerivedFleet {
  seed: number | string;
  /** Resolved parameters per machine type. */
  types: Map<string, MachineParams>;
  machines: FleetMachine[];
}

export type FleetResult = { ok: true; fleet: Fleet } | { ok: false; reason: string };

function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message))
    .join('; ');
}

/** Checks a parsed object as a fleet: schema, known types, unique ids, consistent parameters. */
export function validateFleet(input: unknown): FleetResult {
  const parsed = fleetSchema.safeParse(input);
  if (!parsed.success) return { ok: false, reason: describeIssues(parsed.error) };
  const fleet = parsed.data;
  const problems: string[] = [];
  for (const [name, overrides] of Object.entries(fleet.machineTypes)) {
    const r = resolveParams(overrides);
    if (!r.ok) problems.push(`machineTypes.${name}: ${r.reason}`);
  }
  const sites = new Set<string>();
  for (const site of fleet.sites) {
    if (sites.has(site.id)) problems.push(`site ${site.id} appears twice`);
    sites.add(site.id);
    const lines = new Set<string>();
    for (const line of site.lines) {
      if (lines.has(line.id)) problems.push(`line ${line.id} appears twice in site ${site.id}`);
      lines.add(line.id);
      for (const m of line.machines)
        if (!Object.hasOwn(fleet.machineTypes, m.type))
          problems.push(
            `${site.id}/${line.id} uses machine type '${m.type}', which machineTypes does not define`,
          );
    }
  }
  return problems.length ? { ok: false, reason: problems.join('; ') } : { ok: true, fleet };
}

export function parseFleet(yamlText: string): FleetResult {
  let doc: unknown;
  try {
    doc = parseYaml(yamlText);
  } catch (e) {
    return { ok: false, reason: `not valid YAML: ${(e as Error).message.split('\n')[0]?.replace(/:$/, '')}` };
  }
  return validateFleet(doc);
}

export function loadFleet(file: string = DEFAULT_FLEET_FILE): FleetResult {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    return { ok: false, reason: `cannot read fleet file ${file}: ${(e as Error).message}` };
  }
  const r = parseFleet(text);
  return r.ok ? r : { ok: false, reason: `${file}: ${r.reason}` };
}

/** The id of the n-th machine (0-based) of a fleet. */
export function machineIdOf(index: number): string {
  return `M-${String(index + 1).padStart(4, '0')}`;
}

/**
 * Counts of each (site, line, type) entry scaled to `total` by largest remainder; ties go to
 * the earlier entry, so the result is stable.
 */
function scaleCounts(counts: number[], total: number): number[] {
  const sum = counts.reduce((a, b) => a + b, 0);
  if (sum === 0) return counts.map(() => 0);
  const exact = counts.map((c) => (c * total) / sum);
  const out = exact.map(Math.floor);
  let left = total - out.reduce((a, b) => a + b, 0);
  const order = exact
    .map((x, i) => ({ i, frac: x - Math.floor(x) }))
    .sort((a, b) => b.frac - a.frac || a.i - b.i);
  for (const { i } of order) {
    if (left <= 0) break;
    out[i]! += 1;
    left--;
  }
  return out;
}

/** How many machines of each type each line has (scaled to `machines` in all when given). */
export function scaleFleetCounts(
  fleet: Fleet,
  machines?: number,
): { site: string; line: string; type: string; count: number }[] {
  const entries = fleet.sites.flatMap((s) =>
    s.lines.flatMap((l) => l.machines.map((m) => ({ site: s.id, line: l.id, type: m.type, count: m.count }))),
  );
  if (machines === undefined) return entries;
  const counts = scaleCounts(
    entries.map((e) => e.count),
    machines,
  );
  return entries.map((e, k) => ({ ...e, count: counts[k]! }));
}

/** Resolved parameters per machine type (a type that fails to resolve gets the defaults). */
export function fleetTypes(fleet: Fleet): Map<string, MachineParams> {
  const types = new Map<string, MachineParams>();
  for (const [name, overrides] of Object.entries(fleet.machineTypes)) {
    const r = resolveParams(overrides);
    types.set(name, r.ok ? r.params : DEFAULT_PARAMS);
  }
  return types;
}

/**
 * The machines a fleet file would have on an empty registry, in stable order (sites, lines
 * and entries as written): for tools and tests that run a fleet without a registry (the
 * headless simulator, the benchmark). A running stack takes identities from the registry.
 */
export function deriveFleet(fleet: Fleet, options: { machines?: number } = {}): DerivedFleet {
  const types = fleetTypes(fleet);
  const machines: FleetMachine[] = [];
  for (const e of scaleFleetCounts(fleet, options.machines)) {
    for (let j = 0; j < e.count; j++) {
      const machineId = machineIdOf(machines.length);
      machines.push({
        machineId,
        site: e.site,
        line: e.line,
        type: e.type,
        seed: machineSeed(fleet.seed, machineId),
        params: types.get(e.type) ?? DEFAULT_PARAMS,
      });
    }
  }
  return { seed: fleet.seed, types, machines };
}
