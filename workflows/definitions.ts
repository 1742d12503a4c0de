/**
 * The workflows' public surface (contract): names of the workflows, their signals, queries and
 * updates, the task queue and the search attributes the Temporal UI filters on. Imported by the
 * workflow code and by every client (dispatcher, state watch, CLI), so a name is written once.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type {
  AcknowledgeRequest,
  AlarmUpdate,
  CloseRequest,
  CloseResult,
  EscalationStatus,
  MachineReport,
  ResolveRequest,
  TicketStatus,
} from './types.js';

export const TASK_QUEUE = 'factory-alarms';

/**
 * Changes to workflow code made while workflows may be running, each behind `patched(id)`
 * (docs/workflows.md, "Changing a workflow safely"). An id is retired with deprecatePatch once no
 * history without it can still be running, then removed.
 */
export const PATCHES = {
  /** v2: the first rung hears that an alarm opened a maintenance ticket. */
  tellTicketOpened: 'tell-ticket-opened',
  /**
   * v3: while a close is returning the machine, its RUNNING report (a state event can beat the
   * command's own answer) waits for the close instead of ending the ticket as "back without a close".
   */
  closeOwnsReturn: 'close-owns-return',
} as const;

export const escalationId = (alarmId: string) => `alarm-${alarmId}`;
export const ticketWorkflowId = (ticketId: string) => `ticket-${ticketId}`;
/** The ticket an alarm opens: one per alarm, so opening it twice is harmless. */
export const ticketIdForAlarm = (alarmId: string) => `T-${alarmId}`;

// alarmEscalation
export const acknowledgeSignal = defineSignal<[AcknowledgeRequest]>('acknowledge');
export const clearSignal = defineSignal<[AlarmUpdate]>('clear');
export const resolveSignal = defineSignal<[ResolveRequest]>('resolve');
/** Every other transition from `alarms` (shelved, suppressed, reactivated, ...). */
export const alarmUpdateSignal = defineSignal<[AlarmUpdate]>('alarmUpdate');
export const escalationStatusQuery = defineQuery<EscalationStatus>('status');
/** A ticket tells the alarm which ticket took it (a repeat may join another alarm's ticket). */
export const ticketOpenedSignal = defineSignal<[{ ticketId: string }]>('ticketOpened');

// maintenanceTicket
export const machineReportSignal = defineSignal<[MachineReport]>('machineReport');
/** Another alarm of the same machine joins the ticket that holds it. */
export const linkAlarmSignal = defineSignal<[{ alarmId: string }]>('linkAlarm');
export const closeTicketUpdate = defineUpdate<CloseResult, [CloseRequest]>('close');
export const ticketStatusQuery = defineQuery<TicketStatus>('status');

/** Registered on the dev server (`--search-attribute`), so the UI can filter alarms and tickets. */
export const searchAttributes = {
  machine: defineSearchAttributeKey('machine', SearchAttributeType.KEYWORD),
  line: defineSearchAttributeKey('line', SearchAttributeType.KEYWORD),
  severity: defineSearchAttributeKey('severity', SearchAttributeType.KEYWORD),
  rule: defineSearchAttributeKey('rule', SearchAttributeType.KEYWORD),
} as const;
