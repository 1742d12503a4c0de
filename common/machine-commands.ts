/**
 * A record on `machine-commands` (key = machineId) and the answer its owner sends back over
 * NATS. The command inside is parsed once, by the machine's owner (actors/commands.ts); the
 * envelope is parsed here, at the edge where the record arrives.
 */
import { z } from 'zod';

const id = z
  .string()
  .regex(/^[A-Za-z0-9][\w.-]{0,99}$/, 'expected letters, digits, "-", "_" or "." (max 100)');

export const commandEnvelopeSchema = z.object({
  v: z.literal(1),
  commandId: id,
  machineId: id,
  command: z.unknown(),
  /** NATS subject for the answer (the CLI listens there before it sends). */
  replyTo: z
    .string()
    .regex(/^[\w.-]+$/, 'expected a plain NATS subject')
    .max(200)
    .optional(),
  by: z.string().max(100).optional(),
  ts: z.number(),
});
export type CommandRecord = z.infer<typeof commandEnvelopeSchema>;

export const commandAnswerSchema = z.object({
  commandId: z.string(),
  machineId: z.string(),
  ok: z.boolean(),
  reason: z.string().optional(),
  /** Already applied before (the record was read again after a shard moved): not applied twice. */
  duplicate: z.boolean().optional(),
  owner: z.string(),
  shard: z.number(),
  state: z.string().optional(),
  seq: z.number().optional(),
  /** The maintenance ticket holding the machine after the command, if any. */
  ticketId: z.string().nullable().optional(),
});
export type CommandAnswer = z.infer<typeof commandAnswerSchema>;

/** NATS subjects of the control plane (contract: query, state, heartbeat). */
export const subjects = {
  query: (machineId: string) => `factory.machine.${machineId}.query`,
  queryAll: 'factory.machine.*.query',
  state: (machineId: string) => `factory.machine.${machineId}.state`,
  heartbeat: 'factory.workers.heartbeat',
  answer: (commandId: string) => `factory.commands.answer.${commandId}`,
} as const;

export const heartbeatSchema = z.object({
  workerId: z.string(),
  pid: z.number(),
  shards: z.array(z.number()),
  actors: z.number(),
  fenced: z.boolean(),
  ts: z.number(),
  counters: z.record(z.string(), z.number()).optional(),
});
export type Heartbeat = z.infer<typeof heartbeatSchema>;
