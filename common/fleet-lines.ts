import { existsSync, readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { z } from 'zod';
import type { LineRef } from './credentials.js';

const idOf = z
  .union([z.object({ id: z.string() }), z.object({ name: z.string() })])
  .transform((o) => ('id' in o ? o.id : o.name));
const fleetLines = z.object({
  sites: z.array(
    z
      .object({ id: z.string().optional(), name: z.string().optional(), lines: z.array(idOf) })
      .transform((s) => ({
        site: s.id ?? s.name ?? '',
        lines: s.lines,
      })),
  ),
});

/** The (site, line) pairs of a fleet file: each gets an MQTT gateway account. */
export function linesOfFleet(file: string): LineRef[] {
  if (!existsSync(file)) return [];
  const parsed = fleetLines.safeParse(parse(readFileSync(file, 'utf8')));
  if (!parsed.success) return [];
  return parsed.data.sites.flatMap((s) => s.lines.map((line) => ({ site: s.site, line })));
}
