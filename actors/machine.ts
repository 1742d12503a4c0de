/**
 * The XState machine of one factory machine (an entity, in sharding terms). The chart is the
 * readable part: which command moves which state where. The numbers (physics, the Markov draw,
 * telemetry seq) come from the pure `step`, run inside `assign`; the chart follows the state
 * that `step` decided through eventless (`always`) transitions.
 */
import { type Actor, assign, createActor, type Snapshot, type SnapshotFrom, setup } from 'xstate';
import { type CommandResult, parseCommand } from './commands.js';
import { initialContext, type MachineContext, type MachineEvent, type MachineInput } from './model.js';
import { DEFAULT_PARAMS, MACHINE_STATES, type MachineParams, type MachineState } from './params.js';
import { rejectionOf, step } from './step.js';

/** The machine for one set of parameters (one machine type); share it between actors of that type. */
export function createMachineModel(params: MachineParams = DEFAULT_PARAMS) {
  /** Eventless transitions that put the chart where `step` put `context.state`. */
  const follow = (self: MachineState) =>
    MACHINE_STATES.filter((s) => s !== self).map((s) => ({
      guard: { type: 'inState' as const, params: { state: s } },
      target: s,
    }));

  return setup({
    types: {
      context: {} as MachineContext,
      events: {} as MachineEvent,
      input: {} as MachineInput,
    },
    actions: {
      apply: assign(({ context, event }) => step(context, event, params)),
    },
    guards: {
      accepted: ({ context, event }) => rejectionOf(context, event, params) === null,
      inState: ({ context }, p: { state: MachineState }) => context.state === p.state,
    },
  }).createMachine({
    id: 'machine',
    context: ({ input }) => initialContext(params, input),
    initial: 'RUNNING',
    states: {
      RUNNING: {
        description:
          'Producing. Each tick the chain may move it to IDLE or MAINTENANCE; a trip moves it to FAULT.',
        on: {
          STOP: { guard: 'accepted', target: 'IDLE', actions: 'apply' },
          START_MAINTENANCE: { guard: 'accepted', target: 'MAINTENANCE', actions: 'apply' },
        },
        always: follow('RUNNING'),
      },
      IDLE: {
        description: 'Powered, not producing. The chain restarts it unless an operator stopped it.',
        on: {
          START: { guard: 'accepted', target: 'RUNNING', actions: 'apply' },
          STOP: { guard: 'accepted', actions: 'apply' },
          START_MAINTENANCE: { guard: 'accepted', target: 'MAINTENANCE', actions: 'apply' },
        },
        always: follow('IDLE'),
      },
      MAINTENANCE: {
        description:
          'Locked out. Planned stops end by the chain; a ticket holds it until COMPLETE_MAINTENANCE.',
        on: {
          COMPLETE_MAINTENANCE: { guard: 'accepted', target: 'RUNNING', actions: 'apply' },
        },
        always: follow('MAINTENANCE'),
      },
      FAULT: {
        description:
          'Tripped (over-temperature, vibration, jam). Leaves by CLEAR_FAULT once the cause is gone, or by maintenance.',
        on: {
          CLEAR_FAULT: { guard: 'accepted', target: 'IDLE', actions: 'apply' },
          START_MAINTENANCE: { guard: 'accepted', target: 'MAINTENANCE', actions: 'apply' },
        },
        always: follow('FAULT'),
      },
    },
    on: {
      TICK: { actions: 'apply' },
      SET_SPEED: { actions: 'apply' },
      INJECT_FAULT: { actions: 'apply' },
      CLEAR_FAULT: { actions: 'apply' },
      RESUME: { actions: 'apply' },
      // Anything not taken above (a command not allowed in this state, an unknown event) reaches
      // `step`, which records the rejection and its reason in `lastRejection`.
      '*': { actions: 'apply' },
    },
  });
}

export type MachineModel = ReturnType<typeof createMachineModel>;
export type MachineActor = Actor<MachineModel>;
export type MachineSnapshot = SnapshotFrom<MachineModel>;

/** A started actor: new from `input`, or restored from a persisted snapshot. */
export function startMachineActor(
  model: MachineModel,
  from: { input: MachineInput } | { snapshot: Snapshot<unknown> },
): MachineActor {
  const actor =
    'snapshot' in from
      ? // XState's types ask for `input` even when a snapshot is given; it is ignored then.
        createActor(model, { snapshot: from.snapshot, input: undefined as unknown as MachineInput })
      : createActor(model, { input: from.input });
  return actor.start();
}

/**
 * Validates an untrusted command, sends it, and says whether the machine took it. Never throws:
 * a bad payload or a command not allowed now comes back as a reason (also kept in `lastRejection`).
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
