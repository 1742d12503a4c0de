/**
 * The XState logic of one factory machine (an entity, in sharding terms). The model is a
 * reducer, and says so: `fromTransition(step, …)`. `step` is the one authority on transitions
 * (the Markov draw, the physics, which command is allowed in which state, telemetry seq), so
 * an actor, the headless simulator and a replay can never disagree. The states and the
 * commands that move between them are charted in actors/README.md.
 */
import { type Actor, type AnyActorRef, createActor, fromTransition, type SnapshotFrom } from 'xstate';
import { type CommandResult, parseCommand } from './commands.js';
import { initialContext, type MachineContext, type MachineEvent, type MachineInput } from './model.js';
import { DEFAULT_PARAMS, type MachineParams } from './params.js';
import { step } from './step.js';

/** The logic for one set of parameters (one machine type); share it between actors of that type. */
export function createMachineModel(params: MachineParams = DEFAULT_PARAMS) {
  return fromTransition(
    (context: MachineContext, event: MachineEvent) => step(context, event, params),
    ({ input }: { input: MachineInput }) => initialContext(params, input),
  );
}

export type MachineModel = ReturnType<typeof createMachineModel>;
export type MachineActor = Actor<MachineModel>;
export type MachineSnapshot = SnapshotFrom<MachineModel>;

/**
 * A started actor: new from `input`, restored from saved domain state (`context`), or from a
 * persisted XState snapshot. With `parent`, it joins that actor's system: a host of thousands
 * of machines then pays for one actor system, not one each (about 1.8 KB per machine).
 */
export function startMachineActor(
  model: MachineModel,
  from: { input: MachineInput } | { context: MachineContext } | { snapshot: unknown },
  options: { parent?: AnyActorRef } = {},
): MachineActor {
  const snapshot =
    'context' in from
      ? { status: 'active' as const, output: undefined, error: undefined, context: from.context }
      : 'snapshot' in from
        ? (from.snapshot as MachineSnapshot)
        : undefined;
  // XState's types ask for `input` even when a snapshot is given; it is ignored then.
  const input = 'input' in from ? from.input : (undefined as unknown as MachineInput);
  return createActor(model, { input, snapshot, parent: options.parent }).start();
}

/**
 * Stops an actor, also one that joined a host's system. XState lets only the parent stop a
 * child, through `_stop` (what its `stopChild` action calls); a machine actor has no timers
 * or children of its own, so that is all there is to it. Covered by a unit test, so an XState
 * upgrade that changes it fails CI rather than leaks.
 */
export function stopMachineActor(actor: MachineActor): void {
  (actor as unknown as { _stop(): void })._stop();
}

/**
 * Validates an untrusted command, sends it, and says whether the machine took it. Never throws:
 * a bad payload or a command not allowed now comes back as a reason (also kept in `lastRejection`).
 * The command is parsed here once; `step` trusts what `parseCommand` produced.
 */
export function applyCommand(actor: MachineActor, input: unknown): CommandResult {
  if (actor.getSnapshot().status !== 'active')
    return { ok: false, reason: 'the machine actor is not running' };
  const parsed = parseCommand(input);
  if (!parsed.ok) {
    actor.send({ type: 'INVALID_COMMAND', command: parsed.command, reason: parsed.reason });
    return { ok: false, reason: parsed.reason };
  }
  const before = actor.getSnapshot().context.lastRejection;
  actor.send(parsed.command);
  const after = actor.getSnapshot().context.lastRejection;
  return after !== null && after !== before ? { ok: false, reason: after.reason } : { ok: true };
}
