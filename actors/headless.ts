/**
 * Running machines without XState, for simulators and benchmarks that need a week in well
 * under a second: the same `step`, applied in place to a context the caller owns. A context
 * driven here is interchangeable with an actor's (same fields, same numbers).
 */
import { type CommandResult, parseCommand } from './commands.js';
import { initialContext, type MachineContext, type MachineInput, type TickEvent } from './model.js';
import { DEFAULT_PARAMS, type MachineParams } from './params.js';
import { stepInPlace } from './step.js';

export function createHeadless(input: MachineInput, params: MachineParams = DEFAULT_PARAMS): MachineContext {
  return initialContext(params, input);
}

/**
 * `count` ticks `periodMs` apart after the context's last tick; `onTick` sees the context after
 * each (read it there: it is mutated by the next tick). Allocates nothing per tick.
 */
export function runTicks(
  c: MachineContext,
  count: number,
  periodMs: number,
  params: MachineParams = DEFAULT_PARAMS,
  onTick?: (c: MachineContext) => void,
): MachineContext {
  const tick: TickEvent = { type: 'TICK', ts: c.ts };
  for (let i = 0; i < count; i++) {
    tick.ts += periodMs;
    stepInPlace(c, tick, params);
    onTick?.(c);
  }
  return c;
}

/** `applyCommand` for a headless context: validates, applies in place, says whether it was taken. */
export function commandInPlace(
  c: MachineContext,
  input: unknown,
  params: MachineParams = DEFAULT_PARAMS,
): CommandResult {
  const parsed = parseCommand(input);
  if (!parsed.ok) {
    stepInPlace(c, { type: 'INVALID_COMMAND', command: parsed.command, reason: parsed.reason }, params);
    return { ok: false, reason: parsed.reason };
  }
  const before = c.lastRejection;
  stepInPlace(c, parsed.command, params);
  return c.lastRejection !== null && c.lastRejection !== before
    ? { ok: false, reason: c.lastRejection.reason }
    : { ok: true };
}
