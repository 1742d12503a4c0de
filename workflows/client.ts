/**
 * How the rest of the platform starts and talks to the workflows: the dispatcher (alarm events),
 * the state watch (machine reports) and the CLI (tickets). Ids are the contract's
 * (`alarm-{alarmId}`, `ticket-{ticketId}`), and the id policies make a repeat start harmless.
 */
import {
  type Client,
  type Connection,
  WorkflowExecutionAlreadyStartedError,
  WorkflowIdConflictPolicy,
  WorkflowIdReusePolicy,
  WorkflowNotFoundError,
} from '@temporalio/client';
import proto from '@temporalio/proto';
import type { AlarmEvent } from '../analytics/events.js';
import { machineMatcher } from '../common/machine-pattern.js';
import { type EscalationConfig, ticketPolicy } from './config.js';
import {
  acknowledgeSignal,
  alarmUpdateSignal,
  clearSignal,
  escalationId,
  searchAttributes,
  TASK_QUEUE,
  ticketWorkflowId,
} from './definitions.js';
import { describeAlarm } from './steps.js';
import type { AlarmFacts, AlarmUpdate, EscalationInput, TicketInput } from './types.js';

export const alarmFacts = (e: AlarmEvent): AlarmFacts => ({
  alarmId: e.alarmId,
  machineId: e.machineId,
  site: e.site,
  line: e.line,
  machineType: e.machineType,
  rule: e.rule,
  kind: e.kind,
  severity: e.severity,
  value: e.value,
  limit: e.limit,
  raisedAt: e.raisedAt,
  message: e.message,
});

export function escalationInput(e: AlarmEvent, config: EscalationConfig): EscalationInput {
  const tickets = ticketPolicy(config);
  const automatic =
    e.machineId !== null && machineMatcher(config.tickets.machines)({ machineId: e.machineId, line: e.line });
  return {
    alarm: alarmFacts(e),
    state: e.transition === 'RAISED' ? 'ACTIVE_UNACK' : e.state,
    ladder: config.ladders[e.severity],
    roles: config.roles,
    // Only a narrowed scope is written into the input: histories from before the field replay as they ran.
    tickets: automatic ? tickets : { ...tickets, automatic },
  };
}

const alarmAttributes = (e: AlarmEvent) => [
  { key: searchAttributes.machine, value: e.machineId ?? `${e.site}/${e.line}` },
  { key: searchAttributes.line, value: e.line },
  { key: searchAttributes.severity, value: e.severity },
  { key: searchAttributes.rule, value: e.rule },
];

/** What the dispatcher did with one event. */
export type Dispatched = 'started' | 'signalled' | 'ended' | 'duplicate' | 'stale';

/**
 * One alarm event to its escalation. A raise starts `alarm-{alarmId}`: while it runs a second
 * start is refused (conflict policy FAIL), and after it ended too (reuse REJECT_DUPLICATE), so a
 * redelivered event starts nothing new. Every later transition is a signal; one that finds no
 * escalation running starts it (the dispatcher was down when the alarm was raised) unless the
 * alarm is already back to normal.
 */
export async function dispatchAlarmEvent(
  client: Client,
  e: AlarmEvent,
  config: EscalationConfig,
  /** False for an old event of an alarm its owner no longer lists as open: tell, never start. */
  mayStart = true,
): Promise<Dispatched> {
  const workflowId = escalationId(e.alarmId);
  const start = {
    taskQueue: TASK_QUEUE,
    workflowId,
    args: [escalationInput(e, config)] as [EscalationInput],
    workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
    typedSearchAttributes: alarmAttributes(e),
    staticSummary: `${e.severity} alarm: ${describeAlarm(alarmFacts(e))}`,
    staticDetails: e.message,
  };
  const update: AlarmUpdate = {
    eventId: e.eventId,
    transition: e.transition,
    state: e.state,
    by: e.by,
    ts: e.ts,
  };
  try {
    if (e.transition === 'RAISED' && !mayStart) return 'stale';
    if (e.transition === 'RAISED') {
      await client.workflow.start('alarmEscalation', {
        ...start,
        workflowIdConflictPolicy: WorkflowIdConflictPolicy.FAIL,
      });
      return 'started';
    }
    const signal =
      e.transition === 'ACKNOWLEDGED'
        ? { signal: acknowledgeSignal, signalArgs: [{ by: e.by ?? 'unknown', update }] }
        : e.transition === 'CLEARED'
          ? { signal: clearSignal, signalArgs: [update] }
          : { signal: alarmUpdateSignal, signalArgs: [update] };
    if (e.state === 'NORMAL' || !mayStart) {
      await client.workflow
        .getHandle(workflowId)
        .signal(signal.signal as typeof clearSignal, ...(signal.signalArgs as [AlarmUpdate]));
      return 'signalled';
    }
    await client.workflow.signalWithStart('alarmEscalation', {
      ...start,
      ...(signal as { signal: typeof clearSignal; signalArgs: [AlarmUpdate] }),
    });
    return 'signalled';
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return 'duplicate';
    if (err instanceof WorkflowNotFoundError) return 'ended';
    throw err;
  }
}

/** Starts a ticket (by hand, or a scenario); a ticket id already used is refused. */
export async function startTicket(client: Client, input: TicketInput) {
  return client.workflow.start('maintenanceTicket', {
    taskQueue: TASK_QUEUE,
    workflowId: ticketWorkflowId(input.ticketId),
    args: [input],
    workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
    workflowIdConflictPolicy: WorkflowIdConflictPolicy.FAIL,
    typedSearchAttributes: [
      { key: searchAttributes.machine, value: input.machineId },
      { key: searchAttributes.line, value: input.line },
    ],
    staticSummary: `repair ${input.machineId}: ${input.reason}`.slice(0, 200),
  });
}

/**
 * Registers the search attributes the UI filters on (machine, line, severity, rule) when the
 * namespace lacks them. The dev server's `--search-attribute` flags do not reach a namespace that
 * already exists in its database, so the worker makes sure at start-up. Returns the names added.
 */
export async function ensureSearchAttributes(connection: Connection, namespace: string): Promise<string[]> {
  const have = await connection.operatorService.listSearchAttributes({ namespace });
  const keyword = proto.temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD;
  const missing = Object.values(searchAttributes)
    .map((k) => k.name)
    .filter((name) => !(name in (have.customAttributes ?? {})));
  if (missing.length === 0) return [];
  await connection.operatorService.addSearchAttributes({
    namespace,
    searchAttributes: Object.fromEntries(missing.map((name) => [name, keyword])),
  });
  return missing;
}
