/**
 * The escalation configuration (`workflows/escalation.yaml`): channels, roles, a ladder per
 * severity and the ticket policy. Parsed once at start-up by zod; an error names the file, the
 * line and the field, and every rung must name a known role and known channels.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { machinePatternProblem } from '../common/machine-pattern.js';
import { loadYamlFile } from '../common/yaml-file.js';
import type { Rung, Severity, TicketPolicy } from './types.js';

export const DEFAULT_ESCALATION_FILE = join(import.meta.dirname, 'escalation.yaml');

const SEVERITIES = ['low', 'medium', 'high', 'critical'] as const satisfies readonly Severity[];
const name = z.string().regex(/^[a-z][a-z0-9-]{0,39}$/, 'expected lower-case letters, digits and "-"');
const seconds = z
  .number()
  .int('expected whole seconds')
  .min(0)
  .max(7 * 86_400, 'at most a week');

/**
 * Where NATS channels publish: the workflow worker's NATS account may publish notifications only
 * here (common/nats-permissions.ts), so a channel elsewhere is refused at start-up rather than
 * by the server, silently, at every notification.
 */
export const NOTIFICATIONS_SUBJECT = 'factory.notifications';

const channel = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('log') }),
  z.strictObject({
    kind: z.literal('webhook'),
    url: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }),
    timeoutS: z.number().positive().max(60).default(5),
  }),
  z.strictObject({
    kind: z.literal('nats'),
    subject: z
      .string()
      .regex(/^[\w-]+(\.[\w-]+)*$/, `expected a plain NATS subject such as ${NOTIFICATIONS_SUBJECT}`)
      .refine(
        (s) => s === NOTIFICATIONS_SUBJECT || s.startsWith(`${NOTIFICATIONS_SUBJECT}.`),
        `expected ${NOTIFICATIONS_SUBJECT} or a subject under it (the only subjects notifications may use)`,
      ),
  }),
]);

const rung = z.strictObject({ role: name, afterS: seconds, channels: z.array(name).min(1) });

export const escalationConfigSchema = z
  .strictObject({
    version: z.literal(1),
    channels: z.record(name, channel),
    roles: z.record(
      name,
      z.strictObject({ title: z.string().min(1).max(80), contacts: z.array(z.string().min(1)).min(1) }),
    ),
    ladders: z.strictObject(
      Object.fromEntries(
        SEVERITIES.map((s) => [s, z.array(rung).min(1, 'a ladder needs at least one rung')]),
      ) as Record<Severity, z.ZodArray<typeof rung>>,
    ),
    tickets: z.strictObject({
      // Machines whose alarms may open tickets by themselves (patterns: "*", "line-2/*", "M-0009").
      machines: z
        .array(
          z.string().superRefine((p, ctx) => {
            const problem = machinePatternProblem(p);
            if (problem) ctx.addIssue({ code: 'custom', message: problem });
          }),
        )
        .default(['*']),
      severities: z.array(z.enum(SEVERITIES)),
      repeats: z.number().int().min(2, 'a repeat needs at least 2 raises'),
      repeatWindowS: seconds.min(60),
      respondWithinS: seconds.min(5),
      repairWithinS: seconds.min(60),
      checkEveryS: seconds.min(5),
      escalateTo: z.strictObject({ role: name, channels: z.array(name).min(1) }),
    }),
  })
  .superRefine((c, ctx) => {
    const known = (what: 'role' | 'channel', value: string, path: (string | number)[]) => {
      const table = what === 'role' ? c.roles : { log: { kind: 'log' }, ...c.channels };
      if (!Object.hasOwn(table, value))
        ctx.addIssue({
          code: 'custom',
          path,
          message: `unknown ${what} "${value}"; known: ${Object.keys(table).join(', ')}`,
        });
    };
    const checkRung = (r: Pick<Rung, 'role' | 'channels'>, path: (string | number)[]) => {
      known('role', r.role, [...path, 'role']);
      for (const [i, ch] of r.channels.entries()) known('channel', ch, [...path, 'channels', i]);
    };
    for (const s of SEVERITIES) for (const [i, r] of c.ladders[s].entries()) checkRung(r, ['ladders', s, i]);
    checkRung(c.tickets.escalateTo, ['tickets', 'escalateTo']);
  });

export type EscalationConfig = z.output<typeof escalationConfigSchema>;

export class EscalationConfigError extends Error {}

export function loadEscalationConfig(file = DEFAULT_ESCALATION_FILE): EscalationConfig {
  const result = loadYamlFile(file, escalationConfigSchema);
  if (!result.ok)
    throw new EscalationConfigError(`The escalation configuration is invalid:\n${result.reason}`);
  const config = result.value;
  // "log" needs no declaration.
  return { ...config, channels: { log: { kind: 'log' }, ...config.channels } };
}

/** The ticket policy a workflow gets: the scope (`machines`) is decided before, per alarm. */
export function ticketPolicy(config: EscalationConfig): TicketPolicy {
  const { machines: _scope, ...policy } = config.tickets;
  return policy;
}
