/**
 * `factory command` and `factory inject`: a command record on machine-commands (key =
 * machineId), answered over NATS by whichever worker owns the machine's shard, wherever it is.
 */
import { randomUUID } from 'node:crypto';
import type { NatsConnection } from 'nats';
import { COMMAND_TYPES, FAULT_KINDS, parseCommand } from '../../actors/index.js';
import type { Config } from '../../common/config.js';
import { silentLogger } from '../../common/log.js';
import {
  type CommandAnswer,
  type CommandRecord,
  commandAnswerSchema,
  subjects,
} from '../../common/machine-commands.js';
import { connectNats } from '../../common/nats.js';
import { FleetRegistry } from '../../common/registry.js';
import { TOPICS } from '../../common/topics.js';
import { pipelineKafka, reliableProducer } from '../../pipeline/kafka.js';
import { requestOverKafka as requestVia } from '../../pipeline/request.js';
import { StackError } from '../supervisor/stack.js';

/** `--param k=v` pairs as an object; values stay strings (the command schema coerces numbers). */
export function paramsOf(pairs: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of pairs) {
    const i = p.indexOf('=');
    if (i <= 0) throw new StackError(`--param takes key=value, not "${p}".`);
    const key = p.slice(0, i);
    // Assigned, `__proto__` would vanish without a word (it sets the prototype): refused instead.
    if (key === '__proto__') throw new StackError('--param cannot be named __proto__.');
    out[key] = p.slice(i + 1);
  }
  return out;
}

/** The command object for `factory command <machineId> <TYPE> [--param k=v]`. */
export function commandOf(type: string, params: Record<string, string>): Record<string, unknown> {
  const upper = type.toUpperCase();
  if (upper === 'INJECT_FAULT')
    throw new StackError('Use "factory inject <machineId> <fault>" to inject a fault.');
  if (!(COMMAND_TYPES as readonly string[]).includes(upper)) {
    throw new StackError(
      `Unknown command "${type}"; expected one of ${COMMAND_TYPES.filter((t) => t !== 'INJECT_FAULT').join(', ')}.`,
    );
  }
  return { ...params, type: upper };
}

export function faultOf(fault: string, params: Record<string, string>): Record<string, unknown> {
  if (!(FAULT_KINDS as readonly string[]).includes(fault))
    throw new StackError(`Unknown fault "${fault}"; expected one of ${FAULT_KINDS.join(', ')}.`);
  return { type: 'INJECT_FAULT', fault, params };
}

/** One request from the CLI: a producer of its own for the one record. */
export async function requestOverKafka<T>(
  nc: NatsConnection,
  config: Config,
  send: { topic: string; key: string; record: object; replyTo: string },
  parse: (raw: unknown) => T | undefined,
  timeoutMs: number,
): Promise<T | undefined> {
  const producer = reliableProducer(pipelineKafka(config, 'factory-command', silentLogger, 'operator'));
  await producer.connect();
  try {
    return await requestVia(nc, producer, send, parse, timeoutMs);
  } finally {
    await producer.disconnect();
  }
}

/** NATS for a CLI command, or a sentence saying the stack is not running. */
export const cliNats = (config: Config) =>
  connectNats(config, 'factory-command', 'operator').catch(() => {
    throw new StackError('Cannot reach NATS: is the stack running ("factory status")?');
  });

/** A machine the fleet registry knows and has not retired, or a sentence saying why not. */
export async function registeredMachine(nc: NatsConnection, machineId: string) {
  const registry = await FleetRegistry.open(nc).catch(() => {
    throw new StackError('The fleet registry does not exist yet: run "factory up" first.');
  });
  const machine = (await registry.machines()).get(machineId);
  if (!machine) throw new StackError(`No machine ${machineId} in the fleet registry (see "factory status").`);
  if (machine.retiredAt !== null) throw new StackError(`Machine ${machineId} was retired from the fleet.`);
  return machine;
}

/**
 * Sends one command and waits for its owner's answer. The command is checked here first, so
 * a typo is a clear error at once rather than a refusal from a worker.
 */
export async function sendCommand(
  config: Config,
  machineId: string,
  command: Record<string, unknown>,
  opts: { by?: string; timeoutMs: number },
): Promise<CommandAnswer> {
  const parsed = parseCommand(command);
  if (!parsed.ok) throw new StackError(`${parsed.reason}.`);
  const nc = await cliNats(config);
  try {
    await registeredMachine(nc, machineId);
    const commandId = randomUUID();
    const record: CommandRecord = {
      v: 1,
      commandId,
      machineId,
      command,
      replyTo: subjects.answer(commandId),
      by: opts.by ?? process.env.USER ?? 'cli',
      ts: Date.now(),
    };
    const answer = await requestOverKafka(
      nc,
      config,
      { topic: TOPICS.machineCommands, key: machineId, record, replyTo: record.replyTo! },
      (raw) => {
        const a = commandAnswerSchema.safeParse(raw);
        return a.success ? a.data : undefined;
      },
      opts.timeoutMs,
    );
    if (answer) return answer;
    throw new StackError(
      `No answer from ${machineId}'s owner within ${Math.round(opts.timeoutMs / 1000)} s; the command stays queued for it. Are workers running ("factory status")?`,
    );
  } finally {
    await nc.close();
  }
}
